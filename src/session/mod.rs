//! A session folder: its manifest journal, its takes, and the names of everything in it.
//!
//! `Session` is the only writer of `session.json` while recording: the engine tells it when a
//! take begins, finishes or is abandoned and when something worth a note happens, and it
//! journals each of those atomically before anything depends on it.

pub(crate) mod import;
pub(crate) mod lock;
pub mod manifest;
pub(crate) mod naming;
pub(crate) mod recover;
pub mod song;
pub mod triage;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Local};

use crate::error::Error;
use lock::SessionLock;
pub use manifest::{Manifest, ManifestError};
use manifest::{NoteRecord, TakeEnd, TakeRecord, TrackRecord};

/// What a new session's manifest starts with, and what this run records with.
pub(crate) struct SessionInit {
    pub(crate) sample_rate: u32,
    pub(crate) format: String,
    pub(crate) device: manifest::DeviceRecord,
    pub(crate) tracks: Vec<TrackRecord>,
}

/// An open session folder, locked against other recorders while this value lives.
pub struct Session {
    dir: PathBuf,
    manifest: Manifest,
    _lock: SessionLock,
}

/// A take's folder, made and numbered before its journal entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TakeFolder {
    pub(crate) number: u32,
    /// Relative to the session folder, e.g. `take-002`.
    pub(crate) name: String,
    pub(crate) path: PathBuf,
}

pub(crate) fn now() -> DateTime<FixedOffset> {
    Local::now().fixed_offset()
}

/// The default session name: the local date and time, safe as a folder name everywhere.
pub(crate) fn default_name(at: DateTime<FixedOffset>) -> String {
    at.format("%Y-%m-%d_%H-%M-%S").to_string()
}

