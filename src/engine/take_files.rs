//! The production sink: each take is a folder of Broadcast Wave files, one per track, kept
//! valid on disk at every moment (`wav::WavWriter`), forced to disk on a cadence (`Syncer`),
//! with a reserve file that makes room for the manifest when the disk fills up.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::sink::{FileEnd, NewFile, TakeFiles, TakeSink};
use super::syncer::{SyncWatch, Syncer};
use crate::format::FileFormat;
use crate::wav::{BextLoudness, WavWriter};

/// Kept free in the session folder while recording and released when the disk fills up, so
/// that the manifest can still be written.
const RESERVE_BYTES: usize = 1 << 20;
const RESERVE_NAME: &str = ".tapedeck-reserve";

/// Disk full shows up as ENOSPC (or EDQUOT for a quota).
pub(crate) fn is_disk_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull || e.kind() == io::ErrorKind::QuotaExceeded
}

pub(crate) struct WavSink {
    session_dir: PathBuf,
    syncer: Syncer,
}

impl WavSink {
    /// Takes go into folders of `session_dir`; `sync_interval` as `--sync-interval`.
    pub(crate) fn new(session_dir: &Path, sync_interval: Option<Duration>) -> Self {
        Self {
            session_dir: session_dir.to_path_buf(),
            syncer: Syncer::start(sync_interval),
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
}

/// The files of the take being recorded.
pub(crate) struct WavTake {
    writers: Vec<WavWriter>,
    reserve: PathBuf,
    sync: SyncWatch,
}

impl WavTake {
    /// A full disk frees the reserve, for the manifest and the final headers.
    fn on_error(&self, e: io::Error) -> io::Error {
        if is_disk_full(&e) {
            let _ = std::fs::remove_file(&self.reserve);
        }
        e
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
                Ok(w) => writers.push(w),
                Err(e) => {
                    // Nothing was recorded: leave no empty files behind.
                    for w in &writers {
                        let _ = std::fs::remove_file(w.path());
                    }
                    return Err(e);
                }
            }
        }
        let handles = writers
            .iter()
            .filter_map(|w| w.sync_handle().ok())
            .collect();
        Ok(WavTake {
            writers,
            reserve: self.reserve(),
            sync: self.syncer.watch(handles),
        })
    }

    fn free_bytes(&self) -> Option<u64> {
        crate::disk::free_bytes(&self.session_dir)
    }
}

impl TakeFiles for WavTake {
    fn write(&mut self, file: usize, bytes: &[u8]) -> io::Result<()> {
        let result = match self.writers.get_mut(file) {
            Some(w) => w.write_bytes(bytes),
            None => Err(io::Error::other(format!("the take has no file {file}"))),
        };
        result.map_err(|e| self.on_error(e))
    }

    fn checkpoint(&mut self) -> io::Result<()> {
        for w in &mut self.writers {
            if let Err(e) = w.update_header() {
                return Err(self.on_error(e));
            }
        }
        match self.sync.take_failure() {
            Some(e) => Err(self.on_error(e)),
            None => Ok(()),
        }
    }

    fn finish(self, loudness: &[Option<BextLoudness>]) -> Vec<FileEnd> {
        self.sync.stop();
        let reserve = self.reserve;
        self.writers
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                let path = w.path().to_path_buf();
                match w.finalize_with_loudness(loudness.get(i).and_then(Option::as_ref)) {
                    Ok(frames) => FileEnd {
                        frames,
                        error: None,
                    },
                    Err(e) => {
                        if is_disk_full(&e) {
                            let _ = std::fs::remove_file(&reserve);
                        }
                        // The header may promise more than reached the disk: make it say what
                        // is there, whole frames only.
                        FileEnd {
                            frames: crate::wav::repair(&path).map(|r| r.frames).unwrap_or(0),
                            error: Some(e),
                        }
                    }
                }
            })
            .collect()
    }
}
