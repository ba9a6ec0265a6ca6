//! The control side of playback: what the engine (or `tapedeck play`) drives.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use ringbuf::HeapRb;
use ringbuf::traits::Split;

use super::clip::{Cue, CueTrack, Gains, song_length};
use super::playout::Playout;
use super::reader::{BLOCK_FRAMES, Reader, Request, gains_of};
use super::shared::{PlayState, PlaybackShared};
use crate::error::Error;

/// Plays the song's tracks; the reader thread runs while it lives.
pub struct Player {
    shared: Arc<PlaybackShared>,
    requests: Sender<Request>,
    reader: Option<JoinHandle<()>>,
    tracks: Vec<CueTrack>,
    gains: Arc<Vec<AtomicU64>>,
    problems: Arc<Mutex<Vec<String>>>,
}

/// The most tracks a player mixes (their gains are preallocated).
const MAX_TRACKS: usize = 1024;

impl Player {
    /// A player of `tracks` at `rate`, with a ring of `ring_frames` stereo frames between the
    /// reader and the callback; returns the callback's side and the shared state too.
    pub fn new(
        tracks: Vec<CueTrack>,
        rate: u32,
        ring_frames: usize,
    ) -> Result<(Self, Playout, Arc<PlaybackShared>), Error> {
        if tracks.len() > MAX_TRACKS {
            return Err(Error::usage(format!(
                "the song has {} tracks; tapedeck plays at most {MAX_TRACKS}",
                tracks.len()
            )));
        }
        let shared = Arc::new(PlaybackShared::new());
        let ring = HeapRb::<f32>::new(ring_frames.max(BLOCK_FRAMES * 2) * 2);
        let (prod, cons) = ring.split();
        let gains: Arc<Vec<AtomicU64>> = Arc::new(
            (0..MAX_TRACKS)
                .map(|_| AtomicU64::new(Gains::SILENT.to_bits()))
                .collect(),
        );
        let problems = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let reader = Reader {
            shared: Arc::clone(&shared),
            ring: prod,
            requests: rx,
            tracks: Vec::new(),
            gains: Arc::clone(&gains),
            problems: Arc::clone(&problems),
        };
        let handle = std::thread::Builder::new()
            .name("tapedeck-reader".into())
            .spawn(move || reader.run())
            .map_err(|e| Error::Runtime(format!("cannot start the playback reader: {e}")))?;
        let mut player = Self {
            shared: Arc::clone(&shared),
            requests: tx,
            reader: Some(handle),
            tracks: Vec::new(),
            gains,
            problems,
        };
        player.set_tracks(tracks);
        let playout = Playout::new(Arc::clone(&shared), cons, rate);
        Ok((player, playout, shared))
    }

    /// The tracks to play from the next play on (a take was recorded, a take chosen).
    pub fn set_tracks(&mut self, tracks: Vec<CueTrack>) {
        self.tracks = tracks;
        self.store_gains();
        let _ = self.requests.send(Request::Tracks(self.tracks.clone()));
    }

    fn store_gains(&self) {
        for (g, cell) in gains_of(&self.tracks).into_iter().zip(self.gains.iter()) {
            cell.store(g.to_bits(), Ordering::Relaxed);
        }
    }

    /// Changes a track's cue: heard from the next block the reader mixes (the ring's length
    /// later at most).
    pub fn set_cue(&mut self, track: u16, cue: Cue) {
        if let Some(t) = self.tracks.iter_mut().find(|t| t.number == track) {
            t.cue = cue;
        }
        self.store_gains();
    }

    /// Plays from timeline frame `from`; returns the play's number, which the output's
    /// anchors carry.
    pub fn play_from(&mut self, from: u64) -> u64 {
        let run = self.shared.run.load(Ordering::Acquire) + 1;
        self.shared
            .end_frame
            .store(song_length(&self.tracks), Ordering::Release);
        self.shared.start_frame.store(from, Ordering::Release);
        self.shared.position.store(from, Ordering::Release);
        self.shared.set_state(PlayState::Starting);
        self.shared.run.store(run, Ordering::Release);
        let _ = self.requests.send(Request::Play { run, from });
        run
    }

    pub fn stop(&mut self) {
        if self.state() != PlayState::Stopped {
            self.shared.set_state(PlayState::Stopped);
        }
    }

    pub fn state(&self) -> PlayState {
        self.shared.state()
    }

    /// The timeline frame being played (or where the last play stopped).
    pub fn position(&self) -> u64 {
        self.shared.position()
    }

    pub fn length(&self) -> u64 {
        song_length(&self.tracks)
    }

    /// Files that could not be opened when playing started.
    pub fn problems(&self) -> Vec<String> {
        self.problems.lock().map(|p| p.clone()).unwrap_or_default()
    }

    pub fn underruns(&self) -> (u64, u64) {
        self.shared.underruns()
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.shared.set_state(PlayState::Stopped);
        let _ = self.requests.send(Request::Quit);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}
