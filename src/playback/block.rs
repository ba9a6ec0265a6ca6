//! The mixed cue on its way from the reader to the output callback: preallocated blocks of
//! stereo f32 frames, each tagged with its run and timeline frame, handed over through one
//! SPSC ring and given back through another, so that nothing is allocated or freed after
//! `Player::new`.

use ringbuf::traits::{Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

/// Frames per block.
pub(crate) const BLOCK_FRAMES: usize = 1024;

/// Up to `BLOCK_FRAMES` stereo frames of the cue.
#[derive(Debug)]
pub(crate) struct Block {
    /// The play it belongs to.
    pub(crate) run: u32,
    /// Timeline frame of its first frame.
    pub(crate) start: u64,
    pub(crate) frames: usize,
    /// Interleaved left, right.
    pub(crate) samples: Box<[f32]>,
}

impl Block {
    fn new() -> Self {
        Self {
            run: 0,
            start: 0,
            frames: 0,
            // Written once (not zeroed memory the kernel hands out untouched), so that no
            // first touch of a page lands on the audio thread.
            samples: vec![1.0f32; BLOCK_FRAMES * 2].into_boxed_slice(),
        }
    }

    /// The timeline frame after its last.
    pub(crate) fn end(&self) -> u64 {
        self.start + self.frames as u64
    }
}

/// The reader's ends: blocks to fill, and where filled blocks go.
pub(crate) struct ReaderEnds {
    pub(crate) free: HeapCons<Block>,
    pub(crate) filled: HeapProd<Block>,
}

/// The callback's ends: filled blocks, and where they go back.
pub(crate) struct PlayoutEnds {
    pub(crate) filled: HeapCons<Block>,
    pub(crate) free: HeapProd<Block>,
}

/// `count` blocks, all free.
pub(crate) fn rings(count: usize) -> (ReaderEnds, PlayoutEnds) {
    let count = count.max(2);
    let (filled_p, filled_c) = HeapRb::<Block>::new(count).split();
    let (mut free_p, free_c) = HeapRb::<Block>::new(count).split();
    for _ in 0..count {
        // The ring has room for exactly `count`.
        let _ = free_p.try_push(Block::new());
    }
    (
        ReaderEnds {
            free: free_c,
            filled: filled_p,
        },
        PlayoutEnds {
            filled: filled_c,
            free: free_p,
        },
    )
}
