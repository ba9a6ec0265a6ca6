//! Takes split in parts on an ordinary disk: `--split-every`, and a file size limit the kernel
//! enforces (RLIMIT_FSIZE: a write past it is cut short, then refused with EFBIG, as on a file
//! system that cannot hold a larger file). Every part is read back by soxi, hound and ffprobe
//! against the demo device's samples by stream frame; exports place the parts back to back.
//! The FAT case (a real file system limit, through fusefat) is tests/split_fat.rs.

mod common;

use std::path::Path;
use std::process::Command;

use common::split::{DemoSource, check_take, track_parts};
use common::{last_take, read_json};

const RATE: u32 = 44_100;
const PERIOD: u32 = 512;

fn demo_args<'a>(dir: &'a Path, channels: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "demo",
        "--unpaced",
        "--channels",
        channels,
        "--rate",
        "44100",
        "--device-format",
        "f32",
        "--format",
        "f32",
        "--buffer",
        "512",
        "--min-free",
        "1s",
        "--headless",
        "--session",
        "song",
        "--dir",
        dir.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    args
}

/// Lines `KEY value...` of the items of a REAPER project: (position s, length s, file).
fn rpp_items(rpp: &Path) -> Vec<(f64, f64, String)> {
    let text = std::fs::read_to_string(rpp).expect("rpp");
    let mut items = Vec::new();
    let (mut pos, mut len) = (0.0, 0.0);
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("POSITION ") {
            pos = v.parse().expect("position");
        } else if let Some(v) = line.strip_prefix("LENGTH ") {
            len = v.parse().expect("length");
        } else if let Some(v) = line.strip_prefix("FILE ") {
            items.push((pos, len, v.trim_matches('"').to_string()));
        }
    }
    items
}

