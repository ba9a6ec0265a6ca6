//! The TUI in a real terminal: tmux runs `tapedeck demo` at 80×24 and the test types like a
//! user would, reading the screen after each step, then checks the files and the manifest.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{last_take, soxi, take_files};

/// A private tmux server (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(tag: &str) -> Self {
        let found = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "tmux is not installed; run scripts/test (it installs what the tests need)"
        );
        Self {
            socket: format!("tapedeck-{tag}-{}", std::process::id()),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    fn start(&self, shell_command: &str) {
        let ok = self
            .cmd()
            .args(["new-session", "-d", "-s", "t", "-x", "80", "-y", "24"])
            .arg(shell_command)
            .env_remove("TMUX")
            .status()
            .expect("tmux new-session");
        assert!(ok.success());
    }

    fn keys(&self, keys: &[&str]) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .expect("send-keys");
        assert!(ok.success());
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `want`; panics with the screen after `secs`.
    fn wait_for(&self, what: &str, secs: u64, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if want(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill_session(&self) {
        let _ = self.cmd().args(["kill-session", "-t", "t"]).status();
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen.lines().find(|l| l.contains(needle)).unwrap_or("")
}

#[test]
fn arm_two_tracks_record_stop_quit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let t = Tmux::new("e2e");
    t.start(&format!(
        "{} demo --dir {} --session e2e; echo EXIT=$?; sleep 60",
        common::bin(),
        dir.display()
    ));

    // Idle: every input armed, meters moving.
    let s = t.wait_for("the idle screen", 20, |s| {
        s.contains("STOPPED") && s.contains("08 Keys")
    });
    assert!(s.contains("next take 1"), "{s}");
    assert!(line_with(&s, "01 Kick+Snare").contains('●'), "{s}");

    // Disarm all, then arm tracks 1 and 2 with their number keys.
    t.keys(&["a"]);
    t.wait_for("all tracks disarmed", 5, |s| {
        line_with(s, "01 Kick+Snare").contains('○')
    });
    t.keys(&["1", "2"]);
    let s = t.wait_for("tracks 1 and 2 armed", 5, |s| {
        line_with(s, "01 Kick+Snare").contains('●') && line_with(s, "02 Bass DI").contains('●')
    });
    for other in [
        "03 Guitar DI",
        "04 Vox",
        "05 Room",
        "06 Synth",
        "07 Hi-hat",
        "08 Keys",
    ] {
        assert!(
            line_with(&s, other).contains('○'),
            "{other} should be disarmed:\n{s}"
        );
    }

    // Record about 3 seconds.
    t.keys(&["r"]);
    let s = t.wait_for("REC", 5, |s| s.contains("● REC") && s.contains("take 1"));
    assert!(
        s.contains("2 trk"),
        "the disk estimate counts the armed tracks:\n{s}"
    );
    t.wait_for("3 seconds of recording", 10, |s| s.contains("REC 0:00:03"));
    t.keys(&["s"]);
    let s = t.wait_for("STOPPED after the take", 10, |s| {
        s.contains("STOPPED") && s.contains("next take 2")
    });
    assert!(s.contains("take 1 done"), "{s}");

    // Quit.
    t.keys(&["q"]);
    let s = t.wait_for("the program to exit", 15, |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0"), "{s}");
    assert!(s.contains("has 1 take"), "{s}");

    // Exactly the two armed tracks, same length, about 3 s.
    let session = dir.join("e2e");
    let take = last_take(&session);
    assert_eq!(take["end_reason"], "stopped");
    let files = take_files(&session, &take);
    let names: Vec<String> = files
        .iter()
        .map(|(_, p)| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(names, ["01_Kick+Snare_T001.wav", "02_Bass-DI_T001.wav"]);
    let on_disk = std::fs::read_dir(session.join("take-001"))
        .expect("take folder")
        .count();
    assert_eq!(on_disk, 2, "only the armed tracks have files");
    let lengths: Vec<u64> = files.iter().map(|(_, p)| soxi(p).0).collect();
    assert_eq!(lengths[0], lengths[1], "tracks differ in length");
    let secs = lengths[0] as f64 / 48_000.0;
    assert!((2.8..=4.5).contains(&secs), "take length {secs} s");
    assert_eq!(take["length_frames"].as_u64(), Some(lengths[0]));
}

fn pid_of(session: &str) -> Option<u32> {
    let out = Command::new("pgrep")
        .args(["-n", "-f", "--", &format!("--session {session}")])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

#[test]
fn a_hangup_during_a_take_lets_it_finish() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let session = format!("hup-{}", std::process::id());
    let t = Tmux::new("hup");
    t.start(&format!(
        "exec {} demo --dir {} --session {session} --record --duration 4s",
        common::bin(),
        dir.display()
    ));
    t.wait_for("REC", 20, |s| s.contains("● REC"));
    let pid = pid_of(&session).expect("the recorder's pid");
    // The terminal goes away (as when an SSH connection drops): SIGHUP, no more tty.
    t.kill_session();
    std::thread::sleep(Duration::from_millis(700));
    assert!(alive(pid), "the recorder died with its terminal");
    let deadline = Instant::now() + Duration::from_secs(15);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "the recorder did not exit after its take"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let m = common::read_json(&dir.join(&session).join("session.json"));
    let take = &m["takes"][0];
    assert_eq!(take["state"], "complete");
    assert_eq!(take["end_reason"], "duration");
    assert_eq!(take["length_frames"].as_u64(), Some(4 * 48_000));
    let note = m["notes"][0]["text"].as_str().unwrap_or("");
    assert!(note.contains("hung up"), "{m:#}");
    assert_eq!(m["notes"][0]["take"], 1);
    for (_, p) in take_files(&dir.join(&session), take) {
        assert_eq!(soxi(&p).0, 4 * 48_000);
    }
}
