//! `tapedeck calibrate`: with a cable from an output to an input, measures what the host does
//! not report of the round trip and keeps it for that pair of devices.
//!
//! It runs the real overdub path: the test signal is imported into a scratch session and
//! overdubbed onto the input the cable reaches, `calibrate::REPEATS` times, each with a fresh
//! pair of streams and no stored correction applied. Each take is thus already placed with
//! the reported round trip; what the correlation still finds is the correction.

use std::path::{Path, PathBuf};

use super::plan::{FrontEnd, OutputPlan, RecordPlan, TrackSpec};
use crate::audio::{HostKind, demo};
use crate::calibrate::{self, DeviceKey, Outcome, Store, StoredCorrection, TestSignal};
use crate::error::Error;
use crate::format::{DeviceFormat, FileFormat};
use crate::session::import::{self, ImportFile};
use crate::session::manifest::{FILE_NAME, Manifest};
use crate::song_time::SongTime;
use crate::wav::probe;

/// What `tapedeck calibrate` was asked.
pub(crate) struct CalibrateArgs {
    pub(crate) host: HostKind,
    pub(crate) device: Option<String>,
    pub(crate) output: Option<String>,
    /// The 1-based input the cable reaches.
    pub(crate) input: u16,
    pub(crate) channels: Option<u16>,
    pub(crate) rate: Option<u32>,
    pub(crate) buffer: Option<u32>,
    pub(crate) device_format: Option<DeviceFormat>,
    pub(crate) connect_output: Vec<String>,
    pub(crate) connect_input: Vec<String>,
    pub(crate) separate_clocks: bool,
    /// Measure and say, but keep nothing.
    pub(crate) dry_run: bool,
}

