//! The engine: owns tracks, arm states, transport, takes and counters. Front ends (the headless
//! status printer, the TUI) drive it with `Command`s and read `Snapshot`s at their own rate; it
//! knows nothing about terminals.

mod meter;
mod writer;

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use crate::capture::{CaptureOutput, CaptureShared};
use crate::error::Error;
use crate::format::{DeviceFormat, FileFormat};
use crate::session::Session;
pub use crate::session::manifest::EndReason;
use crate::session::manifest::{DeviceRecord, DropoutRecord};
pub use meter::{InputMeter, MeterTap};

/// A track: one device input recorded into one mono file per take.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    /// Track number, used in file names; equal to the input number unless chosen otherwise.
    pub number: u16,
    pub name: String,
    /// 1-based device input.
    pub input: u16,
    pub role: Option<String>,
    pub armed: bool,
}

/// What the engine needs to run.
pub struct EngineConfig {
    pub device: DeviceRecord,
    pub sample_rate: u32,
    pub channels: u16,
    pub device_format: DeviceFormat,
    pub file_format: FileFormat,
    pub tracks: Vec<Track>,
    pub ring_frames: usize,
    /// A take does not start when the disk holds less than this much recording time at the
    /// armed track count (`--min-free`).
    pub min_free_seconds: u64,
    /// A warning is given when a take's remaining disk time drops below this (`--warn-free`).
    pub warn_free_seconds: u64,
    /// How often a take's files are forced to disk (`--sync-interval`): what a power cut can
    /// lose. None leaves it to the kernel.
    pub sync_interval: Option<std::time::Duration>,
}

/// Commands front ends send.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Arm or disarm a track (by track number). Applies to the next take.
    SetArmed { track: u16, armed: bool },
    /// Arm every track (true) or none (false).
    ArmAll(bool),
    /// Start a take of the armed tracks at the frame being captured now; it stops by itself
    /// after `max_frames` if given.
    Record { max_frames: Option<u64> },
    /// Stop the take at the frame being captured now.
    Stop { reason: EndReason },
    /// Drop a marker into the current take at the frame being captured now.
    Mark { label: Option<String> },
    /// Rename a track; applies to the next take.
    Rename { track: u16, name: String },
    /// Reset the clip counters shown on the meters.
    ClearClips,
    /// Write a note into the manifest's log (with the current take, if any), at once.
    Note(String),
    /// Finish any take and stop the engine.
    Shutdown { reason: EndReason },
}

