//! kill -9 at random moments of a take, across formats: every file left behind opens in sox,
//! ffprobe and hound; `tapedeck recover` then repairs the headers, and every file holds the
//! frames that were on disk, bit-identical to what a clean stop writes for them.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{read_json, soxi, take_files};
use tapedeck::audio::demo::DemoOptions;
use tapedeck::audio::demo_synth::DemoSynth;

const CHANNELS: usize = 2;
const RATE: u32 = 48_000;
const KILLS: u64 = 24;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The documented f32 → file conversions, independent of the program.
fn expected_bits(x: f32, format: &str) -> i64 {
    let round_clip = |scale: f64, min: i64, max: i64| {
        if x.is_nan() {
            0
        } else {
            ((f64::from(x) * scale).round() as i64).clamp(min, max)
        }
    };
    match format {
        "s16" => round_clip(32768.0, -32768, 32767),
        "s24" => round_clip(8_388_608.0, -8_388_608, 8_388_607),
        _ => i64::from(x.to_bits()),
    }
}

fn file_values(path: &Path, format: &str) -> Vec<i64> {
    let r = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("hound cannot open {}: {e}", path.display()));
    if format == "f32" {
        r.into_samples::<f32>()
            .map(|s| i64::from(s.expect("sample").to_bits()))
            .collect()
    } else {
        r.into_samples::<i32>()
            .map(|s| i64::from(s.expect("sample")))
            .collect()
    }
}

/// What a clean recording of the demo input holds, rendered as far as it is needed.
struct Clean(Vec<f32>);

impl Clean {
    /// Asserts that the file of `input` holds, from its first frame, exactly what a clean stop
    /// would have written for stream frames `start..`.
    fn assert_file(&mut self, path: &Path, input: u64, start: usize, format: &str) {
        let got = file_values(path, format);
        let need = (start + got.len()) * CHANNELS;
        if self.0.len() < need {
            let mut synth = DemoSynth::new(CHANNELS, RATE, DemoOptions::default().seed);
            self.0 = vec![0f32; need + RATE as usize * CHANNELS];
            synth.render(&mut self.0);
        }
        let ch = input as usize - 1;
        for (k, v) in got.iter().enumerate() {
            assert_eq!(
                *v,
                expected_bits(self.0[(start + k) * CHANNELS + ch], format),
                "{}: frame {k} differs from a clean recording",
                path.display()
            );
        }
    }
}

/// sox, ffprobe and hound all open the file.
fn opens_everywhere(path: &Path, format: &str) {
    soxi(path);
    ffprobe_opens(path);
    file_values(path, format);
}

fn ffprobe_opens(path: &Path) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_streams"])
        .arg(path)
        .output()
        .expect("ffprobe (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe cannot open {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kill_9_at_random_moments_loses_nothing_that_was_on_disk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut clean = Clean(Vec::new());
    let mut worst_loss_ms = 0f64;
    let mut files_checked = 0;
    let mut takes_recovered = 0;
    for i in 0..KILLS {
        let format = ["s16", "s24", "f32"][(i % 3) as usize];
        // A third of the kills land in the first second, some within the first 100 ms.
        let delay_ms = if i % 3 == 0 {
            30 + rng.next() % 970
        } else {
            200 + rng.next() % 2300
        };
        let session = format!("kill-{i:02}-{format}");
        let mut child = Command::new(common::bin())
            .args([
                "demo",
                "--channels",
                &CHANNELS.to_string(),
                "--device-format",
                "f32",
            ])
            .args(["--format", format, "--headless", "--session", &session])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tapedeck");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let killed_at = SystemTime::now();
        child.kill().expect("SIGKILL");
        let _ = child.wait();

        let sdir = dir.join(&session);
        let manifest = sdir.join("session.json");
        if !manifest.exists() {
            // Killed before the session existed: nothing was recorded and nothing is broken.
            assert!(
                !sdir.join("take-001").exists(),
                "{session}: take files without a manifest"
            );
            continue;
        }
        let m = read_json(&manifest);
        let Some(take) = m["takes"].as_array().and_then(|t| t.first()).cloned() else {
            continue;
        };
        // Before recovery: every file that exists opens in all three readers.
        for (_, p) in take_files(&sdir, &take) {
            if p.exists() {
                opens_everywhere(&p, format);
            }
        }
        let (code, out, err) = common::run(
            &["recover", "--dir", dir.to_str().expect("utf-8"), &session],
            &[],
        );
        assert_eq!(code, 0, "{session}: recover failed\n{out}\n{err}");
        let m = read_json(&manifest);
        let take = &m["takes"][0];
        assert_eq!(take["state"], "recovered", "{session}: {m:#}");
        assert_eq!(take["end_reason"], "interrupted");
        takes_recovered += 1;

        // Run it twice: nothing changes.
        let before = std::fs::read(&manifest).expect("manifest");
        let (code, out, _) = common::run(
            &["recover", "--dir", dir.to_str().expect("utf-8"), &session],
            &[],
        );
        assert_eq!(code, 0);
        assert!(out.contains("nothing to recover"), "{out}");
        assert_eq!(
            std::fs::read(&manifest).expect("manifest"),
            before,
            "a second recover changed the manifest"
        );

        let start = take["start_frame"].as_u64().expect("start") as usize;
        let length = take["length_frames"].as_u64().expect("length") as usize;
        for (t, (input, p)) in take["tracks"]
            .as_array()
            .expect("tracks")
            .iter()
            .zip(take_files(&sdir, take))
        {
            let frames = t["frames"].as_u64().expect("frames") as usize;
            assert!(frames >= length);
            if !p.exists() {
                assert_eq!(frames, 0, "{session}: a missing file has frames");
                continue;
            }
            let (n, rate) = soxi(&p);
            assert_eq!((n as usize, rate), (frames, RATE), "{}", p.display());
            ffprobe_opens(&p);
            let got = file_values(&p, format);
            assert_eq!(
                got.len(),
                frames,
                "hound reads every frame of {}",
                p.display()
            );
            clean.assert_file(&p, input, start, format);
            files_checked += 1;
        }
        // How much of what had been captured when the process died is not in the files.
        if let Some(started) = take["started_at"].as_str() {
            let started = chrono::DateTime::parse_from_rfc3339(started).expect("started_at");
            let killed = chrono::DateTime::<chrono::Utc>::from(killed_at);
            let captured_ms = (killed - started.with_timezone(&chrono::Utc))
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1000.0;
            let kept_ms = length as f64 * 1000.0 / f64::from(RATE);
            worst_loss_ms = worst_loss_ms.max(captured_ms - kept_ms);
        }
    }
    println!(
        "{KILLS} kills: {takes_recovered} takes recovered, {files_checked} files bit-identical, worst loss {worst_loss_ms:.0} ms"
    );
    assert!(
        takes_recovered >= KILLS as usize / 2,
        "too few kills landed inside a take"
    );
    assert!(
        worst_loss_ms < 500.0,
        "lost {worst_loss_ms:.0} ms of captured audio"
    );
}

