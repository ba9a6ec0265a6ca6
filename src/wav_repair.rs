//! Header repair for WAV files left behind by a process that died while recording: the sizes in
//! the header are rewritten in place from the audio actually on disk (whole frames only),
//! leaving every other chunk (metadata) as it is.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// What a repair found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// Whole frames in the data chunk now.
    pub frames: u64,
    /// What the header said before.
    pub data_bytes_before: u64,
    /// Whether anything was rewritten.
    pub changed: bool,
    /// Bytes of an incomplete last frame, left on disk after the data but not counted.
    pub trailing_partial_bytes: u64,
}

struct Layout {
    rf64: bool,
    /// Offset of the ds64 chunk body, for RF64.
    ds64: Option<u64>,
    block_align: u64,
    fact: Option<u64>,
    /// Offset of the data chunk's size field; the data starts 4 bytes later.
    data_size_at: u64,
    declared: u64,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn read_layout(f: &mut File, len: u64) -> io::Result<Layout> {
    let mut head = [0u8; 12];
    f.seek(SeekFrom::Start(0))?;
    f.read_exact(&mut head)
        .map_err(|_| bad("too short to be a WAV file"))?;
    let rf64 = match &head[0..4] {
        b"RIFF" => false,
        b"RF64" => true,
        _ => return Err(bad("not a WAV file (no RIFF/RF64 header)")),
    };
    if &head[8..12] != b"WAVE" {
        return Err(bad("not a WAV file (no WAVE id)"));
    }
    let (mut pos, mut ds64, mut block_align, mut fact) = (12u64, None, None, None);
    loop {
        if pos + 8 > len {
            return Err(bad("no data chunk: the file ends inside its header"));
        }
        let mut ch = [0u8; 8];
        f.seek(SeekFrom::Start(pos))?;
        f.read_exact(&mut ch)?;
        let size = u64::from(u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]));
        match &ch[0..4] {
            b"data" => {
                let declared = if rf64 && size == u64::from(u32::MAX) {
                    let mut b = [0u8; 8];
                    let at = ds64.ok_or_else(|| bad("RF64 file without a ds64 chunk"))?;
                    f.read_exact_at(&mut b, at + 8)?;
                    u64::from_le_bytes(b)
                } else {
                    size
                };
                return Ok(Layout {
                    rf64,
                    ds64,
                    block_align: block_align
                        .ok_or_else(|| bad("data chunk before the fmt chunk"))?,
                    fact,
                    data_size_at: pos + 4,
                    declared,
                });
            }
            b"fmt " => {
                let mut b = [0u8; 16];
                f.read_exact(&mut b)
                    .map_err(|_| bad("the fmt chunk is cut short"))?;
                let align = u64::from(u16::from_le_bytes([b[12], b[13]]));
                if align == 0 || size < 16 {
                    return Err(bad("the fmt chunk is invalid"));
                }
                block_align = Some(align);
            }
            b"ds64" => ds64 = Some(pos + 8),
            b"fact" => fact = Some(pos + 8),
            _ => {}
        }
        pos += 8 + size + (size & 1);
    }
}

/// The byte offset and length of a file's audio data, as its header declares it.
pub fn data_region(path: &Path) -> io::Result<(u64, u64)> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let l = read_layout(&mut f, len)?;
    let start = l.data_size_at + 4;
    Ok((start, l.declared.min(len.saturating_sub(start))))
}

/// Rewrites the header's sizes from what is on disk. Idempotent; refuses files that are not WAV.
pub fn repair(path: &Path) -> io::Result<Repair> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let len = f.metadata()?.len();
    let l = read_layout(&mut f, len)?;
    let data_start = l.data_size_at + 4;
    let on_disk = len.saturating_sub(data_start);
    let data = on_disk / l.block_align * l.block_align;
    let frames = data / l.block_align;
    let riff = data_start + data + (data & 1) - 8;
    let mut changed = false;
    let mut put = |at: u64, bytes: &[u8]| -> io::Result<()> {
        let mut old = vec![0u8; bytes.len()];
        f.read_exact_at(&mut old, at)?;
        if old != bytes {
            f.write_all_at(bytes, at)?;
            changed = true;
        }
        Ok(())
    };
    if l.rf64 {
        let ds64 = l
            .ds64
            .ok_or_else(|| bad("RF64 file without a ds64 chunk"))?;
        put(ds64, &riff.to_le_bytes())?;
        put(ds64 + 8, &data.to_le_bytes())?;
        put(ds64 + 16, &frames.to_le_bytes())?;
    } else {
        if riff > u64::from(u32::MAX) {
            return Err(bad("the audio is larger than a plain WAV can describe"));
        }
        put(4, &(riff as u32).to_le_bytes())?;
        put(l.data_size_at, &(data as u32).to_le_bytes())?;
    }
    if let Some(fact) = l.fact {
        put(
            fact,
            &(frames.min(u64::from(u32::MAX)) as u32).to_le_bytes(),
        )?;
    }
    if changed {
        f.sync_all()?;
    }
    Ok(Repair {
        frames,
        data_bytes_before: l.declared,
        changed,
        trailing_partial_bytes: on_disk - data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::FileFormat;
    use crate::wav::WavWriter;

    #[test]
    fn repairs_a_header_left_behind_and_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        for fmt in FileFormat::ALL {
            let p = dir.path().join(format!("{fmt}.wav"));
            let mut w = WavWriter::create(&p, fmt, 48000).expect("create");
            let bps = fmt.bytes_per_sample();
            w.write_bytes(&vec![7u8; 100 * bps]).expect("write");
            w.update_header().expect("header");
            // More audio reaches the file, plus half a frame, but the header is never updated.
            w.write_bytes(&vec![9u8; 50 * bps + 1]).expect("write");
            drop(w);
            let r = repair(&p).expect("repair");
            assert_eq!(
                (r.frames, r.data_bytes_before, r.changed),
                (150, 100 * bps as u64, true)
            );
            assert_eq!(r.trailing_partial_bytes, 1);
            let again = repair(&p).expect("repair again");
            assert_eq!((again.frames, again.changed), (150, false));
            let reader = hound::WavReader::open(&p).expect("hound opens");
            assert_eq!(reader.len(), 150);
        }
    }

    #[test]
    fn refuses_what_is_not_a_wav() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, bytes) in [
            ("empty", &b""[..]),
            ("text", &b"hello, this is not audio at all"[..]),
            ("cut", &b"RIFF\0\0\0\0WAVEfmt "[..]),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).expect("write");
            assert!(repair(&p).is_err(), "{name}");
            assert_eq!(
                std::fs::read(&p).expect("read"),
                bytes,
                "{name} was changed"
            );
        }
    }
}
