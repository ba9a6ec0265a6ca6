//! The production sink: each take is a folder of Broadcast Wave files, one per track, kept
//! valid on disk at every moment (`wav::WavWriter`), forced to disk on a cadence (`Syncer`),
//! with a reserve file that makes room for the manifest when the disk fills up.
//!
//! A track whose file cannot grow continues in a numbered next file (a part): when a write is
//! refused for the file's size, every file of the take is ended at the same frame (the most
//! the stuck file holds on disk) and what each was handed past it is carried into its next
//! part; where the limit is known ahead (a FAT drive, `--split-every`) every file moves on when
//! it reaches it. Part k of every track covers the same frames, with none lost or repeated.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::sink::{FileEnd, NewFile, TakeFiles, TakeSink};
use super::syncer::{SyncWatch, Syncer};
use crate::format::FileFormat;
use crate::session::naming;
use crate::wav::{BextLoudness, BwfInfo, WavWriter};

/// Kept free in the session folder while recording and released when the disk fills up, so
/// that the manifest can still be written.
const RESERVE_BYTES: usize = 1 << 20;
const RESERVE_NAME: &str = ".tapedeck-reserve";

/// Disk full shows up as ENOSPC (or EDQUOT for a quota).
pub(crate) fn is_disk_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull || e.kind() == io::ErrorKind::QuotaExceeded
}

/// A write refused because the file cannot grow: EFBIG ("File too large"), or EPERM, which
/// FAT served through FUSE (fusefat) answers at its limit; a write to a file already open has
/// no other reason to be refused so. A next part that cannot take a single frame either ends
/// the take as a write error.
pub(crate) fn cannot_grow(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::FileTooLarge
        || matches!(e.raw_os_error(), Some(libc::EFBIG | libc::EPERM))
}

pub(crate) struct WavSink {
    session_dir: PathBuf,
    syncer: Syncer,
    /// `--split-every`: every take's files move on to a next part at this length.
    split_every: Option<Duration>,
    /// The file size limit the file system is known to have, when a test sets it.
    #[cfg(test)]
    file_limit: Option<u64>,
}

impl WavSink {
    /// Takes go into folders of `session_dir`; `sync_interval` as `--sync-interval`,
    /// `split_every` as `--split-every`.
    pub(crate) fn new(
        session_dir: &Path,
        sync_interval: Option<Duration>,
        split_every: Option<Duration>,
    ) -> Self {
        Self {
            session_dir: session_dir.to_path_buf(),
            syncer: Syncer::start(sync_interval),
            split_every,
            #[cfg(test)]
            file_limit: None,
        }
    }

    fn reserve(&self) -> PathBuf {
        self.session_dir.join(RESERVE_NAME)
    }

    /// Puts the reserve file in place (best effort: a disk too full for it just has none).
    fn ensure_reserve(&self) {
        let path = self.reserve();
        if path.exists() {
            return;
        }
        let made = std::fs::File::create(&path).and_then(|mut f| {
            std::io::Write::write_all(&mut f, &vec![0u8; RESERVE_BYTES])?;
            f.sync_all()
        });
        if made.is_err() {
            let _ = std::fs::remove_file(&path);
        }
    }

    /// The largest file the take's file system holds, where known ahead (FAT).
    fn file_limit(&self, dir: &Path) -> Option<u64> {
        #[cfg(test)]
        if self.file_limit.is_some() {
            return self.file_limit;
        }
        // Fault injection: a lowered limit, since a real 4 GiB file takes too long to test.
        #[cfg(feature = "fault-injection")]
        if let Some(limit) = std::env::var("TAPEDECK_TEST_FILE_LIMIT")
            .ok()
            .and_then(|v| v.trim().parse().ok())
        {
            return Some(limit);
        }
        crate::disk::file_size_limit(dir)
    }
}

