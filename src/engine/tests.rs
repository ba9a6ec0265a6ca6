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
        keep: KeepConfig::default(),
        kept: None,
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

// -------------------------------------------------------------------------------------------
// The kept past: pre-roll, keep-last and the trigger, bit-exact through the real writer.

/// A counter no take can mistake: frame k of input c.
fn counter(k: usize, c: usize) -> f32 {
    (k + 1) as f32 / 16_777_216.0 * if c == 0 { 1.0 } else { -1.0 }
}

struct Rig {
    engine: Engine,
    capture: Capture,
    taken: Arc<std::sync::atomic::AtomicU64>,
    _root: tempfile::TempDir,
    /// Periods delivered so far.
    periods: usize,
}

impl Rig {
    fn start(keep: KeepConfig, armed: [bool; 2]) -> Self {
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
        let session = Session::open(root.path(), "K", init, now()).expect("session");
        let mut tracks = Track::every_input(2);
        for (t, a) in tracks.iter_mut().zip(armed) {
            t.armed = a;
        }
        let (capture, output, shared) = Capture::new(
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
            keep,
            kept: None,
        };
        let engine =
            Engine::start(config, session, output, shared, Box::new(())).expect("engine starts");
        Self {
            engine,
            capture,
            taken,
            _root: root,
            periods: 0,
        }
    }

    /// Delivers `n` periods of `value(frame, input)`, as a device would, stamped at their
    /// place on the stream; `skip` periods are left out before them (a dropout).
    fn play(&mut self, n: usize, skip: usize, value: impl Fn(usize, usize) -> f32) {
        let mut skip = skip;
        for _ in 0..n {
            let delivered = self.periods * PERIOD;
            wait_for("the writer to take the ring", || {
                let done = self.taken.load(std::sync::atomic::Ordering::Relaxed) as usize;
                delivered.saturating_sub(done) + PERIOD <= RING / 2
            });
            self.periods += std::mem::take(&mut skip);
            let p = self.periods;
            let block: Vec<f32> = (p * PERIOD..(p + 1) * PERIOD)
                .flat_map(|k| [value(k, 0), value(k, 1)])
                .collect();
            let ns = (p * PERIOD) as u64 * 1_000_000_000 / u64::from(RATE);
            self.capture.on_block(
                &block,
                Stamp::Host {
                    capture_ns: Some(ns),
                    callback_ns: Some(ns),
                },
            );
            self.periods += 1;
        }
    }

    /// Waits until the writer has taken everything delivered.
    fn settle(&self) {
        let want = (self.periods * PERIOD) as u64;
        wait_for("the writer to take everything", || {
            self.taken.load(std::sync::atomic::Ordering::Relaxed) >= want
        });
    }

    fn next_take(&self) -> Result<TakeSummary, String> {
        loop {
            match self.engine.events().recv_timeout(Duration::from_secs(10)) {
                Ok(Event::TakeFinished(s)) => return Ok(s),
                Ok(Event::TakeRefused(why)) => return Err(why),
                Ok(_) => {}
                Err(e) => panic!("no end of take: {e}"),
            }
        }
    }

    /// Shuts down; the manifest's entry of take `number` and each file's samples.
    fn finish(self, number: u32) -> (crate::session::manifest::TakeRecord, Vec<Vec<f32>>) {
        let session = self.engine.shutdown(EndReason::Stopped).expect("shutdown");
        let take = session
            .manifest()
            .takes
            .iter()
            .find(|t| t.number == number)
            .expect("the take is in the manifest")
            .clone();
        let files = take
            .tracks
            .iter()
            .map(|t| {
                hound::WavReader::open(session.dir().join(&t.file))
                    .expect("hound opens the file")
                    .samples::<f32>()
                    .map(|s| s.expect("sample"))
                    .collect()
            })
            .collect();
        (take, files)
    }
}

fn want(range: std::ops::Range<usize>, c: usize, value: impl Fn(usize, usize) -> f32) -> Vec<f32> {
    range.map(|k| value(k, c)).collect()
}

