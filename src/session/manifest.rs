//! The session manifest, `session.json`: what a mixing engineer needs to pick the session up.
//! Every field is documented in docs/manifest.md; docs/session.schema.json is its JSON Schema.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "tapedeck.session/2";
/// The version before the song timeline; read as version 2 with every take at timeline 0.
pub const SCHEMA_V1: &str = "tapedeck.session/1";
pub const FILE_NAME: &str = "session.json";

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Manifest {
    pub schema: String,
    pub program: Program,
    pub session: String,
    pub created: DateTime<FixedOffset>,
    pub updated: DateTime<FixedOffset>,
    /// Every take of a session has this rate and file format.
    pub sample_rate: u32,
    pub format: String,
    /// The device of the latest run; each take names its own too.
    pub device: DeviceRecord,
    /// Where the song timeline's frame 0 lies, in samples since local midnight: every file's
    /// bext TimeReference is this plus its take's `timeline_start`. Set by the first take
    /// recorded or imported; absent until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline_origin: Option<u64>,
    /// Every track of the session, by track number: recorded ones (with the input of the latest
    /// run that recorded them) and imported ones (no input).
    pub tracks: Vec<TrackRecord>,
    pub takes: Vec<TakeRecord>,
    /// Things that happened that are not audio (the terminal hanging up, ...), oldest first.
    #[serde(default)]
    pub notes: Vec<NoteRecord>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NoteRecord {
    pub at: DateTime<FixedOffset>,
    /// The take being recorded at the time, if any.
    pub take: Option<u32>,
    pub text: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Program {
    pub name: String,
    pub version: String,
}

impl Program {
    pub fn this() -> Self {
        Self {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeviceRecord {
    pub host: String,
    pub id: String,
    pub name: String,
    pub sample_rate: u32,
    pub sample_format: String,
    pub channels: u16,
    /// Frames per callback when fixed (`--buffer`), else null (the host's default).
    pub buffer_frames: Option<u32>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TrackRecord {
    pub number: u16,
    pub name: String,
    /// 1-based device input; null for a track that came in by `tapedeck import`.
    pub input: Option<u16>,
    pub role: Option<String>,
    pub format: String,
    /// The take this track plays; null plays its newest take.
    #[serde(default)]
    pub playing_take: Option<u32>,
    /// How the track sounds in the cue (what the performer hears); never applied to files.
    #[serde(default)]
    pub cue: CueRecord,
}

/// A track's cue settings.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct CueRecord {
    /// Gain in dB (0 = unity).
    pub gain_db: f64,
    /// −1 full left, 0 centre, +1 full right.
    pub pan: f64,
    pub mute: bool,
    pub solo: bool,
}

impl Default for CueRecord {
    fn default() -> Self {
        Self {
            gain_db: 0.0,
            pan: 0.0,
            mute: false,
            solo: false,
        }
    }
}

/// How a take came to be.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum TakeKind {
    /// Recorded with nothing playing.
    #[default]
    Recorded,
    /// Recorded while the song played, placed on the timeline with the round trip compensated.
    Overdub,
    /// Files brought in by `tapedeck import`, copied unchanged.
    Imported,
}

/// The round trip an overdub was compensated by: the take's first frame is the audio captured
/// `applied_frames` after the device played timeline frame `timeline_start`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LatencyRecord {
    /// Frames the capture was shifted by, in all: output + input (counted once where the loop
    /// closes inside JACK) + correction.
    pub applied_frames: i64,
    /// The output's latency as the host reports it.
    pub output_frames: u32,
    /// The input's latency as the host reports it.
    pub input_frames: u32,
    /// Where the reported figures come from, e.g. "jack port latencies", "alsa buffer".
    pub reported_by: String,
    /// Frames that JACK reported twice (the same cable on both sides of a loop inside JACK)
    /// and that were counted once.
    #[serde(default)]
    pub counted_once_frames: u32,
    /// The measured correction added (`tapedeck calibrate`); 0 when none is stored.
    pub correction_frames: i64,
    /// Where the correction came from: "calibration of <date>", or "none".
    pub correction_source: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TakeState {
    /// The take is being recorded now, or the program died while recording it.
    Recording,
    Complete,
    /// The program died while recording it and `tapedeck recover` repaired its files.
    Recovered,
}

/// How a take ended.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// `--duration` reached.
    Duration,
    /// SIGINT, SIGTERM or SIGQUIT (SIGHUP lets a take run to its end).
    Signal,
    /// Stopped by the user from a front end.
    Stopped,
    /// The device disappeared (unplugged).
    DeviceLost,
    /// The audio stream failed for another reason.
    StreamError,
    /// A file could not be written.
    WriteError,
    /// The disk is full.
    DiskFull,
    /// The program stopped without finishing the take (killed, crashed, power cut); found and
    /// repaired by `tapedeck recover`.
    Interrupted,
    /// A take started by `--trigger` ended after `--trigger-silence` below the level.
    Silence,
}

impl EndReason {
    /// In words, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Duration => "its duration was reached",
            Self::Signal => "stopped by a signal",
            Self::Stopped => "stopped",
            Self::DeviceLost => "the device was lost",
            Self::StreamError => "the audio stream failed",
            Self::WriteError => "a file could not be written",
            Self::DiskFull => "the disk is full",
            Self::Interrupted => "the program stopped before finishing it",
            Self::Silence => "the signal stayed below the trigger level",
        }
    }

    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Self::DeviceLost
                | Self::StreamError
                | Self::WriteError
                | Self::DiskFull
                | Self::Interrupted
        )
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TakeRecord {
    pub number: u32,
    pub folder: String,
    pub state: TakeState,
    pub started_at: DateTime<FixedOffset>,
    pub ended_at: Option<DateTime<FixedOffset>>,
    pub end_reason: Option<EndReason>,
    pub end_detail: Option<String>,
    pub device: DeviceRecord,
    pub sample_rate: u32,
    pub format: String,
    /// How the take came to be (`recorded` in manifests of version 1).
    #[serde(default)]
    pub kind: TakeKind,
    /// Where the take's first frame lies on the song timeline (0 in manifests of version 1).
    #[serde(default)]
    pub timeline_start: u64,
    /// The round trip compensated (overdubs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyRecord>,
    /// Stream frame (since the device stream started) of the take's first frame.
    pub start_frame: u64,
    pub length_frames: u64,
    pub length_seconds: f64,
    pub tracks: Vec<TakeTrack>,
    pub dropouts: Vec<DropoutRecord>,
    pub dropout_frames: u64,
    pub markers: Vec<MarkerRecord>,
    /// The take start in samples since local midnight, as every file's bext TimeReference and
    /// iXML timestamp carry it (absent in manifests from before Broadcast Wave files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_reference: Option<u64>,
    /// The id tying the take's files together: bext OriginatorReference and iXML
    /// FILE_SET/FAMILY_UID of every file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_uid: Option<String>,
    /// The verdict on the whole take (keep, no-good, circled) and its note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<Triage>,
    /// Warnings about the take's audio raised while it was recorded (every armed input
    /// silent since the take started), oldest first; absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    // Pre-roll, keep what was just played, record on signal.
    /// What started the take (absent in manifests from before pre-roll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<StartedBy>,
    /// Stream frame at which the take was asked for: Record handled, the level crossed, or
    /// the keep-last command handled (absent when the take starts there itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressed_frame: Option<u64>,
    /// Frames of the kept past the take begins with, before `pressed_frame`: the pre-roll as
    /// really included (shorter than asked after a dropout or right after the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_roll_frames: Option<u64>,
    /// The trigger that started the take (`--trigger`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<TriggerRecord>,
}

/// What started a take.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StartedBy {
    /// Record (a key, `--record`, a headless run, a control command).
    Record,
    /// The signal crossed `--trigger`'s level.
    Trigger,
    /// Made afterwards from the kept past (`K`, `Command::KeepLast`).
    KeepLast,
}

