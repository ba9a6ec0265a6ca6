//! The studio box as a service: a recorder started with no terminal of its own survives the
//! SSH-like session that started it ending, records the takes it is told to through its
//! control socket, runs the take-end hooks (a failing one is reported on the event stream and
//! in the manifest, and the next take records), and stops cleanly on SIGTERM, from a shell or
//! from a supervisor.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::tmux::Tmux;
use common::{bin, read_json, soxi};

/// A folder for the recorder's control socket, as `XDG_RUNTIME_DIR` would be (0700).
fn runtime_dir(tmp: &Path) -> PathBuf {
    let run = tmp.join("run");
    std::fs::create_dir_all(&run).expect("run dir");
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).expect("chmod 700");
    run
}

/// `tapedeck ctl --session SESSION ARGS...` with the test's runtime folder.
fn ctl(run: &Path, session: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .env("XDG_RUNTIME_DIR", run)
        .args(["ctl", "--session", session])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("tapedeck ctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ctl_ok(run: &Path, session: &str, args: &[&str]) -> String {
    let (code, out, err) = ctl(run, session, args);
    assert_eq!(code, 0, "ctl {args:?}: {out}{err}");
    out
}

fn wait_until(what: &str, secs: u64, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alive(pid: i32) -> bool {
    // A process that died but was not reaped (its parent gone too) is a zombie: not alive.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().chars().next())
        })
        .flatten()
        .is_some_and(|state| state != 'Z' && state != 'X')
}

/// The status line as JSON (`ctl status --json`).
fn status(run: &Path, session: &str) -> serde_json::Value {
    serde_json::from_str(ctl_ok(run, session, &["status", "--json"]).trim()).expect("status JSON")
}

/// Records a take of about `secs` through the socket and waits for it to end.
fn record_a_take(run: &Path, session: &str, secs: f64) {
    ctl_ok(run, session, &["record"]);
    wait_until("the take to start", 20, || {
        !status(run, session)["take"].is_null()
    });
    std::thread::sleep(Duration::from_secs_f64(secs));
    ctl_ok(run, session, &["stop"]);
    wait_until("the take to end", 20, || {
        status(run, session)["take"].is_null()
    });
}

