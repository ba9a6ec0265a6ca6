//! The recording core: takes, gaps and track selection, driven by calls and nothing else.
//!
//! The writer thread hands it the stream in order: `chunk` for captured frames (interleaved
//! ring words), `gap` for frames the device or the ring lost, `command` for what a front end
//! asked, `tick` for the passing of time (its `Clock` is injected). It decides which frames
//! belong to a take, converts them, and writes the armed tracks into a `TakeSink`; it tells the
//! session's journal when a take begins and ends. It knows nothing of threads, devices or
//! terminals, so unit tests drive every take boundary, gap, failure and timeout directly.
//!
//! A take starts at the stream frame being captured when Record is handled and ends at the
//! frame being captured when Stop is (or exactly `max_frames` later): audio still waiting in
//! the ring when stop is pressed is part of the take. Frames between the writer's position and
//! the take's start (a backlog) are not.

use std::io;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};

use super::api::{DiskSpace, Event, TakeSummary, Track, Transport};
use super::clock::Clock;
use super::sink::{NewFile, TakeFiles, TakeSink};
use super::take_files::is_disk_full;
use super::{Command, EndReason};
use crate::capture::Gap;
use crate::display::hms;
use crate::format::{ChunkConverter, DeviceFormat, FileFormat, dbfs_rounded, pack_track};
use crate::levels::worker::Measuring;
use crate::session::manifest::{
    DeviceRecord, DropoutRecord, LatencyRecord, MarkerRecord, PartRecord, StartedBy, TakeEnd,
    TakeKind, TakeRecord, TakeTrack, TrackRecord, TriggerRecord,
};
use crate::session::{Session, TakeFolder, naming};
use crate::wav::BwfInfo;

/// Frames converted per step, at most: each track is picked out of the interleaved chunk in a
/// pass of its own, so a step is kept to `STEP_BYTES` to stay in the core's cache.
const MAX_STEP_FRAMES: usize = 4096;
const STEP_BYTES: usize = 64 * 1024;
/// How often file headers are rewritten and data flushed to the kernel while recording: what
/// a killed process can lose of the audio the writer had received.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);
/// How long to wait for frames still on their way from a stream that has stopped delivering.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the free space is looked at.
const DISK_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Frames per conversion step at `channels` interleaved inputs.
pub(crate) fn step_frames(channels: usize) -> usize {
    (STEP_BYTES / 4 / channels.max(1)).clamp(64, MAX_STEP_FRAMES)
}

/// A file's parts as the manifest lists them (relative to the session folder).
fn part_records(folder: &str, parts: &[(String, u64)]) -> Vec<PartRecord> {
    parts
        .iter()
        .map(|(name, frames)| PartRecord {
            file: format!("{folder}/{name}"),
            frames: *frames,
        })
        .collect()
}

fn seconds(frames: u64, rate: u32) -> f64 {
    frames as f64 / f64::from(rate.max(1))
}

/// What the core records with.
#[derive(Clone, Debug)]
pub(crate) struct RecorderConfig {
    pub(crate) device: DeviceRecord,
    pub(crate) device_format: DeviceFormat,
    pub(crate) file_format: FileFormat,
    pub(crate) tracks: Vec<Track>,
    /// A take does not start when the disk holds less than this much recording time at the
    /// armed track count (`--min-free`).
    pub(crate) min_free_seconds: u64,
    /// A warning is given when a take's remaining disk time drops below this (`--warn-free`).
    pub(crate) warn_free_seconds: u64,
}

/// Where a take goes: on the song timeline, and on the stream.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Placement {
    /// The song timeline frame of the take's first frame.
    pub(crate) timeline_start: u64,
    pub(crate) kind: TakeKind,
    /// The round trip compensated (overdubs).
    pub(crate) latency: Option<LatencyRecord>,
    /// The stream frame the take starts at; `None`: the frame being captured now.
    pub(crate) stream_start: Option<u64>,
    // Pre-roll, keep what was just played, record on signal.
    /// What started the take.
    pub(crate) started_by: StartedBy,
    /// The stream frame the take was asked for at, when it starts before it (a pre-roll, a
    /// take of the kept past, a trigger's crossing): the take's clock time is moved back to
    /// match, and the manifest says how much came before.
    pub(crate) pressed: Option<u64>,
    /// The trigger that started the take.
    pub(crate) trigger: Option<TriggerRecord>,
}