/// Checks that `root` is an existing folder we can use, before anything is created.
pub(crate) fn check_root(root: &Path) -> Result<(), Error> {
    match fs::metadata(root) {
        Ok(m) if m.is_dir() => {
            if writable(root) {
                Ok(())
            } else {
                Err(Error::usage(format!(
                    "cannot write in --dir {}: permission denied; choose a folder you can write to",
                    root.display()
                )))
            }
        }
        Ok(_) => Err(Error::usage(format!(
            "--dir {} is a file, not a folder; give a folder to keep sessions in",
            root.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::usage(format!(
            "--dir {} does not exist; create it first (mkdir -p) or choose another folder",
            root.display()
        ))),
        Err(e) => Err(Error::usage(format!(
            "cannot use --dir {}: {e}; choose a folder you can write to",
            root.display()
        ))),
    }
}

/// Whether this process may create entries in `dir` (write and search permission), asked of
/// the kernel so that nothing has to be created to find out.
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// Reads an existing session's manifest, if the folder is a session. Touches nothing.
/// Returns `Ok(None)` when the folder does not exist or is empty.
pub(crate) fn inspect(root: &Path, name: &str) -> Result<Option<Manifest>, Error> {
    let dir = root.join(name);
    let manifest_path = dir.join(manifest::FILE_NAME);
    if manifest_path.exists() {
        return Manifest::load(&manifest_path)
            .map(Some)
            .map_err(|e| Error::Runtime(e.to_string()));
    }
    match fs::read_dir(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Runtime(format!(
            "cannot read session folder {}: {e}",
            dir.display()
        ))),
        Ok(entries) => {
            // A lock left by a run that never wrote its manifest does not make it a session.
            let mut entries = entries.filter(|e| {
                e.as_ref()
                    .map_or(true, |e| e.file_name() != lock::FILE_NAME)
            });
            if entries.next().is_none() {
                Ok(None)
            } else {
                Err(Error::usage(format!(
                    "{} exists, is not empty and has no {}: it is not a tapedeck session; choose another --session",
                    dir.display(),
                    manifest::FILE_NAME
                )))
            }
        }
    }
}

/// Refuses to add takes at another rate or format to an existing session.
pub(crate) fn check_compatible(
    existing: &Manifest,
    sample_rate: u32,
    format: &str,
) -> Result<(), Error> {
    // A session of imported files only has no recorded format yet: the first recording
    // gives it one (imported takes keep their own).
    let recorded = existing
        .takes
        .iter()
        .any(|t| t.kind != manifest::TakeKind::Imported);
    if existing.sample_rate == sample_rate && (existing.format == format || !recorded) {
        return Ok(());
    }
    Err(Error::usage(format!(
        "session {:?} is recorded at {} Hz {}; record at the same rate and format (--rate {} --format {}) or start a new --session",
        existing.session,
        existing.sample_rate,
        existing.format,
        existing.sample_rate,
        existing.format
    )))
}

/// What to do when another tapedeck is recording the session.
const BUSY_THEN: &str = "choose another --session";

impl Session {
    /// Opens (or creates) the session folder, takes its lock, and writes the manifest for this
    /// run: a new one, or the existing one with this run's device and tracks.
    pub(crate) fn open(
        root: &Path,
        name: &str,
        init: SessionInit,
        now: DateTime<FixedOffset>,
    ) -> Result<Self, Error> {
        let dir = root.join(name);
        let shown = dir.display().to_string();
        let cannot = |e: io::Error| {
            Error::Runtime(format!(
                "cannot create session folder {shown}: {e}; choose a --dir you can write to"
            ))
        };
        if !dir.exists() {
            fs::create_dir(&dir).map_err(cannot)?;
        }
        let lock = SessionLock::acquire(&dir, BUSY_THEN)?;
        // Read again under the lock: what was checked before may have changed since.
        let manifest = match inspect(root, name)? {
            Some(mut m) => {
                check_compatible(&m, init.sample_rate, &init.format)?;
                m.format = init.format;
                m.updated = now;
                m.device = init.device;
                merge_tracks(&mut m.tracks, init.tracks);
                m
            }
            None => Manifest::new(
                name,
                now,
                init.sample_rate,
                &init.format,
                init.device,
                init.tracks,
            ),
        };
        let session = Self {
            dir,
            manifest,
            _lock: lock,
        };
        session.save().map_err(cannot)?;
        Ok(session)
    }

    /// Whether another tapedeck records the session `name` under `root` right now.
    pub(crate) fn check_not_busy(root: &Path, name: &str) -> Result<(), Error> {
        let dir = root.join(name);
        if lock::is_locked(&dir) {
            return Err(lock::busy(&dir, BUSY_THEN));
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn name(&self) -> &str {
        &self.manifest.session
    }

    /// The number the next take will get, unless a folder of that name is in the way.
    pub fn next_take_number(&self) -> u32 {
        self.manifest.next_take_number()
    }

    fn save(&self) -> io::Result<()> {
        self.manifest.save(&self.dir)
    }

    /// Repairs takes a crash or kill left unfinished, before anything new is recorded.
    pub(crate) fn recover_unfinished(&mut self) -> Result<Vec<recover::RecoveredTake>, Error> {
        let found = recover::recover_takes(&self.dir, &mut self.manifest)?;
        if !found.is_empty() {
            self.save().map_err(|e| {
                Error::io(
                    format!(
                        "cannot write {}",
                        self.dir.join(manifest::FILE_NAME).display()
                    ),
                    e,
                )
            })?;
        }
        Ok(found)
    }

    /// Creates the next take's folder: one past every take in the manifest and every take
    /// folder on disk, so that nothing is ever overwritten.
    pub(crate) fn new_take_folder(&self) -> io::Result<TakeFolder> {
        let mut n = self.manifest.next_take_number();
        loop {
            let name = naming::take_folder(n);
            let path = self.dir.join(&name);
            match fs::create_dir(&path) {
                Ok(()) => {
                    return Ok(TakeFolder {
                        number: n,
                        name,
                        path,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Journals a take that is about to be recorded (`state: recording`, with every file it
    /// will write) and this run's track list, before any of its files exist: whenever the
    /// process dies from here on, the manifest knows every file the take may have left.
    pub(crate) fn begin_take(
        &mut self,
        record: TakeRecord,
        tracks: Vec<TrackRecord>,
        at: DateTime<FixedOffset>,
    ) -> io::Result<()> {
        merge_tracks(&mut self.manifest.tracks, tracks);
        self.manifest.takes.push(record);
        self.manifest.updated = at;
        self.save()
    }

    /// Changes a track's cue settings and saves them.
    pub(crate) fn set_cue(&mut self, track: u16, cue: manifest::CueRecord) -> Result<(), String> {
        let t = self
            .manifest
            .tracks
            .iter_mut()
            .find(|t| t.number == track)
            .ok_or_else(|| format!("there is no track {track}"))?;
        t.cue = cue;
        self.save()
            .map_err(|e| format!("could not update session.json: {e}"))
    }

    /// Chooses the take a track plays (`None`: its newest) and saves it.
    pub(crate) fn choose_take(&mut self, track: u16, take: Option<u32>) -> Result<(), String> {
        if let Some(n) = take {
            let holds = self
                .manifest
                .takes
                .iter()
                .any(|t| t.number == n && t.tracks.iter().any(|f| f.track == track));
            if !holds {
                return Err(format!("take {n} has no track {track}"));
            }
        }
        let t = self
            .manifest
            .tracks
            .iter_mut()
            .find(|t| t.number == track)
            .ok_or_else(|| format!("there is no track {track}"))?;
        t.playing_take = take;
        self.save()
            .map_err(|e| format!("could not update session.json: {e}"))
    }

    /// Sets the song's origin if it has none yet (saved with the next journal entry).
    pub(crate) fn set_timeline_origin(&mut self, origin: u64) {
        self.manifest.timeline_origin.get_or_insert(origin);
    }

    /// Journals the files a take's tracks write now that they moved on to new parts.
    pub(crate) fn journal_parts(
        &mut self,
        number: u32,
        tracks: &[manifest::TakeTrack],
    ) -> io::Result<()> {
        if let Some(r) = self.manifest.takes.iter_mut().find(|t| t.number == number) {
            for t in &mut r.tracks {
                if let Some(now) = tracks.iter().find(|x| x.track == t.track) {
                    t.parts = now.parts.clone();
                }
            }
        }
        self.save()
    }

    /// Journals how the take ended.
    pub(crate) fn finish_take(&mut self, number: u32, end: TakeEnd) -> io::Result<()> {
        self.manifest.updated = end.ended_at;
        if let Some(r) = self.manifest.takes.iter_mut().find(|t| t.number == number) {
            r.finish(end);
        }
        self.save()
    }

    /// Takes back a take none of whose files could be made: its entry, and its folder if
    /// nothing is in it. Nothing was recorded.
    pub(crate) fn abort_take(&mut self, folder: &TakeFolder) -> io::Result<()> {
        let before = self.manifest.takes.len();
        self.manifest
            .takes
            .retain(|t| t.number != folder.number || t.state != manifest::TakeState::Recording);
        let saved = if self.manifest.takes.len() != before {
            self.save()
        } else {
            Ok(())
        };
        // Fails, rightly, if anything is in it.
        let _ = fs::remove_dir(&folder.path);
        saved
    }

    /// Writes a note into the manifest's log at once.
    /// Keeps a warning about take `number`'s audio in its manifest entry.
    pub(crate) fn warn_take(&mut self, number: u32, text: &str) -> io::Result<()> {
        if let Some(t) = self.manifest.takes.iter_mut().find(|t| t.number == number) {
            t.warnings.push(text.to_string());
        }
        self.save()
    }

    pub(crate) fn note(
        &mut self,
        at: DateTime<FixedOffset>,
        take: Option<u32>,
        text: &str,
    ) -> io::Result<()> {
        self.manifest.notes.push(NoteRecord::new(at, take, text));
        self.save()
    }
}

/// Updates the session's track list with this run's tracks, keeping tracks of earlier runs that
/// this run does not use. A track the run declares again takes the run's name, input and role
/// but keeps the take it plays and its cue: the run's declaration knows nothing of those.
fn merge_tracks(tracks: &mut Vec<TrackRecord>, new: Vec<TrackRecord>) {
    for t in new {
        match tracks.iter_mut().find(|x| x.number == t.number) {
            Some(x) => {
                *x = TrackRecord {
                    playing_take: x.playing_take,
                    cue: x.cue,
                    ..t
                }
            }
            None => tracks.push(t),
        }
    }
    tracks.sort_by_key(|t| t.number);
}

#[cfg(test)]
mod tests {
    use super::*;
    use manifest::{DeviceRecord, EndReason, TakeState, TakeTrack};

    fn init() -> SessionInit {
        SessionInit {
            sample_rate: 48_000,
            format: "s24".into(),
            device: DeviceRecord {
                host: "demo".into(),
                id: "custom:demo".into(),
                name: "demo".into(),
                sample_rate: 48_000,
                sample_format: "f32".into(),
                channels: 2,
                buffer_frames: None,
            },
            tracks: vec![TrackRecord::new(1, "Kick", 1, None, "s24")],
        }
    }

    fn record(folder: &TakeFolder, device: DeviceRecord) -> TakeRecord {
        let file = format!("{}/01_Kick_T{:03}.wav", folder.name, folder.number);
        TakeRecord::begin(
            folder.number,
            now(),
            device,
            "s24",
            0,
            vec![TakeTrack::new(1, "Kick", 1, None, file)],
            0,
            "uid".into(),
        )
    }

    #[test]
    fn the_journal_lists_a_take_before_its_files_and_finishes_it() {
        let root = tempfile::tempdir().expect("tempdir");
        let mut s = Session::open(root.path(), "S", init(), now()).expect("open");
        assert!(
            Session::check_not_busy(root.path(), "S").is_err(),
            "locked while open"
        );
        let folder = s.new_take_folder().expect("folder");
        assert_eq!((folder.number, folder.name.as_str()), (1, "take-001"));
        let device = s.manifest().device.clone();
        s.begin_take(record(&folder, device), vec![], now())
            .expect("begin");
        let on_disk = Manifest::load(&s.dir().join("session.json")).expect("load");
        assert_eq!(on_disk.takes[0].state, TakeState::Recording);
        s.finish_take(
            1,
            TakeEnd {
                ended_at: now(),
                reason: EndReason::Stopped,
                detail: None,
                length_frames: 96_000,
                tracks: on_disk.takes[0].tracks.clone(),
                dropouts: vec![],
                markers: vec![],
            },
        )
        .expect("finish");
        let on_disk = Manifest::load(&s.dir().join("session.json")).expect("load");
        assert_eq!(on_disk.takes[0].state, TakeState::Complete);
        assert_eq!(on_disk.takes[0].length_seconds, 2.0);
        // A folder left on disk by anyone is skipped, never reused.
        fs::create_dir(s.dir().join("take-002")).expect("mkdir");
        assert_eq!(s.new_take_folder().expect("folder").number, 3);
    }

    #[test]
    fn an_aborted_take_leaves_neither_entry_nor_folder() {
        let root = tempfile::tempdir().expect("tempdir");
        let mut s = Session::open(root.path(), "S", init(), now()).expect("open");
        let folder = s.new_take_folder().expect("folder");
        let device = s.manifest().device.clone();
        s.begin_take(record(&folder, device), vec![], now())
            .expect("begin");
        s.abort_take(&folder).expect("abort");
        assert!(s.manifest().takes.is_empty());
        assert!(!folder.path.exists());
        let on_disk = Manifest::load(&s.dir().join("session.json")).expect("load");
        assert!(on_disk.takes.is_empty());
    }

    #[test]
    fn a_track_declared_again_keeps_its_cue_and_the_take_it_plays() {
        let cue = manifest::CueRecord {
            gain_db: -6.0,
            pan: 0.5,
            mute: true,
            solo: true,
        };
        let mut tracks = vec![
            TrackRecord {
                playing_take: Some(2),
                cue,
                ..TrackRecord::new(1, "Kick", 1, None, "s24")
            },
            TrackRecord::new(3, "Keys", 3, None, "s24"),
        ];
        merge_tracks(
            &mut tracks,
            vec![
                TrackRecord::new(2, "Snare", 2, None, "s24"),
                TrackRecord::new(1, "Kick In", 1, Some("mic"), "s24"),
            ],
        );
        let numbers: Vec<u16> = tracks.iter().map(|t| t.number).collect();
        assert_eq!(numbers, [1, 2, 3]);
        // The run's settings win...
        assert_eq!(tracks[0].name, "Kick In");
        assert_eq!(tracks[0].role.as_deref(), Some("mic"));
        // ...but not over what the run does not know.
        assert_eq!(tracks[0].playing_take, Some(2));
        assert_eq!(tracks[0].cue, cue);
        assert_eq!(tracks[1].cue, manifest::CueRecord::default());
        assert_eq!(tracks[1].playing_take, None);
        assert_eq!(tracks[2].name, "Keys");
    }

    #[test]
    fn reopening_at_another_rate_is_refused_under_the_lock() {
        let root = tempfile::tempdir().expect("tempdir");
        drop(Session::open(root.path(), "S", init(), now()).expect("open"));
        let mut other = init();
        other.sample_rate = 44_100;
        let e = Session::open(root.path(), "S", other, now()).err();
        assert!(matches!(e, Some(Error::Usage(m)) if m.contains("48000 Hz s24")));
    }
}
