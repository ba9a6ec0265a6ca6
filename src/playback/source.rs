//! A clip opened for one play, on the reader's side: its file (opened once, read with
//! positioned reads) and a window of the file's frames read ahead of the mix.

use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::clip::Clip;

/// Why a clip does not play in full. The rest of the song plays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The file cannot be opened: the track is silent.
    Missing { path: PathBuf, error: String },
    /// The file holds fewer frames than the clip says: the rest is silent.
    Truncated {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    /// Reading failed while playing: the track is silent from there on.
    ReadFailed { path: PathBuf, error: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { path, error } => {
                write!(
                    f,
                    "{} cannot be played ({error}): its track is silent",
                    path.display()
                )
            }
            Self::Truncated {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{} holds {actual} of its {expected} frames: the rest of its track is silent",
                path.display()
            ),
            Self::ReadFailed { path, error } => write!(
                f,
                "reading {} failed ({error}): its track is silent from there on",
                path.display()
            ),
        }
    }
}

/// A clip being played.
#[derive(Debug)]
pub(crate) struct Source {
    /// Its track's place in the gain table.
    pub(crate) slot: usize,
    pub(crate) clip: Clip,
    file: File,
    /// Frames the file really holds, up to the clip's count.
    pub(crate) frames: u64,
    align: usize,
    /// File frames `[first, first + held)` are in `window`.
    window: Box<[u8]>,
    first: u64,
    held: usize,
    failed: bool,
}

impl Source {
    /// Opens the clip's file; `window_frames` of it are read ahead. A file that cannot be
    /// opened is a problem and no source; a short one plays what it has.
    pub(crate) fn open(
        clip: &Clip,
        slot: usize,
        window_frames: usize,
    ) -> (Option<Source>, Option<Problem>) {
        let opened = File::open(&clip.path).and_then(|f| f.metadata().map(|m| (f, m.len())));
        let (file, len) = match opened {
            Ok(x) => x,
            Err(e) => {
                let problem = Problem::Missing {
                    path: clip.path.clone(),
                    error: e.to_string(),
                };
                return (None, Some(problem));
            }
        };
        let align = clip.block_align();
        let actual = (len.saturating_sub(clip.data_offset) / align as u64).min(clip.frames);
        let problem = (actual < clip.frames).then(|| Problem::Truncated {
            path: clip.path.clone(),
            expected: clip.frames,
            actual,
        });
        let window_frames = window_frames.max(super::block::BLOCK_FRAMES * 2);
        let source = Source {
            slot,
            clip: clip.clone(),
            file,
            frames: actual,
            align,
            window: vec![0u8; window_frames * align].into_boxed_slice(),
            first: 0,
            held: 0,
            failed: false,
        };
        (Some(source), problem)
    }

    fn capacity(&self) -> usize {
        self.window.len() / self.align
    }

    /// The bytes of file frames `[k0, k1)` (at most a block), read first if not yet in the
    /// window. Zeros where reading failed.
    pub(crate) fn frames(&mut self, k0: u64, k1: u64) -> (&[u8], Option<Problem>) {
        let k1 = k1.min(self.frames).max(k0);
        let mut problem = None;
        if k0 < self.first || k1 > self.first + self.held as u64 {
            problem = self.read_ahead(k0, k1 - k0);
        }
        let at = (k0 - self.first) as usize * self.align;
        let n = (k1 - k0) as usize * self.align;
        (&self.window[at..at + n], problem)
    }

    /// Keeps the window full ahead of file frame `k` once it has drained below half. Returns
    /// whether it read.
    pub(crate) fn top_up(&mut self, k: u64) -> (bool, Option<Problem>) {
        let end = self.first + self.held as u64;
        let ahead = end.saturating_sub(k);
        if self.failed || end >= self.frames || ahead as usize >= self.capacity() / 2 {
            return (false, None);
        }
        (true, self.read_ahead(k.max(self.first), 0))
    }

    /// Makes the window start at `k` (keeping what it holds from there) and fills it as far
    /// as the file and the window go, at least `need` frames.
    fn read_ahead(&mut self, k: u64, need: u64) -> Option<Problem> {
        let end = self.first + self.held as u64;
        if (self.first..end).contains(&k) {
            let keep_from = (k - self.first) as usize * self.align;
            self.window
                .copy_within(keep_from..self.held * self.align, 0);
            self.held -= (k - self.first) as usize;
        } else {
            self.held = 0;
        }
        self.first = k;
        let want = (self.capacity() as u64)
            .min(self.frames.saturating_sub(k))
            .max(need.min(self.capacity() as u64)) as usize;
        if want <= self.held {
            return None;
        }
        let from = self.held * self.align;
        let to = want * self.align;
        let at = self.clip.data_offset + (k + self.held as u64) * self.align as u64;
        self.held = want;
        if self.failed {
            self.window[from..to].fill(0);
            return None;
        }
        match self.file.read_exact_at(&mut self.window[from..to], at) {
            Ok(()) => None,
            Err(e) => {
                self.window[from..to].fill(0);
                self.failed = true;
                Some(Problem::ReadFailed {
                    path: self.clip.path.clone(),
                    error: e.to_string(),
                })
            }
        }
    }
}
