//! Building and starting the cpal input stream whose data callback is `Capture::on_block`,
//! with what the host says of each block, and the audio thread's scheduling.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use cpal::BufferSize;
use cpal::traits::{DeviceTrait, StreamTrait};

use super::{
    Capture, CaptureOutput, CaptureSample, CaptureShared, Realtime, Stamp, TimestampTrust,
};
use crate::audio::{self, HostKind, StreamChoice};
use crate::error::Error;
use crate::format::DeviceFormat;

/// How much the host's capture timestamps can be trusted to measure a gap.
fn timestamp_trust(kind: HostKind) -> TimestampTrust {
    match kind {
        // JACK stamps every cycle from its own frame clock; cycles are lost whole.
        HostKind::Jack => TimestampTrust::Exact {
            whole_periods: true,
        },
        // Our own device stamps from its frame counter.
        HostKind::Demo => TimestampTrust::Exact {
            whole_periods: false,
        },
        HostKind::Alsa | HostKind::PipeWire => TimestampTrust::OnXrunOnly,
    }
}

/// A playing capture stream and the engine's ends of its rings.
pub(crate) struct OpenStream {
    pub(crate) stream: cpal::Stream,
    pub(crate) output: CaptureOutput,
    pub(crate) shared: Arc<CaptureShared>,
}

/// Builds and starts the capture stream.
pub(crate) fn open_stream(
    kind: HostKind,
    device: &cpal::Device,
    choice: &StreamChoice,
    ring_frames: usize,
    monitor: Option<crate::monitor::MonitorIn>,
) -> Result<OpenStream, Error> {
    let (mut capture, output, shared) = Capture::new(
        usize::from(choice.channels),
        choice.sample_rate,
        ring_frames,
        timestamp_trust(kind),
    );
    if let Some(m) = monitor {
        capture.set_monitor(m);
    }
    let config = cpal::StreamConfig {
        channels: choice.channels,
        sample_rate: choice.sample_rate,
        buffer_size: choice.buffer.map_or(BufferSize::Default, BufferSize::Fixed),
    };
    let stream = match choice.format {
        DeviceFormat::I16 => build::<i16>(kind, device, &config, capture, &shared),
        DeviceFormat::I24 => build::<cpal::I24>(kind, device, &config, capture, &shared),
        DeviceFormat::I32 => build::<i32>(kind, device, &config, capture, &shared),
        DeviceFormat::F32 => build::<f32>(kind, device, &config, capture, &shared),
    }
    .map_err(|e| {
        Error::Runtime(format!(
            "cannot open {} for capture ({} ch, {} Hz, {}): {e}",
            audio::name_of(device),
            choice.channels,
            choice.sample_rate,
            choice.format
        ))
    })?;
    stream
        .play()
        .map_err(|e| Error::Runtime(format!("cannot start {}: {e}", audio::name_of(device))))?;
    Ok(OpenStream {
        stream,
        output,
        shared,
    })
}

/// What JACK says of the cycle being delivered (none on other hosts): its frame counter, how
/// many frames after the cycle's actual start the callback ran, and the counter when the
/// ports had been read.
#[cfg(feature = "jack")]
fn jack_cycle() -> Option<(u32, u32, u32, u32)> {
    cpal::platform::jack_cycle().map(|c| (c.frames, c.offset, c.read_end, c.latency))
}

#[cfg(not(feature = "jack"))]
fn jack_cycle() -> Option<(u32, u32, u32, u32)> {
    None
}

/// The realtime priority tapedeck asks for on its audio thread where the host does not set one
/// (ALSA): below a JACK server's usual 70-80, above every ordinary thread.
const AUDIO_PRIORITY: i32 = 70;

