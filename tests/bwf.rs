//! Broadcast Wave metadata read back by tools we did not write: ffprobe for the bext fields,
//! and a chunk walker written from the RIFF / EBU Tech 3285 / iXML specifications (not from
//! tapedeck's writer) for the chunk layout, the bext fixed fields and the iXML document.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Local, Timelike};
use common::{last_take, read_json, take_files};

/// The chunks of a RIFF/RF64 WAVE file, in order: (id, body offset, body size).
fn chunks(bytes: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    assert!(&bytes[0..4] == b"RIFF" || &bytes[0..4] == b"RF64");
    assert_eq!(&bytes[8..12], b"WAVE");
    let mut out = Vec::new();
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id: [u8; 4] = bytes[pos..pos + 4].try_into().expect("id");
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("size")) as usize;
        out.push((id, pos + 8, size));
        if &id == b"data" {
            break;
        }
        // Chunks are word-aligned: an odd body is followed by a pad byte.
        pos += 8 + size + (size & 1);
    }
    out
}

fn body<'a>(bytes: &'a [u8], id: &[u8; 4]) -> &'a [u8] {
    let (_, at, size) = chunks(bytes)
        .into_iter()
        .find(|(i, _, _)| i == id)
        .unwrap_or_else(|| panic!("no {} chunk", String::from_utf8_lossy(id)));
    &bytes[at..at + size]
}

/// A NUL-padded text field.
fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8(field[..end].to_vec()).expect("utf-8 field")
}

