//! The command line, end to end: every bad input is refused with one line on stderr that names
//! the problem and says what to do, with the right exit status and nothing created on disk; and
//! the good paths (`devices`, `--help`, `demo` with JSON status, several takes, signals) work.
//!
//! Every test has its own temporary folder, which is also the program's working directory, so
//! that a stray `./sessions` (or anything else written next to `--dir`) is noticed too.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

const EXIT_USAGE: i32 = 2;
const EXIT_RUNTIME: i32 = 1;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tapedeck")
}

/// What a folder holds, recursively: every path (relative) with its kind and, for files, bytes.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Dir,
    File(Vec<u8>),
    Other,
}

type Listing = BTreeMap<PathBuf, Entry>;

fn listing(root: &Path) -> Listing {
    fn walk(root: &Path, dir: &Path, out: &mut Listing) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(root).expect("under root").to_path_buf();
            let meta = fs::symlink_metadata(&p).expect("metadata");
            if meta.is_dir() {
                out.insert(rel, Entry::Dir);
                walk(root, &p, out);
            } else if meta.is_file() {
                out.insert(rel, Entry::File(fs::read(&p).expect("read file")));
            } else {
                out.insert(rel, Entry::Other);
            }
        }
    }
    let mut out = Listing::new();
    walk(root, root, &mut out);
    out
}

/// Says which paths appeared, disappeared or changed between two listings.
fn describe_changes(before: &Listing, after: &Listing) -> String {
    let mut lines = Vec::new();
    for (p, e) in after {
        match before.get(p) {
            None => lines.push(format!("created {}", p.display())),
            Some(b) if b != e => lines.push(format!("changed {}", p.display())),
            Some(_) => {}
        }
    }
    for p in before.keys().filter(|p| !after.contains_key(*p)) {
        lines.push(format!("removed {}", p.display()));
    }
    lines.join("\n")
}

/// A private temporary folder: the working directory of the program, holding `D`, the folder
/// passed as `--dir`.
struct Sandbox {
    tmp: TempDir,
    /// Who runs the program, when not the user running the tests.
    user: Option<Unprivileged>,
}

/// `nobody`, to run the program as where the test is about what permission bits
/// refuse and root is exempt from them.
struct Unprivileged {
    /// A copy of the program in a folder that user can reach: the build may sit under a
    /// private home.
    bin: PathBuf,
    _bin_dir: TempDir,
}

/// `nobody` and `nogroup` on Debian and most other systems; no entry in /etc/passwd is needed.
const NOBODY: u32 = 65534;

impl Sandbox {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::create_dir(tmp.path().join("D")).expect("mkdir D");
        Self { tmp, user: None }
    }

    /// From now on the program runs as an ordinary user: this one if it is one, else (root)
    /// `nobody`, who then owns the sandbox as the test user owns it otherwise.
    fn as_ordinary_user(&mut self) {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let mut paths = vec![self.root().to_path_buf()];
        paths.extend(
            listing(self.root())
                .into_keys()
                .map(|p| self.root().join(p)),
        );
        for p in &paths {
            std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY))
                .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let copy = dir.path().join("tapedeck");
        fs::copy(bin(), &copy).expect("copy the program");
        // A process forked by another test thread may briefly hold the copy open for writing
        // (ETXTBSY); once it has run, no such writer is left.
        let mut tries = 0;
        let out = loop {
            match StdCommand::new(&copy)
                .arg("--version")
                .uid(NOBODY)
                .gid(NOBODY)
                .output()
            {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                r => break r,
            }
        };
        let out = out.unwrap_or_else(|e| panic!("run {} as uid {NOBODY}: {e}", copy.display()));
        assert!(
            out.status.success(),
            "{} --version as uid {NOBODY}: {:?}",
            copy.display(),
            out.status
        );
        self.user = Some(Unprivileged {
            bin: copy,
            _bin_dir: dir,
        });
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// The `--dir` folder.
    fn d(&self) -> PathBuf {
        self.root().join("D")
    }

    fn d_arg(&self) -> String {
        self.d().display().to_string()
    }

    fn cmd(&self) -> Command {
        let mut c = match &self.user {
            None => Command::new(bin()),
            Some(u) => {
                let mut c = StdCommand::new(&u.bin);
                c.uid(NOBODY).gid(NOBODY);
                Command::from_std(c)
            }
        };
        // No JACK server of this name runs: the JACK host (and ALSA's `jack` pcm) find none.
        c.current_dir(self.root())
            .timeout(Duration::from_secs(30))
            .env("JACK_DEFAULT_SERVER", "tapedeck-cli-test-no-server")
            .env("JACK_NO_START_SERVER", "1");
        c
    }
}

