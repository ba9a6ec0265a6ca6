use super::*;
use crate::format::FileFormat;
use crate::wav::WavWriter;

/// A little-endian chunk: id, size, body, pad byte.
fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut c = id.to_vec();
    c.extend_from_slice(&(body.len() as u32).to_le_bytes());
    c.extend_from_slice(body);
    if body.len() % 2 == 1 {
        c.push(0);
    }
    c
}

fn fmt_body(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let align = channels * bits / 8;
    let mut b = Vec::new();
    b.extend_from_slice(&tag.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
    b.extend_from_slice(&align.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b
}

fn extensible(sub: u16, channels: u16, rate: u32, bits: u16, valid: u16) -> Vec<u8> {
    let mut b = fmt_body(WAVE_FORMAT_EXTENSIBLE, channels, rate, bits);
    b.extend_from_slice(&22u16.to_le_bytes());
    b.extend_from_slice(&valid.to_le_bytes());
    b.extend_from_slice(&3u32.to_le_bytes()); // channel mask
    b.extend_from_slice(&sub.to_le_bytes());
    b.extend_from_slice(&SUBTYPE_TAIL);
    b
}

fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut f = b"RIFF".to_vec();
    f.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
    f.extend_from_slice(b"WAVE");
    f.extend_from_slice(&body);
    f
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn reads_plain_riff_files_of_every_encoding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (WAVE_FORMAT_PCM, 16, ClipFormat::I16),
        (WAVE_FORMAT_PCM, 24, ClipFormat::I24),
        (WAVE_FORMAT_PCM, 32, ClipFormat::I32),
        (WAVE_FORMAT_IEEE_FLOAT, 32, ClipFormat::F32),
    ];
    for (tag, bits, format) in cases {
        for channels in [1u16, 2] {
            let align = usize::from(channels * bits / 8);
            let bytes = riff(&[
                chunk(b"fmt ", &fmt_body(tag, channels, 44_100, bits)),
                chunk(b"LIST", b"INFOISFT\x05\0\0\0sox!\0"),
                chunk(b"data", &vec![1u8; 10 * align]),
            ]);
            let p = write(dir.path(), &format!("{bits}-{tag}-{channels}.wav"), &bytes);
            let info = probe(&p).expect("probe");
            // The LIST body is 17 bytes, padded to 18.
            let data_offset = 12 + 8 + 16 + 8 + 18 + 8;
            assert_eq!(
                info,
                WavInfo {
                    sample_rate: 44_100,
                    channels,
                    format,
                    data_offset,
                    frames: 10,
                    declared_frames: 10,
                    rf64: false,
                },
                "{bits} bits, tag {tag}, {channels} ch"
            );
            assert_eq!(bytes.len() as u64, data_offset + 10 * align as u64);
        }
    }
}

#[test]
fn reads_extensible_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (sub, bits, valid, format) in [
        (WAVE_FORMAT_PCM, 24, 24, ClipFormat::I24),
        (WAVE_FORMAT_PCM, 32, 24, ClipFormat::I32),
        (WAVE_FORMAT_IEEE_FLOAT, 32, 32, ClipFormat::F32),
    ] {
        let bytes = riff(&[
            chunk(b"fmt ", &extensible(sub, 2, 96_000, bits, valid)),
            chunk(b"data", &vec![0u8; 7 * 2 * usize::from(bits / 8)]),
        ]);
        let p = write(dir.path(), &format!("ext-{bits}-{sub}.wav"), &bytes);
        let info = probe(&p).expect("probe");
        assert_eq!(
            (info.format, info.channels, info.sample_rate, info.frames),
            (format, 2, 96_000, 7)
        );
    }
    // A sub-format that is not PCM or float.
    let mut body = extensible(WAVE_FORMAT_PCM, 1, 48_000, 16, 16);
    body[30] ^= 0xFF;
    let p = write(
        dir.path(),
        "odd-guid.wav",
        &riff(&[chunk(b"fmt ", &body), chunk(b"data", &[0; 4])]),
    );
    let e = probe(&p).expect_err("unknown sub-format");
    assert!(matches!(e, ProbeError::Encoding { .. }), "{e}");
}

#[test]
fn reads_rf64_sizes_from_ds64() {
    let dir = tempfile::tempdir().expect("tempdir");
    let frames = 12u64;
    let mut ds64 = Vec::new();
    ds64.extend_from_slice(&0u64.to_le_bytes()); // riff size (not needed)
    ds64.extend_from_slice(&(frames * 3).to_le_bytes()); // data size
    ds64.extend_from_slice(&frames.to_le_bytes());
    ds64.extend_from_slice(&0u32.to_le_bytes());
    let mut data = b"data".to_vec();
    data.extend_from_slice(&u32::MAX.to_le_bytes());
    data.extend_from_slice(&vec![0u8; frames as usize * 3 + 1]); // a stray byte after
    let mut bytes = riff(&[
        chunk(b"ds64", &ds64),
        chunk(b"fmt ", &fmt_body(WAVE_FORMAT_PCM, 1, 48_000, 24)),
        chunk(b"bext", &[0u8; 603]),
        data,
    ]);
    bytes[0..4].copy_from_slice(b"RF64");
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let p = write(dir.path(), "rf64.wav", &bytes);
    let info = probe(&p).expect("probe");
    assert!(info.rf64);
    assert_eq!((info.frames, info.declared_frames), (frames, frames));
    assert_eq!(info.data_offset, 12 + 36 + 24 + 612 + 8);

    // The same without its ds64 chunk cannot say how long its audio is.
    let mut no_ds64 = riff(&[
        chunk(b"fmt ", &fmt_body(WAVE_FORMAT_PCM, 1, 48_000, 24)),
        bytes[bytes.len() - (frames as usize * 3 + 9)..].to_vec(),
    ]);
    no_ds64[0..4].copy_from_slice(b"RF64");
    let p = write(dir.path(), "rf64-no-ds64.wav", &no_ds64);
    let e = probe(&p).expect_err("no ds64");
    assert!(e.to_string().contains("ds64"), "{e}");
}

