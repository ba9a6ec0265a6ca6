//! Level reports: each file's sample peak, true peak, loudness (EBU R 128, by the `ebur128`
//! crate), RMS, DC offset, clipping and noise floor.
//!
//! A recorded take is measured as it is written, by a thread of its own fed from the writer
//! (`worker`), never by reading the files again; an imported or recovered file is measured as
//! it is read (`file`). The figures go into the manifest (`Levels`) and into each file's bext
//! loudness fields (`crate::wav::BextLoudness`).

pub mod file;
pub mod meter;
pub mod worker;

pub use meter::LevelMeter;

use crate::format::FileFormat;
use crate::session::manifest::Levels;
use crate::wav::BextLoudness;

/// How a file's samples are held, as words: integers as their i32 value, floats as the f32's
/// bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Signed integers of this many bits (16, 24 or 32); full scale is 2^(bits−1). The
    /// largest and smallest values count as clipped.
    Int(u32),
    /// 32-bit float, full scale 1.0; a magnitude of 1.0 or more counts as clipped.
    Float,
}

impl Encoding {
    /// The sample as a fraction of full scale, and whether it is clipped. A NaN is silence.
    #[inline(always)]
    pub fn decode(self, w: u32) -> (f64, bool) {
        match self {
            Self::Int(bits) => {
                let v = w as i32;
                let full = (1u64 << (bits - 1)) as f64;
                let max = ((1i64 << (bits - 1)) - 1) as i32;
                let min = (-(1i64 << (bits - 1))) as i32;
                (f64::from(v) / full, v == max || v == min)
            }
            Self::Float => {
                let x = f32::from_bits(w);
                if x.is_nan() {
                    (0.0, false)
                } else {
                    let x = f64::from(x);
                    (x, x.abs() >= 1.0)
                }
            }
        }
    }
}

impl From<FileFormat> for Encoding {
    fn from(f: FileFormat) -> Self {
        if f.is_float() {
            Self::Float
        } else {
            Self::Int(u32::from(f.bits()))
        }
    }
}

/// Why a file could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum LevelsError {
    #[error("loudness cannot be measured on {0} channels (1 to 64)")]
    Channels(usize),
    #[error("loudness cannot be measured at {0} Hz")]
    Rate(u32),
}

/// A meter's figures, unrounded: magnitudes as fractions of full scale.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub frames: u64,
    pub sample_peak: f64,
    pub true_peak: f64,
    pub integrated_lufs: Option<f64>,
    pub loudness_range_lu: Option<f64>,
    pub max_momentary_lufs: Option<f64>,
    pub max_short_term_lufs: Option<f64>,
    pub mean_square: f64,
    pub dc_offset: f64,
    pub clipped_samples: u64,
    pub longest_clipped_run: u64,
    pub quietest_second_mean_square: Option<f64>,
}

/// `v` rounded to `places` decimals the way printf's `%.Nf` does (the nearest decimal to the
/// exact binary value): the figures then read exactly as sox and ffmpeg print theirs.
pub fn round_as_printed(v: f64, places: usize) -> f64 {
    format!("{v:.places$}").parse().unwrap_or(v)
}

/// 20·log10 of a magnitude, None for silence.
fn db(magnitude: f64) -> Option<f64> {
    (magnitude > 0.0 && magnitude.is_finite()).then(|| 20.0 * magnitude.log10())
}

impl Report {
    /// The manifest's report: levels in dB to hundredths, the DC offset to millionths (as
    /// sox prints them).
    pub fn levels(&self) -> Levels {
        let r2 = |v: Option<f64>| v.map(|v| round_as_printed(v, 2));
        Levels {
            sample_peak_dbfs: r2(db(self.sample_peak)),
            true_peak_dbtp: r2(db(self.true_peak)),
            integrated_lufs: r2(self.integrated_lufs),
            loudness_range_lu: r2(self.loudness_range_lu),
            rms_dbfs: r2(db(self.mean_square.sqrt())),
            dc_offset: round_as_printed(self.dc_offset, 6),
            clipped_samples: self.clipped_samples,
            longest_clipped_run: self.longest_clipped_run,
            noise_floor_dbfs: r2(self.quietest_second_mean_square.and_then(|m| db(m.sqrt()))),
            max_momentary_lufs: r2(self.max_momentary_lufs),
            max_short_term_lufs: r2(self.max_short_term_lufs),
        }
    }
}

/// The bext loudness fields (EBU Tech 3285 version 2) for a level report.
pub fn bext_loudness(l: &Levels) -> BextLoudness {
    BextLoudness {
        loudness_value: l.integrated_lufs,
        loudness_range: l.loudness_range_lu,
        max_true_peak_level: l.true_peak_dbtp,
        max_momentary_loudness: l.max_momentary_lufs,
        max_short_term_loudness: l.max_short_term_lufs,
    }
}

#[cfg(test)]
mod tests;
