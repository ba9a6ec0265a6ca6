//! Broadcast Wave metadata: the `bext` chunk (EBU Tech 3285, version 2) and the `iXML` chunk,
//! both built complete before the first sample is written.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{Datelike, NaiveDateTime, Timelike};

use crate::format::FileFormat;

/// What tapedeck writes into the bext Originator field unless told otherwise.
pub const ORIGINATOR: &str = concat!("tapedeck ", env!("CARGO_PKG_VERSION"));

/// Size of the fixed part of a bext chunk; the CodingHistory text follows it.
pub(crate) const BEXT_FIXED: usize = 602;
/// Bytes the iXML chunk keeps free (as trailing spaces) so that its text can be rewritten in
/// place, with more in it (a note, a circled flag), without moving the audio.
pub(crate) const IXML_MIN_SLACK: usize = 1024;

/// The metadata every track file carries from the moment it exists.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BwfInfo {
    /// bext Description (at most 256 bytes, cut on a UTF-8 boundary), e.g.
    /// "Bass DI - session Song 1 - take 2". Empty: the track name is used.
    pub description: String,
    /// bext Originator (at most 32 bytes). Empty: [`ORIGINATOR`].
    pub originator: String,
    /// bext OriginatorReference (at most 32 bytes): unique per take, the same on all its files.
    pub originator_reference: String,
    /// Take start, local time: bext OriginationDate `yyyy-mm-dd` and OriginationTime `hh:mm:ss`.
    pub origination: NaiveDateTime,
    /// Take start in samples since local midnight; identical for every file of the take.
    pub time_reference: u64,
    /// bext CodingHistory. Empty: built from the format (see [`coding_history`]). A missing
    /// final CR/LF is added.
    pub coding_history: String,
    /// iXML PROJECT (the session name).
    pub project: String,
    /// iXML SCENE.
    pub scene: String,
    /// iXML TAKE.
    pub take: u32,
    /// iXML TRACK_LIST/TRACK/NAME.
    pub track_name: String,
    /// iXML TRACK_LIST/TRACK/CHANNEL_INDEX: the recorder's track number (1-based).
    pub track_number: u16,
    /// iXML FILE_SET/FAMILY_UID: the same for all files of a take.
    pub family_uid: String,
    /// iXML FILE_UID: unique per file.
    pub file_uid: String,
    /// iXML FILE_SET/TOTAL_FILES.
    pub total_files: u16,
    /// iXML FILE_SET/FILE_SET_INDEX (1-based).
    pub file_index: u16,
}

impl BwfInfo {
    /// Metadata for a lone file when the caller has none: named after the file, stamped now.
    pub fn for_file(path: &Path, sample_rate: u32) -> Self {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let now = chrono::Local::now().naive_local();
        let uid = unique_id();
        Self {
            description: name.clone(),
            originator: ORIGINATOR.to_string(),
            originator_reference: uid.clone(),
            origination: now,
            time_reference: samples_since_midnight(now, sample_rate),
            coding_history: String::new(),
            project: String::new(),
            scene: String::new(),
            take: 1,
            track_name: name,
            track_number: 1,
            family_uid: uid.clone(),
            file_uid: uid,
            total_files: 1,
            file_index: 1,
        }
    }
}

impl BwfInfo {
    /// What goes into the bext Description: the description, or the track name.
    fn bext_description(&self) -> &str {
        if self.description.is_empty() {
            &self.track_name
        } else {
            &self.description
        }
    }

    fn bext_originator(&self) -> &str {
        if self.originator.is_empty() {
            ORIGINATOR
        } else {
            &self.originator
        }
    }

    /// bext OriginationDate, `yyyy-mm-dd`.
    fn origination_date(&self) -> String {
        let d = self.origination;
        format!(
            "{:04}-{:02}-{:02}",
            d.year().clamp(0, 9999),
            d.month(),
            d.day()
        )
    }

    /// bext OriginationTime, `hh:mm:ss`.
    fn origination_time(&self) -> String {
        let d = self.origination;
        format!("{:02}:{:02}:{:02}", d.hour(), d.minute(), d.second() % 60)
    }
}

/// Samples from the midnight before `t` to `t` at `sample_rate` (bext TimeReference).
pub fn samples_since_midnight(t: NaiveDateTime, sample_rate: u32) -> u64 {
    let time = t.time();
    let nanos = u128::from(time.num_seconds_from_midnight()) * 1_000_000_000
        + u128::from(time.nanosecond() % 1_000_000_000);
    (nanos * u128::from(sample_rate) / 1_000_000_000) as u64
}

/// The bext CodingHistory line for what tapedeck records, e.g.
/// `A=PCM,F=48000,W=24,M=mono,T=tapedeck 0.1.0\r\n`.
pub fn coding_history(format: FileFormat, sample_rate: u32) -> String {
    let float = if format.is_float() {
        " (IEEE float)"
    } else {
        ""
    };
    format!(
        "A=PCM,F={sample_rate},W={},M=mono,T={ORIGINATOR}{float}\r\n",
        format.bits()
    )
}

