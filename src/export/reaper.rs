//! A REAPER project (`.RPP`, plain text): one track per track, one item per take at its exact
//! position in seconds (the shortest decimal that reads back to the sample), the takes that do
//! not play muted, fades zero; markers as markers and dropouts as regions. The cue's gain, pan
//! and mute become the track's volume, pan and mute.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use super::model::{MarkerKind, Project};
use super::text::seconds;

/// A string as REAPER quotes it: with `"`, else `'`, else a backtick (names were fitted so
/// that one of them is free).
fn quoted(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for q in ['"', '\'', '`'] {
        if !s.contains(q) {
            return format!("{q}{s}{q}");
        }
    }
    format!("\"{}\"", s.replace('"', "'"))
}

pub(crate) fn project_text(project: &Project, refs: &BTreeMap<PathBuf, String>) -> String {
    let rate = project.rate;
    let secs = |f: u64| seconds(f, rate);
    let mut x = String::new();
    let _ = writeln!(x, "<REAPER_PROJECT 0.1 \"6.0/tapedeck\" 0");
    let _ = writeln!(x, "  SAMPLERATE {rate} 0 0");
    let mut n = 0;
    for m in &project.markers {
        n += 1;
        match (m.kind, m.length) {
            (MarkerKind::Dropout, Some(len)) if len > 0 => {
                let _ = writeln!(x, "  MARKER {n} {} {} 1", secs(m.frame), quoted(&m.name));
                let _ = writeln!(x, "  MARKER {n} {} \"\" 1", secs(m.frame + len));
            }
            _ => {
                let _ = writeln!(x, "  MARKER {n} {} {} 0", secs(m.frame), quoted(&m.name));
            }
        }
    }
    for t in &project.tracks {
        let gain = 10f64.powf(t.cue.gain_db / 20.0);
        let _ = writeln!(x, "  <TRACK");
        let _ = writeln!(x, "    NAME {}", quoted(&t.name));
        let _ = writeln!(
            x,
            "    VOLPAN {gain} {} -1 -1 1",
            t.cue.pan.clamp(-1.0, 1.0)
        );
        let _ = writeln!(x, "    MUTESOLO {} 0 0", u8::from(t.cue.mute));
        let _ = writeln!(x, "    NCHAN 2");
        for c in &t.clips {
            let file = refs.get(&c.source).map_or("", String::as_str);
            let _ = writeln!(x, "    <ITEM");
            let _ = writeln!(x, "      POSITION {}", secs(c.position));
            let _ = writeln!(x, "      LENGTH {}", secs(c.frames));
            let _ = writeln!(x, "      LOOP 0");
            let _ = writeln!(x, "      FADEIN 1 0 0 1 0 0 0");
            let _ = writeln!(x, "      FADEOUT 1 0 0 1 0 0 0");
            let _ = writeln!(x, "      MUTE {} 0", u8::from(c.take != t.active));
            let _ = writeln!(
                x,
                "      NAME {}",
                quoted(&format!("{} T{:03}", t.name, c.take))
            );
            let _ = writeln!(x, "      SOFFS {}", secs(c.offset));
            let _ = writeln!(x, "      <SOURCE WAVE");
            let _ = writeln!(x, "        FILE {}", quoted(file));
            let _ = writeln!(x, "      >");
            let _ = writeln!(x, "    >");
        }
        let _ = writeln!(x, "  >");
    }
    let _ = writeln!(x, ">");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_with_a_free_quote() {
        assert_eq!(quoted("Bass DI"), "\"Bass DI\"");
        assert_eq!(quoted("12\" sub"), "'12\" sub'");
        assert_eq!(quoted("it's 12\""), "`it's 12\"`");
    }
}
