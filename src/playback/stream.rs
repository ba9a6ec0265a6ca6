//! Choosing an output configuration, and building and starting the cpal output stream whose
//! data callback is `Playout::on_block`, with what the host says of each block.

use std::sync::Arc;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{BufferSize, SupportedBufferSize, SupportedStreamConfigRange};

use super::{OutStamp, OutputSample, PlaybackShared, Playout};
use crate::audio::{self, HostKind};
use crate::error::Error;
use crate::format::DeviceFormat;

/// The output stream's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputChoice {
    pub channels: u16,
    pub sample_rate: u32,
    pub format: DeviceFormat,
    pub buffer: Option<u32>,
}

/// What the output must be: the session's rate; the rest the device's best unless asked.
#[derive(Clone, Debug, Default)]
pub struct OutputRequest {
    pub sample_rate: u32,
    pub channels: Option<u16>,
    pub format: Option<DeviceFormat>,
    pub buffer: Option<u32>,
}

/// Device formats best first: JACK's own float; elsewhere 32-bit integers, which carry a
/// 24-bit take exactly and leave the device's converter nothing to round.
fn preferred(kind: HostKind) -> [DeviceFormat; 4] {
    use DeviceFormat::*;
    match kind {
        HostKind::Jack => [F32, I32, I24, I16],
        _ => [I32, F32, I24, I16],
    }
}