fn notes(session_dir: &Path) -> Vec<String> {
    read_json(&session_dir.join("session.json"))["notes"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(|n| n["text"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every file of `take` reads back at the length the manifest gives.
fn check_take_files(session_dir: &Path, take: &serde_json::Value) {
    let frames = take["length_frames"].as_u64().expect("length_frames");
    assert!(frames > 0, "{take}");
    for t in take["tracks"].as_array().expect("tracks") {
        let file = session_dir.join(t["file"].as_str().expect("file"));
        assert_eq!(soxi(&file).0, frames, "{}", file.display());
    }
}

#[test]
fn a_served_recorder_outlives_its_session_runs_hooks_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let run = runtime_dir(tmp.path());
    let dir = tmp.path().join("rec");
    std::fs::create_dir_all(&dir).expect("dir");
    let session = "Box";
    let session_dir = dir.join(session);

    // An interactive shell in a terminal, as an SSH login gives; the recorder is started from
    // it as a background job, with no nohup or setsid.
    let tmux = Tmux::new("service");
    tmux.start("bash --norc --noprofile -i");
    let pid_file = tmp.path().join("pid");
    tmux.keys(&[
        &format!(
            "export XDG_RUNTIME_DIR={run}; {bin} demo --serve --dir {dir} --session {session} \
             --on-take-end 'exit 7' --on-take-end 'echo copied \"$1\"' 2>{err} & echo $! > {pid}; \
             sleep 1000 & echo $! > {pid}.sleep",
            run = run.display(),
            bin = bin(),
            dir = dir.display(),
            err = tmp.path().join("stderr").display(),
            pid = pid_file.display(),
        ),
        "Enter",
    ]);
    wait_until("the recorder's socket", 30, || {
        ctl(&run, session, &["status", "--json"]).0 == 0
    });
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .trim()
        .parse()
        .expect("pid number");

    // The session ends: the terminal goes away and the shell hangs up its jobs.
    let killed = tmux.cmd().arg("kill-server").status().expect("kill-server");
    assert!(killed.success());
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        alive(pid),
        "the recorder died with the session that started it"
    );
    assert!(status(&run, session)["take"].is_null());

    // Take 1: both hooks run; the failing one is noted, the other one's output is logged.
    record_a_take(&run, session, 1.5);
    wait_until("take 1's hooks", 30, || {
        notes(&session_dir)
            .iter()
            .filter(|n| n.starts_with("take 1: the take-end hook"))
            .count()
            == 2
    });
    let n = notes(&session_dir);
    assert!(
        n.iter()
            .any(|n| n.contains("`exit 7` failed with exit status 7")),
        "{n:?}"
    );
    let log = std::fs::read_to_string(session_dir.join("hooks.log")).expect("hooks.log");
    assert!(
        log.contains(&format!(
            "copied {}",
            session_dir.join("take-001").display()
        )),
        "{log}"
    );

    // Take 2, watched on the event stream: the hook's failure arrives as a warning.
    let mut events = Command::new(bin())
        .env("XDG_RUNTIME_DIR", &run)
        .args(["ctl", "--session", session, "events"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ctl events");
    let (tx, rx) = mpsc::channel();
    let stdout = events.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    record_a_take(&run, session, 1.5);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let warned = loop {
        let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            break false;
        };
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let hit = v["type"] == "warning"
            && v["message"]
                .as_str()
                .is_some_and(|m| m.contains("take 2: the take-end hook `exit 7` failed"));
        seen.push(line);
        if hit {
            break true;
        }
    };
    let _ = events.kill();
    let _ = events.wait();
    assert!(warned, "no warning about take 2's hook in: {seen:#?}");

    // Take 3 is recording when SIGTERM arrives: it is finished, the recorder exits, its
    // socket is gone.
    ctl_ok(&run, session, &["record"]);
    wait_until("take 3 to start", 20, || {
        status(&run, session)["take"].as_u64() == Some(3)
    });
    std::thread::sleep(Duration::from_secs(1));
    // SAFETY: a plain signal to the recorder's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    wait_until("the recorder to exit", 60, || !alive(pid));
    assert!(
        !run.join("tapedeck")
            .join(format!("{session}.sock"))
            .exists(),
        "the socket file was left behind"
    );
    let m = read_json(&session_dir.join("session.json"));
    let takes = m["takes"].as_array().expect("takes");
    assert_eq!(takes.len(), 3, "{m}");
    for t in takes {
        assert_eq!(t["state"], "complete", "{t}");
        assert_eq!(t["dropouts"].as_array().map(Vec::len), Some(0), "{t}");
        check_take_files(&session_dir, t);
    }
    assert_eq!(takes[0]["end_reason"], "stopped");
    assert_eq!(takes[2]["end_reason"], "signal");
    // Take 3's hooks ran before the recorder exited.
    wait_until("take 3's hook notes", 5, || {
        notes(&session_dir)
            .iter()
            .any(|n| n.starts_with("take 3: the take-end hook `exit 7`"))
    });
}

/// systemd's own tools where systemd runs; Debian's start-stop-daemon elsewhere.
#[test]
fn a_supervisor_starts_it_without_a_terminal_and_stops_it_with_sigterm() {
    let systemd = Command::new("systemctl")
        .args(["--user", "is-system-running"])
        .output()
        .map(|o| !o.stdout.is_empty() && !String::from_utf8_lossy(&o.stdout).contains("offline"))
        .unwrap_or(false)
        && Path::new("/run/systemd/system").is_dir();
    if systemd {
        eprintln!("systemd runs here: the unit is started with systemd-run --user");
    } else {
        eprintln!(
            "systemd is not running on this machine (no /run/systemd/system): the recorder is \
             supervised by start-stop-daemon instead of systemd-run --user"
        );
        common::require("start-stop-daemon");
    }
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let run = runtime_dir(tmp.path());
    let dir = tmp.path().join("rec");
    std::fs::create_dir_all(&dir).expect("dir");
    let session = "Supervised";
    let session_dir = dir.join(session);
    let log = tmp.path().join("service.log");
    let pid_file = tmp.path().join("tapedeck.pid");
    let dir_s = dir.display().to_string();
    let recorder = [
        "demo",
        "--serve",
        "--record",
        "--json-status",
        "--dir",
        &dir_s,
        "--session",
        session,
    ];
    let unit = format!("tapedeck-test-{}", std::process::id());
    let started = if systemd {
        Command::new("systemd-run")
            .args(["--user", "--unit", &unit, "--setenv"])
            .arg(format!("XDG_RUNTIME_DIR={}", run.display()))
            .arg(bin())
            .args(recorder)
            .status()
    } else {
        Command::new("start-stop-daemon")
            .args(["--start", "--background", "--make-pidfile", "--pidfile"])
            .arg(&pid_file)
            .arg("--output")
            .arg(&log)
            .arg("--exec")
            .arg(bin())
            .arg("--")
            .args(recorder)
            .env("XDG_RUNTIME_DIR", &run)
            .stdin(Stdio::null())
            .status()
    }
    .expect("start the service");
    assert!(started.success());
    wait_until("the take the service starts with", 30, || {
        ctl(&run, session, &["status", "--json"]).0 == 0
            && status(&run, session)["take"].as_u64() == Some(1)
    });
    std::thread::sleep(Duration::from_secs(1));
    let stopped = if systemd {
        Command::new("systemctl")
            .args(["--user", "stop", &unit])
            .status()
    } else {
        // TERM, then wait up to 60 s for it to be gone: exit 0 only if it went.
        Command::new("start-stop-daemon")
            .args(["--stop", "--signal", "TERM", "--retry", "60", "--pidfile"])
            .arg(&pid_file)
            .status()
    }
    .expect("stop the service");
    assert!(stopped.success(), "the service did not stop on SIGTERM");
    let m = read_json(&session_dir.join("session.json"));
    let take = &m["takes"][0];
    assert_eq!(take["state"], "complete", "{m}");
    assert_eq!(take["end_reason"], "signal", "{m}");
    check_take_files(&session_dir, take);
    if !systemd {
        // Its stdout went to the log: the JSON event lines of a take that started and ended.
        let text = std::fs::read_to_string(&log).expect("service log");
        assert!(text.contains(r#""type":"take_started""#), "{text}");
        assert!(text.contains(r#""type":"take_finished""#), "{text}");
    }
}
