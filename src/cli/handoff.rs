//! `tapedeck handoff SESSION DEST [--takes kept|playing|all]`: the folder for the mixer.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::take::session_dir;
use crate::error::Error;
use crate::handoff::package::{self, HandoffRequest, Takes};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TakesArg {
    /// Files marked keep or circled.
    Kept,
    /// Each track's playing take.
    Playing,
    /// Every take.
    All,
}

#[derive(Args, Debug)]
pub(crate) struct HandoffArgs {
    /// Session name (a folder under --dir) or a path to a session folder.
    #[arg(value_name = "SESSION")]
    session: String,
    /// The folder to make; it must not exist.
    #[arg(value_name = "DEST")]
    dest: PathBuf,
    /// Which takes go in.
    #[arg(long, value_enum, default_value_t = TakesArg::Kept, value_name = "WHICH")]
    takes: TakesArg,
    /// Folder that holds sessions.
    #[arg(long, value_name = "PATH", default_value = super::plan::DEFAULT_DIR)]
    dir: PathBuf,
}

pub(crate) fn run(a: HandoffArgs) -> Result<i32, Error> {
    let session = session_dir(Some(&a.session), &a.dir)?;
    let takes = match a.takes {
        TakesArg::Kept => Takes::Kept,
        TakesArg::Playing => Takes::Playing,
        TakesArg::All => Takes::All,
    };
    let report = package::handoff(&HandoffRequest {
        session: &session,
        dest: &a.dest,
        takes,
    })?;
    for w in &report.warnings {
        eprintln!("tapedeck: warning: {w}");
    }
    let bytes: u64 = report.files.iter().map(|f| f.bytes).sum();
    let takes: Vec<String> = report.takes.iter().map(u32::to_string).collect();
    println!(
        "{}: {} audio file{} of take{} {}, {} files in all ({:.1} MB), every one checked and listed in {}",
        report.dest.display(),
        report.audio,
        if report.audio == 1 { "" } else { "s" },
        if takes.len() == 1 { "" } else { "s" },
        takes.join(", "),
        report.files.len(),
        bytes as f64 / 1e6,
        package::CHECKSUMS
    );
    Ok(0)
}
