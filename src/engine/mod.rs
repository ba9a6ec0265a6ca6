//! The engine: owns tracks, arm states, transport, takes and counters. Front ends (the headless
//! status printer, the TUI) drive it with `Command`s and read `Snapshot`s at their own rate; it
//! knows nothing about terminals.
//!
//! - `recorder`: the recording core (takes, gaps, track selection), driven by calls;
//! - `writer`: the thread that feeds it from the capture ring;
//! - `sink` and `take_files`: where takes go (WAV files; memory in tests), `syncer` forcing
//!   them to disk;
//! - `meter`, `watch`: meters and the audio thread's health, measured on the writer thread;
//! - `api`: the commands, events and snapshots front ends use.

mod api;
mod clock;
#[cfg(feature = "fault-injection")]
mod faults;
mod history;
mod meter;
mod monitoring;
mod no_signal;
mod recorder;
mod roundtrip;
mod sink;
mod syncer;
mod take_files;
mod transport;
mod trigger;
mod watch;
mod writer;

use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::capture::{CaptureOutput, CaptureShared};
use crate::error::Error;
use crate::session::Session;
pub use crate::session::manifest::EndReason;
pub use api::{
    Command, DiskSpace, Event, Locate, MonitorView, Snapshot, SongView, TakeSummary, Track,
    Transport,
};
pub(crate) use history::{
    History as KeptPast, bytes_for as kept_bytes, fits as kept_fits, memory_available,
};
pub use meter::{InputMeter, MeterTap, PEAK_HOLD};
pub(crate) use recorder::RecorderConfig;
pub(crate) use roundtrip::RoundTripFix;
pub(crate) use transport::SONG_RING_SECONDS;
pub use trigger::TriggerView;
pub(crate) use trigger::{TriggerConfig, parse_level as parse_trigger_level};

/// What the engine needs to run.
pub(crate) struct EngineConfig {
    pub(crate) recorder: RecorderConfig,
    pub(crate) ring_frames: usize,
    /// How often a take's files are forced to disk (`--sync-interval`): what a power cut can
    /// lose. None leaves it to the kernel.
    pub(crate) sync_interval: Option<Duration>,
    /// `--split-every`: every take continues in next files at this length.
    pub(crate) split_every: Option<Duration>,
    /// Published with the frames the writer has taken out of the ring, for a source that
    /// paces itself by them (the unpaced demo device).
    pub(crate) taken: Option<Arc<AtomicU64>>,
    pub(crate) song: SongSetup,
    /// The kept past: pre-roll, keep what was just played, record on signal.
    pub(crate) keep: KeepConfig,
    /// Its memory, made before the stream started (`None`: the writer makes what it needs).
    pub(crate) kept: Option<KeptPast>,
}

/// What the writer keeps of the past, and what it does with it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct KeepConfig {
    /// The most a keep-last take holds (`--keep`); 0 keeps nothing for it.
    pub(crate) keep_frames: u64,
    /// How long before Record (or the trigger's crossing) a take starts (`--pre-roll`).
    pub(crate) pre_roll_frames: u64,
    /// Record on signal (`--trigger`).
    pub(crate) trigger: Option<TriggerConfig>,
}

impl KeepConfig {
    /// The frames the past must hold: the larger of the two uses, plus `margin` (what arrives
    /// while a take of the whole kept past is written); at least `overdub` when a song can
    /// play. 0 when nothing is kept.
    pub(crate) fn frames(&self, margin: u64, overdub: u64) -> u64 {
        let wanted = self.keep_frames.max(self.pre_roll_frames);
        if wanted == 0 {
            overdub
        } else {
            (wanted + margin).max(overdub)
        }
    }
}

/// Whether the loop from tapedeck's output to its input closes inside JACK, or why that could
/// not be found out.
pub(crate) type LoopProbe = Box<dyn FnMut() -> Result<bool, String> + Send>;

