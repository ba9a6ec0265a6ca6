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

/// How an overdub came out: the offset of each stretch of the new take in which every recorded
/// counter value is the same number of frames later than where it belongs (one stretch when
/// nothing went wrong), and the take's manifest entry.
struct Overdub {
    stretches: Vec<(usize, i64)>,
    take: serde_json::Value,
    /// xruns jackd reported while the overdub ran.
    xruns: usize,
}

impl Overdub {
    /// The take's offset where it starts: what the compensation achieved.
    fn start_offset(&self) -> i64 {
        self.stretches[0].1
    }

    /// Later shifts must be whole periods, each explained by an xrun jackd reported (a client
    /// of the loop, the cable included, skipped a cycle: no compensation can know that).
    fn check_shifts(&self, period: u32) {
        if self.stretches.len() == 1 {
            return;
        }
        for w in self.stretches.windows(2) {
            let shift = w[1].1 - w[0].1;
            assert_eq!(
                shift % i64::from(period),
                0,
                "a shift of {shift} frames at counted frame {}, not whole periods: {:?}",
                w[1].0,
                self.stretches
            );
        }
        assert!(
            self.xruns > 0,
            "the take shifts mid-way ({:?}) with no xrun reported by jackd",
            self.stretches
        );
    }
}

fn xruns(jack: &JackServer) -> usize {
    jack.log_text().matches("XRun").count()
}

/// Records one overdub of one input through `cable_in` -> `cable_out`.
fn overdub(jack: &JackServer, dir: &Path, period: u32, cable_in: &str, cable_out: &str) -> Overdub {
    let session = dir.join("song");
    let before = xruns(jack);
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
    let mut stretches = vec![(0usize, offsets[0])];
    for (k, o) in offsets.iter().enumerate() {
        if *o != stretches[stretches.len() - 1].1 {
            stretches.push((k, *o));
        }
    }
    Overdub {
        stretches,
        take,
        xruns: xruns(jack) - before,
    }
}

#[test]
fn an_overdub_through_a_declared_cable_lands_on_the_played_take() {
    let _one = one_at_a_time();
    for period in [64u32, 256, 1024] {
        for n in [0u32, 100, 1000] {
            // A server of its own each time: jack_latent_client's name is fixed, and a new
            // one cannot start while the last is still leaving.
            let jack = JackServer::start(RATE, period, 2);
            let dir = tempfile::tempdir().unwrap();
            counter_session(dir.path());
            // jack_latent_client cannot delay by 0: a cable of 0 is a plain pass-through.
            let o = if n == 0 {
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
                o.start_offset(),
                0,
                "period {period}, cable {n}: the overdub is {} frames off; latency {:#}",
                o.start_offset(),
                o.take["latency"]
            );
            o.check_shifts(period);
            let latency = &o.take["latency"];
            assert_eq!(latency["reported_by"], "jack port latencies");
            assert_eq!(latency["applied_frames"], i64::from(n), "{latency:#}");
            // Inside JACK the output's reported latency is the one counted once.
            assert_eq!(
                latency["counted_once_frames"], latency["output_frames"],
                "{latency:#}"
            );
        }
    }
}

#[test]
fn a_cable_that_hides_its_latency_is_off_by_exactly_that_until_calibrated() {
    let _one = one_at_a_time();
    let period = 256;
    let hidden = 333;
    let jack = JackServer::start(RATE, period, 2);
    let config = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    counter_session(dir.path());
    let cable = HiddenCable::start(&jack, "hidden", hidden);
    let o = overdub(&jack, dir.path(), period, &cable.input(), &cable.output());
    assert_eq!(o.start_offset(), hidden as i64, "before calibration");
    o.check_shifts(period);
    assert_eq!(o.take["latency"]["applied_frames"], 0);
    drop(config);
}
