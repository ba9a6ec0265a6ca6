//! A real recording past 4 GiB: the file turns into RF64 in place, with no gap and no second
//! file, and sox and ffprobe read all of it, down to the last samples.

mod common;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::process::Command;

use common::{last_take, read_json, take_files};
use tapedeck::audio::demo::{DemoOptions, unpaced_loop_frames};
use tapedeck::audio::demo_synth::DemoSynth;

const RATE: u32 = 96_000;
/// 3h6m40s at 96 kHz in 32-bit float: 4 300 800 000 bytes of audio, just past 4 GiB.
const DURATION: &str = "3h6m40s";
const FRAMES: u64 = (3 * 3600 + 6 * 60 + 40) * RATE as u64;
/// Samples checked at the end of the file.
const TAIL: u64 = RATE as u64;

/// The demo device's period in this test (`--buffer`).
const PERIOD: u32 = 512;

/// The last `TAIL` samples the demo device delivers on its one input before stream frame `end`.
/// Unpaced, it repeats its first `unpaced_loop_frames` frames (docs/architecture.md).
fn expected_tail(end: u64) -> Vec<f32> {
    let len = unpaced_loop_frames(RATE, PERIOD);
    let mut looped = vec![0f32; len];
    DemoSynth::new(1, RATE, DemoOptions::default().seed).render(&mut looped);
    (end - TAIL..end)
        .map(|k| looped[(k % len as u64) as usize])
        .collect()
}

#[test]
fn a_take_past_4_gib_becomes_rf64_and_reads_back_whole() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let need = FRAMES * 4 + (256 << 20);
    let free = tapedeck::disk::free_bytes(tmp.path()).unwrap_or(0);
    assert!(
        free > need,
        "this test writes a 4.3 GB file and needs {need} bytes free in {}; {free} are",
        tmp.path().display()
    );
    let (code, out, err) = common::run(
        &[
            "demo",
            "--unpaced",
            "--channels",
            "1",
            "--rate",
            "96000",
            "--device-format",
            "f32",
            "--format",
            "f32",
            "--buffer",
            "512",
            "--track",
            "1:Long",
            "--duration",
            DURATION,
            "--min-free",
            "1s",
            "--headless",
            "--session",
            "long",
            "--dir",
            tmp.path().to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let session = tmp.path().join("long");
    let take = last_take(&session);
    assert_eq!(take["length_frames"].as_u64(), Some(FRAMES));
    assert_eq!(
        take["dropout_frames"].as_u64(),
        Some(0),
        "{:#?}",
        take["dropouts"]
    );
    let files = take_files(&session, &take);
    assert_eq!(files.len(), 1, "one file, not a second one after 4 GiB");
    let folder = session.join(take["folder"].as_str().expect("folder"));
    assert_eq!(
        std::fs::read_dir(&folder).expect("take folder").count(),
        1,
        "nothing else in the take folder"
    );
    let path = &files[0].1;
    let data = FRAMES * 4;
    assert_eq!(std::fs::metadata(path).expect("meta").len(), 4096 + data);

    // The header, by the RF64 spec (EBU Tech 3306): RF64, 0xFFFFFFFF sizes, ds64 right after
    // the WAVE id with the true 64-bit sizes.
    let f = File::open(path).expect("open");
    let mut h = [0u8; 4096];
    f.read_exact_at(&mut h, 0).expect("header");
    let u32_at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().expect("4"));
    let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().expect("8"));
    assert_eq!(&h[0..4], b"RF64");
    assert_eq!(u32_at(4), u32::MAX);
    assert_eq!(&h[8..16], b"WAVEds64");
    assert_eq!(u64_at(20), 4096 - 8 + data, "ds64 riffSize");
    assert_eq!(u64_at(28), data, "ds64 dataSize");
    assert_eq!(u64_at(36), FRAMES, "ds64 sampleCount");
    assert_eq!(&h[4088..4092], b"data");
    assert_eq!(u32_at(4092), u32::MAX);

    // sox and ffprobe see every sample.
    let soxi = Command::new("soxi")
        .arg("-s")
        .arg(path)
        .output()
        .expect("soxi");
    assert!(
        soxi.status.success(),
        "{}",
        String::from_utf8_lossy(&soxi.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&soxi.stdout).trim(),
        FRAMES.to_string()
    );
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=duration_ts,sample_rate,codec_name",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(probe.status.success());
    let v: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("json");
    let s = &v["streams"][0];
    assert_eq!(s["codec_name"], "pcm_f32le");
    assert_eq!(s["sample_rate"], "96000");
    assert_eq!(s["duration_ts"].as_u64(), Some(FRAMES), "{v}");

    // The last second, as ffmpeg decodes it (float to float, no conversion) and as it lies in
    // the file, is the device's last second, bit for bit.
    let decoded = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-af",
            &format!("atrim=start_sample={}", FRAMES - TAIL),
            "-c:a",
            "pcm_f32le",
            "-f",
            "f32le",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(
        decoded.status.success(),
        "{}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    let mut raw = vec![0u8; TAIL as usize * 4];
    f.read_exact_at(&mut raw, 4096 + data - TAIL * 4)
        .expect("tail");
    assert_eq!(
        decoded.stdout, raw,
        "ffmpeg decodes the last samples as they are on disk"
    );
    let got: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4")))
        .collect();
    let start = take["start_frame"].as_u64().expect("start");
    let want = expected_tail(start + FRAMES);
    assert!(
        want.iter().any(|&x| x != 0.0),
        "the demo input is not silent"
    );
    let mismatch = got
        .iter()
        .zip(&want)
        .position(|(a, b)| a.to_bits() != b.to_bits());
    assert_eq!(mismatch, None, "the last samples differ");

    let manifest = read_json(&session.join("session.json"));
    assert_eq!(manifest["takes"][0]["end_reason"], "duration");
}
