//! The loudness fields of the bext chunk (EBU Tech 3285 version 2): LoudnessValue,
//! LoudnessRange, MaxTruePeakLevel, MaxMomentaryLoudness and MaxShortTermLoudness, each an
//! i16 in hundredths (of a LUFS, LU or dBTP), 0x7FFF when not known. They are written in
//! place, over the "not measured" values every file starts with, when the figures are known.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::repair::u32_at;

/// Where the five fields sit in the bext body.
pub(crate) const LOUDNESS_AT: u64 = 412;
/// "Not measured".
const UNKNOWN: i16 = 0x7fff;

/// A file's loudness as bext carries it; None is written as "not measured".
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BextLoudness {
    /// Integrated loudness, LUFS.
    pub loudness_value: Option<f64>,
    /// Loudness range, LU.
    pub loudness_range: Option<f64>,
    /// dBTP.
    pub max_true_peak_level: Option<f64>,
    /// LUFS.
    pub max_momentary_loudness: Option<f64>,
    /// LUFS.
    pub max_short_term_loudness: Option<f64>,
}

impl BextLoudness {
    /// The ten bytes of the five fields, little-endian.
    pub fn bytes(&self) -> [u8; 10] {
        let mut b = [0u8; 10];
        let fields = [
            self.loudness_value,
            self.loudness_range,
            self.max_true_peak_level,
            self.max_momentary_loudness,
            self.max_short_term_loudness,
        ];
        for (v, out) in fields.iter().zip(b.chunks_exact_mut(2)) {
            out.copy_from_slice(&hundredths(*v).to_le_bytes());
        }
        b
    }

    /// The five fields read back from ten bytes.
    pub fn from_bytes(b: &[u8; 10]) -> Self {
        let f = |i: usize| {
            let v = i16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
            (v != UNKNOWN).then(|| f64::from(v) / 100.0)
        };
        Self {
            loudness_value: f(0),
            loudness_range: f(1),
            max_true_peak_level: f(2),
            max_momentary_loudness: f(3),
            max_short_term_loudness: f(4),
        }
    }
}

/// A value in hundredths, clamped to what an i16 holds short of the "unknown" mark.
fn hundredths(v: Option<f64>) -> i16 {
    match v {
        Some(x) if x.is_finite() => (x * 100.0).round().clamp(-32768.0, 32766.0) as i16,
        _ => UNKNOWN,
    }
}

/// The offset of the bext chunk's body in a WAV file, found by walking the chunks before the
/// audio; None when the file has no bext chunk.
pub fn bext_body_offset(f: &File) -> io::Result<Option<u64>> {
    let len = f.metadata()?.len();
    let mut head = [0u8; 12];
    f.read_exact_at(&mut head, 0)?;
    if !matches!(&head[0..4], b"RIFF" | b"RF64" | b"BW64") || &head[8..12] != b"WAVE" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a WAV file (no RIFF/RF64 WAVE header)",
        ));
    }
    let mut pos = 12u64;
    while pos + 8 <= len {
        let mut ch = [0u8; 8];
        f.read_exact_at(&mut ch, pos)?;
        let size = u64::from(u32_at(&ch, 4));
        match &ch[0..4] {
            b"bext" if size >= super::bwf::BEXT_FIXED as u64 => return Ok(Some(pos + 8)),
            b"bext" => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("its bext chunk is {size} bytes, shorter than the standard's 602"),
                ));
            }
            b"data" => return Ok(None),
            _ => pos += 8 + size + (size & 1),
        }
    }
    Ok(None)
}

/// Writes the loudness fields into the bext chunk of the WAV file at `path`, in place, and
/// forces them to disk. Also makes the bext Version 2 (the version that has them). Fails,
/// writing nothing, when the file has no bext chunk.
pub fn write_bext_loudness(path: &Path, loudness: &BextLoudness) -> io::Result<()> {
    let f = OpenOptions::new().read(true).write(true).open(path)?;
    let Some(body) = bext_body_offset(&f)? else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the file has no bext chunk to hold its loudness",
        ));
    };
    f.write_all_at(&2u16.to_le_bytes(), body + VERSION_AT)?;
    f.write_all_at(&loudness.bytes(), body + LOUDNESS_AT)?;
    f.sync_data()
}

/// Reads the loudness fields of the WAV file at `path`; None when it has no bext chunk or its
/// bext is older than version 2.
pub fn read_bext_loudness(path: &Path) -> io::Result<Option<BextLoudness>> {
    let f = File::open(path)?;
    let Some(body) = bext_body_offset(&f)? else {
        return Ok(None);
    };
    let mut version = [0u8; 2];
    f.read_exact_at(&mut version, body + VERSION_AT)?;
    if u16::from_le_bytes(version) < 2 {
        return Ok(None);
    }
    let mut b = [0u8; 10];
    f.read_exact_at(&mut b, body + LOUDNESS_AT)?;
    Ok(Some(BextLoudness::from_bytes(&b)))
}

/// Where the Version field sits in the bext body.
const VERSION_AT: u64 = 346;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hundredths_round_and_unknown_is_7fff() {
        let l = BextLoudness {
            loudness_value: Some(-23.004),
            loudness_range: Some(5.555),
            max_true_peak_level: Some(-0.1),
            max_momentary_loudness: None,
            max_short_term_loudness: Some(f64::NEG_INFINITY),
        };
        let b = l.bytes();
        assert_eq!(i16::from_le_bytes([b[0], b[1]]), -2300);
        assert_eq!(i16::from_le_bytes([b[2], b[3]]), 556);
        assert_eq!(i16::from_le_bytes([b[4], b[5]]), -10);
        assert_eq!(&b[6..10], &[0xff, 0x7f, 0xff, 0x7f]);
        let back = BextLoudness::from_bytes(&b);
        assert_eq!(back.loudness_value, Some(-23.0));
        assert_eq!(back.max_momentary_loudness, None);
    }

    #[test]
    fn written_in_place_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.wav");
        let mut w = crate::wav::WavWriter::create(&path, crate::format::FileFormat::S24, 48000)
            .expect("create");
        w.write_bytes(&[1, 2, 3, 4, 5, 6]).expect("write");
        w.finalize().expect("finalize");
        let before = std::fs::read(&path).expect("read");
        assert_eq!(
            read_bext_loudness(&path).expect("read"),
            Some(BextLoudness::default())
        );
        let l = BextLoudness {
            loudness_value: Some(-18.25),
            loudness_range: Some(3.5),
            max_true_peak_level: Some(-1.0),
            max_momentary_loudness: Some(-12.0),
            max_short_term_loudness: Some(-14.5),
        };
        write_bext_loudness(&path, &l).expect("write");
        assert_eq!(read_bext_loudness(&path).expect("read"), Some(l));
        let after = std::fs::read(&path).expect("read");
        assert_eq!(before.len(), after.len());
        let differ: Vec<usize> = (0..before.len())
            .filter(|&i| before[i] != after[i])
            .collect();
        let body = 72 + 8;
        assert!(
            differ
                .iter()
                .all(|&i| (body + 412..body + 422).contains(&i)),
            "{differ:?}"
        );
    }
}
