//! Bringing files into a session (`tapedeck import`): WAV or Broadcast Wave files, mono or
//! stereo, become new tracks of one new take of kind `imported`, placed on the song timeline.
//!
//! Everything that can be refused is checked before anything is written: a refused import
//! leaves the session folder exactly as it was (and makes no session folder at all when the
//! session did not exist). The files are copied byte for byte under a temporary name, forced
//! to disk, checked for size and renamed; the manifest lists the take only once every copy is
//! in place, so a crash during an import leaves at most a take folder the manifest does not
//! list (and that no later take will reuse: folders on disk are skipped).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use super::lock::{self, SessionLock};
use super::manifest::{
    self, CueRecord, DeviceRecord, EndReason, Manifest, TakeKind, TakeRecord, TakeState, TakeTrack,
    TrackRecord,
};
use super::{TakeFolder, inspect, naming};
use crate::error::Error;
use crate::playback::ClipFormat;
use crate::song_time::SongTime;
use crate::wav::probe::{ProbeError, WavInfo, probe};

/// What to do when the session is being recorded.
const BUSY_THEN: &str = "import when it has stopped recording, or into another --session";

/// A file to import and the track name it gets.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ImportFile {
    pub(crate) source: PathBuf,
    pub(crate) name: String,
}

/// One imported file, as it ended up in the session.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Imported {
    pub(crate) track: u16,
    pub(crate) name: String,
    /// The name asked for, when it had to change to keep tracks apart.
    pub(crate) renamed_from: Option<String>,
    pub(crate) source: PathBuf,
    /// Relative to the session folder.
    pub(crate) file: String,
    pub(crate) channels: u16,
    pub(crate) format: &'static str,
    pub(crate) frames: u64,
}

/// What an import did.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ImportReport {
    pub(crate) session_dir: PathBuf,
    pub(crate) created: bool,
    pub(crate) take: u32,
    pub(crate) sample_rate: u32,
    pub(crate) timeline_start: u64,
    pub(crate) timeline_origin: Option<u64>,
    pub(crate) files: Vec<Imported>,
}

/// A file checked and ready to copy.
struct Checked {
    file: ImportFile,
    info: WavInfo,
    size: u64,
    time_reference: Option<u64>,
}

/// The manifest's name of a file format.
pub(crate) fn format_name(f: ClipFormat) -> &'static str {
    match f {
        ClipFormat::I16 => "s16",
        ClipFormat::I24 => "s24",
        ClipFormat::I32 => "s32",
        ClipFormat::F32 => "f32",
    }
}

/// The device record's name of a sample format.
fn sample_format_name(f: ClipFormat) -> &'static str {
    match f {
        ClipFormat::I16 => "i16",
        ClipFormat::I24 => "i24",
        ClipFormat::I32 => "i32",
        ClipFormat::F32 => "f32",
    }
}

/// In words, for messages.
fn describe(f: ClipFormat) -> &'static str {
    match f {
        ClipFormat::I16 => "16-bit",
        ClipFormat::I24 => "24-bit",
        ClipFormat::I32 => "32-bit integer",
        ClipFormat::F32 => "32-bit float",
    }
}

/// Imports `files` into the session `name` under `root` as one new take at `at`. `root` must
/// exist. Refuses (having written nothing) when a file cannot be imported or the session is
/// being recorded.
pub(crate) fn import(
    root: &Path,
    name: &str,
    files: &[ImportFile],
    at: SongTime,
    now: impl Fn() -> DateTime<FixedOffset>,
) -> Result<ImportReport, Error> {
    let checked = check_files(files)?;
    let dir = root.join(name);
    let existing = inspect(root, name)?;
    if existing.is_some() && lock::is_locked(&dir) {
        return Err(lock::busy(&dir, BUSY_THEN));
    }
    plan_against(existing.as_ref(), &checked, at)?;

    let created = !dir.exists();
    if created {
        fs::create_dir(&dir)
            .map_err(|e| Error::io(format!("cannot create session folder {}", dir.display()), e))?;
    }
    let result = SessionLock::acquire(&dir, BUSY_THEN)
        .and_then(|lock| import_locked(root, name, &dir, &checked, at, &now, lock));
    if result.is_err() && created {
        // Nothing of the session may stay behind: only the lock file can be in it.
        let _ = fs::remove_file(dir.join(lock::FILE_NAME));
        let _ = fs::remove_dir(&dir);
    }
    let mut report = result?;
    report.created = created;
    Ok(report)
}

