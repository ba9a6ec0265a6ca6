//! Audio hosts and devices: finding them, describing them, and choosing the stream settings
//! to open one with (`crate::capture` opens the stream).

pub mod demo;
pub mod demo_synth;

use std::str::FromStr;

use cpal::traits::{DeviceTrait, HostTrait};
use cpal::{SupportedBufferSize, SupportedStreamConfigRange};
use serde::Serialize;

use crate::error::Error;
use crate::format::{DeviceFormat, FileFormat};

/// The hosts tapedeck records from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKind {
    Alsa,
    Jack,
    Demo,
}

impl HostKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Alsa => "alsa",
            Self::Jack => "jack",
            Self::Demo => "demo",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "alsa" => Some(Self::Alsa),
            "jack" => Some(Self::Jack),
            "demo" | "custom" => Some(Self::Demo),
            _ => None,
        }
    }
}

/// Opens a host. The demo host takes its options.
pub fn open_host(kind: HostKind, demo: demo::DemoOptions) -> Result<cpal::Host, Error> {
    match kind {
        HostKind::Alsa => cpal::host_from_id(cpal::HostId::Alsa)
            .map_err(|e| Error::Runtime(format!("cannot open the ALSA host: {e}"))),
        HostKind::Jack => open_jack(),
        HostKind::Demo => Ok(demo::DemoHost::new(demo).into_cpal()),
    }
}

#[cfg(feature = "jack")]
fn open_jack() -> Result<cpal::Host, Error> {
    cpal::host_from_id(cpal::HostId::Jack)
        .map_err(|e| Error::Runtime(format!("cannot open the JACK host: {e}")))
}

#[cfg(not(feature = "jack"))]
fn open_jack() -> Result<cpal::Host, Error> {
    Err(Error::usage(
        "this tapedeck was built without JACK support; rebuild with --features jack",
    ))
}

/// What `tapedeck devices` reports about one input device.
#[derive(Serialize, Debug, Clone)]
pub struct DeviceInfo {
    pub host: String,
    pub id: String,
    pub name: String,
    pub default: bool,
    pub channels: Vec<u16>,
    pub sample_rates: Vec<u32>,
    /// When the device accepts a continuous range of rates: [min, max].
    pub sample_rate_range: Option<[u32; 2]>,
    pub formats: Vec<String>,
    pub default_config: Option<DefaultConfig>,
}

#[derive(Serialize, Debug, Clone)]
pub struct DefaultConfig {
    pub channels: u16,
    pub sample_rate: u32,
    pub format: String,
}

const COMMON_RATES: [u32; 8] = [
    22_050, 32_000, 44_100, 48_000, 88_200, 96_000, 176_400, 192_000,
];

fn device_id(d: &cpal::Device) -> String {
    d.id().map(|i| i.to_string()).unwrap_or_else(|_| "?".into())
}

fn device_name(d: &cpal::Device) -> String {
    d.description()
        .map(|x| x.name().to_string())
        .unwrap_or_else(|_| d.to_string())
}

fn no_jack_server() -> Error {
    Error::Runtime(
        "no JACK server is running (or it cannot be reached); start one (for example `jackd -d alsa`) or record with --host alsa".into(),
    )
}

