//! The real capture path: cpal's ALSA host records from ALSA `file` devices paced in real time
//! by a JACK dummy server, with known content. Every sample in every file must equal the
//! expected sample after the documented conversion, and all files of a take must have the
//! same length. Files are read back with hound and checked with soxi/sox.

mod common;

use std::path::Path;

use common::{JackServer, last_take, run, soxi, take_files, write_asoundrc};

#[derive(Clone, Copy, Debug)]
enum Dev {
    I16,
    I32,
    F32,
}

impl Dev {
    fn name(self) -> &'static str {
        match self {
            Dev::I16 => "i16",
            Dev::I32 => "i32",
            Dev::F32 => "f32",
        }
    }
}

/// One device sample, kept exactly.
#[derive(Clone, Copy, Debug)]
enum Sample {
    I(i32),
    F(f32),
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Interleaved content with the edge cases the conversions must get right.
fn content(dev: Dev, frames: usize, channels: usize, seed: u64) -> (Vec<u8>, Vec<Sample>) {
    let mut rng = Rng(seed | 1);
    let mut bytes = Vec::new();
    let mut samples = Vec::with_capacity(frames * channels);
    for i in 0..frames * channels {
        let r = rng.next();
        let pick = r % 16;
        let s = match dev {
            Dev::I16 => Sample::I(match pick {
                0 => i32::from(i16::MIN),
                1 => i32::from(i16::MAX),
                2 => 0,
                _ => i32::from((r >> 16) as i16),
            }),
            Dev::I32 => Sample::I(match pick {
                0 => i32::MIN,
                1 => i32::MAX,
                2 => 0,
                // A 24-bit interface: low byte zero.
                3 => ((r >> 16) as i32) & !0xff,
                _ => (r >> 16) as i32,
            }),
            Dev::F32 => Sample::F(match pick {
                0 => 1.0,
                1 => -1.0,
                2 => 0.0,
                3 => -0.0,
                // Beyond full scale: must clip in integer files.
                4 => 1.0 + (r >> 40) as f32 / 16_777_216.0,
                5 => -1.5,
                // Exactly half an LSB of 16 and 24 bits: rounding direction matters.
                6 => ((r >> 50) as f32 + 0.5) / 32768.0,
                7 => -((r >> 50) as f32 + 0.5) / 8_388_608.0,
                8 => 1e-30,
                _ => ((r >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32,
            }),
        };
        let _ = i;
        match s {
            Sample::I(v) if matches!(dev, Dev::I16) => {
                bytes.extend_from_slice(&(v as i16).to_le_bytes())
            }
            Sample::I(v) => bytes.extend_from_slice(&v.to_le_bytes()),
            Sample::F(v) => bytes.extend_from_slice(&v.to_le_bytes()),
        }
        samples.push(s);
    }
    (bytes, samples)
}

/// The documented conversion rules (docs/architecture.md), written independently of the
/// program: integer narrowing drops low bits, integer widening shifts, float to integer rounds
/// half away from zero and clips, anything to f32 divides by full scale, f32 to f32 is exact.
fn round_clip(x: f32, scale: f64, min: i64, max: i64) -> i64 {
    if x.is_nan() {
        return 0;
    }
    let v = (f64::from(x) * scale).round() as i64;
    v.clamp(min, max)
}

fn expect_int(s: Sample, dev: Dev, bits: u32) -> i64 {
    match (s, dev, bits) {
        (Sample::I(v), Dev::I16, 16) => i64::from(v),
        (Sample::I(v), Dev::I16, 24) => i64::from(v) << 8,
        (Sample::I(v), Dev::I32, 16) => i64::from(v >> 16),
        (Sample::I(v), Dev::I32, 24) => i64::from(v >> 8),
        (Sample::F(x), Dev::F32, 16) => round_clip(x, 32768.0, -32768, 32767),
        (Sample::F(x), Dev::F32, 24) => round_clip(x, 8_388_608.0, -8_388_608, 8_388_607),
        other => panic!("no rule for {other:?}"),
    }
}

fn expect_float(s: Sample, dev: Dev) -> u32 {
    match (s, dev) {
        (Sample::I(v), Dev::I16) => ((f64::from(v) / 32768.0) as f32).to_bits(),
        (Sample::I(v), Dev::I32) => ((f64::from(v) / 2_147_483_648.0) as f32).to_bits(),
        (Sample::F(x), Dev::F32) => x.to_bits(),
        other => panic!("no rule for {other:?}"),
    }
}

/// Records one take per (device format, file format) and compares every sample.
fn record_and_compare(rate: u32, channels: usize, seconds: u32) {
    let jack = JackServer::start(rate, 256, 2);
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    write_asoundrc(&home, &[("paced_in", "TAPEDECK_TEST_IN")]);
    // Longer than the take: at end of file the plugin repeats its last period.
    let frames = (rate * (seconds + 2)) as usize;
    let mut results = Vec::new();
    for (di, dev) in [Dev::I16, Dev::I32, Dev::F32].into_iter().enumerate() {
        let (bytes, samples) = content(
            dev,
            frames,
            channels,
            0x5eed + di as u64 * 7919 + u64::from(rate),
        );
        let input = tmp.path().join(format!("in-{}.raw", dev.name()));
        std::fs::write(&input, &bytes).expect("write input");
        for file_format in ["s16", "s24", "f32"] {
            let session = format!("{}-{file_format}", dev.name());
            let args = [
                "record",
                "--host",
                "alsa",
                "--device",
                "alsa:paced_in",
                "--channels",
                &channels.to_string(),
                "--rate",
                &rate.to_string(),
                "--device-format",
                dev.name(),
                "--format",
                file_format,
                "--buffer",
                "1024",
                "--duration",
                &format!("{seconds}s"),
                "--dir",
                tmp.path().to_str().expect("utf-8 path"),
                "--session",
                &session,
                "--headless",
            ];
            let (code, out, err) = run(
                &args,
                &[
                    ("HOME", home.to_str().expect("utf-8")),
                    ("JACK_DEFAULT_SERVER", &jack.name),
                    ("JACK_NO_START_SERVER", "1"),
                    ("TAPEDECK_TEST_IN", input.to_str().expect("utf-8")),
                ],
            );
            assert_eq!(code, 0, "{session}: exit {code}\n{out}\n{err}");
            let dir = tmp.path().join(&session);
            let take = last_take(&dir);
            let start = take["start_frame"].as_u64().expect("start_frame") as usize;
            let len = take["length_frames"].as_u64().expect("length");
            assert_eq!(len, u64::from(rate * seconds), "{session}: take length");
            assert_eq!(
                take["dropouts"].as_array().map(Vec::len),
                Some(0),
                "{session}: dropouts {}",
                take["dropouts"]
            );
            let files = take_files(&dir, &take);
            assert_eq!(files.len(), channels);
            let mut mismatches = 0usize;
            for (input_no, path) in &files {
                let ch = *input_no as usize - 1;
                let (n, file_rate) = soxi(path);
                assert_eq!((n, file_rate), (len, rate), "soxi {}", path.display());
                let mut reader = hound::WavReader::open(path).expect("hound opens the file");
                assert_eq!(u64::from(reader.len()), len, "{}", path.display());
                let expected = (0..len as usize).map(|i| samples[(start + i) * channels + ch]);
                match file_format {
                    "f32" => {
                        for (i, (got, want)) in reader.samples::<f32>().zip(expected).enumerate() {
                            let got = got.expect("sample").to_bits();
                            if got != expect_float(want, dev) {
                                mismatches += 1;
                                assert!(
                                    mismatches < 5,
                                    "{}: frame {i}: {got:#x} != {want:?}",
                                    path.display()
                                );
                            }
                        }
                    }
                    _ => {
                        let bits = if file_format == "s16" { 16 } else { 24 };
                        for (i, (got, want)) in reader.samples::<i32>().zip(expected).enumerate() {
                            let got = i64::from(got.expect("sample"));
                            if got != expect_int(want, dev, bits) {
                                mismatches += 1;
                                assert!(
                                    mismatches < 5,
                                    "{}: frame {i}: {got} != {want:?}",
                                    path.display()
                                );
                            }
                        }
                    }
                }
            }
            assert_eq!(mismatches, 0, "{session}: samples differ");
            check_manifest_counts(&dir, &take, file_format);
            results.push(format!(
                "{} -> {file_format}: {channels} files x {len} frames bit-exact",
                dev.name()
            ));
        }
    }
    for r in results {
        println!("{rate} Hz {r}");
    }
}

/// The manifest's clip counts agree with the files.
fn check_manifest_counts(dir: &Path, take: &serde_json::Value, file_format: &str) {
    for t in take["tracks"].as_array().expect("tracks") {
        let path = dir.join(t["file"].as_str().expect("file"));
        let mut reader = hound::WavReader::open(&path).expect("open");
        let at_full_scale = match file_format {
            "f32" => reader
                .samples::<f32>()
                .filter(|s| s.as_ref().map(|v| v.abs() >= 1.0).unwrap_or(false))
                .count(),
            "s16" => reader
                .samples::<i32>()
                .filter(|s| matches!(s, Ok(-32768 | 32767)))
                .count(),
            _ => reader
                .samples::<i32>()
                .filter(|s| matches!(s, Ok(-8_388_608 | 8_388_607)))
                .count(),
        };
        assert_eq!(
            t["clipped_samples"].as_u64(),
            Some(at_full_scale as u64),
            "{}: clipped_samples",
            path.display()
        );
    }
}

#[test]
fn eight_inputs_at_96k_are_bit_exact_in_every_format() {
    record_and_compare(96_000, 8, 1);
}

#[test]
fn two_inputs_at_48k_are_bit_exact_in_every_format() {
    record_and_compare(48_000, 2, 2);
}

/// The scheduling policy and realtime priority of each thread of a live process, from
/// `/proc/<pid>/task/*/stat` (fields 41 and 40).
fn thread_scheduling(pid: u32) -> Vec<(u32, u32)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("stat")).ok())
        .filter_map(|stat| {
            // Fields after the command name, which ends at the last ')': field 3 is [0].
            let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            Some((rest.get(38)?.parse().ok()?, rest.get(37)?.parse().ok()?))
        })
        .collect()
}

