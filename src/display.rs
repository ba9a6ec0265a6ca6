//! How times and levels read for people, in one place: `h:mm:ss`, `h:mm:ss.s`, `1h05m`, and
//! dBFS with one decimal.

/// h:mm:ss
pub(crate) fn hms(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60)
}

/// h:mm:ss.s, the tenths cut (not rounded) so that the clock never runs ahead.
pub(crate) fn clock(seconds: f64) -> String {
    let tenths = (seconds * 10.0).floor() as u64;
    format!("{}.{}", hms(tenths / 10), tenths % 10)
}

/// A song position: `clock` of `frames` at `rate`.
pub(crate) fn song_clock(frames: u64, rate: u32) -> String {
    clock(frames as f64 / f64::from(rate.max(1)))
}

/// Hours and minutes, for time left on a disk: `19h22m`.
pub(crate) fn hours_minutes(secs: u64) -> String {
    format!("{}h{:02}m", secs / 3600, (secs / 60) % 60)
}

/// A level for people: one decimal, `-inf` for silence.
pub(crate) fn dbfs_text(db: Option<f64>) -> String {
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
    fn times_read_as_clocks() {
        assert_eq!(hms(0), "0:00:00");
        assert_eq!(hms(3725), "1:02:05");
        assert_eq!(clock(0.0), "0:00:00.0");
        assert_eq!(clock(3725.55), "1:02:05.5");
        assert_eq!(hours_minutes(69_720), "19h22m");
    }

    #[test]
    fn levels_read_with_one_decimal() {
        assert_eq!(dbfs_text(Some(-0.01)), "0.0");
        assert_eq!(dbfs_text(Some(-6.02)), "-6.0");
        assert_eq!(dbfs_text(None), "-inf");
    }
}
