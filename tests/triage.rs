//! Take triage end to end with the real binary: `tapedeck take ...` on recorded takes writes
//! the verdict into session.json and each file's iXML in place (xmllint reads it back), the
//! audio and every other byte of the files stay as they were (SHA-256 before and after), a
//! recorder holding the session is never raced, and the TUI's `v` marks a keeper through the
//! engine in a real terminal (tmux).

mod common;

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use common::tmux::Tmux;
use common::{bin, read_json, require};

/// Records one take of the demo's first two inputs into `dir/name`.
fn record(dir: &Path, name: &str, secs: u32) {
    let (code, _, err) = common::run(
        &[
            "demo",
            "--channels",
            "2",
            "--headless",
            "--duration",
            &format!("{secs}s"),
            "--session",
            name,
            "--dir",
            dir.to_str().expect("utf-8 path"),
        ],
        &[],
    );
    assert_eq!(code, 0, "demo failed: {err}");
}

fn take(args: &[&str], dir: &Path) -> (i32, String, String) {
    let mut all: Vec<&str> = vec!["take"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--dir", dir.to_str().expect("utf-8 path")]);
    common::run(&all, &[])
}

/// Every chunk of a RIFF file: (id, offset of its body, size), read here independently of
/// tapedeck's own reader.
fn chunks(path: &Path) -> Vec<(String, u64, u64)> {
    let f = fs::File::open(path).expect("open wav");
    let len = f.metadata().expect("metadata").len();
    let mut out = Vec::new();
    let mut at = 12u64;
    while at + 8 <= len {
        let mut h = [0u8; 8];
        f.read_exact_at(&mut h, at).expect("chunk header");
        let id = String::from_utf8_lossy(&h[..4]).into_owned();
        let size = u64::from(u32::from_le_bytes([h[4], h[5], h[6], h[7]]));
        out.push((id.clone(), at + 8, size));
        if id == "data" {
            break;
        }
        at += 8 + size + (size & 1);
    }
    out
}

fn chunk<'a>(all: &'a [(String, u64, u64)], id: &str) -> &'a (String, u64, u64) {
    all.iter()
        .find(|c| c.0 == id)
        .unwrap_or_else(|| panic!("no {id} chunk in {all:?}"))
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The SHA-256 of the data chunk, and of everything in the file outside the iXML chunk's body.
fn fingerprints(path: &Path) -> (String, String) {
    let bytes = fs::read(path).expect("read wav");
    let all = chunks(path);
    let (_, d, dsize) = chunk(&all, "data");
    let (_, x, xsize) = chunk(&all, "iXML");
    let data = &bytes[*d as usize..(*d + *dsize) as usize];
    let mut outside = bytes[..*x as usize].to_vec();
    outside.extend_from_slice(&bytes[(*x + *xsize) as usize..]);
    (sha256(data), sha256(&outside))
}