/// Describes every input device of a host.
pub fn list_devices(kind: HostKind, host: &cpal::Host) -> Result<Vec<DeviceInfo>, Error> {
    let default_id = host.default_input_device().map(|d| device_id(&d));
    let devices = host
        .input_devices()
        .map_err(|e| Error::Runtime(format!("cannot list {} devices: {e}", kind.name())))?;
    let mut out = Vec::new();
    let mut devices = devices.peekable();
    if kind == HostKind::Jack && devices.peek().is_none() {
        return Err(no_jack_server());
    }
    for d in devices {
        let id = device_id(&d);
        let Ok(configs) = input_configs(kind, &d) else {
            continue;
        };
        if configs.is_empty() {
            continue;
        }
        let mut channels: Vec<u16> = configs.iter().map(|c| c.channels()).collect();
        channels.sort_unstable();
        channels.dedup();
        let mut formats: Vec<DeviceFormat> = configs
            .iter()
            .filter_map(|c| DeviceFormat::from_cpal(c.sample_format()))
            .collect();
        formats.sort_by_key(|f| DeviceFormat::ALL.iter().position(|x| x == f));
        formats.dedup();
        let min = configs
            .iter()
            .map(|c| c.min_sample_rate())
            .min()
            .unwrap_or(0);
        let max = configs
            .iter()
            .map(|c| c.max_sample_rate())
            .max()
            .unwrap_or(0);
        let mut rates: Vec<u32> = configs
            .iter()
            .flat_map(|c| {
                let (lo, hi) = (c.min_sample_rate(), c.max_sample_rate());
                let mut v: Vec<u32> = COMMON_RATES
                    .into_iter()
                    .filter(|r| (lo..=hi).contains(r))
                    .collect();
                if lo == hi {
                    v.push(lo);
                }
                v
            })
            .collect();
        rates.sort_unstable();
        rates.dedup();
        let continuous = configs
            .iter()
            .any(|c| c.min_sample_rate() != c.max_sample_rate());
        let default_config = d.default_input_config().ok().map(|c| DefaultConfig {
            channels: c.channels(),
            sample_rate: c.sample_rate(),
            format: DeviceFormat::from_cpal(c.sample_format())
                .map(|f| f.name().to_string())
                .unwrap_or_else(|| format!("{:?}", c.sample_format()).to_lowercase()),
        });
        out.push(DeviceInfo {
            host: kind.name().to_string(),
            default: default_id.as_deref() == Some(id.as_str()),
            name: device_name(&d),
            id,
            channels,
            sample_rates: rates,
            sample_rate_range: continuous.then_some([min, max]),
            formats: formats.iter().map(|f| f.name().to_string()).collect(),
            default_config,
        });
    }
    Ok(out)
}

/// Finds an input device by id (`alsa:hw:CARD=US16,DEV=0`, or just `hw:CARD=US16,DEV=0` on the
/// chosen host), or the host's default input.
pub fn find_device(
    kind: HostKind,
    host: &cpal::Host,
    id: Option<&str>,
) -> Result<cpal::Device, Error> {
    if kind == HostKind::Jack
        && host
            .input_devices()
            .map(|mut d| d.next().is_none())
            .unwrap_or(true)
    {
        return Err(no_jack_server());
    }
    let Some(id) = id else {
        return host.default_input_device().ok_or_else(|| {
            Error::usage(format!(
                "the {} host has no default input device; pick one with --device (`tapedeck devices --host {}` lists them)",
                kind.name(),
                kind.name()
            ))
        });
    };
    let wanted = match id.split_once(':') {
        Some((h, _)) if HostKind::parse(h).is_some() || h == "custom" => id.to_string(),
        _ => format!(
            "{}:{id}",
            if kind == HostKind::Demo {
                "custom"
            } else {
                kind.name()
            }
        ),
    };
    let parsed = cpal::DeviceId::from_str(&wanted).ok();
    let devices = host
        .input_devices()
        .map_err(|e| Error::Runtime(format!("cannot list {} devices: {e}", kind.name())))?;
    for d in devices {
        if let Ok(did) = d.id()
            && (Some(&did) == parsed.as_ref() || did.to_string() == wanted)
        {
            return Ok(d);
        }
    }
    Err(Error::usage(format!(
        "no input device {id:?} on the {} host; `tapedeck devices --host {}` lists them",
        kind.name(),
        kind.name()
    )))
}

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
fn input_configs(
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

/// The human name of a device, for manifests and messages.
pub fn name_of(device: &cpal::Device) -> String {
    device_name(device)
}

/// The id of a device as cpal prints it.
pub fn id_of(device: &cpal::Device) -> String {
    device_id(device)
}
