//! The writer thread: pops the ring, zero-fills gaps, converts and writes the armed tracks,
//! keeps the manifest journal, and publishes meters and counters.

use std::io;

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use ringbuf::traits::{Consumer, Observer};

use super::meter::{MeterState, TapInner};
use super::{Command, EngineConfig, Event, Snapshot, TakeSummary, Track, Transport};
use crate::capture::{CaptureOutput, CaptureShared, Gap, Realtime, StreamFault};
use crate::format::{ChunkConverter, TrackLevel, dbfs, pack_track};
use crate::session::manifest::{
    DropoutRecord, EndReason, MarkerRecord, TakeRecord, TakeState, TakeTrack, TrackRecord,
};
use crate::session::{self, Session, naming};
use crate::wav::{BwfInfo, WavWriter};

/// Frames converted per step, at most: each track is picked out of the interleaved chunk in a
/// pass of its own, so the chunk is kept to `CHUNK_BYTES` to stay in the core's cache.
const CHUNK_FRAMES: usize = 4096;
const CHUNK_BYTES: usize = 64 * 1024;
/// How long the writer sleeps when the ring is empty. The ring holds seconds; waking less
/// often costs nothing in safety and saves the context switches.
const IDLE_WAIT: Duration = Duration::from_millis(20);
/// Frames per conversion step at `channels` interleaved inputs.
fn chunk_frames(channels: usize) -> usize {
    (CHUNK_BYTES / 4 / channels.max(1)).clamp(64, CHUNK_FRAMES)
}

/// How often meters and the snapshot are refreshed.
const METER_INTERVAL: Duration = Duration::from_millis(33);
/// How often file headers are rewritten and data flushed to the kernel while recording: what
/// a killed process can lose of the audio the writer had received.
const HEADER_INTERVAL: Duration = Duration::from_millis(250);
/// Kept free in the session folder while recording and released when the disk fills up, so
/// that the manifest can still be written.
const RESERVE_BYTES: usize = 1 << 20;
const RESERVE_NAME: &str = ".tapedeck-reserve";
/// How long to wait for frames still on their way from a stream that has stopped delivering.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);
/// Without a single callback for this long, the device or audio server has stopped
/// delivering: say so, rather than wait in silence.
const NO_AUDIO_WARNING: Duration = Duration::from_secs(2);

struct TrackFile {
    track: Track,
    file: String,
    writer: WavWriter,
    buf: Vec<u8>,
}

struct ActiveTake {
    number: u32,
    folder: String,
    record_index: usize,
    start_frame: u64,
    /// Stream frame where the take ends (exclusive), once known.
    stop_frame: Option<u64>,
    stop_reason: EndReason,
    stop_detail: Option<String>,
    started_at: DateTime<FixedOffset>,
    files: Vec<TrackFile>,
    frames: u64,
    dropouts: Vec<DropoutRecord>,
    markers: Vec<MarkerRecord>,
    last_header: Instant,
    /// When the take was opened.
    opened_at: Instant,
    /// While waiting for frames up to `stop_frame`: the position last seen and when waiting
    /// for more gives up (a stream that stopped delivering).
    drain: Option<(u64, Instant)>,
}

