//! What front ends say about a finished take, in the same words on every one.

use crate::display::clock;
use crate::engine::TakeSummary;

pub(crate) fn describe_take(s: &TakeSummary, session_dir: &str) -> String {
    let (drops, clips, why) = outcome(s);
    format!(
        "take {} done{why}: {} ({} frames), {} files in {session_dir}/{}; {drops}{clips}",
        s.take,
        clock(s.seconds),
        s.frames,
        s.files.len(),
        s.folder
    )
}

/// The same on one screen line, most important first: how it ended, what went wrong, the
/// loudest levels; where the files are last, where a narrow terminal cuts the line.
pub(crate) fn describe_take_brief(s: &TakeSummary, session_dir: &str) -> String {
    let (drops, clips, why) = outcome(s);
    let levels = levels_brief(s)
        .map(|l| format!("; {l}"))
        .unwrap_or_default();
    format!(
        "take {} done{why}: {}; {drops}{clips}{levels}; files in {session_dir}/{}",
        s.take,
        clock(s.seconds),
        s.folder
    )
}

/// Dropouts, clipped samples and why the take ended, in words.
fn outcome(s: &TakeSummary) -> (String, String, String) {
    let lost: u64 = s.dropouts.iter().map(|d| d.frames).sum();
    let drops = if s.dropouts.is_empty() {
        "no dropouts".to_string()
    } else {
        format!(
            "{} DROPOUT(S), {lost} frames zero-filled (see session.json)",
            s.dropouts.len()
        )
    };
    let clips = if s.clipped_samples > 0 {
        format!(", {} clipped samples", s.clipped_samples)
    } else {
        String::new()
    };
    let why = match &s.detail {
        Some(d) => format!(" ({}: {d})", s.reason.describe()),
        None => String::new(),
    };
    (drops, clips, why)
}

/// A level in dB to one decimal with its unit, or "-inf" (digital silence) / "n/a" (not
/// measurable, for loudness).
pub(crate) fn db(v: Option<f64>, unit: &str, none: &str) -> String {
    match v {
        Some(v) => format!("{v:.1} {unit}"),
        None => none.to_string(),
    }
}

/// One file's level report on one line, e.g.
/// `01 Kick: peak -5.9 dBFS, true peak -5.6 dBTP, -18.2 LUFS, LRA 4.3 LU, RMS -21.0 dBFS,
/// DC 0.000012, 0 clipped, floor -61.2 dBFS`.
pub(crate) fn describe_levels(t: &crate::session::manifest::TakeTrack) -> String {
    let head = format!("{:02} {}", t.track, t.name);
    let Some(l) = &t.levels else {
        return format!("{head}: no level report");
    };
    let clips = if l.clipped_samples > 0 {
        format!(
            "{} CLIPPED (longest run {})",
            l.clipped_samples, l.longest_clipped_run
        )
    } else {
        "0 clipped".to_string()
    };
    format!(
        "{head}: peak {}, true peak {}, {}, LRA {}, RMS {}, DC {:.6}, {clips}, floor {}",
        db(l.sample_peak_dbfs, "dBFS", "-inf"),
        db(l.true_peak_dbtp, "dBTP", "-inf"),
        db(l.integrated_lufs, "LUFS", "n/a LUFS"),
        db(l.loudness_range_lu, "LU", "n/a"),
        db(l.rms_dbfs, "dBFS", "-inf"),
        l.dc_offset,
        db(l.noise_floor_dbfs, "dBFS", "-inf"),
    )
}

/// The take's levels in one short phrase, for a one-line display: the highest true peak and
/// the loudest file.
pub(crate) fn levels_brief(s: &TakeSummary) -> Option<String> {
    let measured = || {
        s.tracks
            .iter()
            .filter_map(|t| Some((t, t.levels.as_ref()?)))
    };
    let (tp_track, tp) = measured()
        .filter_map(|(t, l)| Some((t, l.true_peak_dbtp?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let mut out = format!("true peak {tp:.1} dBTP ({})", tp_track.name);
    if let Some((t, lufs)) = measured()
        .filter_map(|(t, l)| Some((t, l.integrated_lufs?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    {
        out.push_str(&format!(", loudest {lufs:.1} LUFS ({})", t.name));
    }
    Some(out)
}
