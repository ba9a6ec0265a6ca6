//! What front ends say about a finished take, in the same words on every one.

use crate::display::clock;
use crate::engine::TakeSummary;

pub(crate) fn describe_take(s: &TakeSummary, session_dir: &str) -> String {
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
    format!(
        "take {} done{why}: {} ({} frames), {} files in {session_dir}/{}; {drops}{clips}",
        s.take,
        clock(s.seconds),
        s.frames,
        s.files.len(),
        s.folder
    )
}