/// 32 hex digits, unique enough for FILE_UID / FAMILY_UID / OriginatorReference: time, process
/// id, a counter and the standard library's randomly keyed hasher.
pub fn unique_id() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut out = String::with_capacity(32);
    for salt in 0..2u64 {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.write_u64(n);
        h.write_u64(salt);
        let _ = write!(out, "{:016X}", h.finish());
    }
    out
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Escapes text for XML content and attributes, dropping characters XML 1.0 cannot carry.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Copies `s` (NULs removed, cut to `len` bytes on a character boundary) into a NUL-padded field.
fn put_text(out: &mut Vec<u8>, s: &str, len: usize) {
    let clean: String = s.chars().filter(|&c| c != '\0').collect();
    let t = truncate_utf8(&clean, len).as_bytes();
    out.extend_from_slice(t);
    out.resize(out.len() + (len - t.len()), 0);
}

/// The body of the bext chunk (its size is even).
pub(crate) fn bext_body(info: &BwfInfo, format: FileFormat, sample_rate: u32) -> Vec<u8> {
    let mut history = if info.coding_history.is_empty() {
        coding_history(format, sample_rate)
    } else {
        info.coding_history.replace('\0', "")
    };
    if !history.ends_with("\r\n") {
        history.push_str("\r\n");
    }
    let mut b = Vec::with_capacity(BEXT_FIXED + history.len() + 1);
    put_text(&mut b, info.bext_description(), 256);
    put_text(&mut b, info.bext_originator(), 32);
    put_text(&mut b, &info.originator_reference, 32);
    put_text(&mut b, &info.origination_date(), 10);
    put_text(&mut b, &info.origination_time(), 8);
    b.extend_from_slice(&info.time_reference.to_le_bytes()); // TimeReferenceLow, High
    b.extend_from_slice(&2u16.to_le_bytes()); // Version
    b.extend_from_slice(&[0u8; 64]); // UMID: none
    for _ in 0..5 {
        // LoudnessValue, LoudnessRange, MaxTruePeakLevel, MaxMomentaryLoudness,
        // MaxShortTermLoudness: 0x7fff = not measured.
        b.extend_from_slice(&0x7fffu16.to_le_bytes());
    }
    b.extend_from_slice(&[0u8; 180]); // Reserved
    debug_assert_eq!(b.len(), BEXT_FIXED);
    b.extend_from_slice(history.as_bytes());
    if b.len() % 2 == 1 {
        // An even chunk needs no pad byte; readers take the history as a C string.
        b.push(0);
    }
    b
}