/// One track's files: the part being written and the parts before it.
struct TrackFile {
    writer: WavWriter,
    /// The name of the part being written, in the take's folder.
    name: String,
    /// The first part's name and metadata, which every part carries with its own time stamp.
    first: String,
    bwf: BwfInfo,
    /// Parts finished: name, frames.
    done: Vec<(String, u64)>,
}

impl TrackFile {
    fn frames_before(&self) -> u64 {
        self.done.iter().map(|(_, f)| f).sum()
    }

    /// Ends the current part after `at` of its frames and carries what it was handed past
    /// that into a new part, stamped with its place in the take.
    fn next_part(
        &mut self,
        dir: &Path,
        at: u64,
        format: FileFormat,
        sample_rate: u32,
    ) -> io::Result<()> {
        let number = u32::try_from(self.done.len() + 2).unwrap_or(u32::MAX);
        let name = naming::part_file_name(&self.first, number);
        let mut bwf = self.bwf.clone();
        bwf.time_reference += self.frames_before() + at;
        bwf.file_uid = crate::wav::unique_id();
        let next = WavWriter::create_bwf(&dir.join(&name), format, sample_rate, &bwf)?;
        let old = std::mem::replace(&mut self.writer, next);
        let old_name = std::mem::replace(&mut self.name, name);
        let (frames, tail) = old.split_off(at)?;
        self.done.push((old_name, frames));
        self.writer.write_bytes(&tail)
    }

    /// Every part so far; the one being written with `last` frames.
    fn parts(&self, last: u64) -> Vec<(String, u64)> {
        let mut parts = self.done.clone();
        parts.push((self.name.clone(), last));
        parts
    }
}

/// The files of the take being recorded.
pub(crate) struct WavTake {
    files: Vec<TrackFile>,
    dir: PathBuf,
    format: FileFormat,
    sample_rate: u32,
    /// Frames per part, where known ahead (a FAT drive's limit, `--split-every`).
    part_frames: Option<u64>,
    reserve: PathBuf,
    sync: SyncWatch,
    /// New parts were opened since `new_parts` last told.
    moved: bool,
    /// Checkpoints rewrite the header sizes (everywhere but fusefat, where they only write
    /// the buffered audio out: `disk::header_rewrites_in_place`).
    header_checkpoints: bool,
}

impl WavTake {
    /// A full disk frees the reserve, for the manifest and the final headers.
    fn on_error(&self, e: io::Error) -> io::Error {
        if is_disk_full(&e) {
            let _ = std::fs::remove_file(&self.reserve);
        }
        e
    }

    /// Has the sync thread force the current parts to disk.
    fn watch_current(&self) {
        let handles = self
            .files
            .iter()
            .filter_map(|f| f.writer.sync_handle().ok())
            .collect();
        self.sync.replace(handles);
    }

    /// One file reached the part length known ahead: it moves on (the others do when they
    /// reach it, with the same frames).
    fn next_part_of(&mut self, file: usize, at: u64) -> io::Result<()> {
        let (dir, format, rate) = (self.dir.clone(), self.format, self.sample_rate);
        if let Some(f) = self.files.get_mut(file) {
            f.next_part(&dir, at, format, rate)?;
        }
        self.moved = true;
        self.watch_current();
        Ok(())
    }

    /// A file could not grow (`refused`): every file ends at the most frames the stuck ones
    /// hold on disk (and no more than any was handed), and carries on in a next part.
    fn split_all(&mut self, refused: io::Error) -> io::Result<()> {
        let mut at = u64::MAX;
        let mut stuck = false;
        for i in 0..self.files.len() {
            let w = &mut self.files[i].writer;
            match w.flush() {
                Ok(()) => {}
                Err(e) if cannot_grow(&e) => {
                    stuck = true;
                    at = at.min(w.frames_on_disk()?);
                }
                Err(e) => return Err(self.on_error(e)),
            }
            at = at.min(self.files[i].writer.frames());
        }
        if !stuck {
            // The file system took it after all.
            return Ok(());
        }
        if at == 0 {
            // Even a new file takes nothing: no next part would either.
            return Err(self.on_error(refused));
        }
        let (dir, format, rate) = (self.dir.clone(), self.format, self.sample_rate);
        for f in &mut self.files {
            f.next_part(&dir, at, format, rate)?;
        }
        self.moved = true;
        self.watch_current();
        Ok(())
    }

