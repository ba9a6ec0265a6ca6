//! `TRACKS.md`, the track sheet beside `session.json`: the session as a mixer reads it. Song,
//! rate and format; each track with its role, input, the take it plays and every take of it
//! (verdict, note, levels); each take with its verdict, dropouts and markers, and a waveform
//! overview of each kept file (an SVG under `waveforms/`, linked from the sheet).
//!
//! Made from the manifest alone (plus one read of each kept file for its picture), so it can
//! be written again at any time; written atomically, never touching the manifest.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use crate::display::{clock, dbfs_text, song_clock};
use crate::session::manifest::{Levels, Manifest, TakeKind, TakeRecord, TakeState, TakeTrack};
use crate::session::triage::mark_word;

pub const FILE_NAME: &str = "TRACKS.md";
/// The folder (beside the sheet) of the waveform pictures, one per kept file, in the take's
/// folder name: `waveforms/take-003/02_Bass-DI_T003.svg`.
pub const WAVEFORMS: &str = "waveforms";

/// What writing the sheet did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SheetReport {
    pub path: PathBuf,
    /// Pictures linked from the sheet, relative to the session folder.
    pub pictures: Vec<String>,
    /// Pictures that could not be drawn (a file missing or unreadable), each saying why.
    pub problems: Vec<String>,
}

/// The picture of a take's file, relative to the session folder.
pub fn picture_path(file: &str) -> String {
    let p = Path::new(file);
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match p.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => format!("{WAVEFORMS}/{}/{stem}.svg", d.to_string_lossy()),
        None => format!("{WAVEFORMS}/{stem}.svg"),
    }
}

/// The take a track plays: the one chosen, else its newest finished one.
pub fn playing_take(m: &Manifest, track: u16) -> Option<u32> {
    let chosen = m
        .tracks
        .iter()
        .find(|t| t.number == track)
        .and_then(|t| t.playing_take);
    chosen.or_else(|| {
        m.takes
            .iter()
            .filter(|t| finished(t) && t.tracks.iter().any(|f| f.track == track))
            .map(|t| t.number)
            .max()
    })
}

fn finished(t: &TakeRecord) -> bool {
    matches!(t.state, TakeState::Complete | TakeState::Recovered)
}

/// Draws the missing pictures of kept files and writes `TRACKS.md` in `dir`.
pub fn write(dir: &Path, m: &Manifest) -> io::Result<SheetReport> {
    let mut report = SheetReport {
        path: dir.join(FILE_NAME),
        ..SheetReport::default()
    };
    for take in m.takes.iter().filter(|t| finished(t)) {
        for f in &take.tracks {
            if !take.mark_for(f.track).is_some_and(|k| k.is_kept()) {
                continue;
            }
            let rel = picture_path(&f.file);
            let title = format!("{:02} {} - take {}", f.track, f.name, take.number);
            // A split take's picture is of its first part.
            let first = f.files().into_iter().next().map_or(f.frames, |p| p.frames);
            match super::waveform::write_svg(&dir.join(&f.file), &dir.join(&rel), first, &title) {
                Ok(()) => report.pictures.push(rel),
                Err(e) => report
                    .problems
                    .push(format!("no waveform of {}: {e}", f.file)),
            }
        }
    }
    let text = render(m, &report.pictures, &report.problems);
    super::write_atomically(&report.path, text.as_bytes())?;
    Ok(report)
}

/// A track's file as a link, or each of its parts in order when the take was split.
fn file_links(f: &TakeTrack) -> String {
    let files = f.files();
    let split = files.len() > 1;
    files
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let link = format!("[{}]({})", cell(&p.file), p.file.replace(' ', "%20"));
            if split {
                format!("{link} (part {})", i + 1)
            } else {
                link
            }
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// Text for a table cell: one line, `|` escaped.
fn cell(s: &str) -> String {
    s.replace(['\r', '\n'], " ").replace('|', "\\|")
}

/// A file's levels in one line: the full report when there is one, else peak and clips.
pub fn levels_text(f: &TakeTrack) -> String {
    match &f.levels {
        Some(l) => full_levels(l),
        None => {
            let mut s = format!("peak {} dBFS", dbfs_text(f.peak_dbfs));
            if f.clipped_samples > 0 {
                let _ = write!(s, ", {} clipped", f.clipped_samples);
            }
            s
        }
    }
}

fn full_levels(l: &Levels) -> String {
    let opt = |v: Option<f64>, unit: &str| match v {
        Some(v) => format!("{v:.1} {unit}"),
        None => format!("- {unit}"),
    };
    let mut s = format!(
        "peak {} dBFS, true peak {}, {}, LRA {}, RMS {} dBFS, DC {:+.5}",
        dbfs_text(l.sample_peak_dbfs),
        opt(l.true_peak_dbtp, "dBTP"),
        opt(l.integrated_lufs, "LUFS"),
        opt(l.loudness_range_lu, "LU"),
        dbfs_text(l.rms_dbfs),
        l.dc_offset,
    );
    if let Some(n) = l.noise_floor_dbfs {
        let _ = write!(s, ", noise floor {n:.1} dBFS");
    }
    if l.clipped_samples > 0 {
        let _ = write!(
            s,
            ", {} clipped (longest run {})",
            l.clipped_samples, l.longest_clipped_run
        );
    }
    s
}

fn take_kind(t: &TakeRecord) -> &'static str {
    match t.kind {
        TakeKind::Recorded => "recorded",
        TakeKind::Overdub => "overdub",
        TakeKind::Imported => "imported",
    }
}