/// The iXML document, without padding.
pub(crate) fn ixml_text(info: &BwfInfo, format: FileFormat, sample_rate: u32) -> String {
    let e = xml_escape;
    let tr = info.time_reference;
    let mut x = String::with_capacity(2048);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BWFXML>\n");
    let _ = writeln!(x, "  <IXML_VERSION>1.61</IXML_VERSION>");
    let _ = writeln!(x, "  <PROJECT>{}</PROJECT>", e(&info.project));
    let _ = writeln!(x, "  <SCENE>{}</SCENE>", e(&info.scene));
    let _ = writeln!(x, "  <TAKE>{}</TAKE>", info.take);
    let _ = writeln!(x, "  <FILE_UID>{}</FILE_UID>", e(&info.file_uid));
    x.push_str("  <SPEED>\n");
    let _ = writeln!(x, "    <FILE_SAMPLE_RATE>{sample_rate}</FILE_SAMPLE_RATE>");
    let _ = writeln!(
        x,
        "    <AUDIO_BIT_DEPTH>{}</AUDIO_BIT_DEPTH>",
        format.bits()
    );
    let _ = writeln!(
        x,
        "    <TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>{}</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>",
        tr >> 32
    );
    let _ = writeln!(
        x,
        "    <TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>{}</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>",
        tr & 0xffff_ffff
    );
    let _ = writeln!(
        x,
        "    <TIMESTAMP_SAMPLE_RATE>{sample_rate}</TIMESTAMP_SAMPLE_RATE>"
    );
    x.push_str("  </SPEED>\n  <FILE_SET>\n");
    let _ = writeln!(x, "    <TOTAL_FILES>{}</TOTAL_FILES>", info.total_files);
    let _ = writeln!(x, "    <FAMILY_UID>{}</FAMILY_UID>", e(&info.family_uid));
    let _ = writeln!(
        x,
        "    <FILE_SET_INDEX>{}</FILE_SET_INDEX>",
        info.file_index
    );
    x.push_str("  </FILE_SET>\n  <TRACK_LIST>\n    <TRACK_COUNT>1</TRACK_COUNT>\n    <TRACK>\n");
    let _ = writeln!(
        x,
        "      <CHANNEL_INDEX>{}</CHANNEL_INDEX>",
        info.track_number
    );
    x.push_str("      <INTERLEAVE_INDEX>1</INTERLEAVE_INDEX>\n");
    let _ = writeln!(x, "      <NAME>{}</NAME>", e(&info.track_name));
    x.push_str("    </TRACK>\n  </TRACK_LIST>\n  <BEXT>\n");
    let _ = writeln!(
        x,
        "    <BWF_DESCRIPTION>{}</BWF_DESCRIPTION>",
        e(truncate_utf8(info.bext_description(), 256))
    );
    let _ = writeln!(
        x,
        "    <BWF_ORIGINATOR>{}</BWF_ORIGINATOR>",
        e(truncate_utf8(info.bext_originator(), 32))
    );
    let _ = writeln!(
        x,
        "    <BWF_ORIGINATOR_REFERENCE>{}</BWF_ORIGINATOR_REFERENCE>",
        e(truncate_utf8(&info.originator_reference, 32))
    );
    let _ = writeln!(
        x,
        "    <BWF_ORIGINATION_DATE>{}</BWF_ORIGINATION_DATE>",
        info.origination_date()
    );
    let _ = writeln!(
        x,
        "    <BWF_ORIGINATION_TIME>{}</BWF_ORIGINATION_TIME>",
        info.origination_time()
    );
    let _ = writeln!(
        x,
        "    <BWF_TIME_REFERENCE_LOW>{}</BWF_TIME_REFERENCE_LOW>",
        tr & 0xffff_ffff
    );
    let _ = writeln!(
        x,
        "    <BWF_TIME_REFERENCE_HIGH>{}</BWF_TIME_REFERENCE_HIGH>",
        tr >> 32
    );
    x.push_str("    <BWF_VERSION>2</BWF_VERSION>\n  </BEXT>\n</BWFXML>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_all_five_and_drops_what_xml_cannot_carry() {
        assert_eq!(
            xml_escape(r#"a&b<c>d"e'f"#),
            "a&amp;b&lt;c&gt;d&quot;e&apos;f"
        );
        assert_eq!(xml_escape("x\u{1}\0y\tz\u{FFFF}é"), "xy\tzé");
        assert_eq!(xml_escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn truncates_on_character_boundaries() {
        assert_eq!(truncate_utf8("abc", 2), "ab");
        assert_eq!(truncate_utf8("abc", 3), "abc");
        // "é" is 2 bytes, "€" 3, "𝄞" 4.
        assert_eq!(truncate_utf8("aé", 2), "a");
        assert_eq!(truncate_utf8("€€", 5), "€");
        assert_eq!(truncate_utf8("𝄞", 3), "");
        let long = "é".repeat(200); // 400 bytes
        let mut b = Vec::new();
        put_text(&mut b, &long, 256);
        assert_eq!(b.len(), 256);
        assert_eq!(
            std::str::from_utf8(&b).expect("valid utf-8"),
            "é".repeat(128)
        );
        let odd = format!("a{}", "é".repeat(200));
        let mut b = Vec::new();
        put_text(&mut b, &odd, 256);
        assert_eq!(b[255], 0, "a half character is not written");
        assert_eq!(
            std::str::from_utf8(&b[..255]).expect("valid utf-8"),
            format!("a{}", "é".repeat(127))
        );
    }

    #[test]
    fn bext_fields_sit_where_the_spec_puts_them() {
        let info = BwfInfo {
            description: "Bass DI - session Song 1 - take 2".into(),
            originator_reference: "REF".into(),
            origination: chrono::NaiveDate::from_ymd_opt(2024, 3, 9)
                .and_then(|d| d.and_hms_opt(7, 5, 3))
                .expect("date"),
            time_reference: 0x1_0000_0002,
            ..BwfInfo::default()
        };
        let b = bext_body(&info, FileFormat::S24, 48000);
        assert_eq!(b.len() % 2, 0);
        assert!(b[..256].starts_with(b"Bass DI - session Song 1 - take 2\0"));
        assert!(b[256..288].starts_with(ORIGINATOR.as_bytes()));
        assert!(b[288..320].starts_with(b"REF\0"));
        assert_eq!(&b[320..330], b"2024-03-09");
        assert_eq!(&b[330..338], b"07:05:03");
        assert_eq!(&b[338..346], &0x1_0000_0002u64.to_le_bytes());
        assert_eq!(&b[346..348], &[2, 0]);
        assert!(b[348..412].iter().all(|&x| x == 0));
        assert_eq!(&b[412..414], &[0xff, 0x7f]);
        assert!(b[422..602].iter().all(|&x| x == 0));
        assert!(b[602..].starts_with(b"A=PCM,F=48000,W=24,M=mono,T=tapedeck "));
    }

    #[test]
    fn time_reference_counts_samples_since_midnight() {
        let t = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
            .and_then(|d| d.and_hms_milli_opt(1, 0, 0, 500))
            .expect("time");
        assert_eq!(samples_since_midnight(t, 48000), 3600 * 48000 + 24000);
        assert_ne!(unique_id(), unique_id());
        assert_eq!(unique_id().len(), 32);
    }
}
