//! The preallocated rings between the audio thread and the writer (the samples as 32-bit
//! words, and the gaps between them), and the audio thread's end of them, `Store`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ringbuf::traits::{Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::shared::{CaptureShared, Gap, GapCause};

/// Gap events the queue holds before the callback has to hold one back.
const GAP_QUEUE: usize = 1024;

/// The consumer ends handed to the writer.
pub struct CaptureOutput {
    pub samples: HeapCons<u32>,
    pub(crate) gaps: HeapCons<Gap>,
}

/// The audio thread's ends of the rings: stores whole frames and the gaps between them in
/// stream order, and keeps the stream position.
pub(crate) struct Store {
    shared: Arc<CaptureShared>,
    samples: HeapProd<u32>,
    gaps: HeapProd<Gap>,
    channels: usize,
    position: u64,
    /// A gap that could not be queued yet (the gap queue was full): everything after it waits.
    pending: Option<Gap>,
}

impl Store {
    /// Allocates `ring_frames` frames of `shared.channels` inputs and a queue of
    /// `GAP_QUEUE` gaps, and touches every page of the ring before the stream starts.
    pub(crate) fn new(shared: Arc<CaptureShared>, ring_frames: usize) -> (Self, CaptureOutput) {
        let channels = shared.channels.max(1);
        let (mut sp, sc) = HeapRb::<u32>::new(ring_frames.max(1) * channels).split();
        prepare_ring(&mut sp);
        let (gp, gc) = HeapRb::<Gap>::new(GAP_QUEUE).split();
        let store = Self {
            shared,
            samples: sp,
            gaps: gp,
            channels,
            position: 0,
            pending: None,
        };
        (
            store,
            CaptureOutput {
                samples: sc,
                gaps: gc,
            },
        )
    }

    /// Frames stored plus frames known to be missing.
    pub(crate) fn position(&self) -> u64 {
        self.position
    }

    /// Stores ring words of whole frames, or as many as fit, the rest an overflow gap.
    pub(crate) fn push(&mut self, words: &[u32]) {
        let ch = self.channels;
        let total = words.len() / ch;
        if !self.flush_pending() {
            // Nothing may be stored after a gap the writer has not been told about yet.
            self.add_gap(total as u64, GapCause::RingOverflow, true);
            return;
        }
        let n = total.min(self.samples.vacant_len() / ch);
        // Cannot come up short: `n` whole frames fit in the vacant space just measured, and
        // only this thread adds to the ring.
        self.samples.push_slice(&words[..n * ch]);
        self.position += n as u64;
        if n < total {
            self.add_gap((total - n) as u64, GapCause::RingOverflow, true);
        }
    }

    /// Records `frames` missing at the current position, merging with a gap still waiting to
    /// be queued when they touch.
    pub(crate) fn add_gap(&mut self, frames: u64, cause: GapCause, exact: bool) {
        let counter = match cause {
            GapCause::DeviceXrun => &self.shared.xrun_frames,
            GapCause::RingOverflow => &self.shared.overflow_frames,
        };
        counter.fetch_add(frames, Ordering::Relaxed);
        match &mut self.pending {
            // A pending gap blocks all data, so it always ends at the current position.
            Some(p) => {
                p.frames += frames;
                p.exact &= exact;
            }
            None => {
                self.pending = Some(Gap {
                    at_frame: self.position,
                    frames,
                    cause,
                    exact,
                });
            }
        }
        self.position += frames;
        self.flush_pending();
    }

    /// Queues the pending gap for the writer; false if the gap queue is still full.
    fn flush_pending(&mut self) -> bool {
        match self.pending.take() {
            None => true,
            Some(g) => match self.gaps.try_push(g) {
                Ok(()) => true,
                Err(g) => {
                    self.pending = Some(g);
                    false
                }
            },
        }
    }

    pub(crate) fn publish_position(&self) {
        self.shared.position.store(self.position, Ordering::Release);
    }
}

/// Touches every page of the ring before the stream starts, and locks them in memory where
/// the system allows it (`RLIMIT_MEMLOCK`; root may).
///
/// The ring's memory comes from the kernel untouched: each first write to a page is a page
/// fault in which the kernel clears it, and without this every one of them would land on the
/// audio thread during the first pass through the ring (6 000 faults in the first 4 s at 32
/// inputs). Locking keeps the pages from being swapped out later; where it is refused the
/// ring is still resident, just not pinned.
fn prepare_ring(ring: &mut HeapProd<u32>) {
    let (a, b) = ring.vacant_slices_mut();
    for part in [a, b] {
        for w in part.iter_mut() {
            w.write(0);
        }
        if !part.is_empty() {
            // SAFETY: the range is memory this ring owns, alive for the call; mlock only
            // pins it and reports failure through its return value, which is not needed.
            unsafe {
                libc::mlock(part.as_ptr().cast(), std::mem::size_of_val(part));
            }
        }
    }
}

/// A buffer whose pages have all been written (see `prepare_ring`). Zeros would not do: an
/// allocation of zeros comes straight from the kernel, untouched.
pub(crate) fn touched(words: usize) -> Box<[u32]> {
    vec![u32::MAX; words].into_boxed_slice()
}
