//! `record --serve` as a service: it waits between takes, ignores SIGHUP, and SIGTERM in the
//! middle of a take finishes its files, exits 0 and removes the socket.

mod common;

use std::time::Duration;

use common::control::serve_demo;
use common::{last_take, soxi, take_files};

#[test]
fn sigterm_mid_take_finishes_it_exits_0_and_removes_the_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rec = serve_demo(dir.path(), "svc", &[], &[]);
    // Waits between takes: nothing is recorded until asked.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!rec.session_dir.join("take-001").exists());
    let (code, _, err) = rec.ctl(&["record"]);
    assert_eq!(code, 0, "{err}");
    // A hangup is not the end of a service.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &rec.child.id().to_string()])
            .status()
            .expect("kill")
            .success()
    );
    std::thread::sleep(Duration::from_millis(1000));
    let (code, out, err) = rec.ctl(&["status"]);
    assert_eq!(code, 0, "after SIGHUP: {err}");
    assert!(out.starts_with("REC take 1"), "{out}");

    let status = rec.signal_and_wait("TERM");
    assert_eq!(status.code(), Some(0), "{}", rec.stderr_text());
    assert!(!rec.socket.exists(), "the socket is removed");
    let take = last_take(&rec.session_dir);
    assert_eq!(take["end_reason"], "signal");
    let frames = take["length_frames"].as_u64().expect("frames");
    assert!(frames > 48_000, "{take}");
    let files = take_files(&rec.session_dir, &take);
    assert_eq!(files.len(), 4);
    for (_, f) in files {
        assert_eq!(soxi(&f), (frames, 48_000));
    }
    // Printed like headless: the take's start and end as JSON lines.
    let out = rec.stdout_text();
    assert!(out.contains("\"type\":\"take_started\""), "{out}");
    assert!(out.contains("\"type\":\"take_finished\""), "{out}");
}

#[test]
fn a_second_recorder_on_a_live_socket_is_refused_and_a_stale_one_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = serve_demo(dir.path(), "one", &[], &[]);
    // Another session, the same socket: --serve needs it, so it is an error before recording.
    let (code, _, err) = common::run(
        &[
            "demo",
            "--serve",
            "--channels",
            "2",
            "--session",
            "two",
            "--dir",
            &dir.path().to_string_lossy(),
            "--control-socket",
            &first.socket.to_string_lossy(),
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the tapedeck recorder of session one (pid"),
        "{err}"
    );
    assert!(!dir.path().join("two").join("take-001").exists());
    // Killed outright, the first leaves its socket behind; the next recorder replaces it.
    let _ = first.child.kill();
    let _ = first.child.wait();
    assert!(first.socket.exists());
    let mut again = serve_demo(dir.path(), "one", &[], &[]);
    assert_eq!(again.ctl(&["status"]).0, 0);
    assert_eq!(again.signal_and_wait("TERM").code(), Some(0));
}
