//! The built-in demo interface: a cpal custom host, so that tapedeck can be tried, tested and
//! benchmarked without a sound card. It goes through cpal exactly like a real device: the
//! recorder builds streams on it and receives callbacks from its thread, paced in real time
//! (or unpaced, for throughput measurements), with frame-accurate timestamps.
//!
//! # Devices and channels
//!
//! - `custom:demo` ("tapedeck demo input", the default input and the default output): inputs
//!   1-64 (8 by default) each carry a part of a little band (see `demo_synth`); one stereo
//!   output (1 or 2 channels).
//! - `custom:demo-loop` ("tapedeck demo input + loopback"): the same interface with a cable
//!   from its output back into two more inputs. A stream of `C` channels (2-66, 10 by default)
//!   carries the band on inputs `1..=C-2`, sample for sample what `custom:demo` delivers with
//!   `C-2` channels, and on inputs `C-1` and `C` ("Loopback L", "Loopback R") what the output
//!   played. One input stream records band and loopback; the output is the same on both ids.
//!
//! # One clock
//!
//! Both ids are one interface: one worker thread runs its clock, a frame counter that starts
//! with the first period any stream plays. Each period it first calls the output stream's
//! callback (if one plays), pushes what was played into a delay line, then calls the input
//! stream's callback with the band and the delayed cue. The streams therefore never drift,
//! like the input and output of one sound card. Input and output must share the rate; an
//! output opened with the default buffer size takes the input's period (and vice versa).
//!
//! # Latency: reported and actual
//!
//! The timestamps are computed from the frame counter, not read from a clock: frame `F` of
//! the interface is at `ceil(F * 1e9 / rate)` ns on the streams' clock (frame 0 = 0 ns), so a
//! stamp converts back to its frame exactly (`floor` or nearest), and a difference of two
//! stamps to whole frames when rounded to the nearest. The period that covers frames
//! `F..F+P` is delivered at `callback = F + P` with
//!
//! - input: `capture = callback - P` (the block's first frame): one period of input latency;
//! - output: `playback = callback + P`: one period of output latency.
//!
//! The host thus reports a round trip of `2P`. The loopback cable adds a fixed delay `D` that
//! the host does NOT report: what the output plays at frame `p` (its playback stamp) is
//! captured at frame `p + D` (its capture stamp). Inside the interface the cue is delayed by
//! `2P + D` frames. An overdub compensated by the reported latencies alone is therefore `D`
//! frames late; `tapedeck calibrate` measures `D`, after which it is exact.
//!
//! `D` is 10 ms by default ([`default_loopback_delay`]: 441, 480 or 960 frames at 44.1, 48 and
//! 96 kHz), [`DemoOptions::loopback_delay_frames`] when set, otherwise the environment
//! variable `TAPEDECK_DEMO_LOOPBACK_DELAY` (frames, `0..=1048576`) when set.
//!
//! # Samples through the cable
//!
//! The cable is digital: the cue is carried as `f64` at power-of-two full scale (i16 / 2^15,
//! I24 / 2^23, i32 / 2^31, f32 as is), so an output and an input of the same format pass
//! samples bit for bit, and an i16 or I24 output reaches an i32 input shifted left, exactly.
//! A mono output is cabled to Loopback L only. Frames the output did not play (before it
//! started, while paused) are silence. (The band's own conversion scales by `2^n - 1`, as it
//! always has; the two do not meet.)
//!
//! Output formats: f32, i32, I24 (in 32-bit containers, cpal's `I24`) and i16; input formats
//! f32, i32 and i16.
//!
//! # Realtime
//!
//! Everything a period touches is allocated when a stream is built; the worker's per-period
//! work only does arithmetic and calls the callbacks. Streams join and leave the worker
//! through a mutex the worker only looks at when a flag says something changed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{
    Data, DeviceDescription, DeviceDescriptionBuilder, DeviceId, Error, ErrorKind, I24,
    InputCallbackInfo, InputStreamTimestamp, OutputCallbackInfo, OutputStreamTimestamp,
    SampleFormat, StreamConfig, StreamInstant, SupportedBufferSize, SupportedStreamConfig,
    SupportedStreamConfigRange,
};

use super::demo_synth::DemoSynth;

pub const DEVICE_ID: &str = "demo";
/// The same interface with its output cabled back into two more inputs.
pub const LOOPBACK_DEVICE_ID: &str = "demo-loop";
pub const DEFAULT_CHANNELS: u16 = 8;
pub const MAX_CHANNELS: u16 = 64;
/// Inputs the loopback cable adds after the band on `demo-loop`: L, then R.
pub const LOOPBACK_CHANNELS: u16 = 2;
pub const LOOPBACK_NAMES: [&str; 2] = ["Loopback L", "Loopback R"];
/// The output's channels (a stereo cue; a mono stream is accepted too).
pub const OUTPUT_CHANNELS: u16 = 2;
pub const DEFAULT_RATE: u32 = 48_000;
pub const RATES: [u32; 3] = [44_100, 48_000, 96_000];
/// Where a test or a curious user sets the undeclared loopback delay, in frames.
pub const LOOPBACK_DELAY_ENV: &str = "TAPEDECK_DEMO_LOOPBACK_DELAY";
/// The longest loopback delay, in frames (about 22 s at 48 kHz; the delay line is allocated).
pub const MAX_LOOPBACK_DELAY: u32 = 1 << 20;
const FORMATS: [SampleFormat; 3] = [SampleFormat::F32, SampleFormat::I32, SampleFormat::I16];
const OUTPUT_FORMATS: [SampleFormat; 4] = [
    SampleFormat::F32,
    SampleFormat::I32,
    SampleFormat::I24,
    SampleFormat::I16,
];
const DEFAULT_PERIOD: u32 = 512;
const MIN_PERIOD: u32 = 16;
const MAX_PERIOD: u32 = 8192;

/// The loopback cable's delay when nothing else is said: 10 ms.
pub fn default_loopback_delay(rate: u32) -> u32 {
    rate / 100
}

/// The latency the demo interface reports in each direction, in frames: one period.
pub fn reported_latency(period: u32) -> u32 {
    period
}

/// The loopback delay a stream at `rate` gets: the option, else the environment variable,
/// else [`default_loopback_delay`].
pub fn loopback_delay_frames(options: &DemoOptions, rate: u32) -> Result<u32, String> {
    let frames = match options.loopback_delay_frames {
        Some(f) => f,
        None => match std::env::var(LOOPBACK_DELAY_ENV) {
            Ok(v) => v
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("{LOOPBACK_DELAY_ENV}={v:?} is not a number of frames"))?,
            Err(_) => default_loopback_delay(rate),
        },
    };
    if frames > MAX_LOOPBACK_DELAY {
        return Err(format!(
            "a demo loopback delay of {frames} frames is longer than {MAX_LOOPBACK_DELAY}"
        ));
    }
    Ok(frames)
}

