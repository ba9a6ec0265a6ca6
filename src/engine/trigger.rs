//! Record on signal (`--trigger`): the decision, sample by sample, of when a take starts and
//! ends. The writer shows it every frame of the capture (ring words, before conversion) with
//! the armed inputs; it answers where the level was first crossed and where the silence after
//! the last loud frame has lasted long enough. Pure: unit tests feed it plain words.

use crate::format::DeviceFormat;

/// What `--trigger` and `--trigger-silence` ask for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TriggerConfig {
    /// A sample of this magnitude or more on any armed input starts a take (dBFS, below 0).
    pub(crate) level_dbfs: f64,
    /// A take ends after this many frames below the level on every armed input.
    pub(crate) silence_frames: u64,
}

/// Where the trigger stands, as front ends show it.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TriggerView {
    /// No `--trigger`.
    #[default]
    Off,
    /// Listening for the level to be crossed.
    Waiting,
    /// A take the trigger started is being recorded.
    Recording,
}

/// What the signal has just decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// The level was crossed at this stream frame.
    Start { crossing: u64 },
    /// The silence after the last loud frame has lasted long enough at this stream frame: a
    /// take started by the trigger ends here (exclusive), the last loud frame plus the silence.
    Stop { at: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Waiting,
    Loud { last_loud: u64 },
}

pub(super) struct Trigger {
    cfg: TriggerConfig,
    format: DeviceFormat,
    /// The level as a magnitude of the device's samples (full scale 1.0).
    level: f32,
    phase: Phase,
}

impl Trigger {
    pub(super) fn new(cfg: TriggerConfig, format: DeviceFormat) -> Self {
        Self {
            level: 10f64.powf(cfg.level_dbfs / 20.0) as f32,
            cfg,
            format,
            phase: Phase::Waiting,
        }
    }

    pub(super) fn config(&self) -> TriggerConfig {
        self.cfg
    }

    /// Whether the signal is loud now (a start was decided and its silence has not ended).
    #[cfg(test)]
    pub(super) fn is_loud(&self) -> bool {
        matches!(self.phase, Phase::Loud { .. })
    }

    /// Looks at `words` (whole frames of `channels` interleaved ring words, starting at stream
    /// frame `at`) on the 0-based `armed` inputs, up to the first decision. Returns the frames
    /// looked at before the decision's frame (all of them when there is none) and the
    /// decision: the caller hands those frames on, acts, and asks again with the rest.
    pub(super) fn scan(
        &mut self,
        words: &[u32],
        channels: usize,
        at: u64,
        armed: &[usize],
    ) -> (usize, Option<Decision>) {
        let channels = channels.max(1);
        let frames = words.len() / channels;
        for i in 0..frames {
            let f = at + i as u64;
            let frame = &words[i * channels..(i + 1) * channels];
            let loud = armed
                .iter()
                .filter_map(|&c| frame.get(c))
                .any(|&w| magnitude(w, self.format) >= self.level);
            match self.phase {
                Phase::Waiting if loud => {
                    self.phase = Phase::Loud { last_loud: f };
                    return (i, Some(Decision::Start { crossing: f }));
                }
                Phase::Waiting => {}
                Phase::Loud { .. } if loud => self.phase = Phase::Loud { last_loud: f },
                Phase::Loud { last_loud } => {
                    if f >= last_loud + 1 + self.cfg.silence_frames {
                        self.phase = Phase::Waiting;
                        return (i, Some(Decision::Stop { at: f }));
                    }
                }
            }
        }
        (frames, None)
    }
}

/// A ring word's magnitude, full scale 1.0 (as the meters read it).
fn magnitude(w: u32, format: DeviceFormat) -> f32 {
    match format {
        DeviceFormat::I16 => f32::from(w as i32 as i16).abs() / 32768.0,
        DeviceFormat::I24 => (w as i32 as f32).abs() / 8_388_608.0,
        DeviceFormat::I32 => (w as i32 as f32).abs() / 2_147_483_648.0,
        DeviceFormat::F32 => {
            let v = f32::from_bits(w);
            if v.is_nan() { 0.0 } else { v.abs() }
        }
    }
}

