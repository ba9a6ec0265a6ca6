//! Sample formats: what the device delivers and what the files hold, and the exact conversion
//! between them. Device samples travel through the ring as raw 32-bit words so that no precision
//! is lost before the writer decides what the file gets.

use std::fmt;

/// A sample format the capture path accepts from a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

    pub fn to_cpal(self) -> cpal::SampleFormat {
        match self {
            Self::I16 => cpal::SampleFormat::I16,
            Self::I24 => cpal::SampleFormat::I24,
            Self::I32 => cpal::SampleFormat::I32,
            Self::F32 => cpal::SampleFormat::F32,
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

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Significant bits of precision the format carries (f32: its 24-bit mantissa).
    pub fn precision_bits(self) -> u32 {
        match self {
            Self::I16 => 16,
            Self::I24 | Self::F32 => 24,
            Self::I32 => 32,
        }
    }
}

impl fmt::Display for DeviceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The sample format of the files tapedeck writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
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
#[inline]
fn float_to_int(x: f32, scale: f64, min: i32, max: i32) -> (i32, bool) {
    if x.is_nan() {
        return (0, false);
    }
    let s = f64::from(x) * scale;
    // Round half away from zero without libm's `round` (a call per sample on baseline x86-64):
    // |s| + 0.5 is exact for every scaled f32 (24 significant bits, far below 2^52), so the
    // truncating cast floors it; out-of-range values saturate and are clipped below.
    let r = (s.abs() + 0.5) as i64 as f64;
    let v = if s < 0.0 { -r } else { r };
    if v >= f64::from(max) {
        (max, true)
    } else if v <= f64::from(min) {
        (min, true)
    } else {
        (v as i32, false)
    }
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

/// Level in dBFS of a magnitude relative to full scale; `None` for digital silence.
pub fn dbfs(magnitude: f32) -> Option<f64> {
    if magnitude > 0.0 && magnitude.is_finite() {
        Some(20.0 * f64::from(magnitude).log10())
    } else {
        None
    }
}

/// Formats a level for people: one decimal, `-inf` for silence.
pub fn format_dbfs(db: Option<f64>) -> String {
    match db {
        // Levels a hair under full scale would print as "-0.0".
        Some(v) if v > -0.05 => "0.0".to_string(),
        Some(v) => format!("{v:.1}"),
        None => "-inf".to_string(),
    }
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
    fn dbfs_of_half_scale() {
        let db = dbfs(0.5).unwrap_or(0.0);
        assert!((db + 6.0206).abs() < 1e-3);
        assert_eq!(dbfs(0.0), None);
        assert_eq!(format_dbfs(None), "-inf");
    }
}
