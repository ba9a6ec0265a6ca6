//! The headless front end: one status line per second (text or JSON), plus take events.
//! Writes never fail the recording: a closed terminal (SSH dropped) just stops the output.

use std::io::Write;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Driver;
use super::words::{describe_levels, describe_take};
use crate::display::{clock, dbfs_text};
use crate::engine::{Command, Event, Snapshot, TakeSummary, Transport, TriggerView};
use crate::error::Error;
use crate::format::{dbfs_rounded, round_hundredths};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatusStyle {
    Text,
    Json,
    /// Warnings only (on stderr).
    Quiet,
}

/// One status report, as printed by `--json-status` and sent on the control socket (field
/// names are a stable interface, documented in docs/usage.md and docs/control.md).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StatusLine {
    /// Always "status".
    #[serde(rename = "type")]
    pub kind: String,
    /// Take being recorded, or null between takes.
    pub take: Option<u32>,
    /// Seconds recorded in the take so far.
    pub elapsed_s: f64,
    /// Frames recorded in the take so far.
    pub frames: u64,
    /// Frames since the stream started (captured plus missing).
    pub stream_frames: u64,
    pub tracks: Vec<TrackStatus>,
    pub dropouts: u64,
    pub dropped_frames: u64,
    pub xruns: u64,
    /// Ring-buffer fill, 0.0 to 1.0.
    pub ring_fill: f64,
    /// Software monitoring, when a track is monitored (`--monitor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<MonitorStatus>,
    /// Playback: blocks the output played silence for (the disk was late, or the server ran
    /// cycles without the output), and their
    /// frames (0 when nothing plays).
    pub underruns: u64,
    pub underrun_frames: u64,
    /// Record on signal (`--trigger`): "waiting" or "recording"; absent without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<TriggerView>,
}

/// Software monitoring in a status line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MonitorStatus {
    /// Tracks heard now.
    pub tracks: Vec<u16>,
    /// Capture-to-output latency, measured; null until both callbacks have run with it.
    pub latency_frames: Option<u64>,
    pub latency_ms: Option<f64>,
    /// Frames thrown away to keep the latency small, and played without monitored input.
    pub dropped_frames: u64,
    pub missing_frames: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TrackStatus {
    pub track: u16,
    pub name: String,
    pub input: u16,
    pub armed: bool,
    /// Highest level since the previous line; null for digital silence.
    pub peak_dbfs: Option<f64>,
    /// Samples at full scale on this input since the start.
    pub clips: u64,
}

pub(crate) fn status_line(snap: &Snapshot, peaks: &[f32]) -> StatusLine {
    let (take, frames) = match &snap.transport {
        Transport::Recording { take, frames, .. } => (Some(*take), *frames),
        Transport::Stopped => (None, 0),
    };
    StatusLine {
        kind: "status".to_string(),
        take,
        elapsed_s: round_hundredths(frames as f64 / f64::from(snap.sample_rate.max(1))),
        frames,
        stream_frames: snap.position,
        tracks: snap
            .tracks
            .iter()
            .map(|t| {
                let i = usize::from(t.input.saturating_sub(1));
                TrackStatus {
                    track: t.number,
                    name: t.name.clone(),
                    input: t.input,
                    armed: t.armed,
                    peak_dbfs: peaks.get(i).copied().and_then(dbfs_rounded),
                    clips: snap.inputs.get(i).map_or(0, |m| m.clips),
                }
            })
            .collect(),
        dropouts: snap.dropouts,
        dropped_frames: snap.dropped_frames,
        xruns: snap.xruns,
        ring_fill: (f64::from(snap.ring_fill) * 1000.0).round() / 1000.0,
        monitor: {
            let m = &snap.song.monitor;
            (!m.tracks.is_empty()).then(|| MonitorStatus {
                tracks: m.audible.clone(),
                latency_frames: m.latency_frames,
                latency_ms: m.latency_ms,
                dropped_frames: m.dropped_frames,
                missing_frames: m.missing_frames,
            })
        },
        underruns: snap.song.underruns,
        underrun_frames: snap.song.underrun_frames,
        trigger: (snap.trigger != TriggerView::Off).then_some(snap.trigger),
    }
}

