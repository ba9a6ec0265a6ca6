//! What plays: each track's clip (a take's file placed on the song's timeline) and its cue
//! settings, and the gains those settings give the cue's left and right sides.
//!
//! # Pan law
//!
//! 0 dB at centre on both sides: at pan 0 each side gets the track at its gain, unchanged.
//! Panning towards one side attenuates the other side linearly, to silence at the hard
//! position, and never boosts the near side:
//!
//! ```text
//! left  = gain * min(1, 1 - pan)
//! right = gain * min(1, 1 + pan)        gain = 10^(gain_db / 20), pan in -1..=1
//! ```
//!
//! So a mono take at 0 dB, centre, reaches both sides bit for bit (16/24-bit samples and
//! floats are exact in f32 and multiplied by exactly 1.0), and the same mix is made by sox with
//! these factors: `sox -M a.wav b.wav out.wav remix 1v<left a>,2v<left b> 1v<right a>,2v<right b>`.
//! A centred track is therefore 6 dB louder in the sum of both sides than a hard-panned one
//! (the "0 dB" law of analogue consoles and of most DAWs' balance controls).
//!
//! A stereo clip keeps its two channels apart: pan is a balance control (its left channel goes
//! to the left side with the left factor, its right channel to the right side with the right
//! factor).
//!
//! Mute and solo: when any track is soloed, only soloed tracks play; a muted track never
//! plays, soloed or not.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a clip's samples are stored: little-endian, as in the WAV data chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClipFormat {
    I16,
    I24,
    I32,
    F32,
}

impl ClipFormat {
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Self::I16 => 2,
            Self::I24 => 3,
            Self::I32 | Self::F32 => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::I16 => "16-bit PCM",
            Self::I24 => "24-bit PCM",
            Self::I32 => "32-bit PCM",
            Self::F32 => "32-bit float",
        }
    }
}

/// A file the song plays: its frame k is heard at timeline frame `start + k`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clip {
    pub path: PathBuf,
    /// Timeline frame of the file's first frame.
    pub start: u64,
    /// Frames the file holds (the manifest's count; a shorter file is reported and plays what
    /// it has).
    pub frames: u64,
    /// 1 or 2.
    pub channels: u16,
    pub format: ClipFormat,
    /// Byte offset of the first sample in the file.
    pub data_offset: u64,
}

impl Clip {
    /// The clip of a probed file placed at `start`.
    pub fn from_probe(path: PathBuf, start: u64, info: &crate::wav::probe::WavInfo) -> Self {
        Self {
            path,
            start,
            frames: info.frames,
            channels: info.channels,
            format: info.format,
            data_offset: info.data_offset,
        }
    }

    /// The timeline frame just after its last frame.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.frames)
    }

    /// Bytes per frame in the file.
    pub fn block_align(&self) -> usize {
        self.format.bytes_per_sample() * usize::from(self.channels.max(1))
    }
}

/// A track's settings in the cue; they never touch the files.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cue {
    pub gain_db: f32,
    /// -1 (hard left) ..= 1 (hard right); 0 is centre.
    pub pan: f32,
    pub mute: bool,
    pub solo: bool,
}

impl Default for Cue {
    /// Unity gain, centre, neither muted nor soloed.
    fn default() -> Self {
        Self {
            gain_db: 0.0,
            pan: 0.0,
            mute: false,
            solo: false,
        }
    }
}

/// A track of the song: its number, cue, and the clip it plays (none: nothing to play yet).
#[derive(Clone, Debug, PartialEq)]
pub struct CueTrack {
    pub number: u16,
    pub cue: Cue,
    pub clip: Option<Clip>,
}

/// The factors a track's samples are multiplied by on the cue's two sides.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gains {
    pub left: f32,
    pub right: f32,
}

impl Gains {
    pub const SILENT: Gains = Gains {
        left: 0.0,
        right: 0.0,
    };

    /// The pan law above, for a track that plays.
    pub fn of(cue: &Cue) -> Self {
        let pan = if cue.pan.is_nan() {
            0.0
        } else {
            cue.pan.clamp(-1.0, 1.0)
        };
        // In f64 so that 0 dB is exactly 1.0 and -6.02 dB is as close to 0.5 as f32 allows.
        let gain = 10f64.powf(f64::from(cue.gain_db) / 20.0);
        let gain = if gain.is_finite() { gain } else { 0.0 };
        Self {
            left: (gain * f64::from((1.0 - pan).min(1.0))) as f32,
            right: (gain * f64::from((1.0 + pan).min(1.0))) as f32,
        }
    }

    pub fn is_silent(self) -> bool {
        self.left == 0.0 && self.right == 0.0
    }

    /// Packed into one word, so that both sides change together.
    pub(crate) fn to_bits(self) -> u64 {
        (u64::from(self.left.to_bits()) << 32) | u64::from(self.right.to_bits())
    }

    pub(crate) fn from_bits(bits: u64) -> Self {
        Self {
            left: f32::from_bits((bits >> 32) as u32),
            right: f32::from_bits(bits as u32),
        }
    }
}

/// Each track's gains, in the order given, with mute and solo applied across all of them.
pub fn cue_gains<'a>(cues: impl IntoIterator<Item = &'a Cue> + Clone) -> Vec<Gains> {
    let any_solo = cues.clone().into_iter().any(|c| c.solo && !c.mute);
    cues.into_iter()
        .map(|c| {
            if c.mute || (any_solo && !c.solo) {
                Gains::SILENT
            } else {
                Gains::of(c)
            }
        })
        .collect()
}

/// Each track's gains, shared between the control side (which changes them) and the reader
/// (which mixes with them, a block at a time): one word per track, so a change never needs
/// anything reallocated.
#[derive(Debug)]
pub(crate) struct GainTable(Box<[AtomicU64]>);

