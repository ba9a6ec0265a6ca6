//! Where an exported project finds its audio: the session's files in place, or copies (or
//! hard links) inside the export, each checked against its original's size.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::model::Project;
use super::{ExportError, ExportReport, Media};

/// How a project file names a copied file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refer {
    /// The file name alone (Ardour finds it in its session's audio folder).
    FileName,
    /// The path relative to the project file, with `/`.
    Relative,
}

/// The audio of an export, placed.
#[derive(Debug, Default)]
pub(crate) struct Placed {
    /// Each session file (absolute) and the text the project names it with.
    pub(crate) refs: BTreeMap<PathBuf, String>,
    pub(crate) written: Vec<PathBuf>,
    pub(crate) audio: Vec<PathBuf>,
    pub(crate) how: String,
    pub(crate) warnings: Vec<String>,
}

impl Placed {
    pub(crate) fn report(self, project: &Project, project_file: PathBuf) -> ExportReport {
        let mut files_written = vec![project_file.clone()];
        files_written.extend(self.written);
        ExportReport {
            project_file,
            files_written,
            audio: self.audio,
            clips: project.clips(),
            tracks: project.tracks.len(),
            markers: project.markers.len(),
            media: self.how,
            warnings: self.warnings,
        }
    }
}

/// Every session file the project uses, once, with a file name unique in the export: its own,
/// or its take folder's name before it where two takes hold files of one name.
pub(crate) fn unique_names(project: &Project) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    for c in project.tracks.iter().flat_map(|t| &t.clips) {
        if out.iter().any(|(p, _)| *p == c.source) {
            continue;
        }
        let file = c
            .source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "audio.wav".to_string());
        let mut name = file.clone();
        if out.iter().any(|(_, n)| *n == name) {
            let folder = c
                .source
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name = format!("{folder}_{file}");
            let mut k = 2;
            while out.iter().any(|(_, n)| *n == name) {
                name = format!("{folder}_{k}_{file}");
                k += 1;
            }
        }
        out.push((c.source.clone(), name));
    }
    out
}

/// The session file's path as a project writes it.
pub(crate) fn path_text(p: &Path) -> Result<String, ExportError> {
    p.to_str().map(str::to_string).ok_or_else(|| {
        ExportError::Refused(format!(
            "{} is not valid UTF-8, which project files cannot name; rename the folder, or \
             export with --copy",
            p.display()
        ))
    })
}

/// Places the project's audio as `media` says: referenced where it is, or copied (linked)
/// into `dest/audio_dir`.
pub(crate) fn place(
    project: &Project,
    media: Media,
    dest: &Path,
    audio_dir: &Path,
    refer: Refer,
) -> Result<Placed, ExportError> {
    let mut placed = Placed::default();
    let files = unique_names(project);
    if media == Media::Reference {
        for (source, _) in files {
            placed.refs.insert(source.clone(), path_text(&source)?);
            placed.audio.push(source);
        }
        placed.how = "referenced in place (absolute paths to the session's files)".into();
        return Ok(placed);
    }
    let dir = dest.join(audio_dir);
    fs::create_dir_all(&dir)
        .map_err(|e| ExportError::io(format!("cannot create {}", dir.display()), e))?;
    let mut linked = 0;
    let mut copied = 0;
    let mut why_not_linked = None;
    for (source, name) in files {
        let target = dir.join(&name);
        let mut done = false;
        if media == Media::Link {
            match fs::hard_link(&source, &target) {
                Ok(()) => {
                    linked += 1;
                    done = true;
                }
                Err(e) => {
                    why_not_linked.get_or_insert_with(|| e.to_string());
                }
            }
        }
        if !done {
            copy_new(&source, &target)?;
            copied += 1;
        }
        check_size(&source, &target)?;
        let text = match refer {
            Refer::FileName => name.clone(),
            Refer::Relative => {
                let rel = audio_dir.join(&name);
                path_text(&rel)?.replace('\\', "/")
            }
        };
        placed.refs.insert(source, text);
        placed.written.push(target.clone());
        placed.audio.push(target);
    }
    placed.how = match (linked, copied) {
        (0, n) => format!("{n} file(s) copied into {}", dir.display()),
        (n, 0) => format!(
            "{n} file(s) hard-linked into {} (one file each: they cannot diverge)",
            dir.display()
        ),
        (l, c) => format!(
            "{l} file(s) hard-linked and {c} copied into {}",
            dir.display()
        ),
    };
    if media == Media::Link && copied > 0 {
        placed.warnings.push(format!(
            "{copied} file(s) were copied, not linked ({}): the copies are separate files",
            why_not_linked.unwrap_or_default()
        ));
    }
    Ok(placed)
}

/// Copies `source` to `target`, which must not exist.
fn copy_new(source: &Path, target: &Path) -> Result<(), ExportError> {
    let cannot = |e| {
        ExportError::io(
            format!("cannot copy {} to {}", source.display(), target.display()),
            e,
        )
    };
    let mut from = fs::File::open(source).map_err(cannot)?;
    let mut to = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)
        .map_err(cannot)?;
    std::io::copy(&mut from, &mut to).map_err(cannot)?;
    to.sync_all().map_err(cannot)
}

/// A copy (or link) is as long as its original.
pub(crate) fn check_size(source: &Path, target: &Path) -> Result<(), ExportError> {
    let size = |p: &Path| {
        fs::metadata(p)
            .map(|m| m.len())
            .map_err(|e| ExportError::io(format!("cannot read {}", p.display()), e))
    };
    let (a, b) = (size(source)?, size(target)?);
    if a != b {
        return Err(ExportError::io(
            format!(
                "{} holds {b} bytes, its original {} {a}",
                target.display(),
                source.display()
            ),
            std::io::Error::other("the copy is incomplete"),
        ));
    }
    Ok(())
}