/// Forces the take's files to disk every `--sync-interval` on a thread of its own, so that a
/// disk slow to sync (a rotating one: milliseconds per file) never holds up the writer.
struct Syncer {
    jobs: Sender<Option<Vec<std::fs::File>>>,
    failure: Arc<Mutex<Option<io::Error>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Syncer {
    /// `every`: None leaves writing the data out to the kernel (no thread is started).
    fn start(every: Option<Duration>) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Option<Vec<std::fs::File>>>();
        let failure = Arc::new(Mutex::new(None));
        let report = Arc::clone(&failure);
        let thread = every.and_then(|every| {
            std::thread::Builder::new()
                .name("tapedeck-sync".into())
                .spawn(move || {
                    let mut files: Vec<std::fs::File> = Vec::new();
                    loop {
                        match rx.recv_timeout(every) {
                            Ok(Some(new)) => files = new,
                            Ok(None) => files.clear(),
                            Err(RecvTimeoutError::Timeout) => {
                                for f in &files {
                                    if let Err(e) = f.sync_data() {
                                        if let Ok(mut slot) = report.lock() {
                                            slot.get_or_insert(e);
                                        }
                                        files.clear();
                                        break;
                                    }
                                }
                            }
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                })
                .ok()
        });
        Self {
            jobs: tx,
            failure,
            thread,
        }
    }

    /// Syncs these files from now on (None: no files).
    fn watch(&self, files: Option<Vec<std::fs::File>>) {
        let _ = self.jobs.send(files);
    }

    fn take_failure(&self) -> Option<io::Error> {
        self.failure.lock().ok().and_then(|mut f| f.take())
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        // Closing the channel ends the thread.
        let (tx, _) = std::sync::mpsc::channel();
        drop(std::mem::replace(&mut self.jobs, tx));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(super) struct Writer {
    cfg: EngineConfig,
    session: Session,
    out: CaptureOutput,
    shared: Arc<CaptureShared>,
    commands: Receiver<Command>,
    events: Sender<Event>,
    snapshot: Arc<Mutex<Snapshot>>,
    taps: Arc<Mutex<Vec<Arc<TapInner>>>>,
    tracks: Vec<Track>,
    meters: Vec<MeterState>,
    /// Stream frame of the next frame to come out of the ring.
    pos: u64,
    chunk: Vec<u32>,
    /// Turns the chunk into file samples and keeps each input's level for the take.
    converter: ChunkConverter,
    zeros: Vec<u8>,
    take: Option<ActiveTake>,
    last_take: Option<TakeSummary>,
    dropouts: u64,
    shutdown: Option<EndReason>,
    stream_failed: Option<String>,
    last_meter: Instant,
    last_disk_check: Instant,
    low_disk_warned: bool,
    /// Test hook (`TAPEDECK_TEST_STALL_WRITER=SECONDS:MILLIS`): the writer stops once for
    /// MILLIS, SECONDS into the first take, standing in for a disk that stops answering.
    stall: Option<(Duration, Duration)>,
    syncer: Syncer,
    /// Callbacks counted at the last check, when that count last changed, and whether the
    /// silence since then has been reported.
    audio_watch: (u64, Instant, bool),
    /// Whether the audio thread's scheduling has been looked at (once, after its first callback).
    realtime_checked: bool,
}

fn stall_from_env() -> Option<(Duration, Duration)> {
    let v = std::env::var("TAPEDECK_TEST_STALL_WRITER").ok()?;
    let (after, ms) = v.split_once(':')?;
    Some((
        Duration::from_secs_f64(after.parse().ok()?),
        Duration::from_millis(ms.parse().ok()?),
    ))
}

pub(super) fn initial_snapshot(cfg: &EngineConfig, session: &Session) -> Snapshot {
    Snapshot {
        session: session.manifest.session.clone(),
        sample_rate: cfg.sample_rate,
        file_format: cfg.file_format,
        device: cfg.device.clone(),
        transport: Transport::Stopped,
        next_take: next_take_number(session),
        position: 0,
        inputs: vec![Default::default(); usize::from(cfg.channels)],
        tracks: cfg.tracks.clone(),
        dropouts: 0,
        dropped_frames: 0,
        xruns: 0,
        ring_fill: 0.0,
        ring_capacity_frames: cfg.ring_frames,
        last_take: None,
        stream_failed: None,
    }
}

fn next_take_number(session: &Session) -> u32 {
    session.manifest.next_take_number()
}

/// h:mm:ss
fn hms(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60)
}

fn seconds(frames: u64, rate: u32) -> f64 {
    frames as f64 / f64::from(rate)
}

/// Disk full shows up as ENOSPC (or EDQUOT for a quota).
fn is_disk_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull || e.kind() == io::ErrorKind::QuotaExceeded
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        cfg: EngineConfig,
        session: Session,
        out: CaptureOutput,
        shared: Arc<CaptureShared>,
        commands: Receiver<Command>,
        events: Sender<Event>,
        snapshot: Arc<Mutex<Snapshot>>,
        taps: Arc<Mutex<Vec<Arc<TapInner>>>>,
    ) -> Self {
        let now = Instant::now();
        let channels = usize::from(cfg.channels);
        let cfg_sync = cfg.sync_interval;
        Self {
            tracks: cfg.tracks.clone(),
            meters: (0..channels).map(|_| MeterState::new(now)).collect(),
            chunk: vec![0; CHUNK_FRAMES * channels],
            converter: ChunkConverter::new(channels, cfg.device_format, cfg.file_format),
            zeros: vec![0; CHUNK_FRAMES * 4],
            cfg,
            session,
            out,
            shared,
            commands,
            events,
            snapshot,
            taps,
            pos: 0,
            take: None,
            last_take: None,
            dropouts: 0,
            shutdown: None,
            stream_failed: None,
            last_meter: now,
            last_disk_check: now,
            low_disk_warned: false,
            stall: stall_from_env(),
            syncer: Syncer::start(cfg_sync),
            audio_watch: (0, now, false),
            realtime_checked: false,
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
                self.publish();
            }
            // Before the pump: a stream that resumes with a gap reaching the take's end still
            // has its return reported inside the take.
            self.watch_audio(Instant::now());
            self.check_realtime();
            let progressed = self.pump();
            self.check_stream();
            self.check_take_end();
            self.housekeeping();
            if self.shutdown.is_some() && self.take.is_none() {
                break;
            }
            if !progressed {
                match self.commands.recv_timeout(IDLE_WAIT) {
                    Ok(cmd) => {
                        self.handle(cmd);
                        self.publish();
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    // Every sender is gone: nobody can stop a take any more, so end it now.
                    Err(RecvTimeoutError::Disconnected) => {
                        if self.shutdown.is_none() {
                            self.handle(Command::Shutdown {
                                reason: EndReason::Stopped,
                            });
                        }
                    }
                }
            }
        }
        self.publish();
        self.session
    }

    fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::SetArmed { track, armed } => {
                match self.tracks.iter_mut().find(|t| t.number == track) {
                    Some(t) => t.armed = armed,
                    None => self.emit(Event::Warning(format!("there is no track {track}"))),
                }
            }
            Command::ArmAll(armed) => self.tracks.iter_mut().for_each(|t| t.armed = armed),
            Command::Rename { track, name } => {
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
            Command::ClearClips => {
                // meters: measured by the writer (pending)
                for m in self.meters.iter_mut() {
                    m.clear_clips(0);
                }
            }
            Command::Note(text) => {
                self.session
                    .manifest
                    .notes
                    .push(crate::session::manifest::NoteRecord {
                        at: session::now(),
                        take: self.take.as_ref().map(|t| t.number),
                        text,
                    });
                if let Err(e) = self.session.save() {
                    self.emit(Event::Warning(format!(
                        "could not update session.json: {e}"
                    )));
                }
            }
            Command::Record { max_frames } => self.start_take(max_frames),
            Command::Stop { reason } => self.request_stop(reason, None),
            Command::Mark { label } => self.mark(label),
            Command::Shutdown { reason } => {
                self.shutdown = Some(reason);
                self.request_stop(reason, None);
            }
        }
    }

