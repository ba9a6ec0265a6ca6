//! Numbers and strings as the project files write them.

/// Text for an XML attribute value or element content.
pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no way to write most control characters.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `frames` at `rate` in seconds, as the shortest decimal that reads back as the same double:
/// multiplied by the rate and rounded, it is `frames` again.
pub(crate) fn seconds(frames: u64, rate: u32) -> String {
    let s = frames as f64 / f64::from(rate);
    // `{}` prints an f64 as its shortest round-trip form.
    format!("{s}")
}

/// Ardour's superclock ticks per second (Ardour 7, format 7002).
const SUPERCLOCK_RATE: u128 = 282_240_000;

/// `frames` at `rate` in Ardour's superclock ticks, with its `a` (audio time) prefix. Exact for
/// every rate that divides 282 240 000 (all the usual ones); rounded otherwise, which Ardour
/// rounds back to the same sample.
pub(crate) fn superclock(frames: u64, rate: u32) -> String {
    let r = u128::from(rate.max(1));
    let ticks = (u128::from(frames) * SUPERCLOCK_RATE + r / 2) / r;
    format!("a{ticks}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_back_to_the_sample() {
        assert_eq!(seconds(12_345, 48_000), "0.2571875");
        for rate in [44_100u32, 48_000, 88_200, 96_000, 192_000] {
            for frames in [
                0u64,
                1,
                12_345,
                1_234_567,
                48_000 * 3600 * 5 + 7,
                u32::MAX as u64,
            ] {
                let s: f64 = seconds(frames, rate).parse().expect("a number");
                assert_eq!(
                    (s * f64::from(rate)).round() as u64,
                    frames,
                    "{frames} at {rate}"
                );
            }
        }
    }

    #[test]
    fn superclock_ticks_are_exact() {
        assert_eq!(superclock(48_000, 48_000), "a282240000");
        assert_eq!(superclock(12_345, 48_000), format!("a{}", 12_345 * 5880));
        assert_eq!(superclock(1, 44_100), "a6400");
    }

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(xml("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos; ");
    }
}
