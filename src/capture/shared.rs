//! What the audio thread shares with the rest of the program: atomics only, and the gap events
//! it queues for the writer.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

/// Why frames are missing from the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GapCause {
    /// The device or audio server reported an overrun (xrun): it lost input before we saw it.
    DeviceXrun,
    /// The ring buffer was full (the writer fell behind): the callback had to drop frames.
    RingOverflow,
}

impl GapCause {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::DeviceXrun => "device_xrun",
            Self::RingOverflow => "ring_overflow",
        }
    }
}

/// Frames missing from the stream at a position (in frames since the stream started).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gap {
    pub(crate) at_frame: u64,
    pub(crate) frames: u64,
    pub(crate) cause: GapCause,
    /// True when the length is known exactly (frame-accurate timestamps or our own overflow);
    /// false when it was estimated from the host's timestamps.
    pub(crate) exact: bool,
}

/// A fatal stream condition reported by the host through the error callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum StreamFault {
    None = 0,
    DeviceLost = 1,
    Other = 2,
}

/// State shared between the audio thread and the rest of the engine. Only atomics.
pub struct CaptureShared {
    pub(crate) channels: usize,
    /// Stream position: frames captured plus frames known to be missing.
    pub(crate) position: AtomicU64,
    /// Xruns reported by the host's error callback (may run on another thread).
    pub xruns_reported: AtomicU64,
    /// Total frames lost to ring overflow and to device xruns.
    pub overflow_frames: AtomicU64,
    pub xrun_frames: AtomicU64,
    pub(crate) callbacks: AtomicU64,
    pub(crate) fault: AtomicU8,
    /// Set by the error callback when the stream ended for good.
    pub(crate) ended: AtomicBool,
    /// How the audio thread is scheduled, once its first callback has run (`Realtime`).
    pub(crate) realtime: AtomicU8,
    /// Where the latest stored block lies on the host's clock (`crate::anchor`).
    pub(crate) anchor: crate::anchor::AnchorCell,
}

/// How the audio thread is scheduled (`CaptureShared::realtime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Realtime {
    /// No callback has run yet.
    Unknown = 0,
    /// SCHED_FIFO or SCHED_RR: the host's (a realtime JACK server) or tapedeck's request.
    Yes = 1,
    /// The ordinary scheduler: the request was refused (no rtprio allowance), or the JACK
    /// server runs its clients without realtime priority.
    No = 2,
    /// Not asked for: the demo device is no hardware and has no deadline.
    NotApplicable = 3,
}

impl CaptureShared {
    pub(crate) fn new(channels: usize) -> Self {
        Self {
            channels,
            position: AtomicU64::new(0),
            xruns_reported: AtomicU64::new(0),
            overflow_frames: AtomicU64::new(0),
            xrun_frames: AtomicU64::new(0),
            callbacks: AtomicU64::new(0),
            fault: AtomicU8::new(StreamFault::None as u8),
            ended: AtomicBool::new(false),
            realtime: AtomicU8::new(Realtime::Unknown as u8),
            anchor: crate::anchor::AnchorCell::new(),
        }
    }

    pub(crate) fn realtime(&self) -> Realtime {
        match self.realtime.load(Ordering::Acquire) {
            1 => Realtime::Yes,
            2 => Realtime::No,
            3 => Realtime::NotApplicable,
            _ => Realtime::Unknown,
        }
    }

    pub(crate) fn fault(&self) -> StreamFault {
        match self.fault.load(Ordering::Acquire) {
            1 => StreamFault::DeviceLost,
            2 => StreamFault::Other,
            _ => StreamFault::None,
        }
    }

    /// Called from cpal's error callback (audio or notification thread): atomics only.
    pub(crate) fn on_stream_error(&self, kind: cpal::ErrorKind) {
        match kind {
            cpal::ErrorKind::Xrun => {
                self.xruns_reported.fetch_add(1, Ordering::AcqRel);
            }
            cpal::ErrorKind::DeviceNotAvailable => {
                self.fault
                    .store(StreamFault::DeviceLost as u8, Ordering::Release);
                self.ended.store(true, Ordering::Release);
            }
            cpal::ErrorKind::StreamInvalidated | cpal::ErrorKind::BackendError => {
                self.fault
                    .store(StreamFault::Other as u8, Ordering::Release);
                self.ended.store(true, Ordering::Release);
            }
            // Realtime priority denied and similar notices do not affect the data.
            _ => {}
        }
    }
}
