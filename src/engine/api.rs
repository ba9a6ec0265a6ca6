//! What front ends send the engine and what they see of it: commands, events and snapshots.

use chrono::{DateTime, FixedOffset};

use super::meter::InputMeter;
use crate::format::FileFormat;
use crate::session::manifest::{
    CueRecord, DeviceRecord, DropoutRecord, EndReason, TakeRecord, TakeTrack,
};
use crate::session::song::SongTrack;
use crate::session::triage::{TriageChange, TriageTarget};

/// A track: one device input recorded into one mono file per take.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct Track {
    /// Track number, used in file names; equal to the input number unless chosen otherwise.
    pub number: u16,
    pub name: String,
    /// 1-based device input.
    pub input: u16,
    pub role: Option<String>,
    pub armed: bool,
}

impl Track {
    /// Every input of a device of `channels` inputs as an armed track named `In N`.
    pub fn every_input(channels: u16) -> Vec<Track> {
        (1..=channels)
            .map(|i| Track {
                number: i,
                name: format!("In {i}"),
                input: i,
                role: None,
                armed: true,
            })
            .collect()
    }
}

/// Commands front ends send: in this process, or over the control socket (`crate::control`),
/// where each is a JSON object whose `cmd` is the variant's name in snake_case.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    /// Arm or disarm a track (by track number). Applies to the next take.
    SetArmed { track: u16, armed: bool },
    /// Arm every track (true) or none (false). On the wire `{"cmd":"arm_all","armed":true}`
    /// (an internally tagged enum cannot carry a bare bool).
    #[serde(
        serialize_with = "wire::ser_arm_all",
        deserialize_with = "wire::de_arm_all"
    )]
    ArmAll(bool),
    /// Start a take of the armed tracks at the song position: with an output open and
    /// something to play, an overdub (the song plays from there and the take is placed on it
    /// with the round trip compensated); otherwise from the frame being captured now. It
    /// stops by itself after `max_frames` if given.
    Record { max_frames: Option<u64> },
    /// Make a take of what was just played although nothing was recording ("that was the
    /// riff"): the last `frames` the armed tracks captured (`None`: all that is kept), as an
    /// ordinary take that ends at the frame being captured now.
    KeepLast { frames: Option<u64> },
    /// Stop the take at the frame being captured now, and the song.
    Stop { reason: EndReason },
    /// Play the song from the song position.
    Play,
    /// Stop the song (and any take); the position returns to where it started.
    StopSong,
    /// Move the song position.
    Locate(Locate),
    /// Change a track's cue settings (kept in the session; never applied to files).
    SetCue { track: u16, cue: CueRecord },
    /// Turn software input monitoring of a track on or off: while the track is armed, its
    /// input is heard in the cue (mono, through the track's cue gain and pan). Off by default;
    /// a setting of this run, not kept in the session. Never changes what is recorded.
    SetMonitor { track: u16, on: bool },
    /// Choose the take a track plays (`None`: its newest).
    ChooseTake { track: u16, take: Option<u32> },
    /// Drop a marker into the current take at the frame being captured now.
    Mark { label: Option<String> },
    /// Rename a track; applies to the next take.
    Rename { track: u16, name: String },
    /// Reset the clip counters shown on the meters.
    ClearClips,
    /// Write a note into the manifest's log (with the current take, if any), at once. On the
    /// wire `{"cmd":"note","text":"..."}`.
    #[serde(serialize_with = "wire::ser_note", deserialize_with = "wire::de_note")]
    Note(String),
    /// Mark a finished take, or one track's file of it (keep, no-good, circled, a note): saved
    /// in the session and in the files' iXML at once.
    Triage {
        target: TriageTarget,
        change: TriageChange,
    },
    /// Finish any take and stop the engine.
    Shutdown { reason: EndReason },
}

/// The wire forms of the `Command` variants that hold a bare value: an internally tagged enum
/// needs an object to put its `cmd` in.
mod wire {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct ArmAll {
        armed: bool,
    }

    #[derive(Serialize, Deserialize)]
    struct Note<T> {
        text: T,
    }

    pub(super) fn ser_arm_all<S: Serializer>(armed: &bool, s: S) -> Result<S::Ok, S::Error> {
        ArmAll { armed: *armed }.serialize(s)
    }