/// Frame `frame` of the interface's clock in ns: rounded up, so that it converts back to the
/// same frame whether rounded down or to the nearest.
pub fn frame_ns(frame: u64, rate: u32) -> u64 {
    let ns = (u128::from(frame) * 1_000_000_000).div_ceil(u128::from(rate.max(1)));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// What the unpaced demo device paces itself by: the frames the recorder's writer has taken
/// out of its ring, against the frames it has delivered. It holds back while the ring would be
/// over half full, so that it delivers as fast as the recorder takes audio and not faster:
/// `--unpaced` then measures what the pipeline sustains instead of how much an overrun
/// discards. (A real device has no such feedback; overflow handling is tested with paced
/// input and a stalled writer.)
#[derive(Clone, Debug)]
pub struct Pace {
    taken: Arc<AtomicU64>,
    ring_frames: u64,
}

impl Pace {
    /// `taken`: the writer's count of frames taken; `ring_frames`: the ring's size.
    pub fn new(taken: Arc<AtomicU64>, ring_frames: u64) -> Self {
        Self { taken, ring_frames }
    }

    /// Whether `delivered` frames would overfill the ring now.
    fn ahead(&self, delivered: u64) -> bool {
        delivered.saturating_sub(self.taken.load(Ordering::Relaxed)) > self.ring_frames / 2
    }
}

impl PartialEq for Pace {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.taken, &other.taken) && self.ring_frames == other.ring_frames
    }
}

impl Eq for Pace {}

impl std::hash::Hash for Pace {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.ring_frames.hash(state);
    }
}

/// How the demo device behaves; the defaults are those of a real interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoOptions {
    /// Deliver in real time (true) or as fast as the recorder takes it (false, for throughput
    /// measurements, with `pace` to keep from overfilling the ring). An output stream runs at
    /// the same pace as the input: the interface has one clock.
    pub paced: bool,
    pub pace: Option<Pace>,
    pub seed: u64,
    /// Vanish like an unplugged interface after this many frames of its clock
    /// (`demo --unplug-after`).
    pub unplug_after_frames: Option<u64>,
    /// The loopback cable's delay beyond what the interface reports, in frames; `None`:
    /// `TAPEDECK_DEMO_LOOPBACK_DELAY` or 10 ms (see [`loopback_delay_frames`]).
    pub loopback_delay_frames: Option<u32>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            paced: true,
            pace: None,
            seed: 0x7a9e_dec4,
            unplug_after_frames: None,
            loopback_delay_frames: None,
        }
    }
}

#[derive(Clone)]
pub struct DemoHost {
    options: DemoOptions,
    interface: Arc<Interface>,
}

impl DemoHost {
    pub fn new(options: DemoOptions) -> Self {
        Self {
            options,
            interface: Arc::new(Interface::default()),
        }
    }

    /// The demo host as a cpal host.
    pub fn into_cpal(self) -> cpal::Host {
        cpal::Host::from(cpal::platform::CustomHost::from_host(self))
    }

    fn device(&self, loopback: bool) -> DemoDevice {
        DemoDevice {
            loopback,
            options: self.options.clone(),
            interface: Arc::clone(&self.interface),
        }
    }
}

/// One of the interface's two ids (see the module docs).
#[derive(Clone, Debug)]
pub struct DemoDevice {
    /// `demo-loop`: the last two inputs are the loopback cable.
    loopback: bool,
    options: DemoOptions,
    interface: Arc<Interface>,
}

impl PartialEq for DemoDevice {
    fn eq(&self, other: &Self) -> bool {
        self.loopback == other.loopback && Arc::ptr_eq(&self.interface, &other.interface)
    }
}

impl Eq for DemoDevice {}

impl std::hash::Hash for DemoDevice {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.loopback.hash(state);
        Arc::as_ptr(&self.interface).hash(state);
    }
}

impl DemoDevice {
    fn name(&self) -> &'static str {
        if self.loopback {
            "tapedeck demo input + loopback"
        } else {
            "tapedeck demo input"
        }
    }

    fn channel_range(&self) -> std::ops::RangeInclusive<u16> {
        if self.loopback {
            LOOPBACK_CHANNELS..=MAX_CHANNELS + LOOPBACK_CHANNELS
        } else {
            1..=MAX_CHANNELS
        }
    }
}

impl std::fmt::Display for DemoDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl HostTrait for DemoHost {
    type Device = DemoDevice;
    type Devices = std::array::IntoIter<DemoDevice, 2>;

    fn is_available() -> bool {
        true
    }

    fn devices(&self) -> Result<Self::Devices, Error> {
        Ok([self.device(false), self.device(true)].into_iter())
    }

    fn default_input_device(&self) -> Option<Self::Device> {
        Some(self.device(false))
    }

    fn default_output_device(&self) -> Option<Self::Device> {
        Some(self.device(false))
    }
}

fn ranges(
    channels: std::ops::RangeInclusive<u16>,
    formats: &'static [SampleFormat],
) -> impl Iterator<Item = SupportedStreamConfigRange> + Clone {
    formats.iter().copied().flat_map(move |f| {
        let channels = channels.clone();
        RATES.into_iter().flat_map(move |r| {
            channels.clone().map(move |c| {
                SupportedStreamConfigRange::new(
                    c,
                    r,
                    r,
                    SupportedBufferSize::Range {
                        min: MIN_PERIOD,
                        max: MAX_PERIOD,
                    },
                    f,
                )
            })
        })
    })
}

pub type DemoConfigs = Box<dyn CloneIter>;

/// A boxed, clonable config iterator (cpal's custom host needs `Clone`).
pub trait CloneIter: Iterator<Item = SupportedStreamConfigRange> + Send + Sync {
    fn clone_box(&self) -> Box<dyn CloneIter>;
}

