//! Audio hosts and devices: finding them, describing them, and choosing the stream settings
//! to open one with (`crate::capture` opens the stream).

mod config;
pub mod demo;
pub mod demo_synth;
mod devices;
#[cfg(feature = "jack")]
pub mod jack_graph;
pub mod pipewire;

use cpal::traits::DeviceTrait;

use crate::error::Error;

pub use config::{JACK_MAX_CHANNELS, StreamChoice, StreamRequest, choose_config};
pub use devices::{DefaultConfig, DeviceInfo, find_device, find_output_device, list_devices};

/// The hosts tapedeck records from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKind {
    Alsa,
    Jack,
    /// PipeWire's own client API (cargo feature `pipewire`).
    PipeWire,
    Demo,
}

impl HostKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Alsa => "alsa",
            Self::Jack => "jack",
            Self::PipeWire => "pipewire",
            Self::Demo => "demo",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "alsa" => Some(Self::Alsa),
            "jack" => Some(Self::Jack),
            "pipewire" => Some(Self::PipeWire),
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
        HostKind::PipeWire => open_pipewire(),
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

#[cfg(feature = "pipewire")]
fn open_pipewire() -> Result<cpal::Host, Error> {
    cpal::host_from_id(cpal::HostId::PipeWire).map_err(|e| {
        Error::Runtime(format!(
            "cannot reach PipeWire ({e}); is it running for this user? Or record through its ALSA plugin (--host alsa --device alsa:pipewire) or pw-jack"
        ))
    })
}

#[cfg(not(feature = "pipewire"))]
fn open_pipewire() -> Result<cpal::Host, Error> {
    Err(Error::usage(
        "this tapedeck was built without PipeWire's own API; rebuild with --features pipewire, or record through pw-jack (--host jack) or PipeWire's ALSA plugin (--host alsa --device alsa:pipewire)",
    ))
}

fn device_id(d: &cpal::Device) -> String {
    d.id().map(|i| i.to_string()).unwrap_or_else(|_| "?".into())
}

fn device_name(d: &cpal::Device) -> String {
    d.description()
        .map(|x| x.name().to_string())
        .unwrap_or_else(|_| d.to_string())
}

/// The human name of a device, for manifests and messages.
pub fn name_of(device: &cpal::Device) -> String {
    device_name(device)
}

/// The id of a device as cpal prints it.
pub fn id_of(device: &cpal::Device) -> String {
    device_id(device)
}
