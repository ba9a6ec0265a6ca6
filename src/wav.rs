//! The WAV file writer. One mono file per track, written sequentially through a large buffer,
//! with the header's size fields rewritten in place as the take grows so that a file cut
//! short by a crash is still a readable WAV up to its last header update.
//!
//! Layout: `RIFF · JUNK(28: reserve for an RF64 ds64) · fmt · [fact] · data`. The JUNK reserve
//! is there so that a file passing 4 GiB can become RF64 in place without moving any audio;
//! until that is written, the 32-bit size fields saturate at 4 GiB.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::format::FileFormat;

const WAVE_FORMAT_PCM: u16 = 1;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 3;
const JUNK_RESERVE: usize = 28;
/// Write buffer per file: large enough that a 48 kHz 24-bit track is written ~2 times a second.
const BUFFER_BYTES: usize = 256 * 1024;

/// A WAV file being written.
pub struct WavWriter {
    out: BufWriter<File>,
    path: PathBuf,
    format: FileFormat,
    data_offset: u64,
    fact_offset: Option<u64>,
    data_bytes: u64,
}

impl WavWriter {
    /// Creates a new file; fails if the path exists (nothing is ever overwritten).
    ///
    /// The file appears under its name only with its whole header in it: it is written under
    /// a hidden temporary name and then linked into place (which, unlike a rename, fails if
    /// the name exists), so a process killed at any moment never leaves a half-made header.
    pub fn create(path: &Path, format: FileFormat, sample_rate: u32) -> io::Result<Self> {
        let name = path.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a WAV path needs a file name")
        })?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(".part");
        let tmp = path.with_file_name(tmp_name);
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let header = header(format, sample_rate);
        let mut out = BufWriter::with_capacity(BUFFER_BYTES, file);
        let published = out
            .write_all(&header.bytes)
            .and_then(|()| out.flush())
            .and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        published?;
        let mut w = Self {
            out,
            path: path.to_path_buf(),
            format,
            data_offset: header.data_offset,
            fact_offset: header.fact_offset,
            data_bytes: 0,
        };
        w.update_header()?;
        Ok(w)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// Frames (= samples, the file is mono) written so far.
    pub fn frames(&self) -> u64 {
        self.data_bytes / self.format.bytes_per_sample() as u64
    }

    /// Appends encoded little-endian sample bytes.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.data_bytes += bytes.len() as u64;
        Ok(())
    }

    /// Flushes buffered audio and rewrites the size fields to cover it.
    pub fn update_header(&mut self) -> io::Result<()> {
        self.out.flush()?;
        let file = self.out.get_ref();
        let padded = self.data_bytes + (self.data_bytes & 1);
        let riff = (self.data_offset + padded - 8).min(u64::from(u32::MAX)) as u32;
        let data = self.data_bytes.min(u64::from(u32::MAX)) as u32;
        file.write_all_at(&riff.to_le_bytes(), 4)?;
        file.write_all_at(&data.to_le_bytes(), self.data_offset - 4)?;
        if let Some(off) = self.fact_offset {
            let frames = self.frames().min(u64::from(u32::MAX)) as u32;
            file.write_all_at(&frames.to_le_bytes(), off)?;
        }
        Ok(())
    }

    /// Makes everything written so far durable.
    pub fn sync(&mut self) -> io::Result<()> {
        self.update_header()?;
        self.out.get_ref().sync_data()
    }

    /// A second handle on the file, for forcing it to disk from another thread.
    pub fn sync_handle(&self) -> io::Result<File> {
        self.out.get_ref().try_clone()
    }

    /// Pads an odd-sized data chunk, writes the final header and syncs. Returns frames written.
    pub fn finalize(mut self) -> io::Result<u64> {
        if self.data_bytes & 1 == 1 {
            self.out.write_all(&[0])?;
        }
        self.sync()?;
        Ok(self.frames())
    }
}

struct Header {
    bytes: Vec<u8>,
    data_offset: u64,
    fact_offset: Option<u64>,
}

