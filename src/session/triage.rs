//! Take triage: a take, or one track's file of it, marked keep, no-good or circled, with a
//! note. Kept in the manifest (`TakeRecord.triage`, `TakeTrack.triage`) and in each affected
//! file's iXML (`CIRCLED`, `NO_GOOD`, `NOTE`), rewritten in place: the audio is never
//! rewritten and nothing is ever deleted.
//!
//! While a recorder holds the session, only it writes the manifest: the engine applies the
//! change (`Command::Triage`); `tapedeck take` refuses and says so.

use std::path::Path;

use chrono::{DateTime, FixedOffset};

use super::lock::{self, SessionLock};
use super::manifest::{self, Manifest, Mark, TakeRecord, TakeState, Triage};
use super::{Session, now};
use crate::error::Error;
use crate::wav::ixml_update::{IxmlTriage, IxmlUpdateError, PreparedIxml, prepare_ixml};

/// What to change in a verdict; `None` leaves that part as it is.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TriageChange {
    /// `Some(None)` clears the mark.
    pub mark: Option<Option<Mark>>,
    /// `Some(None)` clears the note.
    pub note: Option<Option<String>>,
}

impl TriageChange {
    /// Sets a mark, and a note if one is given (else the note stays).
    pub fn mark(mark: Mark, note: Option<String>) -> Self {
        Self {
            mark: Some(Some(mark)),
            note: note.map(Some),
        }
    }

    /// Removes the mark and the note: as if never marked.
    pub fn clear() -> Self {
        Self {
            mark: Some(None),
            note: Some(None),
        }
    }

    /// Sets (or with an empty text, removes) the note, leaving the mark.
    pub fn note(text: &str) -> Self {
        let text = text.trim();
        Self {
            mark: None,
            note: Some((!text.is_empty()).then(|| text.to_string())),
        }
    }
}

/// What a triage command addresses: a whole take, or one track's file of it.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TriageTarget {
    pub take: u32,
    pub track: Option<u16>,
}

/// What was done, for the user: what the verdict is now, and files whose iXML could not carry
/// it (the manifest holds it all the same).
#[derive(Clone, Debug, PartialEq)]
pub struct TriageOutcome {
    pub summary: String,
    pub warnings: Vec<String>,
}

/// In words: "keep", "no-good", "circled", "no mark".
pub fn mark_word(mark: Option<Mark>) -> &'static str {
    match mark {
        Some(Mark::Keep) => "keep",
        Some(Mark::NoGood) => "no-good",
        Some(Mark::Circled) => "circled",
        None => "no mark",
    }
}

/// The verdict as one file's iXML carries it: the file's own mark, else the take's, and the
/// file's own note, else the take's.
pub fn ixml_for(take: &TakeRecord, track: u16) -> IxmlTriage {
    let own = take
        .tracks
        .iter()
        .find(|t| t.track == track)
        .and_then(|t| t.triage.as_ref());
    let note = own
        .and_then(|t| t.note.clone())
        .or_else(|| take.triage.as_ref().and_then(|t| t.note.clone()));
    let (circled, no_good) = match take.mark_for(track) {
        Some(Mark::Circled) => (Some(true), Some(false)),
        Some(Mark::NoGood) => (Some(false), Some(true)),
        Some(Mark::Keep) => (Some(false), Some(false)),
        None => (None, None),
    };
    IxmlTriage {
        circled,
        no_good,
        note,
    }
}

fn changed(
    old: Option<&Triage>,
    change: &TriageChange,
    at: DateTime<FixedOffset>,
) -> Option<Triage> {
    let mark = match change.mark {
        Some(m) => m,
        None => old.and_then(|t| t.mark),
    };
    let note = match &change.note {
        Some(n) => n.clone(),
        None => old.and_then(|t| t.note.clone()),
    };
    (mark.is_some() || note.is_some()).then_some(Triage { mark, note, at })
}

