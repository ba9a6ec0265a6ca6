//! `tapedeck export --to reaper`: the .RPP read back by the PyPI `rpp` package (not our code),
//! every item at the sample the manifest puts it, and the mix built by sox from the positions
//! read back nulling against Ardour's render of the same session exported for Ardour. And the
//! bad input of every export: a missing file, a recovered take, names that collide once
//! fitted to a format, a destination that exists.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daw::{self, MixClip, RATE};

const READ_RPP: &str = r#"
import sys, rpp
rate = int(sys.argv[2])
p = rpp.loads(open(sys.argv[1]).read())
s = lambda v: round(float(v) * rate)
for t in p.findall('TRACK'):
    name = t.find('NAME')[1]
    for it in t.findall('ITEM'):
        d = {c[0]: c[1:] for c in it.children if isinstance(c, list)}
        f = it.find('SOURCE').find('FILE')[1]
        print('\t'.join(['ITEM', name, str(s(d['POSITION'][0])), str(s(d['SOFFS'][0])),
                         str(s(d['LENGTH'][0])), d['MUTE'][0], f]))
for c in p.children:
    if isinstance(c, list) and c[0] == 'MARKER':
        print('\t'.join(['MARKER', c[3], str(s(c[2]))]))
"#;

/// (track, clip, muted) for every item, and (name, sample) for every marker, as `rpp` reads
/// the project.
#[allow(clippy::type_complexity)]
fn read_back(python: &Path, rpp: &Path) -> (Vec<(String, MixClip, bool)>, Vec<(String, u64)>) {
    let o = Command::new(python)
        .args(["-c", READ_RPP])
        .arg(rpp)
        .arg(RATE.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "rpp could not read {}: {}",
        rpp.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = rpp.parent().unwrap();
    let (mut items, mut markers) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["ITEM", name, pos, off, len, mute, file] => items.push((
                name.to_string(),
                MixClip {
                    path: dir.join(file),
                    offset: off.parse().unwrap(),
                    frames: len.parse().unwrap(),
                    position: pos.parse().unwrap(),
                },
                *mute == "1",
            )),
            ["MARKER", name, at] => markers.push((name.to_string(), at.parse().unwrap())),
            _ => panic!("unexpected line {line:?}"),
        }
    }
    (items, markers)
}

fn python() -> Option<PathBuf> {
    match daw::python_with(&["rpp"]) {
        Ok(p) => Some(p),
        Err(why) => {
            daw::skip(&format!("the REAPER read-back needs PyPI's rpp: {why}"));
            None
        }
    }
}