/// `--trigger`: `-40dBFS`, `-40dB` or `-40`, below 0 dBFS.
pub(crate) fn parse_level(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let number = lower
        .strip_suffix("dbfs")
        .or_else(|| lower.strip_suffix("db"))
        .unwrap_or(&lower)
        .trim();
    match number.parse::<f64>() {
        Ok(v) if (-150.0..0.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "cannot read the level {s:?}; give one below full scale, like -40dBFS or -40"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(silence: u64) -> TriggerConfig {
        TriggerConfig {
            level_dbfs: -20.0,
            silence_frames: silence,
        }
    }

    /// Two channels of f32: channel 0 as given, channel 1 loud where `other` says.
    fn frames(ch0: &[f32], ch1: &[f32]) -> Vec<u32> {
        ch0.iter()
            .zip(ch1)
            .flat_map(|(a, b)| [a.to_bits(), b.to_bits()])
            .collect()
    }

    #[test]
    fn the_first_frame_at_the_level_starts_and_the_silence_after_the_last_loud_one_stops() {
        let mut t = Trigger::new(cfg(3), DeviceFormat::F32);
        // -20 dBFS is 0.1: 0.09 stays quiet, -0.1 crosses (either sign).
        let w = frames(&[0.0, 0.09, -0.1, 0.0, 0.5, 0.0], &[0.0; 6]);
        assert_eq!(
            t.scan(&w, 2, 100, &[0, 1]),
            (2, Some(Decision::Start { crossing: 102 }))
        );
        assert!(t.is_loud());
        // The rest: loud at 104, then silence 105, 106, 107: the take ends at 108.
        assert_eq!(t.scan(&w[2 * 2..], 2, 102, &[0, 1]), (4, None));
        let quiet = frames(&[0.0; 4], &[0.0; 4]);
        assert_eq!(
            t.scan(&quiet, 2, 106, &[0, 1]),
            (2, Some(Decision::Stop { at: 108 }))
        );
        assert!(!t.is_loud());
        // Waiting again: quiet frames decide nothing.
        assert_eq!(t.scan(&quiet[2 * 2..], 2, 108, &[0, 1]), (2, None));
    }

    #[test]
    fn only_armed_inputs_count() {
        let mut t = Trigger::new(cfg(10), DeviceFormat::F32);
        let w = frames(&[0.0, 0.0, 0.0], &[0.0, 0.9, 0.0]);
        assert_eq!(t.scan(&w, 2, 0, &[0]), (3, None));
        assert_eq!(
            t.scan(&w, 2, 0, &[0, 1]),
            (1, Some(Decision::Start { crossing: 1 }))
        );
    }

    #[test]
    fn a_signal_that_never_crosses_decides_nothing() {
        let mut t = Trigger::new(cfg(1), DeviceFormat::I16);
        // 3000 / 32768 is about -20.8 dBFS.
        let w: Vec<u32> = (0..1000)
            .map(|k| {
                if k % 2 == 0 {
                    3000u32
                } else {
                    (-3000i32) as u32
                }
            })
            .collect();
        assert_eq!(t.scan(&w, 1, 0, &[0]), (1000, None));
        // 3300 is about -19.9 dBFS.
        let w = [3300u32];
        assert_eq!(
            t.scan(&w, 1, 1000, &[0]),
            (0, Some(Decision::Start { crossing: 1000 }))
        );
    }

    #[test]
    fn levels_are_read_in_the_usual_spellings() {
        assert_eq!(parse_level("-40dBFS"), Ok(-40.0));
        assert_eq!(parse_level("-40 dB"), Ok(-40.0));
        assert_eq!(parse_level("-12.5"), Ok(-12.5));
        assert!(parse_level("0").is_err());
        assert!(parse_level("6dB").is_err());
        assert!(parse_level("loud").is_err());
    }
}
