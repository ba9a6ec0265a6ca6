//! An overdub through PipeWire (its JACK layer, `pw-jack`): tapedeck plays the song into the
//! test source's feed (a cable inside PipeWire's graph: test-mic-in loops back as test-mic,
//! which the recorder hears as `system:capture_*`), `tapedeck calibrate` measures the round
//! trip, and the overdub then holds the played take sample for sample at lag 0.

mod common;

use std::process::Command;
use std::time::Duration;

use common::pipewire::{PipeWire, Setup};

const RATE: u32 = 48_000;
const FEED: [&str; 2] = [
    "Test Mic 8ch (feed):playback_AUX0",
    "Test Mic 8ch (feed):playback_AUX1",
];

fn run(pw: &PipeWire, args: &[&str]) -> String {
    let mut cmd: Command = pw.command("pw-jack");
    cmd.arg(common::bin()).args(args);
    let out =
        common::output_within(&mut cmd, Duration::from_secs(60)).expect("tapedeck ran too long");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "tapedeck {args:?} failed:\n{text}");
    text
}

fn with_outputs<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    for port in FEED {
        v.extend(["--connect-output", port]);
    }
    v
}

#[test]
fn an_overdub_through_pipewire_is_aligned_after_calibrate() {
    common::require("pw-jack");
    let pw = PipeWire::start(Setup::default());
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("sessions");
    std::fs::create_dir(&dir).expect("sessions dir");
    let d = dir.to_str().expect("utf-8 path");
    let noise = tmp.path().join("noise.wav");
    common::write_noise(&noise, RATE, 2 * RATE);
    let noise_arg = noise.to_str().expect("utf-8 path");
    run(&pw, &["import", noise_arg, "--session", "s", "--dir", d]);

    let said = run(
        &pw,
        &with_outputs(&["calibrate", "--host", "jack", "--channels", "1"]),
    );
    assert!(said.contains("round trip"), "calibrate said:\n{said}");

    run(
        &pw,
        &with_outputs(&[
            "record",
            "--host",
            "jack",
            "--channels",
            "1",
            "--headless",
            "--overdub",
            "--session",
            "s",
            "--dir",
            d,
            "--track",
            "1:Return",
        ]),
    );
    let s = dir.join("s");
    let take = common::last_take(&s);
    assert_eq!(take["kind"], "overdub", "{take}");
    let played = common::wav_samples(&s.join("take-001/01_noise_T001.wav"));
    let file = take["tracks"][0]["file"]
        .as_str()
        .expect("the overdub's file");
    let got = common::wav_samples(&s.join(file));
    let lag = lag_of(&played, &got);
    assert_eq!(
        lag,
        Some(0),
        "the overdub is not aligned with the song (lag {lag:?} frames); calibrate said:\n{said}"
    );
}

/// The lag (frames) at which the recording holds a stretch of the played take exactly.
fn lag_of(played: &[i32], got: &[i32]) -> Option<i64> {
    (-3000i64..3000).find(|lag| {
        (20_000i64..20_200).all(|k| {
            usize::try_from(k + lag)
                .ok()
                .and_then(|i| got.get(i))
                .is_some_and(|g| *g == played[k as usize])
        })
    })
}
