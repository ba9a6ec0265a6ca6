//! The recording core driven by calls: take boundaries at chosen frames, gaps on every side of
//! them, arming mid-take, a disk that fills at a chosen byte, the drain timeout. Takes go to
//! memory; the journal is a real session in a temporary folder.

use std::time::Duration;

use super::*;
use crate::capture::{Gap, GapCause};
use crate::engine::clock::TestClock;
use crate::engine::sink::{MemoryFile, MemorySink};
use crate::session::manifest::{Manifest, TakeState};
use crate::session::{SessionInit, now};

const RATE: u32 = 48_000;
const INPUTS: usize = 2;

/// What the device delivered at stream frame `k` on input `c`: exact in f32, never zero.
fn sample(k: u64, c: usize) -> f32 {
    (k * INPUTS as u64 + c as u64 + 1) as f32 / 1_048_576.0
}

struct Rig {
    rec: Recorder<MemorySink, TestClock>,
    sink: MemorySink,
    clock: TestClock,
    _root: tempfile::TempDir,
    dir: std::path::PathBuf,
    events: Vec<Event>,
}

fn device() -> DeviceRecord {
    DeviceRecord {
        host: "demo".into(),
        id: "custom:demo".into(),
        name: "test input".into(),
        sample_rate: RATE,
        sample_format: "f32".into(),
        channels: INPUTS as u16,
        buffer_frames: None,
    }
}

fn rig() -> Rig {
    let root = tempfile::tempdir().expect("tempdir");
    let tracks = Track::every_input(INPUTS as u16);
    let init = SessionInit {
        sample_rate: RATE,
        format: "f32".into(),
        device: device(),
        tracks: vec![],
    };
    let session = Session::open(root.path(), "S", init, now()).expect("session");
    let dir = session.dir().to_path_buf();
    let sink = MemorySink::default();
    sink.set_free(Some(u64::MAX / 2));
    let clock = TestClock::new();
    let cfg = RecorderConfig {
        device: device(),
        device_format: DeviceFormat::F32,
        file_format: FileFormat::F32,
        tracks,
        min_free_seconds: 60,
        warn_free_seconds: 600,
    };
    Rig {
        rec: Recorder::new(cfg, session, sink.clone(), clock.clone()),
        sink,
        clock,
        _root: root,
        dir,
        events: Vec::new(),
    }
}

impl Rig {
    /// Feeds the device's frames `from..to` in chunks of `step` frames.
    fn feed(&mut self, from: u64, to: u64, step: u64) {
        let mut k = from;
        while k < to {
            let n = step.min(to - k);
            let mut words: Vec<u32> = (k..k + n)
                .flat_map(|f| (0..INPUTS).map(move |c| sample(f, c).to_bits()))
                .collect();
            self.rec.chunk(&mut words);
            k += n;
        }
        self.collect();
    }

    fn gap(&mut self, at_frame: u64, frames: u64) {
        self.rec.gap(Gap {
            at_frame,
            frames,
            cause: GapCause::DeviceXrun,
            exact: true,
        });
        self.collect();
    }

    fn cmd(&mut self, cmd: Command, live: u64) {
        self.rec.command(cmd, live);
        self.collect();
    }

    fn record(&mut self, max_frames: Option<u64>, live: u64) {
        self.cmd(Command::Record { max_frames }, live);
    }

    fn stop(&mut self, live: u64) {
        self.cmd(
            Command::Stop {
                reason: EndReason::Stopped,
            },
            live,
        );
    }

    fn tick_after(&mut self, d: Duration) {
        self.clock.advance(d);
        self.rec.tick();
        self.collect();
    }

    fn collect(&mut self) {
        self.events.extend(self.rec.take_events());
    }

    fn manifest(&self) -> Manifest {
        Manifest::load(&self.dir.join("session.json")).expect("manifest")
    }