pub(crate) fn format_text(l: &StatusLine) -> String {
    let mut out = match l.take {
        Some(t) => format!("REC take {t} {}  {} frames", clock(l.elapsed_s), l.frames),
        None if l.trigger == Some(TriggerView::Waiting) => "WAITING for the trigger".to_string(),
        None => "STOPPED".to_string(),
    };
    out.push_str("  |");
    for t in &l.tracks {
        let clip = if t.clips > 0 {
            format!(" CLIP×{}", t.clips)
        } else {
            String::new()
        };
        out.push_str(&format!(
            " {} {} {}{} |",
            t.track,
            t.name,
            dbfs_text(t.peak_dbfs),
            clip
        ));
    }
    out.push_str(&format!(
        "  dropouts {} ({} frames)  ring {:.0}%",
        l.dropouts,
        l.dropped_frames,
        l.ring_fill * 100.0
    ));
    if let Some(m) = &l.monitor {
        match m.latency_ms {
            Some(ms) => out.push_str(&format!("  monitor {ms:.1} ms")),
            None => out.push_str("  monitor"),
        }
    }
    out
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(flatten)]
    body: serde_json::Value,
}

fn summary_json(s: &TakeSummary) -> serde_json::Value {
    serde_json::json!({
        "take": s.take,
        "folder": s.folder,
        "frames": s.frames,
        "seconds": s.seconds,
        "files": s.files,
        "dropouts": s.dropouts.len(),
        "dropout_frames": s.dropouts.iter().map(|d| d.frames).sum::<u64>(),
        "clipped_samples": s.clipped_samples,
        "end_reason": s.reason,
        "end_detail": s.detail,
        // Each file with its level report, in the manifest's field names.
        "tracks": s.tracks.iter().map(|t| serde_json::json!({
            "track": t.track,
            "name": t.name,
            "file": t.file,
            "parts": (!t.parts.is_empty()).then_some(&t.parts),
            "frames": t.frames,
            "levels": t.levels,
        })).collect::<Vec<_>>(),
    })
}

/// Prints status lines and events to stdout; human notes go to stderr.
pub(crate) struct Printer {
    pub(crate) style: StatusStyle,
    pub(crate) session_dir: String,
}

impl Printer {
    /// Text status lines, or JSON with `--json-status`.
    pub(crate) fn new(json: bool, session_dir: &str) -> Self {
        Self {
            style: if json {
                StatusStyle::Json
            } else {
                StatusStyle::Text
            },
            session_dir: session_dir.to_string(),
        }
    }

    fn out(&self, line: &str) {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{line}");
        let _ = o.flush();
    }

    pub(crate) fn note(&self, line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// A fact worth knowing before recording (what the kept past costs): on stderr, and as
    /// an `info` line with --json-status.
    pub(crate) fn info(&self, text: &str) {
        self.note(&format!("tapedeck: {text}"));
        if self.style == StatusStyle::Json {
            self.out(&serde_json::json!({"type": "info", "message": text}).to_string());
        }
    }

    /// A warning before recording: on stderr, and as a `warning` line with --json-status.
    pub(crate) fn warning(&self, text: &str) {
        self.note(&format!("tapedeck: WARNING: {text}"));
        if self.style == StatusStyle::Json {
            self.out(&serde_json::json!({"type": "warning", "message": text}).to_string());
        }
    }

    pub(crate) fn status(&self, l: &StatusLine) {
        match self.style {
            StatusStyle::Text => self.out(&format_text(l)),
            StatusStyle::Json => {
                if let Ok(s) = serde_json::to_string(l) {
                    self.out(&s);
                }
            }
            StatusStyle::Quiet => {}
        }
    }

    pub(crate) fn event(&self, e: &Event) {
        match self.style {
            StatusStyle::Text => {
                let text = event_text(e, &self.session_dir);
                if matches!(e, Event::TakeFinished(_)) {
                    self.out(&text)
                } else {
                    self.note(&text)
                }
            }
            StatusStyle::Json => self.out(&event_line(e)),
            StatusStyle::Quiet => {
                if matches!(
                    e,
                    Event::Warning(_) | Event::TakeRefused(_) | Event::StreamFailed(_)
                ) {
                    self.note(&event_text(e, &self.session_dir));
                }
            }
        }
    }
}

/// An event in words, for people.
fn event_text(e: &Event, session_dir: &str) -> String {
    match e {
        Event::TakeStarted { take, folder } => {
            format!("recording take {take} into {session_dir}/{folder}")
        }
        Event::TakeFinished(s) => std::iter::once(describe_take(s, session_dir))
            .chain(s.tracks.iter().map(|t| format!("  {}", describe_levels(t))))
            .collect::<Vec<_>>()
            .join("\n"),
        Event::Warning(w) | Event::TakeRefused(w) => format!("warning: {w}"),
        Event::Triaged(t) => t.clone(),
        Event::StreamFailed(w) => {
            format!("error: {w}; finishing the take with everything captured")
        }
    }
}

/// An event as one JSON line (without its newline), as `--json-status` prints it and the
/// control socket pushes it: the one place these field names are made.
pub(crate) fn event_line(e: &Event) -> String {
    let (kind, body) = match e {
        Event::TakeStarted { take, folder } => (
            "take_started",
            serde_json::json!({"take": take, "folder": folder}),
        ),
        Event::TakeFinished(s) => ("take_finished", summary_json(s)),
        // The same line as any warning: scripts read a refused take from the missing
        // take_started and the exit status.
        Event::Warning(w) | Event::TakeRefused(w) => ("warning", serde_json::json!({"message": w})),
        Event::Triaged(t) => ("triaged", serde_json::json!({"message": t})),
        Event::StreamFailed(w) => ("stream_failed", serde_json::json!({"message": w})),
    };
    // A struct, so that "type" comes first as it always has.
    serde_json::to_string(&JsonEvent { kind, body }).unwrap_or_default()
}

/// How a headless run starts its takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// One take, at once.
    Now,
    /// Record on signal (`--trigger`): wait for the signal, record every take it starts, for
    /// `listen_for` of wall time (`--duration`) or until a signal stops tapedeck.
    OnSignal { listen_for: Option<Duration> },
}

