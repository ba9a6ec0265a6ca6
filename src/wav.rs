//! The WAV file writer. One mono Broadcast Wave file per track, written sequentially through a
//! large buffer, with the header's size fields rewritten in place as the take grows so that a
//! file cut short by a crash is still a readable WAV up to its last header update, and
//! [`repair`] can make it cover every whole frame that reached the disk.
//!
//! # Layout
//!
//! ```text
//! offset  size  what
//!      0     4  "RIFF" ("RF64" once past 4 GiB)
//!      4     4  RIFF size = file size - 8 (0xFFFFFFFF in RF64)
//!      8     4  "WAVE"
//!     12     4  "JUNK" ("ds64" once past 4 GiB)
//!     16     4  28
//!     20    28  zeros (ds64: riffSize u64, dataSize u64, sampleCount u64, tableLength u32 = 0)
//!     48     4  "fmt "
//!     52     4  16 (PCM) or 18 (float: + cbSize = 0)
//!     56 16/18  format 1 (PCM) or 3 (IEEE float), 1 channel, rate, byte rate, block align,
//!               bits
//!  [74/   12  "fact", 4, sample count u32: float files only]
//!  72/86     8  "bext", 602 + coding history (even)
//!      .   ...  bext body (EBU Tech 3285 v2), coding history NUL-padded to an even size
//!      .     8  "iXML", size (fixed: the text and at least 1 KiB of trailing spaces, so that
//!               the document can be rewritten in place)
//!      .   ...  iXML text, padded with spaces
//!   4088     8  "data", data size (0xFFFFFFFF in RF64)
//!   4096        the audio (a multiple of 4096 if the metadata does not fit, see below)
//! ```
//!
//! The iXML chunk is sized so that the audio starts on a 4 KiB boundary: normally at 4096,
//! which puts every size field of the header in the file's first page (metadata long enough
//! to need more pushes the audio to the next multiple of 4096).
//!
//! # Crash safety
//!
//! - The file appears under its name only with its whole, valid header (0 frames) in it.
//! - `update_header` first flushes the buffered audio to the file, then rewrites the sizes.
//!   Sizes only grow and every one of them, old or new, describes audio already in the file,
//!   so a process killed between any two of the writes leaves a file whose header describes
//!   a prefix of what is on disk. Each field is one `pwrite` of at most 28 bytes inside one
//!   page, which a dying process cannot tear.
//! - Past 4 GiB the file turns into RF64 in place, in the order documented at
//!   [`rf64_switch`]: every intermediate state is a valid WAV or RF64 file.

mod bwf;
pub mod ixml_update;
mod loudness;
pub mod probe;
mod repair;

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::format::FileFormat;

pub use bwf::{
    BwfInfo, ORIGINATOR, coding_history, samples_since_midnight, truncate_utf8, unique_id,
    xml_escape,
};
pub use loudness::{BextLoudness, bext_body_offset, read_bext_loudness, write_bext_loudness};
pub use repair::{Repair, data_region, repair};

const WAVE_FORMAT_PCM: u16 = 1;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 3;
/// Offset of the RIFF chunk's 32-bit size.
const RIFF_SIZE_AT: u64 = 4;
/// Offset of the JUNK / ds64 chunk's id; its body follows 8 bytes later.
const DS64_ID_AT: u64 = 12;
const DS64_BODY_AT: u64 = 20;
/// The ds64 body: riffSize, dataSize, sampleCount (u64 each), tableLength (u32, 0).
const DS64_LEN: usize = 28;
/// Offset of the fmt chunk, right after the ds64 reserve.
const FMT_AT: u64 = 48;
/// The audio starts on a multiple of this.
const HEADER_ALIGN: usize = 4096;
/// Write buffer per file: large enough that a 48 kHz 24-bit track is written ~2 times a second.
const BUFFER_BYTES: usize = 256 * 1024;
/// The largest value a 32-bit size field can hold; in RF64, "see ds64".
const U32_MAX: u64 = u32::MAX as u64;