/// Applies `change` to the manifest in memory and prepares every affected file's iXML (each
/// one checked, none written). Refuses, changing nothing, a take that does not exist, is
/// still being recorded, or does not hold the track, and a note that does not fit a file.
fn plan(
    dir: &Path,
    m: &mut Manifest,
    target: &TriageTarget,
    change: &TriageChange,
    at: DateTime<FixedOffset>,
) -> Result<(Vec<PreparedIxml>, TriageOutcome), Error> {
    let numbers = || {
        let v: Vec<String> = m.takes.iter().map(|t| t.number.to_string()).collect();
        if v.is_empty() {
            "it has no takes yet".to_string()
        } else {
            format!("its takes are {}", v.join(", "))
        }
    };
    let Some(i) = m.takes.iter().position(|t| t.number == target.take) else {
        return Err(Error::usage(format!(
            "session {:?} has no take {}; {}",
            m.session,
            target.take,
            numbers()
        )));
    };
    let mut take = m.takes[i].clone();
    if take.state == TakeState::Recording {
        return Err(Error::usage(format!(
            "take {} is still being recorded (or was cut short: run `tapedeck recover` first); mark it once it has ended",
            take.number
        )));
    }
    let affected: Vec<u16> = match target.track {
        Some(n) => {
            let Some(f) = take.tracks.iter_mut().find(|f| f.track == n) else {
                let held: Vec<String> = take.tracks.iter().map(|f| f.track.to_string()).collect();
                return Err(Error::usage(format!(
                    "take {} has no track {n}; it holds tracks {}",
                    take.number,
                    held.join(", ")
                )));
            };
            f.triage = changed(f.triage.as_ref(), change, at);
            vec![n]
        }
        None => {
            take.triage = changed(take.triage.as_ref(), change, at);
            take.tracks.iter().map(|f| f.track).collect()
        }
    };
    let mut prepared = Vec::new();
    let mut warnings = Vec::new();
    for n in &affected {
        let Some(f) = take.tracks.iter().find(|f| f.track == *n) else {
            continue;
        };
        // Every part of a split take carries the verdict.
        for part in f.files() {
            match prepare_ixml(&dir.join(&part.file), &ixml_for(&take, *n)) {
                Ok(p) => prepared.push(p),
                Err(e @ IxmlUpdateError::NoRoom { .. }) => {
                    return Err(Error::usage(e.to_string()));
                }
                Err(e) => warnings.push(e.to_string()),
            }
        }
    }
    let scope = match target.track {
        Some(n) => format!("take {} track {n}", take.number),
        None => format!("take {}", take.number),
    };
    let now_mark = match target.track {
        Some(n) => take.mark_for(n),
        None => take.triage.as_ref().and_then(|t| t.mark),
    };
    let note = match target.track {
        Some(n) => take
            .tracks
            .iter()
            .find(|f| f.track == n)
            .and_then(|f| f.triage.as_ref())
            .and_then(|t| t.note.clone()),
        None => take.triage.as_ref().and_then(|t| t.note.clone()),
    };
    let mut summary = format!("{scope}: {}", mark_word(now_mark));
    if let Some(n) = note {
        summary.push_str(&format!(", note {n:?}"));
    }
    m.takes[i] = take;
    m.updated = at;
    Ok((prepared, TriageOutcome { summary, warnings }))
}

/// Writes the prepared iXML updates; a file that fails becomes a warning (the manifest, saved
/// first, holds the verdict).
fn write_all(prepared: Vec<PreparedIxml>, outcome: &mut TriageOutcome) {
    for p in prepared {
        if let Err(e) = p.write() {
            outcome.warnings.push(e.to_string());
        }
    }
}

impl Session {
    /// The recorder's triage: the manifest this session holds, then the files' iXML.
    pub(crate) fn triage(
        &mut self,
        target: &TriageTarget,
        change: &TriageChange,
        at: DateTime<FixedOffset>,
    ) -> Result<TriageOutcome, Error> {
        let mut m = self.manifest.clone();
        let (prepared, mut outcome) = plan(&self.dir, &mut m, target, change, at)?;
        m.save(&self.dir).map_err(|e| {
            Error::io(
                format!(
                    "cannot write {}",
                    self.dir.join(manifest::FILE_NAME).display()
                ),
                e,
            )
        })?;
        self.manifest = m;
        write_all(prepared, &mut outcome);
        Ok(outcome)
    }
}

/// What to do when a recorder holds the session.
const BUSY_THEN: &str =
    "mark the take from the running recorder (select a track of it and press v)";

/// `tapedeck take ...` on a session no recorder holds: takes the session's lock for the time
/// of the change, so that no recorder starts in the middle of it. Returns the manifest as
/// saved, and what was done.
pub fn apply_to_folder(
    dir: &Path,
    target: &TriageTarget,
    change: &TriageChange,
) -> Result<(Manifest, TriageOutcome), Error> {
    let path = dir.join(manifest::FILE_NAME);
    if !path.exists() {
        return Err(Error::usage(format!(
            "{} is not a tapedeck session (no {}); give a session folder, or a session's name with --dir",
            dir.display(),
            manifest::FILE_NAME
        )));
    }
    if lock::is_locked(dir) {
        return Err(lock::busy(dir, BUSY_THEN));
    }
    let _lock = SessionLock::acquire(dir, BUSY_THEN)?;
    // Read under the lock: a recorder may have changed it just before.
    let mut m = Manifest::load(&path).map_err(|e| Error::Runtime(e.to_string()))?;
    let (prepared, mut outcome) = plan(dir, &mut m, target, change, now())?;
    m.save(dir)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    write_all(prepared, &mut outcome);
    Ok((m, outcome))
}
