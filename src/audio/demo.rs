//! The built-in demo input: a cpal custom host with one 8-input (up to 64) interface whose
//! inputs carry a little band (see `demo_synth`). It goes through cpal exactly like a real
//! device: the recorder builds an input stream on it and receives callbacks from its thread,
//! real-time paced, with frame-accurate capture timestamps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{
    Data, DeviceDescription, DeviceDescriptionBuilder, DeviceId, Error, ErrorKind,
    InputCallbackInfo, InputStreamTimestamp, OutputCallbackInfo, SampleFormat, StreamConfig,
    StreamInstant, SupportedBufferSize, SupportedStreamConfig, SupportedStreamConfigRange,
};

use super::demo_synth::DemoSynth;

pub const DEVICE_ID: &str = "demo";
pub const DEFAULT_CHANNELS: u16 = 8;
pub const MAX_CHANNELS: u16 = 64;
pub const DEFAULT_RATE: u32 = 48_000;
pub const RATES: [u32; 3] = [44_100, 48_000, 96_000];
const FORMATS: [SampleFormat; 3] = [SampleFormat::F32, SampleFormat::I32, SampleFormat::I16];
const DEFAULT_PERIOD: u32 = 512;
const MIN_PERIOD: u32 = 16;
const MAX_PERIOD: u32 = 8192;

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
    /// measurements, with `pace` to keep from overfilling the ring).
    pub paced: bool,
    pub pace: Option<Pace>,
    pub seed: u64,
    /// Vanish like an unplugged interface after this many frames (`demo --unplug-after`).
    pub unplug_after_frames: Option<u64>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            paced: true,
            pace: None,
            seed: 0x7a9e_dec4,
            unplug_after_frames: None,
        }
    }
}

#[derive(Clone)]
pub struct DemoHost {
    options: DemoOptions,
}

impl DemoHost {
    pub fn new(options: DemoOptions) -> Self {
        Self { options }
    }

    /// The demo host as a cpal host.
    pub fn into_cpal(self) -> cpal::Host {
        cpal::Host::from(cpal::platform::CustomHost::from_host(self))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DemoDevice {
    options_paced: bool,
    pace: Option<Pace>,
    seed: u64,
    unplug_after_frames: Option<u64>,
}

impl std::fmt::Display for DemoDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tapedeck demo input")
    }
}

impl HostTrait for DemoHost {
    type Device = DemoDevice;
    type Devices = std::iter::Once<DemoDevice>;

    fn is_available() -> bool {
        true
    }

    fn devices(&self) -> Result<Self::Devices, Error> {
        Ok(std::iter::once(self.device()))
    }

    fn default_input_device(&self) -> Option<Self::Device> {
        Some(self.device())
    }

    fn default_output_device(&self) -> Option<Self::Device> {
        None
    }
}

impl DemoHost {
    fn device(&self) -> DemoDevice {
        DemoDevice {
            options_paced: self.options.paced,
            pace: self.options.pace.clone(),
            seed: self.options.seed,
            unplug_after_frames: self.options.unplug_after_frames,
        }
    }
}