/// The scheduling of the calling thread, after asking for SCHED_FIFO if `ask` and it has no
/// realtime policy yet. Allowed to root and to users with an `rtprio` limit (the `audio`
/// group on most distributions, `/etc/security/limits.d/`); asked at `AUDIO_PRIORITY`, or at
/// the user's limit if that is lower.
pub(crate) fn schedule_audio_thread(ask: bool) -> Realtime {
    // SAFETY: scheduling calls on the calling thread with initialised arguments; they only
    // read and write what they are given and report failure in their return value.
    unsafe {
        let me = libc::pthread_self();
        let mut policy = 0;
        let mut param: libc::sched_param = std::mem::zeroed();
        if libc::pthread_getschedparam(me, &mut policy, &mut param) == 0
            && (policy == libc::SCHED_FIFO || policy == libc::SCHED_RR)
        {
            return Realtime::Yes;
        }
        if !ask {
            return Realtime::No;
        }
        param.sched_priority = AUDIO_PRIORITY;
        if libc::pthread_setschedparam(me, libc::SCHED_FIFO, &param) == 0 {
            return Realtime::Yes;
        }
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_RTPRIO, &mut limit) == 0
            && limit.rlim_cur > 0
            && limit.rlim_cur < AUDIO_PRIORITY as libc::rlim_t
        {
            param.sched_priority = limit.rlim_cur as i32;
            if libc::pthread_setschedparam(me, libc::SCHED_FIFO, &param) == 0 {
                return Realtime::Yes;
            }
        }
        Realtime::No
    }
}

fn build<T: CaptureSample>(
    kind: HostKind,
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut capture: Capture,
    shared: &Arc<CaptureShared>,
) -> Result<cpal::Stream, cpal::Error> {
    let errors = Arc::clone(shared);
    let scheduling = Arc::clone(shared);
    let mut scheduled = false;
    let started = Instant::now();
    // Started before the stream: the callback only reads it.
    crate::anchor::process_clock_ns();
    let rate = u64::from(config.sample_rate).max(1);
    device.build_input_stream::<T, _, _>(
        *config,
        move |data: &[T], info: &cpal::InputCallbackInfo| {
            // Once, on the audio thread itself (cpal does not hand it out otherwise): the only
            // system calls this callback makes. A JACK server sets its clients' priority
            // itself (and runs them without one only when told to); the demo device has no
            // deadline.
            if !scheduled {
                scheduled = true;
                let state = match kind {
                    HostKind::Alsa => schedule_audio_thread(true),
                    // PipeWire runs the callback on its own data thread, scheduled by it.
                    HostKind::Jack | HostKind::PipeWire => schedule_audio_thread(false),
                    HostKind::Demo => Realtime::NotApplicable,
                };
                scheduling.realtime.store(state as u8, Ordering::Release);
            }
            let stamp = match jack_cycle() {
                Some((frame, offset, read_end, latency)) => Stamp::JackCycle {
                    frame,
                    // From the cycle's actual start: the callback stamp minus the capture
                    // stamp would add the ports' latency, which changes as they are
                    // connected, and cpal holds the capture stamp back while jackd's cycle
                    // time filter settles after an xrun.
                    wake_ns: u64::from(offset) * 1_000_000_000 / rate,
                    // clock_gettime through the vDSO: no lock, no allocation.
                    clock_ns: u64::try_from(started.elapsed().as_nanos()).ok(),
                    read_end,
                    latency,
                },
                None if matches!(kind, HostKind::Alsa | HostKind::PipeWire) => {
                    // As for the output (playback/stream.rs): our own clock, and cpal's
                    // distance from the ADC to the callback.
                    let stamp = info.timestamp();
                    let now = crate::anchor::process_clock_ns();
                    Stamp::Host {
                        capture_ns: Some(now.saturating_sub(crate::anchor::ns_between(
                            stamp.capture,
                            stamp.callback,
                        ))),
                        callback_ns: Some(now),
                    }
                }
                None => {
                    let stamp = info.timestamp();
                    Stamp::Host {
                        capture_ns: u64::try_from(stamp.capture.as_nanos()).ok(),
                        callback_ns: u64::try_from(stamp.callback.as_nanos()).ok(),
                    }
                }
            };
            capture.on_block(data, stamp);
        },
        move |e: cpal::Error| errors.on_stream_error(e.kind()),
        None,
    )
}