/// What the engine plays the song with.
pub(crate) struct SongSetup {
    /// The player, its shared state and the output's name; `None` plays nothing.
    pub(crate) player: Option<(
        crate::playback::Player,
        Arc<crate::playback::PlaybackShared>,
        String,
    )>,
    /// What the hosts do not report of the round trip.
    pub(crate) fix: RoundTripFix,
    /// Asked as each overdub starts: whether the loop from the output to the input closes
    /// inside JACK (its ports may have been connected since tapedeck started).
    pub(crate) loop_probe: Option<LoopProbe>,
    /// The song position to start from.
    pub(crate) from: u64,
    /// Software monitoring's shared state (with the player's output); `None` without one.
    pub(crate) monitor: Option<Arc<crate::monitor::MonitorShared>>,
    /// Tracks monitored from the start (`--monitor`).
    pub(crate) monitor_tracks: Vec<u16>,
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

/// Reads the engine's latest snapshot from any thread. The writer takes the same mutex
/// briefly to publish: a reader clones and lets go at once, and never holds it.
#[derive(Clone)]
pub(crate) struct SnapshotReader(Arc<Mutex<Snapshot>>);

impl SnapshotReader {
    pub(crate) fn get(&self) -> Snapshot {
        match self.0.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// A running engine. Dropping it without `shutdown` still finishes any take.
pub struct Engine {
    commands: Sender<Command>,
    events: Receiver<Event>,
    snapshot: Arc<Mutex<Snapshot>>,
    taps: Arc<Mutex<Vec<Arc<meter::TapInner>>>>,
    channels: usize,
    writer: Option<JoinHandle<Session>>,
    // Dropped last: the stream stops only after the writer has drained the ring.
    stream: Option<Box<dyn Send>>,
}

impl Engine {
    /// Starts the writer thread on an already playing stream, whose callback fills `input`
    /// and `shared`; `stream` is whatever keeps it playing (dropped after the last take).
    pub(crate) fn start(
        mut config: EngineConfig,
        session: Session,
        input: CaptureOutput,
        shared: Arc<CaptureShared>,
        stream: Box<dyn Send>,
    ) -> Result<Self, Error> {
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel();
        let channels = usize::from(config.recorder.device.channels.max(1));
        let taps = Arc::new(Mutex::new(Vec::new()));
        let meters = meter::Meters::new(
            channels,
            config.recorder.device_format,
            Arc::clone(&taps),
            Instant::now(),
        );
        let rate = config.recorder.device.sample_rate;
        let song = std::mem::replace(
            &mut config.song,
            SongSetup {
                player: None,
                fix: RoundTripFix::default(),
                loop_probe: None,
                from: 0,
                monitor: None,
                monitor_tracks: Vec::new(),
            },
        );
        let monitoring = monitoring::Monitoring::new(song.monitor, song.monitor_tracks, rate);
        let transport =
            transport::Transport::new(song.player, rate, song.fix, song.loop_probe, song.from);
        let w = writer::Writer::new(
            config, session, input, shared, cmd_rx, ev_tx, meters, transport, monitoring,
        );
        let snapshot = w.published();
        let handle = std::thread::Builder::new()
            .name("tapedeck-writer".into())
            .spawn(move || w.run())
            .map_err(|e| Error::Runtime(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            commands: cmd_tx,
            events: ev_rx,
            snapshot,
            taps,
            channels,
            writer: Some(handle),
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
        self.snapshot_reader().get()
    }

    /// A reader of the snapshot for another thread (the control socket's).
    pub(crate) fn snapshot_reader(&self) -> SnapshotReader {
        SnapshotReader(Arc::clone(&self.snapshot))
    }

    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// True once the writer thread has ended: after a shutdown, or if it failed.
    pub(crate) fn is_gone(&self) -> bool {
        self.writer.as_ref().is_none_or(|h| h.is_finished())
    }

    /// A meter reader of its own: the highest peak per input since its last read.
    pub fn meter_tap(&self) -> MeterTap {
        let tap = Arc::new(meter::TapInner::new(self.channels));
        if let Ok(mut taps) = self.taps.lock() {
            taps.push(Arc::clone(&tap));
        }
        MeterTap(tap)
    }

    /// Finishes any take (ending it with `reason`), stops the writer, then the stream.
    /// Returns the session as finally written.
    pub fn shutdown(mut self, reason: EndReason) -> Result<Session, Error> {
        let _ = self.commands.send(Command::Shutdown { reason });
        self.join()
    }

    /// `shutdown`, and the events the engine sent that nobody read (the end of the take the
    /// shutdown finished, among them).
    pub fn shutdown_and_drain(mut self, reason: EndReason) -> (Result<Session, Error>, Vec<Event>) {
        let _ = self.commands.send(Command::Shutdown { reason });
        let session = self.join();
        (session, self.events.try_iter().collect())
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
fn close_stream(stream: Box<dyn Send>) {
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

#[cfg(test)]
mod tests;