fn ranges() -> impl Iterator<Item = SupportedStreamConfigRange> + Clone {
    FORMATS.into_iter().flat_map(|f| {
        RATES.into_iter().flat_map(move |r| {
            (1..=MAX_CHANNELS).map(move |c| {
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

impl DeviceTrait for DemoDevice {
    type SupportedInputConfigs = DemoConfigs;
    type SupportedOutputConfigs = std::iter::Empty<SupportedStreamConfigRange>;
    type Stream = DemoStream;

    fn description(&self) -> Result<DeviceDescription, Error> {
        Ok(DeviceDescriptionBuilder::new("tapedeck demo input").build())
    }

    fn id(&self) -> Result<DeviceId, Error> {
        Ok(DeviceId::new(cpal::HostId::Custom, DEVICE_ID))
    }

    fn supports_input(&self) -> bool {
        true
    }

    fn supports_output(&self) -> bool {
        false
    }

    fn supported_input_configs(&self) -> Result<Self::SupportedInputConfigs, Error> {
        Ok(Box::new(ranges()))
    }

    fn supported_output_configs(&self) -> Result<Self::SupportedOutputConfigs, Error> {
        Ok(std::iter::empty())
    }

    fn default_input_config(&self) -> Result<SupportedStreamConfig, Error> {
        Ok(SupportedStreamConfig::new(
            DEFAULT_CHANNELS,
            DEFAULT_RATE,
            SupportedBufferSize::Range {
                min: MIN_PERIOD,
                max: MAX_PERIOD,
            },
            SampleFormat::F32,
        ))
    }

    fn default_output_config(&self) -> Result<SupportedStreamConfig, Error> {
        Err(Error::new(ErrorKind::UnsupportedOperation))
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
        if channels == 0
            || channels > MAX_CHANNELS
            || !RATES.contains(&rate)
            || !FORMATS.contains(&sample_format)
        {
            return Err(Error::new(ErrorKind::UnsupportedConfig));
        }
        let period = match config.buffer_size {
            cpal::BufferSize::Fixed(n) if (MIN_PERIOD..=MAX_PERIOD).contains(&n) => n,
            cpal::BufferSize::Fixed(_) => return Err(Error::new(ErrorKind::UnsupportedConfig)),
            cpal::BufferSize::Default => DEFAULT_PERIOD,
        };
        let controls = Arc::new(Controls {
            exit: AtomicBool::new(false),
            playing: AtomicBool::new(false),
        });
        let start = Instant::now();
        let synth = DemoSynth::new(usize::from(channels), rate, self.seed);
        let worker = Worker {
            controls: Arc::clone(&controls),
            synth,
            rate,
            period,
            format: sample_format,
            paced: self.options_paced,
            pace: self.pace.clone(),
            start,
            unplug_after_frames: self.unplug_after_frames,
        };
        let handle = std::thread::Builder::new()
            .name("tapedeck-demo-input".into())
            .spawn(move || worker.run(data_callback, error_callback))
            .map_err(|e| Error::with_message(ErrorKind::BackendError, e.to_string()))?;
        Ok(DemoStream {
            controls,
            start,
            period,
            handle: Some(handle),
        })
    }

    fn build_output_stream_raw<D, E>(
        &self,
        _: StreamConfig,
        _: SampleFormat,
        _: D,
        _: E,
        _: Option<Duration>,
    ) -> Result<Self::Stream, Error>
    where
        D: FnMut(&mut Data, &OutputCallbackInfo) + Send + 'static,
        E: FnMut(Error) + Send + 'static,
    {
        Err(Error::new(ErrorKind::UnsupportedOperation))
    }
}

struct Controls {
    exit: AtomicBool,
    playing: AtomicBool,
}

struct Worker {
    controls: Arc<Controls>,
    synth: DemoSynth,
    rate: u32,
    period: u32,
    format: SampleFormat,
    paced: bool,
    pace: Option<Pace>,
    start: Instant,
    unplug_after_frames: Option<u64>,
}

impl Worker {
    fn run<D, E>(mut self, mut callback: D, mut on_error: E)
    where
        D: FnMut(&Data, &InputCallbackInfo),
        E: FnMut(Error),
    {
        let ch = self.synth.channels();
        let n = self.period as usize * ch;
        // Paced, every period is synthesised as it is due. Unpaced, the device repeats its
        // first [`unpaced_loop_frames`] frames, synthesised and converted once, and hands out
        // each period straight from that loop: what is measured is the recorder, not the
        // synthesiser.
        let loop_frames = if self.paced {
            self.period as usize
        } else {
            unpaced_loop_frames(self.rate, self.period)
        };
        // Only the buffer of the format delivered is used; the others stay empty.
        let len_for = |format| {
            if self.format == format {
                loop_frames * ch
            } else {
                0
            }
        };
        let mut f = vec![0f32; loop_frames * ch];
        let mut i32s = vec![0i32; len_for(SampleFormat::I32)];
        let mut i16s = vec![0i16; len_for(SampleFormat::I16)];
        if !self.paced {
            self.synth.render(&mut f);
            convert_period(&f, &mut i32s, &mut i16s);
        }
        let mut frames: u64 = 0;
        // The clock starts with the first played period, as a real interface's does.
        let mut clock_start: Option<Instant> = None;
        while !self.controls.exit.load(Ordering::Acquire) {
            if !self.controls.playing.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            let t0 = *clock_start.get_or_insert_with(Instant::now);
            let period_end = frames + u64::from(self.period);
            if self.unplug_after_frames.is_some_and(|n| frames >= n) {
                // What a host reports when a USB interface is pulled: the stream is over.
                on_error(Error::new(ErrorKind::DeviceNotAvailable));
                return;
            }
            if self.paced {
                // A period is delivered once it has been "captured", like a real interface.
                let due =
                    t0 + Duration::from_nanos(period_end * 1_000_000_000 / u64::from(self.rate));
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            } else if let Some(pace) = &self.pace {
                // As fast as the recorder takes it: wait while its ring is over half full.
                while pace.ahead(period_end) && !self.controls.exit.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            if self.paced {
                self.synth.render(&mut f);
                convert_period(&f, &mut i32s, &mut i16s);
            }
            // Where this period starts in the buffers: always 0 when paced.
            let at = (frames % loop_frames as u64) as usize * ch;
            let capture = StreamInstant::from_nanos(
                (t0.duration_since(self.start).as_nanos() as u64)
                    + frames * 1_000_000_000 / u64::from(self.rate),
            );
            let callback_at = StreamInstant::from_nanos(self.start.elapsed().as_nanos() as u64);
            let info = InputCallbackInfo::new(InputStreamTimestamp {
                callback: callback_at,
                capture,
            });
            // SAFETY: each pointer is to `n` live, initialised samples of the stated format
            // inside a buffer (`loop_frames` is a whole number of periods, so a period never
            // runs past its end), and the buffer outlives the callback call that borrows it.
            let data = unsafe {
                match self.format {
                    SampleFormat::I32 => {
                        Data::from_parts(i32s.as_mut_ptr().add(at).cast(), n, SampleFormat::I32)
                    }
                    SampleFormat::I16 => {
                        Data::from_parts(i16s.as_mut_ptr().add(at).cast(), n, SampleFormat::I16)
                    }
                    _ => Data::from_parts(f.as_mut_ptr().add(at).cast(), n, SampleFormat::F32),
                }
            };
            callback(&data, &info);
            frames = period_end;
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

pub struct DemoStream {
    controls: Arc<Controls>,
    start: Instant,
    period: u32,
    handle: Option<JoinHandle<()>>,
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

    fn now(&self) -> StreamInstant {
        StreamInstant::from_nanos(self.start.elapsed().as_nanos() as u64)
    }

    fn buffer_size(&self) -> Result<cpal::FrameCount, Error> {
        Ok(self.period)
    }
}

impl Drop for DemoStream {
    fn drop(&mut self) {
        self.controls.exit.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
