//! A place on the song timeline as people type it: `1:23`, `1:23.5`, `0:01:23`, `83s`,
//! `1m23s`, `83` (seconds) or `3984000f` (frames, exact).

/// A typed song position, turned into frames once the rate is known.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SongTime {
    Seconds(f64),
    Frames(u64),
}

impl SongTime {
    pub fn frames(self, rate: u32) -> u64 {
        match self {
            Self::Frames(f) => f,
            Self::Seconds(s) => (s * f64::from(rate)).round() as u64,
        }
    }
}

/// Parses a song position; the error says how to write one.
pub fn parse(s: &str) -> Result<SongTime, String> {
    let bad = || {
        format!(
            "cannot read the time {s:?}; write it like 1:23, 1:23.5, 0:01:23, 83s, 1m23s or 3984000f (frames)"
        )
    };
    let t = s.trim();
    if let Some(frames) = t.strip_suffix('f') {
        return frames.parse().map(SongTime::Frames).map_err(|_| bad());
    }
    if t.contains(':') {
        let parts: Vec<&str> = t.split(':').collect();
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        let (last, whole) = parts.split_last().ok_or_else(bad)?;
        let secs: f64 = last.parse().map_err(|_| bad())?;
        if !(0.0..60.0).contains(&secs) {
            return Err(bad());
        }
        let mut total = 0u64;
        for (i, p) in whole.iter().enumerate() {
            let n: u64 = p.parse().map_err(|_| bad())?;
            // Minutes under hours stay below 60.
            if i > 0 && n >= 60 {
                return Err(bad());
            }
            total = total * 60 + n;
        }
        return Ok(SongTime::Seconds(total as f64 * 60.0 + secs));
    }
    if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(SongTime::Seconds(secs));
        }
        return Err(bad());
    }
    crate::duration::parse(t)
        .map(|d| SongTime::Seconds(d.as_secs_f64()))
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_of_writing_a_time_reads() {
        let f = |s: &str| parse(s).map(|t| t.frames(48_000));
        assert_eq!(f("1:23"), Ok(83 * 48_000));
        assert_eq!(f("1:23.5"), Ok(83 * 48_000 + 24_000));
        assert_eq!(f("0:01:23"), Ok(83 * 48_000));
        assert_eq!(f("1:00:00"), Ok(3600 * 48_000));
        assert_eq!(f("83s"), Ok(83 * 48_000));
        assert_eq!(f("1m23s"), Ok(83 * 48_000));
        assert_eq!(f("83"), Ok(83 * 48_000));
        assert_eq!(f("0.5"), Ok(24_000));
        assert_eq!(f("0"), Ok(0));
        assert_eq!(f("3984001f"), Ok(3_984_001));
    }

    #[test]
    fn nonsense_is_refused_with_the_ways_to_write_it() {
        for s in [
            "", "x", "1:", ":5", "1:75", "1:60:00", "-3", "1:2:3:4", "12g", "f",
        ] {
            let e = parse(s).unwrap_err();
            assert!(e.contains("1:23"), "{s}: {e}");
        }
    }
}
