//! The writer thread: a short loop around the recording core. It takes what the capture
//! callback put in the ring, in stream order (each gap where it belongs), measures it for the
//! meters and hands it to the core; carries out commands; watches the audio thread; and
//! publishes a snapshot about 30 times a second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Observer};

use super::api::{Command, Event, Snapshot};
use super::clock::SystemClock;
use super::history::History;
use super::meter::Meters;
use super::monitoring::Monitoring;
use super::no_signal::SilenceWatch;
use super::recorder::{Placement, Recorder, step_frames};
use super::take_files::WavSink;
use super::transport::{Start, Transport};
use super::watch::{AudioWatch, realtime_warning};
use super::{EndReason, EngineConfig};
use crate::capture::{CaptureOutput, CaptureShared, StreamFault};
use crate::handoff::SheetWorker;
use crate::session::Session;

/// How long the writer sleeps when the ring is empty. The ring holds seconds; waking less
/// often costs nothing in safety and saves the context switches.
const IDLE_WAIT: Duration = Duration::from_millis(20);
/// How often meters and the snapshot are refreshed.
const METER_INTERVAL: Duration = Duration::from_millis(33);

pub(super) struct Writer {
    core: Recorder<WavSink, SystemClock>,
    input: CaptureOutput,
    shared: Arc<CaptureShared>,
    commands: Receiver<Command>,
    events: Sender<Event>,
    snapshot: Arc<Mutex<Snapshot>>,
    meters: Meters,
    song: Transport,
    /// The last second of the capture, kept while a song can play (`history`).
    history: Option<History>,
    monitoring: Monitoring,
    /// One step of interleaved ring words, taken out of the ring.
    chunk: Vec<u32>,
    channels: usize,
    ring_frames: usize,
    /// Frames taken out of the ring so far, for a source that paces itself by them.
    taken: Option<Arc<AtomicU64>>,
    audio: AudioWatch,
    realtime_checked: bool,
    silence: SilenceWatch,
    next_meter: Instant,
    #[cfg(feature = "fault-injection")]
    stall: Option<super::faults::Stall>,
    #[cfg(feature = "fault-injection")]
    reader_stall: Option<super::faults::ReaderStall>,
    /// The song's underruns when the take running began (its own are told when it ends).
    underruns_at_take: (u64, u64),
    /// Writes TRACKS.md when a take ends or a verdict changes.
    sheet: SheetWorker,
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        cfg: EngineConfig,
        session: Session,
        input: CaptureOutput,
        shared: Arc<CaptureShared>,
        commands: Receiver<Command>,
        events: Sender<Event>,
        meters: Meters,
        mut song: Transport,
        mut monitoring: Monitoring,
    ) -> Self {
        let now = Instant::now();
        let channels = usize::from(cfg.recorder.device.channels.max(1));
        let rate = cfg.recorder.device.sample_rate;
        let sink = WavSink::new(session.dir(), cfg.sync_interval, cfg.split_every);
        let mut core = Recorder::new(cfg.recorder, session, sink, SystemClock);
        for problem in song.reload(core.session().dir(), core.session().manifest()) {
            core.warn(problem);
        }
        if let Some(w) = monitoring.apply(core.tracks(), &core.session().manifest().tracks) {
            core.warn(w);
        }
        let first = snapshot_of(
            &core,
            &meters,
            &shared,
            &input,
            cfg.ring_frames,
            &song,
            &monitoring,
        );
        Self {
            core,
            input,
            shared,
            commands,
            sheet: SheetWorker::spawn(events.clone()),
            events,
            snapshot: Arc::new(Mutex::new(first)),
            meters,
            history: song
                .has_output()
                .then(|| History::new(channels, rate as usize)),
            song,
            monitoring,
            chunk: vec![0; step_frames(channels) * channels],
            channels,
            ring_frames: cfg.ring_frames,
            taken: cfg.taken,
            audio: AudioWatch::new(now),
            realtime_checked: false,
            silence: SilenceWatch::new(now),
            next_meter: now,
            #[cfg(feature = "fault-injection")]
            stall: super::faults::Stall::from_env(),
            #[cfg(feature = "fault-injection")]
            reader_stall: super::faults::ReaderStall::from_env(),
            underruns_at_take: (0, 0),
        }
    }

    pub(super) fn run(mut self) -> Session {
        loop {
            let mut handled = false;
            while let Ok(cmd) = self.commands.try_recv() {
                self.handle(cmd);
                handled = true;
            }
            // Front ends see the effect of their commands in the very next snapshot.
            if handled {
                self.forward_events();
                self.publish();
            }
            // Before the pump: a stream that resumes with a gap reaching the take's end still
            // has its return reported inside the take.
            self.watch_audio_thread();
            self.start_overdub();
            // While an overdub waits for its first block to be played, the frame it starts at
            // may already be in the ring: it stays there until that frame is known.
            let progressed = !self.song.is_pending() && self.pump();
            self.check_stream();
            self.core.tick();
            if !self.core.take_running() {
                self.song.tick();
            }
            #[cfg(feature = "fault-injection")]
            if let Some(stall) = &mut self.stall {
                stall.maybe(self.core.is_recording());
            }
            #[cfg(feature = "fault-injection")]
            if let Some(on) = self
                .reader_stall
                .as_mut()
                .and_then(|s| s.stalled(self.core.is_recording()))
            {
                self.song.stall_reader(on);
            }
            self.forward_events();
            let now = Instant::now();
            if now >= self.next_meter {
                self.next_meter = now + METER_INTERVAL;
                self.meters.update(now);
                self.publish();
            }
            if self.core.is_done() {
                break;
            }
            if !progressed {
                match self.commands.recv_timeout(IDLE_WAIT) {
                    Ok(cmd) => {
                        self.handle(cmd);
                        self.forward_events();
                        self.publish();
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    // Every sender is gone: nobody can stop a take any more, so end it now.
                    Err(RecvTimeoutError::Disconnected) => {
                        self.handle(Command::Shutdown {
                            reason: EndReason::Stopped,
                        });
                        std::thread::sleep(IDLE_WAIT);
                    }
                }
            }
        }
        self.forward_events();
        self.publish();
        self.core.into_session()
    }

    /// The frame the device is capturing now.
    fn live(&self) -> u64 {
        self.shared.position.load(Ordering::Acquire)
    }

    fn handle(&mut self, cmd: Command) {
        self.handle_command(cmd);
        // Arming, a cue or a monitor switch may change what is heard.
        if let Some(w) = self
            .monitoring
            .apply(self.core.tracks(), &self.core.session().manifest().tracks)
        {
            self.core.warn(w);
        }
    }

    fn handle_command(&mut self, cmd: Command) {
        let live = self.live();
        match cmd {
            Command::ClearClips => self.meters.clear_clips(),
            Command::Record { max_frames } => {
                if self.core.take_running() || self.song.is_pending() {
                    self.core.command(cmd, live);
                } else if self.song.overdubs() {
                    if let Err(e) = self.core.can_start_take() {
                        self.core.refuse(e);
                    } else {
                        match self.song.begin_overdub(max_frames) {
                            Ok(None) => {}
                            Ok(Some(w)) => self.core.warn(w),
                            Err(e) => self.core.refuse(e),
                        }
                    }
                } else {
                    let placement = Placement::plain(self.song.position());
                    self.core.start_take(max_frames, live, placement);
                }
            }
            Command::Stop { .. } | Command::Shutdown { .. } | Command::StopSong => {
                self.song.stop();
                self.core.command(cmd, live);
            }
            Command::Play => {
                if self.core.take_running() {
                    self.core
                        .warn("the song already plays under the take".into());
                } else if let Err(e) = self.song.play() {
                    self.core.warn(e);
                }
            }
            Command::Locate(to) => {
                if self.core.take_running() || self.song.is_pending() {
                    self.core
                        .warn("the position cannot move while recording; stop first".into());
                } else if let Err(e) = self.song.locate(to) {
                    self.core.warn(e);
                }
            }
            Command::SetCue { track, cue } => {
                self.core.command(cmd, live);
                self.song.set_cue(track, cue);
            }
            Command::SetMonitor { track, on } => {
                if let Err(e) = self.monitoring.set(track, on, self.core.tracks()) {
                    self.core.warn(e);
                }
            }
            Command::ChooseTake { .. } => {
                self.core.command(cmd, live);
                self.reload_song();
            }
            Command::Triage { .. } => {
                self.core.command(cmd, live);
                self.request_sheet();
            }
            Command::KeepLast { .. } => self
                .core
                .refuse("this recorder keeps nothing of what was played before a take".into()),
            cmd => self.core.command(cmd, live),
        }
    }

    /// The track sheet of the session as it is now, written off this thread.
    fn request_sheet(&self) {
        self.sheet
            .request(self.core.session().dir(), self.core.session().manifest());
    }

    /// Reads the song again from the manifest, warning of files that newly do not play.
    fn reload_song(&mut self) {
        for problem in self
            .song
            .reload(self.core.session().dir(), self.core.session().manifest())
        {
            self.core.warn(problem);
        }
    }

    /// Starts the take of an overdub once the output has played its first block.
    fn start_overdub(&mut self) {
        match self.song.poll_start(&self.shared) {
            Start::Waiting => {}
            Start::Failed(why) => self.core.refuse(why),
            Start::Take {
                placement,
                max_frames,
            } => {
                let live = self.live();
                // A start a little behind the writer is still in the history: go back there
                // and take those frames again.
                let replay = placement
                    .stream_start
                    .filter(|s| *s < self.core.position())
                    .and_then(|s| Some((s, self.history.as_ref()?.since(s)?)));
                if let Some((s, _)) = &replay {
                    self.core.rewind(*s);
                }
                self.core.start_take(max_frames, live, placement);
                if let Some((_, mut words)) = replay {
                    self.core.chunk(&mut words);
                }
                if !self.core.take_running() {
                    self.song.stop();
                }
            }
        }
    }

    fn forward_events(&mut self) {
        let events = self.core.take_events();
        for e in &events {
            match e {
                Event::TakeStarted { .. } => self.underruns_at_take = self.song.underruns(),
                Event::TakeFinished(t) => {
                    let (events, frames) = self.song.underruns();
                    let (e0, f0) = self.underruns_at_take;
                    if events > e0 {
                        // The performer heard gaps in the song: the mixer should know.
                        self.core.note_take(
                            t.take,
                            &format!(
                                "while take {} recorded, the song's disk reader was late {} times: {} frames of the song played as silence (the take itself is whole)",
                                t.take,
                                events - e0,
                                frames - f0
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
        if events.iter().any(|e| matches!(e, Event::TakeFinished(_))) {
            // The take just recorded plays from now on; the song stops with it.
            self.song.stop();
            self.reload_song();
            self.request_sheet();
        }
        for e in events.into_iter().chain(self.core.take_events()) {
            // Nobody listening is no reason to stop recording.
            let _ = self.events.send(e);
        }
    }

    /// Processes everything the ring holds now. Returns whether anything happened.
    fn pump(&mut self) -> bool {
        let ch = self.channels;
        // Measure the data first, then look at gaps: a gap queued after this measurement
        // belongs after all of the measured data.
        let mut budget = self.input.samples.occupied_len() / ch;
        let mut progressed = false;
        loop {
            while let Some(g) = self.input.gaps.try_peek().copied() {
                if g.at_frame > self.core.position() {
                    break;
                }
                self.input.gaps.try_pop();
                self.core.gap(g);
                progressed = true;
            }
            if budget == 0 {
                break;
            }
            let mut n = budget.min(self.chunk.len() / ch) as u64;
            if let Some(g) = self.input.gaps.try_peek() {
                n = n.min(g.at_frame - self.core.position());
            }
            let words = n as usize * ch;
            let (a, b) = self.input.samples.as_slices();
            let from_a = words.min(a.len());
            self.chunk[..from_a].copy_from_slice(&a[..from_a]);
            self.chunk[from_a..words].copy_from_slice(&b[..words - from_a]);
            self.input.samples.skip(words);
            // Only an overdub's start can reach back into it: not kept while a take runs.
            if let Some(h) = &mut self.history
                && !self.core.take_running()
            {
                h.push(&self.chunk[..words], self.core.position());
            }
            self.meters.measure(&self.chunk[..words]);
            self.core.chunk(&mut self.chunk[..words]);
            budget -= n as usize;
            progressed = true;
            if let Some(t) = &self.taken {
                t.store(self.core.position(), Ordering::Relaxed);
            }
        }
        progressed
    }

    /// Notices a stream that ended (device unplugged, server gone).
    fn check_stream(&mut self) {
        if self.core.stream_failed().is_some() || !self.shared.ended.load(Ordering::Acquire) {
            return;
        }
        let (reason, why) = match self.shared.fault() {
            StreamFault::DeviceLost => (EndReason::DeviceLost, "the audio device disappeared"),
            _ => (EndReason::StreamError, "the audio stream failed"),
        };
        let live = self.live();
        self.core.stream_ended(reason, why, live);
    }

    fn watch_audio_thread(&mut self) {
        let device = &self.core.config().device;
        if !self.realtime_checked
            && let Some(warning) = realtime_warning(self.shared.realtime(), &device.host)
        {
            self.realtime_checked = true;
            if let Some(w) = warning {
                self.core.warn(w.to_string());
            }
        }
        let device = &self.core.config().device;
        let callbacks = self.shared.callbacks.load(Ordering::Relaxed);
        let live = self.core.stream_failed().is_none();
        if let Some(w) = self
            .audio
            .check(callbacks, live, Instant::now(), &device.name)
        {
            self.core.warn(w);
        }
        // A take silent on every armed input since it started.
        let inputs = self.meters.inputs();
        let heard = self.core.config().tracks.iter().any(|t| {
            t.armed
                && inputs
                    .get(usize::from(t.input).saturating_sub(1))
                    .is_some_and(|m| m.hold > 0.0 || m.peak > 0.0)
        });
        if let Some(w) = self
            .silence
            .check(self.core.take_number(), heard, Instant::now())
        {
            self.core.warn_take(w);
        }
    }

    /// Where the snapshots go.
    pub(super) fn published(&self) -> Arc<Mutex<Snapshot>> {
        Arc::clone(&self.snapshot)
    }

    fn publish(&self) {
        let snap = snapshot_of(
            &self.core,
            &self.meters,
            &self.shared,
            &self.input,
            self.ring_frames,
            &self.song,
            &self.monitoring,
        );
        match self.snapshot.lock() {
            Ok(mut s) => *s = snap,
            Err(p) => *p.into_inner() = snap,
        }
    }
}

fn snapshot_of(
    core: &Recorder<WavSink, SystemClock>,
    meters: &Meters,
    shared: &CaptureShared,
    input: &CaptureOutput,
    ring_frames: usize,
    song: &Transport,
    monitoring: &Monitoring,
) -> Snapshot {
    let cfg = core.config();
    let channels = usize::from(cfg.device.channels.max(1));
    let fill = input.samples.occupied_len() / channels;
    Snapshot {
        session: core.session().name().to_string(),
        sample_rate: cfg.device.sample_rate,
        file_format: cfg.file_format,
        device: cfg.device.clone(),
        transport: core.transport(),
        next_take: core.session().next_take_number(),
        position: shared.position.load(Ordering::Acquire),
        inputs: meters.inputs(),
        tracks: core.tracks().to_vec(),
        dropouts: core.dropouts(),
        dropped_frames: shared.overflow_frames.load(Ordering::Relaxed)
            + shared.xrun_frames.load(Ordering::Relaxed),
        xruns: shared.xruns_reported.load(Ordering::Relaxed),
        ring_fill: fill as f32 / ring_frames.max(1) as f32,
        ring_capacity_frames: ring_frames,
        disk: core.disk(),
        last_take: core.last_take().cloned(),
        stream_failed: core.stream_failed().map(str::to_string),
        song: super::api::SongView {
            monitor: monitoring.view(),
            ..song_view(core, song)
        },
    }
}

/// The song as front ends show it; while a take records with nothing playing, its position
/// moves on with the take (the take starts at the song position).
fn song_view(core: &Recorder<WavSink, SystemClock>, song: &Transport) -> super::api::SongView {
    let mut view = song.view();
    if let super::api::Transport::Recording { frames, .. } = core.transport()
        && !view.playing
        && !view.starting_overdub
    {
        view.position += frames;
        view.length = view.length.max(view.position);
    }
    view
}
