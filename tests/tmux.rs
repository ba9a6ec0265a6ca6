//! The TUI in a real terminal: tmux runs `tapedeck demo` at 80×24 and the test types like a
//! user would, reading the screen after each step, then checks the files and the manifest.
//! The demo's loopback inputs hear what tapedeck plays, so an overdub can be checked to the
//! sample.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::Tmux;
use common::{last_take, soxi, take_files};

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

    // Disarm all (`a`, with the band armed), then arm tracks 1 and 2 with their number keys.
    t.keys(&["a"]);
    t.wait_for("all tracks disarmed", 5, |s| {
        line_with(s, "01 Kick+Snare").contains('○') && line_with(s, "08 Keys").contains('○')
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

/// The 24-bit samples of a mono take file.
fn samples(path: &Path) -> Vec<i32> {
    let mut r = hound::WavReader::open(path).expect("open the take's file");
    r.samples::<i32>().map(|s| s.expect("sample")).collect()
}

/// The file of `track` in take `take`.
fn take_file(session: &Path, m: &serde_json::Value, take: u64, track: u64) -> std::path::PathBuf {
    let t = m["takes"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["number"] == take))
        .unwrap_or_else(|| panic!("no take {take}: {m:#}"));
    let file = t["tracks"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["track"] == track))
        .and_then(|f| f["file"].as_str())
        .unwrap_or_else(|| panic!("take {take} has no track {track}: {t:#}"));
    session.join(file)
}

/// Checks that `late` holds `early` exactly `delay` frames later, over the frames both have.
fn late_by(early: &[i32], late: &[i32], delay: usize, what: &str) {
    let n = late.len().min(early.len() + delay);
    assert!(
        n > delay + 48_000,
        "{what}: too short to compare ({n} frames)"
    );
    let off = (delay..n).filter(|&k| late[k] != early[k - delay]).count();
    let loud = (delay..n)
        .filter(|&k| early[k - delay].abs() > 1 << 16)
        .count();
    assert!(loud > 10_000, "{what}: the song was nearly silent");
    assert_eq!(off, 0, "{what}: {off} of {} samples differ", n - delay);
}

fn session_json(dir: &Path) -> serde_json::Value {
    common::read_json(&dir.join("session.json"))
}

