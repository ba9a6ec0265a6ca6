//! A DAWproject file (version 1.0): a zip holding `project.xml`, `metadata.xml` and, when the
//! audio is copied, the audio. One track per track; under it one lane (`Clips`) per take, the
//! takes that do not play disabled (`enable="false"`); markers for take starts, the takes'
//! markers and dropouts (the format has no ranges: a dropout is a marker at its start, its
//! length in its name). Times are in seconds (`timeUnit="seconds"`), written as the shortest
//! decimals that read back to the sample. The cue's gain, pan and mute become the channel's
//! volume, pan and mute.
//!
//! Audio referenced in place or hard-linked beside the file is `external="true"` (an absolute
//! path, or `audio/NAME` relative to the .dawproject); copied audio is stored in the zip under
//! `audio/`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::media::{self, Refer};
use super::model::{MarkerKind, Project};
use super::text::{seconds, xml};
use super::{ExportError, ExportReport, Media};

/// Where audio goes, inside the zip or beside it.
const AUDIO_DIR: &str = "audio";

/// Writes the .dawproject at `file` (and, for `Media::Link`, the linked audio beside it).
pub(crate) fn write(
    project: &Project,
    how: Media,
    dest: &Path,
    file: &Path,
) -> Result<ExportReport, ExportError> {
    // Each session file: (path in the project, external, the entry to store in the zip).
    let mut refs: BTreeMap<PathBuf, (String, bool)> = BTreeMap::new();
    let mut stored: Vec<(PathBuf, String)> = Vec::new();
    let mut report_audio = Vec::new();
    let mut written = vec![file.to_path_buf()];
    let mut warnings = Vec::new();
    let media_words;
    match how {
        Media::Reference | Media::Link => {
            let placed = media::place(project, how, dest, Path::new(AUDIO_DIR), Refer::Relative)?;
            for (source, text) in &placed.refs {
                refs.insert(source.clone(), (text.clone(), true));
            }
            report_audio = placed.audio;
            written.extend(placed.written);
            warnings = placed.warnings;
            media_words = placed.how;
        }
        Media::Copy => {
            for (source, name) in media::unique_names(project) {
                let entry = format!("{AUDIO_DIR}/{name}");
                refs.insert(source.clone(), (entry.clone(), false));
                report_audio.push(PathBuf::from(&entry));
                stored.push((source, entry));
            }
            media_words = format!(
                "{} file(s) stored in {} under {AUDIO_DIR}/",
                stored.len(),
                file.display()
            );
        }
    }
    let project_xml = project_xml(project, &refs);
    let metadata_xml = metadata_xml(project);
    write_zip(file, &project_xml, &metadata_xml, &stored)?;
    verify_zip(file, &stored)?;
    Ok(ExportReport {
        project_file: file.to_path_buf(),
        files_written: written,
        audio: report_audio,
        clips: project.clips(),
        tracks: project.tracks.len(),
        markers: project.markers.len(),
        media: media_words,
        warnings,
    })
}

fn zip_error(file: &Path, e: zip::result::ZipError) -> ExportError {
    ExportError::io(
        format!("cannot write {}", file.display()),
        io::Error::other(e.to_string()),
    )
}

fn write_zip(
    file: &Path,
    project_xml: &str,
    metadata_xml: &str,
    stored: &[(PathBuf, String)],
) -> Result<(), ExportError> {
    let cannot = |e| ExportError::io(format!("cannot write {}", file.display()), e);
    let out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .map_err(cannot)?;
    let mut zip = ZipWriter::new(out);
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for (name, text) in [("project.xml", project_xml), ("metadata.xml", metadata_xml)] {
        zip.start_file(name, options)
            .map_err(|e| zip_error(file, e))?;
        zip.write_all(text.as_bytes()).map_err(cannot)?;
    }
    for (source, entry) in stored {
        let mut from = fs::File::open(source)
            .map_err(|e| ExportError::io(format!("cannot read {}", source.display()), e))?;
        let len = from
            .metadata()
            .map_err(|e| ExportError::io(format!("cannot read {}", source.display()), e))?
            .len();
        // Past 4 GiB an entry needs the zip64 fields.
        let options = options.large_file(len >= u64::from(u32::MAX));
        zip.start_file(entry.as_str(), options)
            .map_err(|e| zip_error(file, e))?;
        io::copy(&mut from, &mut zip).map_err(cannot)?;
    }
    let out = zip.finish().map_err(|e| zip_error(file, e))?;
    out.sync_all().map_err(cannot)
}

/// Every stored file is in the zip at its original's size.
fn verify_zip(file: &Path, stored: &[(PathBuf, String)]) -> Result<(), ExportError> {
    let cannot = |e| ExportError::io(format!("cannot read back {}", file.display()), e);
    let mut zip =
        ZipArchive::new(fs::File::open(file).map_err(cannot)?).map_err(|e| zip_error(file, e))?;
    for (source, entry) in stored {
        let size = zip.by_name(entry).map_err(|e| zip_error(file, e))?.size();
        let original = fs::metadata(source).map_err(cannot)?.len();
        if size != original {
            return Err(ExportError::io(
                format!(
                    "{entry} in {} holds {size} bytes, its original {} {original}",
                    file.display(),
                    source.display()
                ),
                io::Error::other("the copy is incomplete"),
            ));
        }
    }
    Ok(())
}

