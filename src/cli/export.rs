//! `tapedeck export SESSION --to ardour|dawproject|reaper [--takes kept|playing|all]
//! [--out DIR] [--copy|--link]`: the session as a project another program opens.

use std::path::PathBuf;

use clap::Args;

use super::plan;
use crate::error::Error;
use crate::export::{self, ExportError, ExportFormat, ExportRequest, Media, TakeSelection};

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    /// Session name (a folder under --dir) or a path to a session folder.
    #[arg(value_name = "SESSION")]
    session: String,
    /// The format: an Ardour 7 session, a DAWproject file, or a REAPER project.
    #[arg(long = "to", value_enum, value_name = "FORMAT")]
    format: ExportFormat,
    /// Which takes: each track's playing take, the takes marked keep or circled, or all.
    #[arg(long, value_enum, default_value_t = TakeSelection::Playing, value_name = "TAKES")]
    takes: TakeSelection,
    /// The folder to create for the export (default: SESSION/export/FORMAT); refused if it
    /// exists.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Copy the audio into the export, so the folder travels on its own (default: refer to
    /// the session's files where they are).
    #[arg(long, conflicts_with = "link")]
    copy: bool,
    /// As --copy, but hard links where the export is on the session's file system (one file:
    /// the two can never differ); copies where it is not, and says so.
    #[arg(long)]
    link: bool,
    /// Folder that holds sessions.
    #[arg(long, value_name = "PATH", default_value = plan::DEFAULT_DIR)]
    dir: PathBuf,
}

pub(crate) fn run(a: ExportArgs) -> Result<i32, Error> {
    let session = super::named_session(&a.session, &a.dir)?;
    let dest = a
        .out
        .unwrap_or_else(|| session.join("export").join(a.format.folder()));
    let media = if a.link {
        Media::Link
    } else if a.copy {
        Media::Copy
    } else {
        Media::Reference
    };
    let report = export::export(&ExportRequest {
        session: &session,
        format: a.format,
        takes: a.takes,
        dest: &dest,
        media,
    })
    .map_err(|e| match e {
        ExportError::Refused(m) => Error::Usage(m),
        e @ ExportError::Io { .. } => Error::Runtime(e.to_string()),
    })?;
    println!(
        "exported {} for {}: {}",
        session.display(),
        a.format.name(),
        report.project_file.display()
    );
    println!(
        "  {} track(s), {} clip(s) (takes: {}), {} marker(s); audio {}",
        report.tracks,
        report.clips,
        a.takes.name(),
        report.markers,
        report.media
    );
    for w in &report.warnings {
        println!("  note: {w}");
    }
    Ok(0)
}
