//! Sample formats: what the device delivers and what the files hold, and the exact conversion
//! between them. Device samples travel through the ring as raw 32-bit words so that no precision
//! is lost before the writer decides what the file gets.

use std::fmt;

/// A sample format the capture path accepts from a device (`--device-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum DeviceFormat {
    I16,
    I24,
    I32,
    F32,
}

impl DeviceFormat {
    pub const ALL: [DeviceFormat; 4] = [Self::I16, Self::I24, Self::I32, Self::F32];

    pub fn from_cpal(f: cpal::SampleFormat) -> Option<Self> {
        match f {
            cpal::SampleFormat::I16 => Some(Self::I16),
            cpal::SampleFormat::I24 => Some(Self::I24),
            cpal::SampleFormat::I32 => Some(Self::I32),
            cpal::SampleFormat::F32 => Some(Self::F32),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::I16 => "i16",
            Self::I24 => "i24",
            Self::I32 => "i32",
            Self::F32 => "f32",
        }
    }
}

impl fmt::Display for DeviceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The sample format of the files tapedeck writes (`--format`).
#[derive(
    serde::Serialize,
    serde::Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Default,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    S16,
    #[default]
    S24,
    F32,
}

impl FileFormat {
    pub const ALL: [FileFormat; 3] = [Self::S16, Self::S24, Self::F32];