/// Things that happened, for front ends to show.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    TakeStarted {
        take: u32,
        folder: String,
    },
    TakeFinished(TakeSummary),
    /// A command could not be carried out, or something needs attention.
    Warning(String),
    /// A Record command did not start a take (nothing armed, too little disk, the files could
    /// not be made, ...): front ends show it like a warning; one waiting for the take stops.
    TakeRefused(String),
    /// The audio stream ended (device lost or failed).
    StreamFailed(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TakeSummary {
    pub take: u32,
    pub folder: String,
    pub frames: u64,
    pub seconds: f64,
    pub files: Vec<String>,
    pub dropouts: Vec<DropoutRecord>,
    pub reason: EndReason,
    pub detail: Option<String>,
    pub clipped_samples: u64,
}

impl TakeSummary {
    /// The summary of a take as the manifest records it (`None` while it is still recording).
    pub fn from_record(r: &crate::session::manifest::TakeRecord) -> Option<Self> {
        Some(Self {
            take: r.number,
            folder: r.folder.clone(),
            frames: r.length_frames,
            seconds: r.length_seconds,
            files: r.tracks.iter().map(|t| t.file.clone()).collect(),
            dropouts: r.dropouts.clone(),
            reason: r.end_reason?,
            detail: r.end_detail.clone(),
            clipped_samples: r.tracks.iter().map(|t| t.clipped_samples).sum(),
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Transport {
    Stopped,
    Recording {
        take: u32,
        started_at: DateTime<FixedOffset>,
        /// Frames recorded so far.
        frames: u64,
    },
}

/// Everything a front end shows, as of the last update (about 30 times a second).
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub session: String,
    pub sample_rate: u32,
    pub file_format: FileFormat,
    pub device: DeviceRecord,
    pub transport: Transport,
    pub next_take: u32,
    /// Frames since the stream started (captured plus missing).
    pub position: u64,
    pub inputs: Vec<InputMeter>,
    pub tracks: Vec<Track>,
    /// Dropout events since the stream started (xruns and ring overflows).
    pub dropouts: u64,
    pub dropped_frames: u64,
    pub xruns: u64,
    pub ring_fill: f32,
    pub ring_capacity_frames: usize,
    pub last_take: Option<TakeSummary>,
    pub stream_failed: Option<String>,
}

/// A handle for sending commands from any thread (signal handlers, UI).
#[derive(Clone)]
pub struct Commander(Sender<Command>);

impl Commander {
    /// Sends a command; false if the engine has already stopped.
    pub fn send(&self, cmd: Command) -> bool {
        self.0.send(cmd).is_ok()
    }
}

/// A running engine. Dropping it without `shutdown` still finishes any take.
pub struct Engine {
    commands: Sender<Command>,
    events: Receiver<Event>,
    snapshot: Arc<Mutex<Snapshot>>,
    taps: Arc<Mutex<Vec<Arc<meter::TapInner>>>>,
    writer: Option<JoinHandle<Session>>,
    shared: Arc<CaptureShared>,
    // Dropped last: the stream stops only after the writer has drained the ring.
    stream: Option<cpal::Stream>,
}

impl Engine {
    /// Starts the writer thread on an already playing stream.
    pub fn start(
        config: EngineConfig,
        session: Session,
        stream: cpal::Stream,
        output: CaptureOutput,
        shared: Arc<CaptureShared>,
    ) -> Result<Self, Error> {
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel();
        let snapshot = Arc::new(Mutex::new(writer::initial_snapshot(&config, &session)));
        let taps = Arc::new(Mutex::new(Vec::new()));
        let w = writer::Writer::new(
            config,
            session,
            output,
            Arc::clone(&shared),
            cmd_rx,
            ev_tx,
            Arc::clone(&snapshot),
            Arc::clone(&taps),
        );
        let handle = std::thread::Builder::new()
            .name("tapedeck-writer".into())
            .spawn(move || w.run())
            .map_err(|e| Error::Runtime(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            commands: cmd_tx,
            events: ev_rx,
            snapshot,
            taps,
            writer: Some(handle),
            shared,
            stream: Some(stream),
        })
    }

    pub fn send(&self, cmd: Command) {
        // The writer only goes away after Shutdown; a send after that has nothing to do.
        let _ = self.commands.send(cmd);
    }

    pub fn commander(&self) -> Commander {
        Commander(self.commands.clone())
    }

    pub fn snapshot(&self) -> Snapshot {
        match self.snapshot.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// A meter reader of its own: the highest peak per input since its last read.
    pub fn meter_tap(&self) -> MeterTap {
        let tap = Arc::new(meter::TapInner::new(usize::from(
            self.shared.channels as u16,
        )));
        if let Ok(mut taps) = self.taps.lock() {
            taps.push(Arc::clone(&tap));
        }
        MeterTap(tap)
    }

    /// True once the writer thread has ended (after Shutdown, or if it failed).
    pub fn is_finished(&self) -> bool {
        self.writer.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Frames captured since the stream started.
    pub fn position(&self) -> u64 {
        self.shared.position.load(Ordering::Acquire)
    }

    /// Finishes any take (ending it with `reason`), stops the writer, then the stream.
    /// Returns the session as finally written.
    pub fn shutdown(mut self, reason: EndReason) -> Result<Session, Error> {
        let _ = self.commands.send(Command::Shutdown { reason });
        self.join()
    }

    fn join(&mut self) -> Result<Session, Error> {
        let result = match self.writer.take() {
            Some(h) => h
                .join()
                .map_err(|_| Error::Runtime("the writer thread panicked".into())),
            None => Err(Error::Runtime("the engine was already shut down".into())),
        };
        if let Some(stream) = self.stream.take() {
            close_stream(stream);
        }
        result
    }
}

/// How long closing the stream may take. Everything is on disk by then; what is left is
/// telling the audio server goodbye.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Closes the stream on a thread of its own and waits for it at most `CLOSE_TIMEOUT`.
///
/// Closing a JACK client waits for the server's answer, and a server that is stuck (its
/// notifications to us unread, say) never gives one: the process would then never exit,
/// although the take is complete. Better to leave the connection behind (the server cleans
/// up after a client that is gone) and say so.
fn close_stream(stream: cpal::Stream) {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let closer = std::thread::Builder::new()
        .name("tapedeck-close".into())
        .spawn(move || {
            drop(stream);
            let _ = done_tx.send(());
        });
    if closer.is_ok() && done_rx.recv_timeout(CLOSE_TIMEOUT).is_err() {
        eprintln!(
            "tapedeck: the audio server did not answer within {} s when tapedeck closed its \
             connection; leaving it (everything recorded is on disk)",
            CLOSE_TIMEOUT.as_secs()
        );
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.commands.send(Command::Shutdown {
                reason: EndReason::Stopped,
            });
            let _ = self.join();
        }
    }
}
