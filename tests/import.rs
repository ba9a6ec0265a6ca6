//! `tapedeck import`, end to end through the real binary: files become tracks of an imported
//! take, copied byte for byte and placed on the song timeline; every file that cannot be
//! imported, and a session being recorded, is refused with one line and nothing written.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

const EXIT_USAGE: i32 = 2;
const EXIT_RUNTIME: i32 = 1;

fn tapedeck(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tapedeck"));
    c.current_dir(cwd);
    c
}

/// Every file under `root` with its bytes (folders as None): to prove nothing changed.
fn listing(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        for e in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let p = e.expect("dir entry").path();
            let rel = p.strip_prefix(root).expect("under root").to_path_buf();
            if p.is_dir() {
                out.insert(rel, None);
                walk(root, &p, out);
            } else {
                out.insert(rel, Some(fs::read(&p).expect("read file")));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn manifest(session: &Path) -> Value {
    let text = fs::read(session.join("session.json")).expect("read session.json");
    serde_json::from_slice(&text).expect("session.json is JSON")
}

fn validate(m: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/session.schema.json");
    let schema: Value =
        serde_json::from_slice(&fs::read(&path).expect("read the schema")).expect("JSON");
    let v = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("a valid schema");
    let errs: Vec<String> = v
        .iter_errors(m)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect();
    assert!(errs.is_empty(), "session.json: {}", errs.join("\n"));
}

/// A WAV made with hound: `frames` frames of a ramp, so that every byte is telling.
fn wav(path: &Path, rate: u32, channels: u16, bits: u16, float: bool, frames: u32) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    for i in 0..frames * u32::from(channels) {
        if float {
            w.write_sample((i % 1000) as f32 / 1000.0 - 0.5)
                .expect("write");
        } else {
            let full = 1i32 << (bits - 1);
            w.write_sample(((i as i32 * 37) % full) - full / 2)
                .expect("write");
        }
    }
    w.finalize().expect("finalize wav");
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "tapedeck failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        stderr_of(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn record_demo(cwd: &Path, dir: &Path, session: &str, rate: u32) {
    ok(tapedeck(cwd)
        .args([
            "demo",
            "--duration",
            "1s",
            "--headless",
            "--session",
            session,
        ])
        .args(["--rate", &rate.to_string(), "--track", "1:Kick"])
        .arg("--dir")
        .arg(dir)
        .output()
        .expect("run tapedeck"));
}

#[test]
fn files_are_copied_byte_for_byte_as_imported_tracks_on_the_timeline() {
    let tmp = TempDir::new().expect("tempdir");
    let src = tmp.path().join("stems");
    fs::create_dir(&src).expect("mkdir");
    let stereo = src.join("backing.wav");
    let mono = src.join("bass line.wav");
    let float = src.join("pad.wav");
    wav(&stereo, 48_000, 2, 16, false, 48_000);
    wav(&mono, 48_000, 1, 24, false, 24_000);
    wav(&float, 48_000, 1, 32, true, 12_345);
    let dir = tmp.path().join("sessions");
    fs::create_dir(&dir).expect("mkdir");

    let run = |file: &Path, at: &str, name: Option<&str>| {
        let mut c = tapedeck(tmp.path());
        c.arg("import")
            .arg(file)
            .args(["--session", "song", "--at", at])
            .arg("--dir")
            .arg(&dir);
        if let Some(n) = name {
            c.args(["--name", n]);
        }
        ok(c.output().expect("run tapedeck"))
    };
    let said = run(&stereo, "1.5", None);
    assert!(said.contains("take 1 imported at 0:01.500"), "{said}");
    run(&mono, "1:02:03.5", Some("Bass"));
    run(&float, "123456f", None);

    let session = dir.join("song");
    let m = manifest(&session);
    validate(&m);
    assert_eq!(
        m["sample_rate"], 48_000,
        "a new session takes the first file's rate"
    );
    assert_eq!(m["format"], "s16", "and its format");
    // Made by hound: no bext time, so no origin.
    assert!(m.get("timeline_origin").is_none(), "{m:#}");
    let takes = m["takes"].as_array().expect("takes");
    assert_eq!(takes.len(), 3);
    let expect = [
        (&stereo, "backing", 2u64, "s16", 72_000u64, 48_000u64),
        (&mono, "Bass", 1, "s24", (3723 * 2 + 1) * 24_000, 24_000),
        (&float, "pad", 1, "f32", 123_456, 12_345),
    ];
    for (i, (source, name, channels, format, start, frames)) in expect.iter().enumerate() {
        let take = &takes[i];
        let n = i as u64 + 1;
        assert_eq!(take["number"], n);
        assert_eq!(take["kind"], "imported", "take {n}");
        assert_eq!(take["state"], "complete", "take {n}");
        assert_eq!(take["timeline_start"], *start, "take {n}");
        assert_eq!(take["format"], *format, "take {n}");
        assert_eq!(take["length_frames"], *frames, "take {n}");
        let f = &take["tracks"][0];
        assert_eq!(f["track"], n, "one past the highest track");
        assert_eq!(f["name"], *name);
        assert_eq!(f["input"], Value::Null);
        assert_eq!(f["channels"], *channels);
        assert_eq!(f["frames"], *frames);
        let canonical = fs::canonicalize(source).expect("canonical");
        assert_eq!(f["imported_from"], canonical.display().to_string());
        let file = f["file"].as_str().expect("file");
        assert!(
            file.starts_with(&format!("take-{n:03}/{n:02}_")),
            "{file} is named as a recorded take's file"
        );
        assert_eq!(
            fs::read(session.join(file)).expect("the copy"),
            fs::read(source).expect("the original"),
            "{file} is a byte-for-byte copy of {}",
            source.display()
        );
        let track = &m["tracks"][i];
        assert_eq!(track["number"], n);
        assert_eq!(track["input"], Value::Null);
        assert_eq!(track["format"], *format);
    }
    assert_eq!(
        takes[1]["tracks"][0]["file"], "take-002/02_Bass_T002.wav",
        "named after --name"
    );
    // Nothing but the takes (and the lock) in the session: no temporary file left.
    let names: Vec<PathBuf> = listing(&session).into_keys().collect();
    for p in &names {
        let s = p.to_string_lossy();
        assert!(
            !s.contains(".tmp"),
            "{s} is left behind in the session: {names:?}"
        );
    }
}

/// A file sox writes (WAVE_FORMAT_EXTENSIBLE, 24-bit stereo) comes in byte for byte too.
#[test]
fn a_file_written_by_sox_is_copied_unchanged() {
    let tmp = TempDir::new().expect("tempdir");
    let file = tmp.path().join("strings.wav");
    let made = StdCommand::new("sox")
        .args(["-D", "-n", "-r", "48000", "-c", "2", "-b", "24"])
        .arg(&file)
        .args(["synth", "0.5", "sine", "440", "sine", "660"])
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("sox is not available: skipped");
        return;
    }
    ok(tapedeck(tmp.path())
        .arg("import")
        .arg(&file)
        .args(["--session", "s", "--dir"])
        .arg(tmp.path())
        .output()
        .expect("run tapedeck"));
    let m = manifest(&tmp.path().join("s"));
    validate(&m);
    let f = &m["takes"][0]["tracks"][0];
    assert_eq!(f["channels"], 2);
    assert_eq!(f["frames"], 24_000);
    assert_eq!(m["takes"][0]["format"], "s24");
    let copy = tmp.path().join("s").join(f["file"].as_str().expect("file"));
    let cmp = StdCommand::new("cmp")
        .arg(&file)
        .arg(&copy)
        .status()
        .expect("run cmp");
    assert!(cmp.success(), "cmp finds the copy different");
}