    fn finished(&self) -> Vec<TakeSummary> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::TakeFinished(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    fn refusals(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::TakeRefused(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    fn warnings(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Warning(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }
}

fn samples(f: &MemoryFile) -> Vec<f32> {
    f.bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Input `c`'s samples at stream frames `from..to`.
fn delivered(c: usize, from: u64, to: u64) -> Vec<f32> {
    (from..to).map(|k| sample(k, c)).collect()
}

#[test]
fn a_take_holds_exactly_the_frames_from_its_start_to_its_stop_and_skips_the_backlog() {
    let mut r = rig();
    r.feed(0, 1000, 300);
    // The device is at frame 1500 when Record arrives: 1000..1500 are still in the ring and
    // belong before the take.
    r.record(None, 1500);
    assert!(matches!(r.events[0], Event::TakeStarted { take: 1, .. }));
    r.feed(1000, 2200, 300);
    r.stop(2500);
    assert!(
        r.finished().is_empty(),
        "frames up to the stop are on their way"
    );
    r.feed(2200, 3000, 300);
    let done = r.finished();
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].frames, done[0].reason), (1000, EndReason::Stopped));
    let files = r.sink.files();
    assert_eq!(files.len(), 2);
    for (c, f) in files.iter().enumerate() {
        assert!(f.finished);
        assert!(samples(f) == delivered(c, 1500, 2500), "input {c}");
    }
    let take = &r.manifest().takes[0];
    assert_eq!(take.state, TakeState::Complete);
    assert_eq!((take.start_frame, take.length_frames), (1500, 1000));
    assert_eq!(take.tracks[0].file, "take-001/01_In-1_T001.wav");
    assert_eq!(take.tracks[1].frames, 1000);
}

#[test]
fn a_timed_take_ends_at_exactly_its_length_whatever_the_chunks() {
    for step in [1, 64, 777, 4096, 10_000] {
        let mut r = rig();
        r.feed(0, 100, 100);
        r.record(Some(777), 100);
        r.feed(100, 3000, step);
        let done = r.finished();
        assert_eq!(done.len(), 1, "step {step}");
        assert_eq!((done[0].frames, done[0].reason), (777, EndReason::Duration));
        for (c, f) in r.sink.files().iter().enumerate() {
            assert!(
                samples(f) == delivered(c, 100, 877),
                "step {step}, input {c}"
            );
        }
    }
}

#[test]
fn a_gap_before_the_take_is_not_the_takes() {
    let mut r = rig();
    r.feed(0, 500, 500);
    // The take starts at 1000, where the device is; 500..1000, still on its way, was lost.
    r.record(None, 1000);
    r.gap(500, 500);
    r.feed(1000, 2000, 256);
    r.stop(2000);
    let take = &r.manifest().takes[0];
    assert_eq!(take.dropouts, []);
    assert_eq!((take.start_frame, take.length_frames), (1000, 1000));
    assert!(samples(&r.sink.files()[0]) == delivered(0, 1000, 2000));
}

#[test]
fn a_gap_across_the_start_fills_only_the_takes_part() {
    let mut r = rig();
    r.feed(0, 900, 900);
    // The take starts at 1000; the device lost 900..1200.
    r.record(None, 1000);
    r.gap(900, 300);
    r.feed(1200, 2000, 300);
    r.stop(2000);
    let take = &r.manifest().takes[0];
    assert_eq!(take.length_frames, 1000);
    assert_eq!(take.dropouts.len(), 1);
    let d = &take.dropouts[0];
    assert_eq!(
        (d.at_frame, d.frames, d.cause.as_str()),
        (0, 200, "device_xrun")
    );
    for (c, f) in r.sink.files().iter().enumerate() {
        let got = samples(f);
        assert_eq!(
            got[..200],
            [0.0; 200],
            "input {c}: the lost frames are silence"
        );
        assert!(got[200..] == delivered(c, 1200, 2000)[..], "input {c}");
    }
}

#[test]
fn a_gap_across_the_stop_fills_up_to_it_and_ends_the_take() {
    let mut r = rig();
    r.record(None, 0);
    r.feed(0, 800, 400);
    r.stop(1000);
    r.gap(800, 400);
    let done = r.finished();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].frames, 1000);
    let take = &r.manifest().takes[0];
    assert_eq!(
        (take.dropouts[0].at_frame, take.dropouts[0].frames),
        (800, 200)
    );
    assert_eq!(take.dropout_frames, 200);
    let got = samples(&r.sink.files()[1]);
    assert!(got[..800] == delivered(1, 0, 800)[..]);
    assert_eq!(got[800..], [0.0; 200]);
}

