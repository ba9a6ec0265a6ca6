//! Header repair for files left behind by a process that died while recording: the sizes are
//! rewritten in place from the audio actually on disk (whole frames only), every other byte
//! (bext, iXML, the audio itself) is left as it is.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{
    DS64_ID_AT, DS64_LEN, FMT_AT, Put, Sizes, WAVE_FORMAT_IEEE_FLOAT, WAVE_FORMAT_PCM, rf64_switch,
    riff_restore,
};

/// What a repair found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// Whole frames in the data chunk now.
    pub frames: u64,
    /// The data size the header gave before (ds64's for an RF64 file whose 32-bit size says
    /// "see ds64").
    pub data_bytes_before: u64,
    /// Whether anything was rewritten.
    pub changed: bool,
    /// Whether the file is RF64 now.
    pub rf64: bool,
    /// Bytes of an incomplete last frame, left on disk after the data chunk (and its pad byte,
    /// for an odd-sized one) but not counted.
    pub trailing_partial_bytes: u64,
}

/// Where the fields of a tapedeck WAV are, as found on disk.
struct Layout {
    /// The chunk at offset 12 is called `ds64` (rather than `JUNK`).
    ds64_named: bool,
    block_align: u64,
    fact_offset: Option<u64>,
    data_offset: u64,
    /// The data size the header declares.
    declared: u64,
}

fn refuse(msg: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("not a WAV file tapedeck could have written: {msg}"),
    )
}

pub(super) fn id_text(id: &[u8]) -> String {
    format!("\"{}\"", id.escape_ascii())
}

pub(super) fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

pub(super) fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Reads `n` bytes at `at`, or says that the file ends inside its header.
fn read(f: &File, len: u64, at: u64, n: usize, what: &str) -> io::Result<Vec<u8>> {
    if at.checked_add(n as u64).is_none_or(|end| end > len) {
        return Err(refuse(format_args!(
            "the file ends inside its header ({what}, {len} bytes in all)"
        )));
    }
    let mut b = vec![0u8; n];
    f.read_exact_at(&mut b, at)?;
    Ok(b)
}

/// Walks the chunks from the start of the file (ignoring the RIFF size, which may be stale)
/// and checks that they are what tapedeck writes: `RIFF`/`RF64`, `WAVE`, a 28-byte
/// `JUNK`/`ds64`, a mono PCM or float `fmt `, `fact` for float, at most one `bext` and one
/// `iXML`, then `data`.
fn read_layout(f: &File, len: u64) -> io::Result<Layout> {
    if len < 12 {
        return Err(refuse(format_args!(
            "too short to be a WAV file ({len} bytes)"
        )));
    }
    let head = read(f, len, 0, 12, "RIFF header")?;
    let rf64_id = match &head[0..4] {
        b"RIFF" => false,
        b"RF64" => true,
        other => {
            return Err(refuse(format_args!(
                "no RIFF/RF64 id (found {})",
                id_text(other)
            )));
        }
    };
    if &head[8..12] != b"WAVE" {
        return Err(refuse("no WAVE id"));
    }
    let reserve = read(f, len, DS64_ID_AT, 8 + DS64_LEN, "JUNK/ds64 chunk")?;
    let ds64_named = match &reserve[0..4] {
        b"JUNK" => false,
        b"ds64" => true,
        other => {
            return Err(refuse(format_args!(
                "no JUNK/ds64 chunk after the WAVE id (found {})",
                id_text(other)
            )));
        }
    };
    if u32_at(&reserve, 4) as usize != DS64_LEN {
        return Err(refuse(format_args!(
            "the JUNK/ds64 chunk has size {} (tapedeck writes {DS64_LEN})",
            u32_at(&reserve, 4)
        )));
    }
    let ds64_data = u64::from_le_bytes(reserve[16..24].try_into().unwrap_or([0; 8]));

    let fh = read(f, len, FMT_AT, 8, "fmt chunk")?;
    if &fh[0..4] != b"fmt " {
        return Err(refuse(format_args!(
            "no fmt chunk at offset {FMT_AT} (found {})",
            id_text(&fh[0..4])
        )));
    }
    let fmt_len = u32_at(&fh, 4);
    if fmt_len != 16 && fmt_len != 18 {
        return Err(refuse(format_args!(
            "the fmt chunk has size {fmt_len} (tapedeck writes 16 or 18)"
        )));
    }
    let fmt = read(f, len, FMT_AT + 8, fmt_len as usize, "fmt chunk")?;
    let (tag, channels, rate, byte_rate, align, bits) = (
        u16_at(&fmt, 0),
        u16_at(&fmt, 2),
        u32_at(&fmt, 4),
        u32_at(&fmt, 8),
        u16_at(&fmt, 12),
        u16_at(&fmt, 14),
    );
    let float = match (tag, fmt_len, bits) {
        (WAVE_FORMAT_PCM, 16, 16 | 24) => false,
        (WAVE_FORMAT_IEEE_FLOAT, 18, 32) if u16_at(&fmt, 16) == 0 => true,
        _ => {
            return Err(refuse(format_args!(
                "format tag {tag}, {bits} bits, fmt size {fmt_len}: \
                 tapedeck writes 16/24-bit PCM or 32-bit float"
            )));
        }
    };
    if channels != 1
        || rate == 0
        || align != bits / 8
        || byte_rate != rate.wrapping_mul(u32::from(align))
    {
        return Err(refuse(format_args!(
            "{channels} channels, {rate} Hz, block align {align}, byte rate {byte_rate}: \
             tapedeck writes mono files"
        )));
    }
    let mut pos = FMT_AT + 8 + u64::from(fmt_len);
    let mut fact_offset = None;
    if float {
        let fact = read(f, len, pos, 8, "fact chunk")?;
        if &fact[0..4] != b"fact" || u32_at(&fact, 4) != 4 {
            return Err(refuse(
                "a float file without its 4-byte fact chunk after fmt",
            ));
        }
        read(f, len, pos + 8, 4, "fact chunk")?;
        fact_offset = Some(pos + 8);
        pos += 12;
    }
    let (mut bext, mut ixml) = (false, false);
    loop {
        let ch = read(f, len, pos, 8, "chunk header before the audio")?;
        let size = u64::from(u32_at(&ch, 4));
        let seen = match &ch[0..4] {
            b"data" => {
                let data32 = u32_at(&ch, 4);
                let declared = if rf64_id && ds64_named && data32 == u32::MAX {
                    ds64_data
                } else {
                    u64::from(data32)
                };
                return Ok(Layout {
                    ds64_named,
                    block_align: u64::from(align),
                    fact_offset,
                    data_offset: pos + 8,
                    declared,
                });
            }
            b"bext" if size < super::bwf::BEXT_FIXED as u64 => {
                return Err(refuse(format_args!("a bext chunk of {size} bytes")));
            }
            b"bext" => &mut bext,
            b"iXML" => &mut ixml,
            other => {
                return Err(refuse(format_args!(
                    "unexpected chunk {} at offset {pos} before the audio",
                    id_text(other)
                )));
            }
        };
        if std::mem::replace(seen, true) {
            return Err(refuse(format_args!(
                "a second {} chunk at offset {pos}",
                id_text(&ch[0..4])
            )));
        }
        let end = pos + 8 + size + (size & 1);
        if end > len {
            return Err(refuse(format_args!(
                "the file ends inside its {} chunk ({len} bytes in all)",
                id_text(&ch[0..4])
            )));
        }
        pos = end;
    }
}