#[test]
fn a_file_at_another_rate_is_refused_and_the_session_left_as_it_was() {
    let tmp = TempDir::new().expect("tempdir");
    record_demo(tmp.path(), tmp.path(), "s", 48_000);
    let session = tmp.path().join("s");
    let file = tmp.path().join("cd.wav");
    wav(&file, 44_100, 2, 16, false, 4410);
    let before = listing(&session);
    let manifest_before = fs::read(session.join("session.json")).expect("read");
    let out = tapedeck(tmp.path())
        .arg("import")
        .arg(&file)
        .args(["--session", "s", "--dir"])
        .arg(tmp.path())
        .output()
        .expect("run tapedeck");
    assert_eq!(out.status.code(), Some(EXIT_USAGE));
    assert_eq!(
        stderr_of(&out),
        format!(
            "tapedeck: {} is 44100 Hz; the session is 48000 Hz; convert it first, e.g. sox in.wav -r 48000 out.wav\n",
            file.display()
        )
    );
    assert_eq!(
        fs::read(session.join("session.json")).expect("read"),
        manifest_before
    );
    assert_eq!(listing(&session), before, "no folder or file left behind");
}

#[test]
fn files_that_cannot_be_imported_are_refused_with_nothing_written() {
    let tmp = TempDir::new().expect("tempdir");
    let good = tmp.path().join("good.wav");
    wav(&good, 48_000, 1, 16, false, 480);
    let text = tmp.path().join("notes.wav");
    fs::write(&text, "this is not audio\n").expect("write");
    let quad = tmp.path().join("quad.wav");
    wav(&quad, 48_000, 4, 16, false, 480);
    let low = tmp.path().join("low.wav");
    wav(&low, 44_100, 1, 16, false, 441);
    let deep = tmp.path().join("deep.wav");
    wav(&deep, 48_000, 1, 24, false, 480);
    let missing = tmp.path().join("missing.wav");
    let sessions = tmp.path().join("sessions");
    fs::create_dir(&sessions).expect("mkdir");
    // An existing session, and a session that does not exist yet.
    ok(tapedeck(tmp.path())
        .arg("import")
        .arg(&good)
        .args(["--session", "old", "--dir"])
        .arg(&sessions)
        .output()
        .expect("run"));
    let cases: &[(&str, Vec<&Path>, &str)] = &[
        ("a missing file", vec![&good, &missing], "does not exist"),
        ("a text file", vec![&text], "is not a WAV file"),
        ("a 4-channel file", vec![&quad], "has 4 channels"),
        ("files of two rates", vec![&good, &low], "is 44100 Hz"),
        ("files of two formats", vec![&good, &deep], "share a format"),
    ];
    for session in ["old", "new"] {
        for (what, files, says) in cases {
            let before = listing(tmp.path());
            let out = tapedeck(tmp.path())
                .arg("import")
                .args(files.iter())
                .args(["--session", session, "--dir"])
                .arg(&sessions)
                .output()
                .expect("run tapedeck");
            let err = stderr_of(&out);
            assert_eq!(out.status.code(), Some(EXIT_USAGE), "{what}: {err}");
            assert!(
                err.starts_with("tapedeck: ") && err.contains(says) && err.lines().count() == 1,
                "{what} into {session}: {err}"
            );
            assert_eq!(
                listing(tmp.path()),
                before,
                "{what} into {session}: changed"
            );
        }
    }
    assert!(!sessions.join("new").exists());
    // Nor is the default ./sessions made for a refused import.
    let out = tapedeck(&sessions.join("old"))
        .arg("import")
        .arg(&text)
        .output()
        .expect("run tapedeck");
    assert_eq!(out.status.code(), Some(EXIT_USAGE));
    assert!(!sessions.join("old").join("sessions").exists());
}