#[test]
fn a_gap_after_the_take_and_an_empty_xrun_inside_it() {
    let mut r = rig();
    r.record(Some(1000), 0);
    r.feed(0, 400, 400);
    // An xrun the host reported with no hole in the stream: listed, nothing filled.
    r.gap(400, 0);
    r.feed(400, 1000, 600);
    r.gap(1000, 500);
    r.feed(1500, 2000, 500);
    let take = &r.manifest().takes[0];
    assert_eq!(take.length_frames, 1000);
    assert_eq!(take.dropouts.len(), 1);
    assert_eq!(
        (take.dropouts[0].at_frame, take.dropouts[0].frames),
        (400, 0)
    );
    assert!(samples(&r.sink.files()[0]) == delivered(0, 0, 1000));
}

#[test]
fn arming_and_renaming_mid_take_apply_to_the_next_take() {
    let mut r = rig();
    r.record(None, 0);
    r.feed(0, 500, 500);
    r.cmd(
        Command::SetArmed {
            track: 2,
            armed: false,
        },
        500,
    );
    r.cmd(
        Command::Rename {
            track: 1,
            name: "Bass DI".into(),
        },
        500,
    );
    r.feed(500, 1000, 500);
    r.stop(1000);
    let m = r.manifest();
    assert_eq!(m.takes[0].tracks.len(), 2, "the take keeps its tracks");
    assert_eq!(m.takes[0].tracks[0].name, "In 1");
    assert!(r.sink.files().iter().all(|f| f.bytes.len() == 1000 * 4));
    r.record(None, 1000);
    r.feed(1000, 1100, 100);
    r.stop(1100);
    let m = r.manifest();
    let names: Vec<&str> = m.takes[1].tracks.iter().map(|t| t.file.as_str()).collect();
    assert_eq!(names, ["take-002/01_Bass-DI_T002.wav"]);
    assert_eq!(
        m.tracks[0].name, "Bass DI",
        "the session's track list follows"
    );
    let files = r.sink.files();
    assert!(samples(&files[2]) == delivered(0, 1000, 1100));
}

#[test]
fn a_disk_that_fills_at_a_chosen_byte_ends_the_take_with_what_every_file_holds() {
    let mut r = rig();
    r.record(None, 0);
    r.feed(0, 1000, 1000);
    // Room for 300 more frames of both files, and half a sample more.
    r.sink.fill_after(300 * 4 * 2 + 2);
    r.feed(1000, 2000, 100);
    let done = r.finished();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].reason, EndReason::DiskFull);
    assert_eq!(done[0].frames, 1300, "every frame both files hold");
    let take = &r.manifest().takes[0];
    assert_eq!(take.end_reason, Some(EndReason::DiskFull));
    assert_eq!(take.length_frames, 1300);
    for (c, f) in r.sink.files().iter().enumerate() {
        assert!(f.finished);
        let got = samples(f);
        assert!(got[..1300] == delivered(c, 0, 1300)[..], "input {c}");
    }
    // Recording goes on being possible once there is room again.
    r.sink.fill_after(u64::MAX / 2);
    r.record(Some(10), 2000);
    r.feed(2000, 2010, 10);
    assert_eq!(r.finished().len(), 2);
}