/// The trigger a take was started by.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TriggerRecord {
    /// The level crossed, in dBFS.
    pub level_dbfs: f64,
    /// The silence that ends the take, in frames and seconds.
    pub silence_frames: u64,
    pub silence_seconds: f64,
    /// Stream frame of the first sample at or above the level.
    pub crossing_frame: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TakeTrack {
    pub track: u16,
    pub name: String,
    /// The device input recorded; null for an imported file.
    pub input: Option<u16>,
    pub role: Option<String>,
    /// Relative to the session folder, with `/` separators.
    pub file: String,
    /// Channels in the file: 1 for recorded tracks, 1 or 2 for imported ones.
    #[serde(default = "one")]
    pub channels: u16,
    /// The file an imported track was copied from, as given to `tapedeck import`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
    pub frames: u64,
    /// Highest sample level in the file; null when the file is digital silence.
    pub peak_dbfs: Option<f64>,
    /// Samples at (or clipped to) full scale.
    pub clipped_samples: u64,
    /// The full level report, measured as the file was written (absent for files from before
    /// level reports, and for imported files until they are measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<Levels>,
    /// A verdict on this track's file alone; it overrides the take's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<Triage>,
    /// The track's files in order when the take was split (a file could not grow, a FAT
    /// drive's 4 GiB limit, `--split-every`): the first is `file`, each part starts where the
    /// one before ends, and their `frames` add up to `frames`. Absent when the take is one file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartRecord>,
}

