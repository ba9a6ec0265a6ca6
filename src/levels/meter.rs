//! One file's level report, measured as its samples go by: every sample is seen once, in file
//! order, and nothing is kept but running sums, so the same meter serves a take being written
//! and a file read from disk.

use ebur128::{Channel, EbuR128, Mode};

use super::{Encoding, LevelsError, Report};

/// Loudness is queried on this grid (in tenths of a second), as EBU Tech 3341 asks of a meter
/// (at least 10 updates a second): the maximum momentary and short-term loudness come from it.
const TENTHS_PER_SECOND: u32 = 10;

/// The running measurement of one file of `channels` interleaved channels.
pub struct LevelMeter {
    channels: usize,
    rate: u32,
    encoding: Encoding,
    ebu: EbuR128,
    /// Frames seen.
    frames: u64,
    /// Sum and sum of squares of every sample (full scale = 1), as sox's stats keep them.
    sum: f64,
    sum_sq: f64,
    peak: f64,
    clipped: u64,
    /// Per channel: the clipped run going on now.
    run: Vec<u64>,
    longest_run: u64,
    /// The second being summed for the noise floor: its frames and sum of squares.
    second_frames: u64,
    second_sum_sq: f64,
    /// Mean square of the quietest whole second so far.
    quietest: Option<f64>,
    /// Frames until the next loudness query, and the frames in one tenth.
    tenth_left: usize,
    tenth: usize,
    max_momentary: f64,
    max_short_term: f64,
    /// One piece of the input as f64, for the loudness meter.
    scratch: Vec<f64>,
}

impl LevelMeter {
    /// A meter for a file of `channels` channels at `rate`, its samples encoded as `encoding`.
    /// A mono file's loudness counts its channel once (single channel, as ffmpeg does: a
    /// −20 dBFS 1 kHz sine reads −23 LUFS); a stereo file's counts left and right.
    pub fn new(channels: usize, rate: u32, encoding: Encoding) -> Result<Self, LevelsError> {
        // Without HISTOGRAM: every gating block is kept (8 bytes per 100 ms, and per second
        // for the range), so the result is exact; the histogram's 0.1 LU bins cost up to
        // 0.05 LU, half of what we promise against other meters.
        let mode = Mode::I | Mode::LRA | Mode::TRUE_PEAK | Mode::SAMPLE_PEAK;
        let ch = u32::try_from(channels).map_err(|_| LevelsError::Channels(channels))?;
        let ebu = EbuR128::new(ch, rate, mode).map_err(|_| {
            if channels == 0 || channels > 64 {
                LevelsError::Channels(channels)
            } else {
                LevelsError::Rate(rate)
            }
        })?;
        let tenth = (rate.div_ceil(TENTHS_PER_SECOND) as usize).max(1);
        Ok(Self {
            channels,
            rate,
            encoding,
            ebu,
            frames: 0,
            sum: 0.0,
            sum_sq: 0.0,
            peak: 0.0,
            clipped: 0,
            run: vec![0; channels],
            longest_run: 0,
            second_frames: 0,
            second_sum_sq: 0.0,
            quietest: None,
            tenth_left: tenth,
            tenth,
            max_momentary: f64::NEG_INFINITY,
            max_short_term: f64::NEG_INFINITY,
            scratch: Vec::with_capacity(tenth * channels),
        })
    }

    /// Says which loudspeaker each channel feeds (the default: left, right, centre, unused,
    /// left surround, right surround; a mono file's one channel counts once).
    pub fn set_channel_map(&mut self, map: &[Channel]) -> Result<(), LevelsError> {
        self.ebu
            .set_channel_map(map)
            .map_err(|_| LevelsError::Channels(map.len()))
    }

    /// Frames measured so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Measures whole interleaved frames of sample words: for integer encodings the value as
    /// an i32, for float the f32's bits (the file's own values, as the writer converts them).
    pub fn add_words(&mut self, words: &[u32]) {
        let ch = self.channels;
        let whole = words.len() / ch * ch;
        let mut rest = &words[..whole];
        while !rest.is_empty() {
            let frames = (rest.len() / ch).min(self.tenth_left);
            let (piece, tail) = rest.split_at(frames * ch);
            self.measure(piece);
            rest = tail;
        }
    }

