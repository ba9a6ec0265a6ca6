//! Listing a host's input devices and finding one by id.

use std::str::FromStr;

use cpal::traits::{DeviceTrait, HostTrait};
use serde::Serialize;

use super::config::input_configs;
use super::{HostKind, device_id, device_name};
use crate::error::Error;
use crate::format::DeviceFormat;

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

fn no_jack_server() -> Error {
    Error::Runtime(
        "no JACK server is running (or it cannot be reached); start one (for example `jackd -d alsa`) or record with --host alsa".into(),
    )
}

/// Describes every input device of a host, or every output device (`outputs`).
pub fn list_devices(
    kind: HostKind,
    host: &cpal::Host,
    outputs: bool,
) -> Result<Vec<DeviceInfo>, Error> {
    let default_id = if outputs {
        host.default_output_device()
    } else {
        host.default_input_device()
    }
    .map(|d| device_id(&d));
    let devices = if outputs {
        host.output_devices()
    } else {
        host.input_devices()
    }
    .map_err(|e| Error::Runtime(format!("cannot list {} devices: {e}", kind.name())))?;
    let mut out = Vec::new();
    let mut devices = devices.peekable();
    if kind == HostKind::Jack && devices.peek().is_none() {
        return Err(no_jack_server());
    }
    for d in devices {
        let id = device_id(&d);
        let configs = if outputs {
            d.supported_output_configs().map(|c| c.collect::<Vec<_>>())
        } else {
            input_configs(kind, &d)
        };
        let Ok(configs) = configs else {
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
        let default_config = if outputs {
            d.default_output_config()
        } else {
            d.default_input_config()
        };
        let default_config = default_config.ok().map(|c| DefaultConfig {
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

/// The output device to play the song on: `id`, or the host's default output. `Ok(None)` when
/// no id was given and the host has no default output.
pub fn find_output_device(
    kind: HostKind,
    host: &cpal::Host,
    id: Option<&str>,
) -> Result<Option<cpal::Device>, Error> {
    let Some(id) = id else {
        return Ok(host.default_output_device());
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
        .output_devices()
        .map_err(|e| Error::Runtime(format!("cannot list {} outputs: {e}", kind.name())))?;
    let mut names = Vec::new();
    for d in devices {
        if let Ok(did) = d.id() {
            if Some(&did) == parsed.as_ref() || did.to_string() == wanted {
                return Ok(Some(d));
            }
            names.push(did.to_string());
        }
    }
    let listed = if names.is_empty() {
        "it has none".to_string()
    } else {
        format!("it has {}", names.join(", "))
    };
    Err(Error::usage(format!(
        "no output device {id:?} on the {} host ({listed}); pass one of those to --output, or --output none",
        kind.name()
    )))
}