/// `demo --headless --dir D` plus `extra`, bounded by `--duration 1s` unless `extra` gives a
/// duration, so that a wrongly accepted input cannot record for ever.
fn demo_args(sb: &Sandbox, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["demo", "--headless", "--dir"].map(String::from).to_vec();
    v.push(sb.d_arg());
    if !extra.contains(&"--duration") {
        v.extend(["--duration".to_string(), "1s".to_string()]);
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Runs `args` in the sandbox and checks that it is refused: exit status `code`, nothing on
/// stdout, one line on stderr containing every phrase of `phrases`, and the sandbox exactly as
/// it was. Returns the message.
fn refused<S: AsRef<std::ffi::OsStr>>(
    sb: &Sandbox,
    args: &[S],
    code: i32,
    phrases: &[&str],
) -> String {
    let shown: Vec<String> = args.iter().map(|a| format!("{:?}", a.as_ref())).collect();
    let shown = shown.join(" ");
    let before = listing(sb.root());
    let out = sb.cmd().args(args).output().expect("run tapedeck");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "tapedeck {shown}: exit status {:?}, expected {code}\nstderr: {stderr}\nstdout: {stdout}",
        out.status
    );
    let message = stderr.trim_end_matches(['\n', '\r']);
    assert!(!message.is_empty(), "tapedeck {shown}: nothing on stderr");
    assert!(
        !message.contains('\n'),
        "tapedeck {shown}: stderr has more than one line:\n{stderr}"
    );
    assert!(
        message.starts_with("tapedeck: "),
        "tapedeck {shown}: message does not start with `tapedeck: `: {message}"
    );
    for p in phrases {
        assert!(
            message.contains(p),
            "tapedeck {shown}: message does not mention {p:?}: {message}"
        );
    }
    assert!(
        stdout.is_empty(),
        "tapedeck {shown}: printed on stdout: {stdout}"
    );
    let after = listing(sb.root());
    assert!(
        before == after,
        "tapedeck {shown} changed the disk although it was refused:\n{}",
        describe_changes(&before, &after)
    );
    message.to_string()
}

/// A bad `demo` invocation in a fresh sandbox.
fn demo_refused(extra: &[&str], code: i32, phrases: &[&str]) -> String {
    let sb = Sandbox::new();
    refused(&sb, &demo_args(&sb, extra), code, phrases)
}

// ---------------------------------------------------------------------------------------------
// Hosts and devices.

#[test]
fn unknown_host_is_refused() {
    let sb = Sandbox::new();
    let d = sb.d_arg();
    refused(
        &sb,
        &["record", "--host", "pulse", "--dir", &d, "--duration", "1s"],
        EXIT_USAGE,
        &[
            "--host \"pulse\"",
            "alsa, jack or pipewire",
            "tapedeck demo",
        ],
    );
    let sb = Sandbox::new();
    refused(
        &sb,
        &["devices", "--host", "pulse"],
        EXIT_USAGE,
        &["\"pulse\"", "alsa, jack, pipewire or demo"],
    );
}

#[test]
fn no_jack_server_is_one_clear_line_without_libjack_chatter() {
    // libjack's own messages ("Cannot connect to server socket ...") must not reach the
    // terminal: `refused` checks that stdout is empty and stderr is our one line.
    let sb = Sandbox::new();
    refused(
        &sb,
        &["devices", "--host", "jack"],
        EXIT_RUNTIME,
        &["no JACK server is running", "--host alsa"],
    );
    let sb = Sandbox::new();
    let d = sb.d_arg();
    refused(
        &sb,
        &["record", "--host", "jack", "--dir", &d, "--duration", "1s"],
        EXIT_RUNTIME,
        &["no JACK server is running"],
    );
    // Listing every host enumerates ALSA's `jack` pcm too: still no chatter.
    let out = sb.cmd().args(["devices"]).output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("custom:demo"), "{stdout}");
    for noise in ["Cannot connect", "JackShm", "jack server is not running"] {
        assert!(
            !stdout.contains(noise) && !stderr.contains(noise),
            "{stdout}\n{stderr}"
        );
    }
}

