//! PipeWire's JACK layer (`pw-jack tapedeck record --host jack`) against a private PipeWire
//! with an 8-channel test source: a counter recorded bit-exact, channels in order. And the
//! trap of a JACK server with no `system:capture_*` ports (a stock PipeWire desktop's JACK
//! layer, reproduced with a jackd that has none): inputs connected to nothing are warned
//! about before recording, with how to connect them, and the silent take in its manifest.

mod common;

use common::JackServer;
use common::pipewire::{self, PipeWire, Setup};

#[test]
fn pw_jack_records_the_counter_exactly() {
    common::require("pw-jack");
    let pw = PipeWire::start(Setup::default());
    let tmp = tempfile::tempdir().expect("tmp");
    let counter = tmp.path().join("counter.wav");
    let frames = 96_000;
    pipewire::write_counter(&counter, 48_000, 24_000, frames, 24_000);
    let args = ["--host", "jack", "--channels", "8", "--format", "f32"];
    let take = pipewire::record_counter(&pw, Some("pw-jack"), &args, "cpal_client_", 8, &counter);
    if let Err(e) = pipewire::check_counter(&take.channels, frames) {
        panic!(
            "the take through pw-jack is not the counter: {e}\nstderr:\n{}",
            take.stderr
        );
    }
    assert!(
        !take.stdout.contains("connected to nothing"),
        "every input was connected, yet tapedeck warned:\n{}",
        take.stdout
    );
}

#[test]
fn inputs_connected_to_nothing_are_warned_about() {
    // No system:capture_* ports: cpal's automatic connection has nothing to connect to.
    let server = JackServer::start(48_000, 1024, 0);
    let tmp = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(common::bin())
        .args([
            "record",
            "--host",
            "jack",
            "--channels",
            "2",
            "--format",
            "f32",
        ])
        .args([
            "--duration",
            "4s",
            "--session",
            "s",
            "--headless",
            "--json-status",
            "--dir",
        ])
        .arg(tmp.path())
        .env("JACK_DEFAULT_SERVER", &server.name)
        .env("JACK_NO_START_SERVER", "1")
        .output()
        .expect("run tapedeck");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tapedeck failed: {stderr}");
    let warning = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| {
            v["type"] == "warning"
                && v["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("connected to nothing"))
        })
        .unwrap_or_else(|| {
            panic!("no warning about unconnected inputs in --json-status:\n{stdout}")
        });
    let message = warning["message"].as_str().unwrap_or_default();
    for needed in [
        "inputs 1, 2",
        "--connect-input",
        "no system:capture_* ports",
    ] {
        assert!(
            message.contains(needed),
            "the warning does not say {needed:?}: {message}"
        );
    }
    assert!(
        stderr.contains("WARNING") && stderr.contains("connected to nothing"),
        "the warning is not on stderr:\n{stderr}"
    );
    // Three seconds into the take with nothing but zeros, the take itself is warned about:
    // in the status output and in its manifest entry.
    assert!(
        stdout.lines().any(|l| l.contains("pure digital silence")),
        "no warning about a silent take in --json-status:\n{stdout}"
    );
    let take = common::last_take(&tmp.path().join("s"));
    let warnings = take["warnings"].as_array().cloned().unwrap_or_default();
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .is_some_and(|w| w.contains("pure digital silence"))),
        "the take's manifest entry has no warning about its silence: {take}"
    );
}