#[test]
fn keep_last_makes_a_take_of_exactly_the_last_frames_of_every_input_armed_after_the_fact() {
    let keep = KeepConfig {
        keep_frames: 3000,
        ..KeepConfig::default()
    };
    // Only input 1 is armed while it plays; input 2 is armed afterwards and still has its past.
    let mut rig = Rig::start(keep, [true, false]);
    rig.play(20, 0, counter);
    rig.settle();
    rig.engine.send(Command::SetArmed {
        track: 2,
        armed: true,
    });
    rig.engine.send(Command::KeepLast { frames: Some(2000) });
    let s = rig.next_take().expect("a take of the kept past");
    assert_eq!(s.frames, 2000);
    // All that is kept: --keep.
    rig.engine.send(Command::KeepLast { frames: None });
    let all = rig.next_take().expect("a take of all that is kept");
    assert_eq!(all.frames, 3000);
    let (take, files) = rig.finish(1);
    let end = 20 * PERIOD;
    assert_eq!(take.start_frame, (end - 2000) as u64);
    assert_eq!(take.pressed_frame, Some(end as u64));
    assert_eq!(take.pre_roll_frames, Some(2000));
    assert_eq!(
        take.started_by,
        Some(crate::session::manifest::StartedBy::KeepLast)
    );
    assert_eq!(files.len(), 2);
    for (c, got) in files.iter().enumerate() {
        assert!(
            *got == want(end - 2000..end, c, counter),
            "input {c} is not the last 2000 frames"
        );
    }
}

#[test]
fn a_take_of_a_long_past_keeps_its_level_report() {
    // Five seconds of the past are written from memory much faster than real time: more
    // than the level measurement's queue holds (QUEUE_SECONDS), so the writer must hand them
    // over no faster than it measures.
    let frames = 5 * RATE as usize;
    let keep = KeepConfig {
        keep_frames: frames as u64,
        ..KeepConfig::default()
    };
    let mut rig = Rig::start(keep, [true, true]);
    rig.play(frames / PERIOD, 0, counter);
    rig.settle();
    rig.engine.send(Command::KeepLast { frames: None });
    let s = rig.next_take().expect("a take of the kept past");
    assert_eq!(s.frames, frames as u64);
    assert_eq!(s.tracks.len(), 2);
    for t in &s.tracks {
        assert!(t.levels.is_some(), "{} has no level report", t.file);
    }
    let (_, files) = rig.finish(1);
    for (c, got) in files.iter().enumerate() {
        assert!(*got == want(0..frames, c, counter), "input {c}");
    }
}

#[test]
fn keep_last_is_refused_while_a_take_records_and_when_nothing_is_kept() {
    let mut rig = Rig::start(KeepConfig::default(), [true, true]);
    rig.play(2, 0, counter);
    rig.settle();
    rig.engine.send(Command::KeepLast { frames: None });
    let why = rig.next_take().expect_err("nothing is kept");
    assert!(why.contains("--keep"), "{why}");
    let rig = Rig::start(
        KeepConfig {
            keep_frames: 3000,
            ..KeepConfig::default()
        },
        [true, true],
    );
    rig.engine.send(Command::Record { max_frames: None });
    wait_for("the take to start", || {
        matches!(rig.engine.snapshot().transport, Transport::Recording { .. })
    });
    rig.engine.send(Command::KeepLast { frames: None });
    let why = rig.next_take().expect_err("refused while recording");
    assert!(why.contains("stop first"), "{why}");
}

#[test]
fn a_pre_roll_starts_the_take_before_record_bit_exact_and_counts_its_length_from_the_press() {
    let keep = KeepConfig {
        pre_roll_frames: 1000,
        ..KeepConfig::default()
    };
    let mut rig = Rig::start(keep, [true, true]);
    rig.play(10, 0, counter);
    rig.settle();
    let press = 10 * PERIOD;
    rig.engine.send(Command::Record {
        max_frames: Some(960),
    });
    wait_for("the take to start", || {
        matches!(rig.engine.snapshot().transport, Transport::Recording { .. })
    });
    rig.play(4, 0, counter);
    let s = rig.next_take().expect("the take");
    assert_eq!(s.frames, 1960);
    let (take, files) = rig.finish(1);
    assert_eq!(take.start_frame, (press - 1000) as u64);
    assert_eq!(take.pressed_frame, Some(press as u64));
    assert_eq!(take.pre_roll_frames, Some(1000));
    for (c, got) in files.iter().enumerate() {
        assert!(
            *got == want(press - 1000..press + 960, c, counter),
            "input {c} is not the counter from the pre-roll on"
        );
    }
}

