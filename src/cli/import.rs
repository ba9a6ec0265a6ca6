//! `tapedeck import FILE... [--session NAME] [--dir DIR] [--at TIME] [--name NAME]...`: WAV or
//! Broadcast Wave files (mono or stereo, at the session's rate) become new tracks of one new
//! take, copied into the session unchanged and placed on the song timeline at `--at`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::plan::{self, Surroundings};
use crate::error::Error;
use crate::session::import::{self, ImportFile, ImportReport};
use crate::session::{self, naming};
use crate::song_time::{self, SongTime};

#[derive(Args, Debug)]
pub(crate) struct ImportArgs {
    /// WAV or Broadcast Wave files, mono or stereo, at the session's sample rate; each becomes
    /// a new track.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Session name (a folder under --dir); a new one takes the first file's rate.
    #[arg(long, value_name = "NAME", value_parser = plan::parse_session_name)]
    session: Option<String>,
    /// Folder that holds sessions (default ./sessions, created when missing).
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// Where the files start on the song timeline: seconds (90, 1.5), m:ss, h:mm:ss, or a
    /// frame count (123456f).
    #[arg(long, value_name = "TIME", default_value = "0", value_parser = song_time::parse)]
    at: SongTime,
    /// Track name of the first file, then the second, ... (default: the file's name without
    /// its extension).
    #[arg(long = "name", value_name = "NAME", value_parser = parse_track_name)]
    names: Vec<String>,
}

/// Everything the import will do, checked without touching anything.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ImportPlan {
    files: Vec<ImportFile>,
    session: String,
    root: PathBuf,
    /// The default folder, to be made once the files have been checked.
    create_root: bool,
    at: SongTime,
}

pub(crate) fn plan(a: ImportArgs, env: &Surroundings) -> Result<ImportPlan, Error> {
    if a.names.len() > a.files.len() {
        return Err(Error::usage(format!(
            "{} --name given for {} file(s); give at most one --name per file, in the order of the files",
            a.names.len(),
            a.files.len()
        )));
    }
    let mut files = Vec::new();
    for (i, source) in a.files.into_iter().enumerate() {
        let name = match a.names.get(i) {
            Some(n) => n.clone(),
            None => stem_name(&source)?,
        };
        files.push(ImportFile { source, name });
    }
    let (root, create_root) = match a.dir {
        Some(d) => (d, false),
        None => (PathBuf::from(plan::DEFAULT_DIR), !env.default_dir_exists),
    };
    Ok(ImportPlan {
        files,
        session: a.session.unwrap_or_else(|| session::default_name(env.now)),
        root,
        create_root,
        at: a.at,
    })
}

/// The track name a file gets without --name: its name without the extension.
fn stem_name(source: &Path) -> Result<String, Error> {
    let stem = source
        .file_stem()
        .map(|s| s.to_string_lossy().trim().to_string())
        .unwrap_or_default();
    naming::check_track_name(&stem).map_err(|e| {
        Error::usage(format!(
            "{}: {e}; name its track with --name",
            source.display()
        ))
    })?;
    Ok(stem)
}

pub(crate) fn run(p: ImportPlan) -> Result<i32, Error> {
    if p.create_root {
        // Only once the files are known to be importable: a refused import creates nothing.
        import::check_new(&p.files)?;
        std::fs::create_dir_all(&p.root)
            .map_err(|e| Error::io(format!("cannot create --dir {}", p.root.display()), e))?;
    } else {
        session::check_root(&p.root)?;
    }
    let report = import::import(&p.root, &p.session, &p.files, p.at, session::now)?;
    print_report(&report);
    Ok(0)
}

fn print_report(r: &ImportReport) {
    let new = if r.created { " (new session)" } else { "" };
    println!(
        "{}{new}: take {} imported at {} ({} frames at {} Hz)",
        r.session_dir.display(),
        r.take,
        clock(r.timeline_start, r.sample_rate),
        r.timeline_start,
        r.sample_rate
    );
    for f in &r.files {
        let channels = if f.channels == 2 { "stereo" } else { "mono" };
        println!(
            "  track {} {:?}: {} <- {} ({channels} {}, {} frames = {})",
            f.track,
            f.name,
            f.file,
            f.source.display(),
            f.format,
            f.frames,
            clock(f.frames, r.sample_rate)
        );
        if let Some(asked) = &f.renamed_from {
            println!(
                "    named {:?}: a track is called {asked:?} already",
                f.name
            );
        }
    }
}

/// `m:ss.mmm`, or `h:mm:ss.mmm` from an hour on.
fn clock(frames: u64, rate: u32) -> String {
    let rate = u64::from(rate.max(1));
    let ms = (frames % rate) * 1000 / rate;
    let s = frames / rate;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{ms:03}")
    } else {
        format!("{m}:{s:02}.{ms:03}")
    }
}

fn parse_track_name(s: &str) -> Result<String, String> {
    naming::check_track_name(s).map(|()| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_show_minutes_and_hours() {
        assert_eq!(clock(72_000, 48_000), "0:01.500");
        assert_eq!(clock(3723 * 48_000, 48_000), "1:02:03.000");
    }
}
