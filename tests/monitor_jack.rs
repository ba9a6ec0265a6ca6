//! Software monitoring on a private JACK dummy server: a counter plays into tapedeck's input 2
//! (input 1 hears something that must not be heard), track 2 is monitored, and a listener on
//! tapedeck's outputs finds the counter there, bit for bit on both sides, a fixed number of
//! frames later: the latency the status lines report (`--json-status`).

#![cfg(feature = "jack")]
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::jack_cable::{Patchbay, open_client};
use common::{JackServer, bin};

const RATE: u32 = 48_000;
/// The counter wraps after this many frames (21 s at 48 kHz, longer than any run here).
const WRAP: u32 = 1 << 20;

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The counter's value for JACK frame `t`: exact in f32, never 0, below 1.0.
fn value(t: u32) -> f32 {
    (t % WRAP + 1) as f32 / WRAP as f32
}

/// The frame (modulo `WRAP`) a heard value was played at, if it is a counter value exactly.
fn frame_of(v: f32) -> Option<u32> {
    let x = v * WRAP as f32;
    (x.fract() == 0.0 && (1.0..=WRAP as f32).contains(&x)).then(|| x as u32 - 1)
}

/// What the listener heard: (JACK frame, left, right) of every frame that was not silent.
type Heard = Arc<Mutex<Vec<(u32, f32, f32)>>>;

struct Run {
    heard: Vec<(u32, f32, f32)>,
    /// The monitor's latency (frames) in each status line that had one.
    reported: Vec<u64>,
    missing: u64,
    xruns: usize,
    status: String,
}