impl Placement {
    /// A take at `timeline_start` recorded with nothing playing, from the frame captured now.
    pub(crate) fn plain(timeline_start: u64) -> Self {
        Self {
            timeline_start,
            kind: TakeKind::Recorded,
            latency: None,
            stream_start: None,
            started_by: StartedBy::Record,
            pressed: None,
            trigger: None,
        }
    }
}

/// The take being recorded.
struct Take<F> {
    number: u32,
    folder: String,
    start_frame: u64,
    /// Stream frame where the take ends (exclusive), once known.
    stop_frame: Option<u64>,
    stop_reason: EndReason,
    stop_detail: Option<String>,
    started_at: DateTime<FixedOffset>,
    /// The manifest's entry per file, and the 0-based device input each file records.
    tracks: Vec<TakeTrack>,
    inputs: Vec<usize>,
    files: F,
    frames: u64,
    dropouts: Vec<DropoutRecord>,
    markers: Vec<MarkerRecord>,
    next_checkpoint: Instant,
    /// The level report of every file, measured on a thread of its own as the take is written.
    measuring: Measuring,
    /// While waiting for frames up to `stop_frame`: the position last seen and when waiting
    /// for more gives up (a stream that stopped delivering).
    drain: Option<(u64, Instant)>,
}

pub(crate) struct Recorder<S: TakeSink, C: Clock> {
    cfg: RecorderConfig,
    session: Session,
    sink: S,
    clock: C,
    tracks: Vec<Track>,
    channels: usize,
    /// Stream frame of the next frame to arrive.
    pos: u64,
    /// Turns a step of ring words into file samples and keeps each input's level for the take.
    converter: ChunkConverter,
    /// One track's file bytes for one step.
    bytes: Vec<u8>,
    zeros: Vec<u8>,
    take: Option<Take<S::Files>>,
    last_take: Option<TakeSummary>,
    /// Dropout events since the stream started.
    dropouts: u64,
    shutdown: Option<EndReason>,
    stream_failed: Option<String>,
    free_bytes: Option<u64>,
    next_disk_check: Instant,
    low_disk_warned: bool,
    events: Vec<Event>,
}

impl<S: TakeSink, C: Clock> Recorder<S, C> {
    pub(crate) fn new(cfg: RecorderConfig, session: Session, sink: S, clock: C) -> Self {
        let channels = usize::from(cfg.device.channels.max(1));
        let now = clock.now();
        Self {
            tracks: cfg.tracks.clone(),
            channels,
            pos: 0,
            converter: ChunkConverter::new(channels, cfg.device_format, cfg.file_format),
            bytes: vec![0; step_frames(channels) * 4],
            zeros: vec![0; MAX_STEP_FRAMES * 4],
            take: None,
            last_take: None,
            dropouts: 0,
            shutdown: None,
            stream_failed: None,
            free_bytes: None,
            next_disk_check: now,
            low_disk_warned: false,
            events: Vec::new(),
            cfg,
            session,
            sink,
            clock,
        }
    }

    fn rate(&self) -> u32 {
        self.cfg.device.sample_rate
    }

    fn emit(&mut self, e: Event) {
        self.events.push(e);
    }

    /// Events since the last call, oldest first.
    pub(crate) fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Stream frame of the next frame the core expects.
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    /// True once a shutdown was asked for and no take is left to finish.
    pub(crate) fn is_done(&self) -> bool {
        self.shutdown.is_some() && self.take.is_none()
    }

    pub(crate) fn into_session(self) -> Session {
        self.session
    }

    // -----------------------------------------------------------------------------------------
    // The stream.

    /// Frames captured at the current position: whole frames of interleaved ring words, which
    /// are converted in place where a take records them.
    pub(crate) fn chunk(&mut self, words: &mut [u32]) {
        let ch = self.channels;
        let frames = words.len() / ch;
        let mut done = 0;
        while done < frames {
            let mut n = (frames - done).min(step_frames(ch)) as u64;
            // A step never crosses the take's start or end.
            if let Some(take) = &self.take {
                for b in [Some(take.start_frame), take.stop_frame]
                    .into_iter()
                    .flatten()
                {
                    if b > self.pos {
                        n = n.min(b - self.pos);
                    }
                }
            }
            let n = n as usize;
            self.write_step(&mut words[done * ch..(done + n) * ch]);
            self.pos += n as u64;
            done += n;
            self.journal_parts();
            self.check_take_end();
        }
    }

