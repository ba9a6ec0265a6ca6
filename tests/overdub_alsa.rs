//! An overdub through ALSA: tapedeck plays into an ALSA pcm of `type jack` whose port feeds
//! `jack_latent_client` (a cable ALSA knows nothing of) and records from another pcm on the
//! cable's far end. Before `calibrate` the overdub is late by the cable and the plugin's
//! buffering; after it, it lands on the played take within the few frames ALSA's timestamps
//! allow (JACK and the demo are exact; tests/overdub_jack.rs, tests/calibrate.rs).

#![cfg(feature = "jack")]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::jack_cable::LatentCable;
use common::{JackServer, bin, last_take, output_within};

const RATE: u32 = 48_000;
const CABLE: u32 = 500;

fn asoundrc(home: &Path) {
    let rc = r#"pcm.cable_out {
    type plug
    slave.pcm { type jack playback_ports { 0 "latent:input" } }
    hint { show on description "playback into the latency cable" }
}
pcm.cable_in {
    type plug
    slave.pcm { type jack capture_ports { 0 "latent:output" } }
    hint { show on description "capture from the latency cable" }
}
"#;
    std::fs::create_dir_all(home).unwrap();
    std::fs::write(home.join(".asoundrc"), rc).unwrap();
}

struct Run<'a> {
    jack: &'a JackServer,
    home: &'a Path,
    config: &'a Path,
}

impl Run<'_> {
    fn tapedeck(&self, args: &[&str]) -> (bool, String) {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env("HOME", self.home)
            .env("XDG_CONFIG_HOME", self.config)
            .env("JACK_DEFAULT_SERVER", &self.jack.name)
            .env("JACK_NO_START_SERVER", "1");
        let out = output_within(&mut cmd, Duration::from_secs(60)).expect("tapedeck ran too long");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// Imports the noise into `session` and overdubs the cable over it; returns how many frames
    /// the overdub is behind the played take.
    fn overdub(&self, dir: &Path, session: &str) -> i64 {
        let noise = dir.join("noise.wav");
        if !noise.exists() {
            common::write_noise(&noise, RATE, 2 * RATE);
        }
        let d = dir.to_str().unwrap();
        let (ok, text) = self.tapedeck(&[
            "import",
            noise.to_str().unwrap(),
            "--session",
            session,
            "--dir",
            d,
        ]);
        assert!(ok, "{text}");
        let (ok, text) = self.tapedeck(&[
            "record",
            "--host",
            "alsa",
            "--device",
            "cable_in",
            "--output",
            "cable_out",
            "--separate-clocks",
            "--channels",
            "1",
            "--buffer",
            "256",
            "--headless",
            "--overdub",
            "--session",
            session,
            "--dir",
            d,
            "--track",
            "1:Return",
        ]);
        assert!(ok, "{text}");
        let s = dir.join(session);
        let take = last_take(&s);
        assert_eq!(take["kind"], "overdub");
        assert_eq!(take["latency"]["reported_by"], "alsa stream timestamps");
        let played = common::wav_samples(&s.join("take-001/01_noise_T001.wav"));
        let got = common::wav_samples(&s.join(take["tracks"][0]["file"].as_str().unwrap()));
        (-3000i64..3000)
            .find(|lag| {
                (20_000..20_200).all(|k: i64| got[(k + lag) as usize] == played[k as usize])
            })
            .unwrap_or_else(|| panic!("the overdub does not hold the played take"))
    }
}

#[test]
fn an_overdub_through_alsa_and_a_cable_is_aligned_after_calibrate() {
    common::require("jack_latent_client");
    let jack = JackServer::start(RATE, 256, 2);
    let _cable = LatentCable::start(&jack, CABLE);
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    asoundrc(&home);
    let config = tmp.path().join("config");
    let run = Run {
        jack: &jack,
        home: &home,
        config: &config,
    };
    let dir = tmp.path().join("sessions");
    std::fs::create_dir_all(&dir).unwrap();

    let before = run.overdub(&dir, "before");
    assert!(
        before >= i64::from(CABLE),
        "before calibration the overdub is late by the cable at least: {before}"
    );

    // The ALSA JACK plugin sometimes starts a stream with a period more in its buffer: the
    // repeats then disagree and calibrate says so and keeps nothing. Running it again is what
    // its message tells a user to do; twice in a row would be a failure.
    let calibrate = || {
        run.tapedeck(&[
            "calibrate",
            "--host",
            "alsa",
            "--device",
            "cable_in",
            "--output",
            "cable_out",
            "--separate-clocks",
            "--channels",
            "1",
            "--buffer",
            "256",
        ])
    };
    let (mut ok, mut text) = calibrate();
    if !ok && text.contains("not the same at each repeat") {
        (ok, text) = calibrate();
    }
    assert!(ok, "calibrate:\n{text}");
    assert!(text.contains("ALSA's timestamps are approximate"), "{text}");

    // ALSA's timestamps allow a few frames; 0.2 ms is what calibrate accepts from its repeats.
    let tolerance = i64::from(RATE / 5000);
    for session in ["after-1", "after-2"] {
        let lag = run.overdub(&dir, session);
        assert!(
            lag.abs() <= tolerance,
            "after calibration the overdub is {lag} frames off (before: {before})"
        );
    }
}
