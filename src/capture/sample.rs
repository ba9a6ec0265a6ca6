//! Device samples as ring words: the ring keeps every bit of what the device delivered, and the
//! writer, which knows the device format, converts exactly.

use crate::format::DeviceFormat;

/// A device sample type the callback accepts. The ring word keeps every bit of the sample.
pub trait CaptureSample: cpal::SizedSample + Copy + Send + 'static {
    const DEVICE_FORMAT: DeviceFormat;
    /// The word of a negative zero, silence as much as 0 is (f32's -0.0; none for integers).
    const NEGATIVE_ZERO: u32 = 0;
    fn to_word(self) -> u32;
    /// The sample as a cue sample (full scale 1.0), for monitoring: exact for 16 and 24 bits
    /// and for floats.
    fn to_cue(self) -> f32;
}

impl CaptureSample for i16 {
    const DEVICE_FORMAT: DeviceFormat = DeviceFormat::I16;
    #[inline]
    fn to_word(self) -> u32 {
        i32::from(self) as u32
    }
    #[inline]
    fn to_cue(self) -> f32 {
        f32::from(self) / 32_768.0
    }
}

impl CaptureSample for cpal::I24 {
    const DEVICE_FORMAT: DeviceFormat = DeviceFormat::I24;
    #[inline]
    fn to_word(self) -> u32 {
        self.inner() as u32
    }
    #[inline]
    fn to_cue(self) -> f32 {
        self.inner() as f32 / 8_388_608.0
    }
}

impl CaptureSample for i32 {
    const DEVICE_FORMAT: DeviceFormat = DeviceFormat::I32;
    #[inline]
    fn to_word(self) -> u32 {
        self as u32
    }
    #[inline]
    fn to_cue(self) -> f32 {
        (f64::from(self) / 2_147_483_648.0) as f32
    }
}

impl CaptureSample for f32 {
    const DEVICE_FORMAT: DeviceFormat = DeviceFormat::F32;
    const NEGATIVE_ZERO: u32 = 0x8000_0000;
    #[inline]
    fn to_word(self) -> u32 {
        self.to_bits()
    }
    #[inline]
    fn to_cue(self) -> f32 {
        self
    }
}

/// Converts device samples into ring words, as many as `dst` has room for. A plain loop over
/// the samples, which the compiler runs on vectors.
pub(crate) fn convert<T: CaptureSample>(data: &[T], dst: &mut [u32]) {
    for (d, s) in dst.iter_mut().zip(data) {
        *d = s.to_word();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_every_bit_of_the_sample() {
        let mut w = [0u32; 3];
        convert(&[-1i16, i16::MIN, 7], &mut w);
        assert_eq!(w, [u32::MAX, 0xFFFF_8000, 7]);
        convert(&[cpal::I24::new_unchecked(-8_388_608)], &mut w[..1]);
        assert_eq!(w[0], 0xFF80_0000);
        convert(&[-0.0f32, 1.5, f32::NAN], &mut w);
        assert_eq!(
            w,
            [(-0.0f32).to_bits(), 1.5f32.to_bits(), f32::NAN.to_bits()]
        );
        assert_eq!(<f32 as CaptureSample>::NEGATIVE_ZERO, (-0.0f32).to_bits());
    }
}
