//! Rewrites a file's iXML chunk in place: the take's verdict (`CIRCLED`, `NO_GOOD`) and its
//! `NOTE`, set after the take was recorded.
//!
//! The writer gives every file a fixed-size iXML chunk padded with spaces, in the first page
//! of the file, before the audio. An update replaces the chunk's body with the new text padded
//! to the same size, in one positioned write inside the chunk and nothing else: the audio, the
//! chunk sizes and every other chunk stay byte for byte as they were. A text that no longer
//! fits is refused, never written past the chunk.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::bwf::xml_escape;

/// Chunks further into the file than this are not looked for: the metadata tapedeck writes
/// sits in the first page, and other programs put theirs before the audio too.
const SEARCH_LIMIT: u64 = 1 << 20;

/// The verdict as iXML carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IxmlTriage {
    /// `<CIRCLED>`: `None` removes the element (no verdict).
    pub circled: Option<bool>,
    /// `<NO_GOOD>`: `None` removes the element.
    pub no_good: Option<bool>,
    /// `<NOTE>`: `None` removes the element.
    pub note: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IxmlUpdateError {
    #[error("cannot update {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{} has no iXML chunk before its audio (it was not written by tapedeck); the verdict is kept in session.json only",
        path.display()
    )]
    NoChunk { path: PathBuf },
    #[error(
        "{} has no room in its iXML chunk for this note ({need} bytes needed, {room} available); shorten the note",
        path.display()
    )]
    NoRoom {
        path: PathBuf,
        need: usize,
        room: usize,
    },
    #[error("{}: its iXML chunk is not a BWFXML document; the verdict is kept in session.json only", path.display())]
    NotIxml { path: PathBuf },
}

/// Where the iXML chunk's body lies in a file: (offset, size).
pub fn find_ixml(file: &File) -> io::Result<Option<(u64, u32)>> {
    let len = file.metadata()?.len();
    let mut head = [0u8; 12];
    file.read_exact_at(&mut head, 0)?;
    if !(matches!(&head[0..4], b"RIFF" | b"RF64" | b"BW64") && &head[8..12] == b"WAVE") {
        return Ok(None);
    }
    let mut at = 12u64;
    while at + 8 <= len.min(SEARCH_LIMIT) {
        let mut h = [0u8; 8];
        file.read_exact_at(&mut h, at)?;
        let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        match &h[0..4] {
            b"iXML" if at + 8 + u64::from(size) <= len => return Ok(Some((at + 8, size))),
            // The audio comes after every chunk tapedeck can update.
            b"data" => return Ok(None),
            _ => at += 8 + u64::from(size) + u64::from(size & 1),
        }
    }
    Ok(None)
}

/// Reads a file's iXML text (padding removed).
pub fn read_ixml(path: &Path) -> Result<Option<String>, IxmlUpdateError> {
    let io_err = |source| IxmlUpdateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let Some((at, size)) = find_ixml(&file).map_err(io_err)? else {
        return Ok(None);
    };
    let mut body = vec![0u8; size as usize];
    file.read_exact_at(&mut body, at).map_err(io_err)?;
    let text = String::from_utf8_lossy(&body);
    Ok(Some(text.trim_end_matches([' ', '\0']).to_string()))
}

/// A file's iXML update, checked and ready to write.
#[derive(Debug)]
pub struct PreparedIxml {
    path: PathBuf,
    file: File,
    at: u64,
    /// The whole new body, padded to the chunk's size; `None` when nothing changes.
    body: Option<Vec<u8>>,
}

/// Reads `path`'s iXML and builds the body with the verdict set, without writing anything:
/// every file of a change can be checked before the first one is touched.
pub fn prepare_ixml(path: &Path, triage: &IxmlTriage) -> Result<PreparedIxml, IxmlUpdateError> {
    let io_err = |source| IxmlUpdateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err)?;
    let Some((at, size)) = find_ixml(&file).map_err(io_err)? else {
        return Err(IxmlUpdateError::NoChunk {
            path: path.to_path_buf(),
        });
    };
    let mut body = vec![0u8; size as usize];
    file.read_exact_at(&mut body, at).map_err(io_err)?;
    let old = String::from_utf8_lossy(&body);
    let text = with_triage(old.trim_end_matches([' ', '\0']), triage).ok_or_else(|| {
        IxmlUpdateError::NotIxml {
            path: path.to_path_buf(),
        }
    })?;
    if text.len() > body.len() {
        return Err(IxmlUpdateError::NoRoom {
            path: path.to_path_buf(),
            need: text.len(),
            room: body.len(),
        });
    }
    let mut new = text.into_bytes();
    new.resize(body.len(), b' ');
    Ok(PreparedIxml {
        path: path.to_path_buf(),
        file,
        at,
        body: (new != body).then_some(new),
    })
}

