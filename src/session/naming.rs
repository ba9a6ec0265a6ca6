//! Names that become files and folders: validated when a person typed them, sanitised when
//! they only need to be safe, so that every name works on Linux, macOS and Windows.

/// Longest track-name part of a file name, in characters.
const MAX_FILE_NAME_PART: usize = 48;
const MAX_SESSION_NAME: usize = 100;
const WINDOWS_FORBIDDEN: &[char] = &['<', '>', ':', '"', '/', '\\', '|', '?', '*'];
const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Checks a track name as typed: it must have a visible character and no control characters.
/// (Its file-name form is made by `file_part`.)
pub(crate) fn check_track_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("a track name cannot be empty".into());
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "track name {name:?} contains control characters; use letters, digits, spaces and punctuation"
        ));
    }
    if name.chars().count() > 200 {
        return Err("a track name can be at most 200 characters".into());
    }
    if file_part(name).is_empty() {
        return Err(format!(
            "track name {name:?} has no letters or digits to name its file with; add some"
        ));
    }
    Ok(())
}

/// The form of a track name used in file names: letters and digits (any script) kept,
/// `-`, `_`, `+` and `.` kept inside, everything else (spaces, separators, punctuation)
/// turned into single dashes, at most 48 characters.
pub(crate) fn file_part(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c.is_alphanumeric() || matches!(c, '_' | '+') || (c == '.' && !out.is_empty()) {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
        if out.chars().count() >= MAX_FILE_NAME_PART {
            break;
        }
    }
    // Trailing dots are not allowed on Windows.
    while out.ends_with('.') {
        out.pop();
    }
    out
}

/// The file name of a track in a take, e.g. `03_Bass-DI_T002.wav`.
pub(crate) fn track_file_name(track: u16, name: &str, take: u32) -> String {
    format!("{track:02}_{}_T{take:03}.wav", file_part(name))
}

/// The name of part `part` (2, 3, ...) of a track file split in parts: the first part's name
/// with `_partNNN` before the extension, e.g. `01_Kick_T003_part002.wav`. Three digits keep
/// the parts in order when sorted by name (a `.` sorts before `_`, so the first part leads).
pub(crate) fn part_file_name(first: &str, part: u32) -> String {
    let (stem, ext) = match first.rfind('.') {
        Some(i) => first.split_at(i),
        None => (first, ""),
    };
    format!("{stem}_part{part:03}{ext}")
}

/// The folder of a take, e.g. `take-002`.
pub(crate) fn take_folder(take: u32) -> String {
    format!("take-{take:03}")
}

/// Checks a session name given on the command line; it becomes a folder name as is.
pub(crate) fn check_session_name(name: &str) -> Result<(), String> {
    let what = |why: &str| {
        Err(format!(
            "session name {name:?} {why}; use letters, digits, spaces, '-' or '_'"
        ))
    };
    if name.trim().is_empty() {
        return what("is empty");
    }
    if name.chars().count() > MAX_SESSION_NAME {
        return what("is longer than 100 characters");
    }
    if name.chars().any(char::is_control) {
        return what("contains control characters");
    }
    if let Some(c) = name.chars().find(|c| WINDOWS_FORBIDDEN.contains(c)) {
        return what(&format!(
            "contains {c:?}, which is not allowed in folder names"
        ));
    }
    if name.starts_with('.') {
        return what("starts with '.'");
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return what("ends with '.' or a space");
    }
    let stem = name
        .split('.')
        .next()
        .unwrap_or(name)
        .trim()
        .to_ascii_uppercase();
    if WINDOWS_RESERVED.contains(&stem.as_str()) {
        return what("is a reserved device name on Windows");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_say_track_name_and_take() {
        assert_eq!(track_file_name(3, "Bass DI", 2), "03_Bass-DI_T002.wav");
        assert_eq!(
            track_file_name(12, "Vox (lead)", 10),
            "12_Vox-lead_T010.wav"
        );
        assert_eq!(take_folder(7), "take-007");
    }

    #[test]
    fn unsafe_characters_never_reach_a_file_name() {
        for (name, want) in [
            ("../../etc/passwd", "etc-passwd"),
            ("a/b\\c", "a-b-c"),
            ("Gtr: L?*", "Gtr-L"),
            ("  spaced   out  ", "spaced-out"),
            ("Überbaß Ωmega", "Überbaß-Ωmega"),
            ("..hidden", "hidden"),
            ("end.", "end"),
        ] {
            assert_eq!(file_part(name), want, "{name}");
        }
        let long = "x".repeat(500);
        assert_eq!(file_part(&long).chars().count(), 48);
    }

    #[test]
    fn bad_track_names_are_refused() {
        assert!(check_track_name("").is_err());
        assert!(check_track_name("   ").is_err());
        assert!(check_track_name("a\u{0}b").is_err());
        assert!(check_track_name("tab\there").is_err());
        assert!(check_track_name("///").is_err());
        assert!(check_track_name("Bass DI").is_ok());
    }

    #[test]
    fn bad_session_names_are_refused() {
        for bad in [
            "", "..", "../x", "a/b", "C:", "nul", "x.", ".hidden", "a\nb",
        ] {
            assert!(check_session_name(bad).is_err(), "{bad:?}");
        }
        for good in ["Song 1", "2026-11-25_20-15-03", "Gig at Joe's", "Übung"] {
            assert!(check_session_name(good).is_ok(), "{good:?}");
        }
    }
}