fn header(format: FileFormat, sample_rate: u32) -> Header {
    let bytes_per_sample = format.bytes_per_sample() as u16;
    let mut h = Vec::with_capacity(128);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(b"WAVE");
    h.extend_from_slice(b"JUNK");
    h.extend_from_slice(&(JUNK_RESERVE as u32).to_le_bytes());
    h.extend_from_slice(&[0u8; JUNK_RESERVE]);

    let (tag, fmt_len) = if format.is_float() {
        // Non-PCM formats carry cbSize (0) and a fact chunk, as the WAVE spec asks.
        (WAVE_FORMAT_IEEE_FLOAT, 18u32)
    } else {
        (WAVE_FORMAT_PCM, 16u32)
    };
    h.extend_from_slice(b"fmt ");
    h.extend_from_slice(&fmt_len.to_le_bytes());
    h.extend_from_slice(&tag.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // mono
    h.extend_from_slice(&sample_rate.to_le_bytes());
    h.extend_from_slice(&(sample_rate * u32::from(bytes_per_sample)).to_le_bytes());
    h.extend_from_slice(&bytes_per_sample.to_le_bytes()); // block align
    h.extend_from_slice(&format.bits().to_le_bytes());
    let mut fact_offset = None;
    if format.is_float() {
        h.extend_from_slice(&0u16.to_le_bytes()); // cbSize
        h.extend_from_slice(b"fact");
        h.extend_from_slice(&4u32.to_le_bytes());
        fact_offset = Some(h.len() as u64);
        h.extend_from_slice(&0u32.to_le_bytes());
    }
    h.extend_from_slice(b"data");
    h.extend_from_slice(&0u32.to_le_bytes());
    let data_offset = h.len() as u64;
    Header {
        bytes: h,
        data_offset,
        fact_offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hound_reads_what_we_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (fmt, bytes) in [
            (FileFormat::S16, vec![1u8, 0, 255, 255, 0, 128]),
            (FileFormat::S24, vec![1u8, 0, 0, 255, 255, 255, 0, 0, 128]),
            (
                FileFormat::F32,
                [
                    0.5f32.to_le_bytes(),
                    (-0.25f32).to_le_bytes(),
                    1.0f32.to_le_bytes(),
                ]
                .concat(),
            ),
        ] {
            let p = dir.path().join(format!("{fmt}.wav"));
            let mut w = WavWriter::create(&p, fmt, 48000).expect("create");
            w.write_bytes(&bytes).expect("write");
            assert_eq!(w.finalize().expect("finalize"), 3);
            let r = hound::WavReader::open(&p).expect("hound opens");
            assert_eq!(r.spec().channels, 1);
            assert_eq!(r.spec().sample_rate, 48000);
            assert_eq!(r.len(), 3);
            match fmt {
                FileFormat::S16 => {
                    let v: Vec<i32> = r
                        .into_samples::<i32>()
                        .map(|s| s.expect("sample"))
                        .collect();
                    assert_eq!(v, vec![1, -1, -32768]);
                }
                FileFormat::S24 => {
                    let v: Vec<i32> = r
                        .into_samples::<i32>()
                        .map(|s| s.expect("sample"))
                        .collect();
                    assert_eq!(v, vec![1, -1, -8388608]);
                }
                FileFormat::F32 => {
                    let v: Vec<f32> = r
                        .into_samples::<f32>()
                        .map(|s| s.expect("sample"))
                        .collect();
                    assert_eq!(v, vec![0.5, -0.25, 1.0]);
                }
            }
        }
    }

    #[test]
    fn never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.wav");
        std::fs::write(&p, b"keep me").expect("write");
        assert!(WavWriter::create(&p, FileFormat::S24, 48000).is_err());
        assert_eq!(std::fs::read(&p).expect("read"), b"keep me");
    }

    #[test]
    fn header_is_valid_before_finalize() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("open.wav");
        let mut w = WavWriter::create(&p, FileFormat::S16, 44100).expect("create");
        w.write_bytes(&[0u8; 200]).expect("write");
        w.update_header().expect("header");
        let r = hound::WavReader::open(&p).expect("hound opens an unfinished file");
        assert_eq!(r.len(), 100);
        drop(w);
    }
}