/// A WAV file being written.
pub struct WavWriter {
    out: BufWriter<File>,
    path: PathBuf,
    format: FileFormat,
    data_offset: u64,
    fact_offset: Option<u64>,
    /// Where the bext chunk's body starts (its loudness fields are written at the end).
    bext_body: u64,
    data_bytes: u64,
    rf64: bool,
}

impl WavWriter {
    /// Creates a new file with metadata named after the file (see [`BwfInfo::for_file`]);
    /// fails if the path exists. Prefer [`WavWriter::create_bwf`].
    pub fn create(path: &Path, format: FileFormat, sample_rate: u32) -> io::Result<Self> {
        Self::create_bwf(
            path,
            format,
            sample_rate,
            &BwfInfo::for_file(path, sample_rate),
        )
    }

    /// Creates a new Broadcast Wave file carrying `info`; fails if the path exists (nothing is
    /// ever overwritten).
    ///
    /// The file appears under its name only with its whole header in it (sizes describing 0
    /// frames, bext and iXML complete): it is written under a hidden temporary name and then
    /// linked into place (which, unlike a rename, fails if the name exists), so a process
    /// killed at any moment never leaves a half-made header.
    pub fn create_bwf(
        path: &Path,
        format: FileFormat,
        sample_rate: u32,
        info: &BwfInfo,
    ) -> io::Result<Self> {
        let name = path.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a WAV path needs a file name")
        })?;
        if sample_rate == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a WAV file needs a sample rate",
            ));
        }
        let header = header(format, sample_rate, info);
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(".part");
        let tmp = path.with_file_name(tmp_name);
        // Readable too: a file split in parts hands back what it held past the cut.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        let mut out = BufWriter::with_capacity(BUFFER_BYTES, file);
        let published = out
            .write_all(&header.bytes)
            .and_then(|()| out.flush())
            .and_then(|()| publish(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        if let Some(renamed) = published? {
            // Written on from a handle opened by the name it has now: FAT through FUSE
            // (fusefat) loses track of a file renamed while open.
            out = BufWriter::with_capacity(BUFFER_BYTES, renamed);
        }
        Ok(Self {
            out,
            path: path.to_path_buf(),
            format,
            data_offset: header.data_offset,
            fact_offset: header.fact_offset,
            bext_body: header.bext_body,
            data_bytes: 0,
            rf64: false,
        })
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

    /// Whether the header has been turned into RF64 (the file passed 4 GiB).
    pub fn is_rf64(&self) -> bool {
        self.rf64
    }

    /// Where the audio starts in the file.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Appends encoded little-endian sample bytes. On failure, whatever part of `bytes`
    /// reached the file or its buffer is counted (see [`WavWriter::data_bytes`]).
    pub fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.out.write_all(bytes) {
            Ok(()) => {
                self.data_bytes += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.data_bytes += self.accepted_of(bytes.len() as u64);
                Err(e)
            }
        }
    }

    /// How much of a failed write of `len` bytes the file and its buffer took: the buffer
    /// normally takes none of a write it could not make room for, but what is there counts.
    fn accepted_of(&self, len: u64) -> u64 {
        let Ok(meta) = self.out.get_ref().metadata() else {
            return 0;
        };
        let held = meta.len().saturating_sub(self.data_offset) + self.out.buffer().len() as u64;
        held.saturating_sub(self.data_bytes).min(len)
    }

    /// Audio bytes handed to the file so far, on disk or still buffered.
    pub fn data_bytes(&self) -> u64 {
        self.data_bytes
    }

    /// Writes out buffered audio (without touching the header).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The most whole frames a finished file can hold when the file may be at most
    /// `file_bytes` long: the header, the audio and its pad byte must fit.
    pub fn frames_within(&self, file_bytes: u64) -> u64 {
        let bps = self.format.bytes_per_sample() as u64;
        let room = file_bytes.saturating_sub(self.data_offset);
        let mut frames = room / bps;
        // An odd data size takes a pad byte.
        if (frames * bps) & 1 == 1 && frames * bps + 1 > room {
            frames -= 1;
        }
        // A file cut at 2 GiB (fusefat's limit) would have exactly the data size sox writes
        // when it does not know the length, and reads as "length unknown": a frame less.
        if frames * bps == SOX_UNKNOWN_LENGTH {
            frames -= 1;
        }
        frames
    }

    /// The whole frames [`WavWriter::frames_within`] the bytes the file has on disk now.
    pub fn frames_on_disk(&self) -> io::Result<u64> {
        let len = self.out.get_ref().metadata()?.len();
        Ok(self.frames_within(len))
    }

    /// Ends the file after its first `frames` frames (no more than it was handed), finalised
    /// as a complete file at exactly that length, and returns the audio it was handed past
    /// that point: read back from the disk and taken from the buffer (a write refused because
    /// the file could not grow leaves the rest there), for the next file to carry on with.
    pub fn split_off(self, frames: u64) -> io::Result<(u64, Vec<u8>)> {
        let Self {
            out,
            path,
            format,
            data_offset,
            fact_offset,
            bext_body,
            data_bytes,
            rf64,
        } = self;
        let cut = frames * format.bytes_per_sample() as u64;
        if cut > data_bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot end {} after more frames than it holds",
                    path.display()
                ),
            ));
        }
        let (mut file, buffered) = out.into_parts();
        let buffered = buffered.unwrap_or_else(|p| p.into_inner());
        let on_disk = file.metadata()?.len().saturating_sub(data_offset);
        let tail = if cut <= on_disk {
            let mut tail = vec![0u8; (on_disk - cut) as usize];
            file.read_exact_at(&mut tail, data_offset + cut)?;
            tail.extend_from_slice(&buffered);
            tail
        } else {
            // The frames up to the cut are partly still in the buffer.
            let need = ((cut - on_disk) as usize).min(buffered.len());
            file.write_all_at(&buffered[..need], data_offset + on_disk)?;
            buffered[need..].to_vec()
        };
        // Only when it changes anything: FAT through FUSE refuses to "truncate" a file at its
        // limit to the length it already has.
        if file.metadata()?.len() != data_offset + cut {
            file.set_len(data_offset + cut)?;
        }
        file.seek(SeekFrom::Start(data_offset + cut))?;
        let cut_file = Self {
            out: BufWriter::with_capacity(BUFFER_BYTES, file),
            path,
            format,
            data_offset,
            fact_offset,
            bext_body,
            data_bytes: cut,
            rf64,
        };
        Ok((cut_file.finalize()?, tail))
    }

    /// Flushes buffered audio and rewrites the size fields to cover it, turning the file into
    /// RF64 the first time it no longer fits a plain WAV.
    pub fn update_header(&mut self) -> io::Result<()> {
        self.update_header_with(None)
    }

    /// [`WavWriter::update_header`], with the bext loudness fields written in among the
    /// sizes, in file order (see below).
    fn update_header_with(&mut self, loudness: Option<&BextLoudness>) -> io::Result<()> {
        // The audio first: whatever the header says from here on is on the file already.
        self.out.flush()?;
        let loudness = loudness.map(|l| (l.bytes(), self.bext_body + loudness::LOUDNESS_AT));
        let file = self.out.get_ref();
        let s = Sizes::new(
            self.data_offset,
            self.data_bytes,
            self.format.bytes_per_sample() as u64,
        );
        if self.rf64 {
            let mut b = [0u8; 24];
            b[..8].copy_from_slice(&s.riff.to_le_bytes());
            b[8..16].copy_from_slice(&s.data.to_le_bytes());
            b[16..].copy_from_slice(&s.frames.to_le_bytes());
            file.write_all_at(&b, DS64_BODY_AT)?;
            if let Some(off) = self.fact_offset {
                file.write_all_at(&s.fact().to_le_bytes(), off)?;
            }
        } else if s.needs_rf64() {
            for put in rf64_switch(self.data_offset, self.fact_offset, &s)
                .iter()
                .flatten()
            {
                file.write_all_at(put.bytes(), put.at)?;
                die_in_header_if_asked();
            }
            self.rf64 = true;
        } else {
            // Any mix of old and new values describes audio on disk, so the fields go in file
            // order: RIFF, fact, data. (fusefat misplaces the writes that follow a trip back
            // to the header, which is why a file on it gets its header only when it is
            // finished: `disk::header_rewrites_in_place`.)
            file.write_all_at(&(s.riff as u32).to_le_bytes(), RIFF_SIZE_AT)?;
            die_in_header_if_asked();
            if let Some(off) = self.fact_offset {
                file.write_all_at(&s.fact().to_le_bytes(), off)?;
            }
            if let Some((bytes, at)) = &loudness {
                file.write_all_at(bytes, *at)?;
            }
            file.write_all_at(&(s.data as u32).to_le_bytes(), self.data_offset - 4)?;
            return Ok(());
        }
        // RF64 files (never on FAT): the loudness fields after the sizes.
        if let Some((bytes, at)) = &loudness {
            self.out.get_ref().write_all_at(bytes, *at)?;
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
    pub fn finalize(self) -> io::Result<u64> {
        self.finalize_with_loudness(None)
    }

    /// [`WavWriter::finalize`], with the bext loudness fields (measured as the file was
    /// written) put in place before the final sync.
    pub fn finalize_with_loudness(mut self, loudness: Option<&BextLoudness>) -> io::Result<u64> {
        if self.data_bytes & 1 == 1 {
            self.out.write_all(&[0])?;
        }
        // The sizes and the loudness fields in file order (for fusefat, see `update_header`),
        // then to disk.
        self.update_header_with(loudness)?;
        self.out.get_ref().sync_data()?;
        Ok(self.frames())
    }
}

/// The data chunk size sox writes into a WAV whose length it does not know (a pipe), and
/// ignores when reading one.
const SOX_UNKNOWN_LENGTH: u64 = 0x7fff_f000;

/// Puts the finished header at `path` under its name: a hard link, which fails if the name
/// exists. File systems without hard links (FAT, where USB drives live) get a rename once the
/// name is seen to be free: the take's folder is new and the session locked, so nothing else
/// makes that name in between. A renamed file comes back opened again under its new name,
/// positioned after what it holds.
fn publish(tmp: &Path, path: &Path) -> io::Result<Option<File>> {
    match std::fs::hard_link(tmp, path) {
        Ok(()) => Ok(None),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EPERM | libc::EOPNOTSUPP | libc::ENOSYS)
            ) =>
        {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists", path.display()),
                ));
            }
            std::fs::rename(tmp, path)?;
            let mut f = OpenOptions::new().read(true).write(true).open(path)?;
            f.seek(SeekFrom::End(0))?;
            Ok(Some(f))
        }
        Err(e) => Err(e),
    }
}

