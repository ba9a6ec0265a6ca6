//! `tapedeck export --to dawproject`: the zip's project.xml and metadata.xml valid against the
//! DAWproject 1.0 schemas (xmllint, schemas in tests/data/dawproject), every IDREF resolved,
//! every clip read back to the exact sample by Python's xml.etree (not our code), and the mix
//! built by sox from the positions read back nulling against Ardour's render of the same
//! session exported for Ardour.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::daw::{self, MixClip, RATE};

/// Reads project.xml: checks every IDREF, prints each clip and marker with its times in
/// samples.
const READ_XML: &str = r#"
import sys
import xml.etree.ElementTree as ET
rate = int(sys.argv[2])
root = ET.parse(sys.argv[1]).getroot()
ids = {e.get('id') for e in root.iter() if e.get('id') is not None}
for e in root.iter():
    for a in ('track', 'destination', 'reference', 'parameter'):
        v = e.get(a)
        if v is not None and v not in ids:
            print('UNRESOLVED', e.tag, a, v)
names = {t.get('id'): t.get('name') for t in root.iter('Track')}
s = lambda v: round(float(v) * rate)
arr = root.find('Arrangement')
top = arr.find('Lanes')
assert top.get('timeUnit') == 'seconds'
for lanes in top.findall('Lanes'):
    name = names[lanes.get('track')]
    for clips in lanes.findall('Clips'):
        for c in clips.findall('Clip'):
            assert c.get('contentTimeUnit') == 'seconds'
            f = c.find('Audio').find('File')
            print('\t'.join(['CLIP', name, str(s(c.get('time'))), str(s(c.get('playStart'))),
                             str(s(c.get('duration'))), c.get('enable'), f.get('path'),
                             f.get('external') or 'false']))
m = arr.find('Markers')
if m is not None:
    assert m.get('timeUnit') == 'seconds'
    for mk in m.findall('Marker'):
        print('\t'.join(['MARKER', mk.get('name'), str(s(mk.get('time')))]))
"#;

fn run_ok(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Unzips the .dawproject into `into` (Python's zipfile) and checks both files against the
/// schemas.
fn unzip_and_validate(file: &Path, into: &Path) {
    common::require("python3");
    common::require("xmllint");
    run_ok(
        Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
            ])
            .arg(file)
            .arg(into),
    );
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dawproject");
    for (xml, xsd) in [
        ("project.xml", "Project.xsd"),
        ("metadata.xml", "MetaData.xsd"),
    ] {
        run_ok(
            Command::new("xmllint")
                .args(["--noout", "--schema"])
                .arg(schemas.join(xsd))
                .arg(into.join(xml)),
        );
    }
}

/// (track, clip, enabled, external) per clip and (name, sample) per marker, as xml.etree
/// reads project.xml; paths inside the zip resolved in `unzipped`.
#[allow(clippy::type_complexity)]
fn read_back(unzipped: &Path) -> (Vec<(String, MixClip, bool, bool)>, Vec<(String, u64)>) {
    let text = run_ok(
        Command::new("python3")
            .args(["-c", READ_XML])
            .arg(unzipped.join("project.xml"))
            .arg(RATE.to_string()),
    );
    let (mut clips, mut markers) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["CLIP", name, pos, off, len, enable, path, external] => clips.push((
                name.to_string(),
                MixClip {
                    path: unzipped.join(path),
                    offset: off.parse().unwrap(),
                    frames: len.parse().unwrap(),
                    position: pos.parse().unwrap(),
                },
                *enable == "true",
                *external == "true",
            )),
            ["MARKER", name, at] => markers.push((name.to_string(), at.parse().unwrap())),
            _ => panic!("project.xml: {line}"),
        }
    }
    (clips, markers)
}

fn export(session: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec![
        "export",
        session.to_str().unwrap(),
        "--to",
        "dawproject",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    daw::tapedeck(&args, &[]);
    out.join("song.dawproject")
}

#[test]
fn a_valid_dawproject_places_every_clip_on_its_sample_and_its_mix_nulls_against_ardour() {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let session = daw::record_session(root.path());
    let file = export(&session, &root.path().join("dp"), &["--copy"]);
    let unzipped = root.path().join("unzipped");
    unzip_and_validate(&file, &unzipped);
    let (clips, markers) = read_back(&unzipped);
    let expected = daw::playing_clips(&session);
    assert_eq!(clips.len(), expected.len(), "{clips:#?}");
    for (name, want) in &expected {
        let (_, got, enabled, external) = clips.iter().find(|c| c.0 == *name).unwrap();
        assert!(*enabled && !*external, "{name}");
        assert_eq!(
            (got.position, got.offset, got.frames),
            (want.position, want.offset, want.frames),
            "{name}"
        );
        assert_eq!(
            std::fs::read(&got.path).unwrap(),
            std::fs::read(&want.path).unwrap(),
            "{name}: the zip holds the file as it is"
        );
    }
    assert!(
        markers.contains(&("Take 3 (overdub)".into(), 24_000)),
        "{markers:?}"
    );

    let ardour = root.path().join("ardour");
    daw::tapedeck(
        &[
            "export",
            session.to_str().unwrap(),
            "--to",
            "ardour",
            "--out",
            ardour.to_str().unwrap(),
        ],
        &[],
    );
    let mix: Vec<MixClip> = clips.into_iter().map(|c| c.1).collect();
    let length = mix.iter().map(|c| c.position + c.frames).max().unwrap();
    let render = daw::ardour_render(&ardour, "song", length, root.path());
    let reference = root.path().join("sox.wav");
    daw::sox_mix(&mix, length, &reference);
    let (_, residual) = daw::null_dbfs(&render, &reference);
    assert!(
        residual < -100.0,
        "the DAWproject positions' mix differs from Ardour's render by {residual:.1} dBFS"
    );

    // Every take: one lane each, only the playing one enabled; audio referenced in place.
    let file = export(&session, &root.path().join("all"), &["--takes", "all"]);
    let unzipped = root.path().join("unzipped-all");
    unzip_and_validate(&file, &unzipped);
    let (clips, _) = read_back(&unzipped);
    let vox: Vec<_> = clips.iter().filter(|c| c.0 == "Vox").collect();
    assert_eq!(vox.len(), 2, "{clips:#?}");
    for (_, c, enabled, external) in &vox {
        assert!(*external && c.path.is_absolute() && c.path.is_file());
        assert_eq!(
            *enabled,
            c.position == 24_000,
            "the newest Vox take plays: {c:?}"
        );
    }
}