#[test]
fn recording_into_a_session_with_an_unfinished_take_repairs_it_first() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let mut child = common::spawn_demo(dir, "s", &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join("s").join("take-001").exists() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1200));
    child.kill().expect("kill");
    let _ = child.wait();
    let (code, _, err) = common::run(
        &[
            "demo",
            "--channels",
            "2",
            "--headless",
            "--duration",
            "1s",
            "--session",
            "s",
            "--dir",
            dir.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("take 1 of this session had not been finished"),
        "the user is told: {err}"
    );
    let m = read_json(&dir.join("s").join("session.json"));
    assert_eq!(m["takes"][0]["state"], "recovered");
    assert!(m["takes"][0]["length_frames"].as_u64().unwrap_or(0) > 24_000);
    assert_eq!(m["takes"][1]["state"], "complete");
    assert_eq!(m["takes"][1]["number"], 2);
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault-injection feature: run it through scripts/test, or cargo test --features fault-injection"
)]
fn killed_in_the_middle_of_a_header_rewrite_every_file_still_opens_and_recovers() {
    // The recorder kills itself (SIGKILL) between the size writes of its N-th header rewrite:
    // the data size is new, the RIFF size (and the fact count) still old.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let mut clean = Clean(Vec::new());
    for (i, (format, nth)) in [("s16", 3), ("s24", 8), ("f32", 13), ("s24", 5)]
        .into_iter()
        .enumerate()
    {
        let session = format!("header-{i}-{format}");
        let status = Command::new(common::bin())
            .args(["demo", "--channels", &CHANNELS.to_string()])
            .args(["--device-format", "f32", "--format", format, "--headless"])
            .args(["--duration", "20s", "--session", &session, "--dir"])
            .arg(dir)
            .env("TAPEDECK_TEST_DIE_IN_HEADER", nth.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run tapedeck");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "{session}: died by SIGKILL");
        let sdir = dir.join(&session);
        let take = read_json(&sdir.join("session.json"))["takes"][0].clone();
        assert_eq!(take["state"], "recording");
        for (_, p) in take_files(&sdir, &take) {
            opens_everywhere(&p, format);
        }
        let (code, out, err) = common::run(
            &["recover", "--dir", dir.to_str().expect("utf-8"), &session],
            &[],
        );
        assert_eq!(code, 0, "{out}\n{err}");
        let take = read_json(&sdir.join("session.json"))["takes"][0].clone();
        assert_eq!(take["state"], "recovered");
        let start = take["start_frame"].as_u64().expect("start") as usize;
        let length = take["length_frames"].as_u64().expect("length") as usize;
        assert!(length > 0, "{session}: audio had reached the disk");
        for (input, p) in take_files(&sdir, &take) {
            let n = soxi(&p).0 as usize;
            assert!(n >= length);
            assert_eq!(file_values(&p, format).len(), n);
            clean.assert_file(&p, input, start, format);
        }
    }
}
