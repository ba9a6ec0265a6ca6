//! Record on signal through the real binary on a JACK dummy server, against a counter source
//! that is quiet (far below the level), loud from a known frame for half a second, then quiet
//! again: the take starts exactly the pre-roll before the crossing, bit-exact, and ends the
//! silence after the last loud frame. A source that never crosses makes no take.
#![cfg(feature = "jack")]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::JackServer;
use common::history::{Counter, frame_of, samples};

const RATE: u64 = 48_000;

/// These tests run a real-time server each: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn record(jack: &JackServer, counter: &Counter, dir: &Path, args: &[&str]) -> Command {
    let [one, two] = counter.ports();
    let mut cmd = Command::new(common::bin());
    cmd.args([
        "record",
        "--host",
        "jack",
        "--channels",
        "2",
        "--format",
        "f32",
    ])
    .args(["--connect-input", &one, "--connect-input", &two])
    .args(["--trigger", "-20dBFS", "--json-status", "--session", "trig"])
    .args(args)
    .arg("--dir")
    .arg(dir)
    .env("JACK_DEFAULT_SERVER", &jack.name)
    .env("JACK_NO_START_SERVER", "1")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// Waits until the recorder's status lines say it is waiting for the trigger.
fn wait_until_listening(session: &Path, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    // The session's manifest exists once the engine runs.
    while !session.join("session.json").exists() {
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "the recorder ended before listening"
        );
        assert!(Instant::now() < deadline, "the recorder never started");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_triggered_take_starts_the_pre_roll_before_the_crossing_and_ends_after_the_silence() {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Long periods: a dummy server on a loaded machine misses fewer cycles with them. A run in
    // which it missed some near the take anyway is made again, four times at most.
    let jack = JackServer::start(RATE as u32, 1024, 0);
    for attempt in 1..=5 {
        let counter = Counter::start(&jack, &format!("source{attempt}"));
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let session = dir.join("trig");
        let mut child = record(
            &jack,
            &counter,
            dir,
            &[
                "--pre-roll",
                "1s",
                "--trigger-silence",
                "1s",
                "--duration",
                "10s",
            ],
        )
        .spawn()
        .expect("start tapedeck");
        wait_until_listening(&session, &mut child);
        // Loud for half a second, starting 3 s from now (the kept past then holds the
        // pre-roll).
        let crossing = counter.produced() + 3 * RATE;
        let loud_to = crossing + RATE / 2;
        counter.loud(crossing, loud_to);
        let out = child.wait_with_output().expect("wait for tapedeck");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}\n{stdout}");
        // A dropout restarts the kept past (a shorter pre-roll) or is zero-filled in the take.
        let m = common::read_json(&session.join("session.json"));
        let take = &m["takes"][0];
        if take["pre_roll_frames"].as_u64().is_some_and(|p| p < RATE)
            || take["dropout_frames"].as_u64().is_some_and(|d| d > 0)
        {
            assert!(attempt < 5, "dropouts in five runs: {take}");
            println!("run {attempt} had a dropout near the take; once more");
            continue;
        }
        check_triggered_take(&session, &stdout, crossing, loud_to);
        return;
    }
}

fn check_triggered_take(session: &Path, stdout: &str, crossing: u64, loud_to: u64) {
    assert!(
        stdout.contains(r#""trigger":"waiting""#),
        "the status says the trigger waits: {stdout}"
    );
    assert!(
        stdout.contains(r#""type":"info""#) && stdout.contains("keeping the last"),
        "the memory kept is said at the start: {stdout}"
    );
    let m = common::read_json(&session.join("session.json"));
    let takes = m["takes"].as_array().expect("takes");
    assert_eq!(takes.len(), 1, "one loud passage, one take: {takes:?}");
    let take = &takes[0];
    assert_eq!(take["started_by"], "trigger");
    assert_eq!(take["end_reason"], "silence");
    assert_eq!(take["pre_roll_frames"].as_u64(), Some(RATE));
    assert_eq!(take["trigger"]["level_dbfs"].as_f64(), Some(-20.0));
    assert_eq!(take["trigger"]["silence_frames"].as_u64(), Some(RATE));
    let start = take["start_frame"].as_u64().expect("a number");
    let crossing_frame = take["trigger"]["crossing_frame"]
        .as_u64()
        .expect("a number");
    assert_eq!(take["pressed_frame"].as_u64(), Some(crossing_frame));
    assert_eq!(crossing_frame - start, RATE);

    let file = |i: usize| session.join(take["tracks"][i]["file"].as_str().expect("file"));
    let (first, second) = (samples(&file(0)), samples(&file(1)));
    // Exactly: the first frame is the source's frame one pre-roll before the crossing...
    let k0 = frame_of(first[0]);
    assert_eq!(
        k0,
        crossing - RATE,
        "the take starts the pre-roll before the crossing"
    );
    // ...every frame follows, loud where the source was, and the take ends the silence after
    // the last loud frame.
    assert_eq!(first.len() as u64, loud_to - 1 + 1 + RATE - k0);
    for (i, (a, b)) in first.iter().zip(&second).enumerate() {
        let k = k0 + i as u64;
        let want = common::history::value(k, (crossing..loud_to).contains(&k));
        assert!(*a == want && *b == -want, "frame {i}: {a}, {b}, not {want}");
    }
    assert_eq!(take["dropout_frames"].as_u64(), Some(0));
}

#[test]
fn a_signal_that_never_crosses_makes_no_take() {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let jack = JackServer::start(RATE as u32, 1024, 0);
    let counter = Counter::start(&jack, "quiet");
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = record(&jack, &counter, tmp.path(), &["--duration", "4s"])
        .output()
        .expect("run tapedeck");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{stdout}");
    // It listened all along (a status line a second), and never recorded.
    assert!(
        stdout.matches(r#""trigger":"waiting""#).count() >= 3,
        "{stdout}"
    );
    assert!(!stdout.contains("take_started"), "{stdout}");
    let m = common::read_json(&tmp.path().join("trig").join("session.json"));
    assert_eq!(m["takes"].as_array().map(Vec::len), Some(0));
    assert!(stderr.contains("no take was recorded"), "{stderr}");
}