fn import_locked(
    root: &Path,
    name: &str,
    dir: &Path,
    checked: &[Checked],
    at: SongTime,
    now: &impl Fn() -> DateTime<FixedOffset>,
    _lock: SessionLock,
) -> Result<ImportReport, Error> {
    // Read again under the lock: a recorder may have written it since.
    let existing = inspect(root, name)?;
    let (rate, timeline_start) = plan_against(existing.as_ref(), checked, at)?;
    let started_at = now();
    let format = checked[0].info.format;
    let mut m = existing.unwrap_or_else(|| {
        let recordable = match format {
            // tapedeck does not record 32-bit integers: the session records its default.
            ClipFormat::I32 => "s24",
            f => format_name(f),
        };
        Manifest::new(
            name,
            started_at,
            rate,
            recordable,
            import_device(checked, rate),
            Vec::new(),
        )
    });

    let folder = new_take_folder(dir, m.next_take_number()).map_err(|e| {
        Error::io(
            format!("cannot create a take folder in {}", dir.display()),
            e,
        )
    })?;
    let plan = name_tracks(&m, checked, folder.number)?;
    let copied = copy_all(dir, &folder, checked, &plan);
    if let Err(e) = copied {
        let _ = fs::remove_dir(&folder.path);
        return Err(e);
    }

    let mut files = Vec::new();
    let mut take_tracks = Vec::new();
    for (c, p) in checked.iter().zip(&plan) {
        let source = absolute(&c.file.source);
        // Measured from the copy, read once; a file that cannot be measured (a rate or
        // channel count loudness is not defined for) is imported without a report.
        let levels = crate::levels::file::measure_file(&dir.join(&p.file))
            .ok()
            .map(|r| r.levels());
        take_tracks.push(TakeTrack {
            track: p.track,
            name: p.name.clone(),
            input: None,
            role: None,
            file: p.file.clone(),
            channels: c.info.channels,
            imported_from: Some(source.display().to_string()),
            frames: c.info.frames,
            peak_dbfs: levels.as_ref().and_then(|l| l.sample_peak_dbfs),
            clipped_samples: levels.as_ref().map_or(0, |l| l.clipped_samples),
            levels,
            triage: None,
            parts: Vec::new(),
        });
        m.tracks.push(TrackRecord {
            number: p.track,
            name: p.name.clone(),
            input: None,
            role: None,
            format: format_name(c.info.format).to_string(),
            playing_take: None,
            cue: CueRecord::default(),
        });
        files.push(Imported {
            track: p.track,
            name: p.name.clone(),
            renamed_from: (p.name != c.file.name.trim()).then(|| c.file.name.clone()),
            source,
            file: p.file.clone(),
            channels: c.info.channels,
            format: format_name(c.info.format),
            frames: c.info.frames,
        });
    }
    m.tracks.sort_by_key(|t| t.number);
    let length_frames = checked.iter().map(|c| c.info.frames).max().unwrap_or(0);
    let ended_at = now();
    m.takes.push(TakeRecord {
        number: folder.number,
        folder: folder.name.clone(),
        state: TakeState::Complete,
        started_at,
        ended_at: Some(ended_at),
        end_reason: Some(EndReason::Stopped),
        end_detail: None,
        device: import_device(checked, rate),
        sample_rate: rate,
        format: format_name(format).to_string(),
        kind: TakeKind::Imported,
        timeline_start,
        latency: None,
        start_frame: 0,
        length_frames,
        length_seconds: length_frames as f64 / f64::from(rate.max(1)),
        tracks: take_tracks,
        dropouts: Vec::new(),
        dropout_frames: 0,
        markers: Vec::new(),
        time_reference: None,
        family_uid: None,
        triage: None,
        warnings: Vec::new(),
        started_by: None,
        pressed_frame: None,
        pre_roll_frames: None,
        trigger: None,
    });
    if m.timeline_origin.is_none() {
        // The arranger's file knows where it sits in time of day: the timeline starts
        // `--at` before that, so that its TimeReference stays true on the song timeline.
        m.timeline_origin = checked
            .iter()
            .find_map(|c| c.time_reference)
            .and_then(|t| t.checked_sub(timeline_start));
    }
    m.updated = ended_at;
    if let Err(e) = m.save(dir) {
        // The take is not in the manifest: take its copies back too.
        for p in &plan {
            let _ = fs::remove_file(dir.join(&p.file));
        }
        let _ = fs::remove_dir(&folder.path);
        return Err(Error::io(
            format!("cannot write {}", dir.join(manifest::FILE_NAME).display()),
            e,
        ));
    }
    Ok(ImportReport {
        session_dir: dir.to_path_buf(),
        created: false,
        take: folder.number,
        sample_rate: rate,
        timeline_start,
        timeline_origin: m.timeline_origin,
        files,
    })
}

/// Refuses files that could not go into a new session, touching nothing.
pub(crate) fn check_new(files: &[ImportFile]) -> Result<(), Error> {
    plan_against(None, &check_files(files)?, SongTime::ZERO).map(|_| ())
}

