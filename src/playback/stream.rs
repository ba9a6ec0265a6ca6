//! Choosing the output's settings and building the cpal output stream whose data callback is
//! `Playout::on_block`.

use std::sync::Arc;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{BufferSize, SampleFormat};

use super::playout::{OutStamp, OutputSample, Playout};
use super::shared::PlaybackShared;
use crate::audio::{self, HostKind};
use crate::error::Error;
use crate::format::DeviceFormat;

/// How the output is opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputChoice {
    pub channels: u16,
    pub sample_rate: u32,
    pub format: DeviceFormat,
    /// Frames per callback when fixed (JACK's is the server's).
    pub buffer: Option<u32>,
}

/// Chooses the output's settings: the session's `rate` (or a clear refusal), two channels
/// where it has them, the most precise sample format it offers.
pub fn choose_output(
    kind: HostKind,
    device: &cpal::Device,
    rate: u32,
    buffer: Option<u32>,
) -> Result<OutputChoice, Error> {
    let name = audio::name_of(device);
    let ranges: Vec<_> = device
        .supported_output_configs()
        .map_err(|e| Error::Runtime(format!("cannot ask {name} what it plays: {e}")))?
        .collect();
    if ranges.is_empty() {
        return Err(Error::usage(format!(
            "{name} has no output; choose another --output"
        )));
    }
    let at_rate: Vec<_> = ranges
        .iter()
        .filter(|r| r.min_sample_rate() <= rate && rate <= r.max_sample_rate())
        .collect();
    if at_rate.is_empty() {
        let mut rates: Vec<String> = ranges
            .iter()
            .map(|r| {
                if r.min_sample_rate() == r.max_sample_rate() {
                    r.min_sample_rate().to_string()
                } else {
                    format!("{}-{}", r.min_sample_rate(), r.max_sample_rate())
                }
            })
            .collect();
        rates.sort();
        rates.dedup();
        return Err(Error::usage(format!(
            "the output {name} cannot play at {rate} Hz, the rate of the input and the session (it plays {} Hz); choose an output that runs at {rate} Hz",
            rates.join(", ")
        )));
    }
    let rank = |f: SampleFormat| match f {
        SampleFormat::F32 => 4,
        SampleFormat::I32 => 3,
        SampleFormat::I24 => 2,
        SampleFormat::I16 => 1,
        _ => 0,
    };
    let best = at_rate
        .iter()
        .filter(|r| rank(r.sample_format()) > 0)
        .max_by_key(|r| (u8::from(r.channels() >= 2), rank(r.sample_format())))
        .ok_or_else(|| {
            Error::usage(format!(
                "the output {name} offers no sample format tapedeck plays (f32, i32, i24, i16)"
            ))
        })?;
    let format = match best.sample_format() {
        SampleFormat::F32 => DeviceFormat::F32,
        SampleFormat::I32 => DeviceFormat::I32,
        SampleFormat::I24 => DeviceFormat::I24,
        _ => DeviceFormat::I16,
    };
    Ok(OutputChoice {
        channels: best.channels().clamp(1, 2),
        sample_rate: rate,
        format,
        buffer: if kind == HostKind::Jack { None } else { buffer },
    })
}

/// Builds and starts the output stream.
pub fn open_output(
    kind: HostKind,
    device: &cpal::Device,
    choice: &OutputChoice,
    playout: Playout,
    shared: Arc<PlaybackShared>,
) -> Result<cpal::Stream, Error> {
    let config = cpal::StreamConfig {
        channels: choice.channels,
        sample_rate: choice.sample_rate,
        buffer_size: choice.buffer.map_or(BufferSize::Default, BufferSize::Fixed),
    };
    let _ = (kind, shared);
    let stream = match choice.format {
        DeviceFormat::I16 => build::<i16>(device, &config, playout),
        DeviceFormat::I24 => build::<cpal::I24>(device, &config, playout),
        DeviceFormat::I32 => build::<i32>(device, &config, playout),
        DeviceFormat::F32 => build::<f32>(device, &config, playout),
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
    Ok(stream)
}

/// What JACK says of the cycle being played (none on other hosts).
#[cfg(feature = "jack")]
fn jack_cycle() -> Option<(u32, u32)> {
    cpal::platform::jack_cycle().map(|c| (c.frames, c.latency))
}

#[cfg(not(feature = "jack"))]
fn jack_cycle() -> Option<(u32, u32)> {
    None
}

fn build<T: OutputSample + cpal::SizedSample>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut playout: Playout,
) -> Result<cpal::Stream, cpal::Error> {
    let channels = usize::from(config.channels);
    device.build_output_stream::<T, _, _>(
        *config,
        move |out: &mut [T], info: &cpal::OutputCallbackInfo| {
            let stamp = match jack_cycle() {
                Some((frame, latency)) => OutStamp::JackCycle { frame, latency },
                None => {
                    let t = info.timestamp();
                    OutStamp::Host {
                        callback_ns: u64::try_from(t.callback.as_nanos()).ok(),
                        playback_ns: u64::try_from(t.playback.as_nanos()).ok(),
                    }
                }
            };
            playout.on_block(out, channels, stamp);
        },
        // Output errors (an underrun of the device) cost the performer a click, never audio
        // that reached the recorder: nothing to do here.
        |_e: cpal::Error| {},
        None,
    )
}