/// Records one take until its duration or a signal, printing status once a second (or, with
/// `--trigger`, the takes the signal starts). Returns the exit status: 1 when the take failed
/// or none was recorded.
pub(crate) fn run(
    mut driver: Driver,
    take_frames: Option<u64>,
    printer: &Printer,
    start: Start,
) -> Result<i32, Error> {
    let tap = driver.engine().meter_tap();
    let began = Instant::now();
    let listen_until = match start {
        Start::Now => {
            driver.send(Command::Record {
                max_frames: take_frames,
            });
            None
        }
        Start::OnSignal { listen_for } => {
            printer.note("tapedeck: waiting for the signal to reach the --trigger level");
            Some(listen_for.map(|d| began + d))
        }
    };
    let mut stopping = false;
    let mut next_status = Instant::now() + Duration::from_secs(1);
    loop {
        let wait = next_status.saturating_duration_since(Instant::now());
        if let Some(ev) = driver.next_event(wait.min(Duration::from_millis(100))) {
            printer.event(&ev);
            match ev {
                Event::TakeFinished(_) if listen_until.is_none() || stopping => break,
                // Other warnings (a slow disk, no realtime priority, ...) may come before the
                // take starts and are only shown.
                Event::TakeRefused(_) if listen_until.is_none() => break,
                _ => {}
            }
        }
        if let Some(until) = listen_until
            && !stopping
        {
            let over = until.is_some_and(|u| Instant::now() >= u);
            if over || driver.terminated() {
                // The listening is over: a take running ends now (its TakeFinished ends the
                // loop), or the run ends at once.
                stopping = true;
                let recording = matches!(
                    driver.engine().snapshot().transport,
                    Transport::Recording { .. }
                );
                let reason = if over {
                    crate::engine::EndReason::Duration
                } else {
                    crate::engine::EndReason::Signal
                };
                driver.send(Command::Shutdown { reason });
                if !recording {
                    break;
                }
            }
        }
        if Instant::now() >= next_status {
            next_status += Duration::from_secs(1);
            printer.status(&status_line(&driver.engine().snapshot(), &tap.take()));
        }
        if driver.hung_up() {
            driver.note_hangup(true);
        }
        if driver.engine_gone() {
            break;
        }
    }
    let finished = driver.finish()?;
    if finished.hung_up {
        printer
            .note("note: the terminal hung up during the take; the take was recorded to the end");
    }
    let path = finished.session.dir().join("session.json");
    // Waiting for a signal that never came is no failure.
    let code = finished.exit_code(listen_until.is_none());
    match finished.takes().last() {
        Some(t) if t.reason.is_failure() => printer.note(&format!(
            "tapedeck: the take ended early ({}); what was captured is in {}",
            t.reason.describe(),
            path.display()
        )),
        Some(_) => {}
        None => printer.note("tapedeck: no take was recorded"),
    }
    Ok(code)
}