#[test]
fn a_stop_whose_frames_never_arrive_ends_after_the_drain_timeout() {
    let mut r = rig();
    r.record(None, 0);
    r.feed(0, 600, 600);
    r.stop(1000);
    r.tick_after(DRAIN_TIMEOUT - Duration::from_millis(10));
    assert!(r.finished().is_empty(), "still waiting");
    // Progress restarts the wait.
    r.feed(600, 700, 100);
    r.tick_after(Duration::from_millis(20));
    r.tick_after(DRAIN_TIMEOUT - Duration::from_millis(30));
    assert!(
        r.finished().is_empty(),
        "the wait restarted at the last frame"
    );
    r.tick_after(Duration::from_millis(20));
    let done = r.finished();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].frames, 700);
    assert_eq!(done[0].reason, EndReason::Stopped);
    assert_eq!(
        done[0].detail.as_deref(),
        Some("the device stopped delivering audio before the stop point")
    );
}

#[test]
fn a_timed_take_waits_for_a_live_stream_but_not_for_a_dead_one() {
    let mut r = rig();
    r.record(Some(48_000), 0);
    r.feed(0, 100, 100);
    r.tick_after(Duration::from_secs(30));
    assert!(r.finished().is_empty(), "a slow stream is still a stream");
    r.rec
        .stream_ended(EndReason::DeviceLost, "the audio device disappeared", 100);
    r.collect();
    assert!(
        r.events
            .contains(&Event::StreamFailed("the audio device disappeared".into()))
    );
    r.tick_after(DRAIN_TIMEOUT + Duration::from_millis(1));
    let done = r.finished();
    assert_eq!(
        (done[0].frames, done[0].reason),
        (100, EndReason::DeviceLost)
    );
    r.record(None, 100);
    assert!(r.refusals()[0].starts_with("cannot record: the audio device disappeared"));
}

#[test]
fn takes_are_refused_with_a_reason_and_leave_nothing_behind() {
    let mut r = rig();
    r.cmd(Command::ArmAll(false), 0);
    r.record(None, 0);
    r.cmd(Command::ArmAll(true), 0);
    // 1 s of recording left at 2 f32 tracks, under --min-free 60 s.
    r.sink.set_free(Some(u64::from(RATE) * 4 * 2));
    r.record(None, 0);
    r.sink.set_free(None);
    r.sink.fail_create(true);
    r.record(None, 0);
    let refused = r.refusals();
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(refused[0].contains("no track is armed"));
    assert!(refused[1].contains("not enough disk space to record: 0:00:01 left at 2 tracks"));
    assert!(refused[2].starts_with("cannot start a take"));
    assert!(r.manifest().takes.is_empty(), "the journal took it back");
    assert!(!r.dir.join("take-001").exists(), "and its folder");
    r.sink.fail_create(false);
    r.record(None, 0);
    r.record(None, 0);
    assert_eq!(
        r.refusals().last().map(String::as_str),
        Some("already recording")
    );
}

#[test]
fn headers_are_brought_up_to_date_four_times_a_second() {
    let mut r = rig();
    r.record(None, 0);
    r.feed(0, 100, 100);
    for _ in 0..8 {
        r.tick_after(Duration::from_millis(125));
    }
    assert!(r.sink.files().iter().all(|f| f.checkpoints == 4));
}

#[test]
fn the_disk_running_low_is_said_once_and_shown_in_the_snapshot() {
    let mut r = rig();
    let per_second = u64::from(RATE) * 4 * 2;
    r.record(None, 0);
    r.sink.set_free(Some(per_second * 300));
    r.tick_after(Duration::from_secs(1));
    r.tick_after(Duration::from_secs(1));
    let warned = r.warnings();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(
        warned[0],
        "disk nearly full: 0:05:00 of recording left at 2 tracks"
    );
    assert_eq!(
        r.rec.disk(),
        Some(DiskSpace {
            free_bytes: per_second * 300,
            tracks: 2,
            seconds_left: Some(300)
        })
    );
}

