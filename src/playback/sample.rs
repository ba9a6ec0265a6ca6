//! The cue's f32 samples in the device's format: integers rounded half away from zero and
//! clipped to their range (NaN is silence); f32 passes unchanged (a float device or server
//! takes overshoot as it is, and a float take at unity stays bit-identical).

/// A device sample type the output callback writes.
pub trait OutputSample: cpal::SizedSample + Copy + Send + 'static {
    /// Silence.
    const SILENCE: Self = <Self as cpal::Sample>::EQUILIBRIUM;
    fn from_cue(x: f32) -> Self;
    /// This sample with `x` (a cue sample) added: rounded and clipped like `from_cue`. For
    /// f32 a plain sum, so silence plus `x` is `x`, bit for bit.
    fn add_cue(self, x: f32) -> Self;
}

/// Rounds half away from zero and clips. In f64: every f32 times a power of two up to 2^31
/// is exact there.
#[inline(always)]
fn to_int(x: f32, scale: f64, min: i32, max: i32) -> i32 {
    if x.is_nan() {
        return 0;
    }
    (f64::from(x) * scale)
        .round()
        .clamp(f64::from(min), f64::from(max)) as i32
}

/// `v` plus `x` at `scale`, rounded half away from zero and clipped (NaN adds nothing).
#[inline(always)]
fn add_int(v: i32, x: f32, scale: f64, min: i32, max: i32) -> i32 {
    if x.is_nan() {
        return v;
    }
    (f64::from(v) + f64::from(x) * scale)
        .round()
        .clamp(f64::from(min), f64::from(max)) as i32
}

impl OutputSample for f32 {
    #[inline]
    fn from_cue(x: f32) -> Self {
        x
    }
    #[inline]
    fn add_cue(self, x: f32) -> Self {
        self + x
    }
}

impl OutputSample for i16 {
    #[inline]
    fn from_cue(x: f32) -> Self {
        to_int(x, 32_768.0, i32::from(i16::MIN), i32::from(i16::MAX)) as i16
    }
    #[inline]
    fn add_cue(self, x: f32) -> Self {
        add_int(
            i32::from(self),
            x,
            32_768.0,
            i32::from(i16::MIN),
            i32::from(i16::MAX),
        ) as i16
    }
}

impl OutputSample for cpal::I24 {
    #[inline]
    fn from_cue(x: f32) -> Self {
        cpal::I24::new_unchecked(to_int(x, 8_388_608.0, -8_388_608, 8_388_607))
    }
    #[inline]
    fn add_cue(self, x: f32) -> Self {
        cpal::I24::new_unchecked(add_int(self.inner(), x, 8_388_608.0, -8_388_608, 8_388_607))
    }
}

impl OutputSample for i32 {
    #[inline]
    fn from_cue(x: f32) -> Self {
        to_int(x, 2_147_483_648.0, i32::MIN, i32::MAX)
    }
    #[inline]
    fn add_cue(self, x: f32) -> Self {
        add_int(self, x, 2_147_483_648.0, i32::MIN, i32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_half_away_from_zero_and_clip() {
        assert_eq!(i16::from_cue(0.5 / 32_768.0), 1);
        assert_eq!(i16::from_cue(-0.5 / 32_768.0), -1);
        assert_eq!(i16::from_cue(0.49 / 32_768.0), 0);
        assert_eq!(i16::from_cue(1.0), i16::MAX);
        assert_eq!(i16::from_cue(-1.0), i16::MIN);
        assert_eq!(i16::from_cue(-7.0), i16::MIN);
        assert_eq!(i16::from_cue(f32::NAN), 0);
        assert_eq!(cpal::I24::from_cue(1.5).inner(), 8_388_607);
        assert_eq!(cpal::I24::from_cue(-1.0).inner(), -8_388_608);
        assert_eq!(cpal::I24::from_cue(-2.5 / 8_388_608.0).inner(), -3);
        assert_eq!(i32::from_cue(1.0), i32::MAX);
        assert_eq!(i32::from_cue(-1.0), i32::MIN);
        assert_eq!(i32::from_cue(f32::INFINITY), i32::MAX);
    }

    #[test]
    fn a_cue_sample_adds_to_what_is_there() {
        assert_eq!(0.0f32.add_cue(0.25).to_bits(), 0.25f32.to_bits());
        assert_eq!(i16::SILENCE.add_cue(3.0 / 32_768.0), 3);
        assert_eq!(100i16.add_cue(-3.0 / 32_768.0), 97);
        assert_eq!(i16::MAX.add_cue(0.5), i16::MAX);
        assert_eq!(
            cpal::I24::new_unchecked(5)
                .add_cue(2.0 / 8_388_608.0)
                .inner(),
            7
        );
        assert_eq!(i32::MIN.add_cue(-1.0), i32::MIN);
        assert_eq!(7i32.add_cue(f32::NAN), 7);
    }

    #[test]
    fn a_take_comes_back_exactly() {
        // Every 16 and 24-bit value survives the way through f32 and back.
        for v in (i32::from(i16::MIN)..=i32::from(i16::MAX)).step_by(7) {
            let x = v as f32 / 32_768.0;
            assert_eq!(i32::from(i16::from_cue(x)), v);
            assert_eq!(i32::from_cue(x), v << 16);
        }
        for v in (-8_388_608..8_388_608).step_by(997) {
            let x = v as f32 / 8_388_608.0;
            assert_eq!(cpal::I24::from_cue(x).inner(), v);
            assert_eq!(i32::from_cue(x), v << 8);
        }
        assert_eq!(f32::from_cue(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f32::from_cue(1.75), 1.75);
    }
}
