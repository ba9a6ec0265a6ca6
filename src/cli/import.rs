//! `tapedeck import FILE...`: WAV/BWF files (a backing track, the arranger's stems) added to a
//! session as tracks the song plays, copied unchanged.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::session::{self, Session, SessionInit, import};
use crate::song_time::SongTime;

pub(crate) struct ImportArgs {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) session: String,
    pub(crate) dir: PathBuf,
    pub(crate) at: Option<SongTime>,
    pub(crate) names: Vec<String>,
}

pub(crate) fn run(a: ImportArgs) -> Result<i32, Error> {
    session::check_root(&a.dir)?;
    let files = import::check(&a.files, &a.names)?;
    let first = files
        .first()
        .ok_or_else(|| Error::usage("name at least one WAV file to import"))?;
    let existing = session::inspect(&a.dir, &a.session)?;
    let (rate, format, device) = match &existing {
        Some(m) => (m.sample_rate, m.format.clone(), m.device.clone()),
        None => (
            first.info.sample_rate,
            import::format_of(&first.info).name().to_string(),
            import::device_of(first),
        ),
    };
    if rate != first.info.sample_rate {
        return Err(Error::usage(format!(
            "{} is at {} Hz; the session {:?} is at {rate} Hz; convert it first, e.g. sox {} -r {rate} out.wav",
            first.path.display(),
            first.info.sample_rate,
            a.session,
            first.path.display()
        )));
    }
    if existing.is_some() {
        Session::check_not_busy(&a.dir, &a.session)?;
    }
    let init = SessionInit {
        sample_rate: rate,
        format,
        device,
        tracks: Vec::new(),
    };
    let mut s = Session::open(&a.dir, &a.session, init, session::now())?;
    let at = a.at.map_or(0, |t| t.frames(rate));
    let take = s.import(&files, at)?;
    println!(
        "tapedeck: imported {} file{} into {} as take {take}",
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        display(s.dir())
    );
    Ok(0)
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
