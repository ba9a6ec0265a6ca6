//! PipeWire's ALSA plugin (`alsa:pipewire`, what `alsa:default` is on a PipeWire desktop),
//! against a private PipeWire with an 8-channel test source: a counter recorded bit-exact with
//! its channels in order, at a small cost in CPU, and the remix trap of a stock desktop
//! prevented.

mod common;

use std::time::Duration;

use common::pipewire::{self, PipeWire, Setup};

const RATE: u32 = 48_000;
/// 2 s of counter after 0.5 s of silence (the links appear one by one), 0.5 s after it.
const LEAD: usize = 24_000;
const FRAMES: usize = 96_000;
const TAIL: usize = 24_000;

const ARGS: &[&str] = &[
    "--host",
    "alsa",
    "--device",
    "alsa:pipewire",
    "--channels",
    "8",
    "--rate",
    "48000",
    "--format",
    "f32",
    "--device-format",
    "f32",
    "--buffer",
    "1024",
];

/// What tapedeck's stream is called in PipeWire's graph.
const INTO: &str = "ALSA Capture:input_";

fn counter_file(dir: &std::path::Path) -> std::path::PathBuf {
    let f = dir.join("counter.wav");
    pipewire::write_counter(&f, RATE, LEAD, FRAMES, TAIL);
    f
}

#[test]
fn the_plugin_path_records_the_counter_exactly_without_spinning() {
    let pw = PipeWire::start(Setup::default());
    let tmp = tempfile::tempdir().expect("tmp");
    let take = pipewire::record_counter(&pw, None, ARGS, INTO, 8, &counter_file(tmp.path()));
    if let Err(e) = pipewire::check_counter(&take.channels, FRAMES) {
        panic!(
            "the take through alsa:pipewire is not the counter: {e}\nstderr:\n{}",
            take.stderr
        );
    }
    assert!(
        !take.stdout.contains("resampled"),
        "a take at the graph's rate was warned about resampling:\n{}",
        take.stdout
    );
    // The cpal ALSA host polled tens of thousands of times a second on this plugin and
    // used a whole core (more CPU than wall time); arecord uses almost nothing. A take at
    // a small fraction of a core leaves the graph room on a 2-core machine.
    let share = take.cpu.as_secs_f64() / take.wall.as_secs_f64();
    assert!(
        share < 0.25,
        "tapedeck used {:.2} s of CPU in {:.2} s recording through alsa:pipewire ({:.0} % of a core)",
        take.cpu.as_secs_f64(),
        take.wall.as_secs_f64(),
        share * 100.0
    );
}

/// A stock desktop has no client setting against remixing: PipeWire links an 8-channel ALSA
/// capture stream (positions FL FR RL RR FC LFE SL SR) to an AUX0..7 source as stereo and
/// upmixes it. arecord on the same setup shows the corruption; tapedeck must not have it.
#[test]
fn an_eight_channel_capture_is_not_remixed_on_a_stock_desktop() {
    common::require("arecord");
    let pw = PipeWire::start(Setup {
        stock_remix: true,
        ..Setup::default()
    });
    let tmp = tempfile::tempdir().expect("tmp");
    let raw = tmp.path().join("arecord.raw");
    let mut arecord = pipewire::Peer(
        pw.command("arecord")
            .args([
                "-q", "-D", "pipewire", "-f", "FLOAT_LE", "-c", "8", "-r", "48000",
            ])
            .args(["-t", "raw"])
            .arg(&raw)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start arecord"),
    );
    // The peer stream is linked (as stereo, by PipeWire) before tapedeck's.
    pw.wait_for_links("ALSA Capture:input_", 2, Duration::from_secs(10));
    let take = pipewire::record_counter(&pw, None, ARGS, INTO, 8, &counter_file(tmp.path()));
    let (_, _) = pipewire::stop_and_reap(&mut arecord.0);
    let bytes = std::fs::read(&raw).expect("arecord's file");
    let peer: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let peer = pipewire::deinterleave(8, &peer);
    assert!(
        pipewire::check_counter(&peer, FRAMES).is_err(),
        "arecord's 8-channel capture came through intact: this PipeWire does not remix, so the test shows nothing"
    );
    if let Err(e) = pipewire::check_counter(&take.channels, FRAMES) {
        panic!(
            "tapedeck's take on a PipeWire that remixes ALSA streams is not the counter: {e}\nstderr:\n{}",
            take.stderr
        );
    }
}

/// PipeWire resamples a stream whose rate is not the graph's, silently and not exactly:
/// tapedeck says so before the take starts, with how to set the graph's rate.
#[test]
fn a_rate_other_than_the_graphs_is_warned_before_recording() {
    let pw = PipeWire::start(Setup::default());
    let tmp = tempfile::tempdir().expect("tmp");
    let out = pw
        .tapedeck()
        .args(["record", "--host", "alsa", "--device", "alsa:pipewire"])
        .args(["--channels", "2", "--rate", "44100", "--format", "f32"])
        .args(["--duration", "1s", "--headless", "--json-status", "--dir"])
        .arg(tmp.path())
        .output()
        .expect("run tapedeck");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tapedeck failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let warned = lines.iter().position(|v| {
        v["type"] == "warning"
            && v["message"]
                .as_str()
                .is_some_and(|m| m.contains("resampled") && m.contains("48000 Hz"))
    });
    let started = lines.iter().position(|v| v["type"] == "take_started");
    match (warned, started) {
        (Some(w), Some(s)) if w < s => {}
        _ => panic!("no resampling warning before the take started:\n{stdout}"),
    }
    let message = lines[warned.unwrap_or_default()]["message"]
        .as_str()
        .unwrap_or_default();
    for needed in [
        "--rate 48000",
        "clock.force-rate 44100",
        "default.clock.rate",
    ] {
        assert!(
            message.contains(needed),
            "the warning does not say {needed:?}: {message}"
        );
    }
}
