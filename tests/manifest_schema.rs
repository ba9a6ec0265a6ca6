//! The session manifest matches docs/session.schema.json: what the real recorder writes is
//! valid, and the schema is strict enough to catch a manifest that is not.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::DateTime;
use jsonschema::Validator;
use serde_json::{Value, json};
use tapedeck::session::manifest::{
    CueRecord, DeviceRecord, DropoutRecord, EndReason, LatencyRecord, Manifest, MarkerRecord,
    NoteRecord, PartRecord, Program, SCHEMA, StartedBy, TakeKind, TakeRecord, TakeState, TakeTrack,
    TrackRecord, TriggerRecord,
};

fn read_json(path: &Path) -> Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The schema, compiled with format checking on (draft 2020-12 only annotates formats by
/// default), so that `date-time` is enforced as well as its pattern.
fn validator() -> Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/session.schema.json");
    let schema = read_json(&path);
    jsonschema::options()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{} is not a valid JSON Schema: {e}", path.display()))
}

/// Every validation error, as `instance path: message` (the path as a JSON Pointer).
fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| match e.instance_path.as_str() {
            "" => format!("(root): {e}"),
            at => format!("{at}: {e}"),
        })
        .collect()
}

fn assert_valid(validator: &Validator, instance: &Value, what: &str) {
    let errs = errors(validator, instance);
    assert!(
        errs.is_empty(),
        "{what} does not match docs/session.schema.json:\n  {}\n{}",
        errs.join("\n  "),
        serde_json::to_string_pretty(instance).unwrap_or_default()
    );
}

