//! The engine end to end without a device: a capture fed from the test thread, the writer
//! thread, and WAV files in a temporary session.

use std::time::{Duration, Instant};

use super::*;
use crate::capture::{Capture, Stamp, TimestampTrust};
use crate::format::{DeviceFormat, FileFormat};
use crate::session::manifest::DeviceRecord;
use crate::session::{SessionInit, now};

const RATE: u32 = 48_000;
const PERIOD: usize = 480;
/// Small, so that the writer's reads wrap around the ring's end.
const RING: usize = 2048;

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < until, "waited 10 s for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_engine_records_what_the_callback_stored_and_meters_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let taken = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let device = DeviceRecord {
        host: "demo".into(),
        id: "custom:demo".into(),
        name: "test input".into(),
        sample_rate: RATE,
        sample_format: "f32".into(),
        channels: 2,
        buffer_frames: Some(PERIOD as u32),
    };
    let init = SessionInit {
        sample_rate: RATE,
        format: "f32".into(),
        device: device.clone(),
        tracks: vec![],
    };
    let session = Session::open(root.path(), "E", init, now()).expect("session");
    let tracks = Track::every_input(2);
    let (mut capture, output, shared) = Capture::new(
        2,
        RATE,
        RING,
        TimestampTrust::Exact {
            whole_periods: false,
        },
    );
    let config = EngineConfig {
        recorder: RecorderConfig {
            device,
            device_format: DeviceFormat::F32,
            file_format: FileFormat::F32,
            tracks,
            min_free_seconds: 0,
            warn_free_seconds: 0,
        },
        ring_frames: RING,
        sync_interval: None,
        split_every: None,
        taken: Some(Arc::clone(&taken)),
        song: super::SongSetup {
            player: None,
            fix: super::RoundTripFix::default(),
            loop_probe: None,
            from: 0,
            monitor: None,
            monitor_tracks: Vec::new(),
        },
    };
    let engine =
        Engine::start(config, session, output, shared, Box::new(())).expect("engine starts");
    engine.send(Command::Record { max_frames: None });
    wait_for("the take to start", || {
        matches!(engine.snapshot().transport, Transport::Recording { .. })
    });
    // 50 periods of a counter, input 1 at half the level of input 0, as a device would
    // deliver them.
    let value = |k: usize, c: usize| (k + 1) as f32 / 65_536.0 / (c + 1) as f32;
    for p in 0..50 {
        // Never more than half the ring ahead of the writer: nothing overflows.
        wait_for("the writer to take the ring", || {
            let behind = (p * PERIOD) as u64 - taken.load(std::sync::atomic::Ordering::Relaxed);
            behind as usize + PERIOD <= RING / 2
        });
        let block: Vec<f32> = (p * PERIOD..(p + 1) * PERIOD)
            .flat_map(|k| [value(k, 0), value(k, 1)])
            .collect();
        let ns = (p * PERIOD) as u64 * 1_000_000_000 / u64::from(RATE);
        capture.on_block(
            &block,
            Stamp::Host {
                capture_ns: Some(ns),
                callback_ns: Some(ns),
            },
        );
    }
    let loudest = value(50 * PERIOD - 1, 0);
    wait_for("the meters", || {
        engine.snapshot().inputs.first().map(|m| m.hold) == Some(loudest)
    });
    assert_eq!(engine.snapshot().inputs[1].hold, loudest / 2.0);
    engine.send(Command::Stop {
        reason: EndReason::Stopped,
    });
    let summary = loop {
        match engine.events().recv_timeout(Duration::from_secs(10)) {
            Ok(Event::TakeFinished(s)) => break s,
            Ok(_) => {}
            Err(e) => panic!("no end of take: {e}"),
        }
    };
    assert_eq!(summary.frames, (50 * PERIOD) as u64);
    let session = engine.shutdown(EndReason::Stopped).expect("shutdown");
    for (c, file) in summary.files.iter().enumerate() {
        let got: Vec<f32> = hound::WavReader::open(session.dir().join(file))
            .expect("hound opens the file")
            .samples::<f32>()
            .map(|s| s.expect("sample"))
            .collect();
        let want: Vec<f32> = (0..50 * PERIOD).map(|k| value(k, c)).collect();
        assert!(got == want, "{file} is not what the callback stored");
    }
}