/// The text of the first `<TAG>...</TAG>` under the element path `path` (e.g.
/// "FILE_SET/FAMILY_UID"), from a document without attributes or repeated siblings.
fn xml(doc: &str, path: &str) -> String {
    let mut scope = doc;
    for tag in path.split('/') {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let start = scope
            .find(&open)
            .unwrap_or_else(|| panic!("no <{tag}> in iXML:\n{doc}"))
            + open.len();
        let end = scope[start..].find(&close).expect("closing tag") + start;
        scope = &scope[start..end];
    }
    scope
        .trim()
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// ffprobe's view of the file's tags (it reads bext into these).
fn ffprobe_tags(path: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format_tags", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe runs (scripts/setup --test installs ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    v["format"]["tags"].clone()
}

fn record(dir: &Path, session: &str) {
    let (code, out, err) = common::run(
        &[
            "demo",
            "--channels",
            "3",
            "--track",
            "1:Kick",
            "--track",
            "2:Bass DI:di",
            "--track",
            "3:Gtr <&> \"Amp\"",
            "--duration",
            "1s",
            "--headless",
            "--session",
            session,
            "--dir",
            dir.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn every_file_carries_bext_and_ixml_that_other_tools_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let session_name = "Song 1 & Co";
    record(tmp.path(), session_name);
    record(tmp.path(), session_name);
    let session = tmp.path().join(session_name);
    let manifest = read_json(&session.join("session.json"));
    let take = last_take(&session);
    assert_eq!(take["number"], 2);
    let files = take_files(&session, &take);
    assert_eq!(files.len(), 3);
    let started: DateTime<chrono::FixedOffset> =
        DateTime::parse_from_rfc3339(take["started_at"].as_str().expect("started_at"))
            .expect("iso 8601");
    let local = started.with_timezone(&Local);
    let family = take["family_uid"].as_str().expect("family_uid").to_string();
    let time_reference = take["time_reference"].as_u64().expect("time_reference");
    // TimeReference is the song's origin plus the take's place on the timeline: both takes
    // start at 0, so take 2's files carry take 1's start, in samples since local midnight.
    assert_eq!(take["timeline_start"], 0);
    let origin = manifest["timeline_origin"]
        .as_u64()
        .expect("timeline_origin");
    assert_eq!(time_reference, origin);
    let first = &manifest["takes"][0];
    assert_eq!(first["time_reference"].as_u64(), Some(origin));
    let first_started: DateTime<chrono::FixedOffset> =
        DateTime::parse_from_rfc3339(first["started_at"].as_str().expect("started_at"))
            .expect("iso 8601");
    let first_local = first_started.with_timezone(&Local);
    let since_midnight = f64::from(first_local.num_seconds_from_midnight())
        + f64::from(first_local.nanosecond()) / 1e9;
    assert!(
        (origin as f64 / 48_000.0 - since_midnight).abs() < 0.001,
        "{origin} vs {since_midnight}s"
    );
    let names = ["Kick", "Bass DI", "Gtr <&> \"Amp\""];
    let mut file_uids = HashSet::new();
    for (i, (_input, path)) in files.iter().enumerate() {
        let frames = take["tracks"][i]["frames"].as_u64().expect("frames");
        assert_eq!(frames, 48_000);
        let bytes = std::fs::read(path).expect("read");
        // Layout: metadata before the audio, which starts on a 4 KiB boundary.
        let ids: Vec<String> = chunks(&bytes)
            .iter()
            .map(|(id, _, _)| String::from_utf8_lossy(id).into_owned())
            .collect();
        assert_eq!(
            ids,
            ["JUNK", "fmt ", "bext", "iXML", "data"],
            "{}",
            path.display()
        );
        let (_, data_at, data_size) = *chunks(&bytes).last().expect("data");
        assert_eq!(data_at % 4096, 0);
        assert_eq!(data_size as u64, frames * 3, "s24 mono");

        // bext, field by field (EBU Tech 3285 v2 offsets).
        let b = body(&bytes, b"bext");
        assert!(b.len() >= 602);
        let description = text(&b[0..256]);
        assert_eq!(
            description,
            format!("{} - session {session_name} - take 2", names[i])
        );
        assert_eq!(
            text(&b[256..288]),
            format!("tapedeck {}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(
            text(&b[288..320]),
            family,
            "OriginatorReference: one per take"
        );
        assert_eq!(text(&b[320..330]), local.format("%Y-%m-%d").to_string());
        assert_eq!(text(&b[330..338]), local.format("%H:%M:%S").to_string());
        let tr = u64::from_le_bytes(b[338..346].try_into().expect("u64"));
        assert_eq!(tr, time_reference, "the same TimeReference on every file");
        assert_eq!(u16::from_le_bytes([b[346], b[347]]), 2, "bext version");
        let history = text(&b[602..]);
        assert_eq!(
            history,
            format!(
                "A=PCM,F=48000,W=24,M=mono,T=tapedeck {}\r\n",
                env!("CARGO_PKG_VERSION")
            )
        );

        // The same fields as ffprobe reads them.
        let tags = ffprobe_tags(path);
        assert_eq!(tags["comment"], description.as_str());
        assert_eq!(
            tags["encoded_by"],
            format!("tapedeck {}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(tags["originator_reference"], family.as_str());
        assert_eq!(tags["time_reference"], time_reference.to_string());
        assert_eq!(tags["date"], local.format("%Y-%m-%d").to_string());

        // iXML.
        let doc = String::from_utf8(body(&bytes, b"iXML").to_vec()).expect("utf-8 iXML");
        assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert_eq!(xml(&doc, "BWFXML/PROJECT"), session_name);
        assert_eq!(xml(&doc, "BWFXML/SCENE"), session_name);
        assert_eq!(xml(&doc, "BWFXML/TAKE"), "2");
        assert_eq!(xml(&doc, "TRACK_LIST/TRACK/NAME"), names[i]);
        assert_eq!(
            xml(&doc, "TRACK_LIST/TRACK/CHANNEL_INDEX"),
            (i + 1).to_string()
        );
        assert_eq!(xml(&doc, "FILE_SET/FAMILY_UID"), family);
        assert_eq!(xml(&doc, "FILE_SET/TOTAL_FILES"), "3");
        assert_eq!(xml(&doc, "FILE_SET/FILE_SET_INDEX"), (i + 1).to_string());
        assert_eq!(xml(&doc, "SPEED/FILE_SAMPLE_RATE"), "48000");
        assert_eq!(xml(&doc, "SPEED/AUDIO_BIT_DEPTH"), "24");
        assert_eq!(xml(&doc, "SPEED/TIMESTAMP_SAMPLE_RATE"), "48000");
        let hi: u64 = xml(&doc, "SPEED/TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI")
            .parse()
            .expect("number");
        let lo: u64 = xml(&doc, "SPEED/TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO")
            .parse()
            .expect("number");
        assert_eq!((hi << 32) | lo, time_reference);
        assert_eq!(xml(&doc, "BEXT/BWF_DESCRIPTION"), description);
        assert!(
            file_uids.insert(xml(&doc, "BWFXML/FILE_UID")),
            "FILE_UID is per file"
        );
    }
    // Take 1 is another family.
    let first = &manifest["takes"][0];
    assert_ne!(first["family_uid"], take["family_uid"]);
    for (_, path) in take_files(&session, first) {
        let bytes = std::fs::read(&path).expect("read");
        let doc = String::from_utf8(body(&bytes, b"iXML").to_vec()).expect("utf-8");
        assert_eq!(xml(&doc, "BWFXML/TAKE"), "1");
        assert_eq!(
            xml(&doc, "FILE_SET/FAMILY_UID"),
            first["family_uid"].as_str().expect("uid")
        );
    }
}

#[test]
fn a_file_that_was_never_finalised_already_carries_its_metadata() {
    // Kill the recorder mid-take: the files' bext and iXML are complete anyway.
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = common::spawn_demo(tmp.path(), "cut", &[]);
    let session = tmp.path().join("cut");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let big = std::fs::read_dir(session.join("take-001"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.metadata().map(|m| m.len() > 8192).unwrap_or(false))
                    .count()
            })
            .unwrap_or(0);
        if big == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no audio reached the files"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let take = last_take(&session);
    assert_eq!(
        take["state"], "recording",
        "the journal says the take never finished"
    );
    for (_, path) in take_files(&session, &take) {
        let bytes = std::fs::read(&path).expect("read");
        let b = body(&bytes, b"bext");
        assert!(text(&b[0..256]).ends_with(" - session cut - take 1"));
        assert_eq!(
            text(&b[288..320]),
            take["family_uid"].as_str().expect("uid")
        );
        let doc = String::from_utf8(body(&bytes, b"iXML").to_vec()).expect("utf-8");
        assert_eq!(xml(&doc, "FILE_SET/TOTAL_FILES"), "2");
        let tags = ffprobe_tags(&path);
        assert_eq!(tags["originator_reference"], take["family_uid"]);
    }
}
