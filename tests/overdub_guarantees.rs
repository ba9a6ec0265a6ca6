//! What recording guarantees holds during an overdub too, on the demo interface (its loopback
//! set to no hidden delay, so a take holds the played song at lag 0): a kill -9 loses nothing
//! that was on disk and `recover` repairs the take, still an overdub at its place; a disk that
//! is slow on the playback side costs the performer silence (counted and noted), never the take.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, last_take, read_json};

const RATE: u32 = 48_000;

/// A session holding `seconds` of noise as take 1; returns the noise.
fn song(dir: &Path, config: &Path, seconds: u32) -> Vec<i32> {
    let noise = dir.join("noise.wav");
    common::write_noise(&noise, RATE, seconds * RATE);
    let out = Command::new(bin())
        .args([
            "import",
            noise.to_str().unwrap(),
            "--session",
            "song",
            "--dir",
        ])
        .arg(dir)
        .env("XDG_CONFIG_HOME", config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::wav_samples(&noise)
}

fn overdub(dir: &Path, config: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args([
        "demo",
        "--headless",
        "--overdub",
        "--session",
        "song",
        "--track",
        "9:Return",
        "--dir",
    ])
    .arg(dir)
    .env("XDG_CONFIG_HOME", config)
    .env("TAPEDECK_DEMO_LOOPBACK_DELAY", "0");
    cmd
}

#[test]
fn kill_9_during_an_overdub_loses_nothing_and_recover_keeps_it_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let played = song(dir.path(), config.path(), 10);
    let mut child = overdub(dir.path(), config.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let take = dir.path().join("song/take-002/09_Return_T002.wav");
    let deadline = Instant::now() + Duration::from_secs(20);
    // Killed once a second and a half of the take is on disk.
    while std::fs::metadata(&take).map_or(true, |m| m.len() < 3 * 72_000 + 4096) {
        assert!(Instant::now() < deadline, "the overdub never wrote");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = Command::new(bin())
        .args(["recover", "song", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = last_take(&dir.path().join("song"));
    assert_eq!(t["state"], "recovered");
    assert_eq!(t["kind"], "overdub");
    assert_eq!(t["timeline_start"], 0);
    assert!(t["latency"].is_object(), "{t:#}");
    let got = common::wav_samples(&take);
    assert!(got.len() >= RATE as usize, "{} frames kept", got.len());
    assert_eq!(t["length_frames"], got.len() as u64);
    // Every frame that reached the disk is the song's, in its place.
    assert_eq!(got, played[..got.len()].to_vec());
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "stalls the song's reader through fault injection: run with --features fault-injection"
)]
fn a_slow_disk_on_the_playback_side_costs_silence_never_the_take() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let played = song(dir.path(), config.path(), 4);
    let out = overdub(dir.path(), config.path())
        // The reader stops for 1.5 s, a second into the take: longer than its read-ahead.
        .env("TAPEDECK_TEST_STALL_READER", "1:1500")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = dir.path().join("song");
    let t = last_take(&s);
    assert_eq!(t["dropouts"].as_array().unwrap().len(), 0, "{t:#}");
    assert_eq!(t["dropout_frames"], 0);
    let got = common::wav_samples(&s.join(t["tracks"][0]["file"].as_str().unwrap()));
    assert_eq!(got.len(), played.len(), "the take runs to the song's end");
    // What the performer heard: the song, silence while the reader was stalled, then the song
    // again at its own place (the timeline kept pace with the device).
    let silent = got
        .iter()
        .zip(&played)
        .filter(|(g, p)| **g == 0 && **p != 0)
        .count();
    assert!(
        silent > RATE as usize / 2,
        "{silent} frames of silence heard"
    );
    let at_place = got.iter().zip(&played).filter(|(g, p)| *g == *p).count();
    assert_eq!(
        at_place + silent,
        played.len(),
        "anything heard is at its place"
    );
    let notes = read_json(&s.join("session.json"))["notes"].clone();
    assert!(
        notes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["take"] == 2 && n["text"].as_str().unwrap().contains("played as silence")),
        "{notes:#}"
    );
}