/// An element of the file's iXML, as xmllint reads it ("" when absent).
fn ixml(path: &Path, element: &str) -> String {
    let bytes = fs::read(path).expect("read wav");
    let all = chunks(path);
    let (_, x, size) = chunk(&all, "iXML");
    let tmp = tempfile::NamedTempFile::new().expect("temp");
    fs::write(tmp.path(), &bytes[*x as usize..(*x + *size) as usize]).expect("write ixml");
    let out = Command::new("xmllint")
        .args(["--xpath", &format!("string(/BWFXML/{element})")])
        .arg(tmp.path())
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success(),
        "xmllint cannot read the iXML of {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Every error of `session.json` against docs/session.schema.json (formats checked).
fn schema_errors(session: &Path) -> Vec<String> {
    let schema = read_json(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/session.schema.json"));
    let v = jsonschema::options()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .build(&schema)
        .expect("the schema compiles");
    let m = read_json(&session.join("session.json"));
    v.iter_errors(&m)
        .map(|e| format!("{}: {e}", e.instance_path.as_str()))
        .collect()
}

fn files_of(session: &Path, take: u64) -> Vec<PathBuf> {
    let m = read_json(&session.join("session.json"));
    let t = m["takes"]
        .as_array()
        .expect("takes")
        .iter()
        .find(|t| t["number"].as_u64() == Some(take))
        .expect("take");
    t["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|f| session.join(f["file"].as_str().expect("file")))
        .collect()
}

#[test]
fn marks_go_into_the_manifest_and_the_ixml_and_the_audio_stays() {
    require("xmllint");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    record(dir, "s", 1);
    record(dir, "s", 1);
    let session = dir.join("s");
    let files = files_of(&session, 1);
    assert_eq!(files.len(), 2);
    let before: Vec<(String, String)> = files.iter().map(|f| fingerprints(f)).collect();
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| fs::metadata(f).expect("meta").len())
        .collect();

    // The whole take circled, with a note that needs escaping.
    let (code, out, err) = take(
        &[
            "circle",
            "1",
            "--note",
            "best <drums> & bass",
            "--session",
            "s",
        ],
        dir,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("take 1: circled"), "{out}");
    let m = read_json(&session.join("session.json"));
    assert_eq!(m["takes"][0]["triage"]["mark"], "circled");
    assert_eq!(m["takes"][0]["triage"]["note"], "best <drums> & bass");
    assert!(m["takes"][1].get("triage").is_none(), "take 2 untouched");
    for f in &files {
        assert_eq!(ixml(f, "CIRCLED"), "TRUE");
        assert_eq!(ixml(f, "NO_GOOD"), "FALSE");
        assert_eq!(ixml(f, "NOTE"), "best <drums> & bass");
        // What tapedeck wrote when recording is still there.
        assert_eq!(ixml(f, "TAKE"), "1");
    }

    // One track's file no-good: it overrides the take's verdict for that file only.
    let (code, out, err) = take(&["no-good", "1", "--track", "2", "--session", "s"], dir);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("take 1 track 2: no-good"), "{out}");
    let m = read_json(&session.join("session.json"));
    assert_eq!(m["takes"][0]["tracks"][1]["triage"]["mark"], "no_good");
    assert_eq!(ixml(&files[0], "CIRCLED"), "TRUE");
    assert_eq!(ixml(&files[1], "CIRCLED"), "FALSE");
    assert_eq!(ixml(&files[1], "NO_GOOD"), "TRUE");
    assert_eq!(
        ixml(&files[1], "NOTE"),
        "best <drums> & bass",
        "the take's note"
    );
    assert_eq!(schema_errors(&session), Vec::<String>::new());

    // The track sheet follows: a picture of the kept file only, valid SVG.
    let sheet = fs::read_to_string(session.join("TRACKS.md")).expect("TRACKS.md");
    assert!(sheet.contains("# s\n"), "{sheet}");
    assert!(sheet.contains("### Take 1 (circled)"), "{sheet}");
    assert!(sheet.contains("| 1 | no-good |"), "{sheet}");
    let svg_name = files[0]
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .expect("stem");
    let kept_svg = session.join(format!("waveforms/take-001/{svg_name}.svg"));
    assert!(kept_svg.exists(), "no picture of the kept file:\n{sheet}");
    assert!(sheet.contains(&format!("waveforms/take-001/{svg_name}.svg")));
    let lint = Command::new("xmllint")
        .args(["--noout"])
        .arg(&kept_svg)
        .status()
        .expect("xmllint");
    assert!(lint.success(), "the picture is not well-formed XML");
    let no_good_stem = files[1]
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .expect("stem");
    assert!(
        !sheet.contains(&format!("waveforms/take-001/{no_good_stem}.svg")),
        "the no-good file has no picture in the sheet:\n{sheet}"
    );

    // Clearing removes both the mark and the note, from the manifest and the files.
    let (code, _, err) = take(&["clear", "1", "--session", "s"], dir);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = take(&["clear", "1", "--track", "2", "--session", "s"], dir);
    assert_eq!(code, 0, "{err}");
    let m = read_json(&session.join("session.json"));
    assert!(m["takes"][0].get("triage").is_none(), "{}", m["takes"][0]);
    for f in &files {
        assert_eq!(ixml(f, "CIRCLED"), "");
        assert_eq!(ixml(f, "NO_GOOD"), "");
        assert_eq!(ixml(f, "NOTE"), "");
    }

    // A note alone keeps the mark.
    take(&["keep", "1", "--session", "s"], dir);
    let (code, out, _) = take(&["note", "1", "fine", "--session", "s"], dir);
    assert_eq!(code, 0);
    assert!(out.contains("take 1: keep, note \"fine\""), "{out}");
    assert_eq!(ixml(&files[0], "NOTE"), "fine");
    assert_eq!(schema_errors(&session), Vec::<String>::new());

    // Through all of it, not a byte of audio (or of anything outside the iXML) changed.
    let after: Vec<(String, String)> = files.iter().map(|f| fingerprints(f)).collect();
    assert_eq!(before, after);
    let sizes_after: Vec<u64> = files
        .iter()
        .map(|f| fs::metadata(f).expect("meta").len())
        .collect();
    assert_eq!(sizes, sizes_after);
    // And the files still read as WAV, with every frame.
    for f in &files {
        let r = hound::WavReader::open(f).expect("hound reads it");
        assert_eq!(u64::from(r.duration()), 48_000);
    }
}

/// Everything under `root` (path and bytes), to prove a refusal touched nothing.
fn listing(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    record(dir, "s", 1);
    let session = dir.join("s");
    let before = listing(&session);
    let cases: [(&[&str], &str); 4] = [
        (
            &["keep", "7", "--session", "s"],
            "session \"s\" has no take 7; its takes are 1",
        ),
        (
            &["keep", "1", "--track", "9", "--session", "s"],
            "take 1 has no track 9; it holds tracks 1, 2",
        ),
        (&["keep", "1", "--session", "nope"], "no session \"nope\""),
        (
            &["clear", "1", "--note", "x", "--session", "s"],
            "clear removes the mark and the note",
        ),
    ];
    for (args, says) in cases {
        let (code, _, err) = take(args, dir);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // A note that cannot fit the iXML chunk's room: refused before any file is touched.
    let long = "é".repeat(4000);
    let (code, _, err) = take(&["keep", "1", "--note", &long, "--session", "s"], dir);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("shorten the note"), "{err}");
    assert_eq!(listing(&session), before, "a refusal changed the session");
}

#[test]
fn a_running_recorder_is_not_raced() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    record(dir, "s", 1);
    let session = dir.join("s");
    let manifest_before = fs::read(session.join("session.json")).expect("read");
    let mut child = common::spawn_demo(dir, "s", &["--duration", "30s"]);
    // Wait for the recorder to hold the session (take 2 journaled).
    let deadline = Instant::now() + Duration::from_secs(20);
    while read_json(&session.join("session.json"))["takes"]
        .as_array()
        .map_or(0, Vec::len)
        < 2
    {
        assert!(Instant::now() < deadline, "the recorder did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let journal = fs::read(session.join("session.json")).expect("read");
    let wav = files_of(&session, 1)[0].clone();
    let wav_before = fs::read(&wav).expect("read");
    // Where no recorder's control socket answers (they are looked for under
    // XDG_RUNTIME_DIR), `take` refuses; tests/control.rs has it go through the socket.
    let (code, _, err) = common::run(
        &[
            "take",
            "keep",
            "1",
            "--session",
            "s",
            "--dir",
            dir.to_str().expect("utf-8 path"),
        ],
        &[("XDG_RUNTIME_DIR", "/nonexistent")],
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("is being recorded by another tapedeck right now; mark the take from the running recorder"),
        "{err}"
    );
    // Nothing of ours reached the session while the recorder held it.
    assert_eq!(fs::read(&wav).expect("read"), wav_before);
    let after = read_json(&session.join("session.json"));
    assert!(after["takes"][0].get("triage").is_none());
    assert_ne!(journal, manifest_before, "the recorder journaled its take");
}

#[test]
fn a_keeper_marked_in_the_tui() {
    require("xmllint");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let t = Tmux::new("triage");
    t.start(&format!(
        "{} demo --channels 2 --dir {} --session tui; echo EXIT=$?; sleep 60",
        bin(),
        dir.display()
    ));
    t.wait_for("the idle screen", 20, |s| s.contains("STOPPED"));
    t.keys(&["r"]);
    t.wait_for("recording", 10, |s| s.contains("REC 0:00:01"));
    t.keys(&["s"]);
    t.wait_for("the take's end", 10, |s| s.contains("next take 2"));
    // `v` on the selected track (its take 1), then Tab: only this track; Tab again: the
    // whole take; `c` circles it.
    t.keys(&["v"]);
    t.wait_for("the verdict prompt", 5, |s| {
        s.contains("mark take 1 (all its tracks)")
    });
    t.keys(&["Tab"]);
    t.wait_for("the track scope", 5, |s| {
        s.contains("mark take 1, only track 1")
    });
    t.keys(&["Tab", "c"]);
    t.wait_for("the engine's answer", 10, |s| s.contains("take 1: circled"));
    // A note on it, typed.
    t.keys(&["v", "n"]);
    t.wait_for("the note prompt", 5, |s| s.contains("note on take 1:"));
    t.keys(&["-l", "tight"]);
    t.keys(&["Enter"]);
    t.wait_for("the note saved", 10, |s| {
        s.contains("take 1: circled, note \"tight\"")
    });
    t.keys(&["q"]);
    let s = t.wait_for("the program to exit", 15, |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0"), "{s}");

    let session = dir.join("tui");
    let m = read_json(&session.join("session.json"));
    assert_eq!(m["takes"][0]["triage"]["mark"], "circled");
    assert_eq!(m["takes"][0]["triage"]["note"], "tight");
    for f in files_of(&session, 1) {
        assert_eq!(ixml(&f, "CIRCLED"), "TRUE");
        assert_eq!(ixml(&f, "NOTE"), "tight");
    }
    let sheet = fs::read_to_string(session.join("TRACKS.md")).expect("TRACKS.md");
    assert!(sheet.contains("### Take 1 (circled)"), "{sheet}");
    assert!(sheet.contains("Note: tight"), "{sheet}");
    assert!(
        sheet.contains("![01 "),
        "a waveform of the keeper:\n{sheet}"
    );
}
