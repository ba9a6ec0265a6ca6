//! `tapedeck export`: a session as a project another program opens, each chosen take at its
//! place on the song timeline to the sample: an Ardour 7 session, a DAWproject file or a
//! REAPER project.
//!
//! The manifest becomes one model first (`model`: tracks, their takes' clips in frames,
//! markers); names are fitted to the format (`names`); the audio is referenced, copied or
//! linked (`media`); then one writer per format turns the model into its file. Nothing is
//! created before the whole session has been checked, and a destination that exists is
//! refused, so an export never overwrites anything.

mod ardour;
mod dawproject;
mod media;
mod model;
mod names;
mod reaper;
mod text;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::session::manifest::{FILE_NAME, Manifest};

/// The formats `tapedeck export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// An Ardour 7 session folder (`.ardour`, format 7002).
    Ardour,
    /// A DAWproject file (`.dawproject`: Bitwig Studio, Studio One, Cubase, ...).
    Dawproject,
    /// A REAPER project (`.RPP`).
    Reaper,
}

impl ExportFormat {
    /// The format's name for people.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ardour => "Ardour",
            Self::Dawproject => "DAWproject",
            Self::Reaper => "REAPER",
        }
    }

    /// The folder name of the default destination (`SESSION/export/<this>`).
    pub fn folder(self) -> &'static str {
        match self {
            Self::Ardour => "ardour",
            Self::Dawproject => "dawproject",
            Self::Reaper => "reaper",
        }
    }
}

/// Which takes go into the export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TakeSelection {
    /// Every take or track file marked keep or circled.
    Kept,
    /// Each track's playing take (what `tapedeck play` plays).
    Playing,
    /// Every take.
    All,
}

impl TakeSelection {
    pub fn name(self) -> &'static str {
        match self {
            Self::Kept => "kept",
            Self::Playing => "playing",
            Self::All => "all",
        }
    }
}

/// Where the exported project finds its audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// The project refers to the session's own files where they are (absolute paths).
    Reference,
    /// The audio is copied into the export (the format's own place for it), so the export
    /// folder travels on its own.
    Copy,
    /// As Copy, but hard links where the destination is on the same file system (one file,
    /// so two copies can never diverge); falls back to copying, and says which it did.
    Link,
}

/// What to export, and where.
#[derive(Clone, Debug)]
pub struct ExportRequest<'a> {
    /// The session folder (holding session.json).
    pub session: &'a Path,
    pub format: ExportFormat,
    pub takes: TakeSelection,
    /// A folder to create; refused if it exists (nothing overwritten).
    pub dest: &'a Path,
    pub media: Media,
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportReport {
    /// The .ardour / .dawproject / .RPP written.
    pub project_file: PathBuf,
    /// Everything the export created (project, copies, ...).
    pub files_written: Vec<PathBuf>,
    /// The audio files the project refers to, as written: the session's files (referenced),
    /// the copies or links in the export, or for audio stored inside a .dawproject, its path
    /// inside the zip.
    pub audio: Vec<PathBuf>,
    /// Clips (one take of one track each) in the project.
    pub clips: usize,
    /// Tracks in the project.
    pub tracks: usize,
    /// Markers in the project (take starts, the takes' markers, dropouts).
    pub markers: usize,
    /// How the audio got there, in words ("referenced in place", "copied", "hard-linked").
    pub media: String,
    /// E.g. names changed to fit the format, dropouts made markers, a recovered take.
    pub warnings: Vec<String>,
}

/// Why an export was refused or failed. Every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The request cannot be met as given (bad session, nothing to export, a missing file, a
    /// destination that exists): nothing was written.
    #[error("{0}")]
    Refused(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl ExportError {
    fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// Exports the session as `req` says. Everything is checked before anything is written; a
/// failure while writing removes the destination folder it had created.
pub fn export(req: &ExportRequest<'_>) -> Result<ExportReport, ExportError> {
    let manifest_path = req.session.join(FILE_NAME);
    if !manifest_path.is_file() {
        return Err(ExportError::Refused(format!(
            "{} is not a tapedeck session (no {FILE_NAME}); give the session's folder",
            req.session.display()
        )));
    }
    let manifest =
        Manifest::load(&manifest_path).map_err(|e| ExportError::Refused(e.to_string()))?;
    let session = fs::canonicalize(req.session)
        .map_err(|e| ExportError::io(format!("cannot resolve {}", req.session.display()), e))?;
    let mut project = model::build(&session, &manifest, req.takes)?;
    let renamed = names::fit(req.format, &mut project);
    check_dest(req.dest)?;
    create_dest(req.dest)?;
    let result = write(req, &project);
    match result {
        Ok(mut report) => {
            let mut warnings = project.warnings.clone();
            warnings.extend(renamed);
            warnings.append(&mut report.warnings);
            report.warnings = warnings;
            Ok(report)
        }
        Err(e) => {
            // The folder is ours (made just now): nothing else is in it.
            let _ = fs::remove_dir_all(req.dest);
            Err(e)
        }
    }
}

/// The file name (without extension) the project takes from the session's name.
fn project_stem(project: &model::Project) -> String {
    let stem = crate::session::naming::file_part(&project.name);
    if stem.is_empty() {
        "session".to_string()
    } else {
        stem
    }
}

fn write(req: &ExportRequest<'_>, project: &model::Project) -> Result<ExportReport, ExportError> {
    let dest = req.dest;
    let stem = project_stem(project);
    match req.format {
        ExportFormat::Ardour => {
            let audio_dir = PathBuf::from("interchange").join(&stem).join("audiofiles");
            let placed =
                media::place(project, req.media, dest, &audio_dir, media::Refer::FileName)?;
            let file = dest.join(format!("{stem}.ardour"));
            let xml = ardour::session_xml(project, &stem, &placed.refs);
            write_new(&file, xml.as_bytes())?;
            Ok(placed.report(project, file))
        }
        ExportFormat::Reaper => {
            let placed = media::place(
                project,
                req.media,
                dest,
                Path::new("Media"),
                media::Refer::Relative,
            )?;
            let file = dest.join(format!("{stem}.RPP"));
            let text = reaper::project_text(project, &placed.refs);
            write_new(&file, text.as_bytes())?;
            Ok(placed.report(project, file))
        }
        ExportFormat::Dawproject => {
            let file = dest.join(format!("{stem}.dawproject"));
            dawproject::write(project, req.media, dest, &file)
        }
    }
}

/// Refuses a destination that exists, before anything is made.
fn check_dest(dest: &Path) -> Result<(), ExportError> {
    if fs::symlink_metadata(dest).is_ok() {
        return Err(ExportError::Refused(format!(
            "{} exists; nothing was written. Choose another folder with --out, or move it aside",
            dest.display()
        )));
    }
    Ok(())
}

/// Makes the destination folder; its parents are made when missing. Fails if the folder
/// appeared since it was checked, so nothing is ever written into someone else's folder.
fn create_dest(dest: &Path) -> Result<(), ExportError> {
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .map_err(|e| ExportError::io(format!("cannot create {}", parent.display()), e))?;
    }
    fs::create_dir(dest).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            ExportError::Refused(format!(
                "{} exists; nothing was written. Choose another folder with --out, or move it aside",
                dest.display()
            ))
        } else {
            ExportError::io(format!("cannot create {}", dest.display()), e)
        }
    })
}

/// Writes a file that must not exist yet, and syncs it.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    use std::io::Write;
    let cannot = |e| ExportError::io(format!("cannot write {}", path.display()), e);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(cannot)?;
    f.write_all(bytes).map_err(cannot)?;
    f.sync_all().map_err(cannot)
}
