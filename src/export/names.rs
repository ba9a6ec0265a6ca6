//! Track names fitted to what each format accepts, made unique, every change reported.
//!
//! Ardour refuses a track named like one of its own ports or busses (`Master`, `Click`, ...)
//! and two tracks of one name, and turns a `:` into `-` in its port names, so that connections
//! written with the `:` miss and the track is silent. REAPER quotes a name with `"`, `'` or a
//! backtick and cannot write one holding all three. Every format is a line- or XML-based text:
//! control characters go. Names stay unique in every format, so the mixer can tell them apart.

use super::ExportFormat;
use super::model::Project;

/// Names Ardour keeps for its own routes and ports.
const ARDOUR_RESERVED: &[&str] = &[
    "Master",
    "Monitor",
    "Click",
    "Control",
    "Auditioner",
    "LTC",
    "Surround",
];

/// The name a track gets in `format`, before it is made unique.
fn fit_one(format: ExportFormat, name: &str, number: u16) -> String {
    let mut s: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match format {
        ExportFormat::Ardour => {
            s = s.replace(':', "-");
            if ARDOUR_RESERVED.contains(&s.trim()) {
                s = format!("{} (track {number})", s.trim());
            }
        }
        ExportFormat::Reaper => {
            if s.contains('"') && s.contains('\'') && s.contains('`') {
                s = s.replace('`', "'");
            }
        }
        ExportFormat::Dawproject => {}
    }
    let s = s.trim().to_string();
    if s.is_empty() {
        format!("Track {number}")
    } else {
        s
    }
}

/// Gives every track of `project` its name in `format`; returns a line for each name that
/// changed.
pub(crate) fn fit(format: ExportFormat, project: &mut Project) -> Vec<String> {
    let mut said = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    for t in &mut project.tracks {
        let base = fit_one(format, &t.session_name, t.number);
        let mut name = base.clone();
        let mut n = 1;
        while taken.iter().any(|x| x.eq_ignore_ascii_case(&name)) {
            n += 1;
            name = if n == 2 {
                format!("{base} (track {})", t.number)
            } else {
                format!("{base} ({n})")
            };
        }
        if name != t.session_name {
            let why = if base != fit_one(ExportFormat::Dawproject, &t.session_name, t.number) {
                format!("{} does not accept it as it is", format.name())
            } else {
                "another track has that name".to_string()
            };
            said.push(format!(
                "track {} {:?} is named {name:?} in the {} export: {why}",
                t.number,
                t.session_name,
                format.name()
            ));
        }
        taken.push(name.clone());
        t.name = name;
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::model::{Clip, Track};
    use crate::session::manifest::CueRecord;

    fn project(names: &[&str]) -> Project {
        let tracks = names
            .iter()
            .enumerate()
            .map(|(i, n)| Track {
                number: i as u16 + 1,
                session_name: n.to_string(),
                name: n.to_string(),
                role: None,
                channels: 1,
                cue: CueRecord::default(),
                clips: vec![Clip {
                    take: 1,
                    source: "/x.wav".into(),
                    position: 0,
                    offset: 0,
                    frames: 1,
                    channels: 1,
                }],
                active: 1,
            })
            .collect();
        Project {
            name: "s".into(),
            rate: 48_000,
            tracks,
            markers: vec![],
            length: 1,
            warnings: vec![],
        }
    }

    fn names(p: &Project) -> Vec<&str> {
        p.tracks.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn ardour_names_lose_reserved_words_colons_and_duplicates() {
        let mut p = project(&["Click", "Gtr: Amp", "Gtr- Amp", "Bass", "bass", "Master"]);
        let said = fit(ExportFormat::Ardour, &mut p);
        assert_eq!(
            names(&p),
            [
                "Click (track 1)",
                "Gtr- Amp",
                "Gtr- Amp (track 3)",
                "Bass",
                "bass (track 5)",
                "Master (track 6)"
            ]
        );
        assert_eq!(said.len(), 5, "{said:#?}");
        assert!(said[0].contains("Ardour does not accept it"), "{}", said[0]);
        assert!(
            said[2].contains("another track has that name"),
            "{}",
            said[2]
        );
    }

    #[test]
    fn other_formats_keep_names_but_not_duplicates() {
        let mut p = project(&["Click", "Gtr: Amp", "Click"]);
        let said = fit(ExportFormat::Dawproject, &mut p);
        assert_eq!(names(&p), ["Click", "Gtr: Amp", "Click (track 3)"]);
        assert_eq!(said.len(), 1);
        let mut p = project(&["a\"b'c`d"]);
        fit(ExportFormat::Reaper, &mut p);
        assert_eq!(names(&p), ["a\"b'c'd"]);
    }
}