#[test]
fn reads_tapedecks_own_bwf_takes() {
    let dir = tempfile::tempdir().expect("tempdir");
    for fmt in FileFormat::ALL {
        let p = dir.path().join(format!("{fmt}.wav"));
        let mut w = WavWriter::create(&p, fmt, 48_000).expect("create");
        w.write_bytes(&vec![3u8; 100 * fmt.bytes_per_sample()])
            .expect("write");
        let offset = w.data_offset();
        w.finalize().expect("finalize");
        let info = probe(&p).expect("probe");
        let format = match fmt {
            FileFormat::S16 => ClipFormat::I16,
            FileFormat::S24 => ClipFormat::I24,
            FileFormat::F32 => ClipFormat::F32,
        };
        assert_eq!(
            (info.format, info.channels, info.frames, info.data_offset),
            (format, 1, 100, offset),
            "{fmt}"
        );
    }
}

#[test]
fn a_truncated_file_says_how_many_frames_it_really_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("cut.wav");
    let mut w = WavWriter::create(&p, FileFormat::S24, 48_000).expect("create");
    w.write_bytes(&[1u8; 300]).expect("write");
    w.finalize().expect("finalize");
    let whole = std::fs::read(&p).expect("read");
    // 40 frames and one byte of the 41st remain.
    let cut = write(dir.path(), "cut2.wav", &whole[..whole.len() - 300 + 121]);
    let info = probe(&cut).expect("probe");
    assert_eq!((info.frames, info.declared_frames), (40, 100));
    assert!(info.is_truncated());
    assert!(!probe(&p).expect("probe").is_truncated());
}

#[test]
fn refuses_what_it_cannot_play_with_a_message_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcm = |bits| chunk(b"fmt ", &fmt_body(WAVE_FORMAT_PCM, 1, 48_000, bits));
    let data = chunk(b"data", &[0u8; 8]);
    let mut aiff = riff(&[pcm(16), data.clone()]);
    aiff[8..12].copy_from_slice(b"AIFF");
    let mut bad_align = pcm(16);
    bad_align[8 + 12] = 3;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "is not a WAV file"),
        (
            "text",
            b"hello, this is not audio".to_vec(),
            "is not a WAV file",
        ),
        ("aiff", aiff, "not WAVE"),
        ("8-bit", riff(&[pcm(8), data.clone()]), "8-bit PCM"),
        (
            "mp3",
            riff(&[chunk(b"fmt ", &fmt_body(0x55, 1, 48_000, 16)), data.clone()]),
            "format tag 0x0055",
        ),
        (
            "double",
            riff(&[
                chunk(b"fmt ", &fmt_body(WAVE_FORMAT_IEEE_FLOAT, 1, 48_000, 64)),
                data.clone(),
            ]),
            "64-bit float",
        ),
        (
            "surround",
            riff(&[
                chunk(b"fmt ", &fmt_body(WAVE_FORMAT_PCM, 6, 48_000, 16)),
                data.clone(),
            ]),
            "6 channels",
        ),
        ("align", riff(&[bad_align, data.clone()]), "block align 3"),
        (
            "data first",
            riff(&[data.clone(), pcm(16)]),
            "before its fmt",
        ),
        ("no data", riff(&[pcm(16)]), "no data chunk"),
        ("no fmt", riff(&[chunk(b"JUNK", &[0; 4])]), "no fmt chunk"),
        (
            "cut fmt",
            riff(&[pcm(16)])[..30].to_vec(),
            "ends inside its fmt",
        ),
    ];
    for (name, bytes, says) in cases {
        let p = write(dir.path(), &format!("{name}.wav"), &bytes);
        let e = probe(&p).expect_err(name);
        let msg = e.to_string();
        assert!(msg.contains(says), "{name}: {msg}");
        assert!(msg.contains(&p.display().to_string()), "{name}: {msg}");
    }
    let missing = dir.path().join("missing.wav");
    let e = probe(&missing).expect_err("missing");
    assert!(matches!(e, ProbeError::Io { .. }));
    assert!(e.to_string().contains("missing.wav"), "{e}");
}

#[test]
fn survives_random_garbage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = riff(&[
        chunk(b"fmt ", &fmt_body(WAVE_FORMAT_PCM, 2, 48_000, 16)),
        chunk(b"data", &[0u8; 64]),
    ]);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..500 {
        let mut bytes = good.clone();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x % bytes.len() as u64) as usize;
            bytes[at] = (x >> 32) as u8;
        }
        bytes.truncate((x >> 40) as usize % (good.len() + 1));
        let p = write(dir.path(), "g.wav", &bytes);
        // Never panics; whatever it accepts is self-consistent.
        if let Ok(info) = probe(&p) {
            let align = info.format.bytes_per_sample() as u64 * u64::from(info.channels);
            assert!(
                info.data_offset + info.frames * align <= bytes.len() as u64,
                "case {i}: {info:?}"
            );
        }
    }
}