#[test]
fn unknown_device_is_refused_and_points_to_devices() {
    let sb = Sandbox::new();
    let d = sb.d_arg();
    refused(
        &sb,
        &[
            "record",
            "--host",
            "alsa",
            "--device",
            "alsa:nope",
            "--dir",
            &d,
            "--duration",
            "1s",
        ],
        EXIT_USAGE,
        &["\"alsa:nope\"", "tapedeck devices"],
    );
}

// ---------------------------------------------------------------------------------------------
// What the demo device cannot do.

#[test]
fn unsupported_rate_lists_the_supported_ones() {
    demo_refused(
        &["--rate", "12345"],
        EXIT_USAGE,
        &["12345", "44100, 48000, 96000", "--rate"],
    );
}

#[test]
fn unsupported_channel_count_is_refused() {
    demo_refused(
        &["--channels", "65"],
        EXIT_USAGE,
        &["65 channels", "1-64", "--channels"],
    );
    demo_refused(
        &["--channels", "0"],
        EXIT_USAGE,
        &["0 channels", "1-64", "--channels"],
    );
}

#[test]
fn unsupported_device_format_lists_the_offered_ones() {
    demo_refused(
        &["--device-format", "i24"],
        EXIT_USAGE,
        &["i24", "i16, i32, f32", "--device-format"],
    );
}

#[test]
fn buffer_out_of_range_is_refused() {
    demo_refused(
        &["--buffer", "5"],
        EXIT_USAGE,
        &["16 to 8192", "not 5", "--buffer"],
    );
    demo_refused(
        &["--buffer", "9000"],
        EXIT_USAGE,
        &["16 to 8192", "not 9000", "--buffer"],
    );
}

// ---------------------------------------------------------------------------------------------
// Tracks.

#[test]
fn track_input_beyond_the_opened_channels_is_refused() {
    demo_refused(
        &["--channels", "2", "--track", "3:Bass"],
        EXIT_USAGE,
        &["input 3", "1-2", "--channels"],
    );
}

#[test]
fn two_tracks_on_one_input_are_refused() {
    demo_refused(
        &["--track", "1:A", "--track", "1:B"],
        EXIT_USAGE,
        &["input 1", "two tracks", "own input"],
    );
}

#[test]
fn two_tracks_with_one_name_are_refused() {
    demo_refused(
        &["--track", "1:Gtr", "--track", "2:gtr"],
        EXIT_USAGE,
        &["both named", "own name"],
    );
}

#[test]
fn empty_track_name_is_refused() {
    demo_refused(
        &["--track", "1:"],
        EXIT_USAGE,
        &["\"1:\"", "cannot be empty"],
    );
    demo_refused(&["--track", "1:   "], EXIT_USAGE, &["cannot be empty"]);
}

#[test]
fn track_name_without_a_safe_character_is_refused() {
    demo_refused(
        &["--track", "1:///"],
        EXIT_USAGE,
        &["\"///\"", "letters or digits"],
    );
    demo_refused(&["--track", "1:../.."], EXIT_USAGE, &["letters or digits"]);
}

#[test]
fn control_characters_in_a_track_name_are_refused() {
    for name in ["1:a\u{7}b", "1:Bass\tDI", "1:Line\nTwo", "1:Esc\u{1b}[31m"] {
        demo_refused(&["--track", name], EXIT_USAGE, &["control characters"]);
    }
}

#[test]
fn bad_track_role_is_refused() {
    demo_refused(
        &["--track", "1:Bass:DI"],
        EXIT_USAGE,
        &["role \"DI\"", "lowercase", "di"],
    );
}

// ---------------------------------------------------------------------------------------------
// Session names and the session folder.

#[test]
fn unsafe_session_names_are_refused() {
    for name in [
        "../escape",
        "a/b",
        "nul",
        ".hidden",
        "",
        "..",
        "a\\b",
        "C:",
        "trailing.",
        "a\nb",
    ] {
        demo_refused(
            &["--session", name],
            EXIT_USAGE,
            &["--session", "session name", "use letters"],
        );
    }
}

#[test]
fn missing_dir_is_refused() {
    let sb = Sandbox::new();
    let missing = sb.root().join("not-there");
    let m = missing.display().to_string();
    let mut args = demo_args(&sb, &["--session", "S"]);
    let i = args
        .iter()
        .position(|a| *a == sb.d_arg())
        .expect("--dir value");
    args[i] = m.clone();
    refused(&sb, &args, EXIT_USAGE, &[&m, "does not exist", "mkdir"]);
    assert!(!missing.exists());
}