impl<T> CloneIter for T
where
    T: Iterator<Item = SupportedStreamConfigRange> + Clone + Send + Sync + 'static,
{
    fn clone_box(&self) -> Box<dyn CloneIter> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn CloneIter> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

fn unsupported(message: String) -> Error {
    Error::with_message(ErrorKind::UnsupportedConfig, message)
}

/// The period a stream asks for, or the default.
fn requested_period(config: &StreamConfig) -> Result<Option<u32>, Error> {
    match config.buffer_size {
        cpal::BufferSize::Fixed(n) if (MIN_PERIOD..=MAX_PERIOD).contains(&n) => Ok(Some(n)),
        cpal::BufferSize::Fixed(n) => Err(unsupported(format!(
            "the demo interface takes periods of {MIN_PERIOD} to {MAX_PERIOD} frames, not {n}"
        ))),
        cpal::BufferSize::Default => Ok(None),
    }
}

impl DeviceTrait for DemoDevice {
    type SupportedInputConfigs = DemoConfigs;
    type SupportedOutputConfigs = DemoConfigs;
    type Stream = DemoStream;

    fn description(&self) -> Result<DeviceDescription, Error> {
        Ok(DeviceDescriptionBuilder::new(self.name()).build())
    }

    fn id(&self) -> Result<DeviceId, Error> {
        let id = if self.loopback {
            LOOPBACK_DEVICE_ID
        } else {
            DEVICE_ID
        };
        Ok(DeviceId::new(cpal::HostId::Custom, id))
    }

    fn supports_input(&self) -> bool {
        true
    }

    fn supports_output(&self) -> bool {
        true
    }

    fn supported_input_configs(&self) -> Result<Self::SupportedInputConfigs, Error> {
        Ok(Box::new(ranges(self.channel_range(), &FORMATS)))
    }

    fn supported_output_configs(&self) -> Result<Self::SupportedOutputConfigs, Error> {
        Ok(Box::new(ranges(1..=OUTPUT_CHANNELS, &OUTPUT_FORMATS)))
    }

    fn default_input_config(&self) -> Result<SupportedStreamConfig, Error> {
        let channels = if self.loopback {
            DEFAULT_CHANNELS + LOOPBACK_CHANNELS
        } else {
            DEFAULT_CHANNELS
        };
        Ok(SupportedStreamConfig::new(
            channels,
            DEFAULT_RATE,
            SupportedBufferSize::Range {
                min: MIN_PERIOD,
                max: MAX_PERIOD,
            },
            SampleFormat::F32,
        ))
    }

    fn default_output_config(&self) -> Result<SupportedStreamConfig, Error> {
        Ok(SupportedStreamConfig::new(
            OUTPUT_CHANNELS,
            DEFAULT_RATE,
            SupportedBufferSize::Range {
                min: MIN_PERIOD,
                max: MAX_PERIOD,
            },
            SampleFormat::F32,
        ))
    }

    fn build_input_stream_raw<D, E>(
        &self,
        config: StreamConfig,
        sample_format: SampleFormat,
        data_callback: D,
        error_callback: E,
        _timeout: Option<Duration>,
    ) -> Result<Self::Stream, Error>
    where
        D: FnMut(&Data, &InputCallbackInfo) + Send + 'static,
        E: FnMut(Error) + Send + 'static,
    {
        let channels = config.channels;
        let rate = config.sample_rate;
        if !self.channel_range().contains(&channels)
            || !RATES.contains(&rate)
            || !FORMATS.contains(&sample_format)
        {
            return Err(Error::new(ErrorKind::UnsupportedConfig));
        }
        let wanted = requested_period(&config)?;
        self.attach(rate, wanted, |period| {
            let controls = Arc::new(Controls::default());
            let side = InputSide::new(
                InputSetup {
                    channels: usize::from(channels),
                    loopback: self.loopback,
                    rate,
                    period,
                    format: sample_format,
                    paced: self.options.paced,
                    seed: self.options.seed,
                },
                Arc::clone(&controls),
                Box::new(data_callback),
                Box::new(error_callback),
            );
            (controls, Side::Input(Box::new(side)))
        })
    }

    fn build_output_stream_raw<D, E>(
        &self,
        config: StreamConfig,
        sample_format: SampleFormat,
        data_callback: D,
        error_callback: E,
        _timeout: Option<Duration>,
    ) -> Result<Self::Stream, Error>
    where
        D: FnMut(&mut Data, &OutputCallbackInfo) + Send + 'static,
        E: FnMut(Error) + Send + 'static,
    {
        let channels = config.channels;
        let rate = config.sample_rate;
        if !(1..=OUTPUT_CHANNELS).contains(&channels)
            || !RATES.contains(&rate)
            || !OUTPUT_FORMATS.contains(&sample_format)
        {
            return Err(Error::new(ErrorKind::UnsupportedConfig));
        }
        let wanted = requested_period(&config)?;
        self.attach(rate, wanted, |period| {
            let controls = Arc::new(Controls::default());
            let side = OutputSide {
                controls: Arc::clone(&controls),
                callback: Box::new(data_callback),
                on_error: Box::new(error_callback),
                channels: usize::from(channels),
                buffer: Buffer::new(sample_format, period as usize * usize::from(channels)),
            };
            (controls, Side::Output(Box::new(side)))
        })
    }
}

impl DemoDevice {
    /// Joins a stream to the interface's worker, starting one when none runs: the worker's
    /// rate and period are those of the first stream; later streams must match them.
    fn attach(
        &self,
        rate: u32,
        wanted_period: Option<u32>,
        make: impl FnOnce(u32) -> (Arc<Controls>, Side),
    ) -> Result<DemoStream, Error> {
        let mut running = lock(&self.interface.running);
        if running.as_ref().is_some_and(|r| r.link.finished()) {
            // The interface vanished (unplugged): a new stream gets a fresh one.
            *running = None;
        }
        let (link, period) = match running.as_mut() {
            Some(r) => {
                if r.rate != rate {
                    return Err(unsupported(format!(
                        "the demo interface runs at {} Hz; its input and output share one clock",
                        r.rate
                    )));
                }
                if wanted_period.is_some_and(|p| p != r.period) {
                    return Err(unsupported(format!(
                        "the demo interface runs with periods of {} frames",
                        r.period
                    )));
                }
                (Arc::clone(&r.link), r.period)
            }
            None => {
                let period = wanted_period.unwrap_or(DEFAULT_PERIOD);
                let delay = loopback_delay_frames(&self.options, rate)
                    .map_err(|m| Error::with_message(ErrorKind::InvalidInput, m))?;
                let link = Arc::new(Link::default());
                let worker = Worker::new(Arc::clone(&link), &self.options, rate, period, delay);
                let handle = std::thread::Builder::new()
                    .name("tapedeck-demo".into())
                    .spawn(move || worker.run())
                    .map_err(|e| Error::with_message(ErrorKind::BackendError, e.to_string()))?;
                *running = Some(Running {
                    link: Arc::clone(&link),
                    handle: Some(handle),
                    rate,
                    period,
                    streams: 0,
                });
                (link, period)
            }
        };
        let (controls, side) = make(period);
        let is_input = matches!(side, Side::Input(_));
        {
            let mut incoming = lock(&link.incoming);
            let busy = if is_input {
                incoming.input_attached
            } else {
                incoming.output_attached
            };
            if busy {
                return Err(Error::with_message(
                    ErrorKind::DeviceBusy,
                    format!(
                        "the demo interface's {} is already in use",
                        if is_input { "input" } else { "output" }
                    ),
                ));
            }
            match side {
                Side::Input(s) => {
                    incoming.input = Some(s);
                    incoming.input_attached = true;
                }
                Side::Output(s) => {
                    incoming.output = Some(s);
                    incoming.output_attached = true;
                }
            }
            link.pending.store(true, Ordering::Release);
        }
        if let Some(r) = running.as_mut() {
            r.streams += 1;
        }
        Ok(DemoStream {
            controls,
            interface: Arc::clone(&self.interface),
            link,
            period,
            is_input,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing holding these locks can leave the state half-changed.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The interface every device of one host shares: the worker that runs its clock, if any.
#[derive(Default, Debug)]
struct Interface {
    running: Mutex<Option<Running>>,
}

#[derive(Debug)]
struct Running {
    link: Arc<Link>,
    handle: Option<JoinHandle<()>>,
    rate: u32,
    period: u32,
    /// Streams attached and not yet dropped; the worker stops with the last.
    streams: usize,
}

/// Between the streams and the worker.
#[derive(Default)]
struct Link {
    incoming: Mutex<Incoming>,
    /// Something in `incoming` waits for the worker.
    pending: AtomicBool,
    stop: AtomicBool,
    /// When the interface's frame 0 was due, for `now()`.
    clock_start: OnceLock<Instant>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Link")
    }
}

impl Link {
    fn finished(&self) -> bool {
        lock(&self.incoming).finished
    }
}

#[derive(Default)]
struct Incoming {
    input: Option<Box<InputSide>>,
    output: Option<Box<OutputSide>>,
    /// A stream of that direction exists (attached or waiting to be).
    input_attached: bool,
    output_attached: bool,
    /// The worker has ended; it takes nothing more.
    finished: bool,
}

enum Side {
    Input(Box<InputSide>),
    Output(Box<OutputSide>),
}

/// One stream's flags: the stream sets `playing` and `exit`, the worker sets `gone` once it
/// has let go of the stream's callback.
#[derive(Default)]
struct Controls {
    exit: AtomicBool,
    playing: AtomicBool,
    gone: AtomicBool,
}

impl Controls {
    fn live_and_playing(&self) -> bool {
        !self.exit.load(Ordering::Acquire) && self.playing.load(Ordering::Acquire)
    }
}

/// The buffer of one format a period is delivered in.
enum Buffer {
    F32(Vec<f32>),
    I32(Vec<i32>),
    I24(Vec<I24>),
    I16(Vec<i16>),
}

impl Buffer {
    fn new(format: SampleFormat, len: usize) -> Self {
        match format {
            SampleFormat::I32 => Self::I32(vec![0; len]),
            SampleFormat::I24 => Self::I24(vec![I24::new_unchecked(0); len]),
            SampleFormat::I16 => Self::I16(vec![0; len]),
            _ => Self::F32(vec![0.0; len]),
        }
    }

    fn silence(&mut self) {
        match self {
            Self::F32(v) => v.fill(0.0),
            Self::I32(v) => v.fill(0),
            Self::I24(v) => v.fill(I24::new_unchecked(0)),
            Self::I16(v) => v.fill(0),
        }
    }

    /// The whole buffer as cpal data.
    fn data(&mut self) -> Data {
        // SAFETY: the pointer is to `len` live, initialised samples of the stated format, and
        // the buffer outlives the callback call that borrows the `Data`.
        unsafe {
            match self {
                Self::F32(v) => Data::from_parts(v.as_mut_ptr().cast(), v.len(), SampleFormat::F32),
                Self::I32(v) => Data::from_parts(v.as_mut_ptr().cast(), v.len(), SampleFormat::I32),
                Self::I24(v) => Data::from_parts(v.as_mut_ptr().cast(), v.len(), SampleFormat::I24),
                Self::I16(v) => Data::from_parts(v.as_mut_ptr().cast(), v.len(), SampleFormat::I16),
            }
        }
    }

    /// Sample `i` as it travels through the cable (see the module docs).
    fn cable(&self, i: usize) -> f64 {
        match self {
            Self::F32(v) => f64::from(v[i]),
            Self::I32(v) => f64::from(v[i]) / 2_147_483_648.0,
            Self::I24(v) => f64::from(v[i].inner()) / 8_388_608.0,
            Self::I16(v) => f64::from(v[i]) / 32_768.0,
        }
    }
}

fn cable_to_i32(x: f64) -> i32 {
    (x * 2_147_483_648.0)
        .round()
        .clamp(-2_147_483_648.0, 2_147_483_647.0) as i32
}

fn cable_to_i16(x: f64) -> i16 {
    (x * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16
}

/// The cable: the cue by the interface's frame index, kept for as long as the loop delays it.
struct DelayLine {
    frames: Vec<[f64; 2]>,
    /// Frames between a cue frame's period and the input frame that hears it.
    delay: u64,
}

impl DelayLine {
    fn new(period: u32, delay: u32) -> Self {
        let total = 2 * u64::from(period) + u64::from(delay);
        // What one period reads reaches back `total` frames from its first frame, and the
        // period itself has just been written.
        let len = total as usize + period as usize;
        Self {
            frames: vec![[0.0; 2]; len],
            delay: total,
        }
    }

    fn write(&mut self, frame: u64, value: [f64; 2]) {
        let len = self.frames.len() as u64;
        self.frames[(frame % len) as usize] = value;
    }

    /// What the loopback inputs hear at `frame`.
    fn read(&self, frame: u64) -> [f64; 2] {
        match frame.checked_sub(self.delay) {
            Some(f) => self.frames[(f % self.frames.len() as u64) as usize],
            None => [0.0; 2],
        }
    }
}

type InputCallback = Box<dyn FnMut(&Data, &InputCallbackInfo) + Send>;
type OutputCallback = Box<dyn FnMut(&mut Data, &OutputCallbackInfo) + Send>;
type ErrorCallback = Box<dyn FnMut(Error) + Send>;

struct OutputSide {
    controls: Arc<Controls>,
    callback: OutputCallback,
    on_error: ErrorCallback,
    channels: usize,
    buffer: Buffer,
}

impl Drop for OutputSide {
    fn drop(&mut self) {
        self.controls.gone.store(true, Ordering::Release);
    }
}

struct InputSetup {
    channels: usize,
    loopback: bool,
    rate: u32,
    period: u32,
    format: SampleFormat,
    paced: bool,
    seed: u64,
}

struct InputSide {
    controls: Arc<Controls>,
    callback: InputCallback,
    on_error: ErrorCallback,
    synth: DemoSynth,
    channels: usize,
    /// Channels of band: all of them, or all but the loopback's two.
    band: usize,
    loopback: bool,
    paced: bool,
    format: SampleFormat,
    /// Band frames synthesised at once: one period paced; unpaced, the loop the device
    /// repeats ([`unpaced_loop_frames`]), synthesised and converted once.
    loop_frames: usize,
    band_f32: Vec<f32>,
    band_i32: Vec<i32>,
    band_i16: Vec<i16>,
    /// `demo-loop`: one period of band and loopback, in the delivered format.
    frame: Buffer,
    /// Frames delivered to this stream.
    delivered: u64,
}

impl Drop for InputSide {
    fn drop(&mut self) {
        self.controls.gone.store(true, Ordering::Release);
    }
}

impl InputSide {
    fn new(
        s: InputSetup,
        controls: Arc<Controls>,
        callback: InputCallback,
        on_error: ErrorCallback,
    ) -> Self {
        let band = if s.loopback {
            s.channels - usize::from(LOOPBACK_CHANNELS)
        } else {
            s.channels
        };
        let loop_frames = if s.paced {
            s.period as usize
        } else {
            unpaced_loop_frames(s.rate, s.period)
        };
        // Only the buffer of the format delivered is used; the others stay empty.
        let len_for = |format| {
            if s.format == format {
                loop_frames * band
            } else {
                0
            }
        };
        let mut synth = DemoSynth::new(band.max(1), s.rate, s.seed);
        let mut band_f32 = vec![0f32; if band > 0 { loop_frames * band } else { 0 }];
        let mut band_i32 = vec![0i32; len_for(SampleFormat::I32)];
        let mut band_i16 = vec![0i16; len_for(SampleFormat::I16)];
        if !s.paced && band > 0 {
            synth.render(&mut band_f32);
            convert_period(&band_f32, &mut band_i32, &mut band_i16);
        }
        let frame_len = if s.loopback {
            s.period as usize * s.channels
        } else {
            0
        };
        Self {
            controls,
            callback,
            on_error,
            synth,
            channels: s.channels,
            band,
            loopback: s.loopback,
            paced: s.paced,
            format: s.format,
            loop_frames,
            band_f32,
            band_i32,
            band_i16,
            frame: Buffer::new(s.format, frame_len),
            delivered: 0,
        }
    }

    /// Delivers the period of interface frames `first..first + period`.
    fn deliver(&mut self, first: u64, period: u32, rate: u32, cable: &DelayLine) {
        let p = period as usize;
        if self.paced && self.band > 0 {
            self.synth.render(&mut self.band_f32);
            convert_period(&self.band_f32, &mut self.band_i32, &mut self.band_i16);
        }
        // Where this period's band starts in the band buffers: always 0 when paced.
        let at = (self.delivered % self.loop_frames as u64) as usize * self.band;
        let band_len = p * self.band;
        let info = InputCallbackInfo::new(InputStreamTimestamp {
            callback: StreamInstant::from_nanos(frame_ns(first + u64::from(period), rate)),
            capture: StreamInstant::from_nanos(frame_ns(first, rate)),
        });
        if self.loopback {
            let (band, ch) = (self.band, self.channels);
            match &mut self.frame {
                Buffer::F32(v) => interleave(
                    v,
                    &self.band_f32[at..at + band_len],
                    band,
                    ch,
                    first,
                    cable,
                    |x| x as f32,
                ),
                Buffer::I32(v) => interleave(
                    v,
                    &self.band_i32[at..at + band_len],
                    band,
                    ch,
                    first,
                    cable,
                    cable_to_i32,
                ),
                Buffer::I16(v) => interleave(
                    v,
                    &self.band_i16[at..at + band_len],
                    band,
                    ch,
                    first,
                    cable,
                    cable_to_i16,
                ),
                // Not an input format.
                Buffer::I24(_) => {}
            }
            let data = self.frame.data();
            (self.callback)(&data, &info);
        } else {
            let n = band_len;
            // SAFETY: each pointer is to `n` live, initialised samples of the stated format
            // inside a buffer (`loop_frames` is a whole number of periods, so a period never
            // runs past its end), and the buffer outlives the callback call that borrows it.
            let data = unsafe {
                match self.format {
                    SampleFormat::I32 => Data::from_parts(
                        self.band_i32.as_mut_ptr().add(at).cast(),
                        n,
                        SampleFormat::I32,
                    ),
                    SampleFormat::I16 => Data::from_parts(
                        self.band_i16.as_mut_ptr().add(at).cast(),
                        n,
                        SampleFormat::I16,
                    ),
                    _ => Data::from_parts(
                        self.band_f32.as_mut_ptr().add(at).cast(),
                        n,
                        SampleFormat::F32,
                    ),
                }
            };
            (self.callback)(&data, &info);
        }
        self.delivered += u64::from(period);
    }
}

/// One period of `demo-loop`: each frame's band samples, then what the cable carries.
fn interleave<T: Copy>(
    out: &mut [T],
    band: &[T],
    band_channels: usize,
    channels: usize,
    first: u64,
    cable: &DelayLine,
    convert: impl Fn(f64) -> T,
) {
    for (i, frame) in out.chunks_exact_mut(channels).enumerate() {
        let (b, l) = frame.split_at_mut(band_channels);
        b.copy_from_slice(&band[i * band_channels..(i + 1) * band_channels]);
        let heard = cable.read(first + i as u64);
        l[0] = convert(heard[0]);
        l[1] = convert(heard[1]);
    }
}

/// The interface's clock: one thread for both directions.
struct Worker {
    link: Arc<Link>,
    input: Option<Box<InputSide>>,
    output: Option<Box<OutputSide>>,
    cable: DelayLine,
    rate: u32,
    period: u32,
    paced: bool,
    pace: Option<Pace>,
    unplug_after_frames: Option<u64>,
}

impl Worker {
    fn new(link: Arc<Link>, options: &DemoOptions, rate: u32, period: u32, delay: u32) -> Self {
        Self {
            link,
            input: None,
            output: None,
            cable: DelayLine::new(period, delay),
            rate,
            period,
            paced: options.paced,
            pace: options.pace.clone(),
            unplug_after_frames: options.unplug_after_frames,
        }
    }

    fn run(mut self) {
        self.clock();
        // Let go of every callback, including any that arrived too late, before saying so.
        let mut incoming = lock(&self.link.incoming);
        self.input = None;
        self.output = None;
        incoming.input = None;
        incoming.output = None;
        incoming.finished = true;
    }

    /// Takes streams that joined, lets go of those that left.
    fn update_streams(&mut self) {
        if self.link.pending.swap(false, Ordering::AcqRel) {
            let mut incoming = lock(&self.link.incoming);
            if let Some(s) = incoming.input.take() {
                self.input = Some(s);
            }
            if let Some(s) = incoming.output.take() {
                self.output = Some(s);
            }
        }
        // The direction is free again before the stream hears that it is gone, so that a
        // stream built right after another is dropped finds it free.
        let left = |c: &Controls| c.exit.load(Ordering::Acquire);
        if self.input.as_ref().is_some_and(|s| left(&s.controls)) {
            let side = self.input.take();
            lock(&self.link.incoming).input_attached = false;
            drop(side);
        }
        if self.output.as_ref().is_some_and(|s| left(&s.controls)) {
            let side = self.output.take();
            lock(&self.link.incoming).output_attached = false;
            drop(side);
        }
    }

    fn clock(&mut self) {
        let mut frames: u64 = 0;
        // The clock starts with the first played period, as a real interface's does.
        let mut clock_start: Option<Instant> = None;
        while !self.link.stop.load(Ordering::Acquire) {
            self.update_streams();
            let input_plays = self
                .input
                .as_ref()
                .is_some_and(|s| s.controls.live_and_playing());
            let output_plays = self
                .output
                .as_ref()
                .is_some_and(|s| s.controls.live_and_playing());
            if !input_plays && !output_plays {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            let t0 = *clock_start.get_or_insert_with(|| {
                let now = Instant::now();
                let _ = self.link.clock_start.set(now);
                now
            });
            let period_end = frames + u64::from(self.period);
            if self.unplug_after_frames.is_some_and(|n| frames >= n) {
                // What a host reports when a USB interface is pulled: the streams are over.
                if let Some(s) = self.output.as_mut() {
                    (s.on_error)(Error::new(ErrorKind::DeviceNotAvailable));
                }
                if let Some(s) = self.input.as_mut() {
                    (s.on_error)(Error::new(ErrorKind::DeviceNotAvailable));
                }
                return;
            }
            if self.paced {
                // A period is delivered once it has been "captured", like a real interface.
                let due = t0 + Duration::from_nanos(frame_ns(period_end, self.rate));
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            } else if let (Some(pace), Some(input)) = (&self.pace, &self.input) {
                // As fast as the recorder takes it: wait while its ring is over half full.
                let delivered = input.delivered + u64::from(self.period);
                while pace.ahead(delivered)
                    && !self.link.stop.load(Ordering::Acquire)
                    && !input.controls.exit.load(Ordering::Acquire)
                {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            self.output_period(frames, output_plays);
            if input_plays && let Some(s) = self.input.as_mut() {
                s.deliver(frames, self.period, self.rate, &self.cable);
            }
            frames = period_end;
        }
    }

    /// Plays the period `first..first + period` and puts it into the cable (silence when
    /// the output is not playing).
    fn output_period(&mut self, first: u64, plays: bool) {
        let period = u64::from(self.period);
        match self.output.as_mut() {
            Some(s) if plays => {
                let info = OutputCallbackInfo::new(OutputStreamTimestamp {
                    callback: StreamInstant::from_nanos(frame_ns(first + period, self.rate)),
                    playback: StreamInstant::from_nanos(frame_ns(first + 2 * period, self.rate)),
                });
                s.buffer.silence();
                let mut data = s.buffer.data();
                (s.callback)(&mut data, &info);
                let ch = s.channels;
                for i in 0..self.period as usize {
                    let l = s.buffer.cable(i * ch);
                    // A mono output is cabled to Loopback L only.
                    let r = if ch > 1 {
                        s.buffer.cable(i * ch + 1)
                    } else {
                        0.0
                    };
                    self.cable.write(first + i as u64, [l, r]);
                }
            }
            _ => {
                for i in 0..period {
                    self.cable.write(first + i, [0.0; 2]);
                }
            }
        }
    }
}

/// Frames the unpaced demo device repeats: about one second, a whole number of periods.
pub fn unpaced_loop_frames(rate: u32, period: u32) -> usize {
    let period = period.max(1) as usize;
    (rate as usize).div_ceil(period) * period
}

/// Converts synthesised samples into the integer format being delivered (the other buffer is
/// empty, so converting into it costs nothing).
fn convert_period(f: &[f32], i32s: &mut [i32], i16s: &mut [i16]) {
    for (d, s) in i32s.iter_mut().zip(f) {
        *d = (f64::from(s.clamp(-1.0, 1.0)) * 2_147_483_647.0).round() as i32;
    }
    for (d, s) in i16s.iter_mut().zip(f) {
        *d = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
    }
}

/// A stream on the demo interface: its flags, and its way back to the worker.
pub struct DemoStream {
    controls: Arc<Controls>,
    interface: Arc<Interface>,
    link: Arc<Link>,
    period: u32,
    is_input: bool,
}

impl StreamTrait for DemoStream {
    fn play(&self) -> Result<(), Error> {
        self.controls.playing.store(true, Ordering::Release);
        Ok(())
    }

    fn pause(&self) -> Result<(), Error> {
        self.controls.playing.store(false, Ordering::Release);
        Ok(())
    }

    /// The interface's clock: 0 at its frame 0.
    fn now(&self) -> StreamInstant {
        let ns = self
            .link
            .clock_start
            .get()
            .map_or(0, |t| t.elapsed().as_nanos() as u64);
        StreamInstant::from_nanos(ns)
    }

    fn buffer_size(&self) -> Result<cpal::FrameCount, Error> {
        Ok(self.period)
    }
}

impl Drop for DemoStream {
    fn drop(&mut self) {
        self.controls.exit.store(true, Ordering::Release);
        // cpal's promise: once the stream is gone, its callback is never called again.
        while !self.controls.gone.load(Ordering::Acquire) {
            {
                // A stream the worker never took (it ended first) is let go of here.
                let mut incoming = lock(&self.link.incoming);
                if incoming.finished {
                    if self.is_input {
                        incoming.input = None;
                    } else {
                        incoming.output = None;
                    }
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut running = lock(&self.interface.running);
        let ours = running
            .as_ref()
            .is_some_and(|r| Arc::ptr_eq(&r.link, &self.link));
        if !ours {
            return;
        }
        let last = running.as_mut().is_some_and(|r| {
            r.streams = r.streams.saturating_sub(1);
            r.streams == 0
        });
        if last && let Some(mut r) = running.take() {
            r.link.stop.store(true, Ordering::Release);
            if let Some(h) = r.handle.take() {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    use cpal::{BufferSize, Data, I24, SampleFormat, StreamConfig, StreamInstant};

    use super::*;

    fn host(paced: bool, delay: u32) -> cpal::Host {
        DemoHost::new(DemoOptions {
            paced,
            loopback_delay_frames: Some(delay),
            ..DemoOptions::default()
        })
        .into_cpal()
    }

    fn device(host: &cpal::Host, id: &str) -> cpal::Device {
        let want = format!("custom:{id}");
        host.devices()
            .expect("devices")
            .find(|d| d.id().map(|i| i.to_string()) == Ok(want.clone()))
            .expect("the device")
    }

    fn config(channels: u16, rate: u32, period: u32) -> StreamConfig {
        StreamConfig {
            channels,
            sample_rate: rate,
            buffer_size: BufferSize::Fixed(period),
        }
    }

    /// A stamp in frames, rounded to the nearest; checked against rounding down.
    fn frame_at(t: StreamInstant, rate: u32) -> u64 {
        let scaled = t.as_nanos() * u128::from(rate);
        let nearest = ((scaled + 500_000_000) / 1_000_000_000) as u64;
        assert_eq!(nearest, (scaled / 1_000_000_000) as u64, "stamp {t:?}");
        nearest
    }

    fn write_sample(data: &mut Data, i: usize, v: f64) {
        match data.sample_format() {
            SampleFormat::F32 => data.as_slice_mut::<f32>().expect("f32")[i] = v as f32,
            SampleFormat::I32 => data.as_slice_mut::<i32>().expect("i32")[i] = v as i32,
            SampleFormat::I24 => {
                data.as_slice_mut::<I24>().expect("i24")[i] = I24::new(v as i32).expect("in range")
            }
            SampleFormat::I16 => data.as_slice_mut::<i16>().expect("i16")[i] = v as i16,
            f => panic!("{f}"),
        }
    }

    fn read_sample(data: &Data, i: usize) -> f64 {
        match data.sample_format() {
            SampleFormat::F32 => f64::from(data.as_slice::<f32>().expect("f32")[i]),
            SampleFormat::I32 => f64::from(data.as_slice::<i32>().expect("i32")[i]),
            SampleFormat::I16 => f64::from(data.as_slice::<i16>().expect("i16")[i]),
            f => panic!("{f}"),
        }
    }

    struct Loop {
        rate: u32,
        period: u32,
        delay: u32,
        paced: bool,
        out_format: SampleFormat,
        out_channels: u16,
        in_format: SampleFormat,
        /// Band channels on `demo-loop` (the stream has two more).
        band: u16,
        /// Input frames to check once the output is heard.
        frames: u64,
        /// What the output plays at its frame `k`, channel `c`, in its own units.
        play: fn(u64, usize) -> f64,
        /// What an input of the tested format must hear for an output sample.
        heard: fn(f64) -> f64,
    }

    #[derive(Default)]
    struct Report {
        checked: AtomicU64,
        /// Input frames that heard the output.
        sounding: AtomicU64,
        errors: AtomicU64,
        first_error: Mutex<Option<String>>,
    }

    impl Report {
        fn fail(&self, what: String) {
            if self.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                *lock(&self.first_error) = Some(what);
            }
        }
    }

    /// Plays `play` on `demo`'s output and listens on `demo-loop`'s last two inputs: every
    /// frame the output played at playback frame `p` must be heard at capture frame `p + D`,
    /// silence elsewhere, and both streams must report one period of latency.
    fn run_loop(t: Loop) -> Arc<Report> {
        let h = host(t.paced, t.delay);
        let report = Arc::new(Report::default());
        // The output's first playback frame, once it has played (u64::MAX before).
        let first_played = Arc::new(AtomicU64::new(u64::MAX));
        let (rate, period) = (t.rate, u64::from(t.period));
        let out_ch = usize::from(t.out_channels);
        let out = {
            let report = Arc::clone(&report);
            let first_played = Arc::clone(&first_played);
            let mut next = 0u64;
            let play = t.play;
            device(&h, DEVICE_ID)
                .build_output_stream_raw(
                    config(t.out_channels, rate, t.period),
                    t.out_format,
                    move |data: &mut Data, info: &OutputCallbackInfo| {
                        let ts = info.timestamp();
                        let cb = frame_at(ts.callback, rate);
                        let pb = frame_at(ts.playback, rate);
                        if pb != cb + period {
                            report.fail(format!("output latency {} != {period}", pb - cb));
                        }
                        if first_played.load(Ordering::Relaxed) == u64::MAX {
                            first_played.store(pb, Ordering::Relaxed);
                            next = pb;
                        }
                        if pb != next {
                            report.fail(format!("output block at {pb}, expected {next}"));
                        }
                        let k0 = pb - first_played.load(Ordering::Relaxed);
                        for i in 0..data.len() / out_ch {
                            for c in 0..out_ch {
                                write_sample(data, i * out_ch + c, play(k0 + i as u64, c));
                            }
                        }
                        next = pb + period;
                    },
                    |e| panic!("{e}"),
                    None,
                )
                .expect("output stream")
        };
        let in_ch = usize::from(t.band + LOOPBACK_CHANNELS);
        let input = {
            let report = Arc::clone(&report);
            let first_played = Arc::clone(&first_played);
            let (play, heard, band) = (t.play, t.heard, usize::from(t.band));
            let delay = u64::from(t.delay);
            device(&h, LOOPBACK_DEVICE_ID)
                .build_input_stream_raw(
                    config(t.band + LOOPBACK_CHANNELS, rate, t.period),
                    t.in_format,
                    move |data: &Data, info: &InputCallbackInfo| {
                        let ts = info.timestamp();
                        let cb = frame_at(ts.callback, rate);
                        let cap = frame_at(ts.capture, rate);
                        if cb != cap + period {
                            report.fail(format!("input latency {} != {period}", cb - cap));
                        }
                        let p0 = first_played.load(Ordering::Relaxed);
                        for i in 0..data.len() / in_ch {
                            let at = cap + i as u64;
                            for c in 0..2 {
                                let got = read_sample(data, i * in_ch + band + c);
                                // The output frame played `delay` frames before, if any.
                                let played = at
                                    .checked_sub(delay)
                                    .and_then(|p| p.checked_sub(p0))
                                    .filter(|_| p0 != u64::MAX);
                                let want = match played {
                                    Some(k) if c < out_ch => heard(play(k, c)),
                                    _ => 0.0,
                                };
                                if got.to_bits() != want.to_bits() && !(got == 0.0 && want == 0.0) {
                                    report.fail(format!(
                                        "capture frame {at} ch {c}: {got} instead of {want} \
                                         (first played {p0})"
                                    ));
                                }
                            }
                            let heard_output = at
                                .checked_sub(delay)
                                .is_some_and(|p| p0 != u64::MAX && p >= p0);
                            if heard_output {
                                report.sounding.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        report
                            .checked
                            .fetch_add((data.len() / in_ch) as u64, Ordering::Relaxed);
                    },
                    |e| panic!("{e}"),
                    None,
                )
                .expect("input stream")
        };
        // The input first, so that the silence before the output starts is checked too.
        input.play().expect("play");
        std::thread::sleep(Duration::from_millis(20));
        out.play().expect("play");
        let started = Instant::now();
        while report.sounding.load(Ordering::Relaxed) < t.frames {
            assert!(started.elapsed() < Duration::from_secs(120), "too slow");
            std::thread::sleep(Duration::from_millis(5));
        }
        // The input first: once the output has stopped, the cable is rightly silent.
        drop(input);
        drop(out);
        let first = lock(&report.first_error).clone();
        assert_eq!(
            report.errors.load(Ordering::Relaxed),
            0,
            "first error: {first:?}"
        );
        report
    }

    /// A counter in the float range, exact in f32, never 0.
    fn counter_f32(k: u64, c: usize) -> f64 {
        let v = ((k % 4_000_000) + 1) as f64 / 8_388_608.0;
        if c == 0 { v } else { -v }
    }

    fn same(x: f64) -> f64 {
        x
    }

    #[test]
    fn the_cable_is_d_frames_longer_than_reported() {
        for (rate, period, delay) in [(48_000, 512, 480), (44_100, 64, 0), (96_000, 1024, 7)] {
            run_loop(Loop {
                rate,
                period,
                delay,
                paced: false,
                out_format: SampleFormat::F32,
                out_channels: 2,
                in_format: SampleFormat::F32,
                band: 2,
                frames: u64::from(rate),
                play: counter_f32,
                heard: same,
            });
        }
    }

    #[test]
    fn paced_the_cable_is_d_frames_longer_too() {
        run_loop(Loop {
            rate: 48_000,
            period: 256,
            delay: default_loopback_delay(48_000),
            paced: true,
            out_format: SampleFormat::F32,
            out_channels: 2,
            in_format: SampleFormat::F32,
            band: 8,
            frames: 9_600,
            play: counter_f32,
            heard: same,
        });
    }

    /// Ten minutes at 48 kHz, unpaced: still exactly D, not a frame of drift.
    #[test]
    fn no_drift_over_ten_minutes() {
        run_loop(Loop {
            rate: 48_000,
            period: 1024,
            delay: 480,
            paced: false,
            out_format: SampleFormat::F32,
            out_channels: 2,
            in_format: SampleFormat::F32,
            band: 0,
            frames: 48_000 * 600,
            play: counter_f32,
            heard: same,
        });
    }

    fn counter_i16(k: u64, c: usize) -> f64 {
        let v = (k % 60_000) as f64 - 30_000.0 + 1.0;
        if c == 0 { v } else { -v }
    }

    fn counter_i24(k: u64, c: usize) -> f64 {
        let v = ((k * 97) % 16_000_000) as f64 - 8_000_000.0 + 1.0;
        if c == 0 { v } else { -v }
    }

    fn counter_i32(k: u64, c: usize) -> f64 {
        let v = ((k * 40_503) % 4_000_000_000) as f64 - 2_000_000_000.0 + 1.0;
        if c == 0 { v } else { -v }
    }

    #[test]
    fn formats_pass_the_cable_exactly() {
        fn shl16(x: f64) -> f64 {
            x * 65_536.0
        }
        fn shl8(x: f64) -> f64 {
            x * 256.0
        }
        fn over15(x: f64) -> f64 {
            x / 32_768.0
        }
        fn over23(x: f64) -> f64 {
            f64::from((x / 8_388_608.0) as f32)
        }
        type Case = (
            SampleFormat,
            fn(u64, usize) -> f64,
            SampleFormat,
            fn(f64) -> f64,
        );
        let cases: [Case; 7] = [
            (SampleFormat::F32, counter_f32, SampleFormat::F32, same),
            (SampleFormat::I32, counter_i32, SampleFormat::I32, same),
            (SampleFormat::I16, counter_i16, SampleFormat::I16, same),
            (SampleFormat::I16, counter_i16, SampleFormat::I32, shl16),
            (SampleFormat::I16, counter_i16, SampleFormat::F32, over15),
            (SampleFormat::I24, counter_i24, SampleFormat::I32, shl8),
            (SampleFormat::I24, counter_i24, SampleFormat::F32, over23),
        ];
        for (out_format, play, in_format, heard) in cases {
            let r = run_loop(Loop {
                rate: 48_000,
                period: 128,
                delay: 100,
                paced: false,
                out_format,
                out_channels: 2,
                in_format,
                band: 1,
                frames: 20_000,
                play,
                heard,
            });
            assert!(
                r.checked.load(Ordering::Relaxed) > 20_000,
                "{out_format} -> {in_format}"
            );
        }
    }

    #[test]
    fn a_mono_output_reaches_loopback_l_only() {
        run_loop(Loop {
            rate: 48_000,
            period: 128,
            delay: 33,
            paced: false,
            out_format: SampleFormat::I16,
            out_channels: 1,
            in_format: SampleFormat::I16,
            band: 3,
            frames: 10_000,
            play: counter_i16,
            heard: same,
        });
    }

    /// The first `frames` frames a device delivers (unpaced or paced), all channels.
    fn capture(
        id: &str,
        channels: u16,
        format: SampleFormat,
        paced: bool,
        frames: usize,
    ) -> Vec<f64> {
        let h = host(paced, 480);
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&got);
        let want = frames * usize::from(channels);
        let s = device(&h, id)
            .build_input_stream_raw(
                config(channels, 48_000, 256),
                format,
                move |data: &Data, _: &InputCallbackInfo| {
                    let mut v = lock(&sink);
                    for i in 0..data.len() {
                        if v.len() < want {
                            v.push(read_sample(data, i));
                        }
                    }
                },
                |e| panic!("{e}"),
                None,
            )
            .expect("input stream");
        s.play().expect("play");
        while lock(&got).len() < want {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(s);
        lock(&got).clone()
    }

    #[test]
    fn the_band_is_unchanged_beside_the_loopback() {
        let frames = 3 * 48_000 / 2;
        for paced in [false, true] {
            for format in FORMATS {
                let frames = if paced { 4_800 } else { frames };
                let plain = capture(DEVICE_ID, 8, format, paced, frames);
                let looped = capture(LOOPBACK_DEVICE_ID, 10, format, paced, frames);
                let mut synth = DemoSynth::new(8, 48_000, DemoOptions::default().seed);
                let mut rendered = vec![0f32; frames * 8];
                if paced {
                    synth.render(&mut rendered);
                } else {
                    // Unpaced, the device repeats its first second.
                    let n = unpaced_loop_frames(48_000, 256);
                    let mut once = vec![0f32; n * 8];
                    synth.render(&mut once);
                    for (i, x) in rendered.iter_mut().enumerate() {
                        *x = once[i % (n * 8)];
                    }
                }
                for f in 0..frames {
                    for c in 0..8 {
                        let p = plain[f * 8 + c];
                        assert_eq!(
                            p.to_bits(),
                            looped[f * 10 + c].to_bits(),
                            "{format} paced {paced} frame {f} ch {c}"
                        );
                        if format == SampleFormat::F32 {
                            assert_eq!(p, f64::from(rendered[f * 8 + c]), "frame {f} ch {c}");
                        }
                    }
                    // No output: the cable is silent.
                    assert_eq!(looped[f * 10 + 8], 0.0);
                    assert_eq!(looped[f * 10 + 9], 0.0);
                }
                assert!(plain.iter().any(|x| *x != 0.0));
            }
        }
    }

    #[test]
    fn devices_configs_and_one_clock() {
        let h = host(true, 480);
        let ids: Vec<String> = h
            .devices()
            .expect("devices")
            .map(|d| d.id().expect("id").to_string())
            .collect();
        assert_eq!(ids, ["custom:demo", "custom:demo-loop"]);
        let out = h.default_output_device().expect("an output");
        assert_eq!(out.id().expect("id").to_string(), "custom:demo");
        let formats: Vec<SampleFormat> = out
            .supported_output_configs()
            .expect("configs")
            .filter(|c| c.channels() == 2 && c.min_sample_rate() == 48_000)
            .map(|c| c.sample_format())
            .collect();
        assert_eq!(formats, OUTPUT_FORMATS);
        assert!(
            out.supported_output_configs()
                .expect("configs")
                .all(|c| (1..=2).contains(&c.channels()))
        );
        let lo = device(&h, LOOPBACK_DEVICE_ID);
        assert_eq!(lo.default_input_config().expect("default").channels(), 10);
        let chans: Vec<u16> = lo
            .supported_input_configs()
            .expect("configs")
            .map(|c| c.channels())
            .collect();
        assert_eq!(chans.iter().min(), Some(&2));
        assert_eq!(chans.iter().max(), Some(&66));

        let input = lo
            .build_input_stream_raw(
                config(10, 48_000, 256),
                SampleFormat::F32,
                |_: &Data, _: &InputCallbackInfo| {},
                |_| {},
                None,
            )
            .expect("input");
        let output = |cfg: StreamConfig| {
            out.build_output_stream_raw(
                cfg,
                SampleFormat::F32,
                |_: &mut Data, _: &OutputCallbackInfo| {},
                |_| {},
                None,
            )
        };
        // One clock: another rate or period is refused; the default period is the running one.
        assert!(output(config(2, 44_100, 256)).is_err());
        assert!(output(config(2, 48_000, 512)).is_err());
        let o = output(StreamConfig {
            channels: 2,
            sample_rate: 48_000,
            buffer_size: BufferSize::Default,
        })
        .expect("output at the input's period");
        assert_eq!(o.buffer_size().expect("period"), 256);
        // One output at a time, and free again once dropped.
        assert!(output(config(2, 48_000, 256)).is_err());
        drop(o);
        let o = output(config(2, 48_000, 256)).expect("output again");
        assert!(output(config(3, 48_000, 256)).is_err());
        drop(o);
        drop(input);
        // With nothing left the worker stopped: a new stream may choose its rate again.
        drop(output(config(2, 44_100, 64)).expect("a fresh clock"));
    }

    #[test]
    fn the_delay_comes_from_the_option_the_environment_or_10_ms() {
        let mut o = DemoOptions::default();
        assert_eq!(default_loopback_delay(44_100), 441);
        assert_eq!(default_loopback_delay(48_000), 480);
        assert_eq!(default_loopback_delay(96_000), 960);
        o.loopback_delay_frames = Some(123);
        assert_eq!(loopback_delay_frames(&o, 48_000), Ok(123));
        o.loopback_delay_frames = Some(MAX_LOOPBACK_DELAY + 1);
        assert!(loopback_delay_frames(&o, 48_000).is_err());
        assert_eq!(reported_latency(256), 256);
        assert_eq!(frame_ns(1, 44_100), 22_676);
    }

    #[test]
    fn streams_end_together_when_unplugged() {
        let h = DemoHost::new(DemoOptions {
            paced: false,
            unplug_after_frames: Some(4096),
            ..DemoOptions::default()
        })
        .into_cpal();
        let d = device(&h, DEVICE_ID);
        let errors = Arc::new(AtomicUsize::new(0));
        let (e1, e2) = (Arc::clone(&errors), Arc::clone(&errors));
        let i = d
            .build_input_stream_raw(
                config(2, 48_000, 256),
                SampleFormat::F32,
                |_: &Data, _: &InputCallbackInfo| {},
                move |_| {
                    e1.fetch_add(1, Ordering::Relaxed);
                },
                None,
            )
            .expect("input");
        let o = d
            .build_output_stream_raw(
                config(2, 48_000, 256),
                SampleFormat::I16,
                |_: &mut Data, _: &OutputCallbackInfo| {},
                move |_| {
                    e2.fetch_add(1, Ordering::Relaxed);
                },
                None,
            )
            .expect("output");
        i.play().expect("play");
        o.play().expect("play");
        let started = Instant::now();
        while errors.load(Ordering::Relaxed) < 2 {
            assert!(started.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(i);
        drop(o);
    }
}