fn record_demo_take(dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .arg("demo")
        .args(["--duration", "2s", "--session", "s"])
        .arg("--dir")
        .arg(dir)
        .args(["--track", "1:Kick", "--track", "2:Bass DI:di", "--headless"])
        .output()
        .expect("run tapedeck");
    assert!(
        out.status.success(),
        "tapedeck demo failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn recorded_manifest_matches_the_schema() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    record_demo_take(tmp.path());
    record_demo_take(tmp.path());

    let session_dir = tmp.path().join("s");
    let manifest = read_json(&session_dir.join("session.json"));
    assert_valid(&validator(), &manifest, "the recorded session.json");

    assert_eq!(manifest["schema"], SCHEMA);
    assert_eq!(manifest["session"], "s");
    let takes = manifest["takes"].as_array().expect("takes is an array");
    assert_eq!(takes.len(), 2, "two runs into one session make two takes");
    for (i, take) in takes.iter().enumerate() {
        let number = i as u64 + 1;
        assert_eq!(take["number"].as_u64(), Some(number), "take {i}");
        assert_eq!(take["folder"], format!("take-{number:03}"), "take {number}");
        assert_eq!(take["state"], "complete", "take {number}");
        assert_eq!(take["end_reason"], "duration", "take {number}");
        assert_eq!(
            take["length_frames"].as_u64(),
            Some(96_000),
            "take {number}"
        );
        assert_eq!(take["dropout_frames"].as_u64(), Some(0), "take {number}");
        let tracks = take["tracks"].as_array().expect("take tracks is an array");
        assert_eq!(tracks.len(), 2, "take {number} has a file per track");
        for t in tracks {
            let file = t["file"].as_str().expect("file is a string");
            assert!(
                session_dir.join(file).is_file(),
                "take {number} lists {file}, which does not exist"
            );
            assert_eq!(t["frames"].as_u64(), Some(96_000), "{file}");
        }
        let di: Vec<&Value> = tracks.iter().filter(|t| t["role"] == "di").collect();
        assert_eq!(di.len(), 1, "take {number} has one track with role di");
        assert_eq!(di[0]["name"], "Bass DI");
        assert_eq!(di[0]["input"].as_u64(), Some(2));
        let kick = tracks
            .iter()
            .find(|t| t["name"] == "Kick")
            .expect("take has the Kick track");
        assert_eq!(kick["role"], Value::Null);
    }
}

/// Frames in a WAV file according to its header, if it can be read as a WAV yet.
fn wav_frames(path: &Path) -> Option<u32> {
    hound::WavReader::open(path).ok().map(|r| r.duration())
}

/// A program that dies mid-take (SIGKILL: no chance to clean up) leaves the take's journal
/// entry: `state: recording`, still valid against the schema, with readable WAV files.
#[test]
fn manifest_of_a_take_cut_short_matches_the_schema() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        .arg("demo")
        .args(["--duration", "60s", "--session", "s"])
        .arg("--dir")
        .arg(tmp.path())
        .args(["--track", "1:Kick", "--track", "2:Bass DI:di", "--headless"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tapedeck");
    let session_dir = tmp.path().join("s");
    let manifest_path = session_dir.join("session.json");
    // The take's files, once the manifest lists them.
    let files = || -> Option<Vec<PathBuf>> {
        let text = std::fs::read(&manifest_path).ok()?;
        let m: Value = serde_json::from_slice(&text).ok()?;
        m["takes"][0]["tracks"]
            .as_array()?
            .iter()
            .map(|t| Some(session_dir.join(t["file"].as_str()?)))
            .collect()
    };
    // Wait until the take is under way and every file has had a header update.
    let under_way = || {
        files().is_some_and(|fs| {
            !fs.is_empty() && fs.iter().all(|f| wav_frames(f).is_some_and(|n| n > 0))
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !under_way() {
        if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the take did not get under way within 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("kill tapedeck");
    child.wait().expect("reap tapedeck");

    let manifest = read_json(&manifest_path);
    assert_valid(
        &validator(),
        &manifest,
        "the session.json of a take cut short",
    );
    let take = &manifest["takes"][0];
    assert_eq!(take["state"], "recording");
    assert_eq!(take["ended_at"], Value::Null);
    assert_eq!(take["end_reason"], Value::Null);
    for t in take["tracks"].as_array().expect("take tracks is an array") {
        let file = session_dir.join(t["file"].as_str().expect("file is a string"));
        let frames = wav_frames(&file).unwrap_or_else(|| panic!("{} is not a WAV", file.display()));
        assert!(frames > 0, "{} holds no audio", file.display());
    }
}

/// A manifest built from the program's own types, with every optional part present somewhere:
/// a complete take with dropouts and markers, a take still recording, an overdub with its
/// latency, and an imported stereo file on a track of its own; tracks with a cue and a chosen
/// take.
fn built_manifest() -> Value {
    let time = |s: &str| DateTime::parse_from_rfc3339(s).expect("a valid RFC 3339 time");
    let device = DeviceRecord {
        host: "alsa".into(),
        id: "alsa:hw:CARD=USB,DEV=0".into(),
        name: "USB Audio Interface".into(),
        sample_rate: 48_000,
        sample_format: "i32".into(),
        channels: 2,
        buffer_frames: Some(256),
    };
    let track = |n: u16, name: &str, role: Option<&str>, take: u32| TakeTrack {
        track: n,
        name: name.into(),
        input: Some(n),
        role: role.map(str::to_string),
        file: format!(
            "take-{take:03}/{n:02}_{}_T{take:03}.wav",
            name.replace(' ', "-")
        ),
        channels: 1,
        imported_from: None,
        frames: 480_000,
        peak_dbfs: Some(-3.52),
        clipped_samples: 0,
        levels: None,
        triage: None,
        parts: Vec::new(),
    };
    let complete = TakeRecord {
        number: 1,
        folder: "take-001".into(),
        state: TakeState::Complete,
        started_at: time("2026-11-25T20:15:03.120000+01:00"),
        ended_at: Some(time("2026-11-25T20:15:13.130000+01:00")),
        end_reason: Some(EndReason::DeviceLost),
        end_detail: Some("the audio device disappeared".into()),
        device: device.clone(),
        sample_rate: 48_000,
        format: "s24".into(),
        kind: TakeKind::Recorded,
        timeline_start: 0,
        latency: None,
        triage: None,
        warnings: vec![
            "take 1 has recorded pure digital silence on every armed input since it started".into(),
        ],
        start_frame: 1024,
        length_frames: 480_000,
        length_seconds: 10.0,
        tracks: vec![
            track(1, "Kick", None, 1),
            TakeTrack {
                peak_dbfs: None,
                ..track(2, "Bass DI", Some("di"), 1)
            },
        ],
        dropouts: vec![DropoutRecord {
            at_frame: 96_000,
            at_seconds: 2.0,
            frames: 256,
            seconds: 256.0 / 48_000.0,
            cause: "device_xrun".into(),
            exact: false,
        }],
        dropout_frames: 256,
        markers: vec![MarkerRecord {
            frame: 240_000,
            seconds: 5.0,
            label: "M1".into(),
        }],
        time_reference: Some(20 * 3600 * 48_000 + 15 * 60 * 48_000 + 3 * 48_000 + 5760),
        family_uid: Some("0123456789ABCDEF0123456789ABCDEF".into()),
        started_by: Some(StartedBy::Record),
        pressed_frame: Some(97_024),
        pre_roll_frames: Some(96_000),
        trigger: None,
    };
    let recording = TakeRecord {
        number: 2,
        folder: "take-002".into(),
        state: TakeState::Recording,
        started_at: time("2026-11-25T19:20:00Z"),
        ended_at: None,
        end_reason: None,
        end_detail: None,
        start_frame: 0,
        length_frames: 0,
        length_seconds: 0.0,
        tracks: vec![TakeTrack {
            frames: 0,
            peak_dbfs: None,
            ..track(1, "Kick", None, 2)
        }],
        dropouts: Vec::new(),
        dropout_frames: 0,
        markers: Vec::new(),
        ..complete.clone()
    };
    let overdub = TakeRecord {
        number: 3,
        folder: "take-003".into(),
        kind: TakeKind::Overdub,
        timeline_start: 48_000,
        latency: Some(LatencyRecord {
            applied_frames: 1376,
            output_frames: 512,
            input_frames: 768,
            reported_by: "alsa buffer".into(),
            counted_once_frames: 0,
            correction_frames: 96,
            correction_source: "calibration of 2026-11-25T06:30:12+00:00".into(),
        }),
        // A take split in two parts (a file that could not grow, or --split-every).
        tracks: vec![TakeTrack {
            parts: vec![
                PartRecord {
                    file: "take-003/02_Bass-DI_T003.wav".into(),
                    frames: 300_000,
                },
                PartRecord {
                    file: "take-003/02_Bass-DI_T003_part002.wav".into(),
                    frames: 180_000,
                },
            ],
            ..track(2, "Bass DI", Some("di"), 3)
        }],
        dropouts: Vec::new(),
        dropout_frames: 0,
        markers: Vec::new(),
        ..complete.clone()
    };
    let imported = TakeRecord {
        number: 4,
        folder: "take-004".into(),
        end_reason: Some(EndReason::Stopped),
        end_detail: None,
        device: DeviceRecord {
            host: "none".into(),
            id: "import".into(),
            name: "tapedeck import".into(),
            sample_format: "i16".into(),
            buffer_frames: None,
            ..device.clone()
        },
        format: "s16".into(),
        kind: TakeKind::Imported,
        timeline_start: 96_000,
        start_frame: 0,
        tracks: vec![TakeTrack {
            input: None,
            channels: 2,
            imported_from: Some("/home/ana/stems/backing.wav".into()),
            peak_dbfs: None,
            file: "take-004/03_Backing_T004.wav".into(),
            ..track(3, "Backing", None, 4)
        }],
        dropouts: Vec::new(),
        dropout_frames: 0,
        markers: Vec::new(),
        time_reference: None,
        family_uid: None,
        started_by: None,
        pressed_frame: None,
        pre_roll_frames: None,
        ..complete.clone()
    };
    let triggered = TakeRecord {
        number: 5,
        folder: "take-005".into(),
        end_reason: Some(EndReason::Silence),
        end_detail: None,
        started_by: Some(StartedBy::Trigger),
        pressed_frame: Some(1_000_000),
        pre_roll_frames: Some(96_000),
        trigger: Some(TriggerRecord {
            level_dbfs: -40.0,
            silence_frames: 480_000,
            silence_seconds: 10.0,
            crossing_frame: 1_000_000,
        }),
        dropouts: Vec::new(),
        dropout_frames: 0,
        markers: Vec::new(),
        ..complete.clone()
    };
    let kept = TakeRecord {
        number: 6,
        folder: "take-006".into(),
        end_reason: Some(EndReason::Duration),
        end_detail: None,
        started_by: Some(StartedBy::KeepLast),
        pressed_frame: Some(2_000_000),
        pre_roll_frames: Some(480_000),
        dropouts: Vec::new(),
        dropout_frames: 0,
        markers: Vec::new(),
        ..complete.clone()
    };
    let manifest = Manifest {
        schema: SCHEMA.into(),
        program: Program::this(),
        session: "Gig at Joe's".into(),
        created: time("2026-11-25T20:14:59.5+01:00"),
        updated: time("2026-11-25T19:20:00.000000001Z"),
        sample_rate: 48_000,
        format: "s24".into(),
        device,
        timeline_origin: Some(20 * 3600 * 48_000 + 15 * 60 * 48_000 + 3 * 48_000 + 5760),
        tracks: vec![
            TrackRecord {
                number: 1,
                name: "Kick".into(),
                input: Some(1),
                role: None,
                format: "s24".into(),
                playing_take: Some(1),
                cue: CueRecord {
                    gain_db: -3.5,
                    pan: -0.25,
                    mute: true,
                    solo: false,
                },
            },
            TrackRecord {
                number: 2,
                name: "Bass DI".into(),
                input: Some(2),
                role: Some("di".into()),
                format: "s24".into(),
                playing_take: None,
                cue: CueRecord::default(),
            },
            TrackRecord {
                number: 3,
                name: "Backing".into(),
                input: None,
                role: None,
                format: "s16".into(),
                playing_take: None,
                cue: CueRecord {
                    solo: true,
                    ..CueRecord::default()
                },
            },
        ],
        takes: vec![complete, recording, overdub, imported, triggered, kept],
        notes: vec![NoteRecord {
            at: DateTime::parse_from_rfc3339("2026-11-25T21:40:00+01:00").expect("time"),
            take: Some(2),
            text: "the terminal hung up; the take went on recording".into(),
        }],
    };
    serde_json::to_value(&manifest).expect("the manifest serializes")
}

#[test]
fn manifest_built_from_the_program_types_matches_the_schema() {
    let m = built_manifest();
    assert_valid(&validator(), &m, "the built manifest");
    // Every field of version 2 is exercised, so the schema has seen each of them.
    for pointer in [
        "/timeline_origin",
        "/tracks/0/playing_take",
        "/tracks/0/cue/gain_db",
        "/tracks/2/input",
        "/takes/2/kind",
        "/takes/2/timeline_start",
        "/takes/2/latency/applied_frames",
        "/takes/2/latency/counted_once_frames",
        "/takes/3/tracks/0/channels",
        "/takes/3/tracks/0/imported_from",
        "/takes/2/tracks/0/parts/1/file",
        "/takes/2/tracks/0/parts/1/frames",
    ] {
        assert!(
            m.pointer(pointer).is_some(),
            "the built manifest has {pointer}"
        );
    }
    assert_eq!(m["takes"][3]["tracks"][0]["input"], Value::Null);
    assert_eq!(m["takes"][3]["tracks"][0]["channels"], 2);
    assert_eq!(m["takes"][3]["kind"], "imported");
    assert_eq!(m["takes"][2]["kind"], "overdub");
    assert_eq!(m["takes"][0]["kind"], "recorded");
    // What is absent when it has no value is absent, not null.
    assert!(m["takes"][0].get("latency").is_none());
    assert!(m["takes"][0]["tracks"][0].get("imported_from").is_none());
}

/// The example in docs/manifest.md is a manifest this version writes.
#[test]
fn the_documented_example_matches_the_schema() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/manifest.md");
    let doc = std::fs::read_to_string(&path).expect("read docs/manifest.md");
    let from = doc
        .find("## Example")
        .expect("docs/manifest.md has an example");
    let start = doc[from..]
        .find("```json\n")
        .expect("the example is a json block")
        + from
        + 8;
    let end = doc[start..].find("```").expect("the json block ends") + start;
    let example: Value = serde_json::from_str(&doc[start..end])
        .unwrap_or_else(|e| panic!("the example in docs/manifest.md is not JSON: {e}"));
    assert_valid(&validator(), &example, "the example in docs/manifest.md");
    let kinds: Vec<&Value> = example["takes"]
        .as_array()
        .expect("takes")
        .iter()
        .map(|t| &t["kind"])
        .collect();
    assert_eq!(kinds, ["recorded", "imported", "overdub"]);
    // It reads as the program's own manifest, too.
    let m: Manifest = serde_json::from_value(example).expect("the example reads as a Manifest");
    assert_eq!(m.takes[1].tracks[0].channels, 2);
}

/// Replaces the value at a JSON pointer.
fn set(doc: &mut Value, pointer: &str, value: Value) {
    *doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("the manifest has {pointer}")) = value;
}

#[test]
fn schema_rejects_what_the_program_would_not_write() {
    type Change = fn(&mut Value);
    let cases: &[(&str, Change, &str)] = &[
        (
            "a take file outside the session",
            |m| set(m, "/takes/0/tracks/0/file", json!("../../etc/passwd")),
            "/takes/0/tracks/0/file",
        ),
        (
            "an absolute take file",
            |m| {
                set(
                    m,
                    "/takes/0/tracks/0/file",
                    json!("/tmp/take-001/01_Kick_T001.wav"),
                )
            },
            "/takes/0/tracks/0/file",
        ),
        (
            "an unknown top-level field",
            |m| {
                m.as_object_mut()
                    .expect("the manifest is an object")
                    .insert("comment".into(), json!("added by hand"));
            },
            "(root)",
        ),
        (
            "an unknown field in a dropout",
            |m| m["takes"][0]["dropouts"][0]["kind"] = json!("xrun"),
            "/takes/0/dropouts/0",
        ),
        (
            "another schema version",
            |m| set(m, "/schema", json!("tapedeck.session/3")),
            "/schema",
        ),
        (
            "version 1, which tapedeck reads but no longer writes",
            |m| set(m, "/schema", json!("tapedeck.session/1")),
            "/schema",
        ),
        (
            "an unknown take kind",
            |m| set(m, "/takes/0/kind", json!("bounced")),
            "/takes/0/kind",
        ),
        (
            "a take without a timeline start",
            |m| {
                m["takes"][0]
                    .as_object_mut()
                    .expect("take is an object")
                    .remove("timeline_start");
            },
            "/takes/0",
        ),
        (
            "a latency on a take that is no overdub",
            |m| m["takes"][0]["latency"] = m["takes"][2]["latency"].clone(),
            "/takes/0",
        ),
        (
            "an overdub without its latency",
            |m| {
                m["takes"][2]
                    .as_object_mut()
                    .expect("take is an object")
                    .remove("latency");
            },
            "/takes/2",
        ),
        (
            "a latency with an unknown field",
            |m| m["takes"][2]["latency"]["jitter"] = json!(3),
            "/takes/2/latency",
        ),
        (
            "an imported file with a device input",
            |m| set(m, "/takes/3/tracks/0/input", json!(1)),
            "/takes/3/tracks/0/input",
        ),
        (
            "an imported file that does not say where it came from",
            |m| {
                m["takes"][3]["tracks"][0]
                    .as_object_mut()
                    .expect("file is an object")
                    .remove("imported_from");
            },
            "/takes/3/tracks/0",
        ),
        (
            "a recorded file without an input",
            |m| set(m, "/takes/0/tracks/0/input", Value::Null),
            "/takes/0/tracks/0/input",
        ),
        (
            "a recorded file in stereo",
            |m| set(m, "/takes/0/tracks/0/channels", json!(2)),
            "/takes/0/tracks/0/channels",
        ),
        (
            "a file of 4 channels",
            |m| set(m, "/takes/3/tracks/0/channels", json!(4)),
            "/takes/3/tracks/0/channels",
        ),
        (
            "a pan beyond full right",
            |m| set(m, "/tracks/0/cue/pan", json!(1.5)),
            "/tracks/0/cue/pan",
        ),
        (
            "a track without its cue",
            |m| {
                m["tracks"][0]
                    .as_object_mut()
                    .expect("track is an object")
                    .remove("cue");
            },
            "/tracks/0",
        ),
        (
            "a playing take 0",
            |m| set(m, "/tracks/0/playing_take", json!(0)),
            "/tracks/0/playing_take",
        ),
        (
            "a time without a UTC offset",
            |m| set(m, "/created", json!("2026-11-25T20:14:59")),
            "/created",
        ),
        (
            "an end reason in another spelling",
            |m| set(m, "/takes/0/end_reason", json!("DeviceLost")),
            "/takes/0/end_reason",
        ),
        (
            "a complete take without an end",
            |m| set(m, "/takes/0/ended_at", Value::Null),
            "/takes/0/ended_at",
        ),
        (
            "a recording take with an end reason",
            |m| set(m, "/takes/1/end_reason", json!("signal")),
            "/takes/1/end_reason",
        ),
        (
            "a missing nullable field",
            |m| {
                m["device"]
                    .as_object_mut()
                    .expect("device is an object")
                    .remove("buffer_frames");
            },
            "/device",
        ),
        (
            "a session name that is a path",
            |m| set(m, "/session", json!("../elsewhere")),
            "/session",
        ),
        (
            "an unknown file format",
            |m| set(m, "/format", json!("s32")),
            "/format",
        ),
        (
            "track input 0",
            |m| set(m, "/tracks/0/input", json!(0)),
            "/tracks/0/input",
        ),
        (
            "a negative frame count",
            |m| set(m, "/takes/0/length_frames", json!(-1)),
            "/takes/0/length_frames",
        ),
        (
            "a role in capitals",
            |m| set(m, "/tracks/1/role", json!("DI")),
            "/tracks/1/role",
        ),
        (
            "a take folder that is not take-NNN",
            |m| set(m, "/takes/0/folder", json!("take-1")),
            "/takes/0/folder",
        ),
    ];
    let validator = validator();
    let good = built_manifest();
    assert_valid(&validator, &good, "the built manifest");
    for (what, change, path) in cases {
        let mut bad = good.clone();
        change(&mut bad);
        let errs = errors(&validator, &bad);
        assert!(!errs.is_empty(), "the schema accepts {what}");
        assert!(
            errs.iter().any(|e| e.starts_with(&format!("{path}: "))),
            "the schema rejects {what}, but not at {path:?}:\n  {}",
            errs.join("\n  ")
        );
    }
}

/// A manifest as tapedeck wrote it before the song timeline (schema version 1, checked against
/// the version-1 schema when it was made): two takes, each with the time stamp its files carry.
const V1_MANIFEST: &str = r#"{
  "schema": "tapedeck.session/1",
  "program": {"name": "tapedeck", "version": "0.1.0"},
  "session": "s",
  "created": "2026-11-25T06:41:30.919493286Z",
  "updated": "2026-11-25T06:52:03.001002003Z",
  "sample_rate": 48000,
  "format": "s24",
  "device": {"host": "demo", "id": "custom:demo", "name": "tapedeck demo input", "sample_rate": 48000,
             "sample_format": "i32", "channels": 8, "buffer_frames": null},
  "tracks": [
    {"number": 1, "name": "Kick", "input": 1, "role": null, "format": "s24"},
    {"number": 2, "name": "Bass DI", "input": 2, "role": "di", "format": "s24"}
  ],
  "takes": [
    {
      "number": 1, "folder": "take-001", "state": "complete",
      "started_at": "2026-11-25T06:41:30.920646427Z", "ended_at": "2026-11-25T06:41:32.929702394Z",
      "end_reason": "duration", "end_detail": null,
      "device": {"host": "demo", "id": "custom:demo", "name": "tapedeck demo input", "sample_rate": 48000,
                 "sample_format": "i32", "channels": 8, "buffer_frames": null},
      "sample_rate": 48000, "format": "s24", "start_frame": 0, "length_frames": 96000, "length_seconds": 2.0,
      "tracks": [
        {"track": 1, "name": "Kick", "input": 1, "role": null, "file": "take-001/01_Kick_T001.wav",
         "frames": 96000, "peak_dbfs": -6.36, "clipped_samples": 0},
        {"track": 2, "name": "Bass DI", "input": 2, "role": "di", "file": "take-001/02_Bass-DI_T001.wav",
         "frames": 96000, "peak_dbfs": -10.21, "clipped_samples": 0}
      ],
      "dropouts": [], "dropout_frames": 0, "markers": [],
      "time_reference": 1156364191, "family_uid": "6F1C0D2A9B3E4F5061728394A5B6C7D8"
    },
    {
      "number": 2, "folder": "take-002", "state": "complete",
      "started_at": "2026-11-25T06:52:01.000000000Z", "ended_at": "2026-11-25T06:52:03.001002003Z",
      "end_reason": "duration", "end_detail": null,
      "device": {"host": "demo", "id": "custom:demo", "name": "tapedeck demo input", "sample_rate": 48000,
                 "sample_format": "i32", "channels": 8, "buffer_frames": null},
      "sample_rate": 48000, "format": "s24", "start_frame": 0, "length_frames": 96000, "length_seconds": 2.0,
      "tracks": [
        {"track": 2, "name": "Bass DI", "input": 2, "role": "di", "file": "take-002/02_Bass-DI_T002.wav",
         "frames": 96000, "peak_dbfs": -9.5, "clipped_samples": 0}
      ],
      "dropouts": [], "dropout_frames": 0, "markers": [],
      "time_reference": 1186416000, "family_uid": "0A1B2C3D4E5F60718293A4B5C6D7E8F9"
    }
  ],
  "notes": []
}"#;

/// The time stamp of take 1 in `V1_MANIFEST`: its files' bext TimeReference.
const V1_FIRST_TIME_REFERENCE: u64 = 1_156_364_191;

#[test]
fn a_version_1_manifest_loads_with_every_take_at_0() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let path = tmp.path().join("session.json");
    std::fs::write(&path, V1_MANIFEST).expect("write the manifest");
    let m = Manifest::load(&path).expect("a version-1 manifest loads");
    assert_eq!(m.schema, SCHEMA, "read as the current version");
    assert_eq!(
        m.timeline_origin,
        Some(V1_FIRST_TIME_REFERENCE),
        "the origin is the first take's time"
    );
    assert_eq!(m.takes.len(), 2);
    for t in &m.takes {
        assert_eq!(t.timeline_start, 0, "take {}", t.number);
        assert_eq!(t.kind, TakeKind::Recorded, "take {}", t.number);
        assert_eq!(t.latency, None, "take {}", t.number);
        for f in &t.tracks {
            assert_eq!(f.channels, 1, "{}", f.file);
            assert_eq!(f.imported_from, None, "{}", f.file);
            assert!(f.input.is_some(), "{}", f.file);
        }
    }
    // The files keep the time they were written with.
    assert_eq!(m.takes[1].time_reference, Some(1_186_416_000));
    for t in &m.tracks {
        assert_eq!(t.playing_take, None, "track {}", t.number);
        assert_eq!(t.cue, CueRecord::default(), "track {}", t.number);
    }
    assert_eq!(m.tracks[1].input, Some(2));
    // Reading touches nothing.
    assert_eq!(
        std::fs::read_to_string(&path).expect("read back"),
        V1_MANIFEST
    );
    // Written back, it is a manifest of this version.
    let written = serde_json::to_value(&m).expect("the manifest serializes");
    assert_valid(&validator(), &written, "a version-1 manifest written back");
}

/// A version-1 session takes a new take, and is then written as version 2 with its old takes
/// where version 1 had them.
#[test]
fn recording_into_a_version_1_session_writes_it_back_as_version_2() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let session_dir = tmp.path().join("s");
    std::fs::create_dir(&session_dir).expect("mkdir");
    std::fs::write(session_dir.join("session.json"), V1_MANIFEST).expect("write the manifest");
    record_demo_take(tmp.path());
    let manifest = read_json(&session_dir.join("session.json"));
    assert_valid(&validator(), &manifest, "a version-1 session recorded into");
    assert_eq!(manifest["schema"], SCHEMA);
    assert_eq!(manifest["timeline_origin"], V1_FIRST_TIME_REFERENCE);
    let takes = manifest["takes"].as_array().expect("takes");
    assert_eq!(takes.len(), 3);
    assert_eq!(takes[2]["number"], 3);
    for t in &takes[..2] {
        assert_eq!(t["timeline_start"], 0);
        assert_eq!(t["kind"], "recorded");
    }
    assert_eq!(takes[1]["time_reference"], 1_186_416_000u64);
}