#[test]
fn dir_that_is_a_file_is_refused() {
    let sb = Sandbox::new();
    let file = sb.root().join("a-file");
    fs::write(&file, b"hello").expect("write");
    let f = file.display().to_string();
    let mut args = demo_args(&sb, &["--session", "S"]);
    let i = args
        .iter()
        .position(|a| *a == sb.d_arg())
        .expect("--dir value");
    args[i] = f.clone();
    refused(&sb, &args, EXIT_USAGE, &[&f, "is a file", "folder"]);
}

#[test]
fn unwritable_dir_is_refused() {
    let mut sb = Sandbox::new();
    let ro = sb.root().join("read-only");
    fs::create_dir(&ro).expect("mkdir");
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).expect("chmod");
    // Permission bits do not stop root (as in CI).
    sb.as_ordinary_user();
    let r = ro.display().to_string();
    let mut args = demo_args(&sb, &["--session", "S"]);
    let i = args
        .iter()
        .position(|a| *a == sb.d_arg())
        .expect("--dir value");
    args[i] = r.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        refused(&sb, &args, EXIT_USAGE, &[&r, "write to"])
    }));
    // Let the temporary folder be removed.
    let _ = fs::set_permissions(&ro, fs::Permissions::from_mode(0o755));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn refused_command_without_dir_creates_nothing_in_the_working_directory() {
    let sb = Sandbox::new();
    refused(
        &sb,
        &["demo", "--headless", "--duration", "1s", "--rate", "12345"],
        EXIT_USAGE,
        &["44100, 48000, 96000"],
    );
    let sb = Sandbox::new();
    refused(
        &sb,
        &[
            "record",
            "--host",
            "alsa",
            "--device",
            "alsa:nope",
            "--duration",
            "1s",
        ],
        EXIT_USAGE,
        &["tapedeck devices"],
    );
}

// ---------------------------------------------------------------------------------------------
// Values that cannot be read.

#[test]
fn unreadable_durations_are_refused() {
    for d in ["abc", "10x", "1m1h"] {
        demo_refused(
            &["--duration", d],
            EXIT_USAGE,
            &["--duration", &format!("{d:?}"), "90s, 10m, 1h30m"],
        );
    }
    demo_refused(
        &["--duration", "0s"],
        EXIT_USAGE,
        &["--duration", "\"0s\"", "zero", "90s"],
    );
}

#[test]
fn sync_intervals_out_of_range_are_refused() {
    for v in ["-1", "0.05", "5000", "NaN", "inf"] {
        demo_refused(
            &[&format!("--sync-interval={v}")],
            EXIT_USAGE,
            &[
                "--sync-interval",
                "0 (leave it to the kernel)",
                "0.1 and 3600",
            ],
        );
    }
}

#[test]
fn unknown_file_format_is_refused() {
    demo_refused(
        &["--format", "s32"],
        EXIT_USAGE,
        &["--format \"s32\"", "s16, s24 or f32"],
    );
}

#[test]
fn unknown_device_format_is_refused() {
    demo_refused(
        &["--device-format", "u8"],
        EXIT_USAGE,
        &["--device-format \"u8\"", "i16", "f32"],
    );
}

// ---------------------------------------------------------------------------------------------
// Existing sessions.

