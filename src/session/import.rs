//! Bringing the arrangement in: WAV/BWF files copied unchanged into a session as tracks the
//! song plays, one take of kind `imported` per import.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::manifest::{
    CueRecord, DeviceRecord, TakeEnd, TakeKind, TakeRecord, TakeTrack, TrackRecord,
};
use super::{Session, naming};
use crate::error::Error;
use crate::format::FileFormat;
use crate::playback::ClipFormat;
use crate::wav::probe::{self, WavInfo};

/// A file to bring in, checked.
pub(crate) struct Incoming {
    pub(crate) path: PathBuf,
    pub(crate) name: String,
    pub(crate) info: WavInfo,
}

/// Reads and checks the files before anything is written: every one a WAV of one or two
/// channels, all at one rate.
pub(crate) fn check(files: &[PathBuf], names: &[String]) -> Result<Vec<Incoming>, Error> {
    if names.len() > files.len() {
        return Err(Error::usage(format!(
            "{} --name for {} files; give at most one name per file",
            names.len(),
            files.len()
        )));
    }
    let mut out: Vec<Incoming> = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let info = probe::probe(path)
            .map_err(|e| Error::usage(format!("cannot import {}: {e}", path.display())))?;
        if info.channels > 2 {
            return Err(Error::usage(format!(
                "cannot import {}: it has {} channels; tapedeck imports mono and stereo files (split it first, e.g. sox in.wav out.wav remix 1 2)",
                path.display(),
                info.channels
            )));
        }
        if let Some(first) = out.first()
            && first.info.sample_rate != info.sample_rate
        {
            return Err(Error::usage(format!(
                "{} is at {} Hz and {} at {} Hz; import files of one rate",
                path.display(),
                info.sample_rate,
                first.path.display(),
                first.info.sample_rate
            )));
        }
        let name = match names.get(i) {
            Some(n) => n.clone(),
            None => path.file_stem().map_or_else(
                || format!("Import {}", i + 1),
                |s| s.to_string_lossy().into_owned(),
            ),
        };
        naming::check_track_name(&name)
            .map_err(|e| Error::usage(format!("--name {name:?}: {e}")))?;
        out.push(Incoming {
            path: path.clone(),
            name,
            info,
        });
    }
    Ok(out)
}

/// The session file format closest to a file's samples (for a session made by an import).
pub(crate) fn format_of(info: &WavInfo) -> FileFormat {
    match info.format {
        ClipFormat::I16 => FileFormat::S16,
        ClipFormat::F32 => FileFormat::F32,
        ClipFormat::I24 | ClipFormat::I32 => FileFormat::S24,
    }
}

/// The device record of an import: the files themselves.
pub(crate) fn device_of(first: &Incoming) -> DeviceRecord {
    DeviceRecord {
        host: "file".into(),
        id: first.path.display().to_string(),
        name: first
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        sample_rate: first.info.sample_rate,
        sample_format: first.info.format.name().into(),
        channels: first.info.channels,
        buffer_frames: None,
    }
}

/// Copies `from` to `to` through a temporary name, synced, and checks the size.
fn copy_synced(from: &Path, to: &Path) -> io::Result<()> {
    let tmp = to.with_extension("wav.part");
    let n = fs::copy(from, &tmp)?;
    File::open(&tmp)?.sync_all()?;
    let expected = fs::metadata(from)?.len();
    if n != expected {
        let _ = fs::remove_file(&tmp);
        return Err(io::Error::other(format!(
            "copied {n} of {expected} bytes of {}",
            from.display()
        )));
    }
    fs::rename(&tmp, to)
}

impl Session {
    /// Imports `files` as new tracks of one new take at timeline frame `at`. Returns the take
    /// number. On failure the take's folder and entry go again; nothing else changes.
    pub(crate) fn import(&mut self, files: &[Incoming], at: u64) -> Result<u32, Error> {
        if let Some(f) = files
            .iter()
            .find(|f| f.info.sample_rate != self.manifest.sample_rate)
        {
            return Err(Error::usage(format!(
                "{} is at {} Hz; the session {:?} is at {} Hz; convert it first, e.g. sox {} -r {} out.wav",
                f.path.display(),
                f.info.sample_rate,
                self.manifest.session,
                self.manifest.sample_rate,
                f.path.display(),
                self.manifest.sample_rate
            )));
        }
        let folder = self.new_take_folder().map_err(|e| {
            Error::io(
                format!("cannot make a take folder in {}", self.dir.display()),
                e,
            )
        })?;
        let first_number = self
            .manifest
            .tracks
            .iter()
            .map(|t| t.number)
            .max()
            .unwrap_or(0)
            + 1;
        let format = self.manifest.format.clone();
        let mut tracks = Vec::new();
        let mut records = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let number = first_number + i as u16;
            let file_name = naming::track_file_name(number, &f.name, folder.number);
            let rel = format!("{}/{file_name}", folder.name);
            if let Err(e) = copy_synced(&f.path, &self.dir.join(&rel)) {
                for t in &tracks {
                    let t: &TakeTrack = t;
                    let _ = fs::remove_file(self.dir.join(&t.file));
                }
                let _ = fs::remove_dir(&folder.path);
                return Err(Error::io(format!("cannot copy {}", f.path.display()), e));
            }
            tracks.push(TakeTrack {
                track: number,
                name: f.name.clone(),
                input: None,
                role: None,
                file: rel,
                channels: f.info.channels,
                imported_from: Some(f.path.display().to_string()),
                frames: f.info.frames,
                peak_dbfs: None,
                clipped_samples: 0,
            });
            records.push(TrackRecord {
                number,
                name: f.name.clone(),
                input: None,
                role: None,
                format: format.clone(),
                playing_take: None,
                cue: CueRecord::default(),
            });
        }
        let now = super::now();
        let device = device_of(&files[0]);
        let mut take = TakeRecord::begin(
            folder.number,
            now,
            device,
            &format,
            0,
            tracks.clone(),
            self.manifest.timeline_origin.map_or(0, |o| o + at),
            crate::wav::unique_id(),
        );
        take.kind = TakeKind::Imported;
        take.timeline_start = at;
        if self.manifest.timeline_origin.is_none() {
            take.time_reference = None;
        }
        let length = files.iter().map(|f| f.info.frames).max().unwrap_or(0);
        take.finish(TakeEnd {
            ended_at: now,
            reason: super::manifest::EndReason::Stopped,
            detail: Some("imported".into()),
            length_frames: length,
            tracks,
            dropouts: Vec::new(),
            markers: Vec::new(),
        });
        let number = folder.number;
        self.manifest.tracks.extend(records);
        self.manifest.takes.push(take);
        self.manifest.updated = now;
        self.save().map_err(|e| {
            Error::io(
                format!(
                    "cannot write {}",
                    self.dir.join(super::manifest::FILE_NAME).display()
                ),
                e,
            )
        })?;
        Ok(number)
    }
}
