//! Level reports: the meter against EBU Tech 3341's minimum-requirement cases 1–6 (tone
//! sequences generated here), and the reports tapedeck writes (manifest and bext) against what
//! sox and ffmpeg measure on the same files: the demo band, an imported file and an overdub.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tapedeck::levels::{Encoding, LevelMeter};

const RATE: u32 = 48_000;

// ---------------------------------------------------------------------------------------------
// EBU Tech 3341, cases 1–6: 1 kHz sines at levels given in dBFS (peak), each case's
// integrated loudness −23.0 (case 2: −33.0) LUFS ±0.1 LU.

/// A tone sequence: `(level dBFS, seconds)` in order.
type Segments = Vec<(f64, f64)>;

/// `(level dBFS per channel, seconds)` segments of a 1 kHz sine, as 24-bit words.
fn tones(channels: &[f64], segments: &[(f64, f64)]) -> (Vec<u32>, usize) {
    let mut words = Vec::new();
    let mut i = 0u64;
    for &(level, seconds) in segments {
        let frames = (seconds * f64::from(RATE)).round() as u64;
        for _ in 0..frames {
            let phase = 2.0 * std::f64::consts::PI * 1000.0 * i as f64 / f64::from(RATE);
            for &offset in channels {
                let a = 10f64.powf((level + offset) / 20.0);
                words.push(((a * phase.sin() * 8_388_608.0).round() as i32) as u32);
            }
            i += 1;
        }
    }
    (words, channels.len())
}

fn measure(
    words: &[u32],
    channels: usize,
    map: Option<&[ebur128::Channel]>,
) -> tapedeck::levels::Report {
    let mut m = LevelMeter::new(channels, RATE, Encoding::Int(24)).unwrap();
    if let Some(map) = map {
        m.set_channel_map(map).unwrap();
    }
    // In pieces of an odd size, as the writer hands them.
    for piece in words.chunks(1237 * channels) {
        m.add_words(piece);
    }
    m.report()
}

fn within(what: &str, got: Option<f64>, want: f64, tolerance: f64) {
    let got = got.unwrap_or_else(|| panic!("{what}: no value"));
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: {got:.3}, expected {want} ±{tolerance}"
    );
}

#[test]
fn tech_3341_cases_1_to_6() {
    let stereo = [0.0, 0.0];
    let cases: [(&str, Segments, f64); 5] = [
        ("case 1", vec![(-23.0, 20.0)], -23.0),
        ("case 2", vec![(-33.0, 20.0)], -33.0),
        (
            "case 3",
            vec![(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)],
            -23.0,
        ),
        (
            "case 4",
            vec![
                (-72.0, 10.0),
                (-36.0, 10.0),
                (-23.0, 60.0),
                (-36.0, 10.0),
                (-72.0, 10.0),
            ],
            -23.0,
        ),
        (
            "case 5",
            vec![(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)],
            -23.0,
        ),
    ];
    for (name, segments, want) in cases {
        let (words, ch) = tones(&stereo, &segments);
        let r = measure(&words, ch, None);
        within(&format!("{name} integrated"), r.integrated_lufs, want, 0.1);
        if segments.len() == 1 {
            // Cases 1 and 2 hold momentary and short-term loudness steady at the same value.
            within(
                &format!("{name} momentary"),
                r.max_momentary_lufs,
                want,
                0.1,
            );
            within(
                &format!("{name} short-term"),
                r.max_short_term_lufs,
                want,
                0.1,
            );
        }
    }
    // Case 6: 5.0, L and R at −28, C at −24, Ls and Rs at −30 dBFS.
    use ebur128::Channel::*;
    let (words, ch) = tones(
        &[
            -28.0 + 23.0,
            -28.0 + 23.0,
            -24.0 + 23.0,
            -30.0 + 23.0,
            -30.0 + 23.0,
        ],
        &[(-23.0, 20.0)],
    );
    let r = measure(
        &words,
        ch,
        Some(&[Left, Right, Center, LeftSurround, RightSurround]),
    );
    within("case 6 integrated", r.integrated_lufs, -23.0, 0.1);
}