/// XML ids, `id1`, `id2`, ... (an XML ID cannot start with a digit).
struct Ids(u32);

impl Ids {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("id{}", self.0)
    }
}

fn project_xml(project: &Project, refs: &BTreeMap<PathBuf, (String, bool)>) -> String {
    let rate = project.rate;
    let secs = |f: u64| seconds(f, rate);
    let mut ids = Ids(0);
    let master = ids.next();
    let mut structure = String::new();
    let mut lanes = String::new();
    for t in &project.tracks {
        let track = ids.next();
        let comment = t
            .role
            .as_deref()
            .map(|r| format!(r#" comment="role: {}""#, xml(r)))
            .unwrap_or_default();
        let gain = 10f64.powf(t.cue.gain_db / 20.0);
        let pan = (t.cue.pan.clamp(-1.0, 1.0) + 1.0) / 2.0;
        let _ = write!(
            structure,
            r#"    <Track contentType="audio" loaded="true" id="{track}" name="{}"{comment}>
      <Channel audioChannels="{}" destination="{master}" role="regular" solo="false" id="{}">
        <Mute value="{}" id="{}" name="Mute"/>
        <Pan max="1" min="0" unit="normalized" value="{pan}" id="{}" name="Pan"/>
        <Volume max="2" min="0" unit="linear" value="{gain}" id="{}" name="Volume"/>
      </Channel>
    </Track>
"#,
            xml(&t.name),
            t.channels,
            ids.next(),
            t.cue.mute,
            ids.next(),
            ids.next(),
            ids.next()
        );
        let _ = writeln!(
            lanes,
            r#"      <Lanes track="{track}" id="{}">"#,
            ids.next()
        );
        // One lane per take; a take split in parts has one clip per part, back to back.
        for (k, c) in t.clips.iter().enumerate() {
            let first_of_take = k == 0 || t.clips[k - 1].take != c.take;
            let last_of_take = t.clips.get(k + 1).is_none_or(|n| n.take != c.take);
            if first_of_take {
                let _ = writeln!(
                    lanes,
                    r#"        <Clips id="{}" name="Take {}">"#,
                    ids.next(),
                    c.take
                );
            }
            let (path, external) = refs.get(&c.source).cloned().unwrap_or_default();
            let external = if external { r#" external="true""# } else { "" };
            let _ = write!(
                lanes,
                r#"          <Clip time="{}" duration="{}" contentTimeUnit="seconds" playStart="{}" playStop="{}" fadeTimeUnit="seconds" fadeInTime="0" fadeOutTime="0" enable="{}" name="{}">
            <Audio channels="{}" sampleRate="{rate}" duration="{}" timeUnit="seconds" id="{}">
              <File path="{}"{external}/>
            </Audio>
          </Clip>
"#,
                secs(c.position),
                secs(c.frames),
                secs(c.offset),
                secs(c.offset + c.frames),
                c.take == t.active,
                xml(&format!("{} T{:03}", t.name, c.take)),
                c.channels,
                secs(c.offset + c.frames),
                ids.next(),
                xml(&path),
            );
            if last_of_take {
                lanes.push_str("        </Clips>\n");
            }
        }
        lanes.push_str("      </Lanes>\n");
    }
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n");
    x.push_str("<Project version=\"1.0\">\n");
    let _ = writeln!(
        x,
        r#"  <Application name="tapedeck" version="{}"/>"#,
        env!("CARGO_PKG_VERSION")
    );
    let _ = write!(
        x,
        r#"  <Structure>
{structure}    <Channel audioChannels="2" role="master" solo="false" id="{master}" name="Master">
      <Volume max="2" min="0" unit="linear" value="1" id="{}" name="Volume"/>
    </Channel>
  </Structure>
"#,
        ids.next()
    );
    let _ = writeln!(x, r#"  <Arrangement id="{}">"#, ids.next());
    let _ = write!(
        x,
        "    <Lanes timeUnit=\"seconds\" id=\"{}\">\n{lanes}    </Lanes>\n",
        ids.next()
    );
    if !project.markers.is_empty() {
        let _ = writeln!(x, r#"    <Markers timeUnit="seconds" id="{}">"#, ids.next());
        for m in &project.markers {
            let name = match (m.kind, m.length) {
                (MarkerKind::Dropout, Some(len)) => {
                    format!("{} until {} s", m.name, secs(m.frame + len))
                }
                _ => m.name.clone(),
            };
            let _ = writeln!(
                x,
                r#"      <Marker time="{}" name="{}"/>"#,
                secs(m.frame),
                xml(&name)
            );
        }
        x.push_str("    </Markers>\n");
    }
    x.push_str("  </Arrangement>\n</Project>\n");
    x
}

fn metadata_xml(project: &Project) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<MetaData>\n  \
         <Title>{}</Title>\n  <Comment>Recorded with tapedeck {}: {} Hz</Comment>\n</MetaData>\n",
        xml(&project.name),
        env!("CARGO_PKG_VERSION"),
        project.rate
    )
}
