//! `tapedeck export --to ardour`, proven by Ardour 7 itself: a real recorded session (the demo
//! band, two overdubs at other places on the song, a stereo import) exported, loaded headlessly
//! in Ardour (`ardour7-lua`, Dummy backend) with every region at the sample the manifest puts
//! it, the markers there, and Ardour's render of its master nulling against the same mix built
//! by sox from the raw files. Ardour 7.3's exporter crashes now and then: the render runs at
//! period 8192 and a crashed run is retried (tests/common/daw.rs).

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::daw::{self, MixClip};

/// One recorded session for the whole binary.
fn session() -> &'static Path {
    static SESSION: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, s) = SESSION.get_or_init(|| {
        let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let s = daw::record_session(root.path());
        (root, s)
    });
    s
}

/// The name Ardour gets for a session track name (the fitted names the export reports).
fn ardour_name(name: &str) -> String {
    match name {
        "Click" => "Click (track 7)".into(),
        "Gtr: Amp" => "Gtr- Amp".into(),
        n => n.into(),
    }
}

fn take_starts(session: &Path) -> Vec<(String, u64)> {
    let m = common::read_json(&session.join("session.json"));
    m["takes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let kind = match t["kind"].as_str().unwrap() {
                "overdub" => " (overdub)",
                "imported" => " (imported)",
                _ => "",
            };
            (
                format!("Take {}{kind}", t["number"]),
                t["timeline_start"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn ardour_loads_every_take_at_its_sample_and_its_mix_nulls_against_sox() {
    let session = session();
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = root.path().join("ardour");
    let said = daw::tapedeck(
        &[
            "export",
            session.to_str().unwrap(),
            "--to",
            "ardour",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(said.contains("\"Click (track 7)\""), "{said}");
    assert!(said.contains("\"Gtr- Amp\""), "{said}");
    assert!(said.contains("referenced in place"), "{said}");

    let loaded = daw::ardour_load(&out, "song");
    assert!(!loaded.region_fades, "region fades are off");
    let expected = daw::playing_clips(session);
    assert_eq!(loaded.tracks.len(), expected.len(), "{loaded:#?}");
    for (name, clip) in &expected {
        let name = ardour_name(name);
        let (_, playlist, inputs) = loaded
            .tracks
            .iter()
            .find(|(t, _, _)| *t == name)
            .unwrap_or_else(|| panic!("no track {name:?} in {loaded:#?}"));
        let channels = hound::WavReader::open(&clip.path).unwrap().spec().channels;
        assert_eq!(
            *inputs,
            u32::from(channels),
            "{name}: one input per channel"
        );
        let r = loaded
            .regions
            .iter()
            .find(|r| r.track == name && r.playlist == *playlist)
            .unwrap_or_else(|| panic!("no region on {name}'s playlist in {loaded:#?}"));
        assert_eq!(
            (r.position, r.start, r.length),
            (clip.position, clip.offset, clip.frames),
            "{name}: {r:#?}"
        );
        assert_eq!(r.path, clip.path.canonicalize().unwrap(), "{name}");
    }
    for (marker, at) in take_starts(session) {
        assert!(
            loaded
                .locations
                .iter()
                .any(|(n, s, _, mark)| *n == marker && *s == at && *mark),
            "no marker {marker:?} at {at}: {:#?}",
            loaded.locations
        );
    }

    let clips: Vec<MixClip> = expected.into_iter().map(|(_, c)| c).collect();
    let length = clips.iter().map(|c| c.position + c.frames).max().unwrap();
    let render = daw::ardour_render(&out, "song", length, root.path());
    let reference = root.path().join("sox.wav");
    daw::sox_mix(&clips, length, &reference);
    let (peak, residual) = daw::null_dbfs(&render, &reference);
    assert!(
        (-40.0..-0.5).contains(&peak),
        "the mix peaks at {peak:.2} dBFS: the test needs a mix that sox does not clip"
    );
    assert!(
        residual < -100.0,
        "Ardour's render and the sox mix differ by {residual:.1} dBFS"
    );

    // The same session with its master made mono here: no panner runs, and Ardour's render is
    // sox's mix bit for bit.
    let mono = root.path().join("mono");
    std::fs::create_dir(&mono).unwrap();
    let xml = std::fs::read_to_string(out.join("song.ardour")).unwrap();
    std::fs::write(mono.join("song.ardour"), mono_master(&xml)).unwrap();
    let mono_render = root.path().join("mono-render");
    std::fs::create_dir(&mono_render).unwrap();
    let render = daw::ardour_render(&mono, "song", length, &mono_render);
    let reference = root.path().join("sox-mono.wav");
    daw::sox_mix_mono(&clips, length, &reference);
    let (_, residual) = daw::null_dbfs(&render, &reference);
    assert_eq!(
        residual,
        f64::NEG_INFINITY,
        "a mono master is bit-exact, but differs by {residual:.1} dBFS"
    );
}

/// The session text with a mono master: its second input and output gone, and every track's
/// second output (to it).
fn mono_master(xml: &str) -> String {
    let mut out = String::new();
    let mut skip = 0;
    let mut removed = 0;
    for line in xml.lines() {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        if line.contains(r#"name="Master/audio_in 2"/>"#) {
            removed += 1;
            continue;
        }
        if line.contains(r#"/audio_out 2">"#) {
            // The port, its connection, its end.
            skip = 2;
            removed += 1;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    assert!(removed > 2, "the master was not made mono");
    out
}

#[test]
fn every_take_gets_a_playlist_and_linked_audio_is_one_file_with_the_session_s() {
    let session = session();
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = root.path().join("all");
    let args = [
        "export",
        session.to_str().unwrap(),
        "--to",
        "ardour",
        "--takes",
        "all",
        "--link",
        "--out",
        out.to_str().unwrap(),
    ];
    let said = daw::tapedeck(&args, &[]);
    assert!(said.contains("hard-linked"), "{said}");
    let loaded = daw::ardour_load(&out, "song");
    // Vox has takes 1 and 3; it plays take 3 (the newest), take 1 is its other playlist.
    let vox: Vec<&daw::Region> = loaded.regions.iter().filter(|r| r.track == "Vox").collect();
    assert_eq!(vox.len(), 2, "{loaded:#?}");
    let active = &loaded.tracks.iter().find(|t| t.0 == "Vox").unwrap().1;
    assert_eq!(active, "Vox.T003");
    let t1 = vox.iter().find(|r| r.playlist == "Vox.T001").unwrap();
    let t3 = vox.iter().find(|r| r.playlist == "Vox.T003").unwrap();
    assert_eq!((t1.position, t1.length), (0, 144_000));
    assert_eq!((t3.position, t3.length), (24_000, 48_000));
    for r in &loaded.regions {
        assert!(
            r.path.starts_with(out.canonicalize().unwrap()),
            "{} is outside the export",
            r.path.display()
        );
        let name = r.path.file_name().unwrap().to_str().unwrap();
        let original = walk(session)
            .into_iter()
            .find(|p| p.file_name().unwrap().to_str() == Some(name))
            .unwrap();
        assert_eq!(
            std::fs::metadata(&r.path).unwrap().ino(),
            std::fs::metadata(&original).unwrap().ino(),
            "{name} is the session's own file"
        );
    }

    // Again into the same folder: refused, nothing touched.
    let project = out.join("song.ardour");
    let before = std::fs::read(&project).unwrap();
    let (code, _, err) = common::run(&args, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exists") && err.contains("--out"), "{err}");
    assert_eq!(std::fs::read(&project).unwrap(), before);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "wav") {
            out.push(p);
        }
    }
    out
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "makes a dropout by stalling the writer (fault injection): run with --features fault-injection"
)]
fn a_dropout_is_a_range_marker_where_the_audio_was_lost() {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = root.path().to_str().unwrap();
    // The writer stops for 1 s, 1 s into the take, with half a second of ring: a dropout.
    daw::tapedeck(
        &[
            "demo",
            "--headless",
            "--duration",
            "3s",
            "--ring-seconds",
            "0.5",
            "--session",
            "drop",
            "--dir",
            d,
            "--track",
            "2:Bass",
        ],
        &[
            ("TAPEDECK_TEST_STALL_WRITER", "1:1000"),
            ("XDG_CONFIG_HOME", d),
        ],
    );
    let session = root.path().join("drop");
    let take = common::last_take(&session);
    let dropouts = take["dropouts"].as_array().unwrap();
    assert!(!dropouts.is_empty(), "the stall made no dropout: {take:#}");
    let out = root.path().join("ardour");
    let said = daw::tapedeck(
        &[
            "export",
            session.to_str().unwrap(),
            "--to",
            "ardour",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(said.contains("dropout(s)"), "{said}");
    let loaded = daw::ardour_load(&out, "drop");
    for dr in dropouts {
        let at = dr["at_frame"].as_u64().unwrap();
        let frames = dr["frames"].as_u64().unwrap();
        assert!(
            loaded.locations.iter().any(|(name, start, end, mark)| {
                name.contains("dropout") && *start == at && *end == at + frames && !mark
            }),
            "no range marker for the dropout at {at} ({frames} frames): {:#?}",
            loaded.locations
        );
    }
}