#[test]
fn tech_3341_true_peak_cases_15_to_18() {
    // A 0.5 FS sine at fs/4 (−6.02 dBTP), sampled at phases 0°, 45°, 60° and 67.5°: the
    // sample peak falls as far as 3 dB under the true peak, which must read −6.0 dBTP
    // +0.2/−0.4 dB.
    for degrees in [0.0f64, 45.0, 60.0, 67.5] {
        let phase = degrees.to_radians();
        let words: Vec<u32> = (0..5 * RATE)
            .map(|i| {
                let x = 0.5 * (std::f64::consts::FRAC_PI_2 * f64::from(i) + phase).sin();
                ((x * 8_388_608.0).round() as i32) as u32
            })
            .collect();
        let r = measure(&words, 1, None);
        let tp = 20.0 * r.true_peak.log10();
        assert!(
            (-6.4..=-5.8).contains(&tp),
            "phase {degrees}°: {tp:.3} dBTP, expected -6.0 +0.2/-0.4"
        );
    }
}

#[test]
fn a_mono_file_counts_its_channel_once() {
    // The convention tapedeck states: −20 dBFS at 997 Hz reads −23.0 LUFS (not −20, dual mono).
    let words: Vec<u32> = (0..10 * RATE)
        .map(|i| {
            let x =
                0.1 * (2.0 * std::f64::consts::PI * 997.0 * f64::from(i) / f64::from(RATE)).sin();
            ((x * 8_388_608.0).round() as i32) as u32
        })
        .collect();
    within(
        "mono",
        measure(&words, 1, None).integrated_lufs,
        -23.0,
        0.05,
    );
}

// ---------------------------------------------------------------------------------------------
// Against sox and ffmpeg, on files tapedeck wrote.

/// sox's `stats`: DC offset, Pk lev dB and RMS lev dB as printed (None for "-inf").
fn sox_stats(path: &Path) -> [Option<f64>; 3] {
    let out = Command::new("sox")
        .arg(path)
        .args(["-n", "stats"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sox: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    let field = |name: &str| -> Option<f64> {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("sox stats printed no {name:?}:\n{text}"));
        // The overall column is the first after the name.
        let v = line[name.len()..].split_whitespace().next().unwrap();
        v.parse().ok().filter(|x: &f64| x.is_finite())
    };
    [field("DC offset"), field("Pk lev dB"), field("RMS lev dB")]
}

/// ffmpeg's ebur128 filter at full precision: integrated loudness (LUFS) and true peak (dBTP)
/// of the whole file, as its last frame's metadata gives them.
fn ffmpeg_r128(path: &Path) -> (f64, f64) {
    let meta = path.with_extension("r128.txt");
    let out = Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(path)
        .arg("-af")
        .arg(format!(
            "ebur128=metadata=1:peak=true,ametadata=print:file={}",
            meta.display()
        ))
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&meta).unwrap();
    let last = |key: &str| -> f64 {
        let v = text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(&format!("lavfi.r128.{key}=")))
            .unwrap_or_else(|| panic!("no {key} in ffmpeg's metadata"));
        v.parse().unwrap()
    };
    let _ = std::fs::remove_file(&meta);
    (last("I"), 20.0 * last("true_peak").log10())
}

/// The five loudness fields of a file's bext chunk, parsed here from the file's bytes (a
/// reader of our own: hound skips bext), in hundredths; 0x7FFF is "not measured".
fn bext_loudness(path: &Path) -> [i16; 5] {
    let b = std::fs::read(path).unwrap();
    assert!(
        &b[0..4] == b"RIFF" && &b[8..12] == b"WAVE",
        "{}",
        path.display()
    );
    let mut pos = 12;
    while pos + 8 <= b.len() {
        let size = u32::from_le_bytes(b[pos + 4..pos + 8].try_into().unwrap()) as usize;
        if &b[pos..pos + 4] == b"bext" {
            let body = &b[pos + 8..pos + 8 + size];
            assert_eq!(
                u16::from_le_bytes([body[346], body[347]]),
                2,
                "bext version"
            );
            let mut f = [0i16; 5];
            for (i, v) in f.iter_mut().enumerate() {
                *v = i16::from_le_bytes([body[412 + 2 * i], body[413 + 2 * i]]);
            }
            return f;
        }
        pos += 8 + size + (size & 1);
    }
    panic!("{} has no bext chunk", path.display());
}

