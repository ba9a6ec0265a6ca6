//! Playback through PipeWire: `tapedeck play` on PipeWire's ALSA plugin into an 8-channel
//! test sink, checked on the sink's monitor: a stereo counter arrives bit-exact on the sink's
//! first two channels, in order, and nothing on the others.

mod common;

use std::time::Duration;

use common::pipewire::{self, Peer, PipeWire, Setup};

#[test]
fn the_song_plays_exactly_through_pipewire() {
    let pw = PipeWire::start(Setup::default());
    let tmp = tempfile::tempdir().expect("tmp");
    let frames = 96_000;
    let song = tmp.path().join("counter.wav");
    // The song ends with half a second of silence: `play` stops at the song's end without
    // waiting for the device to play what it holds (up to a period is not heard).
    pipewire::write_counter_of(2, &song, 48_000, 0, frames, 24_000);
    let dir = tmp.path().join("sessions");
    std::fs::create_dir(&dir).expect("sessions dir");
    let (code, _, err) = common::run(
        &[
            "import",
            song.to_str().expect("utf-8 path"),
            "--session",
            "s",
            "--dir",
        ]
        .into_iter()
        .chain([dir.to_str().expect("utf-8 path")])
        .collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(code, 0, "import failed: {err}");

    let monitor = tmp.path().join("monitor.wav");
    let mut recorder = Peer(pw.spawn_recorder(pipewire::SINK, &monitor));
    pw.wait_for_links("pw-cat:input_", 8, Duration::from_secs(10));
    // PipeWire's ALSA plugin plays to the node PIPEWIRE_NODE names.
    let out = pw
        .tapedeck()
        .args([
            "play",
            "s",
            "--host",
            "alsa",
            "--output",
            "alsa:pipewire",
            "--dir",
        ])
        .arg(&dir)
        .env("PIPEWIRE_NODE", pipewire::SINK)
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
    assert_eq!(
        width,
        pipewire::CHANNELS,
        "the monitor recording's channels"
    );
    let channels = pipewire::deinterleave(width, &samples);
    if let Err(e) = pipewire::check_counter_of(2, &channels, frames) {
        let start = (0..channels[0].len())
            .find(|&i| channels[0][i] != 0.0 || channels[1][i] != 0.0)
            .unwrap_or(0);
        let first: Vec<String> = (start..(start + 4).min(channels[0].len()))
            .map(|i| {
                format!(
                    "{}/{}",
                    channels[0][i] * 8_388_608.0,
                    channels[1][i] * 8_388_608.0
                )
            })
            .collect();
        panic!(
            "the sink's monitor did not hear the song exactly: {e}; its first frames (L/R, in counter steps, expected 1/2 3/4 ...): {}",
            first.join(" ")
        );
    }
}