/// On ALSA tapedeck asks for realtime priority for its audio thread: granted to root (as in
/// CI), refused with a warning to a user without an rtprio allowance.
#[test]
fn the_alsa_audio_thread_gets_realtime_priority_where_allowed() {
    let jack = JackServer::start(48_000, 256, 2);
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    write_asoundrc(&home, &[("paced_in", "TAPEDECK_TEST_IN")]);
    let (bytes, _) = content(Dev::I16, 48_000 * 5, 2, 0x5eed);
    let input = tmp.path().join("in.raw");
    std::fs::write(&input, &bytes).expect("write input");
    let child = std::process::Command::new(common::bin())
        .args([
            "record",
            "--host",
            "alsa",
            "--device",
            "alsa:paced_in",
            "--channels",
            "2",
        ])
        .args([
            "--rate",
            "48000",
            "--buffer",
            "1024",
            "--duration",
            "3s",
            "--headless",
        ])
        .args(["--session", "rt", "--dir"])
        .arg(tmp.path())
        .env("HOME", &home)
        .env("JACK_DEFAULT_SERVER", &jack.name)
        .env("JACK_NO_START_SERVER", "1")
        .env("TAPEDECK_TEST_IN", &input)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start tapedeck");
    let pid = child.id();
    // Well into the take: the audio thread has had its first block.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let threads = thread_scheduling(pid);
    let out = child.wait_with_output().expect("wait for tapedeck");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tapedeck failed:\n{stderr}");
    const SCHED_FIFO: u32 = 1;
    let realtime: Vec<_> = threads.iter().filter(|t| t.0 == SCHED_FIFO).collect();
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(realtime, [&(SCHED_FIFO, 70)], "threads: {threads:?}");
        assert!(!stderr.contains("without realtime priority"), "{stderr}");
    } else if realtime.is_empty() {
        assert!(
            stderr.contains("the audio thread runs without realtime priority"),
            "refused without a word:\n{stderr}"
        );
    } else {
        assert_eq!(realtime.len(), 1, "threads: {threads:?}");
    }
}