/// One file of a track split in parts.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PartRecord {
    /// Relative to the session folder, with `/` separators.
    pub file: String,
    /// Frames in this file (0 for the part being recorded until the take ends).
    pub frames: u64,
}

impl TakeTrack {
    /// Every file of the track, in order, with the frames each holds: its parts, or its one
    /// file.
    pub fn files(&self) -> Vec<PartRecord> {
        if self.parts.is_empty() {
            vec![PartRecord {
                file: self.file.clone(),
                frames: self.frames,
            }]
        } else {
            self.parts.clone()
        }
    }
}

/// What the mixer should make of a take, or of one track of it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    Keep,
    /// A take (or a track's take) not to use; nothing is deleted.
    NoGood,
    /// The take to use: a keeper, chosen over the other keepers.
    Circled,
}

impl Mark {
    /// Whether a take so marked is one the mixer gets with `--takes kept`.
    pub fn is_kept(self) -> bool {
        matches!(self, Self::Keep | Self::Circled)
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Triage {
    /// None when only a note was given.
    pub mark: Option<Mark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the verdict was last changed.
    pub at: DateTime<FixedOffset>,
}

/// The level report of one file. Levels in dB are None for digital silence (minus infinity).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Levels {
    pub sample_peak_dbfs: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    /// Integrated loudness (EBU R 128); None when the file is shorter than one 400 ms block or
    /// every block is gated out.
    pub integrated_lufs: Option<f64>,
    pub loudness_range_lu: Option<f64>,
    pub rms_dbfs: Option<f64>,
    /// Mean sample value, full scale = 1.
    pub dc_offset: f64,
    pub clipped_samples: u64,
    /// The longest run of consecutive clipped samples on one channel.
    pub longest_clipped_run: u64,
    /// The RMS of the quietest whole second, in dBFS.
    pub noise_floor_dbfs: Option<f64>,
    /// The loudest 400 ms (EBU R 128 momentary loudness), looked at every 100 ms.
    #[serde(default)]
    pub max_momentary_lufs: Option<f64>,
    /// The loudest 3 s (EBU R 128 short-term loudness), looked at every 100 ms.
    #[serde(default)]
    pub max_short_term_lufs: Option<f64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DropoutRecord {
    /// Frame within the take where the missing audio starts (zero-filled in every file).
    pub at_frame: u64,
    pub at_seconds: f64,
    pub frames: u64,
    pub seconds: f64,
    pub cause: String,
    /// False when the length was estimated from the host's timestamps.
    pub exact: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MarkerRecord {
    pub frame: u64,
    pub seconds: f64,
    pub label: String,
}

fn one() -> u16 {
    1
}

fn seconds(frames: u64, rate: u32) -> f64 {
    frames as f64 / f64::from(rate.max(1))
}

impl NoteRecord {
    pub fn new(at: DateTime<FixedOffset>, take: Option<u32>, text: impl Into<String>) -> Self {
        Self {
            at,
            take,
            text: text.into(),
        }
    }
}

impl TakeTrack {
    /// A file of a take about to be recorded: no frames and no levels yet.
    pub fn new(
        track: u16,
        name: &str,
        input: u16,
        role: Option<&str>,
        file: impl Into<String>,
    ) -> Self {
        Self {
            track,
            name: name.to_string(),
            input: Some(input),
            role: role.map(str::to_string),
            file: file.into(),
            channels: 1,
            imported_from: None,
            frames: 0,
            peak_dbfs: None,
            clipped_samples: 0,
            levels: None,
            triage: None,
            parts: Vec::new(),
        }
    }
}

impl DropoutRecord {
    /// `frames` missing `at_frame` frames into a take at `rate`; `cause` is a `GapCause` name.
    pub fn new(at_frame: u64, frames: u64, rate: u32, cause: &str, exact: bool) -> Self {
        Self {
            at_frame,
            at_seconds: seconds(at_frame, rate),
            frames,
            seconds: seconds(frames, rate),
            cause: cause.to_string(),
            exact,
        }
    }
}

impl MarkerRecord {
    pub fn new(frame: u64, rate: u32, label: impl Into<String>) -> Self {
        Self {
            frame,
            seconds: seconds(frame, rate),
            label: label.into(),
        }
    }
}

/// What the journal learns when a take ends.
#[derive(Debug, Clone, PartialEq)]
pub struct TakeEnd {
    pub ended_at: DateTime<FixedOffset>,
    pub reason: EndReason,
    pub detail: Option<String>,
    pub length_frames: u64,
    pub tracks: Vec<TakeTrack>,
    pub dropouts: Vec<DropoutRecord>,
    pub markers: Vec<MarkerRecord>,
}

impl TakeRecord {
    /// The verdict that applies to one track's file: its own, else the take's.
    pub fn mark_for(&self, track: u16) -> Option<Mark> {
        let own = self
            .tracks
            .iter()
            .find(|t| t.track == track)
            .and_then(|t| t.triage.as_ref())
            .and_then(|t| t.mark);
        own.or_else(|| self.triage.as_ref().and_then(|t| t.mark))
    }

    /// A take as the journal lists it when it starts (`state: recording`): every file it will
    /// write, nothing recorded yet.
    #[allow(clippy::too_many_arguments)]
    pub fn begin(
        number: u32,
        started_at: DateTime<FixedOffset>,
        device: DeviceRecord,
        format: &str,
        start_frame: u64,
        tracks: Vec<TakeTrack>,
        time_reference: u64,
        family_uid: String,
    ) -> Self {
        Self {
            number,
            folder: super::naming::take_folder(number),
            state: TakeState::Recording,
            started_at,
            ended_at: None,
            end_reason: None,
            end_detail: None,
            sample_rate: device.sample_rate,
            device,
            format: format.to_string(),
            kind: TakeKind::Recorded,
            timeline_start: 0,
            latency: None,
            start_frame,
            length_frames: 0,
            length_seconds: 0.0,
            tracks,
            dropouts: Vec::new(),
            dropout_frames: 0,
            markers: Vec::new(),
            time_reference: Some(time_reference),
            family_uid: Some(family_uid),
            triage: None,
            warnings: Vec::new(),
            started_by: None,
            pressed_frame: None,
            pre_roll_frames: None,
            trigger: None,
        }
    }

    /// Marks the take complete with what it holds.
    pub fn finish(&mut self, end: TakeEnd) {
        self.state = TakeState::Complete;
        self.ended_at = Some(end.ended_at);
        self.end_reason = Some(end.reason);
        self.end_detail = end.detail;
        self.length_frames = end.length_frames;
        self.length_seconds = seconds(end.length_frames, self.sample_rate);
        self.tracks = end.tracks;
        self.dropout_frames = end.dropouts.iter().map(|d| d.frames).sum();
        self.dropouts = end.dropouts;
        self.markers = end.markers;
    }
}

impl TrackRecord {
    pub fn new(number: u16, name: &str, input: u16, role: Option<&str>, format: &str) -> Self {
        Self {
            number,
            name: name.to_string(),
            input: Some(input),
            role: role.map(str::to_string),
            format: format.to_string(),
            playing_take: None,
            cue: CueRecord::default(),
        }
    }
}

/// Why an existing manifest could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(
        "{path} is not a valid tapedeck session manifest ({detail}); move it aside to start over, or choose another --session"
    )]
    Invalid { path: String, detail: String },
}