impl GainTable {
    pub(crate) fn new(gains: &[Gains]) -> Self {
        Self(gains.iter().map(|g| AtomicU64::new(g.to_bits())).collect())
    }

    pub(crate) fn get(&self, slot: usize) -> Gains {
        self.0.get(slot).map_or(Gains::SILENT, |g| {
            Gains::from_bits(g.load(Ordering::Relaxed))
        })
    }

    /// Stores every track's gains (a solo changes the others' too).
    pub(crate) fn set_all(&self, gains: &[Gains]) {
        for (cell, g) in self.0.iter().zip(gains) {
            cell.store(g.to_bits(), Ordering::Relaxed);
        }
    }
}

/// The song's end: the end of its last clip (muted ones too: muting does not shorten the song).
pub fn song_length(tracks: &[CueTrack]) -> u64 {
    tracks
        .iter()
        .filter_map(|t| t.clip.as_ref())
        .map(Clip::end)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(gain_db: f32, pan: f32) -> Cue {
        Cue {
            gain_db,
            pan,
            ..Cue::default()
        }
    }

    #[test]
    fn unity_centre_is_exactly_one_on_both_sides() {
        assert_eq!(
            Gains::of(&Cue::default()),
            Gains {
                left: 1.0,
                right: 1.0
            }
        );
    }

    #[test]
    fn pan_attenuates_the_far_side_linearly_and_never_boosts() {
        assert_eq!(
            Gains::of(&cue(0.0, -1.0)),
            Gains {
                left: 1.0,
                right: 0.0
            }
        );
        assert_eq!(
            Gains::of(&cue(0.0, 1.0)),
            Gains {
                left: 0.0,
                right: 1.0
            }
        );
        assert_eq!(
            Gains::of(&cue(0.0, 0.5)),
            Gains {
                left: 0.5,
                right: 1.0
            }
        );
        assert_eq!(
            Gains::of(&cue(0.0, -0.25)),
            Gains {
                left: 1.0,
                right: 0.75
            }
        );
        // Out of range and NaN are clamped / centred.
        assert_eq!(Gains::of(&cue(0.0, 7.0)), Gains::of(&cue(0.0, 1.0)));
        assert_eq!(Gains::of(&cue(0.0, f32::NAN)), Gains::of(&cue(0.0, 0.0)));
    }

    #[test]
    fn gain_is_decibels_of_amplitude() {
        let g = Gains::of(&cue(-6.0, 0.0));
        assert!((g.left - 0.501_187_2).abs() < 1e-6, "{g:?}");
        assert_eq!(g.left, g.right);
        let g = Gains::of(&cue(20.0, -0.5));
        assert!(
            (g.left - 10.0).abs() < 1e-5 && (g.right - 5.0).abs() < 1e-5,
            "{g:?}"
        );
        assert!(Gains::of(&cue(f32::NEG_INFINITY, 0.0)).is_silent());
        assert!(Gains::of(&cue(f32::NAN, 0.0)).is_silent());
    }

    #[test]
    fn solo_plays_only_soloed_tracks_and_mute_always_wins() {
        let plain = Cue::default();
        let muted = Cue {
            mute: true,
            ..plain
        };
        let solo = Cue {
            solo: true,
            ..plain
        };
        let both = Cue {
            solo: true,
            mute: true,
            ..plain
        };
        let audible = |cues: &[Cue]| -> Vec<bool> {
            cue_gains(cues).iter().map(|g| !g.is_silent()).collect()
        };
        assert_eq!(audible(&[plain, muted, plain]), [true, false, true]);
        assert_eq!(audible(&[plain, solo, muted]), [false, true, false]);
        assert_eq!(audible(&[solo, solo, plain]), [true, true, false]);
        assert_eq!(
            audible(&[both, plain]),
            [false, true],
            "a muted solo is no solo"
        );
        assert_eq!(audible(&[both, solo]), [false, true]);
        assert_eq!(audible(&[]), Vec::<bool>::new());
    }

    #[test]
    fn a_gain_table_changes_every_track_at_once() {
        let t = GainTable::new(&cue_gains(&[Cue::default(), Cue::default()]));
        assert_eq!(t.get(1), Gains::of(&Cue::default()));
        let solo = Cue {
            solo: true,
            ..Cue::default()
        };
        t.set_all(&cue_gains(&[solo, Cue::default()]));
        assert!(!t.get(0).is_silent() && t.get(1).is_silent());
        assert!(t.get(7).is_silent(), "no such track");
    }

    #[test]
    fn gains_survive_packing() {
        let g = Gains {
            left: -0.0,
            right: 1.25,
        };
        let back = Gains::from_bits(g.to_bits());
        assert_eq!(back.left.to_bits(), g.left.to_bits());
        assert_eq!(back.right, g.right);
    }

    #[test]
    fn the_song_ends_with_its_last_clip() {
        let clip = |start, frames| Clip {
            path: "x.wav".into(),
            start,
            frames,
            channels: 1,
            format: ClipFormat::I24,
            data_offset: 4096,
        };
        let tracks = vec![
            CueTrack {
                number: 1,
                cue: Cue::default(),
                clip: Some(clip(0, 100)),
            },
            CueTrack {
                number: 2,
                cue: Cue {
                    mute: true,
                    ..Cue::default()
                },
                clip: Some(clip(50, 100)),
            },
            CueTrack {
                number: 3,
                cue: Cue::default(),
                clip: None,
            },
        ];
        assert_eq!(song_length(&tracks), 150);
        assert_eq!(song_length(&tracks[2..]), 0);
    }
}
