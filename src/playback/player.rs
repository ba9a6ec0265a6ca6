//! The control side of playback, owned by the engine's thread: what plays, play, stop, the
//! cue settings, and what the callback and the reader report.

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::block::{self, BLOCK_FRAMES};
use super::clip::{Cue, CueTrack, GainTable, cue_gains, song_length};
use super::mix::Mixer;
use super::playout::Playout;
use super::reader::{Command, Reader};
use super::shared::{PlayState, PlaybackShared, Underruns};
use super::source::{Problem, Source};
use crate::error::Error;

/// The mixed cue is kept about this long ahead of the callback (a sixth of a second): a cue
/// change is heard after at most this, and the reader must answer within it.
const MIX_AHEAD_DIVISOR: usize = 6;

/// Plays the song's clips through a `Playout`.
pub struct Player {
    shared: Arc<PlaybackShared>,
    commands: Sender<Command>,
    reader: Option<JoinHandle<()>>,
    rate: u32,
    window_frames: usize,
    /// What the next play plays.
    tracks: Vec<CueTrack>,
    /// The current play's tracks (number, cue), in the order of its gain table.
    playing: Vec<(u16, Cue)>,
    gains: Arc<GainTable>,
    run: u32,
    from: u64,
    problems: Arc<Mutex<Vec<Problem>>>,
}

impl Player {
    /// A player of `tracks` at `rate`, the output callback's object, and what they share.
    /// Each clip is read up to `ring_frames` frames ahead of what plays; the reader thread
    /// starts here and every buffer is allocated here.
    pub fn new(
        tracks: Vec<CueTrack>,
        rate: u32,
        ring_frames: usize,
    ) -> Result<(Player, Playout, Arc<PlaybackShared>), Error> {
        let shared = Arc::new(PlaybackShared::default());
        let blocks = (rate as usize / MIX_AHEAD_DIVISOR)
            .div_ceil(BLOCK_FRAMES)
            .max(4);
        let (reader_ends, playout_ends) = block::rings(blocks);
        let problems = Arc::new(Mutex::new(Vec::new()));
        let reader = Reader {
            shared: Arc::clone(&shared),
            ends: reader_ends,
            problems: Arc::clone(&problems),
            mixer: Mixer::new(),
        };
        let (commands, receiver) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("tapedeck-playback".into())
            .spawn(move || reader.run(receiver))
            .map_err(|e| Error::io("cannot start the playback reader thread", e))?;
        let playout = Playout::new(Arc::clone(&shared), playout_ends, rate);
        let player = Player {
            shared: Arc::clone(&shared),
            commands,
            reader: Some(handle),
            rate,
            window_frames: ring_frames.max(BLOCK_FRAMES * 2),
            tracks,
            playing: Vec::new(),
            gains: Arc::new(GainTable::new(&[])),
            run: 0,
            from: 0,
            problems,
        };
        Ok((player, playout, shared))
    }

    /// Plays from timeline frame `frame`: the files are opened (those missing or short are
    /// listed in `problems`; the rest plays), the reader fills its read-ahead, and the
    /// callback starts at its next block. The anchor of that block (`first_anchor`) has
    /// `position == frame`. At the song's end the state is `Ended` at once; past it, an
    /// error says where the song ends.
    pub fn play_from(&mut self, frame: u64) -> Result<(), Error> {
        let length = self.length();
        if frame > length {
            return Err(Error::usage(format!(
                "cannot play from {}: the song ends at {}",
                self.time(frame),
                self.time(length)
            )));
        }
        let mut problems = Vec::new();
        let mut sources = Vec::new();
        for (slot, t) in self.tracks.iter().enumerate() {
            if let Some(clip) = &t.clip {
                let (source, problem) = Source::open(clip, slot, self.window_frames);
                sources.extend(source);
                problems.extend(problem);
            }
        }
        self.playing = self.tracks.iter().map(|t| (t.number, t.cue)).collect();
        self.gains = Arc::new(GainTable::new(&cue_gains(
            self.playing.iter().map(|(_, c)| c),
        )));
        if let Ok(mut list) = self.problems.lock() {
            *list = problems;
        }
        self.run = self.run.wrapping_add(1).max(1);
        self.from = frame;
        self.shared.set_length(length);
        if frame == length {
            // Nothing left to play: at the end already.
            self.shared.set_control(self.run, PlayState::Ended);
            return Ok(());
        }
        self.shared.set_control(self.run, PlayState::Starting);
        self.commands
            .send(Command::Play {
                run: self.run,
                from: frame,
                end: length,
                sources,
                gains: Arc::clone(&self.gains),
            })
            .map_err(|_| Error::Runtime("the playback reader thread has stopped".into()))
    }

    /// The number of the last play asked for: the output's anchors of that play carry it.
    pub fn run(&self) -> u32 {
        self.run
    }

    /// Stops playing (the callback plays silence from its next block on).
    pub fn stop(&mut self) {
        if self.state() != PlayState::Stopped {
            self.shared.set_control(self.run, PlayState::Stopped);
            // A reader that is gone has nothing to stop.
            let _ = self.commands.send(Command::Stop);
        }
    }

    /// Changes a track's cue: heard after the mixed read-ahead (a sixth of a second at
    /// most). Applies to the play under way and to the next.
    pub fn set_cue(&mut self, track: u16, cue: Cue) -> Result<(), Error> {
        let mut found = false;
        for t in self.tracks.iter_mut().filter(|t| t.number == track) {
            t.cue = cue;
            found = true;
        }
        for (_, c) in self.playing.iter_mut().filter(|(n, _)| *n == track) {
            *c = cue;
            found = true;
        }
        if !found {
            return Err(Error::usage(format!("there is no track {track} to play")));
        }
        self.gains
            .set_all(&cue_gains(self.playing.iter().map(|(_, c)| c)));
        Ok(())
    }

    /// What the next play plays (a new take became playable, another was chosen).
    pub fn set_tracks(&mut self, tracks: Vec<CueTrack>) {
        self.tracks = tracks;
    }

    /// The song's end: the timeline frame after the last clip's last frame.
    pub fn length(&self) -> u64 {
        song_length(&self.tracks)
    }

    pub fn state(&self) -> PlayState {
        self.shared.state()
    }

    /// The timeline frame playback has reached: the next frame the callback plays (the play's
    /// first frame while it starts).
    pub fn position(&self) -> u64 {
        match self.shared.control() {
            (_, PlayState::Starting) => return self.from,
            // Played to its end, or asked to play from there.
            (run, PlayState::Ended) if run == self.run => return self.shared.length(),
            _ => {}
        }
        match self.shared.anchor() {
            Some(a) if a.run != 0 => a.position + u64::from(a.frames),
            Some(a) => a.position,
            None => self.from,
        }
    }

    /// Clips of the current play that do not play in full, each naming its file.
    pub fn problems(&self) -> Vec<Problem> {
        self.problems.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn underruns(&self) -> Underruns {
        self.shared.underruns()
    }

    fn time(&self, frame: u64) -> String {
        let secs = frame as f64 / f64::from(self.rate.max(1));
        format!("{secs:.3} s (frame {frame})")
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.shared.set_control(self.run, PlayState::Stopped);
        // The reader ends when its channel closes.
        let (dead, _) = mpsc::channel();
        self.commands = dead;
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}
