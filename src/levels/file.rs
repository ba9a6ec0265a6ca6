//! Measuring a WAV file on disk, as it is read once: for imported files (read anyway to be
//! copied) and for takes repaired by `tapedeck recover` (their writer never finished).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::{Encoding, LevelMeter, Report};
use crate::playback::ClipFormat;
use crate::wav::probe::probe;

/// Bytes read at a time.
const READ_BYTES: usize = 1 << 20;

impl From<ClipFormat> for Encoding {
    fn from(f: ClipFormat) -> Self {
        match f {
            ClipFormat::I16 => Self::Int(16),
            ClipFormat::I24 => Self::Int(24),
            ClipFormat::I32 => Self::Int(32),
            ClipFormat::F32 => Self::Float,
        }
    }
}

/// The sample word (see [`Encoding`]) of one little-endian sample of `format`.
#[inline(always)]
fn word(format: ClipFormat, s: &[u8]) -> u32 {
    match format {
        ClipFormat::I16 => i32::from(i16::from_le_bytes([s[0], s[1]])) as u32,
        ClipFormat::I24 => (i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8) as u32,
        ClipFormat::I32 | ClipFormat::F32 => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
    }
}

/// Measures every whole frame of the WAV file at `path` (the frames its header declares,
/// clipped to what the file holds).
pub fn measure_file(path: &Path) -> io::Result<Report> {
    measure_files(&[path])
}

/// One report for a track split in parts: its files measured in order as one stream (they
/// must share rate, format and channels).
pub fn measure_files<P: AsRef<Path>>(paths: &[P]) -> io::Result<Report> {
    let Some(first) = paths.first() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no file to measure",
        ));
    };
    let info = probe(first.as_ref()).map_err(io::Error::other)?;
    let channels = usize::from(info.channels.max(1));
    let mut meter = LevelMeter::new(channels, info.sample_rate, info.format.into())
        .map_err(io::Error::other)?;
    for path in paths {
        let part = probe(path.as_ref()).map_err(io::Error::other)?;
        if (part.sample_rate, part.format, part.channels)
            != (info.sample_rate, info.format, info.channels)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} differs in rate, format or channels from {}",
                    path.as_ref().display(),
                    first.as_ref().display()
                ),
            ));
        }
        add_file(&mut meter, path.as_ref(), &part)?;
    }
    Ok(meter.report())
}

/// Feeds every whole frame of one probed file to `meter`.
fn add_file(
    meter: &mut LevelMeter,
    path: &Path,
    info: &crate::wav::probe::WavInfo,
) -> io::Result<()> {
    let channels = usize::from(info.channels.max(1));
    let bps = info.format.bytes_per_sample();
    let frame_bytes = bps * channels;
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(info.data_offset))?;
    let mut left = info.frames * frame_bytes as u64;
    let mut buf = vec![0u8; READ_BYTES / frame_bytes * frame_bytes];
    let mut words = Vec::with_capacity(buf.len() / bps);
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        f.read_exact(&mut buf[..n])?;
        words.clear();
        words.extend(buf[..n].chunks_exact(bps).map(|s| word(info.format, s)));
        meter.add_words(&words);
        left -= n as u64;
    }
    Ok(())
}
