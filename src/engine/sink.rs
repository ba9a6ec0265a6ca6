//! Where the recording core's takes go: a folder of WAV files per take in production
//! (`take_files::WavSink`), memory in tests (`MemorySink`).

use std::io;
use std::path::Path;

use crate::format::FileFormat;
use crate::wav::{BextLoudness, BwfInfo};

/// One file of a take about to be recorded.
#[derive(Clone, Debug)]
pub(crate) struct NewFile {
    /// The file's name inside the take's folder.
    pub(crate) name: String,
    pub(crate) bwf: BwfInfo,
}

/// How one file of a take ended.
#[derive(Debug)]
pub(crate) struct FileEnd {
    /// Frames the file holds, as its header now says (all its parts together).
    pub(crate) frames: u64,
    /// Why finishing it failed (its header was then repaired to what reached the disk).
    pub(crate) error: Option<io::Error>,
    /// The track's files when the take was split: (name in the take's folder, frames), in
    /// order, the first included; empty when the take is one file per track.
    pub(crate) parts: Vec<(String, u64)>,
}

pub(crate) trait TakeSink {
    type Files: TakeFiles;

    /// Creates the files of a new take in `dir` (made for it, empty), each with its metadata.
    /// On failure it leaves none of them behind.
    fn create(
        &mut self,
        dir: &Path,
        files: &[NewFile],
        format: FileFormat,
        sample_rate: u32,
    ) -> io::Result<Self::Files>;

    /// Bytes free for recording where the takes go.
    fn free_bytes(&self) -> Option<u64>;
}

/// The files of the take being recorded, by index in the order they were created.
pub(crate) trait TakeFiles {
    /// Appends encoded sample bytes to one file.
    fn write(&mut self, file: usize, bytes: &[u8]) -> io::Result<()>;

    /// Makes every file's header describe the audio written so far, so that a killed process
    /// leaves valid files; reports a failure to force them to disk since the last call.
    fn checkpoint(&mut self) -> io::Result<()>;

    /// Finishes every file, with its bext loudness fields where known (by file index).
    fn finish(self, loudness: &[Option<BextLoudness>]) -> Vec<FileEnd>;

    /// When the files moved on to new parts since the last call: every file's parts so far
    /// (name in the take's folder, frames; the part being written last, at 0), to journal.
    fn new_parts(&mut self) -> Option<Vec<Vec<(String, u64)>>> {
        None
    }
}

#[cfg(test)]
pub(crate) use memory::{MemoryFile, MemorySink};

#[cfg(test)]
mod memory {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// A file recorded into memory.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub(crate) struct MemoryFile {
        pub(crate) path: std::path::PathBuf,
        pub(crate) bytes: Vec<u8>,
        pub(crate) finished: bool,
        pub(crate) checkpoints: u32,
    }

    #[derive(Default)]
    struct Disk {
        files: Vec<MemoryFile>,
        /// Bytes that still fit; `None`: no limit.
        space: Option<u64>,
        /// What `free_bytes` reports.
        free: Option<u64>,
        fail_create: bool,
    }

    /// Takes in memory, with a disk that can be made to fill up at a chosen byte.
    #[derive(Clone, Default)]
    pub(crate) struct MemorySink(Rc<RefCell<Disk>>);

    impl MemorySink {
        /// Every file written so far, in creation order.
        pub(crate) fn files(&self) -> Vec<MemoryFile> {
            self.0.borrow().files.clone()
        }

        /// The disk fills up after `bytes` more bytes of audio.
        pub(crate) fn fill_after(&self, bytes: u64) {
            self.0.borrow_mut().space = Some(bytes);
        }

        /// What the sink reports as free space.
        pub(crate) fn set_free(&self, bytes: Option<u64>) {
            self.0.borrow_mut().free = bytes;
        }

        pub(crate) fn fail_create(&self, fail: bool) {
            self.0.borrow_mut().fail_create = fail;
        }
    }

    pub(crate) struct MemoryTake {
        disk: Rc<RefCell<Disk>>,
        /// Indices into the disk's files.
        files: Vec<usize>,
        bytes_per_sample: usize,
    }

    impl TakeSink for MemorySink {
        type Files = MemoryTake;

        fn create(
            &mut self,
            dir: &Path,
            files: &[NewFile],
            format: FileFormat,
            _: u32,
        ) -> io::Result<MemoryTake> {
            let mut disk = self.0.borrow_mut();
            if disk.fail_create {
                return Err(io::Error::from(io::ErrorKind::PermissionDenied));
            }
            let first = disk.files.len();
            for f in files {
                disk.files.push(MemoryFile {
                    path: dir.join(&f.name),
                    ..Default::default()
                });
            }
            Ok(MemoryTake {
                disk: Rc::clone(&self.0),
                files: (first..first + files.len()).collect(),
                bytes_per_sample: format.bytes_per_sample(),
            })
        }

        fn free_bytes(&self) -> Option<u64> {
            self.0.borrow().free
        }
    }

    impl TakeFiles for MemoryTake {
        fn write(&mut self, file: usize, bytes: &[u8]) -> io::Result<()> {
            let mut disk = self.disk.borrow_mut();
            let fits = disk
                .space
                .map_or(bytes.len(), |s| bytes.len().min(s as usize));
            if let Some(s) = &mut disk.space {
                *s -= fits as u64;
            }
            let i = self.files[file];
            // As a file system does: what fits is written, then the write fails.
            disk.files[i].bytes.extend_from_slice(&bytes[..fits]);
            if fits < bytes.len() {
                return Err(io::Error::from(io::ErrorKind::StorageFull));
            }
            Ok(())
        }

        fn checkpoint(&mut self) -> io::Result<()> {
            let mut disk = self.disk.borrow_mut();
            for &i in &self.files {
                disk.files[i].checkpoints += 1;
            }
            Ok(())
        }

        fn finish(self, _: &[Option<BextLoudness>]) -> Vec<FileEnd> {
            let mut disk = self.disk.borrow_mut();
            self.files
                .iter()
                .map(|&i| {
                    disk.files[i].finished = true;
                    FileEnd {
                        // Whole samples only, as a repaired header says.
                        frames: (disk.files[i].bytes.len() / self.bytes_per_sample) as u64,
                        error: None,
                        parts: Vec::new(),
                    }
                })
                .collect()
        }
    }
}
