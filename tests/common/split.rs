//! Helpers for the split-take tests: what the unpaced demo device delivers by stream frame,
//! and a check of every part of a take by tools we did not write (soxi, hound, ffprobe).

use std::path::{Path, PathBuf};
use std::process::Command;

use tapedeck::audio::demo::{DemoOptions, unpaced_loop_frames};
use tapedeck::audio::demo_synth::DemoSynth;

/// The unpaced demo device's interleaved frames: it repeats its first `unpaced_loop_frames`
/// frames, so stream frame k of channel c is `looped[(k % len) * channels + c]`.
pub struct DemoSource {
    looped: Vec<f32>,
    channels: usize,
    frames: u64,
}

impl DemoSource {
    pub fn new(channels: usize, rate: u32, period: u32) -> Self {
        let len = unpaced_loop_frames(rate, period);
        let mut looped = vec![0f32; len * channels];
        DemoSynth::new(channels, rate, DemoOptions::default().seed).render(&mut looped);
        assert!(
            looped.iter().any(|&x| x != 0.0),
            "the demo input is not silent"
        );
        Self {
            looped,
            channels,
            frames: len as u64,
        }
    }

    pub fn sample(&self, stream_frame: u64, channel: usize) -> f32 {
        self.looped[(stream_frame % self.frames) as usize * self.channels + channel]
    }
}

/// One part of a track as the manifest lists it.
#[derive(Debug, Clone)]
pub struct Part {
    pub path: PathBuf,
    pub frames: u64,
}

/// Each track's parts (its one file when not split), by the manifest: (input, parts).
pub fn track_parts(session: &Path, take: &serde_json::Value) -> Vec<(u64, Vec<Part>)> {
    take["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| {
            let input = t["input"].as_u64().expect("input");
            let parts = match t["parts"].as_array() {
                Some(parts) => {
                    assert_eq!(parts[0]["file"], t["file"], "file is the first part");
                    parts
                        .iter()
                        .map(|p| Part {
                            path: session.join(p["file"].as_str().expect("file")),
                            frames: p["frames"].as_u64().expect("frames"),
                        })
                        .collect()
                }
                None => vec![Part {
                    path: session.join(t["file"].as_str().expect("file")),
                    frames: t["frames"].as_u64().expect("frames"),
                }],
            };
            (input, parts)
        })
        .collect()
}

/// The bext TimeReference as ffprobe reads it.
pub fn ffprobe_time_reference(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format_tags=time_reference",
            "-of",
            "default=nw=1:nk=1",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(out.status.success(), "ffprobe {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("time_reference of {}: {e}", path.display()))
}

/// Checks every part of every track of `take`: soxi's lengths are the manifest's and add up
/// to the track's frames; hound reads, in part order, exactly the device's samples of the
/// track's input from the take's first stream frame (bit for bit); each part's TimeReference
/// is the take's plus the frames before it. Returns each track's frames per part.
pub fn check_take(session: &Path, take: &serde_json::Value, source: &DemoSource) -> Vec<Vec<u64>> {
    check_take_with(session, take, source, true)
}

/// [`check_take`]; `sox_stats`: also have sox read every sample (slow on gigabytes).
pub fn check_take_with(
    session: &Path,
    take: &serde_json::Value,
    source: &DemoSource,
    sox_stats: bool,
) -> Vec<Vec<u64>> {
    crate::common::require("soxi");
    crate::common::require("ffprobe");
    let start = take["start_frame"].as_u64().expect("start_frame");
    let time_reference = take["time_reference"].as_u64().expect("time_reference");
    let mut out = Vec::new();
    for (input, parts) in track_parts(session, take) {
        let mut at = 0u64;
        for p in &parts {
            let samples = if sox_stats {
                crate::common::soxi(&p.path).0
            } else {
                soxi_samples(&p.path)
            };
            assert_eq!(samples, p.frames, "soxi length of {}", p.path.display());
            assert_eq!(
                ffprobe_time_reference(&p.path),
                time_reference + at,
                "TimeReference of {}",
                p.path.display()
            );
            let mut reader = hound::WavReader::open(&p.path)
                .unwrap_or_else(|e| panic!("hound opens {}: {e}", p.path.display()));
            assert_eq!(u64::from(reader.duration()), p.frames);
            for (i, s) in reader.samples::<f32>().enumerate() {
                let got = s.expect("sample");
                let want = source.sample(start + at + i as u64, input as usize - 1);
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{} frame {i} (take frame {})",
                    p.path.display(),
                    at + i as u64
                );
            }
            at += p.frames;
        }
        out.push(parts.iter().map(|p| p.frames).collect());
    }
    out
}

/// `soxi -s`: the length in samples the header gives, as sox reads it.
pub fn soxi_samples(path: &Path) -> u64 {
    let out = Command::new("soxi")
        .arg("-s")
        .arg(path)
        .output()
        .expect("soxi");
    assert!(
        out.status.success(),
        "soxi -s {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("soxi -s")
}