/// Probes every file; refuses the first that cannot be imported.
fn check_files(files: &[ImportFile]) -> Result<Vec<Checked>, Error> {
    let mut out = Vec::new();
    for f in files {
        let shown = f.source.display();
        let meta = fs::metadata(&f.source).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::usage(format!(
                "{shown} does not exist; give the path of a WAV file"
            )),
            _ => Error::usage(format!("cannot read {shown}: {e}")),
        })?;
        if !meta.is_file() {
            return Err(Error::usage(format!(
                "{shown} is not a file; give the path of a WAV file"
            )));
        }
        let info = probe(&f.source).map_err(|e| refuse_probe(&e))?;
        if info.is_truncated() {
            return Err(Error::usage(format!(
                "{shown} is shorter than its header says ({} of {} frames): it is damaged or still being written; import a complete file",
                info.frames, info.declared_frames
            )));
        }
        if info.frames == 0 {
            return Err(Error::usage(format!(
                "{shown} holds no audio; there is nothing to import"
            )));
        }
        let time_reference = bext_time_reference(&f.source, info.data_offset)
            .map_err(|e| Error::usage(format!("cannot read {shown}: {e}")))?;
        out.push(Checked {
            file: f.clone(),
            size: meta.len(),
            info,
            time_reference,
        });
    }
    if let Some(first) = out.first()
        && let Some(other) = out.iter().find(|c| c.info.format != first.info.format)
    {
        return Err(Error::usage(format!(
            "{} is {} and {} is {}: the files of one take share a format; import them in two calls (a take each)",
            first.file.source.display(),
            describe(first.info.format),
            other.file.source.display(),
            describe(other.info.format)
        )));
    }
    Ok(out)
}

fn refuse_probe(e: &ProbeError) -> Error {
    let hint = match e {
        ProbeError::Channels { .. } => "; split it into mono or stereo files first",
        ProbeError::Encoding { .. } => {
            "; convert it first, e.g. sox in.wav -b 24 out.wav (decoding other formats comes later)"
        }
        ProbeError::NotWav { .. } => {
            "; tapedeck imports WAV and Broadcast Wave files (convert others first, e.g. sox in.flac out.wav)"
        }
        _ => "",
    };
    Error::usage(format!("{e}{hint}"))
}

/// The session's rate (or, for a new session, the first file's) and the timeline start in
/// frames; refuses a file at another rate.
fn plan_against(
    existing: Option<&Manifest>,
    checked: &[Checked],
    at: SongTime,
) -> Result<(u32, u64), Error> {
    let Some(first) = checked.first() else {
        return Err(Error::usage("give at least one file to import"));
    };
    let rate = existing.map_or(first.info.sample_rate, |m| m.sample_rate);
    for c in checked {
        if c.info.sample_rate != rate {
            let whose = match existing {
                Some(_) => format!("the session is {rate} Hz"),
                None => format!(
                    "the first file, {}, is {rate} Hz and sets the new session's rate",
                    first.file.source.display()
                ),
            };
            return Err(Error::usage(format!(
                "{} is {} Hz; {whose}; convert it first, e.g. sox in.wav -r {rate} out.wav",
                c.file.source.display(),
                c.info.sample_rate
            )));
        }
    }
    let start = at
        .frames(rate)
        .ok_or_else(|| Error::usage("--at is too far into the song"))?;
    Ok((rate, start))
}

/// The device record of an import: no device; the files' sample format and widest channels.
fn import_device(checked: &[Checked], rate: u32) -> DeviceRecord {
    DeviceRecord {
        host: "none".into(),
        id: "import".into(),
        name: "tapedeck import".into(),
        sample_rate: rate,
        sample_format: checked
            .first()
            .map_or("f32", |c| sample_format_name(c.info.format))
            .into(),
        channels: checked.iter().map(|c| c.info.channels).max().unwrap_or(1),
        buffer_frames: None,
    }
}

/// Where one file goes.
struct Placed {
    track: u16,
    name: String,
    /// Relative to the session folder.
    file: String,
}

/// Track numbers one past the highest in the session; names kept apart from every track's
/// (ignoring case) by a number in brackets.
fn name_tracks(m: &Manifest, checked: &[Checked], take: u32) -> Result<Vec<Placed>, Error> {
    let mut highest = m
        .tracks
        .iter()
        .map(|t| t.number)
        .chain(
            m.takes
                .iter()
                .flat_map(|t| t.tracks.iter().map(|f| f.track)),
        )
        .max()
        .unwrap_or(0);
    let mut taken: Vec<String> = m.tracks.iter().map(|t| t.name.to_lowercase()).collect();
    let mut out = Vec::new();
    for c in checked {
        let track = highest.checked_add(1).ok_or_else(|| {
            Error::usage("the session has track numbers up to 65535; there is no number left")
        })?;
        highest = track;
        let wanted = c.file.name.trim().to_string();
        let mut name = wanted.clone();
        let mut n = 2;
        while taken.contains(&name.to_lowercase()) {
            name = format!("{wanted} ({n})");
            n += 1;
        }
        taken.push(name.to_lowercase());
        let file = format!(
            "{}/{}",
            naming::take_folder(take),
            naming::track_file_name(track, &name, take)
        );
        out.push(Placed { track, name, file });
    }
    Ok(out)
}

