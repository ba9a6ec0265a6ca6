//! `--duration` values: `90s`, `10m`, `1h30m`, `1h30m15s`, or plain seconds (`90`).

use std::time::Duration;

pub(crate) fn parse(s: &str) -> Result<Duration, String> {
    let bad =
        || format!("cannot read duration {s:?}; write it like 90s, 10m, 1h30m or 45 (seconds)");
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return nonzero(Duration::from_secs(secs), s);
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut last_unit = 0u8;
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let (rank, mult) = match c {
            'h' => (1, 3600),
            'm' => (2, 60),
            's' => (3, 1),
            _ => return Err(bad()),
        };
        // Units must come in order h, m, s, each at most once.
        if num.is_empty() || rank <= last_unit {
            return Err(bad());
        }
        last_unit = rank;
        let n: u64 = num.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(bad());
    }
    nonzero(Duration::from_secs(total), s)
}

fn nonzero(d: Duration, s: &str) -> Result<Duration, String> {
    if d.is_zero() {
        Err(format!("duration {s:?} is zero; give a length such as 90s"))
    } else {
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_forms() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1h30m15s"), Ok(Duration::from_secs(5415)));
        assert_eq!(parse("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn refuses_the_rest() {
        for bad in [
            "", "s", "10x", "1m1h", "5m5m", "0", "0s", "-5s", "1.5s", "10 m", "m10",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