    pub fn name(self) -> &'static str {
        match self {
            Self::S16 => "s16",
            Self::S24 => "s24",
            Self::F32 => "f32",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn bytes_per_sample(self) -> usize {
        match self {
            Self::S16 => 2,
            Self::S24 => 3,
            Self::F32 => 4,
        }
    }

    pub fn bits(self) -> u16 {
        (self.bytes_per_sample() * 8) as u16
    }

    pub fn is_float(self) -> bool {
        self == Self::F32
    }

    /// The device formats to ask for, best first, when the user did not choose one: the one
    /// that needs no conversion, then those that lose no precision in it.
    pub fn preferred_device_formats(self) -> [DeviceFormat; 4] {
        use DeviceFormat::*;
        match self {
            Self::S16 => [I16, I24, I32, F32],
            Self::S24 => [I24, I32, F32, I16],
            Self::F32 => [F32, I24, I32, I16],
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const I16_SCALE: f64 = 32768.0;
const I24_SCALE: f64 = 8_388_608.0;
const I32_SCALE: f64 = 2_147_483_648.0;

/// One converted sample: its value in the file, its magnitude relative to full scale, and
/// whether it sits at (or was clipped to) full scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Converted<T> {
    pub value: T,
    pub magnitude: f32,
    pub at_full_scale: bool,
}

/// Float to integer: round half away from zero, then clip to the integer range. NaN becomes 0.
///
/// Written without branches on the sample (its sign is as good as random), so that the
/// writer's loop over a track runs at the speed of its arithmetic.
#[inline(always)]
fn float_to_int(x: f32, scale: f64, min: i32, max: i32) -> (i32, bool) {
    let s = f64::from(x) * scale;
    // |s| + 0.5 is exact for every scaled f32 (24 significant bits, far below 2^52), so the
    // truncating cast floors it; out-of-range values saturate and are clipped below.
    let r = ((s.abs() + 0.5) as i64 as f64).copysign(s);
    let v = r.clamp(f64::from(min), f64::from(max)) as i32;
    let v = if x.is_nan() { 0 } else { v };
    (v, v == max || v == min)
}

/// Converts one raw ring word (the device sample's bits, see `capture::CaptureSample`) into the
/// sample a file of `file` format holds. The rules are documented in docs/architecture.md.
#[inline]
pub fn convert_s16(word: u32, dev: DeviceFormat) -> Converted<i16> {
    let (v, clipped) = match dev {
        DeviceFormat::I16 => (word as i32, false),
        DeviceFormat::I24 => ((word as i32) >> 8, false),
        DeviceFormat::I32 => ((word as i32) >> 16, false),
        DeviceFormat::F32 => float_to_int(f32::from_bits(word), I16_SCALE, -32768, 32767),
    };
    let at_fs = clipped || v == 32767 || v == -32768;
    Converted {
        value: v as i16,
        magnitude: (f64::from(v).abs() / I16_SCALE) as f32,
        at_full_scale: at_fs,
    }
}

#[inline]
pub fn convert_s24(word: u32, dev: DeviceFormat) -> Converted<i32> {
    const MAX: i32 = (1 << 23) - 1;
    const MIN: i32 = -(1 << 23);
    let (v, clipped) = match dev {
        DeviceFormat::I16 => ((word as i32) << 8, false),
        // cpal's I24 carries the value sign-extended in 32 bits; clamp defends against
        // drivers that leave garbage in the top byte.
        DeviceFormat::I24 => ((word as i32).clamp(MIN, MAX), false),
        DeviceFormat::I32 => ((word as i32) >> 8, false),
        DeviceFormat::F32 => float_to_int(f32::from_bits(word), I24_SCALE, MIN, MAX),
    };
    let at_fs = clipped || v == MAX || v == MIN;
    Converted {
        value: v,
        magnitude: (f64::from(v).abs() / I24_SCALE) as f32,
        at_full_scale: at_fs,
    }
}

#[inline]
pub fn convert_f32(word: u32, dev: DeviceFormat) -> Converted<f32> {
    let v = match dev {
        DeviceFormat::I16 => (f64::from(word as i32) / I16_SCALE) as f32,
        DeviceFormat::I24 => (f64::from(word as i32) / I24_SCALE) as f32,
        DeviceFormat::I32 => (f64::from(word as i32) / I32_SCALE) as f32,
        // Bit-identical: the device's float is the file's float.
        DeviceFormat::F32 => f32::from_bits(word),
    };
    // An infinite sample must not read as silence: report it as the largest level there is.
    let m = if v.is_nan() {
        0.0
    } else {
        v.abs().min(f32::MAX)
    };
    Converted {
        value: v,
        magnitude: m,
        at_full_scale: m >= 1.0,
    }
}

/// What a track's file samples reached: the largest magnitude relative to full scale, and how
/// many samples sit at (or were clipped to) full scale.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrackLevel {
    pub peak: f32,
    pub clipped: u64,
}

/// The writer's conversion of interleaved ring words into file samples, in two steps per
/// chunk: [`ChunkConverter::convert`] turns every word into the file's sample value in place
/// and keeps each input's level, [`pack_track`] picks one input out as file bytes.
///
/// Every sample gets exactly the conversion of [`convert_s16`], [`convert_s24`] or
/// [`convert_f32`]. Doing it in place over the whole interleaved chunk, with the format
/// decided once per chunk, lets the compiler run it on vectors (several inputs at a time);
/// what is left per track is a copy.
#[derive(Clone, Debug)]
pub struct ChunkConverter {
    dev: DeviceFormat,
    file: FileFormat,
    /// Per input: the largest magnitude so far (integer files: |value|; f32 files: the bits
    /// of the largest |value|, which order like the values), and the samples at full scale.
    largest: Vec<u32>,
    clipped: Vec<u64>,
    /// Per input, within one chunk (fits: a chunk is far shorter than 2^32 frames).
    clipped_now: Vec<u32>,
}

impl ChunkConverter {
    pub fn new(channels: usize, dev: DeviceFormat, file: FileFormat) -> Self {
        let channels = channels.max(1);
        Self {
            dev,
            file,
            largest: vec![0; channels],
            clipped: vec![0; channels],
            clipped_now: vec![0; channels],
        }
    }

    pub fn channels(&self) -> usize {
        self.largest.len()
    }

    /// Turns whole frames of ring words into file sample values, in place: an i32 for the
    /// integer formats, the f32's bits for f32.
    pub fn convert(&mut self, words: &mut [u32]) {
        let f = |x: f32, scale: f32, min: i32, max: i32| float_to_int_exact(x, scale, min, max);
        match (self.file, self.dev) {
            (FileFormat::S16, DeviceFormat::I16) => self.ints::<16>(words, |w| w as i32),
            (FileFormat::S16, DeviceFormat::I24) => self.ints::<16>(words, |w| (w as i32) >> 8),
            (FileFormat::S16, DeviceFormat::I32) => self.ints::<16>(words, |w| (w as i32) >> 16),
            (FileFormat::S16, DeviceFormat::F32) => {
                self.ints::<16>(words, |w| f(f32::from_bits(w), 32768.0, -32768, 32767))
            }
            (FileFormat::S24, DeviceFormat::I16) => self.ints::<24>(words, |w| (w as i32) << 8),
            // cpal's I24 carries the value sign-extended in 32 bits; clamp defends against
            // drivers that leave garbage in the top byte.
            (FileFormat::S24, DeviceFormat::I24) => {
                self.ints::<24>(words, |w| (w as i32).clamp(-(1 << 23), (1 << 23) - 1))
            }
            (FileFormat::S24, DeviceFormat::I32) => self.ints::<24>(words, |w| (w as i32) >> 8),
            (FileFormat::S24, DeviceFormat::F32) => self.ints::<24>(words, |w| {
                f(f32::from_bits(w), 8_388_608.0, -(1 << 23), (1 << 23) - 1)
            }),
            (FileFormat::F32, DeviceFormat::F32) => self.floats(words, |w| w),
            (FileFormat::F32, dev) => self.floats(words, |w| convert_f32(w, dev).value.to_bits()),
        }
    }

    #[inline(always)]
    fn ints<const BITS: u32>(&mut self, words: &mut [u32], convert: impl Fn(u32) -> i32) {
        let max = (1i32 << (BITS - 1)) - 1;
        let min = -(1i32 << (BITS - 1));
        let ch = self.largest.len();
        self.clipped_now.fill(0);
        for frame in words.chunks_exact_mut(ch) {
            for ((w, big), clip) in frame
                .iter_mut()
                .zip(&mut self.largest)
                .zip(&mut self.clipped_now)
            {
                let v = convert(*w);
                *w = v as u32;
                *big = (*big).max(v.unsigned_abs());
                *clip += u32::from(v == max || v == min);
            }
        }
        self.add_clips();
    }

    #[inline(always)]
    fn floats(&mut self, words: &mut [u32], convert: impl Fn(u32) -> u32) {
        let ch = self.largest.len();
        self.clipped_now.fill(0);
        for frame in words.chunks_exact_mut(ch) {
            for ((w, big), clip) in frame
                .iter_mut()
                .zip(&mut self.largest)
                .zip(&mut self.clipped_now)
            {
                let bits = convert(*w);
                *w = bits;
                let v = f32::from_bits(bits);
                // An infinite sample must not read as silence: it counts as the largest level
                // there is. Non-negative floats order like their bits.
                let m = if v.is_nan() {
                    0.0
                } else {
                    v.abs().min(f32::MAX)
                };
                *big = (*big).max(m.to_bits());
                *clip += u32::from(m >= 1.0);
            }
        }
        self.add_clips();
    }

    fn add_clips(&mut self) {
        for (total, now) in self.clipped.iter_mut().zip(&self.clipped_now) {
            *total += u64::from(*now);
        }
    }

    /// The level of input `input` over everything converted since the last `reset`.
    pub fn level(&self, input: usize) -> TrackLevel {
        let big = self.largest.get(input).copied().unwrap_or(0);
        let peak = match self.file {
            // Exact: at most 24 significant bits over a power of 2.
            FileFormat::S16 => (f64::from(big) / I16_SCALE) as f32,
            FileFormat::S24 => (f64::from(big) / I24_SCALE) as f32,
            FileFormat::F32 => f32::from_bits(big),
        };
        TrackLevel {
            peak,
            clipped: self.clipped.get(input).copied().unwrap_or(0),
        }
    }

    /// Starts the levels over (a new take).
    pub fn reset(&mut self) {
        self.largest.fill(0);
        self.clipped.fill(0);
    }
}

/// Picks input `input` out of a chunk converted by [`ChunkConverter::convert`] and writes it as
/// little-endian `file` samples into `out`; returns the bytes written.
///
/// # Panics
///
/// If `input >= channels` or `out` is shorter than the samples need.
pub fn pack_track(
    words: &[u32],
    channels: usize,
    input: usize,
    file: FileFormat,
    out: &mut [u8],
) -> usize {
    assert!(input < channels, "input {input} of {channels}");
    let samples = words.chunks_exact(channels).map(|frame| frame[input]);
    match file {
        FileFormat::S16 => pack::<2>(samples, out),
        FileFormat::S24 => pack::<3>(samples, out),
        FileFormat::F32 => pack::<4>(samples, out),
    }
}

#[inline(always)]
fn pack<const B: usize>(samples: impl Iterator<Item = u32>, out: &mut [u8]) -> usize {
    let mut len = 0;
    for (v, d) in samples.zip(out.chunks_exact_mut(B)) {
        d.copy_from_slice(&v.to_le_bytes()[..B]);
        len += B;
    }
    len
}

/// [`float_to_int`] in f32 throughout, for the vector loop: `scale` must be a power of 2 (so
/// that `x * scale` is exact) and the bounds must fit 24 bits.
///
/// Clamping first and rounding after gives the same result as the other way round (the
/// bounds are integers), and keeps the truncation in range. The fraction `s - trunc(s)` is
/// exact in f32, so half a step is recognised exactly. NaN becomes 0 first. The unchecked
/// cast is what lets the loop run on vectors: the checked one (saturating, NaN to 0) keeps it
/// one sample at a time, at three times the cost.
#[inline(always)]
fn float_to_int_exact(x: f32, scale: f32, min: i32, max: i32) -> i32 {
    let s = x * scale;
    let s = if s.is_nan() { 0.0 } else { s };
    let s = s.max(min as f32).min(max as f32);
    // SAFETY: not NaN and within the i32 range, just made so.
    let t: i32 = unsafe { s.to_int_unchecked() };
    let frac = s - t as f32;
    t + i32::from(frac >= 0.5) - i32::from(frac <= -0.5)
}

/// Level in dBFS of a magnitude relative to full scale; `None` for digital silence.
pub fn dbfs(magnitude: f32) -> Option<f64> {
    if magnitude > 0.0 && magnitude.is_finite() {
        Some(20.0 * f64::from(magnitude).log10())
    } else {
        None
    }
}

/// [`dbfs`] rounded to hundredths, as the manifest and the status lines give it.
pub fn dbfs_rounded(magnitude: f32) -> Option<f64> {
    dbfs(magnitude).map(round_hundredths)
}

/// Rounds to two decimals.
pub fn round_hundredths(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i16_to_s24_is_shift_by_8() {
        for x in [-32768i16, -1, 0, 1, 12345, 32767] {
            let c = convert_s24(x as i32 as u32, DeviceFormat::I16);
            assert_eq!(c.value, i32::from(x) << 8);
        }
    }

    #[test]
    fn f32_to_f32_is_bit_identical() {
        for x in [
            0.0f32,
            -0.0,
            1.5,
            -2.0,
            f32::MIN_POSITIVE,
            1e-30,
            0.123_456_79,
        ] {
            assert_eq!(
                convert_f32(x.to_bits(), DeviceFormat::F32).value.to_bits(),
                x.to_bits()
            );
        }
    }

    #[test]
    fn float_to_int_rounds_and_clips() {
        let c = convert_s16(0.5f32.to_bits(), DeviceFormat::F32);
        assert_eq!(c.value, 16384);
        assert!(!c.at_full_scale);
        // 1.0 is one step beyond the largest positive 16-bit value: clipped and counted.
        let c = convert_s16(1.0f32.to_bits(), DeviceFormat::F32);
        assert_eq!((c.value, c.at_full_scale), (32767, true));
        let c = convert_s16((-1.0f32).to_bits(), DeviceFormat::F32);
        assert_eq!((c.value, c.at_full_scale), (-32768, true));
        let c = convert_s24(2.5f32.to_bits(), DeviceFormat::F32);
        assert_eq!((c.value, c.at_full_scale), ((1 << 23) - 1, true));
        // Round half away from zero: 1.5 LSB -> 2, -1.5 LSB -> -2.
        let c = convert_s16((1.5f32 / 32768.0).to_bits(), DeviceFormat::F32);
        assert_eq!(c.value, 2);
        let c = convert_s16((-1.5f32 / 32768.0).to_bits(), DeviceFormat::F32);
        assert_eq!(c.value, -2);
        let c = convert_s24(f32::NAN.to_bits(), DeviceFormat::F32);
        assert_eq!((c.value, c.at_full_scale), (0, false));
    }

    #[test]
    fn rounding_matches_round_half_away_from_zero_for_any_float() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let check = |f: f32| {
            for (scale, min, max) in [
                (I16_SCALE, -32768, 32767),
                (I24_SCALE, -(1 << 23), (1 << 23) - 1),
            ] {
                let want = (f64::from(f) * scale)
                    .round()
                    .clamp(f64::from(min), f64::from(max));
                let (got, _) = float_to_int(f, scale, min, max);
                assert_eq!(f64::from(got), want, "{f:e} at scale {scale}");
            }
        };
        for edge in [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            1e-30,
            -1e-30,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ] {
            check(edge);
        }
        for k in -70_000i32..70_000 {
            // Every half step around the 16- and 24-bit grids.
            check(k as f32 / 65536.0);
            check(k as f32 / 16_777_216.0);
        }
        for _ in 0..2_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f32::from_bits(x as u32);
            if !f.is_nan() {
                check(f);
            }
        }
    }