#[test]
fn importing_twice_makes_two_takes_and_keeps_names_apart() {
    let tmp = TempDir::new().expect("tempdir");
    record_demo(tmp.path(), tmp.path(), "s", 48_000);
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    fs::create_dir(&a).expect("mkdir");
    fs::create_dir(&b).expect("mkdir");
    wav(&a.join("Mix.wav"), 48_000, 2, 16, false, 100);
    wav(&b.join("mix.wav"), 48_000, 2, 16, false, 200);
    let import = |files: &[PathBuf], names: &[&str]| {
        let mut c = tapedeck(tmp.path());
        c.arg("import")
            .args(files)
            .args(["--session", "s", "--dir"]);
        c.arg(tmp.path());
        for n in names {
            c.args(["--name", n]);
        }
        ok(c.output().expect("run tapedeck"))
    };
    import(&[a.join("Mix.wav"), b.join("mix.wav")], &[]);
    let said = import(&[a.join("Mix.wav")], &["Kick"]);
    assert!(
        said.contains("a track is called \"Kick\" already"),
        "{said}"
    );

    let session = tmp.path().join("s");
    let m = manifest(&session);
    validate(&m);
    let takes = m["takes"].as_array().expect("takes");
    assert_eq!(takes.len(), 3, "the recorded take and two imports");
    assert_eq!(takes[0]["kind"], "recorded");
    assert_eq!(
        (takes[1]["number"].as_u64(), takes[2]["number"].as_u64()),
        (Some(2), Some(3))
    );
    let tracks: Vec<(u64, &str)> = m["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| {
            (
                t["number"].as_u64().unwrap_or(0),
                t["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        tracks,
        [(1, "Kick"), (2, "Mix"), (3, "mix (2)"), (4, "Kick (2)")],
        "new tracks after the highest, names kept apart"
    );
    let files: Vec<&str> = takes[1..]
        .iter()
        .flat_map(|t| t["tracks"].as_array().expect("tracks"))
        .map(|f| f["file"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        files,
        [
            "take-002/02_Mix_T002.wav",
            "take-002/03_mix-2_T002.wav",
            "take-003/04_Kick-2_T003.wav"
        ]
    );
    assert_eq!(
        fs::read(session.join(files[1])).expect("copy"),
        fs::read(b.join("mix.wav")).expect("original")
    );
    // The recorded take is untouched.
    assert_eq!(takes[0]["tracks"][0]["input"], 1);
}

/// A file with a bext time (a take tapedeck recorded) gives a new session its origin: the
/// file's time minus --at. A session that has an origin keeps it.
#[test]
fn a_files_bext_time_sets_the_origin_of_the_timeline() {
    let tmp = TempDir::new().expect("tempdir");
    record_demo(tmp.path(), tmp.path(), "rec", 48_000);
    let rec = manifest(&tmp.path().join("rec"));
    let time_reference = rec["takes"][0]["time_reference"].as_u64().expect("a time");
    let file = tmp
        .path()
        .join("rec")
        .join(rec["takes"][0]["tracks"][0]["file"].as_str().expect("file"));
    let import = |at: &str| {
        ok(tapedeck(tmp.path())
            .arg("import")
            .arg(&file)
            .args(["--session", "new", "--at", at, "--dir"])
            .arg(tmp.path())
            .output()
            .expect("run tapedeck"))
    };
    import("0:01");
    let m = manifest(&tmp.path().join("new"));
    validate(&m);
    assert_eq!(m["timeline_origin"], time_reference - 48_000);
    assert_eq!(m["format"], "s24");
    import("5");
    let m = manifest(&tmp.path().join("new"));
    assert_eq!(m["timeline_origin"], time_reference - 48_000, "kept");
    assert_eq!(m["takes"][1]["timeline_start"], 240_000);
}

#[test]
fn a_session_being_recorded_is_refused() {
    let tmp = TempDir::new().expect("tempdir");
    let file = tmp.path().join("a.wav");
    wav(&file, 48_000, 1, 16, false, 480);
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_tapedeck"))
        .current_dir(tmp.path())
        .args(["demo", "--duration", "60s", "--headless", "--session", "s"])
        .arg("--dir")
        .arg(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tapedeck");
    let session = tmp.path().join("s");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !session.join("take-001").exists() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the take did not start within 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = tapedeck(tmp.path())
        .arg("import")
        .arg(&file)
        .args(["--session", "s", "--dir"])
        .arg(tmp.path())
        .output()
        .expect("run tapedeck");
    let after = fs::read(session.join("session.json")).expect("read");
    let mut folders: Vec<String> = fs::read_dir(&session)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("take-"))
        .collect();
    folders.sort();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(out.status.code(), Some(EXIT_RUNTIME), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains(
            "is being recorded by another tapedeck right now; import when it has stopped recording"
        ),
        "{}",
        stderr_of(&out)
    );
    let m: Value = serde_json::from_slice(&after).expect("JSON");
    assert_eq!(m["takes"].as_array().map(Vec::len), Some(1));
    assert_eq!(folders, ["take-001"], "no take folder made by the import");
}
