//! `tapedeck take keep|no-good|circle|clear|note TAKE [--track N] [--note TEXT] [SESSION]` and
//! `tapedeck sheet [SESSION]`: a take's verdict, and the track sheet, from the command line.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::plan;
use crate::control::protocol::Verdict;
use crate::error::Error;
use crate::handoff::sheet;
use crate::session::manifest::{self, Manifest, Mark};
use crate::session::triage::{self, TriageChange, TriageTarget};

#[derive(Subcommand, Debug)]
pub(crate) enum TakeCmd {
    /// Mark a take (or one track's file of it) as one to keep.
    Keep(MarkArgs),
    /// Mark a take (or one track's file) not to use; nothing is deleted.
    NoGood(MarkArgs),
    /// Circle a take (or one track's file): the keeper to use.
    Circle(MarkArgs),
    /// Remove a take's (or one track's) mark and note.
    Clear(MarkArgs),
    /// Write (or with "" remove) a take's or one track's note, leaving its mark.
    Note {
        #[command(flatten)]
        at: Where,
        /// The note.
        #[arg(value_name = "TEXT")]
        text: String,
    },
}

/// Which take of which session.
#[derive(Args, Debug)]
pub(crate) struct Where {
    /// The take's number.
    #[arg(value_name = "TAKE")]
    take: u32,
    /// Only this track's file of the take (its number); it then overrides the take's mark.
    #[arg(long, value_name = "N")]
    track: Option<u16>,
    /// Session: a path to its folder, or its name under --dir (default: the current folder).
    #[arg(long, value_name = "SESSION")]
    session: Option<String>,
    /// Folder that holds sessions.
    #[arg(long, value_name = "PATH", default_value = plan::DEFAULT_DIR)]
    dir: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct MarkArgs {
    #[command(flatten)]
    at: Where,
    /// A note to go with the mark (the note already there stays otherwise).
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
}

/// The session folder: a path to one, or a name under `dir`; none given: the current folder.
pub(crate) fn session_dir(session: Option<&str>, dir: &Path) -> Result<PathBuf, Error> {
    let Some(s) = session else {
        let here = PathBuf::from(".");
        if here.join(manifest::FILE_NAME).exists() {
            return Ok(here);
        }
        return Err(Error::usage(
            "the current folder is not a session (no session.json); give one with --session NAME or --session PATH",
        ));
    };
    super::named_session(s, dir)
}

pub(crate) fn run(cmd: TakeCmd) -> Result<i32, Error> {
    // The verdict as the control socket names it too (a recorder may hold the session).
    let (at, change, verdict, note) = match cmd {
        TakeCmd::Keep(a) => (
            a.at,
            TriageChange::mark(Mark::Keep, a.note.clone()),
            Verdict::Keep,
            a.note,
        ),
        TakeCmd::NoGood(a) => (
            a.at,
            TriageChange::mark(Mark::NoGood, a.note.clone()),
            Verdict::NoGood,
            a.note,
        ),
        TakeCmd::Circle(a) => (
            a.at,
            TriageChange::mark(Mark::Circled, a.note.clone()),
            Verdict::Circle,
            a.note,
        ),
        TakeCmd::Clear(a) => {
            if a.note.is_some() {
                return Err(Error::usage(
                    "clear removes the mark and the note; to change only the note use `tapedeck take note`",
                ));
            }
            (a.at, TriageChange::clear(), Verdict::Clear, None)
        }
        TakeCmd::Note { at, text } => (at, TriageChange::note(&text), Verdict::Note, Some(text)),
    };
    let dir = session_dir(at.session.as_deref(), &at.dir)?;
    let target = TriageTarget {
        take: at.take,
        track: at.track,
    };
    // A recorder holds the session: it makes the change (the session is its to write), told
    // through its control socket. Without one answering, the refusal below says what to do.
    if crate::session::lock::is_locked(&dir)
        && let Some(mut client) = super::ctl::recorder_of(&dir)
    {
        return Ok(super::ctl::send_verdict(
            &mut client,
            verdict,
            target.take,
            target.track,
            note,
        )?);
    }
    let (m, outcome) = triage::apply_to_folder(&dir, &target, &change)?;
    println!("{}", outcome.summary);
    for w in &outcome.warnings {
        eprintln!("tapedeck: warning: {w}");
    }
    write_sheet(&dir, &m);
    Ok(0)
}

/// The sheet after a change: a failure is a warning (the verdict is saved already).
fn write_sheet(dir: &Path, m: &Manifest) {
    match sheet::write(dir, m) {
        Ok(r) => {
            for p in r.problems {
                eprintln!("tapedeck: warning: track sheet: {p}");
            }
        }
        Err(e) => eprintln!(
            "tapedeck: warning: could not write {}: {e}",
            dir.join(sheet::FILE_NAME).display()
        ),
    }
}

/// `tapedeck sheet [SESSION]`: writes TRACKS.md (and the kept takes' pictures) now.
pub(crate) fn run_sheet(session: Option<&str>, dir: &Path) -> Result<i32, Error> {
    let folder = session_dir(session, dir)?;
    let m = Manifest::load(&folder.join(manifest::FILE_NAME))
        .map_err(|e| Error::Runtime(e.to_string()))?;
    let r = sheet::write(&folder, &m).map_err(|e| {
        Error::io(
            format!("cannot write {}", folder.join(sheet::FILE_NAME).display()),
            e,
        )
    })?;
    println!(
        "{} ({} waveform picture{})",
        r.path.display(),
        r.pictures.len(),
        if r.pictures.len() == 1 { "" } else { "s" }
    );
    for p in &r.problems {
        eprintln!("tapedeck: warning: {p}");
    }
    Ok(0)
}