    fn start_take(&mut self, max_frames: Option<u64>) {
        if self.shutdown.is_some() {
            return;
        }
        if self.take.is_some() {
            self.emit(Event::TakeRefused("already recording".into()));
            return;
        }
        if let Some(why) = &self.stream_failed {
            self.emit(Event::TakeRefused(format!("cannot record: {why}")));
            return;
        }
        let armed: Vec<Track> = self.tracks.iter().filter(|t| t.armed).cloned().collect();
        if armed.is_empty() {
            self.emit(Event::TakeRefused(
                "no track is armed; arm a track first".into(),
            ));
            return;
        }
        if let Some(secs) = self.disk_seconds(armed.len())
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
        self.ensure_reserve();
        match self.open_take(armed, max_frames) {
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

    fn open_take(&mut self, armed: Vec<Track>, max_frames: Option<u64>) -> io::Result<ActiveTake> {
        // The take starts at the frame being captured now; what is still in the ring before it
        // is skipped, so the take begins when the command was given.
        let start_frame = self.shared.position.load(Ordering::Acquire).max(self.pos);
        let backlog = start_frame.saturating_sub(self.pos);
        let started_at = session::now()
            - chrono::Duration::microseconds((seconds(backlog, self.cfg.sample_rate) * 1e6) as i64);
        let (number, dir) = self.session.create_take_folder()?;
        let folder = naming::take_folder(number);
        let names: Vec<String> = armed
            .iter()
            .map(|t| naming::track_file_name(t.number, &t.name, number))
            .collect();
        // Every file of the take carries the same timestamp and family id, so that a DAW which
        // honours BWF timestamps lines them up and a mixer's tools know they belong together.
        let local_start = started_at.with_timezone(&chrono::Local).naive_local();
        let time_reference = crate::wav::samples_since_midnight(local_start, self.cfg.sample_rate);
        let family_uid = crate::wav::unique_id();
        let session_name = self.session.manifest.session.clone();
        let total_files = u16::try_from(armed.len()).unwrap_or(u16::MAX);
        let bwf_info = |i: usize, t: &Track| BwfInfo {
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
        };
        let record = TakeRecord {
            number,
            folder: folder.clone(),
            state: TakeState::Recording,
            started_at,
            ended_at: None,
            end_reason: None,
            end_detail: None,
            device: self.cfg.device.clone(),
            sample_rate: self.cfg.sample_rate,
            format: self.cfg.file_format.name().to_string(),
            start_frame,
            length_frames: 0,
            length_seconds: 0.0,
            tracks: armed
                .iter()
                .zip(&names)
                .map(|(t, name)| TakeTrack {
                    track: t.number,
                    name: t.name.clone(),
                    input: t.input,
                    role: t.role.clone(),
                    file: format!("{folder}/{name}"),
                    frames: 0,
                    peak_dbfs: None,
                    clipped_samples: 0,
                })
                .collect(),
            dropouts: Vec::new(),
            dropout_frames: 0,
            markers: Vec::new(),
            time_reference: Some(time_reference),
            family_uid: Some(family_uid.clone()),
        };
        self.session.manifest.tracks = self.track_records();
        self.session.manifest.takes.push(record);
        self.session.manifest.updated = session::now();
        let record_index = self.session.manifest.takes.len() - 1;
        // The journal entry comes first: whenever we die from here on, the manifest lists the
        // take and every file it may have left behind.
        let opened = self.session.save().and_then(|()| {
            let mut files = Vec::with_capacity(armed.len());
            for (i, (t, name)) in armed.iter().zip(&names).enumerate() {
                let writer = WavWriter::create_bwf(
                    &dir.join(name),
                    self.cfg.file_format,
                    self.cfg.sample_rate,
                    &bwf_info(i, t),
                )?;
                files.push(TrackFile {
                    track: t.clone(),
                    file: format!("{folder}/{name}"),
                    writer,
                    buf: vec![0; CHUNK_FRAMES * 4],
                });
            }
            Ok(files)
        });
        let files = match opened {
            Ok(f) => {
                let handles: Vec<std::fs::File> = f
                    .iter()
                    .filter_map(|t| t.writer.sync_handle().ok())
                    .collect();
                // A failure left over from an earlier take is not this take's.
                let _ = self.syncer.take_failure();
                self.syncer.watch(Some(handles));
                f
            }
            Err(e) => {
                // Nothing was recorded: take the entry back and leave no empty files behind.
                self.session.manifest.takes.pop();
                let _ = self.session.save();
                for name in &names {
                    let _ = std::fs::remove_file(dir.join(name));
                }
                let _ = std::fs::remove_dir(&dir);
                return Err(e);
            }
        };
        let now = Instant::now();
        // Each take's files have levels of their own.
        self.converter.reset();
        Ok(ActiveTake {
            number,
            folder,
            record_index,
            start_frame,
            stop_frame: max_frames.map(|m| start_frame + m),
            stop_reason: EndReason::Duration,
            stop_detail: None,
            started_at,
            files,
            frames: 0,
            dropouts: Vec::new(),
            markers: Vec::new(),
            last_header: now,
            opened_at: now,
            drain: None,
        })
    }

    fn track_records(&self) -> Vec<TrackRecord> {
        let mut records = self.session.manifest.tracks.clone();
        for t in &self.tracks {
            let r = TrackRecord {
                number: t.number,
                name: t.name.clone(),
                input: t.input,
                role: t.role.clone(),
                format: self.cfg.file_format.name().to_string(),
            };
            match records.iter_mut().find(|x| x.number == t.number) {
                Some(x) => *x = r,
                None => records.push(r),
            }
        }
        records.sort_by_key(|t| t.number);
        records
    }

    /// Asks the take to end at the frame being captured now (or earlier, if already set).
    fn request_stop(&mut self, reason: EndReason, detail: Option<String>) {
        let now_frame = self.shared.position.load(Ordering::Acquire).max(self.pos);
        if let Some(take) = &mut self.take {
            let stop = now_frame.max(take.start_frame);
            // A take already due to end earlier (at its --duration) keeps that end and reason.
            if take.stop_frame.is_none_or(|s| stop < s) {
                take.stop_frame = Some(stop);
                take.stop_reason = reason;
                take.stop_detail = detail;
            }
        }
    }

    fn mark(&mut self, label: Option<String>) {
        let now_frame = self.shared.position.load(Ordering::Acquire).max(self.pos);
        let rate = self.cfg.sample_rate;
        match &mut self.take {
            Some(take) => {
                let frame = now_frame.saturating_sub(take.start_frame);
                let label = label.unwrap_or_else(|| format!("M{}", take.markers.len() + 1));
                take.markers.push(MarkerRecord {
                    frame,
                    seconds: seconds(frame, rate),
                    label,
                });
            }
            None => self.emit(Event::Warning(
                "markers go into a take; start recording first".into(),
            )),
        }
    }

    /// Processes everything the ring holds now. Returns whether anything happened.
    fn pump(&mut self) -> bool {
        let ch = usize::from(self.cfg.channels);
        // Measure the data first, then look at gaps: a gap queued after this measurement
        // belongs after all of the measured data.
        let mut budget = self.out.samples.occupied_len() / ch;
        let mut progressed = false;
        loop {
            while let Some(g) = self.out.gaps.try_peek().copied() {
                if g.at_frame > self.pos {
                    break;
                }
                self.out.gaps.try_pop();
                self.apply_gap(g);
                progressed = true;
            }
            if budget == 0 {
                break;
            }
            let mut n = budget.min(chunk_frames(ch)) as u64;
            if let Some(g) = self.out.gaps.try_peek() {
                n = n.min(g.at_frame - self.pos);
            }
            // Never let a step cross the take's start or end.
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
            let words = n * ch;
            let (a, b) = self.out.samples.as_slices();
            let from_a = words.min(a.len());
            self.chunk[..from_a].copy_from_slice(&a[..from_a]);
            self.chunk[from_a..words].copy_from_slice(&b[..words - from_a]);
            self.out.samples.skip(words);
            self.write_frames(n);
            self.pos += n as u64;
            budget -= n;
            progressed = true;
            self.check_take_end();
            // What was just taken is room for a source that waits on it (the unpaced demo);
            // the callback publishes what it adds.
            crate::audio::demo::note_ring_fill(
                self.out.samples.occupied_len() / ch,
                self.cfg.ring_frames,
            );
        }
        progressed
    }

    /// Whether the take records the frame at stream position `frame`.
    fn recording_at(&self, frame: u64) -> bool {
        self.take
            .as_ref()
            .is_some_and(|t| frame >= t.start_frame && t.stop_frame.is_none_or(|s| frame < s))
    }

    fn write_frames(&mut self, n: usize) {
        if !self.recording_at(self.pos) {
            return;
        }
        let ch = usize::from(self.cfg.channels);
        let ff = self.cfg.file_format;
        let Some(take) = &mut self.take else { return };
        let words = &mut self.chunk[..n * ch];
        self.converter.convert(words);
        let mut failure = None;
        for f in &mut take.files {
            let input = usize::from(f.track.input - 1);
            let len = pack_track(words, ch, input, ff, &mut f.buf);
            if let Err(e) = f.writer.write_bytes(&f.buf[..len]) {
                failure = Some(e);
                break;
            }
        }
        match failure {
            None => take.frames += n as u64,
            Some(e) => self.fail_take(e),
        }
    }

    fn apply_gap(&mut self, g: Gap) {
        self.dropouts += 1;
        let start = g.at_frame;
        let end = g.at_frame + g.frames;
        self.pos = self.pos.max(end);
        let rate = self.cfg.sample_rate;
        let ff = self.cfg.file_format;
        let Some(take) = &mut self.take else { return };
        let take_end = take.stop_frame.unwrap_or(u64::MAX);
        // Only gaps that overlap the take (or an empty one inside it) belong to it.
        let overlaps = if g.frames == 0 {
            start >= take.start_frame && start < take_end
        } else {
            end > take.start_frame && start < take_end
        };
        if !overlaps {
            return;
        }
        let from = start.max(take.start_frame);
        let to = end.min(take_end);
        let fill = to.saturating_sub(from);
        let at = from - take.start_frame;
        take.dropouts.push(DropoutRecord {
            at_frame: at,
            at_seconds: seconds(at, rate),
            frames: fill,
            seconds: seconds(fill, rate),
            cause: g.cause.name().to_string(),
            exact: g.exact,
        });
        // Silence of the exact length keeps every track at its sample position.
        let bytes = fill as usize * ff.bytes_per_sample();
        let mut failure = None;
        'files: for f in &mut take.files {
            let mut left = bytes;
            while left > 0 {
                let step = left.min(self.zeros.len());
                if let Err(e) = f.writer.write_bytes(&self.zeros[..step]) {
                    failure = Some(e);
                    break 'files;
                }
                left -= step;
            }
        }
        match failure {
            None => take.frames += fill,
            Some(e) => self.fail_take(e),
        }
    }

    /// Recording time left on the session's disk at `tracks` tracks, in seconds.
    fn disk_seconds(&self, tracks: usize) -> Option<u64> {
        let free = crate::disk::free_bytes(&self.session.dir)?;
        let rate = tracks as u64
            * u64::from(self.cfg.sample_rate)
            * self.cfg.file_format.bytes_per_sample() as u64;
        free.checked_div(rate)
    }

    /// Puts the reserve file in place (best effort: a disk too full for it just has none).
    fn ensure_reserve(&mut self) {
        let path = self.session.dir.join(RESERVE_NAME);
        if path.exists() {
            return;
        }
        let made = std::fs::File::create(&path).and_then(|mut f| {
            std::io::Write::write_all(&mut f, &vec![0u8; RESERVE_BYTES])?;
            f.sync_all()
        });
        if made.is_err() {
            let _ = std::fs::remove_file(&path);
        }
    }

    fn release_reserve(&self) {
        let _ = std::fs::remove_file(self.session.dir.join(RESERVE_NAME));
    }

    fn check_disk(&mut self, now: Instant) {
        if now.duration_since(self.last_disk_check) < Duration::from_secs(1) {
            return;
        }
        self.last_disk_check = now;
        let Some(take) = &self.take else {
            self.low_disk_warned = false;
            return;
        };
        let Some(secs) = self.disk_seconds(take.files.len()) else {
            return;
        };
        if secs < self.cfg.warn_free_seconds && !self.low_disk_warned {
            self.low_disk_warned = true;
            self.emit(Event::Warning(format!(
                "disk nearly full: {} of recording left at {} tracks",
                hms(secs),
                take.files.len()
            )));
        } else if secs >= self.cfg.warn_free_seconds * 2 {
            self.low_disk_warned = false;
        }
    }

    fn fail_take(&mut self, e: io::Error) {
        let reason = if is_disk_full(&e) {
            // Room for the manifest and the final headers.
            self.release_reserve();
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

    /// Notices a stream that ended (device unplugged, server gone).
    fn check_stream(&mut self) {
        if self.stream_failed.is_some() || !self.shared.ended.load(Ordering::Acquire) {
            return;
        }
        let (reason, why) = match self.shared.fault() {
            StreamFault::DeviceLost => (EndReason::DeviceLost, "the audio device disappeared"),
            _ => (EndReason::StreamError, "the audio stream failed"),
        };
        self.stream_failed = Some(why.to_string());
        self.emit(Event::StreamFailed(why.to_string()));
        self.request_stop(reason, Some(why.to_string()));
    }

    /// Says so, once, when the audio thread runs without realtime priority: under load it
    /// then waits behind ordinary threads and the device can overrun.
    fn check_realtime(&mut self) {
        if self.realtime_checked {
            return;
        }
        let why = match self.shared.realtime() {
            Realtime::Unknown => return,
            Realtime::Yes | Realtime::NotApplicable => None,
            Realtime::No if self.cfg.device.host == "jack" => Some(
                "the JACK server runs tapedeck without realtime priority (it was started \
                 without it): under load it may miss cycles",
            ),
            Realtime::No => Some(
                "the audio thread runs without realtime priority (this user may not have it): \
                 under load the interface may overrun; see \"Realtime priority\" in docs/usage.md",
            ),
        };
        self.realtime_checked = true;
        if let Some(why) = why {
            self.note_audio(why.to_string());
        }
    }

    /// Reports a stream that has stopped calling back, and when it comes back. The time
    /// without audio becomes a dropout of the take when the stream resumes (the host's
    /// timestamps show it), so this only has to make sure nobody waits unknowingly.
    fn watch_audio(&mut self, now: Instant) {
        let callbacks = self.shared.callbacks.load(Ordering::Relaxed);
        let (seen, since, warned) = self.audio_watch;
        if callbacks != seen {
            if warned {
                let secs = now.duration_since(since).as_secs_f64();
                self.note_audio(format!(
                    "audio from {} resumed after {secs:.1} s without it",
                    self.cfg.device.name
                ));
            }
            self.audio_watch = (callbacks, now, false);
        } else if !warned
            && self.stream_failed.is_none()
            && now.duration_since(since) >= NO_AUDIO_WARNING
        {
            self.audio_watch.2 = true;
            self.note_audio(format!(
                "no audio from {} for {} s: it has stopped delivering (a stalled device, or \
                 an audio server that stopped running tapedeck); everything captured is kept, \
                 and recording goes on when audio returns",
                self.cfg.device.name,
                NO_AUDIO_WARNING.as_secs()
            ));
        }
    }

    /// A warning on every front end, and a note in the manifest when a take is running.
    fn note_audio(&mut self, text: String) {
        self.emit(Event::Warning(text.clone()));
        if self.take.is_some() {
            self.handle(Command::Note(text));
        }
    }

    fn check_take_end(&mut self) {
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
        let now = Instant::now();
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

    fn finish_take(&mut self) {
        let Some(take) = self.take.take() else { return };
        self.syncer.watch(None);
        let rate = self.cfg.sample_rate;
        let ended_at = session::now();
        let mut tracks = Vec::with_capacity(take.files.len());
        let mut files = Vec::with_capacity(take.files.len());
        let mut problem: Option<io::Error> = None;
        let mut clipped = 0;
        for f in take.files {
            let level = self.converter.level(usize::from(f.track.input - 1));
            let mut t = take_track(&f, take.frames, level);
            clipped += level.clipped;
            let path = f.writer.path().to_path_buf();
            match f.writer.finalize() {
                Ok(frames) => t.frames = frames,
                Err(e) => {
                    if is_disk_full(&e) {
                        self.release_reserve();
                    }
                    // The header may promise more than reached the disk: make it say what is
                    // there, whole frames only.
                    t.frames = crate::wav::repair(&path).map(|r| r.frames).unwrap_or(0);
                    problem.get_or_insert(e);
                }
            }
            files.push(t.file.clone());
            tracks.push(t);
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
        let dropout_frames = take.dropouts.iter().map(|d| d.frames).sum();
        if let Some(r) = self.session.manifest.takes.get_mut(take.record_index) {
            r.state = TakeState::Complete;
            r.ended_at = Some(ended_at);
            r.end_reason = Some(reason);
            r.end_detail = detail.clone();
            r.length_frames = length;
            r.length_seconds = seconds(length, rate);
            r.tracks = tracks;
            r.dropouts = take.dropouts.clone();
            r.dropout_frames = dropout_frames;
            r.markers = take.markers;
        }
        self.session.manifest.updated = ended_at;
        if let Err(e) = self.session.save() {
            self.emit(Event::Warning(format!(
                "could not update {}: {e}",
                self.session.dir.join("session.json").display()
            )));
        }
        let summary = TakeSummary {
            take: take.number,
            folder: take.folder,
            frames: length,
            seconds: seconds(length, rate),
            files,
            dropouts: take.dropouts,
            reason,
            detail,
            clipped_samples: clipped,
        };
        self.last_take = Some(summary.clone());
        self.emit(Event::TakeFinished(summary));
    }

    fn housekeeping(&mut self) {
        let now = Instant::now();
        if let (Some((after, pause)), Some(take)) = (self.stall, &self.take)
            && now.duration_since(take.opened_at) >= after
        {
            self.stall = None;
            std::thread::sleep(pause);
        }
        if let Some(take) = &mut self.take {
            let mut failure = None;
            if now.duration_since(take.last_header) >= HEADER_INTERVAL {
                take.last_header = now;
                for f in &mut take.files {
                    if let Err(e) = f.writer.update_header() {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if failure.is_none() {
                failure = self.syncer.take_failure();
            }
            if let Some(e) = failure {
                self.fail_take(e);
            }
        }
        self.check_disk(now);
        if now.duration_since(self.last_meter) >= METER_INTERVAL {
            self.last_meter = now;
            self.update_meters(now);
            self.publish();
        }
    }

    fn update_meters(&mut self, now: Instant) {
        let taps = match self.taps.lock() {
            Ok(t) => t.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for (i, m) in self.meters.iter_mut().enumerate() {
            // meters: measured by the writer (pending)
            let peak = 0.0;
            m.update(peak, 0, now);
            for t in &taps {
                t.feed(i, peak);
            }
        }
    }

    fn publish(&self) {
        let ch = usize::from(self.cfg.channels);
        let fill = self.out.samples.occupied_len() / ch;
        let transport = match &self.take {
            Some(t) => Transport::Recording {
                take: t.number,
                started_at: t.started_at,
                frames: t.frames,
            },
            None => Transport::Stopped,
        };
        let snap = Snapshot {
            session: self.session.manifest.session.clone(),
            sample_rate: self.cfg.sample_rate,
            file_format: self.cfg.file_format,
            device: self.cfg.device.clone(),
            transport,
            next_take: next_take_number(&self.session),
            position: self.shared.position.load(Ordering::Acquire),
            inputs: self.meters.iter().map(|m| m.meter.clone()).collect(),
            tracks: self.tracks.clone(),
            dropouts: self.dropouts,
            dropped_frames: self.shared.overflow_frames.load(Ordering::Relaxed)
                + self.shared.xrun_frames.load(Ordering::Relaxed),
            xruns: self.shared.xruns_reported.load(Ordering::Relaxed),
            ring_fill: fill as f32 / self.cfg.ring_frames.max(1) as f32,
            ring_capacity_frames: self.cfg.ring_frames,
            last_take: self.last_take.clone(),
            stream_failed: self.stream_failed.clone(),
        };
        match self.snapshot.lock() {
            Ok(mut s) => *s = snap,
            Err(p) => *p.into_inner() = snap,
        }
    }
}

fn take_track(f: &TrackFile, frames: u64, level: TrackLevel) -> TakeTrack {
    TakeTrack {
        track: f.track.number,
        name: f.track.name.clone(),
        input: f.track.input,
        role: f.track.role.clone(),
        file: f.file.clone(),
        frames,
        peak_dbfs: dbfs(level.peak).map(|d| (d * 100.0).round() / 100.0),
        clipped_samples: level.clipped,
    }
}