#[test]
fn rpp_reads_every_item_at_its_sample_and_the_mix_nulls_against_ardour() {
    let Some(python) = python() else { return };
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let session = daw::record_session(root.path());
    let s = session.to_str().unwrap();
    let out = root.path().join("reaper");
    let said = daw::tapedeck(
        &[
            "export",
            s,
            "--to",
            "reaper",
            "--copy",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(said.contains("copied into"), "{said}");
    let (items, markers) = read_back(&python, &out.join("song.RPP"));
    let expected = daw::playing_clips(&session);
    assert_eq!(items.len(), expected.len(), "{items:#?}");
    for (name, clip) in &expected {
        let (_, got, muted) = items.iter().find(|(n, _, _)| n == name).unwrap();
        assert!(!muted, "{name} plays");
        assert_eq!(
            (got.position, got.offset, got.frames),
            (clip.position, clip.offset, clip.frames),
            "{name}"
        );
        assert!(got.path.starts_with(out.join("Media")), "{name}: a copy");
        assert_eq!(
            std::fs::read(&got.path).unwrap(),
            std::fs::read(&clip.path).unwrap(),
            "{name}: the copy is the file"
        );
    }
    assert!(
        markers.contains(&("Take 2 (overdub)".into(), 48_000)),
        "{markers:?}"
    );
    assert!(
        markers.contains(&("Take 4 (imported)".into(), 33_600)),
        "{markers:?}"
    );

    // The mix of what REAPER would read against Ardour's render of the Ardour export.
    let ardour = root.path().join("ardour");
    daw::tapedeck(
        &[
            "export",
            s,
            "--to",
            "ardour",
            "--out",
            ardour.to_str().unwrap(),
        ],
        &[],
    );
    let clips: Vec<MixClip> = items.into_iter().map(|(_, c, _)| c).collect();
    let length = clips.iter().map(|c| c.position + c.frames).max().unwrap();
    let render = daw::ardour_render(&ardour, "song", length, root.path());
    let reference = root.path().join("sox.wav");
    daw::sox_mix(&clips, length, &reference);
    let (_, residual) = daw::null_dbfs(&render, &reference);
    assert!(
        residual < -100.0,
        "the REAPER positions' mix differs from Ardour's render by {residual:.1} dBFS"
    );
}

/// A session whose second take was cut short by kill -9 and repaired by `tapedeck recover`.
fn recovered_session(root: &Path) -> PathBuf {
    let d = root.to_str().unwrap();
    let config = root.join("config");
    let env = [("XDG_CONFIG_HOME", config.to_str().unwrap())];
    daw::tapedeck(
        &[
            "demo",
            "--headless",
            "--duration",
            "1s",
            "--session",
            "s",
            "--dir",
            d,
            "--track",
            "2:Bass",
        ],
        &env,
    );
    let mut child = Command::new(common::bin())
        .args([
            "demo",
            "--headless",
            "--session",
            "s",
            "--dir",
            d,
            "--track",
            "2:Bass",
        ])
        .env("XDG_CONFIG_HOME", &config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let take = root.join("s/take-002/02_Bass_T002.wav");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&take).map_or(true, |m| m.len() < 72_000 + 4096) {
        assert!(Instant::now() < deadline, "the second take never wrote");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    daw::tapedeck(&["recover", "s", "--dir", d], &env);
    root.join("s")
}

#[test]
fn bad_input_is_refused_or_said_and_nothing_is_overwritten() {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let session = recovered_session(root.path());
    let s = session.to_str().unwrap();

    // A recovered take is exported, and said so.
    let out = root.path().join("rec");
    let said = daw::tapedeck(
        &[
            "export",
            s,
            "--to",
            "reaper",
            "--takes",
            "all",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(said.contains("take 2 was recovered"), "{said}");
    assert!(out.join("s.RPP").is_file());

    // The destination exists: refused, the project untouched.
    let before = std::fs::read(out.join("s.RPP")).unwrap();
    let (code, _, err) = common::run(
        &[
            "export",
            s,
            "--to",
            "reaper",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exists"), "{err}");
    assert_eq!(std::fs::read(out.join("s.RPP")).unwrap(), before);

    // Nothing marked: --takes kept says how to mark.
    let (code, _, err) = common::run(&["export", s, "--to", "reaper", "--takes", "kept"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tapedeck take keep"), "{err}");

    // Take 1 marked no-good, take 2 keep (as `tapedeck take` writes it): only take 2 goes.
    let manifest = session.join("session.json");
    let mut m = common::read_json(&manifest);
    let at = m["created"].clone();
    m["takes"][0]["triage"] = serde_json::json!({"mark": "no_good", "at": at});
    m["takes"][1]["triage"] = serde_json::json!({"mark": "keep", "at": at});
    std::fs::write(&manifest, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let out = root.path().join("kept");
    let said = daw::tapedeck(
        &[
            "export",
            s,
            "--to",
            "reaper",
            "--takes",
            "kept",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(said.contains("1 clip(s)"), "{said}");
    let rpp = std::fs::read_to_string(out.join("s.RPP")).unwrap();
    assert!(
        rpp.contains("02_Bass_T002.wav") && !rpp.contains("T001.wav"),
        "{rpp}"
    );

    // Names that collide once Ardour's `:` is gone: made unique, reported.
    let a = root.path().join("a.wav");
    let b = root.path().join("b.wav");
    common::write_noise(&a, RATE, 4800);
    common::write_noise(&b, RATE, 4800);
    let d = root.path().to_str().unwrap();
    daw::tapedeck(
        &[
            "import",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--session",
            "s",
            "--dir",
            d,
            "--name",
            "Gtr: DI",
            "--name",
            "Gtr- DI",
        ],
        &[],
    );
    let out = root.path().join("names");
    let said = daw::tapedeck(
        &[
            "export",
            s,
            "--to",
            "ardour",
            "--takes",
            "all",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(said.contains("is named \"Gtr- DI\""), "{said}");
    assert!(said.contains("another track has that name"), "{said}");
    let loaded = daw::ardour_load(&out, "s");
    let mut names: Vec<&str> = loaded.tracks.iter().map(|t| t.0.as_str()).collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[..2], ["Bass", "Gtr- DI"]);
    assert!(names[2].starts_with("Gtr- DI (track "), "{names:?}");

    // A missing file: refused, named, nothing created.
    let m = common::read_json(&session.join("session.json"));
    let gone = session.join(m["takes"][0]["tracks"][0]["file"].as_str().unwrap());
    std::fs::remove_file(&gone).unwrap();
    let out = root.path().join("missing");
    let (code, _, err) = common::run(
        &[
            "export",
            s,
            "--to",
            "dawproject",
            "--takes",
            "all",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(gone.to_str().unwrap()),
        "names the file: {err}"
    );
    assert!(err.contains("put the file back"), "{err}");
    assert!(!out.exists(), "nothing is created");
}