/// The next take folder from `n` on, skipping folders already on disk.
fn new_take_folder(dir: &Path, mut n: u32) -> io::Result<TakeFolder> {
    loop {
        let name = naming::take_folder(n);
        let path = dir.join(&name);
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

/// Copies every file into the take folder; on failure takes back whatever it copied.
fn copy_all(
    dir: &Path,
    folder: &TakeFolder,
    checked: &[Checked],
    plan: &[Placed],
) -> Result<(), Error> {
    let mut done: Vec<PathBuf> = Vec::new();
    for (c, p) in checked.iter().zip(plan) {
        let dest = dir.join(&p.file);
        match copy_one(&c.file.source, c.size, &dest) {
            Ok(()) => done.push(dest),
            Err(e) => {
                for d in &done {
                    let _ = fs::remove_file(d);
                }
                return Err(e);
            }
        }
    }
    // The new names are in the folder once the folder itself is on disk.
    File::open(&folder.path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(format!("cannot sync {}", folder.path.display()), e))
}

/// Copies `source` to `dest` byte for byte: under a temporary name, forced to disk, its size
/// checked, then renamed. `dest` never exists half-written.
fn copy_one(source: &Path, size: u64, dest: &Path) -> Result<(), Error> {
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dest.with_file_name(format!(".{file_name}.tmp"));
    let result = (|| {
        let copied = fs::copy(source, &tmp).map_err(|e| {
            Error::io(
                format!("cannot copy {} to {}", source.display(), tmp.display()),
                e,
            )
        })?;
        let f =
            File::open(&tmp).map_err(|e| Error::io(format!("cannot open {}", tmp.display()), e))?;
        f.sync_all()
            .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
        let on_disk = f
            .metadata()
            .map_err(|e| Error::io(format!("cannot read {}", tmp.display()), e))?
            .len();
        if copied != size || on_disk != size {
            return Err(Error::Runtime(format!(
                "{} changed while it was being imported ({size} bytes before, {on_disk} copied); import it again when nothing writes it",
                source.display()
            )));
        }
        if dest.exists() {
            return Err(Error::Runtime(format!(
                "{} exists already; tapedeck never overwrites a file",
                dest.display()
            )));
        }
        fs::rename(&tmp, dest).map_err(|e| {
            Error::io(
                format!("cannot rename {} to {}", tmp.display(), dest.display()),
                e,
            )
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The file's path as the manifest keeps it: absolute, so it still says where it came from
/// when read from elsewhere.
fn absolute(p: &Path) -> PathBuf {
    fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_path_buf())
}

/// The bext chunk's TimeReference (samples since midnight), if the file has a bext chunk before
/// its audio at `data_offset`. The header has been checked by `probe` already; this only looks
/// for the one field it does not report.
fn bext_time_reference(path: &Path, data_offset: u64) -> io::Result<Option<u64>> {
    /// Offset of TimeReferenceLow in the bext body (EBU Tech 3285).
    const TIME_REFERENCE: u64 = 338;
    let file = File::open(path)?;
    let mut pos = 12u64;
    let mut head = [0u8; 8];
    while pos + 8 <= data_offset {
        file.read_exact_at(&mut head, pos)?;
        let size = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        if &head[0..4] == b"bext" {
            if size < TIME_REFERENCE + 8 {
                return Ok(None);
            }
            let mut t = [0u8; 8];
            file.read_exact_at(&mut t, pos + 8 + TIME_REFERENCE)?;
            // Low 32 bits first, then high: together one little-endian u64.
            return Ok(Some(u64::from_le_bytes(t)));
        }
        pos += 8 + size + (size & 1);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_become_frames_at_the_rate() {
        assert_eq!(SongTime::Frames(123_456).frames(48_000), Some(123_456));
        let s = |numerator, denominator| SongTime::Seconds {
            numerator,
            denominator,
        };
        assert_eq!(s(15, 10).frames(48_000), Some(72_000));
        assert_eq!(s(90, 1).frames(44_100), Some(3_969_000));
        // Rounded to the nearest frame.
        assert_eq!(s(1, 3).frames(2), Some(1));
        assert_eq!(s(u128::MAX, 1).frames(48_000), None);
    }
}
