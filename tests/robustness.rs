//! Bad files never make tapedeck panic or write where it should not: a property test of the
//! manifest reader against random truncations, corruptions and hand edits of a real manifest,
//! and of the header repair against random truncations and corruptions of real WAV files.

mod common;

use std::path::Path;

use tapedeck::session::manifest::Manifest;
use tapedeck::wav::repair;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn record(dir: &Path, format: &str) -> std::path::PathBuf {
    let session = format!("s-{format}");
    let (code, out, err) = common::run(
        &[
            "demo",
            "--channels",
            "2",
            "--duration",
            "1s",
            "--headless",
            "--format",
            format,
            "--session",
            &session,
            "--dir",
            dir.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    dir.join(session)
}

#[test]
fn the_manifest_reader_survives_any_damage() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let session = record(tmp.path(), "s24");
    let good = std::fs::read(session.join("session.json")).expect("manifest");
    let text = String::from_utf8(good.clone()).expect("utf-8");
    let path = tmp.path().join("damaged.json");
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..3000 {
        let damaged: Vec<u8> = match i % 5 {
            // Truncated anywhere.
            0 => good[..rng.below(good.len())].to_vec(),
            // Random bytes overwritten.
            1 => {
                let mut b = good.clone();
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(b.len());
                    b[at] = rng.next() as u8;
                }
                b
            }
            // Hand edits of values: numbers, strings, nulls swapped in.
            2 => {
                let swaps = [
                    "null",
                    "-1",
                    "\"\"",
                    "1e999",
                    "[]",
                    "{}",
                    "\"../../etc/passwd\"",
                    "18446744073709551616",
                ];
                let colon: Vec<usize> = text.match_indices(": ").map(|(k, _)| k).collect();
                let at = colon[rng.below(colon.len())] + 2;
                let end = text[at..].find([',', '\n']).map_or(text.len(), |e| at + e);
                format!(
                    "{}{}{}",
                    &text[..at],
                    swaps[rng.below(swaps.len())],
                    &text[end..]
                )
                .into_bytes()
            }
            // A line deleted.
            3 => {
                let lines: Vec<&str> = text.lines().collect();
                let cut = rng.below(lines.len());
                lines
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| *k != cut)
                    .map(|(_, l)| *l)
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into_bytes()
            }
            // A file path pointing outside the session.
            _ => text
                .replacen(
                    "\"take-001/",
                    ["\"../", "\"/", "\"take-001/../../"][rng.below(3)],
                    1,
                )
                .into_bytes(),
        };
        std::fs::write(&path, &damaged).expect("write");
        match Manifest::load(&path) {
            Ok(m) => {
                accepted += 1;
                for t in &m.takes {
                    for f in &t.tracks {
                        assert!(
                            !f.file.starts_with('/') && !f.file.split('/').any(|c| c == ".."),
                            "accepted a file outside the session: {}",
                            f.file
                        );
                    }
                }
            }
            Err(e) => {
                refused += 1;
                assert!(
                    e.to_string().contains("damaged.json"),
                    "the message names the file: {e}"
                );
            }
        }
    }
    println!("manifest: {accepted} damaged versions still valid, {refused} refused with a message");
    assert!(refused > 1000 && accepted > 0);
}

#[test]
fn header_repair_survives_any_damage() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let (mut repaired, mut refused) = (0, 0);
    for format in ["s16", "s24", "f32"] {
        let session = record(tmp.path(), format);
        let wav = std::fs::read_dir(session.join("take-001"))
            .expect("take")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "wav"))
            .expect("a wav file");
        let good = std::fs::read(&wav).expect("read");
        let bps = if format == "s16" {
            2
        } else if format == "s24" {
            3
        } else {
            4
        };
        let path = tmp.path().join(format!("damaged-{format}.wav"));
        for i in 0..700 {
            let mut b = match i % 3 {
                0 => good[..rng.below(good.len() + 1)].to_vec(),
                1 => {
                    // Corrupt the header region, where the sizes and chunk ids are.
                    let mut b = good.clone();
                    let at = rng.below(120);
                    b[at] = rng.next() as u8;
                    b
                }
                _ => {
                    let mut b = good[..rng.below(good.len() + 1)].to_vec();
                    if b.len() > 8 {
                        let at = rng.below(b.len().min(120));
                        b[at] ^= 1 << rng.below(8);
                    }
                    b
                }
            };
            // Stale sizes, as a killed process leaves them.
            if i % 2 == 0 && b.len() >= 8 {
                b[4..8].copy_from_slice(&0u32.to_le_bytes());
            }
            std::fs::write(&path, &b).expect("write");
            match repair(&path) {
                Ok(r) => {
                    repaired += 1;
                    // What repair says is there, a reader finds.
                    if let Ok(reader) = hound::WavReader::open(&path) {
                        assert_eq!(
                            u64::from(reader.len()),
                            r.frames,
                            "hound disagrees after repair"
                        );
                    }
                    assert!(r.frames * bps as u64 <= b.len() as u64);
                    let again = repair(&path).expect("a repaired file repairs again");
                    assert!(!again.changed, "repair is not idempotent");
                }
                Err(_) => {
                    refused += 1;
                    assert_eq!(
                        std::fs::read(&path).expect("read"),
                        b,
                        "a refused file was changed"
                    );
                }
            }
        }
    }
    println!("header repair: {repaired} damaged files repaired, {refused} refused untouched");
    assert!(repaired > 500 && refused > 50);
}