/// The byte offset and length of a file's audio data as its header declares it (capped to
/// what is on disk). Refuses files tapedeck could not have written, like [`repair`].
pub fn data_region(path: &Path) -> io::Result<(u64, u64)> {
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    let l = read_layout(&f, len)?;
    Ok((l.data_offset, l.declared.min(len - l.data_offset)))
}

/// Rewrites the header's sizes in place from the bytes actually on disk: data = every whole
/// frame after the data chunk's header, RIFF (or ds64) size to match, fact sample count for
/// float; switches to RF64 if the audio no longer fits a plain WAV (and back, if it does).
///
/// Tolerates any stale size (0, the last header update, a half-done RF64 switch); refuses,
/// without writing anything, a file that is not a WAV tapedeck could have written (foreign
/// layout, random bytes, cut short inside its header). Metadata and audio are never touched
/// and nothing is truncated: an incomplete last frame stays after the data chunk, uncounted.
/// Idempotent: a second run finds nothing to change. The writes go in the same crash-safe
/// order as the writer's, so a repair that is itself interrupted can simply be run again.
pub fn repair(path: &Path) -> io::Result<Repair> {
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    let l = read_layout(&f, len)?;
    let on_disk = len - l.data_offset;
    let data = on_disk / l.block_align * l.block_align;
    let s = Sizes::new(l.data_offset, data, l.block_align);
    let pad = u64::from(data & 1 == 1 && on_disk > data);
    let rf64 = s.needs_rf64();
    let puts: Vec<Put> = if rf64 {
        rf64_switch(l.data_offset, l.fact_offset, &s)
            .into_iter()
            .flatten()
            .collect()
    } else {
        riff_restore(l.data_offset, l.fact_offset, &s, l.ds64_named)
            .into_iter()
            .flatten()
            .collect()
    };
    // Only what differs is written, in order: a step already done is a step skipped.
    let mut todo = Vec::new();
    for p in puts {
        let mut old = [0u8; DS64_LEN];
        f.read_exact_at(&mut old[..p.len], p.at)?;
        if old[..p.len] != *p.bytes() {
            todo.push(p);
        }
    }
    if !todo.is_empty() {
        let w = OpenOptions::new().write(true).open(path)?;
        for p in &todo {
            w.write_all_at(p.bytes(), p.at)?;
        }
        w.sync_all()?;
    }
    Ok(Repair {
        frames: s.frames,
        data_bytes_before: l.declared,
        changed: !todo.is_empty(),
        rf64,
        trailing_partial_bytes: on_disk - data - pad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::FileFormat;
    use crate::wav::WavWriter;

    fn frames_of(fmt: FileFormat, n: usize) -> Vec<u8> {
        (0..n * fmt.bytes_per_sample())
            .map(|i| (i * 7 + 3) as u8)
            .collect()
    }

    #[test]
    fn repairs_a_header_left_behind_and_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        for fmt in FileFormat::ALL {
            let p = dir.path().join(format!("{fmt}.wav"));
            let mut w = WavWriter::create(&p, fmt, 48000).expect("create");
            let bps = fmt.bytes_per_sample();
            w.write_bytes(&frames_of(fmt, 100)).expect("write");
            w.update_header().expect("header");
            // More audio reaches the file, plus part of a frame, but the header is never
            // updated.
            w.write_bytes(&frames_of(fmt, 51)[..50 * bps + bps - 1])
                .expect("write");
            drop(w);
            let before = std::fs::read(&p).expect("read");
            let r = repair(&p).expect("repair");
            assert_eq!(
                (r.frames, r.data_bytes_before, r.changed, r.rf64),
                (150, 100 * bps as u64, true, false),
                "{fmt}"
            );
            // s24: 150 frames are 450 bytes (even): no pad byte, 2 partial bytes.
            assert_eq!(r.trailing_partial_bytes, bps as u64 - 1, "{fmt}");
            let after = std::fs::read(&p).expect("read");
            assert_eq!(before.len(), after.len(), "nothing is truncated");
            let differ: Vec<usize> = (0..before.len())
                .filter(|&i| before[i] != after[i])
                .collect();
            assert!(
                differ.iter().all(|&i| i < 90 || (4088..4096).contains(&i)),
                "{differ:?}"
            );
            let again = repair(&p).expect("repair again");
            assert_eq!(
                (again.frames, again.changed, again.data_bytes_before),
                (150, false, 150 * bps as u64)
            );
            assert_eq!(std::fs::read(&p).expect("read"), after);
            let reader = hound::WavReader::open(&p).expect("hound opens");
            assert_eq!(reader.len(), 150);
        }
    }

    #[test]
    fn a_finalized_file_needs_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        for fmt in FileFormat::ALL {
            for n in [0, 1, 2, 3] {
                let p = dir.path().join(format!("{fmt}-{n}.wav"));
                let mut w = WavWriter::create(&p, fmt, 44100).expect("create");
                w.write_bytes(&frames_of(fmt, n)).expect("write");
                w.finalize().expect("finalize");
                let r = repair(&p).expect("repair");
                assert_eq!(
                    (r.frames, r.changed, r.trailing_partial_bytes),
                    (n as u64, false, 0),
                    "{fmt} {n}"
                );
            }
        }
    }

    #[test]
    fn refuses_what_is_not_a_wav_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A plain WAV from another program: no JUNK reserve.
        let foreign = dir.path().join("hound.wav");
        {
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: 48000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(&foreign, spec).expect("hound");
            w.write_sample(1i16).expect("sample");
            w.finalize().expect("finalize");
        }
        let good = dir.path().join("good.wav");
        let mut w = WavWriter::create(&good, FileFormat::S24, 48000).expect("create");
        w.write_bytes(&frames_of(FileFormat::S24, 10))
            .expect("write");
        w.finalize().expect("finalize");
        let whole = std::fs::read(&good).expect("read");
        let mut stereo = whole.clone();
        stereo[FMT_AT as usize + 10] = 2;
        let mut cut = whole.clone();
        cut.truncate(300); // inside bext
        let mut no_data = whole.clone();
        no_data.truncate(4090); // inside the data chunk's header
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("text", b"hello, this is not audio at all".to_vec()),
            ("cut", b"RIFF\0\0\0\0WAVEfmt ".to_vec()),
            ("hound", std::fs::read(&foreign).expect("read")),
            ("stereo", stereo),
            ("cut in bext", cut),
            ("cut in data header", no_data),
        ];
        for (name, bytes) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes).expect("write");
            let e = repair(&p).expect_err(name);
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{name}: {e}");
            assert!(e.to_string().starts_with("not a WAV file"), "{name}: {e}");
            assert_eq!(
                std::fs::read(&p).expect("read"),
                bytes,
                "{name} was changed"
            );
        }
        // Cut right after the data chunk's header: a valid file with no audio.
        let p = dir.path().join("empty-data.wav");
        std::fs::write(&p, &whole[..4096]).expect("write");
        let r = repair(&p).expect("repair");
        assert_eq!((r.frames, r.changed), (0, true));
    }
}