#[test]
fn a_dropout_inside_the_kept_past_shortens_the_pre_roll_and_the_manifest_says_so() {
    let keep = KeepConfig {
        pre_roll_frames: 1000,
        ..KeepConfig::default()
    };
    let mut rig = Rig::start(keep, [true, true]);
    rig.play(10, 0, counter);
    // Two periods never arrive; one more does after them.
    rig.play(1, 2, counter);
    rig.settle();
    let press = 13 * PERIOD;
    rig.engine.send(Command::Record {
        max_frames: Some(480),
    });
    wait_for("the take to start", || {
        matches!(rig.engine.snapshot().transport, Transport::Recording { .. })
    });
    rig.play(2, 0, counter);
    rig.next_take().expect("the take");
    let (take, files) = rig.finish(1);
    // Only what followed the dropout: one period.
    assert_eq!(take.pre_roll_frames, Some(PERIOD as u64));
    assert_eq!(take.start_frame, (press - PERIOD) as u64);
    assert!(take.dropouts.is_empty(), "{:?}", take.dropouts);
    assert!(files[0] == want(press - PERIOD..press + 480, 0, counter));
}

#[test]
fn the_trigger_starts_a_take_at_the_crossing_less_the_pre_roll_and_ends_it_after_the_silence() {
    let keep = KeepConfig {
        pre_roll_frames: 500,
        trigger: Some(super::TriggerConfig {
            level_dbfs: -20.0,
            silence_frames: 1000,
        }),
        ..KeepConfig::default()
    };
    // Quiet (a counter far below -20 dBFS), loud on input 2 for frames 5000..5300, quiet.
    let loud = 5000..5300;
    let value = move |k: usize, c: usize| {
        if c == 1 && loud.contains(&k) {
            0.5 + counter(k, 0)
        } else {
            counter(k, c)
        }
    };
    let mut rig = Rig::start(keep, [true, true]);
    rig.play(10, 0, &value);
    rig.settle();
    assert_eq!(rig.engine.snapshot().trigger, TriggerView::Waiting);
    rig.play(6, 0, &value);
    let s = rig.next_take().expect("the triggered take");
    rig.play(10, 0, &value);
    rig.settle();
    // Quiet ever since: no other take.
    assert!(
        !matches!(rig.engine.snapshot().transport, Transport::Recording { .. }),
        "a second take started"
    );
    assert_eq!(s.frames, 6300 - 4500);
    let (take, files) = rig.finish(1);
    assert_eq!(take.start_frame, 4500);
    assert_eq!(take.pressed_frame, Some(5000));
    assert_eq!(take.pre_roll_frames, Some(500));
    assert_eq!(take.end_reason, Some(EndReason::Silence));
    assert_eq!(take.trigger.as_ref().map(|t| t.crossing_frame), Some(5000));
    for (c, got) in files.iter().enumerate() {
        assert!(*got == want(4500..6300, c, &value), "input {c}");
    }
}

#[test]
fn the_trigger_leaves_a_take_started_by_hand_alone() {
    let keep = KeepConfig {
        pre_roll_frames: 0,
        trigger: Some(super::TriggerConfig {
            level_dbfs: -20.0,
            silence_frames: 500,
        }),
        ..KeepConfig::default()
    };
    // Loud for frames 1000..1200, quiet before and after.
    let value = |k: usize, c: usize| {
        if (1000..1200).contains(&k) {
            0.5
        } else {
            counter(k, c)
        }
    };
    let mut rig = Rig::start(keep, [true, true]);
    rig.engine.send(Command::Record { max_frames: None });
    wait_for("the take to start", || {
        matches!(rig.engine.snapshot().transport, Transport::Recording { .. })
    });
    rig.play(10, 0, value);
    rig.settle();
    // The loud passage and its silence went by: the take by hand records on, and no other
    // started.
    assert!(matches!(
        rig.engine.snapshot().transport,
        Transport::Recording { take: 1, .. }
    ));
    assert_eq!(rig.engine.snapshot().trigger, TriggerView::Waiting);
    rig.engine.send(Command::Stop {
        reason: EndReason::Stopped,
    });
    let s = rig.next_take().expect("the take by hand");
    assert_eq!(s.reason, EndReason::Stopped);
    let (take, _) = rig.finish(1);
    assert_eq!(
        take.started_by,
        Some(crate::session::manifest::StartedBy::Record)
    );
    assert!(take.trigger.is_none());
}