impl PreparedIxml {
    /// Writes the new body over the old one (one positioned write inside the chunk; for
    /// tapedeck's files it lies in the first page) and forces it to disk.
    pub fn write(self) -> Result<(), IxmlUpdateError> {
        let Some(body) = self.body else { return Ok(()) };
        let io_err = |source| IxmlUpdateError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all_at(&body, self.at).map_err(io_err)?;
        self.file.sync_data().map_err(io_err)
    }
}

/// Sets the verdict in `path`'s iXML, in place, and forces it to disk.
pub fn update_ixml(path: &Path, triage: &IxmlTriage) -> Result<(), IxmlUpdateError> {
    prepare_ixml(path, triage)?.write()
}

/// The elements this module owns, in the order they are written.
const OWNED: [&str; 3] = ["CIRCLED", "NO_GOOD", "NOTE"];

/// `xml` with the verdict's elements replaced (added before `</BWFXML>`); `None` when the
/// document has no `</BWFXML>`.
pub fn with_triage(xml: &str, triage: &IxmlTriage) -> Option<String> {
    let mut out = xml.to_string();
    for name in OWNED {
        out = without_element(&out, name);
    }
    let end = out.rfind("</BWFXML>")?;
    let flag = |b: bool| if b { "TRUE" } else { "FALSE" };
    let mut add = String::new();
    if let Some(c) = triage.circled {
        add.push_str(&format!("  <CIRCLED>{}</CIRCLED>\n", flag(c)));
    }
    if let Some(n) = triage.no_good {
        add.push_str(&format!("  <NO_GOOD>{}</NO_GOOD>\n", flag(n)));
    }
    if let Some(note) = &triage.note {
        add.push_str(&format!("  <NOTE>{}</NOTE>\n", xml_escape(note)));
    }
    out.insert_str(end, &add);
    Some(out)
}

/// `xml` without any `<name>...</name>` or `<name/>` element, each with its own line's
/// indentation and line end.
fn without_element(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let empty = format!("<{name}/>");
    let close = format!("</{name}>");
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    loop {
        let found = [
            rest.find(&open).map(|i| (i, &close)),
            rest.find(&empty).map(|i| (i, &empty)),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|(i, _)| *i);
        let Some((start, ender)) = found else {
            out.push_str(rest);
            return out;
        };
        let Some(end) = rest[start..]
            .find(ender.as_str())
            .map(|e| start + e + ender.len())
        else {
            out.push_str(rest);
            return out;
        };
        // Take the indentation before it and the line end after it along.
        let line_start = rest[..start].trim_end_matches([' ', '\t']).len();
        let whole_line = line_start == 0 || rest[..line_start].ends_with('\n');
        let (cut_from, cut_to) = if whole_line {
            let after = &rest[end..];
            let nl = if after.starts_with("\r\n") {
                2
            } else {
                usize::from(after.starts_with('\n'))
            };
            (line_start, end + nl)
        } else {
            (start, end)
        };
        out.push_str(&rest[..cut_from]);
        rest = &rest[cut_to..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "<?xml version=\"1.0\"?>\n<BWFXML>\n  <TAKE>3</TAKE>\n</BWFXML>\n";

    #[test]
    fn sets_replaces_and_removes_the_verdict() {
        let t = IxmlTriage {
            circled: Some(true),
            no_good: Some(false),
            note: Some("best <vocal> & bass".into()),
        };
        let once = with_triage(DOC, &t).expect("bwfxml");
        assert_eq!(
            once,
            "<?xml version=\"1.0\"?>\n<BWFXML>\n  <TAKE>3</TAKE>\n  <CIRCLED>TRUE</CIRCLED>\n  <NO_GOOD>FALSE</NO_GOOD>\n  <NOTE>best &lt;vocal&gt; &amp; bass</NOTE>\n</BWFXML>\n"
        );
        // Applying again changes nothing; clearing gives the document back.
        assert_eq!(with_triage(&once, &t).as_deref(), Some(once.as_str()));
        assert_eq!(
            with_triage(&once, &IxmlTriage::default()).as_deref(),
            Some(DOC)
        );
        let other = "<BWFXML><NOTE/><TAKE>1</TAKE><CIRCLED>TRUE</CIRCLED></BWFXML>";
        assert_eq!(
            with_triage(other, &IxmlTriage::default()).as_deref(),
            Some("<BWFXML><TAKE>1</TAKE></BWFXML>")
        );
        assert_eq!(with_triage("<x/>", &t), None);
    }
}
