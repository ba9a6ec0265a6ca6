//! Mixing clips' samples into a block of the stereo cue, with each track's gains.
//!
//! The first sample to reach a side of a frame is stored, later ones added: a single track at
//! unity gain, centre, stays bit for bit what its file holds (-0.0 included), and a side no
//! track reaches stays 0.0. A side whose gain is 0 is left out altogether.

use super::block::{BLOCK_FRAMES, Block};
use super::clip::{ClipFormat, Gains};

/// A file sample as f32: integers divided by their full scale (exact for 16 and 24 bits),
/// floats as they are.
#[inline(always)]
pub fn decode(format: ClipFormat, b: &[u8]) -> f32 {
    match format {
        ClipFormat::I16 => f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0,
        ClipFormat::I24 => (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0,
        ClipFormat::I32 => {
            (f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / 2_147_483_648.0) as f32
        }
        ClipFormat::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
    }
}

/// Builds one block at a time.
pub(crate) struct Mixer {
    /// Per interleaved sample of the block: whether a track reached it yet.
    written: Box<[bool]>,
}

impl Mixer {
    pub(crate) fn new() -> Self {
        Self {
            written: vec![false; BLOCK_FRAMES * 2].into_boxed_slice(),
        }
    }

    /// Starts `block` as `frames` frames of silence.
    pub(crate) fn begin(&mut self, block: &mut Block, frames: usize) {
        block.frames = frames.min(BLOCK_FRAMES);
        block.samples[..block.frames * 2].fill(0.0);
        self.written[..block.frames * 2].fill(false);
    }

    /// Mixes whole frames of a clip (`bytes`, `channels` of `format`) into `block` from its
    /// frame `at` on.
    pub(crate) fn add(
        &mut self,
        block: &mut Block,
        at: usize,
        bytes: &[u8],
        format: ClipFormat,
        channels: usize,
        gains: Gains,
    ) {
        let size = format.bytes_per_sample();
        let align = size * channels.max(1);
        let frames = (bytes.len() / align).min(block.frames.saturating_sub(at));
        let out = &mut block.samples[at * 2..(at + frames) * 2];
        let written = &mut self.written[at * 2..(at + frames) * 2];
        // Mono feeds both sides from its one channel; stereo keeps its channels apart.
        let right_at = if channels >= 2 { size } else { 0 };
        for (side, gain, offset) in [(0, gains.left, 0), (1, gains.right, right_at)] {
            if gain == 0.0 {
                continue;
            }
            for f in 0..frames {
                let i = f * 2 + side;
                let at = f * align + offset;
                let v = decode(format, &bytes[at..at + size]) * gain;
                if written[i] {
                    out[i] += v;
                } else {
                    out[i] = v;
                    written[i] = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> Block {
        Block {
            run: 1,
            start: 0,
            frames: 0,
            samples: vec![9.0; BLOCK_FRAMES * 2].into_boxed_slice(),
        }
    }

    const UNITY: Gains = Gains {
        left: 1.0,
        right: 1.0,
    };

    #[test]
    fn one_track_at_unity_is_its_samples_exactly() {
        let mut m = Mixer::new();
        let mut b = block();
        m.begin(&mut b, 4);
        let words = [-8_388_608i32, 8_388_607, -1, 0];
        let bytes: Vec<u8> = words
            .iter()
            .flat_map(|w| w.to_le_bytes()[..3].to_vec())
            .collect();
        m.add(&mut b, 0, &bytes, ClipFormat::I24, 1, UNITY);
        for (f, w) in words.iter().enumerate() {
            let back = (f64::from(b.samples[f * 2]) * 8_388_608.0) as i32;
            assert_eq!((back, b.samples[f * 2 + 1]), (*w, b.samples[f * 2]));
        }
        // A float take's -0.0 and NaN stay what they are.
        m.begin(&mut b, 3);
        let floats = [-0.0f32, f32::NAN, 1.5];
        let bytes: Vec<u8> = floats.iter().flat_map(|x| x.to_le_bytes()).collect();
        m.add(&mut b, 0, &bytes, ClipFormat::F32, 1, UNITY);
        for (f, x) in floats.iter().enumerate() {
            assert_eq!(b.samples[f * 2].to_bits(), x.to_bits());
            assert_eq!(b.samples[f * 2 + 1].to_bits(), x.to_bits());
        }
    }

    #[test]
    fn tracks_add_with_their_gains_and_stereo_stays_apart() {
        let mut m = Mixer::new();
        let mut b = block();
        m.begin(&mut b, 4);
        let mono: Vec<u8> = [16_384i16; 2]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        // Two frames of mono, hard left at half gain, from frame 1 of the block.
        m.add(
            &mut b,
            1,
            &mono,
            ClipFormat::I16,
            1,
            Gains {
                left: 0.5,
                right: 0.0,
            },
        );
        // Stereo: left 0.25, right -0.5, at unity, frames 0..4 (the block has 4).
        let stereo: Vec<u8> = [0.25f32, -0.5]
            .repeat(5)
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        m.add(&mut b, 0, &stereo, ClipFormat::F32, 2, UNITY);
        assert_eq!(
            &b.samples[..8],
            &[0.25, -0.5, 0.5, -0.5, 0.5, -0.5, 0.25, -0.5]
        );
        // Nothing else was touched.
        assert_eq!(b.samples[8], 9.0);
        // A side no track reaches is +0.0.
        m.begin(&mut b, 2);
        m.add(
            &mut b,
            0,
            &mono,
            ClipFormat::I16,
            1,
            Gains {
                left: 0.0,
                right: 1.0,
            },
        );
        assert_eq!(b.samples[0].to_bits(), 0);
        assert_eq!(b.samples[1], 0.5);
    }

    #[test]
    fn every_format_decodes_to_full_scale() {
        assert_eq!(decode(ClipFormat::I16, &i16::MIN.to_le_bytes()), -1.0);
        assert_eq!(decode(ClipFormat::I24, &[0, 0, 0x80]), -1.0);
        assert_eq!(
            decode(ClipFormat::I24, &[0xFF, 0xFF, 0xFF]),
            -1.0 / 8_388_608.0
        );
        assert_eq!(decode(ClipFormat::I32, &i32::MIN.to_le_bytes()), -1.0);
        assert_eq!(
            decode(ClipFormat::I32, &(1i32 << 8).to_le_bytes()),
            1.0 / 8_388_608.0
        );
        assert_eq!(decode(ClipFormat::F32, &0.75f32.to_le_bytes()), 0.75);
    }
}
