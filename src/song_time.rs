//! A place on the song timeline as people type it: seconds (`90`, `1.5`), `m:ss[.f]`,
//! `h:mm:ss[.f]`, a frame count (`123456f`), or a duration as `--duration` takes it (`1m30s`).
//! Seconds are kept as the decimal written, so they turn into frames exactly at any rate.

/// A place on the song timeline as the user wrote it; frames once the rate is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SongTime {
    Frames(u64),
    /// `numerator / denominator` seconds (a decimal as written: `1.5` is 15/10).
    Seconds {
        numerator: u128,
        denominator: u128,
    },
}

impl SongTime {
    pub const ZERO: Self = Self::Frames(0);

    /// The frame at `rate`, seconds rounded to the nearest frame; `None` past 2^64 frames.
    pub fn frames(self, rate: u32) -> Option<u64> {
        match self {
            Self::Frames(f) => Some(f),
            Self::Seconds {
                numerator,
                denominator,
            } => {
                let scaled = numerator.checked_mul(u128::from(rate))?;
                let den = denominator.max(1);
                u64::try_from((scaled + den / 2) / den).ok()
            }
        }
    }
}

/// `--at`: seconds with an optional fraction (`90`, `1.5`), `m:ss[.f]`, `h:mm:ss[.f]`, a frame
/// count (`123456f`), or a duration as `--duration` takes it (`1m30s`).
pub fn parse(s: &str) -> Result<SongTime, String> {
    let bad = || {
        format!(
            "cannot read time {s:?}; write seconds (90, 1.5), m:ss (1:30), h:mm:ss (1:02:03.5) or frames (123456f)"
        )
    };
    let t = s.trim();
    if let Some(frames) = t.strip_suffix('f') {
        return frames
            .parse::<u64>()
            .map(SongTime::Frames)
            .map_err(|_| bad());
    }
    if t.ends_with(['h', 'm', 's']) {
        return crate::duration::parse(t)
            .map(|d| SongTime::Seconds {
                numerator: u128::from(d.as_secs()),
                denominator: 1,
            })
            .map_err(|_| bad());
    }
    let parts: Vec<&str> = t.split(':').collect();
    if parts.len() > 3 {
        return Err(bad());
    }
    let (last, whole) = parts.split_last().ok_or_else(bad)?;
    // Hours and minutes: whole numbers; minutes and seconds after the first part below 60.
    let mut seconds: u128 = 0;
    for (i, p) in whole.iter().enumerate() {
        let v: u128 = digits(p).ok_or_else(bad)?;
        if i > 0 && v >= 60 {
            return Err(bad());
        }
        seconds = seconds
            .checked_mul(60)
            .and_then(|x| x.checked_add(v))
            .ok_or_else(bad)?;
    }
    let (int, frac) = match last.split_once('.') {
        Some((_, "")) => return Err(bad()),
        Some(split) => split,
        None => (*last, ""),
    };
    let int: u128 = digits(int).ok_or_else(bad)?;
    if !whole.is_empty() && int >= 60 {
        return Err(bad());
    }
    if frac.len() > 9 || (!frac.is_empty() && digits(frac).is_none()) {
        return Err(bad());
    }
    let denominator = 10u128.pow(frac.len() as u32);
    let frac_value = if frac.is_empty() {
        0
    } else {
        digits(frac).ok_or_else(bad)?
    };
    // `seconds` holds the minutes so far (0 without a colon).
    let numerator = seconds
        .checked_mul(60)
        .and_then(|x| x.checked_add(int))
        .and_then(|x| x.checked_mul(denominator))
        .and_then(|x| x.checked_add(frac_value))
        .ok_or_else(bad)?;
    Ok(SongTime::Seconds {
        numerator,
        denominator,
    })
}

/// A run of ASCII digits as a number (no sign, no spaces).
fn digits(s: &str) -> Option<u128> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 30 {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(s: &str) -> Option<u64> {
        parse(s).ok().and_then(|p| p.frames(48_000))
    }

    #[test]
    fn times_are_read_in_every_form() {
        assert_eq!(frames("0"), Some(0));
        assert_eq!(frames("90"), Some(90 * 48_000));
        assert_eq!(frames("1.5"), Some(72_000));
        assert_eq!(frames("1:30"), Some(90 * 48_000));
        assert_eq!(frames("0:01.25"), Some(60_000));
        assert_eq!(frames("1:02:03.5"), Some((3723 * 2 + 1) * 24_000));
        assert_eq!(frames("123456f"), Some(123_456));
        assert_eq!(frames("1m30s"), Some(90 * 48_000));
        assert_eq!(frames(" 2 "), Some(96_000));
    }

    #[test]
    fn bad_times_are_refused() {
        for bad in [
            "",
            "-1",
            "1:60",
            "1:2:3:4",
            "a",
            "1.",
            ".5x",
            "1:-1",
            "f",
            "1.5f",
            "1:02:60",
            "1,5",
            "0.1234567891",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
