//! `tapedeck attach` in a real terminal: a headless recorder (`tapedeck demo --serve`) runs in
//! the background, tmux runs `tapedeck attach` at 80×24 and the test types like a user would.
//! Quitting the attached screen leaves the recorder recording; the take is then stopped from a
//! second attached screen, and the manifest must hold what the keys did.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::tmux::Tmux;
use common::{last_take, soxi, take_files};

fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen.lines().find(|l| l.contains(needle)).unwrap_or("")
}

/// A `demo --serve` recorder with its own runtime folder (where its socket goes); killed on
/// drop if the test did not stop it.
struct Recorder {
    child: Child,
    runtime: PathBuf,
    session: String,
}

impl Recorder {
    fn start(tmp: &Path, session: &str) -> Self {
        let runtime = tmp.join("run");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
            .expect("chmod runtime dir");
        let child = Command::new(common::bin())
            .args(["demo", "--serve", "--dir"])
            .arg(tmp)
            .args(["--session", session])
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(tmp.join("recorder.out")).expect("log"))
            .stderr(std::fs::File::create(tmp.join("recorder.err")).expect("log"))
            .spawn()
            .expect("start the recorder");
        let r = Self {
            child,
            runtime,
            session: session.to_string(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !r.socket().exists() {
            assert!(
                Instant::now() < deadline,
                "the recorder's socket {} did not appear; its stderr:\n{}",
                r.socket().display(),
                std::fs::read_to_string(tmp.join("recorder.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        r
    }

    fn socket(&self) -> PathBuf {
        self.runtime
            .join("tapedeck")
            .join(format!("{}.sock", self.session))
    }

    /// A shell command line running `tapedeck attach` against this recorder's runtime folder.
    fn attach_cmd(&self, args: &str) -> String {
        format!(
            "env XDG_RUNTIME_DIR={} {} attach {args}; echo EXIT=$?; sleep 60",
            self.runtime.display(),
            common::bin()
        )
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, as a service is stopped: the exit status.
    fn terminate(&mut self) -> i32 {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "the recorder did not end on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The take folder's WAV bytes on disk.
fn bytes_in(folder: &Path) -> u64 {
    std::fs::read_dir(folder)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The minutes:seconds the screen shows for the take being recorded ("● REC 0:00:07").
fn rec_seconds(screen: &str) -> Option<u64> {
    let at = screen.find("● REC ")? + "● REC ".len();
    let hms: Vec<u64> = screen[at..]
        .split_whitespace()
        .next()?
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    Some(hms.iter().fold(0, |acc, v| acc * 60 + v))
}

#[test]
fn attach_drives_a_headless_recorder_and_quitting_leaves_it_recording() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let mut rec = Recorder::start(dir, "att");
    let t = Tmux::new("attach");
    t.start(&rec.attach_cmd(&format!("--socket {}", rec.socket().display())));

    // Its tracks, between takes, and which recorder this is.
    let s = t.wait_for("the attached screen", 20, |s| {
        s.contains("STOPPED") && s.contains("08 Keys")
    });
    let pid = rec.child.id();
    assert!(
        s.lines()
            .next()
            .is_some_and(|l| l.contains("att") && l.contains(&format!("attached pid {pid}"))),
        "the header names the recorder:\n{s}"
    );
    // The meters move: the kick's line changes between screens.
    let first = line_with(&s, "01 Kick+Snare").to_string();
    t.wait_for("the kick's meter to move", 10, |s| {
        let now = line_with(s, "01 Kick+Snare");
        !now.is_empty() && now != first
    });

    // Disarm all, arm 1 and 2, arm and disarm 3.
    t.keys(&["a"]);
    t.wait_for("all tracks disarmed", 5, |s| {
        line_with(s, "01 Kick+Snare").contains('○') && line_with(s, "08 Keys").contains('○')
    });
    t.keys(&["1", "2", "3"]);
    t.wait_for("tracks 1, 2 and 3 armed", 5, |s| {
        ["01 Kick+Snare", "02 Bass DI", "03 Guitar DI"]
            .iter()
            .all(|n| line_with(s, n).contains('●'))
    });
    t.keys(&["3"]);
    let s = t.wait_for("track 3 disarmed again", 5, |s| {
        line_with(s, "03 Guitar DI").contains('○')
    });
    // Held by the recorder, not only shown: a fresh snapshot after the pending time.
    std::thread::sleep(Duration::from_millis(800));
    let s2 = t.screen();
    for (name, armed) in [
        ("01 Kick+Snare", true),
        ("02 Bass DI", true),
        ("03 Guitar DI", false),
        ("08 Keys", false),
    ] {
        let mark = if armed { '●' } else { '○' };
        assert!(line_with(&s2, name).contains(mark), "{name}:\n{s}\n{s2}");
    }

    // Record, drop a marker.
    t.keys(&["r"]);
    t.wait_for("REC", 10, |s| s.contains("● REC") && s.contains("take 1"));
    t.wait_for("2 seconds of recording", 10, |s| {
        rec_seconds(s).is_some_and(|n| n >= 2)
    });
    t.keys(&["m"]);
    t.wait_for("the marker", 5, |s| s.contains("marker dropped"));

    // Quit: the dialog says the take goes on; y quits the screen only.
    t.keys(&["q"]);
    t.wait_for("the quit dialog", 5, |s| {
        s.contains("The take goes on recording.")
    });
    t.keys(&["y"]);
    let s = t.wait_for("attach to exit", 15, |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0"), "{s}");
    // (The line may wrap at 80 columns.)
    assert!(
        s.replace('\n', "")
            .contains("goes on running, recording take 1"),
        "the last line says the recorder goes on:\n{s}"
    );
    let quit_at = Instant::now();

    // The recorder goes on recording: its files keep growing.
    assert!(rec.alive(), "the recorder ended with the attached screen");
    let folder = dir.join("att").join("take-001");
    let before = bytes_in(&folder);
    std::thread::sleep(Duration::from_millis(1500));
    let after = bytes_in(&folder);
    assert!(
        after > before,
        "the take stopped growing: {before} -> {after}"
    );
    // And as the recorder says it, through `tapedeck ctl`.
    let status = |rec: &Recorder| {
        let out = Command::new(common::bin())
            .args(["ctl", "--socket"])
            .arg(rec.socket())
            .args(["status", "--json"])
            .output()
            .expect("tapedeck ctl status");
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("a JSON status line")
    };
    let first = status(&rec);
    std::thread::sleep(Duration::from_millis(600));
    let second = status(&rec);
    assert_eq!(first["take"], 1, "{first}");
    assert_eq!(second["take"], 1, "{second}");
    assert!(
        second["frames"].as_u64() > first["frames"].as_u64(),
        "{first}\n{second}"
    );

    // Re-attach (found by session name this time): the take is still running, further on.
    let ok = t
        .cmd()
        .args(["respawn-pane", "-k", "-t", "t"])
        .arg(rec.attach_cmd("--session att"))
        .status()
        .expect("tmux respawn-pane");
    assert!(ok.success());
    let s = t.wait_for("the take on the second screen", 20, |s| {
        s.contains("● REC") && s.contains("take 1")
    });
    let shown = rec_seconds(&s).unwrap_or(0);
    assert!(
        shown >= 2 + quit_at.elapsed().as_secs().saturating_sub(1),
        "the take did not go on while detached:\n{s}"
    );
    // Stop it with its key, then leave.
    let detached = quit_at.elapsed().as_secs_f64();
    t.keys(&["s"]);
    // (The take's end is an event, pushed apart from the snapshots: it may come a little
    // after the screen shows STOPPED.)
    t.wait_for("STOPPED and the take's end", 10, |s| {
        s.contains("STOPPED") && s.contains("next take 2") && s.contains("take 1 done")
    });
    t.keys(&["q"]);
    let s = t.wait_for("attach to exit", 15, |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0"), "{s}");
    assert!(s.replace('\n', "").contains("between takes"), "{s}");

    // The service stops cleanly on SIGTERM.
    assert_eq!(rec.terminate(), 0);

    // The take: the marker, exactly the armed tracks, stopped by its key.
    let session = dir.join("att");
    let take = last_take(&session);
    assert_eq!(take["end_reason"], "stopped", "{take:#}");
    assert_eq!(
        take["markers"].as_array().map(Vec::len),
        Some(1),
        "{take:#}"
    );
    let files = take_files(&session, &take);
    let inputs: Vec<u64> = files.iter().map(|(i, _)| *i).collect();
    assert_eq!(inputs, [1, 2], "{take:#}");
    let lengths: Vec<u64> = files.iter().map(|(_, p)| soxi(p).0).collect();
    assert_eq!(lengths[0], lengths[1]);
    assert_eq!(take["length_frames"].as_u64(), Some(lengths[0]));
    // At least the 2 s before the quit and the time nobody was attached.
    let secs = lengths[0] as f64 / 48_000.0;
    assert!(
        secs >= 2.0 + detached - 0.3,
        "take length {secs} s, {detached:.1} s of it detached"
    );
}

#[test]
fn attach_to_nothing_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runtime = tmp.path().join("run");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
        .expect("chmod runtime dir");
    for args in [
        vec!["attach".to_string()],
        vec!["attach".to_string(), "--session".into(), "nope".into()],
        vec![
            "attach".to_string(),
            "--socket".into(),
            tmp.path().join("nope.sock").display().to_string(),
        ],
    ] {
        let out = Command::new(common::bin())
            .args(&args)
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdin(Stdio::null())
            .output()
            .expect("run attach");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.starts_with("tapedeck: no recorder"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_recorder_killed_while_attached_ends_the_screen_with_status_3() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut rec = Recorder::start(tmp.path(), "gone");
    let t = Tmux::new("attach-gone");
    t.start(&rec.attach_cmd("--session gone"));
    t.wait_for("the attached screen", 20, |s| {
        s.contains("STOPPED") && s.contains("08 Keys")
    });
    t.keys(&["r"]);
    let s = t.wait_for("REC", 10, |s| s.contains("● REC") && s.contains("take 1"));
    let at_hangup = rec_seconds(&s).unwrap_or(0);

    // The attached terminal goes away (SIGHUP, as when SSH drops): the screen ends, the
    // recorder and its take go on. tmux's respawn-pane -k hangs up the pane's processes.
    let pane = t
        .cmd()
        .args(["display-message", "-p", "-t", "t", "#{pane_pid}"])
        .output()
        .expect("tmux display");
    let shell = String::from_utf8_lossy(&pane.stdout).trim().to_string();
    assert!(!shell.is_empty());
    let ok = t
        .cmd()
        .args(["respawn-pane", "-k", "-t", "t"])
        .arg(rec.attach_cmd("--session gone"))
        .status()
        .expect("tmux respawn-pane");
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{shell}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the first attached screen outlived its terminal"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(rec.alive(), "the recorder ended with an attached terminal");
    // (The pane keeps the old screen until the new one draws: a clock that moves on is the
    // new one's.)
    t.wait_for("the take still running on a new screen", 20, |s| {
        s.contains("take 1") && rec_seconds(s).is_some_and(|n| n >= at_hangup + 2)
    });

    // Now the recorder dies under the screen.
    let _ = rec.child.kill();
    let _ = rec.child.wait();
    let s = t.wait_for("attach to exit", 15, |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=3"), "{s}");
    assert!(
        s.contains("lost the recorder") && s.contains("session gone"),
        "{s}"
    );
    // The terminal is restored: the screen is the shell's again, not the recorder's.
    assert!(!s.contains("08 Keys"), "{s}");
    let alt = t
        .cmd()
        .args(["display-message", "-p", "-t", "t", "#{alternate_on}"])
        .output()
        .expect("tmux display");
    assert_eq!(String::from_utf8_lossy(&alt.stdout).trim(), "0");
}

/// The local screen runs over the same Link: an engine shut down through the control socket
/// ends it too (it would otherwise freeze on the last snapshot), with the takes listed.
#[test]
fn a_local_screen_ends_when_its_engine_is_shut_down_through_the_socket() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runtime = tmp.path().join("run");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
        .expect("chmod runtime dir");
    let t = Tmux::new("attach-local");
    t.start(&format!(
        "env XDG_RUNTIME_DIR={} {} demo --dir {} --session loc; echo EXIT=$?; sleep 60",
        runtime.display(),
        common::bin(),
        tmp.path().display()
    ));
    t.wait_for("the local screen", 20, |s| {
        s.contains("STOPPED") && s.contains("08 Keys")
    });
    t.keys(&["r"]);
    t.wait_for("1 second of recording", 10, |s| {
        rec_seconds(s).is_some_and(|n| n >= 1)
    });
    let out = Command::new(common::bin())
        .args(["ctl", "--session", "loc", "send"])
        .arg(r#"{"cmd":"shutdown","reason":"stopped"}"#)
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .expect("tapedeck ctl send");
    assert!(out.status.success(), "{out:?}");
    let s = t.wait_for("the screen to end", 15, |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0"), "{s}");
    let joined = s.replace('\n', "");
    assert!(joined.contains("the engine has stopped"), "{s}");
    assert!(joined.contains("has 1 take"), "{s}");
    let take = last_take(&tmp.path().join("loc"));
    assert_eq!(take["state"], "complete", "{take:#}");
    assert_eq!(take["end_reason"], "stopped", "{take:#}");
}
