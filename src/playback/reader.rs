//! The disk side of playback: a thread that reads each playing clip ahead of the output with
//! positioned reads, mixes the cue to stereo and fills the ring. Never a whole file in memory:
//! one block per clip at a time.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringbuf::HeapProd;
use ringbuf::traits::{Observer, Producer};

use super::clip::{ClipFormat, CueTrack, Gains, cue_gains};
use super::shared::{PlayState, PlaybackShared};

/// Frames read and mixed per step.
pub(crate) const BLOCK_FRAMES: usize = 4096;

/// What the control side asks of the reader.
pub(crate) enum Request {
    /// Fill the ring for play `run` from timeline frame `from`.
    Play {
        run: u64,
        from: u64,
    },
    /// The tracks (and clips) to play from the next play on.
    Tracks(Vec<CueTrack>),
    Quit,
}

/// A clip opened for a play.
struct OpenClip {
    file: File,
    track: usize,
    start: u64,
    frames: u64,
    channels: usize,
    format: ClipFormat,
    data_offset: u64,
}

pub(crate) struct Reader {
    pub(crate) shared: Arc<PlaybackShared>,
    pub(crate) ring: HeapProd<f32>,
    pub(crate) requests: Receiver<Request>,
    pub(crate) tracks: Vec<CueTrack>,
    /// Each track's gains (`Gains::to_bits`), changed by the control side at any time.
    pub(crate) gains: Arc<Vec<AtomicU64>>,
    pub(crate) problems: Arc<Mutex<Vec<String>>>,
}