fn monitor_run(period: u32) -> Run {
    let jack = JackServer::start(RATE, period, 2);
    // The counter: `other` (input 1) carries a constant, `count` (input 2) the counter.
    let counter = open_client(&jack, "counter");
    let mut other = counter
        .register_port("other", jack::AudioOut::default())
        .unwrap();
    let mut count = counter
        .register_port("count", jack::AudioOut::default())
        .unwrap();
    let counter = counter
        .activate_async(
            (),
            jack::contrib::ClosureProcessHandler::new(
                move |_: &jack::Client, ps: &jack::ProcessScope| {
                    let t0 = ps.last_frame_time();
                    other.as_mut_slice(ps).fill(0.5);
                    for (k, s) in count.as_mut_slice(ps).iter_mut().enumerate() {
                        *s = value(t0.wrapping_add(k as u32));
                    }
                    jack::Control::Continue
                },
            ),
        )
        .unwrap();
    let listener = open_client(&jack, "listen");
    let left = listener
        .register_port("left", jack::AudioIn::default())
        .unwrap();
    let right = listener
        .register_port("right", jack::AudioIn::default())
        .unwrap();
    let heard: Heard = Arc::new(Mutex::new(Vec::with_capacity(RATE as usize * 20)));
    let into = Arc::clone(&heard);
    let listening = Arc::new(AtomicBool::new(true));
    let on = Arc::clone(&listening);
    let listener = listener
        .activate_async(
            (),
            jack::contrib::ClosureProcessHandler::new(
                move |_: &jack::Client, ps: &jack::ProcessScope| {
                    let t0 = ps.last_frame_time();
                    if on.load(Ordering::Acquire)
                        && let Ok(mut h) = into.try_lock()
                    {
                        let (l, r) = (left.as_slice(ps), right.as_slice(ps));
                        for (k, (l, r)) in l.iter().zip(r).enumerate() {
                            if l.to_bits() != 0 || r.to_bits() != 0 {
                                h.push((t0.wrapping_add(k as u32), *l, *r));
                            }
                        }
                    }
                    jack::Control::Continue
                },
            ),
        )
        .unwrap();
    let _bay = Patchbay::open(&jack);
    let before = jack.log_text().matches("XRun").count();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .args([
            "record",
            "--host",
            "jack",
            "--json-status",
            "--session",
            "mon",
            "--dir",
            dir.path().to_str().unwrap(),
            "--channels",
            "2",
            "--buffer",
            &period.to_string(),
            "--monitor",
            "2",
            "--connect-input",
            "counter:other",
            "--connect-input",
            "counter:count",
            "--connect-output",
            "listen:left",
            "--connect-output",
            "listen:right",
            "--duration",
            "4s",
        ])
        .env("JACK_DEFAULT_SERVER", &jack.name)
        .env("JACK_NO_START_SERVER", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reported = Vec::new();
    let mut missing = 0;
    let mut status = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        assert!(Instant::now() < deadline, "tapedeck ran too long");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["type"] == "status" {
            let m = &v["monitor"];
            assert_eq!(m["tracks"], serde_json::json!([2]), "{line}");
            if let Some(l) = m["latency_frames"].as_u64() {
                reported.push(l);
            }
            missing = m["missing_frames"].as_u64().unwrap_or(0);
            status = line.clone();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "tapedeck failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    listening.store(false, Ordering::Release);
    let _ = counter.deactivate();
    let _ = listener.deactivate();
    let heard = std::mem::take(&mut *heard.lock().unwrap());
    Run {
        heard,
        reported,
        missing,
        xruns: jack.log_text().matches("XRun").count() - before,
        status,
    }
}

#[test]
fn the_monitored_input_is_heard_bit_exact_at_the_latency_reported() {
    let _one = one_at_a_time();
    for period in [64u32, 256, 1024] {
        let run = monitor_run(period);
        assert!(
            run.heard.len() > RATE as usize * 2,
            "period {period}: only {} frames of the counter were heard",
            run.heard.len()
        );
        // Every frame heard is a counter value, exactly, the same on both sides (unity,
        // centre), and input 1 (0.5) is never in it.
        let mut stretches: Vec<(u32, u32, usize)> = Vec::new(); // (delay, first frame, frames)
        let mut last_t = None;
        let mut gaps = 0;
        for &(t, l, r) in &run.heard {
            assert_eq!(
                l.to_bits(),
                r.to_bits(),
                "period {period}: left and right differ"
            );
            let sent = frame_of(l)
                .unwrap_or_else(|| panic!("period {period}: {l} at frame {t} is no counter value"));
            let delay = t.wrapping_sub(sent) % WRAP;
            match stretches.last_mut() {
                Some(s) if s.0 == delay => s.2 += 1,
                _ => stretches.push((delay, t, 1)),
            }
            if last_t.is_some_and(|p: u32| t.wrapping_sub(p) != 1) {
                gaps += 1;
            }
            last_t = Some(t);
        }
        let delays: Vec<u32> = stretches.iter().map(|s| s.0).collect();
        eprintln!(
            "period {period}: heard {} frames, delays {delays:?}, reported {:?} frames, \
             {gaps} gaps, missing {}, jackd xruns {}",
            run.heard.len(),
            run.reported,
            run.missing,
            run.xruns
        );
        assert!(
            !run.reported.is_empty(),
            "period {period}: no latency in the status lines: {}",
            run.status
        );
        if run.xruns == 0 {
            assert_eq!(
                stretches.len(),
                1,
                "period {period}: the delay changed with no xrun: {stretches:?}"
            );
            assert_eq!(gaps, 0, "period {period}: gaps in the monitored input");
            assert_eq!(run.missing, 0, "period {period}: {}", run.status);
            for r in &run.reported {
                assert_eq!(
                    *r,
                    u64::from(stretches[0].0),
                    "period {period}: reported {r}, measured {}",
                    stretches[0].0
                );
            }
        } else {
            // Across an xrun jackd logged, the delay may move by whole periods; what is
            // reported is one of the delays measured.
            for s in &stretches {
                assert_eq!(s.0 % period, 0, "period {period}: {stretches:?}");
            }
            let last = *run.reported.last().unwrap();
            assert!(
                delays.contains(&(last as u32)),
                "period {period}: reported {last}, measured {delays:?}"
            );
        }
        // Small: at most two periods wait between the callbacks, and that is what is
        // reported (where xruns moved it for a while, the delay most of the run had).
        let main = stretches.iter().max_by_key(|s| s.2).unwrap().0;
        assert!(main <= 2 * period, "period {period}: {stretches:?}");
        assert!(
            run.reported.contains(&u64::from(main)),
            "period {period}: reported {:?}, measured {main} for most of the run",
            run.reported
        );
    }
}