    /// Frames missing from the stream. Gaps come in stream order: `g.at_frame` is at most the
    /// current position (a gap that overlaps frames already passed only moves what is left).
    pub(crate) fn gap(&mut self, g: Gap) {
        self.dropouts += 1;
        let start = g.at_frame;
        let end = g.at_frame + g.frames;
        self.pos = self.pos.max(end);
        let rate = self.rate();
        let bps = self.cfg.file_format.bytes_per_sample();
        let Some(take) = &mut self.take else { return };
        let take_end = take.stop_frame.unwrap_or(u64::MAX);
        // Only gaps that overlap the take (or an empty one inside it) belong to it.
        let overlaps = if g.frames == 0 {
            start >= take.start_frame && start < take_end
        } else {
            end > take.start_frame && start < take_end
        };
        if !overlaps {
            self.check_take_end();
            return;
        }
        let from = start.max(take.start_frame);
        let fill = end.min(take_end).saturating_sub(from);
        let at = from - take.start_frame;
        take.dropouts
            .push(DropoutRecord::new(at, fill, rate, g.cause.name(), g.exact));
        // Silence of the exact length keeps every track at its sample position.
        let mut failure = None;
        'files: for file in 0..take.inputs.len() {
            let mut left = fill as usize * bps;
            while left > 0 {
                let step = left.min(self.zeros.len());
                if let Err(e) = take.files.write(file, &self.zeros[..step]) {
                    failure = Some(e);
                    break 'files;
                }
                left -= step;
            }
        }
        match failure {
            None => {
                take.frames += fill;
                take.measuring.silence(fill);
            }
            Some(e) => self.fail_take(e),
        }
        self.journal_parts();
        self.check_take_end();
    }

    /// Whether the take records the frame at stream position `frame`.
    fn recording_at(&self, frame: u64) -> bool {
        self.take
            .as_ref()
            .is_some_and(|t| frame >= t.start_frame && t.stop_frame.is_none_or(|s| frame < s))
    }

    fn write_step(&mut self, words: &mut [u32]) {
        if !self.recording_at(self.pos) {
            return;
        }
        let ch = self.channels;
        let ff = self.cfg.file_format;
        let Some(take) = &mut self.take else { return };
        self.converter.convert(words);
        take.measuring.frames(words, ch);
        let mut failure = None;
        for (file, &input) in take.inputs.iter().enumerate() {
            let len = pack_track(words, ch, input, ff, &mut self.bytes);
            if let Err(e) = take.files.write(file, &self.bytes[..len]) {
                failure = Some(e);
                break;
            }
        }
        match failure {
            None => take.frames += (words.len() / ch) as u64,
            Some(e) => self.fail_take(e),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Commands.

    /// Carries out a front end's command. `live` is the stream frame the device is capturing
    /// now (the take boundaries and markers are placed there, never before `position`).
    pub(crate) fn command(&mut self, cmd: Command, live: u64) {
        match cmd {
            Command::SetArmed { track, armed } => {
                match self.tracks.iter_mut().find(|t| t.number == track) {
                    Some(t) => t.armed = armed,
                    None => self.emit(Event::Warning(format!("there is no track {track}"))),
                }
            }
            Command::ArmAll(armed) => self.tracks.iter_mut().for_each(|t| t.armed = armed),
            Command::Rename { track, name } => self.rename(track, name),
            // The meters' business, not the takes'.
            Command::ClearClips => {}
            Command::Note(text) => self.note(&text),
            Command::Record { max_frames } => {
                self.start_take(max_frames, live, Placement::plain(0));
            }
            Command::Stop { reason } => self.request_stop(reason, None, live),
            Command::Mark { label } => self.mark(label, live),
            Command::SetCue { track, cue } => {
                if let Err(e) = self.session.set_cue(track, cue) {
                    self.emit(Event::Warning(e));
                }
            }
            Command::ChooseTake { track, take } => {
                if let Err(e) = self.session.choose_take(track, take) {
                    self.emit(Event::Warning(e));
                }
            }
            Command::Triage { target, change } => {
                match self.session.triage(&target, &change, self.clock.wall()) {
                    Ok(done) => {
                        self.emit(Event::Triaged(done.summary));
                        for w in done.warnings {
                            self.emit(Event::Warning(w));
                        }
                    }
                    Err(e) => self.emit(Event::Warning(e.to_string())),
                }
            }
            // The song's transport is the writer's (`transport`), and so is what it keeps.
            Command::Play
            | Command::StopSong
            | Command::Locate(_)
            | Command::SetMonitor { .. }
            | Command::KeepLast { .. } => {}
            Command::Shutdown { reason } => {
                self.shutdown = Some(reason);
                self.request_stop(reason, None, live);
            }
        }
    }

    fn rename(&mut self, track: u16, name: String) {
        if let Err(e) = naming::check_track_name(&name) {
            self.emit(Event::Warning(e));
        } else if self
            .tracks
            .iter()
            .any(|t| t.number != track && t.name == name)
        {
            self.emit(Event::Warning(format!(
                "another track is already named {name:?}"
            )));
        } else {
            match self.tracks.iter_mut().find(|t| t.number == track) {
                Some(t) => t.name = name,
                None => self.emit(Event::Warning(format!("there is no track {track}"))),
            }
        }
    }

    /// Writes a note into the manifest's log at once, with the take being recorded.
    fn note(&mut self, text: &str) {
        let take = self.take.as_ref().map(|t| t.number);
        if let Err(e) = self.session.note(self.clock.wall(), take, text) {
            self.emit(Event::Warning(format!(
                "could not update session.json: {e}"
            )));
        }
    }

    /// A note in the manifest's log about take `take` (after it ended), and a warning.
    pub(crate) fn note_take(&mut self, take: u32, text: &str) {
        self.emit(Event::Warning(text.to_string()));
        if let Err(e) = self.session.note(self.clock.wall(), Some(take), text) {
            self.emit(Event::Warning(format!(
                "could not update session.json: {e}"
            )));
        }
    }

    /// A warning on every front end, and a note in the manifest when a take is running.
    pub(crate) fn warn(&mut self, text: String) {
        self.emit(Event::Warning(text.clone()));
        if self.take.is_some() {
            self.note(&text);
        }
    }

    /// The audio stream ended for good: the take ends with what arrived, and no other starts.
    pub(crate) fn stream_ended(&mut self, reason: EndReason, why: &str, live: u64) {
        if self.stream_failed.is_some() {
            return;
        }
        self.stream_failed = Some(why.to_string());
        self.emit(Event::StreamFailed(why.to_string()));
        self.request_stop(reason, Some(why.to_string()), live);
    }

    /// Starts a take of the armed tracks placed as `placement` says (its stream start, when
    /// given, must not be behind `position`: those frames are gone).
    pub(crate) fn start_take(&mut self, max_frames: Option<u64>, live: u64, placement: Placement) {
        if self.shutdown.is_some() {
            return;
        }
        if self.take.is_some() {
            self.emit(Event::TakeRefused("already recording".into()));
            return;
        }
        if let Some(why) = &self.stream_failed {
            let why = format!("cannot record: {why}");
            self.emit(Event::TakeRefused(why));
            return;
        }
        let armed: Vec<Track> = self.tracks.iter().filter(|t| t.armed).cloned().collect();
        if armed.is_empty() {
            self.emit(Event::TakeRefused(
                "no track is armed; arm a track first".into(),
            ));
            return;
        }
        self.free_bytes = self.sink.free_bytes();
        if let Some(secs) = self.seconds_left(armed.len())
            && secs < self.cfg.min_free_seconds
        {
            self.emit(Event::TakeRefused(format!(
                "not enough disk space to record: {} left at {} tracks, the minimum is {} (--min-free); free some space or record fewer tracks",
                hms(secs),
                armed.len(),
                hms(self.cfg.min_free_seconds)
            )));
            return;
        }
        if let Some(s) = placement.stream_start
            && s < self.pos
        {
            self.emit(Event::TakeRefused(format!(
                "cannot start the take {} frames back: those frames were already written",
                self.pos - s
            )));
            return;
        }
        let start = placement.stream_start.unwrap_or(live);
        match self.open_take(&armed, max_frames, start, live, placement) {
            Ok(take) => {
                self.emit(Event::TakeStarted {
                    take: take.number,
                    folder: take.folder.clone(),
                });
                self.take = Some(take);
            }
            Err(e) => self.emit(Event::TakeRefused(format!("cannot start a take: {e}"))),
        }
    }

    fn open_take(
        &mut self,
        armed: &[Track],
        max_frames: Option<u64>,
        start: u64,
        live: u64,
        placement: Placement,
    ) -> io::Result<Take<S::Files>> {
        let rate = self.rate();
        let format = self.cfg.file_format;
        // The take starts at the frame being captured now; what is still in the ring before it
        // is skipped, so the take begins when the command was given.
        let start_frame = start.max(self.pos);
        // A take that begins before it was asked for (from the kept past) began that long
        // before the frame being captured now.
        let back = match placement.pressed {
            Some(_) => live.saturating_sub(start_frame),
            None => start_frame - self.pos,
        };
        let started_at =
            self.clock.wall() - chrono::Duration::microseconds((seconds(back, rate) * 1e6) as i64);
        let folder = self.session.new_take_folder()?;
        let number = folder.number;
        let names: Vec<String> = armed
            .iter()
            .map(|t| naming::track_file_name(t.number, &t.name, number))
            .collect();
        let tracks: Vec<TakeTrack> = armed
            .iter()
            .zip(&names)
            .map(|(t, name)| {
                let file = format!("{}/{name}", folder.name);
                TakeTrack::new(t.number, &t.name, t.input, t.role.as_deref(), file)
            })
            .collect();
        // Every file of the take carries the same timestamp and family id, so that a DAW which
        // honours BWF timestamps lines them up and a mixer's tools know they belong together.
        let local_start = started_at.with_timezone(&chrono::Local).naive_local();
        // Every file's time stamp is the song's origin plus the take's place on the timeline,
        // so that a DAW placing files by their BWF time lines overdubs up with no session
        // file. The first take of a session fixes the origin.
        let origin = self.session.manifest().timeline_origin.unwrap_or_else(|| {
            crate::wav::samples_since_midnight(local_start, rate)
                .saturating_sub(placement.timeline_start)
        });
        let time_reference = origin + placement.timeline_start;
        let family_uid = crate::wav::unique_id();
        let session_name = self.session.name().to_string();
        let total_files = u16::try_from(armed.len()).unwrap_or(u16::MAX);
        let files: Vec<NewFile> = armed
            .iter()
            .zip(&names)
            .enumerate()
            .map(|(i, (t, name))| NewFile {
                name: name.clone(),
                bwf: BwfInfo {
                    description: format!("{} - session {session_name} - take {number}", t.name),
                    originator: crate::wav::ORIGINATOR.to_string(),
                    originator_reference: family_uid.clone(),
                    origination: local_start,
                    time_reference,
                    coding_history: String::new(),
                    project: session_name.clone(),
                    scene: session_name.clone(),
                    take: number,
                    track_name: t.name.clone(),
                    track_number: t.number,
                    family_uid: family_uid.clone(),
                    file_uid: crate::wav::unique_id(),
                    total_files,
                    file_index: u16::try_from(i + 1).unwrap_or(u16::MAX),
                },
            })
            .collect();
        let mut record = TakeRecord::begin(
            number,
            started_at,
            self.cfg.device.clone(),
            format.name(),
            start_frame,
            tracks.clone(),
            time_reference,
            family_uid,
        );
        record.kind = placement.kind;
        record.timeline_start = placement.timeline_start;
        record.latency = placement.latency;
        record.started_by = Some(placement.started_by);
        record.pressed_frame = placement.pressed;
        record.pre_roll_frames = placement.pressed.map(|p| p.saturating_sub(start_frame));
        record.trigger = placement.trigger;
        self.session.set_timeline_origin(origin);
        // The journal entry comes first: whenever we die from here on, the manifest lists the
        // take and every file it may have left behind.
        let track_records = self.track_records();
        let opened = self
            .session
            .begin_take(record, track_records, self.clock.wall())
            .and_then(|()| self.sink.create(&folder.path, &files, format, rate));
        let files = match opened {
            Ok(f) => f,
            Err(e) => {
                self.abort(&folder);
                return Err(e);
            }
        };
        // Each take's files have levels of their own.
        self.converter.reset();
        let inputs: Vec<usize> = armed.iter().map(|t| usize::from(t.input - 1)).collect();
        let measuring = Measuring::start(inputs.clone(), self.channels, rate, format.into());
        Ok(Take {
            number,
            folder: folder.name,
            start_frame,
            stop_frame: max_frames.map(|m| start_frame + m),
            stop_reason: EndReason::Duration,
            stop_detail: None,
            started_at,
            inputs,
            tracks,
            files,
            frames: 0,
            dropouts: Vec::new(),
            markers: Vec::new(),
            next_checkpoint: self.clock.now() + CHECKPOINT_INTERVAL,
            measuring,
            drain: None,
        })
    }

    /// Nothing was recorded: the journal entry and the folder go.
    fn abort(&mut self, folder: &TakeFolder) {
        if let Err(e) = self.session.abort_take(folder) {
            self.emit(Event::Warning(format!(
                "could not update session.json: {e}"
            )));
        }
    }

    fn track_records(&self) -> Vec<TrackRecord> {
        let format = self.cfg.file_format.name();
        self.tracks
            .iter()
            .map(|t| TrackRecord::new(t.number, &t.name, t.input, t.role.as_deref(), format))
            .collect()
    }

    /// Asks the take to end at the frame being captured now (or earlier, if already set).
    fn request_stop(&mut self, reason: EndReason, detail: Option<String>, live: u64) {
        let now_frame = live.max(self.pos);
        if let Some(take) = &mut self.take {
            let stop = now_frame.max(take.start_frame);
            // A take already due to end earlier (at its --duration) keeps that end and reason.
            if take.stop_frame.is_none_or(|s| stop < s) {
                take.stop_frame = Some(stop);
                take.stop_reason = reason;
                take.stop_detail = detail;
            }
        }
        self.check_take_end();
    }

    fn mark(&mut self, label: Option<String>, live: u64) {
        let now_frame = live.max(self.pos);
        let rate = self.rate();
        match &mut self.take {
            Some(take) => {
                let frame = now_frame.saturating_sub(take.start_frame);
                let label = label.unwrap_or_else(|| format!("M{}", take.markers.len() + 1));
                take.markers.push(MarkerRecord::new(frame, rate, label));
            }
            None => self.emit(Event::Warning(
                "markers go into a take; start recording first".into(),
            )),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Time.

    /// Header checkpoints, the free-space watch and the drain timeout: call it often.
    pub(crate) fn tick(&mut self) {
        let now = self.clock.now();
        self.check_take_end();
        if let Some(take) = &mut self.take
            && now >= take.next_checkpoint
        {
            take.next_checkpoint = now + CHECKPOINT_INTERVAL;
            if let Err(e) = take.files.checkpoint() {
                self.fail_take(e);
            }
            self.journal_parts();
        }
        if now >= self.next_disk_check {
            self.next_disk_check = now + DISK_CHECK_INTERVAL;
            self.check_disk();
        }
    }

    /// Recording time left on the disk at `tracks` tracks, in seconds.
    fn seconds_left(&self, tracks: usize) -> Option<u64> {
        let rate =
            tracks as u64 * u64::from(self.rate()) * self.cfg.file_format.bytes_per_sample() as u64;
        self.free_bytes?.checked_div(rate)
    }

    fn check_disk(&mut self) {
        self.free_bytes = self.sink.free_bytes();
        let Some(take) = &self.take else {
            self.low_disk_warned = false;
            return;
        };
        let tracks = take.inputs.len();
        let Some(secs) = self.seconds_left(tracks) else {
            return;
        };
        if secs < self.cfg.warn_free_seconds && !self.low_disk_warned {
            self.low_disk_warned = true;
            self.emit(Event::Warning(format!(
                "disk nearly full: {} of recording left at {tracks} tracks",
                hms(secs)
            )));
        } else if secs >= self.cfg.warn_free_seconds * 2 {
            self.low_disk_warned = false;
        }
    }

    fn check_take_end(&mut self) {
        let now = self.clock.now();
        let Some(take) = &mut self.take else { return };
        let Some(stop) = take.stop_frame else { return };
        if self.pos >= stop {
            self.finish_take();
            return;
        }
        // A take that runs to its --duration on a live stream waits as long as it takes.
        if take.stop_reason == EndReason::Duration && self.stream_failed.is_none() {
            return;
        }
        // Frames that never arrive (a stream that died mid-block): end with what did.
        match take.drain {
            Some((pos, deadline)) if pos == self.pos => {
                if now >= deadline {
                    take.stop_frame = Some(take.start_frame + take.frames);
                    if take.stop_detail.is_none() {
                        take.stop_detail = Some(
                            "the device stopped delivering audio before the stop point".into(),
                        );
                    }
                    self.finish_take();
                }
            }
            _ => take.drain = Some((self.pos, now + DRAIN_TIMEOUT)),
        }
    }

    /// When the take's files moved on to new parts, the journal lists them at once, so that a
    /// killed recorder leaves every part in the manifest.
    fn journal_parts(&mut self) {
        let Some(take) = &mut self.take else { return };
        let Some(parts) = take.files.new_parts() else {
            return;
        };
        let folder = take.folder.clone();
        let number = take.number;
        for (t, p) in take.tracks.iter_mut().zip(&parts) {
            t.parts = part_records(&folder, p);
        }
        let at = parts
            .first()
            .map(|p| p.iter().rev().skip(1).map(|(_, f)| f).sum::<u64>())
            .unwrap_or(0);
        let tracks = take.tracks.clone();
        if let Err(e) = self.session.journal_parts(number, &tracks) {
            self.emit(Event::Warning(format!(
                "could not update session.json: {e}"
            )));
        }
        let rate = self.rate();
        self.note(&format!(
            "take {number} continues in new files from {} on (part {})",
            hms(at / u64::from(rate.max(1))),
            parts.first().map_or(0, Vec::len)
        ));
    }

    fn fail_take(&mut self, e: io::Error) {
        let reason = if is_disk_full(&e) {
            EndReason::DiskFull
        } else {
            EndReason::WriteError
        };
        if let Some(take) = &mut self.take {
            take.stop_frame = Some(take.start_frame + take.frames);
            take.stop_reason = reason;
            take.stop_detail = Some(e.to_string());
        }
        self.finish_take();
    }

    fn finish_take(&mut self) {
        let Some(take) = self.take.take() else { return };
        // The measurement has what the files were handed: wait for what it still has queued.
        let (reports, lost) = match take.measuring.finish() {
            Ok(r) => (r, None),
            Err(why) => (Vec::new(), Some(why)),
        };
        let levels: Vec<_> = reports.iter().map(|r| r.levels()).collect();
        let loudness: Vec<_> = levels
            .iter()
            .map(|l| Some(crate::levels::bext_loudness(l)))
            .collect();
        let ends = take.files.finish(&loudness);
        let mut tracks = take.tracks;
        let mut problem: Option<io::Error> = None;
        for (i, ((t, end), &input)) in tracks.iter_mut().zip(ends).zip(&take.inputs).enumerate() {
            let level = self.converter.level(input);
            t.frames = end.frames;
            t.parts = part_records(&take.folder, &end.parts);
            t.peak_dbfs = dbfs_rounded(level.peak);
            t.clipped_samples = level.clipped;
            // A file that holds less than was measured (a failed write) has no report.
            t.levels = reports
                .get(i)
                .filter(|r| r.frames == end.frames)
                .and(levels.get(i).cloned());
            if let Some(e) = end.error {
                problem.get_or_insert(e);
            }
        }
        // After a failure the files may hold different amounts; the take is what all of them have.
        let length = if problem.is_some() {
            tracks.iter().map(|t| t.frames).min().unwrap_or(0)
        } else {
            take.frames
        };
        let (mut reason, mut detail) = (take.stop_reason, take.stop_detail);
        if let Some(e) = problem
            && !reason.is_failure()
        {
            reason = if is_disk_full(&e) {
                EndReason::DiskFull
            } else {
                EndReason::WriteError
            };
            detail = Some(format!("finishing the files failed: {e}"));
        }
        let end = TakeEnd {
            ended_at: self.clock.wall(),
            reason,
            detail,
            length_frames: length,
            tracks,
            dropouts: take.dropouts,
            markers: take.markers,
        };
        if let Err(e) = self.session.finish_take(take.number, end) {
            let path = self.session.dir().join("session.json");
            self.emit(Event::Warning(format!(
                "could not update {}: {e}",
                path.display()
            )));
        }
        if let Some(why) = lost {
            self.note_take(
                take.number,
                &format!("take {} has no level report: {why}", take.number),
            );
        }
        // What front ends are told is what the journal says, whether or not it reached the disk.
        match self
            .session
            .manifest()
            .takes
            .iter()
            .find(|t| t.number == take.number)
            .and_then(TakeSummary::from_record)
        {
            Some(summary) => {
                self.last_take = Some(summary.clone());
                self.emit(Event::TakeFinished(summary));
            }
            None => self.emit(Event::Warning(format!(
                "take {} is missing from the session's journal",
                take.number
            ))),
        }
    }

    // -----------------------------------------------------------------------------------------
    // What front ends see.

    pub(crate) fn transport(&self) -> Transport {
        match &self.take {
            Some(t) => Transport::Recording {
                take: t.number,
                started_at: t.started_at,
                frames: t.frames,
            },
            None => Transport::Stopped,
        }
    }

    pub(crate) fn config(&self) -> &RecorderConfig {
        &self.cfg
    }

    #[cfg(feature = "fault-injection")]
    pub(crate) fn is_recording(&self) -> bool {
        self.take.is_some()
    }

    /// Goes back to stream position `to` (frames the writer keeps and hands again), before a
    /// take starts there.
    pub(crate) fn rewind(&mut self, to: u64) {
        if self.take.is_none() {
            self.pos = self.pos.min(to);
        }
    }

    /// Moves on to stream position `to` without a take to write the frames between (after a
    /// take of the kept past ended behind the writer).
    pub(crate) fn advance(&mut self, to: u64) {
        if self.take.is_none() {
            self.pos = self.pos.max(to);
        }
    }

    /// Ends the take at stream frame `at` (or at the position, if that is later), for `reason`.
    pub(crate) fn stop_at(&mut self, at: u64, reason: EndReason) {
        self.request_stop(reason, None, at);
    }

    pub(crate) fn take_running(&self) -> bool {
        self.take.is_some()
    }

    /// The number of the take being recorded.
    pub(crate) fn take_number(&self) -> Option<u32> {
        self.take.as_ref().map(|t| t.number)
    }

    /// A warning about the take being recorded: said, noted, and kept in its manifest entry.
    pub(crate) fn warn_take(&mut self, text: String) {
        if let Some(number) = self.take_number()
            && let Err(e) = self.session.warn_take(number, &text)
        {
            self.emit(Event::Warning(format!(
                "could not update session.json: {e}"
            )));
        }
        self.warn(text);
    }

    /// Why a take could not start now, if it could not (checked before an overdub starts the
    /// song; `start_take` checks again).
    pub(crate) fn can_start_take(&self) -> Result<(), String> {
        if self.shutdown.is_some() {
            return Err("tapedeck is stopping".into());
        }
        if let Some(why) = &self.stream_failed {
            return Err(format!("cannot record: {why}"));
        }
        if !self.tracks.iter().any(|t| t.armed) {
            return Err("no track is armed; arm a track first".into());
        }
        Ok(())
    }

    /// Tells front ends a Record did not start a take.
    pub(crate) fn refuse(&mut self, why: String) {
        self.emit(Event::TakeRefused(why));
    }

    /// Frames the take's level measurement can take now (no limit without a take): a take
    /// caught up from the kept past is handed over no faster.
    pub(crate) fn levels_room(&self) -> u64 {
        self.take.as_ref().map_or(u64::MAX, |t| t.measuring.room())
    }

    pub(crate) fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    pub(crate) fn last_take(&self) -> Option<&TakeSummary> {
        self.last_take.as_ref()
    }

    pub(crate) fn dropouts(&self) -> u64 {
        self.dropouts
    }

    pub(crate) fn stream_failed(&self) -> Option<&str> {
        self.stream_failed.as_deref()
    }

    /// Free space and the recording time it holds: at the take's tracks while recording, at
    /// the armed tracks otherwise.
    pub(crate) fn disk(&self) -> Option<DiskSpace> {
        let free_bytes = self.free_bytes?;
        let tracks = match &self.take {
            Some(t) => t.inputs.len(),
            None => self.tracks.iter().filter(|t| t.armed).count(),
        };
        Some(DiskSpace {
            free_bytes,
            tracks,
            seconds_left: self.seconds_left(tracks),
        })
    }
}

#[cfg(test)]
mod tests;