impl Reader {
    pub(crate) fn run(mut self) {
        let mut bytes = vec![0u8; BLOCK_FRAMES * 2 * 4];
        let mut mix = vec![0f32; BLOCK_FRAMES * 2];
        let mut playing: Option<(u64, u64, Vec<OpenClip>)> = None;
        loop {
            let wait = if playing.is_some() {
                Duration::from_millis(5)
            } else {
                Duration::from_millis(50)
            };
            match self.requests.recv_timeout(wait) {
                Ok(Request::Quit) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Request::Tracks(t)) => self.tracks = t,
                Ok(Request::Play { run, from }) => {
                    // The callback drops the old play's audio first.
                    playing = None;
                    if !self.wait_flushed(run) {
                        continue;
                    }
                    let clips = self.open_clips();
                    playing = Some((run, from, clips));
                    self.fill(&mut playing, &mut bytes, &mut mix);
                    if let Some((r, _, _)) = &playing {
                        self.shared.ready_run.store(*r, Ordering::Release);
                    }
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if playing
                .as_ref()
                .is_some_and(|(run, _, _)| *run != self.shared.run.load(Ordering::Acquire))
                || matches!(self.shared.state(), PlayState::Stopped | PlayState::Ended)
            {
                playing = None;
            }
            self.fill(&mut playing, &mut bytes, &mut mix);
        }
    }

    /// Waits until the callback has dropped what the ring held (false: another request came,
    /// or the play was stopped).
    fn wait_flushed(&self, run: u64) -> bool {
        loop {
            if self.shared.flushed_run.load(Ordering::Acquire) == run {
                return true;
            }
            if self.shared.run.load(Ordering::Acquire) != run
                || self.shared.state() != PlayState::Starting
            {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn open_clips(&mut self) -> Vec<OpenClip> {
        let mut clips = Vec::new();
        for (i, t) in self.tracks.iter().enumerate() {
            let Some(c) = &t.clip else { continue };
            match File::open(&c.path) {
                Ok(file) => clips.push(OpenClip {
                    file,
                    track: i,
                    start: c.start,
                    frames: c.frames,
                    channels: usize::from(c.channels.clamp(1, 2)),
                    format: c.format,
                    data_offset: c.data_offset,
                }),
                Err(e) => {
                    if let Ok(mut p) = self.problems.lock() {
                        p.push(format!("{}: {e}; it does not play", c.path.display()));
                    }
                }
            }
        }
        clips
    }

    /// Mixes and pushes whole blocks while the ring has room for one.
    fn fill(
        &mut self,
        playing: &mut Option<(u64, u64, Vec<OpenClip>)>,
        bytes: &mut [u8],
        mix: &mut [f32],
    ) {
        let Some((run, pos, clips)) = playing else {
            return;
        };
        let end = self.shared.end_frame.load(Ordering::Acquire);
        let gains: Vec<Gains> = self
            .gains
            .iter()
            .map(|g| Gains::from_bits(g.load(Ordering::Relaxed)))
            .collect();
        while *pos < end && self.ring.vacant_len() >= BLOCK_FRAMES * 2 {
            if self.shared.run.load(Ordering::Acquire) != *run {
                return;
            }
            let n = (end - *pos).min(BLOCK_FRAMES as u64) as usize;
            let mix = &mut mix[..n * 2];
            mix.fill(0.0);
            for c in clips.iter() {
                let g = gains.get(c.track).copied().unwrap_or(Gains::SILENT);
                if g.is_silent() {
                    continue;
                }
                mix_clip(c, *pos, n, g, bytes, mix);
            }
            self.ring.push_slice(mix);
            *pos += n as u64;
        }
    }
}

/// Adds clip `c`'s part of timeline frames `from..from + n` into `mix` (stereo).
fn mix_clip(c: &OpenClip, from: u64, n: usize, g: Gains, bytes: &mut [u8], mix: &mut [f32]) {
    let clip_end = c.start + c.frames;
    let a = from.max(c.start);
    let b = (from + n as u64).min(clip_end);
    if a >= b {
        return;
    }
    let frames = (b - a) as usize;
    let bps = c.format.bytes_per_sample();
    let align = bps * c.channels;
    let want = &mut bytes[..frames * align];
    let offset = c.data_offset + (a - c.start) * align as u64;
    // A file shorter than the manifest says reads short: the rest stays silent.
    let mut got = 0;
    while got < want.len() {
        match c.file.read_at(&mut want[got..], offset + got as u64) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    let whole = got / align;
    let into = (a - from) as usize;
    for (k, frame) in want[..whole * align].chunks_exact(align).enumerate() {
        let (l, r) = if c.channels == 1 {
            let v = sample(frame, c.format);
            (v, v)
        } else {
            (sample(frame, c.format), sample(&frame[bps..], c.format))
        };
        let m = &mut mix[(into + k) * 2..(into + k) * 2 + 2];
        m[0] += l * g.left;
        m[1] += r * g.right;
    }
}

/// One little-endian sample as a cue value in -1..1 (exact for 16- and 24-bit and float).
fn sample(b: &[u8], f: ClipFormat) -> f32 {
    match f {
        ClipFormat::I16 => f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0,
        ClipFormat::I24 => (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0,
        ClipFormat::I32 => {
            (f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / 2_147_483_648.0) as f32
        }
        ClipFormat::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
    }
}

/// The gains of `tracks` with mute and solo applied, as the reader reads them.
pub(crate) fn gains_of(tracks: &[CueTrack]) -> Vec<Gains> {
    cue_gains(tracks.iter().map(|t| &t.cue))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_decode_exactly() {
        assert_eq!(sample(&[0x00, 0x80], ClipFormat::I16), -1.0);
        assert_eq!(sample(&[0x01, 0x00], ClipFormat::I16), 1.0 / 32_768.0);
        assert_eq!(
            sample(&[0xff, 0xff, 0x7f], ClipFormat::I24),
            8_388_607.0 / 8_388_608.0
        );
        assert_eq!(sample(&[0x00, 0x00, 0x80], ClipFormat::I24), -1.0);
        assert_eq!(sample(&[0x01, 0, 0], ClipFormat::I24), 1.0 / 8_388_608.0);
        assert_eq!(sample(&0.25f32.to_le_bytes(), ClipFormat::F32), 0.25);
        assert_eq!(sample(&i32::MIN.to_le_bytes(), ClipFormat::I32), -1.0);
    }
}