/// Picks channels (2 where the device has them: the cue is stereo), format and buffer for
/// playing at the session's rate, or says what the device supports.
pub fn choose_output(
    kind: HostKind,
    device: &cpal::Device,
    req: &OutputRequest,
) -> Result<OutputChoice, Error> {
    let name = audio::name_of(device);
    let configs: Vec<SupportedStreamConfigRange> = device
        .supported_output_configs()
        .map_err(|e| Error::Runtime(format!("cannot ask {name} what it can play: {e}")))?
        .collect();
    if configs.is_empty() {
        return Err(Error::usage(format!(
            "{name} has no output; choose another device with --output"
        )));
    }
    let rate = req.sample_rate;
    let with_rate: Vec<&SupportedStreamConfigRange> = configs
        .iter()
        .filter(|c| (c.min_sample_rate()..=c.max_sample_rate()).contains(&rate))
        .collect();
    if with_rate.is_empty() {
        let rates: std::collections::BTreeSet<String> = configs
            .iter()
            .map(|c| {
                if c.min_sample_rate() == c.max_sample_rate() {
                    c.min_sample_rate().to_string()
                } else {
                    format!("{}-{}", c.min_sample_rate(), c.max_sample_rate())
                }
            })
            .collect();
        return Err(Error::usage(format!(
            "{name} cannot play at {rate} Hz (the session's rate); it plays at {} Hz",
            rates.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let offered = |c: &&&SupportedStreamConfigRange| DeviceFormat::from_cpal(c.sample_format());
    let channels = match req.channels {
        Some(ch) => ch,
        None => {
            let all: Vec<u16> = with_rate.iter().map(|c| c.channels()).collect();
            if all.contains(&2) {
                2
            } else {
                all.iter().copied().filter(|&c| c > 2).min().unwrap_or(1)
            }
        }
    };
    let fits: Vec<&&SupportedStreamConfigRange> = with_rate
        .iter()
        .filter(|c| c.channels() == channels && offered(c).is_some())
        .collect();
    if fits.is_empty() {
        return Err(Error::usage(format!(
            "{name} cannot play {channels} channels at {rate} Hz in a format tapedeck writes \
             (i16, i24, i32, f32)"
        )));
    }
    let formats: Vec<DeviceFormat> = fits.iter().filter_map(offered).collect();
    let format = match req.format {
        Some(f) if formats.contains(&f) => f,
        Some(f) => {
            return Err(Error::usage(format!(
                "{name} does not play {f} at {rate} Hz with {channels} channels; it plays {}",
                formats
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        None => preferred(kind)
            .into_iter()
            .find(|f| formats.contains(f))
            .unwrap_or(formats[0]),
    };
    if let Some(b) = req.buffer {
        let range = fits
            .iter()
            .find(|c| offered(c) == Some(format))
            .map(|c| *c.buffer_size());
        if let Some(SupportedBufferSize::Range { min, max }) = range
            && !(min..=max).contains(&b)
        {
            return Err(Error::usage(format!(
                "{name} plays buffers of {min} to {max} frames, not {b}"
            )));
        }
    }
    Ok(OutputChoice {
        channels,
        sample_rate: rate,
        format,
        buffer: req.buffer,
    })
}

/// A playing output stream. Dropping it stops the output.
pub struct OpenOutput {
    pub stream: cpal::Stream,
    pub shared: Arc<PlaybackShared>,
}

/// Builds and starts the output stream around `playout` (from `Player::new`, which gave
/// `shared` too).
pub fn open_output(
    kind: HostKind,
    device: &cpal::Device,
    choice: &OutputChoice,
    playout: Playout,
    shared: &Arc<PlaybackShared>,
) -> Result<OpenOutput, Error> {
    let config = cpal::StreamConfig {
        channels: choice.channels,
        sample_rate: choice.sample_rate,
        buffer_size: choice.buffer.map_or(BufferSize::Default, BufferSize::Fixed),
    };
    let stream = match choice.format {
        DeviceFormat::I16 => build::<i16>(kind, device, &config, playout, shared),
        DeviceFormat::I24 => build::<cpal::I24>(kind, device, &config, playout, shared),
        DeviceFormat::I32 => build::<i32>(kind, device, &config, playout, shared),
        DeviceFormat::F32 => build::<f32>(kind, device, &config, playout, shared),
    }
    .map_err(|e| {
        Error::Runtime(format!(
            "cannot open {} for playback ({} ch, {} Hz, {}): {e}",
            audio::name_of(device),
            choice.channels,
            choice.sample_rate,
            choice.format
        ))
    })?;
    stream
        .play()
        .map_err(|e| Error::Runtime(format!("cannot start {}: {e}", audio::name_of(device))))?;
    Ok(OpenOutput {
        stream,
        shared: Arc::clone(shared),
    })
}

/// JACK's frame counter for the cycle being played and the ports' playback latency (none on
/// other hosts).
#[cfg(feature = "jack")]
fn jack_cycle() -> Option<(u32, u32)> {
    cpal::platform::jack_cycle().map(|c| (c.frames, c.latency))
}

#[cfg(not(feature = "jack"))]
fn jack_cycle() -> Option<(u32, u32)> {
    None
}

fn build<T: OutputSample>(
    kind: HostKind,
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut playout: Playout,
    shared: &Arc<PlaybackShared>,
) -> Result<cpal::Stream, cpal::Error> {
    let errors = Arc::clone(shared);
    let channels = usize::from(config.channels);
    let mut scheduled = kind != HostKind::Alsa;
    // Started before the stream: the callback only reads it.
    crate::anchor::process_clock_ns();
    device.build_output_stream::<T, _, _>(
        *config,
        move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
            if !scheduled {
                scheduled = true;
                // The same request as the capture thread's (SCHED_FIFO within the user's
                // rtprio limit); JACK schedules its clients itself.
                crate::capture::schedule_audio_thread(true);
            }
            let stamp = match jack_cycle() {
                Some((frame, latency)) => OutStamp::JackCycle { frame, latency },
                None if matches!(kind, HostKind::Alsa | HostKind::PipeWire) => {
                    // cpal's ALSA instants of two streams may not share an origin: our own
                    // clock, and cpal's distance from the callback to the DAC.
                    let t = info.timestamp();
                    let now = crate::anchor::process_clock_ns();
                    OutStamp::Host {
                        callback_ns: Some(now),
                        playback_ns: Some(
                            now.saturating_add(crate::anchor::ns_between(t.callback, t.playback)),
                        ),
                    }
                }
                None => {
                    let t = info.timestamp();
                    OutStamp::Host {
                        callback_ns: u64::try_from(t.callback.as_nanos()).ok(),
                        playback_ns: u64::try_from(t.playback.as_nanos()).ok(),
                    }
                }
            };
            playout.on_block(data, channels, stamp);
        },
        move |e: cpal::Error| errors.on_stream_error(e.kind()),
        None,
    )
}
