//! A session folder: its manifest, its takes, and the names of everything in it.

pub mod lock;
pub mod manifest;
pub mod naming;
pub mod recover;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Local};

use crate::error::Error;
pub use manifest::{Manifest, ManifestError};

/// What a new session's manifest starts with.
pub struct SessionInit {
    pub sample_rate: u32,
    pub format: String,
    pub device: manifest::DeviceRecord,
    pub tracks: Vec<manifest::TrackRecord>,
}

/// An open session folder.
pub struct Session {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

pub fn now() -> DateTime<FixedOffset> {
    Local::now().fixed_offset()
}

/// The default session name: the local date and time, safe as a folder name everywhere.
pub fn default_name() -> String {
    Local::now().format("%Y-%m-%d_%H-%M-%S").to_string()
}

/// Checks that `root` is an existing folder we can use, before anything is created.
pub fn check_root(root: &Path) -> Result<(), Error> {
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
pub fn inspect(root: &Path, name: &str) -> Result<Option<Manifest>, Error> {
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
        Ok(mut entries) => {
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

impl Session {
    /// Opens (or creates) the session folder and writes the manifest for this run.
    /// `existing` is what `inspect` returned.
    pub fn open(
        root: &Path,
        name: &str,
        existing: Option<Manifest>,
        init: SessionInit,
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
        let now = now();
        let manifest = match existing {
            Some(mut m) => {
                m.updated = now;
                m.device = init.device;
                merge_tracks(&mut m.tracks, init.tracks);
                m
            }
            None => Manifest {
                schema: manifest::SCHEMA.to_string(),
                program: manifest::Program::this(),
                session: name.to_string(),
                created: now,
                updated: now,
                sample_rate: init.sample_rate,
                format: init.format,
                device: init.device,
                tracks: init.tracks,
                takes: Vec::new(),
                notes: Vec::new(),
            },
        };
        let session = Self { dir, manifest };
        session.save().map_err(cannot)?;
        Ok(session)
    }

    pub fn save(&self) -> io::Result<()> {
        self.manifest.save(&self.dir)
    }

    /// Creates the next take's folder: one past every take in the manifest and every take
    /// folder on disk, so that nothing is ever overwritten.
    pub fn create_take_folder(&self) -> io::Result<(u32, PathBuf)> {
        let mut n = self.manifest.next_take_number();
        loop {
            let dir = self.dir.join(naming::take_folder(n));
            match fs::create_dir(&dir) {
                Ok(()) => return Ok((n, dir)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Updates the session's track list with this run's tracks, keeping tracks of earlier runs that
/// this run does not use.
fn merge_tracks(tracks: &mut Vec<manifest::TrackRecord>, new: Vec<manifest::TrackRecord>) {
    for t in new {
        match tracks.iter_mut().find(|x| x.number == t.number) {
            Some(x) => *x = t,
            None => tracks.push(t),
        }
    }
    tracks.sort_by_key(|t| t.number);
}