impl Manifest {
    /// The manifest of a new session, with no takes yet.
    pub fn new(
        session: &str,
        now: DateTime<FixedOffset>,
        sample_rate: u32,
        format: &str,
        device: DeviceRecord,
        tracks: Vec<TrackRecord>,
    ) -> Self {
        Self {
            schema: SCHEMA.to_string(),
            program: Program::this(),
            session: session.to_string(),
            created: now,
            updated: now,
            sample_rate,
            format: format.to_string(),
            device,
            timeline_origin: None,
            tracks,
            takes: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// One past the highest take number listed.
    pub fn next_take_number(&self) -> u32 {
        self.takes.iter().map(|t| t.number).max().unwrap_or(0) + 1
    }

    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = fs::read(path).map_err(|source| ManifestError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let invalid = |detail: String| ManifestError::Invalid {
            path: path.display().to_string(),
            detail,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| invalid(e.to_string()))?;
        let v1 = match value.get("schema").and_then(|s| s.as_str()) {
            Some(SCHEMA) => false,
            Some(SCHEMA_V1) => true,
            Some(other) => {
                return Err(invalid(format!(
                    "schema {other:?}, expected {SCHEMA:?}; it may come from a newer tapedeck"
                )));
            }
            None => return Err(invalid("no \"schema\" field".into())),
        };
        let mut m: Manifest = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
        if v1 {
            // Version 1 had no timeline: every take starts at its frame 0, and the first
            // take's time stamp becomes the origin (its files already carry it).
            m.schema = SCHEMA.to_string();
            m.timeline_origin = m.takes.iter().find_map(|t| t.time_reference);
        }
        m.check().map_err(invalid)?;
        Ok(m)
    }

    /// Consistency a hand edit could break and that would make us write in the wrong place.
    fn check(&self) -> Result<(), String> {
        for t in &self.takes {
            if t.folder != super::naming::take_folder(t.number) {
                return Err(format!("take {} has folder {:?}", t.number, t.folder));
            }
            for f in t.tracks.iter().flat_map(|f| f.files()) {
                let p = Path::new(&f.file);
                if p.is_absolute()
                    || p.components()
                        .any(|c| !matches!(c, std::path::Component::Normal(_)))
                {
                    return Err(format!(
                        "take {} lists file {:?} outside the session",
                        t.number, f.file
                    ));
                }
            }
        }
        Ok(())
    }

    /// Writes the manifest atomically: a temporary file, synced, renamed over the old one, and
    /// the folder synced, so that `session.json` is complete valid JSON at every moment.
    pub fn save(&self, session_dir: &Path) -> io::Result<()> {
        let tmp = session_dir.join(".session.json.tmp");
        let dest = session_dir.join(FILE_NAME);
        let mut bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        bytes.push(b'\n');
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &dest)?;
        File::open(session_dir)?.sync_all()?;
        Ok(())
    }
}