/// Fault injection (`TAPEDECK_TEST_DIE_IN_HEADER=N`, with the `fault-injection` feature only):
/// the process kills itself with SIGKILL in the middle of the N-th header rewrite (counted
/// over all files), between two of its size writes, so that tests can check what such a file
/// looks like.
#[cfg(feature = "fault-injection")]
fn die_in_header_if_asked() {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static AT: OnceLock<Option<u64>> = OnceLock::new();
    static SEEN: AtomicU64 = AtomicU64::new(0);
    let at = AT.get_or_init(|| {
        std::env::var("TAPEDECK_TEST_DIE_IN_HEADER")
            .ok()
            .and_then(|v| v.trim().parse().ok())
    });
    if let Some(n) = *at
        && SEEN.fetch_add(1, Ordering::Relaxed) + 1 == n
    {
        // SAFETY: getpid and kill have no preconditions; SIGKILL ends the process here.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

#[cfg(not(feature = "fault-injection"))]
fn die_in_header_if_asked() {}

/// The sizes a header gives for `data` bytes of audio starting at `data_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sizes {
    /// The RIFF (or RF64) chunk's size: everything after its 8-byte header, pad byte included.
    riff: u64,
    data: u64,
    frames: u64,
}

impl Sizes {
    fn new(data_offset: u64, data: u64, block_align: u64) -> Self {
        Self {
            riff: data_offset - 8 + data + (data & 1),
            data,
            frames: data / block_align,
        }
    }

    fn needs_rf64(&self) -> bool {
        self.riff > U32_MAX
    }

    /// The fact chunk's 32-bit sample count (saturated: RF64 readers take ds64's).
    fn fact(&self) -> u32 {
        self.frames.min(U32_MAX) as u32
    }

    fn ds64_body(&self) -> [u8; DS64_LEN] {
        let mut b = [0u8; DS64_LEN];
        b[..8].copy_from_slice(&self.riff.to_le_bytes());
        b[8..16].copy_from_slice(&self.data.to_le_bytes());
        b[16..24].copy_from_slice(&self.frames.to_le_bytes());
        // tableLength stays 0.
        b
    }
}

/// One in-place write of a header field.
#[derive(Clone, Copy, Debug)]
struct Put {
    at: u64,
    buf: [u8; DS64_LEN],
    len: usize,
}

impl Put {
    fn new(at: u64, bytes: &[u8]) -> Self {
        let mut buf = [0u8; DS64_LEN];
        buf[..bytes.len()].copy_from_slice(bytes);
        Self {
            at,
            buf,
            len: bytes.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The writes that turn a plain WAV into RF64 with sizes `s`, in the order they must reach
/// the file. What a reader finds if the process dies after each:
///
/// 1. ds64 body (the 64-bit sizes) into the JUNK chunk's body. The chunk is still called JUNK,
///    so every reader skips it: a plain WAV with its previous, valid sizes.
/// 2. `ds64` over `JUNK`. Still a plain RIFF file; readers skip an unknown chunk; same sizes.
/// 3. `RF64` over `RIFF`. Now an RF64 file whose ds64 is complete and whose 32-bit sizes still
///    hold the previous values: a reader that follows the rule "0xFFFFFFFF means see ds64" uses
///    the old sizes (a valid prefix of the audio), one that always takes ds64 (ffmpeg) the new
///    ones; both are audio on disk.
/// 4. 0xFFFFFFFF as the data size, 5. 0xFFFFFFFF as the RIFF size: RF64 readers of either
///    kind now use ds64.
/// 6. The fact sample count (float files): RF64 readers take ds64's sampleCount; written last
///    so that while the file is still RIFF its fact chunk agrees with its data size.
///
/// A RIFF file never carries a 0xFFFFFFFF size (sox would need `--ignore-length`), and an
/// RF64 id never appears before its ds64 is complete. No audio moves.
fn rf64_switch(data_offset: u64, fact_offset: Option<u64>, s: &Sizes) -> [Option<Put>; 6] {
    let all_ones = u32::MAX.to_le_bytes();
    [
        Some(Put::new(DS64_BODY_AT, &s.ds64_body())),
        Some(Put::new(DS64_ID_AT, b"ds64")),
        Some(Put::new(0, b"RF64")),
        Some(Put::new(data_offset - 4, &all_ones)),
        Some(Put::new(RIFF_SIZE_AT, &all_ones)),
        fact_offset.map(|off| Put::new(off, &s.fact().to_le_bytes())),
    ]
}

/// The writes that make a file (plain, RF64, or caught between the two) a plain WAV with sizes
/// `s`: the reverse of [`rf64_switch`], used by repair when the audio on disk fits 4 GiB. The
/// ds64 body is made right first (for readers that take it), then the 32-bit sizes, then the
/// ids, so every intermediate state is valid; `ds64_named` says whether the chunk at 12 is
/// currently called ds64.
fn riff_restore(
    data_offset: u64,
    fact_offset: Option<u64>,
    s: &Sizes,
    ds64_named: bool,
) -> [Option<Put>; 7] {
    [
        ds64_named.then(|| Put::new(DS64_BODY_AT, &s.ds64_body())),
        // The 32-bit sizes in file order, as `update_header` writes them.
        Some(Put::new(RIFF_SIZE_AT, &(s.riff as u32).to_le_bytes())),
        fact_offset.map(|off| Put::new(off, &s.fact().to_le_bytes())),
        Some(Put::new(data_offset - 4, &(s.data as u32).to_le_bytes())),
        Some(Put::new(0, b"RIFF")),
        Some(Put::new(DS64_ID_AT, b"JUNK")),
        Some(Put::new(DS64_BODY_AT, &[0u8; DS64_LEN])),
    ]
}

struct Header {
    bytes: Vec<u8>,
    data_offset: u64,
    fact_offset: Option<u64>,
    bext_body: u64,
}

fn chunk(h: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    h.extend_from_slice(id);
    h.extend_from_slice(&(body.len() as u32).to_le_bytes());
    h.extend_from_slice(body);
    if body.len() % 2 == 1 {
        h.push(0);
    }
}

fn header(format: FileFormat, sample_rate: u32, info: &BwfInfo) -> Header {
    let bytes_per_sample = format.bytes_per_sample() as u16;
    let mut h = Vec::with_capacity(HEADER_ALIGN);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&0u32.to_le_bytes()); // set below
    h.extend_from_slice(b"WAVE");
    chunk(&mut h, b"JUNK", &[0u8; DS64_LEN]);
    debug_assert_eq!(h.len() as u64, FMT_AT);

    let mut fmt = Vec::with_capacity(18);
    let tag = if format.is_float() {
        WAVE_FORMAT_IEEE_FLOAT
    } else {
        WAVE_FORMAT_PCM
    };
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&1u16.to_le_bytes()); // mono
    fmt.extend_from_slice(&sample_rate.to_le_bytes());
    fmt.extend_from_slice(
        &sample_rate
            .wrapping_mul(u32::from(bytes_per_sample))
            .to_le_bytes(),
    );
    fmt.extend_from_slice(&bytes_per_sample.to_le_bytes()); // block align
    fmt.extend_from_slice(&format.bits().to_le_bytes());
    let mut fact_offset = None;
    if format.is_float() {
        // Non-PCM formats carry cbSize (0) and a fact chunk, as the WAVE spec asks.
        fmt.extend_from_slice(&0u16.to_le_bytes());
        chunk(&mut h, b"fmt ", &fmt);
        fact_offset = Some(h.len() as u64 + 8);
        chunk(&mut h, b"fact", &0u32.to_le_bytes());
    } else {
        chunk(&mut h, b"fmt ", &fmt);
    }
    let bext_body = h.len() as u64 + 8;
    chunk(&mut h, b"bext", &bwf::bext_body(info, format, sample_rate));

    // iXML takes the room up to the next 4 KiB boundary (less the data chunk's header),
    // keeping at least IXML_MIN_SLACK bytes spare.
    let xml = bwf::ixml_text(info, format, sample_rate);
    let need = h.len() + 8 + xml.len() + bwf::IXML_MIN_SLACK + 8;
    let total = need.div_ceil(HEADER_ALIGN) * HEADER_ALIGN;
    let mut ixml = xml.into_bytes();
    ixml.resize(total - h.len() - 16, b' ');
    chunk(&mut h, b"iXML", &ixml);

    h.extend_from_slice(b"data");
    h.extend_from_slice(&0u32.to_le_bytes());
    let data_offset = h.len() as u64;
    debug_assert_eq!(h.len(), total);
    let s = Sizes::new(data_offset, 0, u64::from(bytes_per_sample));
    h[4..8].copy_from_slice(&(s.riff as u32).to_le_bytes());
    Header {
        bytes: h,
        data_offset,
        fact_offset,
        bext_body,
    }
}

#[cfg(test)]
mod tests;
