//! `tapedeck handoff` with the real binary: a full handoff of the kept takes checked with
//! `sha256sum -c` and read back by hound and sox; and bad input (a destination that exists,
//! nothing marked, a missing file, a take cut short, a recovered take): a clear message and
//! nothing written or overwritten.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{read_json, require, run, soxi};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn record(dir: &Path, name: &str) {
    let (code, _, err) = run(
        &[
            "demo",
            "--channels",
            "2",
            "--headless",
            "--duration",
            "1s",
            "--session",
            name,
            "--dir",
            s(dir),
        ],
        &[],
    );
    assert_eq!(code, 0, "demo failed: {err}");
}

fn mark(dir: &Path, args: &[&str]) {
    let mut all = vec!["take"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--session", "s", "--dir", s(dir)]);
    let (code, _, err) = run(&all, &[]);
    assert_eq!(code, 0, "{args:?}: {err}");
}

/// Every entry under `root`, to prove nothing appeared or changed.
fn listing(root: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                out.push((p.clone(), None));
                stack.push(p);
            } else {
                out.push((p.clone(), Some(fs::read(&p).expect("read"))));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_full_handoff_of_the_kept_takes_checks_out() {
    require("sha256sum");
    require("soxi");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    record(dir, "s");
    record(dir, "s");
    record(dir, "s");
    mark(dir, &["keep", "1"]);
    mark(dir, &["circle", "2", "--note", "the one"]);
    mark(dir, &["no-good", "2", "--track", "2"]);
    let session = dir.join("s");
    let before = listing(&session);
    let dest = dir.join("out");
    let (code, out, err) = run(&["handoff", s(&session), s(&dest)], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 audio files of takes 1, 2"), "{out}");
    assert_eq!(listing(&session), before, "the session was only read");

    // Exactly the kept files, where the session has them.
    let m = read_json(&dest.join("session.json"));
    let files: Vec<String> = m["takes"]
        .as_array()
        .expect("takes")
        .iter()
        .flat_map(|t| t["tracks"].as_array().expect("tracks").clone())
        .map(|f| f["file"].as_str().expect("file").to_string())
        .collect();
    let original = read_json(&session.join("session.json"));
    let name = |t: usize, f: usize| {
        original["takes"][t]["tracks"][f]["file"]
            .as_str()
            .expect("file")
            .to_string()
    };
    assert_eq!(files, [name(0, 0), name(0, 1), name(1, 0)]);
    for f in &files {
        assert_eq!(
            fs::read(dest.join(f)).expect("copy"),
            fs::read(session.join(f)).expect("original"),
            "{f} differs from the session's"
        );
        let (frames, rate) = soxi(&dest.join(f));
        assert_eq!((frames, rate), (48_000, 48_000), "{f}");
        let r = hound::WavReader::open(dest.join(f)).expect("hound reads it");
        assert_eq!(r.duration(), 48_000);
    }
    assert!(
        !dest.join(name(1, 1)).exists(),
        "the no-good file stays out"
    );
    assert!(
        !dest.join("take-003").exists(),
        "the unmarked take stays out"
    );
    assert_eq!(m["takes"][1]["triage"]["note"], "the one");

    // The sheet with the kept files' pictures, and the lists.
    let sheet = fs::read_to_string(dest.join("TRACKS.md")).expect("TRACKS.md");
    assert!(sheet.contains("### Take 2 (circled)"), "{sheet}");
    assert_eq!(sheet.matches("](waveforms/").count(), 3, "{sheet}");
    let check = Command::new("sha256sum")
        .args(["--check", "--strict", "CHECKSUMS.sha256"])
        .current_dir(&dest)
        .output()
        .expect("sha256sum");
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let listed = fs::read_to_string(dest.join("CHECKSUMS.sha256")).expect("sums");
    for f in files
        .iter()
        .map(String::as_str)
        .chain(["session.json", "TRACKS.md"])
    {
        assert!(
            listed.contains(&format!("  {f}\n")),
            "{f} not listed:\n{listed}"
        );
    }
    let sizes = fs::read_to_string(dest.join("FILES.txt")).expect("FILES.txt");
    let wav_size = fs::metadata(dest.join(&files[0])).expect("meta").len();
    assert!(
        sizes.contains(&format!("{wav_size:>12}  {}", files[0])),
        "{sizes}"
    );
    // The exports, of only the chosen files, their audio in the handoff.
    let project = |folder: &str, ext: &str| -> PathBuf {
        fs::read_dir(dest.join("exports").join(folder))
            .unwrap_or_else(|e| panic!("no {folder} export: {e}"))
            .map(|e| e.expect("entry").path())
            .find(|p| p.extension().is_some_and(|x| x == ext))
            .unwrap_or_else(|| panic!("no .{ext} in exports/{folder}"))
    };
    let ardour = project("ardour", "ardour");
    let lint = Command::new("xmllint")
        .arg("--noout")
        .arg(&ardour)
        .status()
        .expect("xmllint");
    assert!(lint.success(), "{} is not well-formed", ardour.display());
    let dawproject = project("dawproject", "dawproject");
    assert!(listed.contains(&format!(
        "  {}\n",
        dawproject.strip_prefix(&dest).expect("inside").display()
    )));
    let rpp = project("reaper", "RPP");
    let text = fs::read_to_string(&rpp).expect("RPP");
    let no_good = Path::new(&name(1, 1))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .expect("name");
    assert!(
        !text.contains(&no_good),
        "the no-good file is in the REAPER project"
    );
    let mut referenced = 0;
    for line in text.lines().filter(|l| l.trim_start().starts_with("FILE ")) {
        let file = line.trim_start()[5..].trim().trim_matches('"');
        let p = rpp.parent().expect("folder").join(file);
        assert!(
            p.is_file(),
            "the REAPER project refers to {file}, not there"
        );
        referenced += 1;
    }
    assert_eq!(referenced, 3, "{text}");

    // Nothing else was left beside DEST.
    let beside: Vec<_> = fs::read_dir(dir)
        .expect("read")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(beside.len(), 2, "{beside:?}");
}

#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    record(dir, "s");
    let session = dir.join("s");
    let before = listing(dir);

    // Nothing marked.
    let (code, _, err) = run(&["handoff", s(&session), s(&dir.join("a"))], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("is marked keep or circled; mark the keepers first")
            && err.contains("--takes playing"),
        "{err}"
    );
    assert_eq!(listing(dir), before);

    // A destination that exists, even empty, is never written into.
    let dest = dir.join("exists");
    fs::create_dir(&dest).expect("mkdir");
    let before = listing(dir);
    let (code, _, err) = run(
        &["handoff", s(&session), s(&dest), "--takes", "playing"],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exists; nothing was written"), "{err}");
    assert_eq!(listing(dir), before);

    // A missing file: named, and nothing made.
    let m = read_json(&session.join("session.json"));
    let file = session.join(m["takes"][0]["tracks"][1]["file"].as_str().expect("file"));
    let aside = dir.join("aside.wav");
    fs::rename(&file, &aside).expect("move aside");
    let before = listing(dir);
    let (code, _, err) = run(
        &["handoff", s(&session), s(&dir.join("b")), "--takes", "all"],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert_eq!(listing(dir), before);
    fs::rename(&aside, &file).expect("move back");
}

#[test]
fn a_take_cut_short_must_be_recovered_and_a_recovered_one_is_flagged() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    record(dir, "s");
    let session = dir.join("s");
    // Take 2 killed in the middle.
    let mut child = common::spawn_demo(dir, "s", &["--duration", "30s"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = read_json(&session.join("session.json"));
        let ok = m["takes"].as_array().map_or(0, Vec::len) == 2
            && session.join("take-002").read_dir().map_or(0, |d| d.count()) == 2;
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "take 2 did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1200));
    let _ = child.kill();
    let _ = child.wait();

    let before = listing(dir);
    let (code, _, err) = run(
        &["handoff", s(&session), s(&dir.join("x")), "--takes", "all"],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("take 2 was cut short and never repaired: run `tapedeck recover"),
        "{err}"
    );
    assert_eq!(listing(dir), before);

    let (code, _, err) = run(&["recover", s(&session)], &[]);
    assert_eq!(code, 0, "{err}");
    let dest = dir.join("y");
    let (code, out, err) = run(&["handoff", s(&session), s(&dest), "--takes", "all"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("take 2 was recovered after the recorder stopped in the middle of it"),
        "{err}"
    );
    assert!(out.contains("4 audio files of takes 1, 2"), "{out}");
    assert!(dest.join("take-002").is_dir());
}