/// The note that applies to a file: its own, else its take's.
fn note_for(take: &TakeRecord, f: &TakeTrack) -> Option<String> {
    f.triage
        .as_ref()
        .and_then(|t| t.note.clone())
        .or_else(|| take.triage.as_ref().and_then(|t| t.note.clone()))
}

/// The sheet's text. `pictures` lists the waveform pictures drawn (relative paths).
pub fn render(m: &Manifest, pictures: &[String], problems: &[String]) -> String {
    let rate = m.sample_rate;
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", m.session);
    let _ = writeln!(
        s,
        "{} Hz, {}, {} track{}, {} take{}. Every file of a take starts at the take's first frame; \
         `session.json` beside this sheet holds everything below and more.\n",
        rate,
        m.format,
        m.tracks.len(),
        if m.tracks.len() == 1 { "" } else { "s" },
        m.takes.len(),
        if m.takes.len() == 1 { "" } else { "s" },
    );

    s.push_str("## Tracks\n\n");
    for t in &m.tracks {
        let _ = writeln!(s, "### {:02} {}\n", t.number, t.name);
        let role = t.role.as_deref().unwrap_or("-");
        let input = t
            .input
            .map_or_else(|| "imported".to_string(), |i| format!("input {i}"));
        let plays = playing_take(m, t.number).map_or_else(
            || "plays nothing yet".to_string(),
            |n| format!("plays take {n}"),
        );
        let _ = writeln!(s, "Role {role}, {input}, {plays}.\n");
        let takes: Vec<(&TakeRecord, &TakeTrack)> = m
            .takes
            .iter()
            .filter_map(|take| Some((take, take.tracks.iter().find(|f| f.track == t.number)?)))
            .collect();
        if takes.is_empty() {
            s.push_str("No take yet.\n\n");
            continue;
        }
        s.push_str("| take | verdict | note | file | length | levels | dropouts |\n");
        s.push_str("|---|---|---|---|---|---|---|\n");
        for (take, f) in takes {
            let verdict = match take.mark_for(f.track) {
                Some(k) => mark_word(Some(k)).to_string(),
                None => String::new(),
            };
            let dropouts = if take.dropouts.is_empty() {
                "none".to_string()
            } else {
                format!("{} ({} frames)", take.dropouts.len(), take.dropout_frames)
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                take.number,
                verdict,
                cell(&note_for(take, f).unwrap_or_default()),
                file_links(f),
                clock(f.frames as f64 / f64::from(rate.max(1))),
                cell(&levels_text(f)),
                dropouts
            );
        }
        s.push('\n');
    }

    s.push_str("## Takes\n\n");
    for take in &m.takes {
        let verdict = take
            .triage
            .as_ref()
            .and_then(|t| t.mark)
            .map(|k| format!(" ({})", mark_word(Some(k))))
            .unwrap_or_default();
        let _ = writeln!(s, "### Take {}{verdict}\n", take.number);
        let state = match take.state {
            TakeState::Recording => "still recording, or cut short (run `tapedeck recover`)",
            TakeState::Complete => "complete",
            TakeState::Recovered => "recovered after it was cut short",
        };
        let _ = writeln!(
            s,
            "{}, {state}, {} long, at {} on the song; started {}{}.\n",
            take_kind(take),
            clock(take.length_seconds),
            song_clock(take.timeline_start, rate),
            take.started_at.format("%Y-%m-%d %H:%M:%S"),
            take.end_reason
                .map(|r| format!(", ended because {}", r.describe()))
                .unwrap_or_default(),
        );
        if let Some(note) = take.triage.as_ref().and_then(|t| t.note.as_ref()) {
            let _ = writeln!(s, "Note: {}\n", note.replace('\n', " "));
        }
        if take.dropouts.is_empty() {
            s.push_str("Dropouts: none.\n\n");
        } else {
            let _ = writeln!(
                s,
                "Dropouts ({} frames in all, zero-filled in every file of the take):\n",
                take.dropout_frames
            );
            for d in &take.dropouts {
                let _ = writeln!(
                    s,
                    "- at {} ({} frames), {} frames{}: {}",
                    clock(d.at_seconds),
                    d.at_frame,
                    d.frames,
                    if d.exact { "" } else { " (estimated)" },
                    d.cause
                );
            }
            s.push('\n');
        }
        if !take.markers.is_empty() {
            s.push_str("Markers:\n\n");
            for mk in &take.markers {
                let _ = writeln!(s, "- {} {}", clock(mk.seconds), mk.label);
            }
            s.push('\n');
        }
        for f in &take.tracks {
            let rel = picture_path(&f.file);
            if pictures.contains(&rel) {
                let _ = writeln!(
                    s,
                    "![{:02} {}, take {}]({})\n",
                    f.track,
                    cell(&f.name),
                    take.number,
                    rel.replace(' ', "%20")
                );
            }
        }
    }

    if !m.notes.is_empty() {
        s.push_str("## Notes\n\n");
        for n in &m.notes {
            let take = n.take.map(|t| format!(" (take {t})")).unwrap_or_default();
            let _ = writeln!(
                s,
                "- {}{take}: {}",
                n.at.format("%Y-%m-%d %H:%M:%S"),
                n.text.replace('\n', " ")
            );
        }
        s.push('\n');
    }
    if !problems.is_empty() {
        s.push_str("## Not shown\n\n");
        for p in problems {
            let _ = writeln!(s, "- {p}");
        }
        s.push('\n');
    }
    s
}