    pub(super) fn de_arm_all<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        ArmAll::deserialize(d).map(|a| a.armed)
    }

    pub(super) fn ser_note<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
        Note { text }.serialize(s)
    }

    pub(super) fn de_note<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Note::<String>::deserialize(d).map(|n| n.text)
    }
}

/// Where to move the song position.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Locate {
    Start,
    /// A timeline frame.
    Frame(u64),
    /// Frames forward (positive) or back.
    By(i64),
    NextMarker,
    PreviousMarker,
}

/// The song as front ends show it.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
pub struct SongView {
    /// The timeline frame playing now, or where play and record start.
    pub position: u64,
    pub playing: bool,
    /// The end of the last clip.
    pub length: u64,
    pub tracks: Vec<SongTrack>,
    /// Blocks the output played silence for because the disk was late, and their frames.
    pub underruns: u64,
    pub underrun_frames: u64,
    /// Files that do not play (missing, truncated, ...), each naming the file.
    pub problems: Vec<String>,
    /// The output playing the cue; `None` when tapedeck plays nothing.
    pub output: Option<String>,
    /// An overdub waits for the output to play its first block.
    pub starting_overdub: bool,
    /// Software input monitoring.
    pub monitor: MonitorView,
}

/// Software input monitoring as front ends show it.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
pub struct MonitorView {
    /// Tracks whose monitor is on, by number.
    pub tracks: Vec<u16>,
    /// Of those, the ones heard now: armed, with an output open (at most
    /// `crate::monitor::MAX_MONITORED`).
    pub audible: Vec<u16>,
    /// Capture-to-output latency measured from both callbacks while monitoring plays: the
    /// input latency the host reports, what waits between the callbacks, and the output
    /// latency. `None` until both callbacks have run with monitoring on.
    pub latency_frames: Option<u64>,
    /// The same in milliseconds at the session's rate ("monitor 12.3 ms").
    pub latency_ms: Option<f64>,
    /// The parts the host reports: input and output latency, in frames.
    pub input_latency_frames: Option<u32>,
    pub output_latency_frames: Option<u32>,
    /// Frames left waiting between the callbacks after the output's last block.
    pub waiting_frames: u32,
    /// Monitored frames thrown away to keep the latency small (after an xrun), and frames
    /// played without monitored input (the capture side was late).
    pub dropped_frames: u64,
    pub missing_frames: u64,
}

/// Things that happened, for front ends to show.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", content = "body", rename_all = "snake_case")]
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
    /// A take's verdict changed, in words ("take 3: circled").
    Triaged(String),
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
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
    /// Each file as the manifest lists it, its level report included.
    pub tracks: Vec<TakeTrack>,
}

impl TakeSummary {
    /// The summary of a take as the manifest records it (`None` while it is still recording).
    pub fn from_record(r: &TakeRecord) -> Option<Self> {
        Some(Self {
            take: r.number,
            folder: r.folder.clone(),
            frames: r.length_frames,
            seconds: r.length_seconds,
            // Every file, a split take's parts included.
            files: r
                .tracks
                .iter()
                .flat_map(|t| t.files())
                .map(|p| p.file)
                .collect(),
            dropouts: r.dropouts.clone(),
            reason: r.end_reason?,
            detail: r.end_detail.clone(),
            clipped_samples: r.tracks.iter().map(|t| t.clipped_samples).sum(),
            tracks: r.tracks.clone(),
        })
    }
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Transport {
    Stopped,
    Recording {
        take: u32,
        started_at: DateTime<FixedOffset>,
        /// Frames recorded so far.
        frames: u64,
    },
}

/// Room left where the takes go.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskSpace {
    pub free_bytes: u64,
    /// The tracks the estimate is for: the take's while recording, the armed ones otherwise.
    pub tracks: usize,
    /// Recording time left at that many tracks; `None` when no track is armed.
    pub seconds_left: Option<u64>,
}

/// Everything a front end shows, as of the last update (about 30 times a second).
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
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
    /// Checked about once a second; `None` until then or when the system cannot say.
    pub disk: Option<DiskSpace>,
    pub last_take: Option<TakeSummary>,
    pub stream_failed: Option<String>,
    pub song: SongView,
    // Pre-roll, keep what was just played, record on signal.
    /// Record on signal: off, waiting for the level, or recording a take it started.
    #[serde(default)]
    pub trigger: super::trigger::TriggerView,
    /// Frames of the past a keep-last take would hold now (`K`): what is kept, up to
    /// `--keep`.
    #[serde(default)]
    pub kept_frames: u64,
}