/// Records `seconds` of the demo into session `session` of the sandbox; panics unless it works.
fn record_demo(sb: &Sandbox, session: &str, seconds: u32, extra: &[&str]) -> std::process::Output {
    let dur = format!("{seconds}s");
    let mut args = vec![
        "demo",
        "--headless",
        "--duration",
        &dur,
        "--session",
        session,
    ];
    args.extend(extra);
    let d = sb.d_arg();
    args.extend(["--dir", &d]);
    let out = sb.cmd().args(&args).output().expect("run tapedeck");
    assert!(
        out.status.success(),
        "tapedeck {args:?} failed: {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn manifest(session_dir: &Path) -> Value {
    let text = fs::read(session_dir.join("session.json")).expect("read session.json");
    serde_json::from_slice(&text).expect("session.json is JSON")
}

#[test]
fn existing_session_with_another_rate_or_format_is_refused() {
    let sb = Sandbox::new();
    record_demo(&sb, "S", 1, &[]);
    let session = sb.d().join("S");
    let json_before = fs::read(session.join("session.json")).expect("session.json");
    for extra in [&["--rate", "44100"][..], &["--format", "f32"][..]] {
        let mut e = vec!["--session", "S"];
        e.extend(extra);
        refused(
            &sb,
            &demo_args(&sb, &e),
            EXIT_USAGE,
            &[
                "\"S\"",
                "48000 Hz s24",
                "--rate 48000 --format s24",
                "--session",
            ],
        );
        assert_eq!(
            fs::read(session.join("session.json")).expect("session.json"),
            json_before
        );
        assert!(session.join("take-001").is_dir());
        assert!(!session.join("take-002").exists());
    }
}

#[test]
fn corrupt_manifest_is_refused_and_left_alone() {
    let sb = Sandbox::new();
    let session = sb.d().join("S");
    fs::create_dir(&session).expect("mkdir");
    fs::write(session.join("session.json"), b"{not json").expect("write");
    let path = session.join("session.json").display().to_string();
    refused(
        &sb,
        &demo_args(&sb, &["--session", "S"]),
        EXIT_RUNTIME,
        &[&path, "move it aside"],
    );
    assert_eq!(
        fs::read(session.join("session.json")).expect("read"),
        b"{not json"
    );
}

#[test]
fn non_empty_folder_without_manifest_is_refused() {
    let sb = Sandbox::new();
    let session = sb.d().join("S");
    fs::create_dir(&session).expect("mkdir");
    fs::write(session.join("notes.txt"), b"my song").expect("write");
    refused(
        &sb,
        &demo_args(&sb, &["--session", "S"]),
        EXIT_USAGE,
        &["not a tapedeck session", "session.json", "--session"],
    );
}

// ---------------------------------------------------------------------------------------------
// Good paths.

#[test]
fn devices_lists_the_demo_input() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .args(["devices", "--host", "demo"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("custom:demo"), "{text}");
    assert!(text.contains("channels: 1-64"), "{text}");
    assert!(text.contains("44100, 48000, 96000"), "{text}");
    assert!(text.contains("i16, i32, f32"), "{text}");
}

#[test]
fn devices_json_is_valid() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .args(["devices", "--host", "demo", "--json"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let list = v.as_array().expect("a JSON array");
    let demo = list
        .iter()
        .find(|d| d["id"] == "custom:demo")
        .unwrap_or_else(|| panic!("no custom:demo in {v}"));
    assert_eq!(demo["host"], "demo");
    let channels: Vec<u64> = demo["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| c.as_u64().expect("number"))
        .collect();
    assert_eq!(channels, (1..=64).collect::<Vec<u64>>());
    assert_eq!(
        demo["sample_rates"],
        serde_json::json!([44100, 48000, 96000])
    );
    assert_eq!(demo["formats"], serde_json::json!(["i16", "i32", "f32"]));
}

#[test]
fn help_exits_zero() {
    let sb = Sandbox::new();
    for args in [
        &["--help"][..],
        &["demo", "--help"][..],
        &["record", "--help"][..],
    ] {
        let out = sb.cmd().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        assert!(text.contains("Usage"), "{args:?}: {text}");
    }
    let out = sb.cmd().arg("--help").output().expect("run");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    for sub in ["devices", "record", "demo"] {
        assert!(text.contains(sub), "--help does not mention {sub}: {text}");
    }
    assert!(!sb.root().join("sessions").exists());
}

#[test]
fn json_status_lines() {
    let sb = Sandbox::new();
    let out = record_demo(&sb, "S", 2, &["--json-status"]);
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let statuses: Vec<&Value> = lines.iter().filter(|l| l["type"] == "status").collect();
    assert!(!statuses.is_empty(), "no status line in:\n{stdout}");
    for s in &statuses {
        assert_eq!(s["take"], 1, "{s}");
        assert!(s["elapsed_s"].is_f64() || s["elapsed_s"].is_u64(), "{s}");
        for key in [
            "frames",
            "stream_frames",
            "dropouts",
            "dropped_frames",
            "xruns",
        ] {
            assert!(s[key].is_u64(), "{key} in {s}");
        }
        let fill = s["ring_fill"].as_f64().expect("ring_fill");
        assert!((0.0..=1.0).contains(&fill), "{s}");
        let tracks = s["tracks"].as_array().expect("tracks");
        assert_eq!(tracks.len(), 8, "{s}");
        for (i, t) in tracks.iter().enumerate() {
            let n = i as u64 + 1;
            assert_eq!(t["track"], n, "{t}");
            assert_eq!(t["input"], n, "{t}");
            assert!(t["name"].as_str().is_some_and(|n| !n.is_empty()), "{t}");
            assert_eq!(t["armed"], true, "{t}");
            assert!(
                t["peak_dbfs"].is_null() || t["peak_dbfs"].is_f64() || t["peak_dbfs"].is_i64(),
                "{t}"
            );
            assert!(t["clips"].is_u64(), "{t}");
        }
    }
    let last = lines.last().expect("some output");
    assert_eq!(last["type"], "take_finished", "last line: {last}");
    assert_eq!(last["take"], 1);
    assert_eq!(last["frames"], 96_000, "{last}");
    assert_eq!(last["end_reason"], "duration", "{last}");
    assert_eq!(last["files"].as_array().map(Vec::len), Some(8), "{last}");
}

/// Checks one finished take: every WAV readable to its end, as long as the manifest says, and
/// all of the same length. Returns the length.
fn check_take(session_dir: &Path, take: &Value) -> u64 {
    let length = take["length_frames"].as_u64().expect("length_frames");
    assert!(length > 0, "{take}");
    let tracks = take["tracks"].as_array().expect("tracks");
    assert!(!tracks.is_empty());
    for t in tracks {
        let file = session_dir.join(t["file"].as_str().expect("file"));
        let mut r =
            hound::WavReader::open(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let spec = r.spec();
        assert_eq!(spec.channels, 1, "{}", file.display());
        assert_eq!(
            u64::from(r.duration()),
            length,
            "{}: header length",
            file.display()
        );
        // Read every sample: a file cut short (not finalised) fails here.
        let mut read = 0u64;
        for s in r.samples::<i32>() {
            s.unwrap_or_else(|e| panic!("{}: sample {read}: {e}", file.display()));
            read += 1;
        }
        assert_eq!(read, length, "{}: samples in the file", file.display());
        assert_eq!(t["frames"], length, "{t}");
    }
    let folder = session_dir.join(take["folder"].as_str().expect("folder"));
    let wavs = fs::read_dir(&folder).expect("take folder").count();
    assert_eq!(wavs, tracks.len(), "files in {}", folder.display());
    length
}

#[test]
fn recording_twice_adds_a_take_and_overwrites_nothing() {
    let sb = Sandbox::new();
    record_demo(&sb, "S", 1, &[]);
    let session = sb.d().join("S");
    let take1_before = listing(&session.join("take-001"));
    assert_eq!(take1_before.len(), 8);
    record_demo(&sb, "S", 1, &[]);
    assert!(
        listing(&session.join("take-001")) == take1_before,
        "take-001 was changed"
    );
    let take2 = listing(&session.join("take-002"));
    assert_eq!(take2.len(), 8);
    assert!(
        take2
            .keys()
            .all(|p| p.to_string_lossy().ends_with("_T002.wav")),
        "{:?}",
        take2.keys()
    );
    assert!(!session.join("take-003").exists());
    let m = manifest(&session);
    let takes = m["takes"].as_array().expect("takes");
    let numbers: Vec<&Value> = takes.iter().map(|t| &t["number"]).collect();
    assert_eq!(numbers, [1, 2]);
    for t in takes {
        assert_eq!(t["state"], "complete");
        assert_eq!(t["end_reason"], "duration");
        assert_eq!(check_take(&session, t), 48_000);
    }
}

/// Starts an endless demo take, sends `signal` after 1.5 s and checks that the take was
/// finished properly.
fn stop_with_signal(signal: &str) {
    let sb = Sandbox::new();
    let mut child = StdCommand::new(bin())
        .current_dir(sb.root())
        .args(["demo", "--headless", "--session", "S", "--dir"])
        .arg(sb.d())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tapedeck");
    std::thread::sleep(Duration::from_millis(1500));
    let killed = StdCommand::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success(), "kill -{signal} failed");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tapedeck did not stop within 15 s of SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert_eq!(
        status.code(),
        Some(0),
        "after SIG{signal}: {status:?}\nstderr: {stderr}"
    );
    let session = sb.d().join("S");
    let m = manifest(&session);
    let takes = m["takes"].as_array().expect("takes");
    assert_eq!(takes.len(), 1, "{m}");
    let take = &takes[0];
    assert_eq!(take["state"], "complete", "{take}");
    assert_eq!(take["end_reason"], "signal", "{take}");
    let length = check_take(&session, take);
    // About 1.5 s at 48 kHz was recorded before the signal.
    assert!((24_000..=480_000).contains(&length), "length {length}");
    assert!(!session.join(".session.json.tmp").exists());
}

#[test]
fn sigint_finishes_the_take() {
    stop_with_signal("INT");
}

#[test]
fn sigterm_finishes_the_take() {
    stop_with_signal("TERM");
}