#[test]
fn split_every_cuts_every_track_at_the_same_frames_and_exports_place_the_parts_back_to_back() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let args = demo_args(
        tmp.path(),
        "2",
        &[
            "--track",
            "1:Left",
            "--track",
            "2:Right",
            "--split-every",
            "2s",
            "--duration",
            "5s",
        ],
    );
    let (code, out, err) = common::run(&args, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let session = tmp.path().join("song");
    let take = last_take(&session);
    assert_eq!(take["length_frames"].as_u64(), Some(5 * RATE as u64));
    let source = DemoSource::new(2, RATE, PERIOD);
    let parts = check_take(&session, &take, &source);
    let every = 2 * RATE as u64;
    assert_eq!(parts, vec![vec![every, every, RATE as u64]; 2]);
    let names: Vec<String> = track_parts(&session, &take)[0]
        .1
        .iter()
        .map(|p| {
            p.path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "01_Left_T001.wav",
            "01_Left_T001_part002.wav",
            "01_Left_T001_part003.wav"
        ]
    );
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, names, "the names sort in part order");

    // REAPER: one item per part, each where the parts before it end.
    let out = tmp.path().join("reaper");
    let (code, said, err) = common::run(
        &[
            "export",
            session.to_str().expect("utf-8"),
            "--to",
            "reaper",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{said}\n{err}");
    let items = rpp_items(&out.join("song.RPP"));
    assert_eq!(items.len(), 6, "{items:?}");
    for track in items.chunks(3) {
        let mut at = 0.0;
        for (k, (pos, len, file)) in track.iter().enumerate() {
            assert!((pos - at).abs() < 1e-9, "part {k} at {pos}, expected {at}");
            let want = if k < 2 { 2.0 } else { 1.0 };
            assert!((len - want).abs() < 1e-9, "part {k} is {len} s");
            let track = if file.contains("02_Right") {
                "02_Right"
            } else {
                "01_Left"
            };
            assert!(
                file.ends_with(&names[k].replace("01_Left", track)),
                "{file}"
            );
            at += len;
        }
    }

    // DAWproject: one lane for the take, a clip per part, back to back.
    let out = tmp.path().join("dawproject");
    let (code, said, err) = common::run(
        &[
            "export",
            session.to_str().expect("utf-8"),
            "--to",
            "dawproject",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{said}\n{err}");
    common::require("python3");
    let read = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile, xml.etree.ElementTree as E\n\
             x = E.fromstring(zipfile.ZipFile(sys.argv[1]).read('project.xml'))\n\
             for lanes in x.iter('Lanes'):\n\
             \x20   for clips in lanes.findall('Clips'):\n\
             \x20       print(lanes.get('track'), ' '.join(c.get('time') + '+' + c.get('duration') for c in clips.findall('Clip')))",
        ])
        .arg(out.join("song.dawproject"))
        .output()
        .expect("python3");
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let lines: Vec<String> = String::from_utf8_lossy(&read.stdout)
        .lines()
        .map(|l| {
            l.split_once(' ')
                .map(|(_, c)| c.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(lines.len(), 2, "one lane per track: {lines:?}");
    for l in &lines {
        let clips: Vec<(f64, f64)> = l
            .split(' ')
            .map(|c| {
                let (t, d) = c.split_once('+').expect("time+duration");
                (t.parse().expect("time"), d.parse().expect("duration"))
            })
            .collect();
        assert_eq!(clips.len(), 3, "{l}");
        assert!((clips[0].0 - 0.0).abs() < 1e-9);
        assert!((clips[1].0 - 2.0).abs() < 1e-9);
        assert!((clips[2].0 - 4.0).abs() < 1e-9);
        assert!((clips[2].1 - 1.0).abs() < 1e-9);
    }
}

/// Runs tapedeck with its files limited to `bytes` (RLIMIT_FSIZE, SIGXFSZ ignored so that a
/// write past it is refused with EFBIG instead of killing the process).
fn limited(bytes: u64, args: &[&str]) -> Command {
    common::require("prlimit");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("trap '' XFSZ; exec prlimit --fsize=\"$0\" \"$@\"")
        .arg(bytes.to_string())
        .arg(common::bin())
        .args(args);
    cmd
}

#[test]
fn a_file_the_system_refuses_to_grow_continues_in_a_next_part_sample_for_sample() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    // 1.5 MB files: about 8.5 s of 44.1 kHz float each; the limit is not a whole number of
    // frames past the header, so the write that reaches it is cut short mid-sample.
    let limit = 1_500_001u64;
    let args = demo_args(tmp.path(), "1", &["--track", "1:Long", "--duration", "20s"]);
    let out = limited(limit, &args).output().expect("run");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let session = tmp.path().join("song");
    let take = last_take(&session);
    assert_eq!(take["length_frames"].as_u64(), Some(20 * RATE as u64));
    assert_eq!(take["end_reason"], "duration", "{take:#}");
    let parts = check_take(&session, &take, &DemoSource::new(1, RATE, PERIOD));
    let per_part = (limit - 4096) / 4;
    assert_eq!(parts[0].len(), 3, "{parts:?}");
    assert_eq!(parts[0][0], per_part, "the first part holds what fit");
    assert_eq!(parts[0][1], per_part);
    for p in &track_parts(&session, &take)[0].1 {
        let len = std::fs::metadata(&p.path).expect("meta").len();
        assert!(len <= limit, "{} is {len} bytes", p.path.display());
    }
    let m = read_json(&session.join("session.json"));
    let notes = m["notes"].to_string();
    assert!(notes.contains("continues in new files"), "{notes}");
}

#[test]
fn a_recorder_killed_after_its_files_moved_on_is_recovered_part_by_part() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let limit = 3_000_000u64;
    let args = demo_args(tmp.path(), "2", &["--duration", "3h"]);
    let mut child = limited(limit, &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start tapedeck");
    let session = tmp.path().join("song");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !std::fs::read_to_string(session.join("session.json"))
        .is_ok_and(|t| t.contains("_part003.wav"))
    {
        assert!(child.try_wait().expect("wait").is_none(), "ended early");
        assert!(
            std::time::Instant::now() < deadline,
            "no third part after 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill has no memory preconditions; the pid is our child's, not yet reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    let (code, said, err) = common::run(
        &[
            "recover",
            "--dir",
            tmp.path().to_str().expect("utf-8"),
            "song",
        ],
        &[],
    );
    assert_eq!(code, 0, "{said}\n{err}");
    let take = last_take(&session);
    assert_eq!(take["state"], "recovered", "{take:#}");
    // Every part on disk is listed, each repaired; together they are the device's audio.
    let parts = check_take(&session, &take, &DemoSource::new(2, RATE, PERIOD));
    let per_part = (limit - 4096) / 4;
    for track in &parts {
        assert!(track.len() >= 3, "{parts:?}");
        for &p in &track[..track.len() - 1] {
            assert_eq!(p, per_part, "every part but the last is full: {parts:?}");
        }
    }
    let on_disk = std::fs::read_dir(session.join("take-001"))
        .expect("take folder")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".wav"))
        })
        .count();
    assert_eq!(
        on_disk,
        parts.iter().map(Vec::len).sum::<usize>(),
        "every file on disk is listed"
    );
}