#[test]
fn overdub_choose_takes_play_back() {
    // The demo's loopback cable hides this delay from the host: an uncompensated overdub is
    // late by exactly this much (no correction is stored in its own config folder).
    const HIDDEN: usize = 300;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let t = Tmux::new("overdub");
    t.start(&format!(
        "XDG_CONFIG_HOME={}/config TAPEDECK_DEMO_LOOPBACK_DELAY={HIDDEN} {} demo --dir {} --session od; echo EXIT=$?; sleep 60",
        dir.display(),
        common::bin(),
        dir.display()
    ));
    let session = dir.join("od");
    let transport = |s: &str| line_with(s, "♪").to_string();

    // The band's inputs are armed, the loopback inputs not; nothing plays yet.
    let s = t.wait_for("the idle screen", 30, |s| {
        s.contains("STOPPED") && s.contains("10 Loopback R")
    });
    assert!(
        transport(&s).contains("0:00:00.0 / 0:00:00.0  ■ stopped │ out tapedeck demo"),
        "{s}"
    );

    // Take 1: the drums alone (none armed, then track 1).
    t.keys(&["a"]);
    t.wait_for("none armed", 5, |s| {
        line_with(s, "01 Kick+Snare").contains('○') && line_with(s, "08 Keys").contains('○')
    });
    t.keys(&["1"]);
    t.wait_for("track 1 armed", 5, |s| {
        line_with(s, "01 Kick+Snare").contains('●')
    });
    t.keys(&["r"]);
    let s = t.wait_for("take 1 recording", 10, |s| s.contains("REC 0:00:0"));
    assert!(
        transport(&s).contains("● recording"),
        "no song yet: a plain take\n{s}"
    );
    t.wait_for("3 s of take 1", 15, |s| s.contains("REC 0:00:03"));
    t.keys(&["Space"]);
    let s = t.wait_for("take 1 done", 15, |s| s.contains("next take 2"));
    assert!(line_with(&s, "01 Kick+Snare").contains("▶T1"), "{s}");
    assert!(transport(&s).contains("/ 0:00:03"), "{s}");

    // Take 2: an overdub of the loopback input, which hears the song.
    t.keys(&["1"]);
    t.wait_for("track 1 disarmed", 5, |s| {
        line_with(s, "01 Kick+Snare").contains('○')
    });
    t.keys(&["9"]);
    t.wait_for("track 9 armed", 5, |s| {
        line_with(s, "09 Loopback L").contains('●')
    });
    t.keys(&["r"]);
    let s = t.wait_for("the overdub", 15, |s| {
        transport(s).contains("● overdub") && s.contains("REC 0:00:0")
    });
    assert!(s.contains("take 2"), "{s}");
    t.wait_for("2 s of the overdub", 15, |s| s.contains("REC 0:00:02"));
    t.keys(&["Space"]);
    let s = t.wait_for("take 2 done", 15, |s| s.contains("next take 3"));
    assert!(line_with(&s, "09 Loopback L").contains("▶T2"), "{s}");

    // Take 3: the same overdub again, take 2 muted so the cable hears only the drums.
    t.keys(&["M"]);
    t.wait_for("track 9 muted", 5, |s| {
        line_with(s, "09 Loopback L").contains("▶T2  M·")
    });
    t.keys(&["r"]);
    t.wait_for("the second overdub", 15, |s| {
        transport(s).contains("● overdub") && s.contains("take 3")
    });
    t.wait_for("2 s of the second overdub", 15, |s| {
        s.contains("REC 0:00:02")
    });
    t.keys(&["Space"]);
    let s = t.wait_for("take 3 done", 15, |s| s.contains("next take 4"));
    assert!(line_with(&s, "09 Loopback L").contains("▶T3"), "{s}");
    assert!(
        line_with(&s, "09 Loopback L:").contains("takes 2 ▶3  (newest)"),
        "{s}"
    );

    // Choose takes: t goes round to take 2, T back to the newest; the manifest follows.
    let playing_take = || session_json(&session)["tracks"][8]["playing_take"].clone();
    let wait_manifest = |want: serde_json::Value| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while playing_take() != want {
            assert!(Instant::now() < deadline, "playing_take is not {want}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    t.keys(&["t"]);
    t.wait_for("take 2 chosen", 5, |s| {
        line_with(s, "09 Loopback L:").contains("takes ▶2 3  (chosen)")
            && line_with(s, "09 Loopback L ").contains("▶T2")
    });
    wait_manifest(serde_json::json!(2));
    t.keys(&["T"]);
    t.wait_for("the newest again", 5, |s| {
        line_with(s, "09 Loopback L:").contains("takes 2 ▶3  (newest)")
    });
    wait_manifest(serde_json::Value::Null);
    t.keys(&["t"]);
    wait_manifest(serde_json::json!(2));

    // Play back: space plays, the position moves; space stops and it returns to the start.
    t.keys(&["Space"]);
    t.wait_for("playing", 10, |s| {
        transport(s).contains("▶ playing") && !transport(s).contains("♪ 0:00:00.0")
    });
    t.keys(&["Space"]);
    t.wait_for("stopped at the start", 10, |s| {
        transport(s).contains("♪ 0:00:00.0 /") && transport(s).contains("■ stopped")
    });

    t.keys(&["q"]);
    let s = t.wait_for("the program to exit", 20, |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0") && s.contains("has 3 takes"), "{s}");

    // The manifest: two overdubs placed at the start, with the latency applied and its source.
    let m = session_json(&session);
    for n in [2usize, 3] {
        let take = &m["takes"][n - 1];
        assert_eq!(take["kind"], "overdub", "{take:#}");
        assert_eq!(take["timeline_start"], 0, "{take:#}");
        let latency = &take["latency"];
        assert!(
            latency["applied_frames"].as_u64().is_some_and(|f| f > 0)
                && latency["reported_by"].is_string(),
            "{take:#}"
        );
    }
    assert_eq!(m["tracks"][8]["playing_take"], 2);
    assert_eq!(m["tracks"][8]["cue"]["mute"], true);
    // The files: what the cable recorded is the drums of take 1, sample for sample, late by
    // exactly the delay the cable hides (the reported round trip is compensated).
    let drums = samples(&take_file(&session, &m, 1, 1));
    for n in [2, 3] {
        let heard = samples(&take_file(&session, &m, n, 9));
        late_by(&drums, &heard, HIDDEN, &format!("take {n}"));
    }
}
