//! What the output callback shares with the rest of the program: atomics only.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::anchor::{Anchor, AnchorCell};

/// Where playback stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayState {
    Stopped,
    /// `play_from` was called: the reader is filling its read-ahead; the callback starts at
    /// the next block after it is full.
    Starting,
    Playing,
    /// Played to the song's end and stopped by itself.
    Ended,
}

impl PlayState {
    fn code(self) -> u64 {
        match self {
            Self::Stopped => 0,
            Self::Starting => 1,
            Self::Playing => 2,
            Self::Ended => 3,
        }
    }

    fn from_code(c: u64) -> Self {
        match c {
            1 => Self::Starting,
            2 => Self::Playing,
            3 => Self::Ended,
            _ => Self::Stopped,
        }
    }
}

/// Playback underruns: blocks the reader had not mixed in time, played as silence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Underruns {
    /// Episodes: a run of consecutive short blocks counts once.
    pub events: u64,
    /// Frames played as silence in place of the song.
    pub frames: u64,
}

/// State shared by the control side, the reader and the output callback.
#[derive(Debug, Default)]
pub struct PlaybackShared {
    /// The run and its state in one word (run << 8 | state), so a state change of an older
    /// run can never pass for the current one's: the control side stores Starting and
    /// Stopped, the callback moves Starting to Playing and Playing to Ended by
    /// compare-and-swap.
    control: AtomicU64,
    /// The song's end for the current run, stored before its Starting.
    length: AtomicU64,
    /// The run whose read-ahead the reader has filled.
    ready_run: AtomicU32,
    pub(crate) underrun_events: AtomicU64,
    pub(crate) underrun_frames: AtomicU64,
    /// Xruns the host reported (underruns of the device's own buffer).
    device_xruns: AtomicU64,
    /// The stream ended for good (device lost, server gone).
    ended: AtomicBool,
    /// The last block played.
    anchor: AnchorCell,
    /// The first block of the current run.
    first: AnchorCell,
    /// Test hook: the reader mixes nothing while set (a disk that stops answering).
    #[cfg(any(test, feature = "fault-injection"))]
    stall_reader: AtomicBool,
}

impl PlaybackShared {
    pub fn state(&self) -> PlayState {
        self.control().1
    }

    /// The current run and its state.
    pub(crate) fn control(&self) -> (u32, PlayState) {
        let c = self.control.load(Ordering::Acquire);
        ((c >> 8) as u32, PlayState::from_code(c & 0xFF))
    }

    pub(crate) fn set_control(&self, run: u32, state: PlayState) {
        self.control
            .store(u64::from(run) << 8 | state.code(), Ordering::Release);
    }

    /// Moves `run` from one state to another, unless the control side changed it meanwhile.
    pub(crate) fn advance(&self, run: u32, from: PlayState, to: PlayState) -> bool {
        let run = u64::from(run) << 8;
        self.control
            .compare_exchange(
                run | from.code(),
                run | to.code(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    pub(crate) fn set_length(&self, frames: u64) {
        self.length.store(frames, Ordering::Release);
    }

    pub(crate) fn length(&self) -> u64 {
        self.length.load(Ordering::Acquire)
    }

    pub(crate) fn set_ready(&self, run: u32) {
        self.ready_run.store(run, Ordering::Release);
    }

    pub(crate) fn ready(&self) -> u32 {
        self.ready_run.load(Ordering::Acquire)
    }

    /// The last block played, or `None` before the first callback.
    pub fn anchor(&self) -> Option<Anchor> {
        self.anchor.load()
    }

    /// The first block of the current (or last) run: its `position` is the frame playback
    /// started from, its clock the device cycle in which that frame was written.
    pub fn first_anchor(&self) -> Option<Anchor> {
        self.first.load()
    }

    pub(crate) fn publish(&self, a: &Anchor, first: bool) {
        if first {
            self.first.store(a);
        }
        self.anchor.store(a);
    }

    pub fn underruns(&self) -> Underruns {
        Underruns {
            events: self.underrun_events.load(Ordering::Relaxed),
            frames: self.underrun_frames.load(Ordering::Relaxed),
        }
    }

    /// Xruns the host reported on the output stream.
    pub fn device_xruns(&self) -> u64 {
        self.device_xruns.load(Ordering::Relaxed)
    }

    /// Whether the output stream ended for good (device lost, server gone).
    pub fn stream_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Called from cpal's error callback (audio or notification thread): atomics only.
    pub(crate) fn on_stream_error(&self, kind: cpal::ErrorKind) {
        match kind {
            cpal::ErrorKind::Xrun => {
                self.device_xruns.fetch_add(1, Ordering::Relaxed);
            }
            cpal::ErrorKind::DeviceNotAvailable
            | cpal::ErrorKind::StreamInvalidated
            | cpal::ErrorKind::BackendError => self.ended.store(true, Ordering::Release),
            _ => {}
        }
    }

    /// Test hook: while `stall` holds, the reader mixes nothing, as if the disk stopped
    /// answering.
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn stall_reader(&self, stall: bool) {
        self.stall_reader.store(stall, Ordering::Release);
    }

    #[cfg(any(test, feature = "fault-injection"))]
    pub(crate) fn reader_stalled(&self) -> bool {
        self.stall_reader.load(Ordering::Acquire)
    }

    #[cfg(not(any(test, feature = "fault-injection")))]
    pub(crate) fn reader_stalled(&self) -> bool {
        false
    }
}