    /// Measures `frames` frames of digital silence (a dropout zero-filled in the file).
    pub fn add_silence(&mut self, frames: u64) {
        let zeros = [0u32; 1024];
        let per = (zeros.len() / self.channels).max(1);
        let mut left = frames;
        while left > 0 {
            let n = left.min(per as u64) as usize;
            self.add_words(&zeros[..n * self.channels]);
            left -= n as u64;
        }
    }

    /// One piece that ends at or before the next tenth of a second.
    fn measure(&mut self, words: &[u32]) {
        let ch = self.channels;
        self.scratch.clear();
        for frame in words.chunks_exact(ch) {
            let mut frame_sq = 0.0;
            for (c, &w) in frame.iter().enumerate() {
                let (x, clipped) = self.encoding.decode(w);
                self.sum += x;
                frame_sq += x * x;
                self.peak = self.peak.max(x.abs());
                if clipped {
                    self.clipped += 1;
                    self.run[c] += 1;
                    self.longest_run = self.longest_run.max(self.run[c]);
                } else {
                    self.run[c] = 0;
                }
                self.scratch.push(x);
            }
            self.sum_sq += frame_sq;
            self.second_sum_sq += frame_sq;
            self.second_frames += 1;
            if self.second_frames == u64::from(self.rate) {
                self.close_second();
            }
        }
        let frames = words.len() / ch;
        self.frames += frames as u64;
        // Errors come only from a wrong frame length, which `chunks_exact` rules out.
        let _ = self.ebu.add_frames_f64(&self.scratch);
        self.tenth_left -= frames;
        if self.tenth_left == 0 {
            self.tenth_left = self.tenth;
            let elapsed = self.frames;
            if elapsed >= 4 * self.tenth as u64
                && let Ok(m) = self.ebu.loudness_momentary()
            {
                self.max_momentary = self.max_momentary.max(m);
            }
            if elapsed >= 30 * self.tenth as u64
                && let Ok(s) = self.ebu.loudness_shortterm()
            {
                self.max_short_term = self.max_short_term.max(s);
            }
        }
    }

    fn close_second(&mut self) {
        let ms = self.second_sum_sq / (self.second_frames as f64 * self.channels as f64);
        self.quietest = Some(self.quietest.map_or(ms, |q| q.min(ms)));
        self.second_frames = 0;
        self.second_sum_sq = 0.0;
    }

    /// The report of everything measured so far.
    pub fn report(&self) -> Report {
        let samples = self.frames as f64 * self.channels as f64;
        let finite = |v: f64| v.is_finite().then_some(v);
        let true_peak = (0..self.channels as u32)
            .filter_map(|c| self.ebu.true_peak(c).ok())
            .fold(0.0f64, f64::max);
        let integrated = self.ebu.loudness_global().ok().and_then(finite);
        // Loudness range needs short-term blocks (3 s) to say anything.
        let range = if self.frames >= 30 * self.tenth as u64 && integrated.is_some() {
            self.ebu.loudness_range().ok().and_then(finite)
        } else {
            None
        };
        // A file shorter than a second is its own quietest second.
        let quietest = self.quietest.or_else(|| {
            (self.second_frames > 0)
                .then(|| self.second_sum_sq / (self.second_frames as f64 * self.channels as f64))
        });
        Report {
            frames: self.frames,
            sample_peak: self.peak,
            true_peak: true_peak.max(self.peak),
            integrated_lufs: integrated,
            loudness_range_lu: range,
            max_momentary_lufs: finite(self.max_momentary),
            max_short_term_lufs: finite(self.max_short_term),
            mean_square: if samples > 0.0 {
                self.sum_sq / samples
            } else {
                0.0
            },
            dc_offset: if samples > 0.0 {
                self.sum / samples
            } else {
                0.0
            },
            clipped_samples: self.clipped,
            longest_clipped_run: self.longest_run,
            quietest_second_mean_square: quietest,
        }
    }
}
