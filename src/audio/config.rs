//! The stream settings for a recording: what the user asked for, checked against what the
//! device can be opened with.

use cpal::traits::DeviceTrait;
use cpal::{SupportedBufferSize, SupportedStreamConfigRange};

use super::{HostKind, device_name};
use crate::error::Error;
use crate::format::{DeviceFormat, FileFormat};

/// The stream settings chosen for a recording.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamChoice {
    pub channels: u16,
    pub sample_rate: u32,
    pub format: DeviceFormat,
    pub buffer: Option<u32>,
}

/// What the user asked for; `None` means the device's default (or the best match).
#[derive(Clone, Debug, Default)]
pub struct StreamRequest {
    pub channels: Option<u16>,
    pub sample_rate: Option<u32>,
    pub format: Option<DeviceFormat>,
    pub buffer: Option<u32>,
}

/// The most inputs tapedeck opens on one JACK client.
pub const JACK_MAX_CHANNELS: u16 = 1024;

/// What a device can be opened with, as cpal lists it, corrected where cpal is wrong: it lists
/// 1-64 channels for a JACK client, but JACK has no per-client limit and cpal registers as many
/// ports as asked for, so JACK's list goes on with the widest entry's rates, format and
/// buffer sizes (the server's) up to `JACK_MAX_CHANNELS`.
pub(super) fn input_configs(
    kind: HostKind,
    device: &cpal::Device,
) -> Result<Vec<SupportedStreamConfigRange>, cpal::Error> {
    let mut configs: Vec<SupportedStreamConfigRange> = device.supported_input_configs()?.collect();
    let widest = configs.iter().map(|c| c.channels()).max().unwrap_or(0);
    if kind == HostKind::Jack && widest > 0 {
        let templates: Vec<SupportedStreamConfigRange> = configs
            .iter()
            .filter(|c| c.channels() == widest)
            .cloned()
            .collect();
        for channels in widest + 1..=JACK_MAX_CHANNELS {
            configs.extend(templates.iter().map(|t| {
                SupportedStreamConfigRange::new(
                    channels,
                    t.min_sample_rate(),
                    t.max_sample_rate(),
                    *t.buffer_size(),
                    t.sample_format(),
                )
            }));
        }
    }
    Ok(configs)
}

/// Picks channels, rate, device sample format and buffer size, or says what the device supports.
pub fn choose_config(
    kind: HostKind,
    device: &cpal::Device,
    req: &StreamRequest,
    file_format: FileFormat,
) -> Result<StreamChoice, Error> {
    let name = device_name(device);
    let configs = input_configs(kind, device)
        .map_err(|e| Error::Runtime(format!("cannot query {name}: {e}")))?;
    let default = device.default_input_config().ok();
    let channels = req
        .channels
        .or(default.as_ref().map(|c| c.channels()))
        .unwrap_or(2);
    let rate = req
        .sample_rate
        .or(default.as_ref().map(|c| c.sample_rate()))
        .unwrap_or(48_000);

    let mut all_channels: Vec<u16> = configs.iter().map(|c| c.channels()).collect();
    all_channels.sort_unstable();
    all_channels.dedup();
    let with_channels: Vec<&SupportedStreamConfigRange> = configs
        .iter()
        .filter(|c| c.channels() == channels)
        .collect();
    if with_channels.is_empty() {
        return Err(Error::usage(format!(
            "{name} cannot open {channels} channels; it supports {}; choose one with --channels",
            summarize_u16(&all_channels)
        )));
    }
    let with_rate: Vec<&SupportedStreamConfigRange> = with_channels
        .iter()
        .copied()
        .filter(|c| (c.min_sample_rate()..=c.max_sample_rate()).contains(&rate))
        .collect();
    if with_rate.is_empty() {
        let rates: Vec<String> = with_channels
            .iter()
            .map(|c| {
                if c.min_sample_rate() == c.max_sample_rate() {
                    c.min_sample_rate().to_string()
                } else {
                    format!("{}-{}", c.min_sample_rate(), c.max_sample_rate())
                }
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        return Err(Error::usage(format!(
            "{name} does not support {rate} Hz with {channels} channels; it supports {} Hz; choose one with --rate",
            rates.join(", ")
        )));
    }
    let available: Vec<DeviceFormat> = with_rate
        .iter()
        .filter_map(|c| DeviceFormat::from_cpal(c.sample_format()))
        .collect();
    let format = match req.format {
        Some(f) if available.contains(&f) => f,
        Some(f) => {
            return Err(Error::usage(format!(
                "{name} does not deliver {f} at {rate} Hz with {channels} channels; it offers {}; choose one with --device-format",
                list_formats(&available)
            )));
        }
        None => {
            let default_fmt = default
                .as_ref()
                .and_then(|c| DeviceFormat::from_cpal(c.sample_format()));
            file_format
                .preferred_device_formats()
                .into_iter()
                .find(|f| available.contains(f))
                .or(default_fmt.filter(|f| available.contains(f)))
                .ok_or_else(|| {
                    Error::usage(format!(
                        "{name} offers no sample format tapedeck can record (i16, i24, i32, f32) at {rate} Hz"
                    ))
                })?
        }
    };
    if let Some(b) = req.buffer {
        let range = with_rate
            .iter()
            .find(|c| DeviceFormat::from_cpal(c.sample_format()) == Some(format))
            .map(|c| *c.buffer_size());
        if let Some(SupportedBufferSize::Range { min, max }) = range
            && !(min..=max).contains(&b)
        {
            return Err(Error::usage(format!(
                "{name} takes buffers of {min} to {max} frames, not {b}; choose one with --buffer"
            )));
        }
    }
    Ok(StreamChoice {
        channels,
        sample_rate: rate,
        format,
        buffer: req.buffer,
    })
}

fn list_formats(v: &[DeviceFormat]) -> String {
    let mut v = v.to_vec();
    v.sort_by_key(|f| DeviceFormat::ALL.iter().position(|x| x == f));
    v.dedup();
    v.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
}

/// "1-64" for a run, "1, 2, 8" otherwise.
fn summarize_u16(v: &[u16]) -> String {
    match (v.first(), v.last()) {
        (Some(a), Some(b)) if v.len() > 3 && usize::from(b - a) + 1 == v.len() => {
            format!("{a}-{b} channels")
        }
        _ => format!(
            "{} channels",
            v.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
