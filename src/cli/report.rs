//! `tapedeck report [SESSION] [--json] [--take N]`: each take's level report, file by file, as
//! the manifest keeps it: a table for people, or JSON with the manifest's field names.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::display::clock;
use crate::error::Error;
use crate::session::manifest::{FILE_NAME, Levels, Manifest, TakeRecord};

/// What the report covers.
#[derive(clap::Args, Debug)]
pub(crate) struct ReportArgs {
    /// Session name (a folder under --dir) or a path to a session folder (default: the
    /// current folder if it is a session, else the session under --dir updated last).
    #[arg(value_name = "SESSION")]
    pub(crate) session: Option<String>,
    /// Folder that holds sessions.
    #[arg(long, value_name = "PATH", default_value = super::plan::DEFAULT_DIR)]
    pub(crate) dir: PathBuf,
    /// JSON, with the manifest's field names.
    #[arg(long)]
    pub(crate) json: bool,
    /// Only this take.
    #[arg(long, value_name = "N")]
    pub(crate) take: Option<u32>,
}

/// How a mono file's loudness is counted, said under every table.
const CONVENTION: &str = "Loudness: EBU R 128 / ITU-R BS.1770. A mono file counts its channel once \
(a -20 dBFS 1 kHz sine reads -23.0 LUFS; counted as dual mono it would read -20.0).";

/// The session folder: a path to one, a name under `dir`, or with none given the current
/// folder when it is a session, else the session under `dir` updated last.
fn find_session(session: Option<&str>, dir: &Path) -> Result<PathBuf, Error> {
    match session {
        Some(s) => super::named_session(s, dir),
        None if Path::new(FILE_NAME).exists() => Ok(PathBuf::from(".")),
        None => {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                Error::usage(format!(
                    "cannot read --dir {}: {e}; give a session, or the folder that holds sessions",
                    dir.display()
                ))
            })?;
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter_map(|p| {
                    let m = Manifest::load(&p.join(FILE_NAME)).ok()?;
                    Some((m.updated, p))
                })
                .max()
                .map(|(_, p)| p)
                .ok_or_else(|| {
                    Error::usage(format!(
                        "no session in {}; give a session name or path",
                        dir.display()
                    ))
                })
        }
    }
}

pub(crate) fn run(a: ReportArgs) -> Result<i32, Error> {
    let dir = find_session(a.session.as_deref(), &a.dir)?;
    let m = Manifest::load(&dir.join(FILE_NAME)).map_err(|e| Error::Runtime(e.to_string()))?;
    let takes: Vec<&TakeRecord> = m
        .takes
        .iter()
        .filter(|t| a.take.is_none_or(|n| t.number == n))
        .collect();
    if let Some(n) = a.take
        && takes.is_empty()
    {
        let have: Vec<String> = m.takes.iter().map(|t| t.number.to_string()).collect();
        return Err(Error::usage(format!(
            "session {} has no take {n}; its takes are: {}",
            m.session,
            if have.is_empty() {
                "none yet".to_string()
            } else {
                have.join(", ")
            }
        )));
    }
    if a.json {
        let v = serde_json::json!({
            "session": m.session,
            "sample_rate": m.sample_rate,
            "format": m.format,
            "loudness_convention": "mono files count their channel once (single channel)",
            "takes": takes.iter().map(|t| serde_json::json!({
                "take": t.number,
                "kind": t.kind,
                "state": t.state,
                "length_frames": t.length_frames,
                "length_seconds": t.length_seconds,
                "tracks": t.tracks.iter().map(|f| serde_json::json!({
                    "track": f.track,
                    "name": f.name,
                    "file": f.file,
                    "parts": (!f.parts.is_empty()).then_some(&f.parts),
                    "channels": f.channels,
                    "frames": f.frames,
                    "levels": f.levels,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&v).map_err(|e| Error::Runtime(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", table(&m, &takes));
    }
    Ok(0)
}

/// A figure right-aligned in `w` columns, one decimal; `none` for a missing one.
fn num(v: Option<f64>, w: usize, none: &str) -> String {
    match v {
        Some(v) => format!("{v:>w$.1}"),
        None => format!("{none:>w$}"),
    }
}

fn row(name: &str, l: &Levels) -> String {
    format!(
        "{name} {} {} {} {} {} {:>9.6} {:>8} {:>5} {}",
        num(l.sample_peak_dbfs, 6, "-inf"),
        num(l.true_peak_dbtp, 6, "-inf"),
        num(l.integrated_lufs, 6, "n/a"),
        num(l.loudness_range_lu, 5, "n/a"),
        num(l.rms_dbfs, 6, "-inf"),
        l.dc_offset,
        l.clipped_samples,
        l.longest_clipped_run,
        num(l.noise_floor_dbfs, 6, "-inf"),
    )
}

/// The readable report: a table per take, a row per file.
fn table(m: &Manifest, takes: &[&TakeRecord]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "session {}: {} Hz {}, {} take{}",
        m.session,
        m.sample_rate,
        m.format,
        m.takes.len(),
        if m.takes.len() == 1 { "" } else { "s" }
    );
    let width = takes
        .iter()
        .flat_map(|t| &t.tracks)
        .map(|f| f.name.chars().count() + 3)
        .max()
        .unwrap_or(8)
        .max(8);
    for t in takes {
        let kind = serde_json::to_value(t.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let state = serde_json::to_value(t.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\ntake {} ({kind}, {state}), {}",
            t.number,
            clock(t.length_seconds)
        );
        let _ = writeln!(
            out,
            "  {:<width$}   peak  tpeak  integ   LRA    RMS        DC  clipped   run  floor",
            "track"
        );
        let _ = writeln!(
            out,
            "  {:<width$}   dBFS   dBTP   LUFS    LU   dBFS                           dBFS",
            ""
        );
        for f in &t.tracks {
            let name = format!("{:02} {}", f.track, f.name);
            let name = format!("{name:<width$}");
            match &f.levels {
                Some(l) => {
                    let _ = writeln!(out, "  {}", row(&name, l));
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  {name} no level report (a file from before level reports, or its measurement was given up: see the session's notes)"
                    );
                }
            }
        }
    }
    let _ = writeln!(out, "\n{CONVENTION}");
    out
}