fn hundredths(v: &Value) -> i16 {
    v.as_f64().map_or(0x7fff, |x| (x * 100.0).round() as i16)
}

/// Checks one file's report in the manifest against sox, ffmpeg and its own bext chunk.
fn check_file(session: &Path, t: &Value) {
    let path: PathBuf = session.join(t["file"].as_str().unwrap());
    let shown = path.display().to_string();
    let l = &t["levels"];
    assert!(l.is_object(), "{shown} has no level report: {t:#}");
    let [dc, peak, rms] = sox_stats(&path);
    assert_eq!(
        l["dc_offset"].as_f64(),
        dc.or(Some(0.0)),
        "{shown}: DC offset as sox prints it"
    );
    assert_eq!(
        l["sample_peak_dbfs"].as_f64(),
        peak,
        "{shown}: sample peak as sox prints it"
    );
    assert_eq!(l["rms_dbfs"].as_f64(), rms, "{shown}: RMS as sox prints it");
    if peak.is_none() {
        return;
    }
    let (lufs, tp) = ffmpeg_r128(&path);
    let ours = l["integrated_lufs"].as_f64().unwrap();
    assert!(
        (ours - lufs).abs() <= 0.1,
        "{shown}: integrated {ours} LUFS, ffmpeg {lufs:.3}"
    );
    // True peak: two meters that each meet EBU Tech 3341's tolerance (+0.2/−0.4 dB of the real
    // peak) can differ by 0.6 dB between them; ffmpeg oversamples by resampling to 192 kHz,
    // ebur128 with BS.1770's 4× interpolation filter. Accuracy against a known true peak is
    // checked on generated signals (tech_3341_true_peak_cases_15_to_18). On white noise with
    // energy up to Nyquist they differ by more (docs/manifest.md says why): the songs here are
    // band-limited, like music.
    let ours_tp = l["true_peak_dbtp"].as_f64().unwrap();
    assert!(
        (ours_tp - tp).abs() <= 0.6,
        "{shown}: true peak {ours_tp} dBTP, ffmpeg {tp:.3}"
    );
    assert!(
        ours_tp >= peak.unwrap() - 0.005,
        "{shown}: true peak under sample peak"
    );
    let bext = bext_loudness(&path);
    let want = [
        hundredths(&l["integrated_lufs"]),
        hundredths(&l["loudness_range_lu"]),
        hundredths(&l["true_peak_dbtp"]),
        hundredths(&l["max_momentary_lufs"]),
        hundredths(&l["max_short_term_lufs"]),
    ];
    assert_eq!(bext, want, "{shown}: bext loudness fields");
}

