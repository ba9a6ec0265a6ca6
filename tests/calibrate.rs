//! `tapedeck calibrate` and overdubs on the demo interface, whose loopback cable hears what
//! tapedeck plays a fixed time later than the interface reports: before calibration an overdub
//! is off by exactly that much, after it the overdub equals the played take, every sample.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{bin, last_take};

const RATE: u32 = 48_000;

fn tapedeck(args: &[&str], config: &Path, delay: u32) -> (bool, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .env("TAPEDECK_DEMO_LOOPBACK_DELAY", delay.to_string())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Imports the noise into a new session and overdubs the demo's loopback over it; returns the
/// lag of the overdub behind the played take (frames) and the take's entry.
fn overdub(dir: &Path, session: &str, config: &Path, delay: u32) -> (i64, serde_json::Value) {
    let noise = dir.join("noise.wav");
    if !noise.exists() {
        common::write_noise(&noise, RATE, 2 * RATE);
    }
    let d = dir.to_str().unwrap();
    let (ok, _, err) = tapedeck(
        &[
            "import",
            noise.to_str().unwrap(),
            "--session",
            session,
            "--dir",
            d,
        ],
        config,
        delay,
    );
    assert!(ok, "{err}");
    let (ok, _, err) = tapedeck(
        &[
            "demo",
            "--headless",
            "--overdub",
            "--session",
            session,
            "--dir",
            d,
            "--track",
            "9:Return",
        ],
        config,
        delay,
    );
    assert!(ok, "{err}");
    let s = dir.join(session);
    let take = last_take(&s);
    assert_eq!(take["kind"], "overdub");
    let played = common::wav_samples(&s.join("take-001/01_noise_T001.wav"));
    let got = common::wav_samples(&s.join(take["tracks"][0]["file"].as_str().unwrap()));
    assert_eq!(
        got.len(),
        played.len(),
        "the overdub runs to the song's end"
    );
    let lag = (-4000i64..4000)
        .find(|lag| (10_000..10_200).all(|k: i64| got[(k + lag) as usize] == played[k as usize]))
        .expect("the overdub holds the played take, at some lag");
    (lag, take)
}

#[test]
fn calibrate_finds_the_hidden_delay_and_overdubs_then_land_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let hidden = 123;
    let (lag, take) = overdub(dir.path(), "before", config.path(), hidden);
    assert_eq!(
        lag,
        i64::from(hidden),
        "before calibration: {:#}",
        take["latency"]
    );
    assert_eq!(take["latency"]["correction_source"], "none");

    let (ok, out, err) = tapedeck(&["calibrate", "--host", "demo"], config.path(), hidden);
    assert!(ok, "{out}{err}");
    assert!(out.contains(&format!("+ {hidden} measured")), "{out}");
    let kept: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(config.path().join("tapedeck/calibration.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(kept["corrections"][0]["correction_frames"], hidden);

    let (lag, take) = overdub(dir.path(), "after", config.path(), hidden);
    assert_eq!(lag, 0, "after calibration: {:#}", take["latency"]);
    let latency = &take["latency"];
    assert_eq!(latency["correction_frames"], hidden);
    assert!(
        latency["correction_source"]
            .as_str()
            .unwrap()
            .starts_with("calibration of "),
        "{latency:#}"
    );
    // Every sample, not just a stretch.
    let s = dir.path().join("after");
    let played = common::wav_samples(&s.join("take-001/01_noise_T001.wav"));
    let got = common::wav_samples(&s.join(take["tracks"][0]["file"].as_str().unwrap()));
    assert_eq!(got, played);
}

#[test]
fn calibrate_says_so_when_the_signal_does_not_come_back() {
    let config = tempfile::tempdir().unwrap();
    // The demo's band input: no cable from the output.
    let (ok, out, err) = tapedeck(
        &[
            "calibrate",
            "--host",
            "demo",
            "--device",
            "demo",
            "--channels",
            "2",
        ],
        config.path(),
        0,
    );
    assert!(!ok, "{out}");
    assert!(
        err.contains("not the test signal") || err.contains("nothing"),
        "{err}"
    );
    assert!(
        !config.path().join("tapedeck/calibration.json").exists(),
        "nothing is kept"
    );
}
