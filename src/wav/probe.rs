//! What a WAV file holds, read from its header: for playing takes and for importing files
//! other programs wrote. RIFF, RF64 (and BW64) with its ds64 chunk, Broadcast Wave (bext,
//! iXML and any other chunk before the audio are skipped), PCM 16/24/32-bit and 32-bit float,
//! plain or WAVE_FORMAT_EXTENSIBLE, mono or stereo. The frame count comes from the data
//! chunk's size, clipped to what the file really holds.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::repair::{id_text, u16_at, u32_at};
use super::{WAVE_FORMAT_IEEE_FLOAT, WAVE_FORMAT_PCM};
use crate::playback::ClipFormat;

const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// The KSDATAFORMAT_SUBTYPE GUID after its first two bytes (the format tag).
const SUBTYPE_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// What a WAV file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WavInfo {
    pub sample_rate: u32,
    /// 1 or 2.
    pub channels: u16,
    pub format: ClipFormat,
    /// Byte offset of the first sample.
    pub data_offset: u64,
    /// Whole frames really in the file (the declared size, or less when the file is shorter).
    pub frames: u64,
    /// Frames the data chunk's size declares.
    pub declared_frames: u64,
    /// RF64 or BW64 rather than RIFF.
    pub rf64: bool,
}

impl WavInfo {
    /// The file is shorter than its header says.
    pub fn is_truncated(&self) -> bool {
        self.frames < self.declared_frames
    }
}

/// Why a file cannot be played. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a WAV file ({reason})", path.display())]
    NotWav { path: PathBuf, reason: String },
    #[error("{} is a damaged WAV file: {reason}", path.display())]
    Damaged { path: PathBuf, reason: String },
    #[error(
        "{} holds {what}, which tapedeck cannot play; it plays 16, 24 or 32-bit PCM and \
         32-bit float",
        path.display()
    )]
    Encoding { path: PathBuf, what: String },
    #[error("{} has {channels} channels; tapedeck plays mono and stereo files", path.display())]
    Channels { path: PathBuf, channels: u16 },
}

/// Reads the header of the WAV file at `path`.
pub fn probe(path: &Path) -> Result<WavInfo, ProbeError> {
    let io_err = |source| ProbeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    Walk {
        file: &file,
        len,
        path,
    }
    .run()
}

/// The format chunk's fields that matter.
struct Fmt {
    channels: u16,
    rate: u32,
    align: u16,
    format: ClipFormat,
}

struct Walk<'a> {
    file: &'a File,
    len: u64,
    path: &'a Path,
}

