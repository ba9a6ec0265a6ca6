//! PipeWire's own API (`--host pipewire`, a tapedeck built with the `pipewire` feature)
//! against a private PipeWire: `devices` names the nodes as the desktop does, a counter is
//! recorded bit-exact with its channels in order from a node-pinned stream, and the take ends
//! cleanly (cpal reports the device as gone when such a stream is dropped: not a lost device).
#![cfg(feature = "pipewire")]

mod common;

use common::pipewire::{self, PipeWire, Setup};

#[test]
fn devices_name_pipewire_nodes_as_the_desktop_does() {
    let pw = PipeWire::start(Setup::default());
    let out = pw
        .tapedeck()
        .args(["devices", "--host", "pipewire", "--json"])
        .output()
        .expect("run tapedeck devices");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let mic = list
        .as_array()
        .expect("a list")
        .iter()
        .find(|d| d["id"] == "pipewire:test-mic")
        .unwrap_or_else(|| panic!("no pipewire:test-mic in {list:#}"));
    assert_eq!(mic["name"], "Test Mic 8ch");
    assert!(
        mic["channels"]
            .as_array()
            .is_some_and(|c| c.iter().any(|n| n == 8)),
        "{mic}"
    );
}

#[test]
fn the_native_host_records_the_counter_exactly() {
    let pw = PipeWire::start(Setup::default());
    let tmp = tempfile::tempdir().expect("tmp");
    let counter = tmp.path().join("counter.wav");
    let frames = 96_000;
    pipewire::write_counter(&counter, 48_000, 24_000, frames, 24_000);
    let args = [
        "--host",
        "pipewire",
        "--device",
        "pipewire:test-mic",
        "--channels",
        "8",
        "--format",
        "f32",
        "--device-format",
        "f32",
    ];
    let take = pipewire::record_counter(&pw, None, &args, "tapedeck:input_", 8, &counter);
    if let Err(e) = pipewire::check_counter(&take.channels, frames) {
        panic!(
            "the take through PipeWire's own API is not the counter: {e}\nstderr:\n{}",
            take.stderr
        );
    }
    assert_eq!(take.take["end_reason"], "signal", "{}", take.take);
    assert!(
        !take.stderr.to_lowercase().contains("disconnected")
            && !take.stderr.contains("device_lost"),
        "the stream's end was reported as a lost device:\n{}",
        take.stderr
    );
}

#[test]
fn the_native_host_plays_the_song_exactly() {
    use std::time::Duration;
    let pw = PipeWire::start(Setup::default());
    let tmp = tempfile::tempdir().expect("tmp");
    let frames = 96_000;
    let song = tmp.path().join("counter.wav");
    // Half a second of silence after the counter: `play` stops at the song's end.
    pipewire::write_counter_of(2, &song, 48_000, 0, frames, 24_000);
    let dir = tmp.path().join("sessions");
    std::fs::create_dir(&dir).expect("sessions dir");
    let d = dir.to_str().expect("utf-8 path");
    let (code, _, err) = common::run(
        &[
            "import",
            song.to_str().expect("utf-8 path"),
            "--session",
            "s",
            "--dir",
            d,
        ],
        &[],
    );
    assert_eq!(code, 0, "import failed: {err}");
    let monitor = tmp.path().join("monitor.wav");
    let mut recorder = pipewire::Peer(pw.spawn_recorder(pipewire::SINK, &monitor));
    pw.wait_for_links("pw-cat:input_", 8, Duration::from_secs(10));
    let out = pw
        .tapedeck()
        .args([
            "play",
            "s",
            "--host",
            "pipewire",
            "--output",
            "pipewire:test-sink",
        ])
        .args(["--dir", d])
        .output()
        .expect("run tapedeck play");
    assert!(
        out.status.success(),
        "tapedeck play failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(300));
    let (_, _) = pipewire::stop_and_reap(&mut recorder.0);
    let (width, samples) = pipewire::read_f32(&monitor);
    let channels = pipewire::deinterleave(width, &samples);
    if let Err(e) = pipewire::check_counter_of(2, &channels, frames) {
        panic!("the sink's monitor did not hear the song exactly: {e}");
    }
}