#[test]
fn markers_sit_at_the_frame_being_captured_and_need_a_take() {
    let mut r = rig();
    r.cmd(Command::Mark { label: None }, 10);
    assert_eq!(
        r.warnings(),
        ["markers go into a take; start recording first"]
    );
    r.record(None, 100);
    r.cmd(Command::Mark { label: None }, 148_100);
    r.cmd(
        Command::Mark {
            label: Some("chorus".into()),
        },
        192_100,
    );
    r.feed(0, 196_100, 4096);
    r.stop(196_100);
    let markers = &r.manifest().takes[0].markers;
    assert_eq!(markers.len(), 2);
    assert_eq!(
        (markers[0].frame, markers[0].label.as_str()),
        (148_000, "M1")
    );
    assert_eq!(markers[1].seconds, 4.0);
}

#[test]
fn a_shutdown_finishes_the_take_and_a_note_names_it() {
    let mut r = rig();
    r.record(None, 0);
    r.cmd(Command::Note("the terminal hung up".into()), 0);
    r.feed(0, 300, 300);
    assert!(!r.rec.is_done());
    r.cmd(
        Command::Shutdown {
            reason: EndReason::Signal,
        },
        300,
    );
    assert!(r.rec.is_done());
    let m = r.manifest();
    assert_eq!(m.takes[0].end_reason, Some(EndReason::Signal));
    assert_eq!(m.notes[0].take, Some(1));
    assert_eq!(m.notes[0].text, "the terminal hung up");
}

#[test]
fn file_levels_are_each_takes_own() {
    let mut r = rig();
    r.record(Some(10), 0);
    let mut loud: Vec<u32> = (0..10)
        .flat_map(|_| [1.0f32.to_bits(), 0.5f32.to_bits()])
        .collect();
    r.rec.chunk(&mut loud);
    r.record(Some(10), 10);
    let mut quiet: Vec<u32> = (0..10)
        .flat_map(|_| [0.25f32.to_bits(), 0.0f32.to_bits()])
        .collect();
    r.rec.chunk(&mut quiet);
    let m = r.manifest();
    assert_eq!(m.takes[0].tracks[0].clipped_samples, 10);
    assert_eq!(m.takes[0].tracks[1].peak_dbfs, Some(-6.02));
    assert_eq!(m.takes[1].tracks[0].clipped_samples, 0);
    assert_eq!(m.takes[1].tracks[0].peak_dbfs, Some(-12.04));
    assert_eq!(m.takes[1].tracks[1].peak_dbfs, None, "digital silence");
}

#[test]
fn each_files_level_report_measures_exactly_what_it_holds_gaps_included() {
    let mut r = rig();
    r.feed(0, 100, 100);
    r.record(None, 100);
    r.feed(100, 20_000, 333);
    r.gap(20_000, 5_000);
    r.feed(25_000, 30_000, 4096);
    r.stop(30_000);
    let take = &r.manifest().takes[0];
    assert_eq!(take.length_frames, 29_900);
    for (c, (t, f)) in take.tracks.iter().zip(r.sink.files()).enumerate() {
        let l = t.levels.as_ref().expect("a level report");
        let held = samples(&f);
        assert_eq!(held.len(), 29_900);
        // What the file holds, measured here by hand: the same peak, DC and clip count.
        let peak = held.iter().fold(0f32, |m, x| m.max(x.abs()));
        let mean = held.iter().map(|&x| f64::from(x)).sum::<f64>() / held.len() as f64;
        assert_eq!(
            l.sample_peak_dbfs,
            crate::format::dbfs_rounded(peak),
            "input {c}"
        );
        assert_eq!(t.peak_dbfs, l.sample_peak_dbfs, "input {c}");
        assert_eq!(
            l.dc_offset,
            crate::levels::round_as_printed(mean, 6),
            "input {c}"
        );
        assert_eq!(l.clipped_samples, 0);
        // A file under a second is its own quietest second.
        assert_eq!(l.noise_floor_dbfs, l.rms_dbfs, "input {c}");
    }
    let summary = &r.finished()[0];
    assert_eq!(summary.tracks, take.tracks);
}
