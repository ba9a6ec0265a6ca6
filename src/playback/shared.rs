//! What the output callback shares with the rest of the program: atomics only.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::anchor::AnchorCell;

/// Where a play stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PlayState {
    Stopped = 0,
    /// Asked to play: the callback drops what the ring held, the reader fills it from the new
    /// position, then the callback starts at the next block.
    Starting = 1,
    Playing = 2,
    /// The song's end was played.
    Ended = 3,
}

/// Shared between the output callback, the reader thread and the control side.
pub struct PlaybackShared {
    pub(crate) state: AtomicU8,
    /// The play asked for last (the control side counts them).
    pub(crate) run: AtomicU64,
    /// The play whose old audio the callback has dropped from the ring: the reader may fill
    /// it for that play.
    pub(crate) flushed_run: AtomicU64,
    /// The play the ring is filled for, from `start_frame`: the callback may start it.
    pub(crate) ready_run: AtomicU64,
    pub(crate) start_frame: AtomicU64,
    /// Where the song ends: the callback stops there.
    pub(crate) end_frame: AtomicU64,
    /// The timeline frame the callback plays next.
    pub(crate) position: AtomicU64,
    pub(crate) underruns: AtomicU64,
    pub(crate) underrun_frames: AtomicU64,
    /// Callbacks so far (the output is running).
    pub(crate) callbacks: AtomicU64,
    /// When each block's first frame sounds (`crate::anchor`), with the play it belongs to.
    pub anchor: AnchorCell,
}

impl PlaybackShared {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicU8::new(PlayState::Stopped as u8),
            run: AtomicU64::new(0),
            flushed_run: AtomicU64::new(0),
            ready_run: AtomicU64::new(0),
            start_frame: AtomicU64::new(0),
            end_frame: AtomicU64::new(0),
            position: AtomicU64::new(0),
            underruns: AtomicU64::new(0),
            underrun_frames: AtomicU64::new(0),
            callbacks: AtomicU64::new(0),
            anchor: AnchorCell::new(),
        }
    }

    pub fn state(&self) -> PlayState {
        match self.state.load(Ordering::Acquire) {
            1 => PlayState::Starting,
            2 => PlayState::Playing,
            3 => PlayState::Ended,
            _ => PlayState::Stopped,
        }
    }

    pub(crate) fn set_state(&self, s: PlayState) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// Blocks of silence played because the reader was late, and their frames.
    pub fn underruns(&self) -> (u64, u64) {
        (
            self.underruns.load(Ordering::Relaxed),
            self.underrun_frames.load(Ordering::Relaxed),
        )
    }

    /// The timeline frame being played.
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }
}
