//! Corrections kept per device pair in the user's config folder, following XDG:
//! `$XDG_CONFIG_HOME/tapedeck/calibration.json`, or `~/.config/tapedeck/calibration.json`.
//!
//! A correction is keyed by host, output and input device ids, rate and buffer size: most
//! hosts' unreported latency depends on the buffering, so one measured at 256 frames says
//! nothing about 1024. The file is replaced whole by a rename, so a crash or a full disk
//! leaves the previous file or the new one, never half of one. Two calibrations saving at the
//! same instant: the last rename wins (each file is complete).

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The file's name in the config folder.
pub const FILE_NAME: &str = "calibration.json";

/// The file format's version; a newer one is refused rather than overwritten.
const VERSION: u32 = 1;

/// What a correction holds for: one device pair at one rate and buffer size.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeviceKey {
    /// "alsa", "jack" or "demo".
    pub host: String,
    /// The output device's id, as `tapedeck devices` shows it.
    pub output: String,
    /// The input device's id.
    pub input: String,
    pub sample_rate: u32,
    /// The buffer (period) size in use, frames; `None` for the host's default when it
    /// cannot be known (matches only `None`).
    pub buffer_frames: Option<u32>,
}

/// One stored correction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredCorrection {
    pub key: DeviceKey,
    /// Frames to add to the reported round trip (negative: it reports too much).
    pub correction_frames: i64,
    /// The round trip the host reported when this was measured, frames: a later report that
    /// differs says the setup changed and the correction may be stale.
    pub reported_round_trip_frames: u64,
    /// The measurement's confidence (peak over next best, lowest of the repeats).
    pub confidence: f64,
    pub measured_at: DateTime<Utc>,
}

impl StoredCorrection {
    /// A correction measured now.
    pub fn new(
        key: DeviceKey,
        correction_frames: i64,
        reported_round_trip_frames: u64,
        confidence: f64,
    ) -> Self {
        Self {
            key,
            correction_frames,
            reported_round_trip_frames,
            confidence,
            measured_at: Utc::now(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct File {
    version: u32,
    corrections: Vec<StoredCorrection>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot find your config folder: neither XDG_CONFIG_HOME nor HOME is set; set one of \
         them to where tapedeck may keep its calibration"
    )]
    NoConfigFolder,
    #[error(
        "cannot create the config folder {}: {source}; make it writable, or set \
         XDG_CONFIG_HOME to a folder you can write",
        path.display()
    )]
    CreateFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot write the calibration to {}: {source}; make the folder writable (or free \
         space on its disk), or set XDG_CONFIG_HOME to a folder you can write; the previous \
         calibration, if any, is unchanged",
        path.display()
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the calibration {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is not a calibration tapedeck can read ({detail}); move it away and run \
         calibrate again",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{} was written by a newer tapedeck (format {version}); update tapedeck, or move the \
         file away to start afresh",
        path.display()
    )]
    Newer { path: PathBuf, version: u32 },
}

impl From<StoreError> for crate::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoConfigFolder => crate::Error::Usage(e.to_string()),
            _ => crate::Error::Runtime(e.to_string()),
        }
    }
}