/// A scratch folder removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch() -> Result<Scratch, Error> {
    let dir = std::env::temp_dir().join(format!("tapedeck-calibrate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("cannot make {}", dir.display()), e))?;
    Ok(Scratch(dir))
}

/// Writes the test signal as a float WAV.
fn write_signal(path: &Path, samples: &[f32], rate: u32) -> Result<(), Error> {
    let mut w = crate::wav::WavWriter::create(path, FileFormat::F32, rate)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    w.write_bytes(&bytes)
        .and_then(|()| w.update_header())
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// A mono take's samples as floats.
fn read_take(path: &Path) -> Result<Vec<f32>, Error> {
    let info = probe::probe(path).map_err(|e| Error::Runtime(e.to_string()))?;
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let start = usize::try_from(info.data_offset).unwrap_or(usize::MAX);
    let data = bytes.get(start..).unwrap_or(&[]);
    let bps = info.format.bytes_per_sample();
    let step = bps * usize::from(info.channels.max(1));
    Ok(data
        .chunks_exact(step)
        .take(usize::try_from(info.frames).unwrap_or(usize::MAX))
        .map(|f| crate::playback::decode(info.format, f))
        .collect())
}

pub(crate) fn run(a: CalibrateArgs) -> Result<i32, Error> {
    let rate = match a.rate {
        Some(r) => r,
        // The input's own rate (a JACK server's, an interface's default).
        None => {
            let host = crate::audio::open_host(a.host, demo::DemoOptions::default())?;
            let device = crate::audio::find_device(a.host, &host, a.device.as_deref())?;
            let request = crate::audio::StreamRequest {
                channels: None,
                sample_rate: None,
                format: a.device_format,
                buffer: a.buffer,
            };
            crate::audio::choose_config(a.host, &device, &request, FileFormat::F32)?.sample_rate
        }
    };
    let signal = TestSignal::new(rate);
    let dir = scratch()?;
    let wav = dir.0.join("calibration-signal.wav");
    write_signal(&wav, signal.samples(), rate)?;
    // The demo's cable comes back on its loopback inputs: a stream of the two alone.
    let (device, channels) = match (a.host, &a.device) {
        (HostKind::Demo, None) => (
            Some(demo::LOOPBACK_DEVICE_ID.to_string()),
            Some(a.channels.unwrap_or(demo::LOOPBACK_CHANNELS)),
        ),
        _ => (a.device.clone(), a.channels),
    };
    let plan = RecordPlan {
        host: a.host,
        device,
        demo: demo::DemoOptions::default(),
        request: crate::audio::StreamRequest {
            channels,
            sample_rate: Some(rate),
            format: a.device_format,
            buffer: a.buffer,
        },
        file_format: FileFormat::F32,
        tracks: vec![TrackSpec {
            input: a.input,
            name: Some("Return".into()),
            role: None,
        }],
        session: String::new(),
        root: dir.0.clone(),
        create_root: false,
        duration: Some(std::time::Duration::from_secs_f64(
            signal.samples().len() as f64 / f64::from(rate),
        )),
        min_free_seconds: 0,
        warn_free_seconds: 0,
        ring_seconds: 4.0,
        sync_interval: None,
        split_every: None,
        front: FrontEnd::Quiet,
        output: match &a.output {
            Some(id) => OutputPlan::Device(id.clone()),
            None => OutputPlan::Default { required: true },
        },
        overdub: true,
        from: None,
        connect_output: a.connect_output.clone(),
        connect_input: a.connect_input.clone(),
        separate_clocks: a.separate_clocks,
        calibrating: true,
        monitor: Vec::new(),
        on_take_end: Vec::new(),
        control: Default::default(),
        keep: Default::default(),
    };
    let mut captures = Vec::new();
    let mut latency = None;
    let mut session_dir = dir.0.clone();
    for i in 1..=calibrate::REPEATS {
        // A session of its own each time: what one repeat recorded must not play in the next.
        let session = format!("calibration-{i}");
        import::import(
            &dir.0,
            &session,
            &[ImportFile {
                source: wav.clone(),
                name: "Signal".into(),
            }],
            SongTime::ZERO,
            crate::session::now,
        )?;
        session_dir = dir.0.join(&session);
        let plan = RecordPlan {
            session,
            ..plan.clone()
        };
        eprintln!(
            "tapedeck: playing the test signal ({} of {}), {:.1} s",
            i,
            calibrate::REPEATS,
            signal.samples().len() as f64 / f64::from(rate)
        );
        let code = super::record::run(plan.clone())?;
        let m = Manifest::load(&session_dir.join(FILE_NAME))
            .map_err(|e| Error::Runtime(e.to_string()))?;
        let take = m
            .takes
            .last()
            .filter(|t| t.number > 1 && t.tracks.len() == 1)
            .ok_or_else(|| {
                Error::Runtime(format!(
                    "the overdub did not record (exit status {code}); check the input and output with `tapedeck devices`"
                ))
            })?;
        latency = take.latency.clone();
        captures.push(read_take(&session_dir.join(&take.tracks[0].file))?);
    }
    // ALSA stamps its streams through the system clock: repeats agree to a few frames, not
    // to one (0.2 ms is allowed, and said).
    let max_spread = match a.host {
        HostKind::Alsa | HostKind::PipeWire => u64::from(rate) / 5000,
        HostKind::Jack | HostKind::Demo => calibrate::verdict::MAX_SPREAD_FRAMES,
    };
    let verdict = calibrate::analyse_within(&signal, &captures, max_spread);
    let lags: Vec<String> = verdict
        .repeats
        .iter()
        .map(|c| format!("{:+}", c.lag))
        .collect();
    let Some(applied) = latency else {
        return Err(Error::Runtime(
            "the takes were not placed as overdubs; nothing to calibrate".into(),
        ));
    };
    let reported = applied.applied_frames;
    match verdict.outcome {
        Outcome::Correction {
            frames, confidence, ..
        } => {
            let ms = |f: i64| f as f64 * 1000.0 / f64::from(rate);
            println!(
                "round trip {} frames ({:.2} ms) = {} reported ({}) {} {} measured",
                reported + frames,
                ms(reported + frames),
                reported,
                applied.reported_by,
                if frames < 0 { "-" } else { "+" },
                frames.unsigned_abs()
            );
            if a.host == HostKind::Alsa {
                println!(
                    "the repeats measured {} frames: ALSA's timestamps are approximate, so overdubs on ALSA land within about that spread",
                    lags.join(", ")
                );
            }
            if a.dry_run {
                println!("not kept (--dry-run)");
                return Ok(0);
            }
            let input_id = take_input_id(&session_dir)?;
            let key = DeviceKey {
                host: a.host.name().to_string(),
                output: output_id(&a)?,
                input: input_id,
                sample_rate: rate,
                buffer_frames: a.buffer,
            };
            let store = Store::from_env()?;
            store.save(StoredCorrection::new(
                key,
                frames,
                u64::try_from(reported).unwrap_or(0),
                confidence,
            ))?;
            println!(
                "kept in {}: overdubs on these devices at {rate} Hz{} are moved by {frames} frames",
                store.path().display(),
                a.buffer.map_or(String::new(), |b| format!(", buffer {b}"))
            );
            Ok(0)
        }
        _ => {
            eprintln!("tapedeck: {verdict}");
            Ok(crate::error::EXIT_RUNTIME)
        }
    }
}

/// The input device the takes were recorded from, as the manifest names it.
fn take_input_id(session_dir: &Path) -> Result<String, Error> {
    let m =
        Manifest::load(&session_dir.join(FILE_NAME)).map_err(|e| Error::Runtime(e.to_string()))?;
    Ok(m.device.id)
}

/// The output the song played on, found the way `record` finds it.
fn output_id(a: &CalibrateArgs) -> Result<String, Error> {
    let host = crate::audio::open_host(a.host, demo::DemoOptions::default())?;
    let device = crate::audio::find_output_device(a.host, &host, a.output.as_deref())?
        .ok_or_else(|| Error::usage("the host has no default output; name one with --output"))?;
    Ok(crate::audio::id_of(&device))
}