impl Walk<'_> {
    fn not_wav(&self, reason: impl Into<String>) -> ProbeError {
        ProbeError::NotWav {
            path: self.path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn damaged(&self, reason: impl Into<String>) -> ProbeError {
        ProbeError::Damaged {
            path: self.path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// `n` bytes at `at`, or `None` when the file ends first.
    fn read(&self, at: u64, n: usize) -> Result<Option<Vec<u8>>, ProbeError> {
        if at.checked_add(n as u64).is_none_or(|end| end > self.len) {
            return Ok(None);
        }
        let mut b = vec![0u8; n];
        self.file
            .read_exact_at(&mut b, at)
            .map_err(|source| ProbeError::Io {
                path: self.path.to_path_buf(),
                source,
            })?;
        Ok(Some(b))
    }

    /// Like `read`, but the file ending is damage, described by `what`.
    fn need(&self, at: u64, n: usize, what: &str) -> Result<Vec<u8>, ProbeError> {
        self.read(at, n)?.ok_or_else(|| {
            self.damaged(format!(
                "it ends inside its {what} ({} bytes in all)",
                self.len
            ))
        })
    }

    fn run(&self) -> Result<WavInfo, ProbeError> {
        let Some(head) = self.read(0, 12)? else {
            return Err(self.not_wav(format!("{} bytes long", self.len)));
        };
        let rf64 = match &head[0..4] {
            b"RIFF" => false,
            b"RF64" | b"BW64" => true,
            other => {
                return Err(self.not_wav(format!("it starts with {}", id_text(other))));
            }
        };
        if &head[8..12] != b"WAVE" {
            return Err(self.not_wav(format!(
                "a RIFF file of type {}, not WAVE",
                id_text(&head[8..12])
            )));
        }
        let mut ds64_data = None;
        let mut fmt = None;
        let mut pos = 12u64;
        loop {
            let Some(ch) = self.read(pos, 8)? else {
                return Err(self.damaged(if fmt.is_none() {
                    "no fmt chunk before the end of the file"
                } else {
                    "no data chunk before the end of the file"
                }));
            };
            let id = &ch[0..4];
            let size = u32_at(&ch, 4);
            let body = pos + 8;
            match id {
                b"ds64" => {
                    let b = self.need(body, 16, "ds64 chunk")?;
                    ds64_data = Some(u64::from_le_bytes(b[8..16].try_into().unwrap_or([0; 8])));
                }
                b"fmt " => fmt = Some(self.fmt(body, size)?),
                b"data" => {
                    let Some(fmt) = fmt else {
                        return Err(self.damaged("its data chunk comes before its fmt chunk"));
                    };
                    let declared = match (rf64, size, ds64_data) {
                        (true, u32::MAX, Some(d)) => d,
                        (true, u32::MAX, None) => {
                            return Err(self.damaged(
                                "an RF64 file whose data size is in a ds64 chunk it lacks",
                            ));
                        }
                        _ => u64::from(size),
                    };
                    let align = u64::from(fmt.align);
                    let held = declared.min(self.len.saturating_sub(body));
                    return Ok(WavInfo {
                        sample_rate: fmt.rate,
                        channels: fmt.channels,
                        format: fmt.format,
                        data_offset: body,
                        frames: held / align,
                        declared_frames: declared / align,
                        rf64,
                    });
                }
                _ => {}
            }
            // Chunks are padded to an even size.
            pos = body + u64::from(size) + u64::from(size & 1);
        }
    }

    fn fmt(&self, at: u64, size: u32) -> Result<Fmt, ProbeError> {
        if size < 16 {
            return Err(self.damaged(format!("a fmt chunk of {size} bytes")));
        }
        let b = self.need(at, (size as usize).min(40), "fmt chunk")?;
        let (mut tag, channels, rate, align, bits) = (
            u16_at(&b, 0),
            u16_at(&b, 2),
            u32_at(&b, 4),
            u16_at(&b, 12),
            u16_at(&b, 14),
        );
        if tag == WAVE_FORMAT_EXTENSIBLE {
            if b.len() < 40 {
                return Err(self.damaged(format!(
                    "a WAVE_FORMAT_EXTENSIBLE fmt chunk of {size} bytes (40 expected)"
                )));
            }
            if b[26..40] != SUBTYPE_TAIL {
                return Err(ProbeError::Encoding {
                    path: self.path.to_path_buf(),
                    what: "an extensible format with an unknown sub-format".into(),
                });
            }
            let valid = u16_at(&b, 18);
            // Fewer valid bits in a wider container (20 bits in 24) play as the container.
            if valid > bits {
                return Err(self.damaged(format!("{valid} valid bits in {bits}-bit samples")));
            }
            tag = u16_at(&b, 24);
        }
        let format = match (tag, bits) {
            (WAVE_FORMAT_PCM, 16) => ClipFormat::I16,
            (WAVE_FORMAT_PCM, 24) => ClipFormat::I24,
            (WAVE_FORMAT_PCM, 32) => ClipFormat::I32,
            (WAVE_FORMAT_IEEE_FLOAT, 32) => ClipFormat::F32,
            (WAVE_FORMAT_PCM, _) => {
                return Err(ProbeError::Encoding {
                    path: self.path.to_path_buf(),
                    what: format!("{bits}-bit PCM"),
                });
            }
            (WAVE_FORMAT_IEEE_FLOAT, _) => {
                return Err(ProbeError::Encoding {
                    path: self.path.to_path_buf(),
                    what: format!("{bits}-bit float"),
                });
            }
            _ => {
                return Err(ProbeError::Encoding {
                    path: self.path.to_path_buf(),
                    what: format!("audio of format tag {tag:#06x} (compressed or unknown)"),
                });
            }
        };
        if channels != 1 && channels != 2 {
            return Err(ProbeError::Channels {
                path: self.path.to_path_buf(),
                channels,
            });
        }
        if rate == 0 {
            return Err(self.damaged("a sample rate of 0"));
        }
        if usize::from(align) != format.bytes_per_sample() * usize::from(channels) {
            return Err(self.damaged(format!(
                "block align {align} for {channels} channels of {bits} bits"
            )));
        }
        Ok(Fmt {
            channels,
            rate,
            align,
            format,
        })
    }
}

#[cfg(test)]
mod tests;