fn tapedeck(args: &[&str], dir: &Path, config: &Path) -> std::process::Output {
    let out = Command::new(common::bin())
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("XDG_CONFIG_HOME", config)
        .env("TAPEDECK_DEMO_LOOPBACK_DELAY", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tapedeck {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_demo_band_reads_as_sox_and_ffmpeg_measure_it() {
    common::require("sox");
    common::require("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let out = tapedeck(
        &[
            "demo",
            "--headless",
            "--json-status",
            "--duration",
            "8s",
            "--session",
            "band",
        ],
        dir.path(),
        config.path(),
    );
    let session = dir.path().join("band");
    let take = common::last_take(&session);
    let tracks = take["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 8, "{take:#}");
    for t in tracks {
        check_file(&session, t);
    }
    // The synth clips: its report says so, like the take's clip count.
    let synth = tracks
        .iter()
        .find(|t| t["name"] == "Synth (clips)")
        .unwrap();
    assert!(synth["levels"]["clipped_samples"].as_u64().unwrap() > 0);
    assert_eq!(synth["levels"]["clipped_samples"], synth["clipped_samples"]);
    assert!(synth["levels"]["longest_clipped_run"].as_u64().unwrap() >= 1);
    // The take-end event carries the same report, in the manifest's field names.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let event: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "take_finished")
        .unwrap_or_else(|| panic!("no take_finished event in:\n{stdout}"));
    for (e, t) in event["tracks"].as_array().unwrap().iter().zip(tracks) {
        assert_eq!(e["levels"], t["levels"]);
    }
    // And `tapedeck report` shows it.
    let report = tapedeck(&["report", "band"], dir.path(), config.path());
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(
        text.contains("Synth (clips)") && text.contains("LUFS"),
        "{text}"
    );
    let json = tapedeck(
        &["report", "band", "--json", "--take", "1"],
        dir.path(),
        config.path(),
    );
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        v["takes"][0]["tracks"][0]["levels"], tracks[0]["levels"],
        "{v:#}"
    );
}

#[test]
fn an_imported_file_and_an_overdub_over_it_read_as_sox_and_ffmpeg_measure_them() {
    common::require("sox");
    common::require("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    // A song like music: pink noise under 16 kHz and a tone, made by sox.
    let noise = dir.path().join("song.wav");
    let made = Command::new("sox")
        .args(["-n", "-r", "48000", "-b", "24", "-c", "1"])
        .arg(&noise)
        .args(["synth", "6", "pinknoise", "vol", "0.3", "lowpass", "16000"])
        .args(["synth", "6", "sine", "mix", "220"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "sox: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let noise_arg = noise.to_str().unwrap();
    tapedeck(
        &["import", noise_arg, "--session", "song"],
        dir.path(),
        config.path(),
    );
    let session = dir.path().join("song");
    let imported = common::last_take(&session);
    // Measured as it was copied; the copy is byte for byte, so its bext is not touched.
    let t = &imported["tracks"][0];
    let path = session.join(t["file"].as_str().unwrap());
    let [dc, peak, rms] = sox_stats(&path);
    assert_eq!(t["levels"]["dc_offset"].as_f64(), dc.or(Some(0.0)));
    assert_eq!(t["levels"]["sample_peak_dbfs"].as_f64(), peak);
    assert_eq!(t["levels"]["rms_dbfs"].as_f64(), rms);
    let (lufs, _) = ffmpeg_r128(&path);
    assert!((t["levels"]["integrated_lufs"].as_f64().unwrap() - lufs).abs() <= 0.1);

    // The demo's loopback hears the song play: take 2 records it over the song.
    tapedeck(
        &[
            "demo",
            "--headless",
            "--overdub",
            "--session",
            "song",
            "--track",
            "9:Return",
            "--duration",
            "5s",
        ],
        dir.path(),
        config.path(),
    );
    let overdub = common::last_take(&session);
    assert_eq!(overdub["kind"], "overdub", "{overdub:#}");
    for t in overdub["tracks"].as_array().unwrap() {
        check_file(&session, t);
    }
}

#[test]
fn recover_measures_a_killed_take_and_fills_its_bext_loudness() {
    common::require("sox");
    common::require("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let mut child = Command::new(common::bin())
        .args([
            "demo",
            "--headless",
            "--duration",
            "60s",
            "--session",
            "cut",
        ])
        .args(["--track", "1:Kick", "--track", "6:Synth"])
        .arg("--dir")
        .arg(dir.path())
        .env("XDG_CONFIG_HOME", config.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let session = dir.path().join("cut");
    let file = session.join("take-001/06_Synth_T001.wav");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // Killed once four seconds of the take are on disk: the writer never finished it.
    while std::fs::metadata(&file).map_or(true, |m| m.len() < 4 * 144_000 + 4096) {
        assert!(std::time::Instant::now() < deadline, "the take never wrote");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = common::last_take(&session);
    assert_eq!(before["state"], "recording");
    assert!(before["tracks"][0]["levels"].is_null());
    assert_eq!(
        bext_loudness(&file),
        [0x7fff; 5],
        "not measured before recovery"
    );
    tapedeck(&["recover", "cut"], dir.path(), config.path());
    let take = common::last_take(&session);
    assert_eq!(take["state"], "recovered");
    for t in take["tracks"].as_array().unwrap() {
        check_file(&session, t);
    }
}
