//! Bad input around the song, through the real binary on the demo interface: an output that
//! does not exist, an output that cannot play the session's rate, a take's file missing or
//! cut short (the rest still plays, the file is named), a place past the song's end, a session
//! recorded at another rate. Each gets a clear message, the right exit status, and nothing
//! recorded is lost or changed.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::bin;

fn run(args: &[&str], config: &Path) -> Output {
    Command::new(bin())
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tone(path: &Path, rate: u32, seconds: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for k in 0..rate * seconds {
        w.write_sample(((k % 100) as i16 - 50) * 100).unwrap();
    }
    w.finalize().unwrap();
}

/// A 48 kHz session of two imported tracks.
fn session(dir: &Path, config: &Path) -> std::path::PathBuf {
    for name in ["a", "b"] {
        tone(&dir.join(format!("{name}.wav")), 48_000, 2);
    }
    let d = dir.to_str().unwrap();
    let o = run(
        &[
            "import",
            dir.join("a.wav").to_str().unwrap(),
            dir.join("b.wav").to_str().unwrap(),
            "--session",
            "song",
            "--dir",
            d,
        ],
        config,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    dir.join("song")
}

#[test]
fn an_output_that_does_not_exist_is_named_with_the_ones_that_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let s = session(dir.path(), config.path());
    let before = std::fs::read_to_string(s.join("session.json")).unwrap();
    let d = dir.path().to_str().unwrap();
    let o = run(
        &[
            "demo",
            "--headless",
            "--overdub",
            "--session",
            "song",
            "--dir",
            d,
            "--output",
            "nosuch",
        ],
        config.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("no output device \"nosuch\""), "{e}");
    assert!(
        e.contains("custom:demo"),
        "the message lists the outputs there are: {e}"
    );
    assert_eq!(
        std::fs::read_to_string(s.join("session.json")).unwrap(),
        before
    );
    let o = run(
        &[
            "play", "song", "--dir", d, "--host", "demo", "--output", "nosuch",
        ],
        config.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn an_output_that_cannot_play_the_sessions_rate_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    tone(&dir.path().join("slow.wav"), 22_050, 1);
    let d = dir.path().to_str().unwrap();
    let o = run(
        &[
            "import",
            dir.path().join("slow.wav").to_str().unwrap(),
            "--session",
            "slow",
            "--dir",
            d,
        ],
        config.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        &["play", "slow", "--dir", d, "--host", "demo"],
        config.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("cannot play at 22050 Hz"), "{e}");
}

#[test]
fn a_missing_or_short_file_is_named_and_the_rest_plays() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let s = session(dir.path(), config.path());
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("session.json")).unwrap()).unwrap();
    let a = s.join(m["takes"][0]["tracks"][0]["file"].as_str().unwrap());
    let b = s.join(m["takes"][0]["tracks"][1]["file"].as_str().unwrap());
    std::fs::remove_file(&a).unwrap();
    // Cut b short: half its audio gone.
    let len = std::fs::metadata(&b).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&b)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let d = dir.path().to_str().unwrap();
    let o = run(
        &[
            "play",
            "song",
            "--dir",
            d,
            "--host",
            "demo",
            "--duration",
            "1s",
        ],
        config.path(),
    );
    let e = stderr(&o);
    assert!(o.status.success(), "the rest plays: {e}");
    assert!(
        e.contains(a.file_name().unwrap().to_str().unwrap()),
        "names the missing file: {e}"
    );
    assert!(
        e.contains(b.file_name().unwrap().to_str().unwrap()),
        "names the short file: {e}"
    );
    assert!(e.contains("stopped at"), "{e}");
}

#[test]
fn a_place_past_the_end_and_a_session_at_another_rate_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let s = session(dir.path(), config.path());
    let before = std::fs::read_to_string(s.join("session.json")).unwrap();
    let d = dir.path().to_str().unwrap();
    let o = run(
        &[
            "play", "song", "--dir", d, "--host", "demo", "--from", "10:00",
        ],
        config.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("past the song's end"), "{}", stderr(&o));
    let o = run(
        &[
            "demo",
            "--headless",
            "--overdub",
            "--session",
            "song",
            "--dir",
            d,
            "--from",
            "10:00",
        ],
        config.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("past the song's end"), "{}", stderr(&o));
    let o = run(
        &[
            "demo",
            "--headless",
            "--overdub",
            "--session",
            "song",
            "--dir",
            d,
            "--rate",
            "44100",
        ],
        config.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is recorded at 48000 Hz"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(s.join("session.json")).unwrap(),
        before
    );
}