    /// Every header describes the audio handed over, moving on to next parts where a file
    /// could not take it.
    fn update_headers(&mut self) -> io::Result<()> {
        loop {
            let mut refused = None;
            for f in &mut self.files {
                let done = if self.header_checkpoints {
                    f.writer.update_header()
                } else {
                    f.writer.flush()
                };
                match done {
                    Ok(()) => {}
                    Err(e) if cannot_grow(&e) => {
                        refused = Some(e);
                        break;
                    }
                    Err(e) => return Err(self.on_error(e)),
                }
            }
            match refused {
                None => return Ok(()),
                Some(e) => self.split_all(e)?,
            }
        }
    }
}

impl TakeSink for WavSink {
    type Files = WavTake;

    fn create(
        &mut self,
        dir: &Path,
        files: &[NewFile],
        format: FileFormat,
        sample_rate: u32,
    ) -> io::Result<WavTake> {
        self.ensure_reserve();
        let mut writers = Vec::with_capacity(files.len());
        for f in files {
            match WavWriter::create_bwf(&dir.join(&f.name), format, sample_rate, &f.bwf) {
                Ok(w) => writers.push(TrackFile {
                    writer: w,
                    name: f.name.clone(),
                    first: f.name.clone(),
                    bwf: f.bwf.clone(),
                    done: Vec::new(),
                }),
                Err(e) => {
                    // Nothing was recorded: leave no empty files behind.
                    for w in &writers {
                        let _ = std::fs::remove_file(w.writer.path());
                    }
                    return Err(e);
                }
            }
        }
        // Where the file system's limit is known, every part stays within it (and so never
        // needs RF64); --split-every asks for shorter parts anyway.
        let limit = self.file_limit(dir).map(|bytes| {
            writers
                .iter()
                .map(|w| w.writer.frames_within(bytes))
                .min()
                .unwrap_or(u64::MAX)
        });
        let every = self
            .split_every
            .map(|d| (d.as_secs_f64() * f64::from(sample_rate)).round() as u64);
        let part_frames = match (limit, every) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .map(|f| f.max(1));
        let handles = writers
            .iter()
            .filter_map(|w| w.writer.sync_handle().ok())
            .collect();
        Ok(WavTake {
            files: writers,
            dir: dir.to_path_buf(),
            format,
            sample_rate,
            part_frames,
            reserve: self.reserve(),
            sync: self.syncer.watch(handles),
            moved: false,
            header_checkpoints: crate::disk::header_rewrites_in_place(dir),
        })
    }

    fn free_bytes(&self) -> Option<u64> {
        crate::disk::free_bytes(&self.session_dir)
    }
}