    #[test]
    fn integer_narrowing_drops_low_bits() {
        let w = 0x1234_5678u32;
        assert_eq!(convert_s24(w, DeviceFormat::I32).value, 0x12_3456);
        assert_eq!(convert_s16(w, DeviceFormat::I32).value, 0x1234);
        assert_eq!(convert_s16((-256i32) as u32, DeviceFormat::I24).value, -1);
    }

    #[test]
    fn chunk_conversion_is_the_per_sample_conversion_for_every_format_pair() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let channels = 5;
        let mut words: Vec<u32> = (0..channels * 4000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u32
            })
            .collect();
        // Audio-like floats, full scale, beyond it and the odd ones, in inputs 2 and 3; every
        // half step of the 16- and 24-bit grids in input 4.
        let specials = [
            0.5f32,
            -0.5,
            1.0,
            -1.0,
            1.5,
            -2.0,
            0.0,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e-30,
            -1e-40,
            f32::MAX,
            f32::MIN,
            0.499_999_97,
            -0.499_999_97,
            1.0 - 1.0 / 16_777_216.0,
        ];
        for (i, f) in specials.iter().enumerate() {
            words[i * channels + 2] = f.to_bits();
        }
        for k in specials.len()..2000 {
            words[k * channels + 3] = ((k as f32 - 1000.0) / 999.0).to_bits();
        }
        for k in 0..4000 {
            let half = (k as f32 - 2000.0) + 0.5;
            let grid = if k % 2 == 0 { 32768.0 } else { 8_388_608.0 };
            words[k * channels + 4] = (half / grid).to_bits();
        }
        for dev in DeviceFormat::ALL {
            for file in FileFormat::ALL {
                let mut converted = words.clone();
                let mut conv = ChunkConverter::new(channels, dev, file);
                // In two chunks, to see the levels carried across.
                let (first, second) = converted.split_at_mut(1000 * channels);
                conv.convert(first);
                conv.convert(second);
                for input in 0..channels {
                    let samples = words.iter().skip(input).step_by(channels).copied();
                    let (mut want, mut peak, mut clipped) = (Vec::new(), 0f32, 0u64);
                    for w in samples {
                        let (bytes, m, fs) = match file {
                            FileFormat::S16 => {
                                let c = convert_s16(w, dev);
                                (c.value.to_le_bytes().to_vec(), c.magnitude, c.at_full_scale)
                            }
                            FileFormat::S24 => {
                                let c = convert_s24(w, dev);
                                (
                                    c.value.to_le_bytes()[..3].to_vec(),
                                    c.magnitude,
                                    c.at_full_scale,
                                )
                            }
                            FileFormat::F32 => {
                                let c = convert_f32(w, dev);
                                (c.value.to_le_bytes().to_vec(), c.magnitude, c.at_full_scale)
                            }
                        };
                        want.extend(bytes);
                        peak = peak.max(m);
                        clipped += u64::from(fs);
                    }
                    let mut out = vec![0u8; words.len() * 4];
                    let n = pack_track(&converted, channels, input, file, &mut out);
                    assert!(out[..n] == want[..], "{dev} -> {file}, input {input}");
                    assert_eq!(
                        conv.level(input),
                        TrackLevel { peak, clipped },
                        "{dev} -> {file}, input {input}"
                    );
                }
                conv.reset();
                assert_eq!(conv.level(0), TrackLevel::default());
            }
        }
    }

    #[test]
    fn the_vector_rounding_is_the_reference_rounding_for_any_float() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let check = |f: f32| {
            for (scale, min, max) in [
                (32768.0, -32768, 32767),
                (8_388_608.0, -(1 << 23), (1 << 23) - 1),
            ] {
                let want = float_to_int(f, f64::from(scale), min, max).0;
                assert_eq!(
                    float_to_int_exact(f, scale, min, max),
                    want,
                    "{f:e} at {scale}"
                );
            }
        };
        for k in -70_000i32..70_000 {
            check(k as f32 / 65536.0);
            check(k as f32 / 16_777_216.0);
        }
        for _ in 0..2_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            check(f32::from_bits(x as u32));
        }
    }

    #[test]
    fn dbfs_of_half_scale() {
        let db = dbfs(0.5).unwrap_or(0.0);
        assert!((db + 6.0206).abs() < 1e-3);
        assert_eq!(dbfs(0.0), None);
        assert_eq!(dbfs_rounded(0.5), Some(-6.02));
    }
}
