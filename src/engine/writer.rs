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
use super::trigger::{Decision, Trigger, TriggerView};
use super::watch::{AudioWatch, realtime_warning};
use super::{EndReason, EngineConfig, KeepConfig};
use crate::capture::{CaptureOutput, CaptureShared, Gap, GapCause, StreamFault};
use crate::handoff::SheetWorker;
use crate::session::Session;
use crate::session::manifest::{StartedBy, TriggerRecord};

/// How long the writer sleeps when the ring is empty. The ring holds seconds; waking less
/// often costs nothing in safety and saves the context switches.
const IDLE_WAIT: Duration = Duration::from_millis(20);
/// How often meters and the snapshot are refreshed.
const METER_INTERVAL: Duration = Duration::from_millis(33);
/// Frames of the kept past handed to a take catching up, at most, between two looks at the
/// ring: a take of minutes of the past is written while the ring keeps being emptied.
const CATCH_UP_FRAMES: usize = 16_384;

pub(super) struct Writer {
    core: Recorder<WavSink, SystemClock>,
    input: CaptureOutput,
    shared: Arc<CaptureShared>,
    commands: Receiver<Command>,
    events: Sender<Event>,
    snapshot: Arc<Mutex<Snapshot>>,
    meters: Meters,
    song: Transport,
    /// The kept past of the capture (`history`): pre-roll, keep-last, an overdub's start.
    history: History,
    keep: KeepConfig,
    /// Record on signal, and the take it started (if one is running).
    trigger: Option<Trigger>,
    trigger_take: Option<u32>,
    /// Stream frame of the next frame to come out of the ring. The recording core is at it,
    /// or behind it while a take that began in the kept past catches up (`catch_up`).
    ring_pos: u64,
    /// Frames of the kept past on their way to the core.
    scratch: Vec<u32>,
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
        let device_format = cfg.recorder.device_format;
        let sink = WavSink::new(session.dir(), cfg.sync_interval, cfg.split_every);
        let mut core = Recorder::new(cfg.recorder, session, sink, SystemClock);
        for problem in song.reload(core.session().dir(), core.session().manifest()) {
            core.warn(problem);
        }
        if let Some(w) = monitoring.apply(core.tracks(), &core.session().manifest().tracks) {
            core.warn(w);
        }
        let mut first = snapshot_of(
            &core,
            &meters,
            &shared,
            &input,
            cfg.ring_frames,
            &song,
            &monitoring,
        );
        if cfg.keep.trigger.is_some() {
            first.trigger = TriggerView::Waiting;
        }
        Self {
            core,
            input,
            shared,
            commands,
            sheet: SheetWorker::spawn(events.clone()),
            events,
            snapshot: Arc::new(Mutex::new(first)),
            meters,
            history: match cfg.kept {
                Some(h) if h.channels() == channels => h,
                _ => History::new(
                    channels,
                    usize::try_from(cfg.keep.frames(
                        cfg.ring_frames as u64,
                        if song.has_output() {
                            u64::from(rate)
                        } else {
                            0
                        },
                    ))
                    .unwrap_or(usize::MAX),
                ),
            },
            keep: cfg.keep,
            trigger: cfg.keep.trigger.map(|t| Trigger::new(t, device_format)),
            trigger_take: None,
            ring_pos: 0,
            scratch: vec![0; step_frames(channels) * channels],
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
                    self.record_with_pre_roll(max_frames, live);
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
            Command::KeepLast { frames } => self.keep_last(frames, live),
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
                // A start a little behind the writer is still in the kept past: go back there
                // and take those frames again (`catch_up`).
                if let Some(s) = placement
                    .stream_start
                    .filter(|s| *s < self.core.position() && *s >= self.history.oldest())
                {
                    self.core.rewind(s);
                }
                self.core.start_take(max_frames, live, placement);
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
    ///
    /// Every frame goes into the kept past, the meters and the trigger; the recording core
    /// gets it at once when it is in step with the ring, or later from the kept past while a
    /// take that began there catches up.
    fn pump(&mut self) -> bool {
        let ch = self.channels;
        // Measure the data first, then look at gaps: a gap queued after this measurement
        // belongs after all of the measured data.
        let mut budget = self.input.samples.occupied_len() / ch;
        let mut progressed = false;
        loop {
            // A gap reaches the core in stream order: while it catches up, the gap waits.
            while self.in_step()
                && let Some(g) = self.input.gaps.try_peek().copied()
                && g.at_frame <= self.ring_pos
            {
                self.input.gaps.try_pop();
                self.core.gap(g);
                self.ring_pos = self.ring_pos.max(self.core.position());
                // What came before a dropout is not joined to what follows (an xrun the
                // timeline found to have lost nothing leaves the past whole).
                if g.frames > 0 || !g.exact {
                    self.history.gap(self.ring_pos);
                }
                progressed = true;
            }
            if budget == 0 {
                break;
            }
            let mut n = budget.min(self.chunk.len() / ch) as u64;
            if let Some(g) = self.input.gaps.try_peek() {
                n = n.min(g.at_frame.saturating_sub(self.ring_pos));
            }
            if !self.in_step() {
                // Frames the core has yet to be handed stay in the kept past.
                n = n.min(self.history.room(self.core.position()) as u64);
            }
            if n == 0 {
                break;
            }
            let start = self.ring_pos;
            let words = n as usize * ch;
            let (a, b) = self.input.samples.as_slices();
            let from_a = words.min(a.len());
            self.chunk[..from_a].copy_from_slice(&a[..from_a]);
            self.chunk[from_a..words].copy_from_slice(&b[..words - from_a]);
            self.input.samples.skip(words);
            self.history.push(&self.chunk[..words], start);
            self.ring_pos += n;
            self.meters.measure(&self.chunk[..words]);
            self.feed(start, n as usize);
            budget -= n as usize;
            progressed = true;
            if let Some(t) = &self.taken {
                t.store(self.ring_pos, Ordering::Relaxed);
            }
        }
        self.catch_up() || progressed
    }

    /// Whether the core is at the ring's position (no take catching up from the kept past).
    fn in_step(&self) -> bool {
        self.core.position() >= self.ring_pos
    }

    /// Hands the `n` frames in `chunk` (stream frames from `start`) to the trigger and, when
    /// in step, to the core; each decision of the trigger at the frame it was made.
    fn feed(&mut self, start: u64, n: usize) {
        let ch = self.channels;
        let mut done = 0;
        while done < n {
            let (looked, decision) = match &mut self.trigger {
                Some(t) => {
                    let armed: Vec<usize> = self
                        .core
                        .tracks()
                        .iter()
                        .filter(|t| t.armed)
                        .map(|t| usize::from(t.input.saturating_sub(1)))
                        .collect();
                    t.scan(
                        &self.chunk[done * ch..n * ch],
                        ch,
                        start + done as u64,
                        &armed,
                    )
                }
                None => (n - done, None),
            };
            if looked > 0 && self.core.position() == start + done as u64 {
                self.core
                    .chunk(&mut self.chunk[done * ch..(done + looked) * ch]);
            }
            done += looked;
            if let Some(d) = decision {
                self.decided(d);
            }
        }
    }

    /// Carries out what the trigger decided.
    fn decided(&mut self, d: Decision) {
        match d {
            Decision::Start { crossing } => {
                if self.core.take_running() || self.song.is_pending() {
                    // A take someone started goes on; the trigger stays out of it.
                    return;
                }
                let Some(cfg) = self.trigger.as_ref().map(Trigger::config) else {
                    return;
                };
                let live = self.live();
                let trigger = TriggerRecord {
                    level_dbfs: cfg.level_dbfs,
                    silence_frames: cfg.silence_frames,
                    silence_seconds: cfg.silence_frames as f64
                        / f64::from(self.core.config().device.sample_rate.max(1)),
                    crossing_frame: crossing,
                };
                self.start_from_past(
                    crossing,
                    self.keep.pre_roll_frames,
                    None,
                    live,
                    StartedBy::Trigger,
                    Some(trigger),
                );
                self.trigger_take = self.core.take_number();
            }
            Decision::Stop { at } => {
                if let Some(n) = self.trigger_take.take()
                    && self.core.take_number() == Some(n)
                {
                    self.core.stop_at(at, EndReason::Silence);
                }
            }
        }
    }

    /// Hands the core the frames of the kept past it is behind by, a bounded amount per call
    /// so that the ring is emptied meanwhile. Returns whether anything happened.
    fn catch_up(&mut self) -> bool {
        if self.in_step() {
            return false;
        }
        if !self.core.take_running() {
            // A take of the kept past ended behind the ring: nothing more is wanted from it.
            self.core.advance(self.ring_pos);
            return true;
        }
        let ch = self.channels;
        let mut left = CATCH_UP_FRAMES;
        let mut handed = false;
        while left > 0 && !self.in_step() && self.core.take_running() {
            // As fast as the level measurement goes, which is faster than real time: written
            // from memory, a take would otherwise outrun it and lose its level report.
            let room = usize::try_from(self.core.levels_room()).unwrap_or(usize::MAX);
            if room == 0 {
                break;
            }
            handed = true;
            let from = self.core.position();
            let want = left.min(self.scratch.len() / ch).min(room);
            match self.history.copy(from, &mut self.scratch[..want * ch]) {
                Some(n) if n > 0 => {
                    self.core.chunk(&mut self.scratch[..n * ch]);
                    left -= n;
                }
                _ => {
                    // Never expected (`room` keeps those frames): say what is missing rather
                    // than join what does not belong together.
                    let to = self.history.oldest().max(from + 1).min(self.ring_pos);
                    self.core.gap(Gap {
                        at_frame: from,
                        frames: to - from,
                        exact: true,
                        cause: GapCause::RingOverflow,
                    });
                }
            }
        }
        handed
    }

    /// Record with nothing playing: the take starts `--pre-roll` before the frame being
    /// captured now, as far as the kept past reaches.
    fn record_with_pre_roll(&mut self, max_frames: Option<u64>, live: u64) {
        if self.keep.pre_roll_frames == 0 {
            let placement = Placement::plain(self.song.position());
            self.core.start_take(max_frames, live, placement);
            return;
        }
        // The take's length counts from the press, as without a pre-roll.
        self.start_from_past(
            live,
            self.keep.pre_roll_frames,
            max_frames,
            live,
            StartedBy::Record,
            None,
        );
    }

    /// Starts a take `back` frames before stream frame `pressed` (as far as the kept past
    /// reaches), running `after` frames past `pressed` if given.
    fn start_from_past(
        &mut self,
        pressed: u64,
        back: u64,
        after: Option<u64>,
        live: u64,
        started_by: StartedBy,
        trigger: Option<TriggerRecord>,
    ) {
        if !self.core.take_running() {
            self.core.advance(self.ring_pos);
        }
        let wanted = pressed.saturating_sub(back);
        // Frames still in the ring are there; frames before the ring's position only as far
        // as the kept past reaches.
        let start = if wanted >= self.ring_pos {
            wanted
        } else {
            wanted.max(self.history.oldest()).min(self.ring_pos)
        };
        let before = pressed - start.min(pressed);
        let placement = Placement {
            stream_start: Some(start),
            started_by,
            pressed: Some(pressed),
            trigger,
            ..Placement::plain(self.song.position().saturating_sub(before))
        };
        if let Err(e) = self.core.can_start_take() {
            self.core.refuse(e);
            return;
        }
        if start < self.core.position() {
            self.core.rewind(start);
        }
        self.core
            .start_take(after.map(|a| a + before), live, placement);
    }

    /// `Command::KeepLast`: the last `frames` of the kept past (all of it: `None`), up to the
    /// frame being captured now, become a take.
    fn keep_last(&mut self, frames: Option<u64>, live: u64) {
        if self.core.take_running() || self.song.is_pending() {
            self.core.refuse(
                "a take is being recorded: keep-last makes a take of what was played between takes; stop first".into(),
            );
            return;
        }
        if self.keep.keep_frames == 0 {
            self.core.refuse(
                "nothing is kept of what was played: start tapedeck with --keep (e.g. --keep 5m)"
                    .into(),
            );
            return;
        }
        self.core.advance(self.ring_pos);
        // What is kept reaches back from the ring's position; the frames after it are still
        // in the ring.
        let held = self.kept_frames() + live.saturating_sub(self.ring_pos);
        let limit = self.keep.keep_frames.min(held);
        let want = frames.unwrap_or(limit);
        if want == 0 {
            self.core
                .refuse("a take of nothing: ask for some seconds of what was played".into());
            return;
        }
        if limit == 0 {
            self.core
                .refuse("nothing has been kept yet: play something first".into());
            return;
        }
        let take = want.min(limit);
        if take < want {
            let rate = f64::from(self.core.config().device.sample_rate.max(1));
            self.core.warn(format!(
                "only {:.1} s of what was played is kept (asked for {:.1} s); the take holds that",
                take as f64 / rate,
                want as f64 / rate
            ));
        }
        self.start_from_past(live, take, Some(0), live, StartedBy::KeepLast, None);
    }

    /// Frames of the past a keep-last take can hold now.
    fn kept_frames(&self) -> u64 {
        self.history.held().min(self.keep.keep_frames)
    }

    /// Where the trigger stands, for front ends.
    fn trigger_view(&self) -> TriggerView {
        match &self.trigger {
            None => TriggerView::Off,
            Some(_)
                if self.trigger_take.is_some() && self.trigger_take == self.core.take_number() =>
            {
                TriggerView::Recording
            }
            Some(_) => TriggerView::Waiting,
        }
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
        let mut snap = snapshot_of(
            &self.core,
            &self.meters,
            &self.shared,
            &self.input,
            self.ring_frames,
            &self.song,
            &self.monitoring,
        );
        snap.trigger = self.trigger_view();
        snap.kept_frames = self.kept_frames();
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
        // The writer's own (`Writer::publish`).
        trigger: TriggerView::Off,
        kept_frames: 0,
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