/// The folder tapedeck keeps its configuration in, from the environment as `var` reads it:
/// `$XDG_CONFIG_HOME/tapedeck`, else `$HOME/.config/tapedeck`. XDG says a relative
/// `XDG_CONFIG_HOME` is ignored.
pub fn config_dir(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, StoreError> {
    let absolute = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
    if let Some(xdg) = absolute("XDG_CONFIG_HOME") {
        return Ok(xdg.join("tapedeck"));
    }
    absolute("HOME")
        .map(|home| home.join(".config").join("tapedeck"))
        .ok_or(StoreError::NoConfigFolder)
}

/// The calibration file in one folder.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in the user's config folder (this process's environment).
    pub fn from_env() -> Result<Self, StoreError> {
        config_dir(|name| std::env::var_os(name)).map(Self::in_dir)
    }

    /// The store in `dir` (created on the first save).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Every stored correction; none when the file does not exist yet.
    pub fn list(&self) -> Result<Vec<StoredCorrection>, StoreError> {
        let path = self.path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StoreError::Read { path, source }),
        };
        // The version first, so a newer format is named as such rather than as corrupt.
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let version = serde_json::from_str::<Version>(&text)
            .map_err(|e| StoreError::Corrupt {
                path: path.clone(),
                detail: e.to_string(),
            })?
            .version;
        if version > VERSION {
            return Err(StoreError::Newer { path, version });
        }
        serde_json::from_str::<File>(&text)
            .map(|f| f.corrections)
            .map_err(|e| StoreError::Corrupt {
                path,
                detail: e.to_string(),
            })
    }

    /// The correction stored for `key`, if any.
    pub fn load(&self, key: &DeviceKey) -> Result<Option<StoredCorrection>, StoreError> {
        Ok(self.list()?.into_iter().find(|c| &c.key == key))
    }

    /// Stores `correction`, replacing the one with the same key. The file is written to a
    /// temporary name beside it, synced, then renamed over the old one.
    pub fn save(&self, correction: StoredCorrection) -> Result<(), StoreError> {
        // The folder first: an unwritable one is named as such, not as an unreadable file.
        fs::create_dir_all(&self.dir).map_err(|source| StoreError::CreateFolder {
            path: self.dir.clone(),
            source,
        })?;
        let mut corrections = self.list()?;
        corrections.retain(|c| c.key != correction.key);
        corrections.push(correction);
        let file = File {
            version: VERSION,
            corrections,
        };
        let mut text = serde_json::to_string_pretty(&file).map_err(|e| StoreError::Write {
            path: self.path(),
            source: std::io::Error::other(e),
        })?;
        text.push('\n');
        let temp = self.temp_path();
        let written =
            write_synced(&temp, text.as_bytes()).and_then(|()| fs::rename(&temp, self.path()));
        if let Err(source) = written {
            // Best effort: the temporary file is of no use to anyone.
            let _ = fs::remove_file(&temp);
            return Err(StoreError::Write {
                path: self.path(),
                source,
            });
        }
        // The rename reaches the disk with the folder's own sync; a failure here leaves a
        // complete file either way.
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// The temporary file a save writes first: per process, so two saves never share one.
    fn temp_path(&self) -> PathBuf {
        self.dir
            .join(format!(".{FILE_NAME}.{}.tmp", std::process::id()))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(buffer: u32) -> DeviceKey {
        DeviceKey {
            host: "jack".into(),
            output: "system:playback_1".into(),
            input: "system:capture_1".into(),
            sample_rate: 48_000,
            buffer_frames: Some(buffer),
        }
    }

    fn correction(buffer: u32, frames: i64) -> StoredCorrection {
        StoredCorrection {
            key: key(buffer),
            correction_frames: frames,
            reported_round_trip_frames: 768,
            confidence: 412.5,
            measured_at: DateTime::parse_from_rfc3339("2025-03-01T12:34:56Z")
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default(),
        }
    }

    fn env(xdg: Option<&Path>, home: Option<&Path>) -> impl Fn(&str) -> Option<OsString> {
        let xdg = xdg.map(|p| p.as_os_str().to_owned());
        let home = home.map(|p| p.as_os_str().to_owned());
        move |name| match name {
            "XDG_CONFIG_HOME" => xdg.clone(),
            "HOME" => home.clone(),
            _ => None,
        }
    }

    #[test]
    fn the_folder_follows_xdg() {
        let xdg = Path::new("/x/config");
        let home = Path::new("/home/u");
        assert_eq!(
            config_dir(env(Some(xdg), Some(home))).ok(),
            Some(xdg.join("tapedeck"))
        );
        assert_eq!(
            config_dir(env(None, Some(home))).ok(),
            Some(home.join(".config/tapedeck"))
        );
        // A relative XDG_CONFIG_HOME is ignored, as the spec says.
        assert_eq!(
            config_dir(env(Some(Path::new("rel")), Some(home))).ok(),
            Some(home.join(".config/tapedeck"))
        );
        let e = config_dir(env(None, None)).err();
        assert!(matches!(e, Some(StoreError::NoConfigFolder)), "{e:?}");
    }

    #[test]
    fn round_trip_in_a_temporary_xdg_config_home() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let store = Store::in_dir(config_dir(env(Some(tmp.path()), None))?);
        assert!(store.list()?.is_empty(), "no file yet: nothing stored");
        store.save(correction(256, 1000))?;
        store.save(correction(1024, -3))?;
        // Same key: replaced, not added.
        store.save(correction(256, 1001))?;
        assert_eq!(store.path(), tmp.path().join("tapedeck").join(FILE_NAME));
        let all = store.list()?;
        assert_eq!(all, vec![correction(1024, -3), correction(256, 1001)]);
        assert_eq!(store.load(&key(256))?, Some(correction(256, 1001)));
        assert_eq!(store.load(&key(64))?, None);
        // A fresh store on the same folder reads the same thing back.
        let again = Store::in_dir(tmp.path().join("tapedeck"));
        assert_eq!(again.list()?, all);
        // Nothing left behind but the file.
        let names: Vec<_> = fs::read_dir(tmp.path().join("tapedeck"))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        assert_eq!(names, vec![OsString::from(FILE_NAME)]);
        Ok(())
    }

    #[test]
    fn a_failed_save_leaves_the_previous_file_whole() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let store = Store::in_dir(tmp.path());
        store.save(correction(256, 1000))?;
        let before = fs::read(store.path())?;
        // The temporary file cannot be created (a folder is in its way): a save that wrote
        // in place would succeed here and change the file.
        fs::create_dir(store.temp_path())?;
        let e = store.save(correction(256, 5)).err();
        assert!(matches!(e, Some(StoreError::Write { .. })), "{e:?}");
        assert_eq!(fs::read(store.path())?, before);
        assert_eq!(store.list()?, vec![correction(256, 1000)]);
        Ok(())
    }

    #[test]
    fn an_unwritable_folder_is_named_with_what_to_do() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        // A file where the folder should be: refused even to root, unlike permission bits.
        let blocker = tmp.path().join("not-a-folder");
        fs::write(&blocker, b"")?;
        let store = Store::in_dir(config_dir(env(Some(&blocker), None))?);
        let e = store.save(correction(256, 1)).err().ok_or("saved")?;
        assert!(matches!(e, StoreError::CreateFolder { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("not-a-folder/tapedeck"), "{text}");
        assert!(text.contains("XDG_CONFIG_HOME"), "{text}");
        // A folder where the file should be: the rename fails.
        let tmp2 = tempfile::tempdir()?;
        let store = Store::in_dir(tmp2.path());
        fs::create_dir(store.path())?;
        fs::write(store.path().join("x"), b"")?;
        let e = store.save(correction(256, 1)).err().ok_or("saved")?;
        // Reading a folder fails first; either way the message names the path.
        assert!(e.to_string().contains(FILE_NAME), "{e}");
        Ok(())
    }

    #[test]
    fn corrupt_and_newer_files_are_refused_not_overwritten()
    -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let store = Store::in_dir(tmp.path());
        fs::write(store.path(), "{not json")?;
        let e = store.save(correction(256, 1)).err().ok_or("saved")?;
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
        assert!(e.to_string().contains("move it away"), "{e}");
        assert_eq!(fs::read_to_string(store.path())?, "{not json");
        fs::write(store.path(), r#"{"version": 9, "corrections": "whatever"}"#)?;
        let e = store.list().err().ok_or("read")?;
        assert!(matches!(e, StoreError::Newer { version: 9, .. }), "{e:?}");
        Ok(())
    }
}