impl TakeFiles for WavTake {
    fn write(&mut self, file: usize, bytes: &[u8]) -> io::Result<()> {
        let bps = self.format.bytes_per_sample() as u64;
        let mut rest = bytes;
        while !rest.is_empty() {
            let Some(f) = self.files.get_mut(file) else {
                return Err(io::Error::other(format!("the take has no file {file}")));
            };
            let mut n = rest.len();
            if let Some(limit) = self.part_frames {
                let have = f.writer.frames();
                if have >= limit {
                    self.next_part_of(file, limit)?;
                    continue;
                }
                n = n.min(((limit - have) * bps) as usize);
            }
            let before = f.writer.data_bytes();
            match f.writer.write_bytes(&rest[..n]) {
                Ok(()) => rest = &rest[n..],
                Err(e) if cannot_grow(&e) => {
                    let taken = (f.writer.data_bytes() - before) as usize;
                    rest = &rest[taken.min(n)..];
                    self.split_all(e)?;
                }
                Err(e) => return Err(self.on_error(e)),
            }
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> io::Result<()> {
        self.update_headers()?;
        match self.sync.take_failure() {
            Some(e) => Err(self.on_error(e)),
            None => Ok(()),
        }
    }

    fn new_parts(&mut self) -> Option<Vec<Vec<(String, u64)>>> {
        if !std::mem::take(&mut self.moved) {
            return None;
        }
        Some(self.files.iter().map(|f| f.parts(0)).collect())
    }

    fn finish(mut self, loudness: &[Option<BextLoudness>]) -> Vec<FileEnd> {
        // Audio still buffered may not fit the parts being written: it moves on first. A
        // failure here shows again as the files are finalised.
        let _ = self.update_headers();
        self.sync.stop();
        let reserve = self.reserve;
        let dir = self.dir;
        self.files
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let path = f.writer.path().to_path_buf();
                let l = loudness.get(i).and_then(Option::as_ref);
                // Earlier parts carry the track's loudness too (one report across its parts).
                if let Some(l) = l {
                    for (name, _) in &f.done {
                        let _ = crate::wav::write_bext_loudness(&dir.join(name), l);
                    }
                }
                let before: u64 = f.done.iter().map(|(_, n)| n).sum();
                let split = !f.done.is_empty();
                let (last, error) = match f.writer.finalize_with_loudness(l) {
                    Ok(frames) => (frames, None),
                    Err(e) => {
                        if is_disk_full(&e) {
                            let _ = std::fs::remove_file(&reserve);
                        }
                        // The header may promise more than reached the disk: make it say what
                        // is there, whole frames only.
                        let frames = crate::wav::repair(&path).map(|r| r.frames).unwrap_or(0);
                        (frames, Some(e))
                    }
                };
                let mut parts = f.done;
                if split {
                    parts.push((f.name, last));
                }
                FileEnd {
                    frames: before + last,
                    error,
                    parts,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 1000;

    fn new_file(name: &str, time_reference: u64) -> NewFile {
        NewFile {
            name: name.to_string(),
            bwf: BwfInfo {
                time_reference,
                file_uid: name.to_string(),
                ..BwfInfo::for_file(Path::new(name), RATE)
            },
        }
    }

    /// The bext TimeReference of a file (EBU Tech 3285: 338 bytes into the bext body).
    fn time_reference(path: &Path) -> u64 {
        let f = std::fs::File::open(path).expect("open");
        let body = crate::wav::bext_body_offset(&f)
            .expect("read")
            .expect("a bext chunk");
        let mut b = [0u8; 8];
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut b, body + 338).expect("read");
        u64::from_le_bytes(b)
    }

    /// Every sample of a file, by hound (an independent reader).
    fn samples(path: &Path) -> Vec<i32> {
        hound::WavReader::open(path)
            .expect("hound opens every part")
            .into_samples::<i32>()
            .map(|s| s.expect("sample"))
            .collect()
    }

    /// Records `frames` frames of two tracks (track k's frame n is n * 2 + k, in s24) in
    /// steps of `step` frames, as the recorder hands them over; returns how it ended and how
    /// many times new parts were announced.
    fn record(sink: &mut WavSink, dir: &Path, frames: i32, step: i32) -> (Vec<FileEnd>, usize) {
        let files = [
            new_file("01_A_T001.wav", 5000),
            new_file("02_B_T001.wav", 5000),
        ];
        let mut take = sink
            .create(dir, &files, FileFormat::S24, RATE)
            .expect("create");
        let mut announced = 0;
        let mut n = 0;
        while n < frames {
            let end = (n + step).min(frames);
            for k in 0..2 {
                let bytes: Vec<u8> = (n..end)
                    .flat_map(|v| (v * 2 + k).to_le_bytes()[..3].to_vec())
                    .collect();
                take.write(k as usize, &bytes).expect("write");
            }
            if let Some(parts) = take.new_parts() {
                announced += 1;
                // Both tracks always have the same number of parts, the newest at 0 frames.
                assert_eq!(parts[0].len(), parts[1].len());
                assert_eq!(parts[0].last().map(|p| p.1), Some(0));
            }
            take.checkpoint().expect("checkpoint");
            n = end;
        }
        (take.finish(&[None, None]), announced)
    }

    fn check_parts(dir: &Path, ends: &[FileEnd], want: &[u64]) {
        for (k, end) in ends.iter().enumerate() {
            let got: Vec<u64> = end.parts.iter().map(|p| p.1).collect();
            assert_eq!(got, want, "track {k}: frames per part");
            assert_eq!(end.frames, want.iter().sum::<u64>());
            let mut all = Vec::new();
            let mut before = 0;
            for (i, (name, frames)) in end.parts.iter().enumerate() {
                let path = dir.join(name);
                if i > 0 {
                    let first = &end.parts[0].0;
                    assert_eq!(
                        *name,
                        naming::part_file_name(first, i as u32 + 1),
                        "numbered after the first"
                    );
                }
                let s = samples(&path);
                assert_eq!(
                    s.len() as u64,
                    *frames,
                    "{name}: the header says what it holds"
                );
                assert_eq!(
                    time_reference(&path),
                    5000 + before,
                    "{name}: TimeReference"
                );
                before += frames;
                all.extend(s);
            }
            let expected: Vec<i32> = (0..end.frames as i32).map(|v| v * 2 + k as i32).collect();
            assert_eq!(all, expected, "track {k}: the parts in order are the take");
        }
    }

    #[test]
    fn a_known_file_limit_splits_every_file_at_the_same_frame_before_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sink = WavSink::new(dir.path(), None, None);
        // Room for 10 frames of s24 after the 4096-byte header, pad byte included: 11 frames
        // (33 bytes) would need 34 with the pad.
        sink.file_limit = Some(4096 + 33);
        let (ends, announced) = record(&mut sink, dir.path(), 27, 7);
        check_parts(dir.path(), &ends, &[10, 10, 7]);
        assert_eq!(announced, 2, "each new part is announced once");
        for end in &ends {
            for (name, _) in &end.parts {
                let len = std::fs::metadata(dir.path().join(name))
                    .expect("meta")
                    .len();
                assert!(len <= 4096 + 33, "{name} is {len} bytes, past the limit");
            }
        }
    }

    #[test]
    fn split_every_cuts_parts_of_exactly_that_length_and_an_exact_end_opens_no_empty_part() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sink = WavSink::new(dir.path(), None, Some(Duration::from_secs(1)));
        let (ends, _) = record(&mut sink, dir.path(), 3000, 64);
        check_parts(dir.path(), &ends, &[1000, 1000, 1000]);
    }

    #[test]
    fn a_take_shorter_than_a_part_is_one_file_with_no_parts_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sink = WavSink::new(dir.path(), None, Some(Duration::from_secs(10)));
        let (ends, announced) = record(&mut sink, dir.path(), 500, 64);
        assert_eq!(announced, 0);
        for end in &ends {
            assert!(end.parts.is_empty());
            assert_eq!(end.frames, 500);
        }
    }

    #[test]
    fn a_file_that_cannot_grow_is_told_from_other_write_errors() {
        assert!(cannot_grow(&io::Error::from_raw_os_error(libc::EFBIG)));
        assert!(cannot_grow(&io::Error::from_raw_os_error(libc::EPERM)));
        assert!(!cannot_grow(&io::Error::from_raw_os_error(libc::ENOSPC)));
        assert!(!cannot_grow(&io::Error::from_raw_os_error(libc::EIO)));
    }
}
