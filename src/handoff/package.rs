//! `tapedeck handoff SESSION DEST`: one folder for the mixer. The chosen takes' files (at the
//! same places as in the session), a `session.json` listing only them, the track sheet with
//! its pictures, and the session exported for Ardour, DAWproject and REAPER under `exports/`
//! (each export's audio hard-linked to the handoff's copy: one file, so they cannot diverge);
//! then checked (every WAV readable with the frames the manifest lists, every file an export
//! refers to present) and listed with
//! sizes and SHA-256 checksums (`CHECKSUMS.sha256`, as `sha256sum -c` reads it, and
//! `FILES.txt`) before it is called done.
//!
//! The folder is built under a hidden name beside DEST and renamed to DEST only when complete
//! and checked; DEST is never overwritten (a DEST that exists, or appears meanwhile, is
//! refused), and the session is only read.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::export::{self, ExportFormat, ExportRequest, Media, TakeSelection};
use crate::session::lock;
use crate::session::manifest::{self, Manifest, TakeState};
use crate::wav::probe;

/// Which takes go into the handoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Takes {
    /// Every file marked keep or circled (a track's own mark over its take's).
    Kept,
    /// Each track's playing take (what `tapedeck play` plays).
    Playing,
    All,
}

pub struct HandoffRequest<'a> {
    pub session: &'a Path,
    pub dest: &'a Path,
    pub takes: Takes,
}

/// One file of the handoff, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Relative to the handoff folder, with `/` separators.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, Default)]
pub struct HandoffReport {
    pub dest: PathBuf,
    /// Every file in the handoff but the two lists themselves.
    pub files: Vec<Listed>,
    /// Audio files (one per chosen take's track).
    pub audio: usize,
    pub takes: Vec<u32>,
    pub warnings: Vec<String>,
}

pub const CHECKSUMS: &str = "CHECKSUMS.sha256";
pub const FILES: &str = "FILES.txt";

/// The session's files the handoff carries: (take index, file index) into the manifest.
fn choose(m: &Manifest, takes: Takes) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (ti, t) in m.takes.iter().enumerate() {
        for (fi, f) in t.tracks.iter().enumerate() {
            let chosen = match takes {
                Takes::All => true,
                Takes::Kept => t.mark_for(f.track).is_some_and(|k| k.is_kept()),
                Takes::Playing => super::sheet::playing_take(m, f.track) == Some(t.number),
            };
            if chosen {
                out.push((ti, fi));
            }
        }
    }
    out
}

/// Checks everything that can be checked before anything is created, and returns the
/// manifest of the handoff (only the chosen takes and files) and warnings.
fn plan(req: &HandoffRequest<'_>) -> Result<(Manifest, Vec<String>), Error> {
    let path = req.session.join(manifest::FILE_NAME);
    if !path.exists() {
        return Err(Error::usage(format!(
            "{} is not a tapedeck session (no {}); give a session folder",
            req.session.display(),
            manifest::FILE_NAME
        )));
    }
    if lock::is_locked(req.session) {
        return Err(lock::busy(
            req.session,
            "hand it off once the recorder has stopped",
        ));
    }
    if req.dest.exists() || req.dest.symlink_metadata().is_ok() {
        return Err(Error::usage(format!(
            "{} exists; nothing was written. Give a folder that does not exist yet",
            req.dest.display()
        )));
    }
    match req.dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) if !p.is_dir() => {
            return Err(Error::usage(format!(
                "{} does not exist; create it first, or choose another destination",
                p.display()
            )));
        }
        _ => {}
    }
    let m = Manifest::load(&path).map_err(|e| Error::Runtime(e.to_string()))?;
    let chosen = choose(&m, req.takes);
    if chosen.is_empty() {
        return Err(Error::usage(match req.takes {
            Takes::Kept => format!(
                "no take of session {:?} is marked keep or circled; mark the keepers first (`tapedeck take keep TAKE --session {}`, or `v` on the recorder's screen), or hand off with --takes playing",
                m.session,
                req.session.display()
            ),
            _ => format!(
                "session {:?} has no take to hand off; record or import one first",
                m.session
            ),
        }));
    }
    let mut warnings = Vec::new();
    let mut problems = Vec::new();
    for &(ti, fi) in &chosen {
        let t = &m.takes[ti];
        let f = &t.tracks[fi];
        match t.state {
            TakeState::Recording => {
                problems.push(format!(
                    "take {} was cut short and never repaired: run `tapedeck recover {}` first",
                    t.number,
                    req.session.display()
                ));
                continue;
            }
            TakeState::Recovered => {
                let w = format!(
                    "take {} was recovered after the recorder stopped in the middle of it ({}): listen to its end before using it",
                    t.number,
                    t.end_detail.as_deref().unwrap_or("cut short")
                );
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
            TakeState::Complete => {}
        }
        // Every part of a split take.
        for part in f.files() {
            let file = req.session.join(&part.file);
            match probe::probe(&file) {
                Ok(info) if info.frames < part.frames => problems.push(format!(
                    "{} holds {} of the {} frames session.json lists",
                    file.display(),
                    info.frames,
                    part.frames
                )),
                Ok(_) => {}
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    if !problems.is_empty() {
        problems.dedup();
        return Err(Error::Runtime(format!(
            "nothing was written; these files cannot be handed off as they are:\n  {}",
            problems.join("\n  ")
        )));
    }
    let mut out = m.clone();
    out.takes = Vec::new();
    for (ti, t) in m.takes.iter().enumerate() {
        let files: Vec<_> = chosen
            .iter()
            .filter(|(i, _)| *i == ti)
            .map(|&(_, fi)| t.tracks[fi].clone())
            .collect();
        if !files.is_empty() {
            let mut t = t.clone();
            t.tracks = files;
            out.takes.push(t);
        }
    }
    // A track whose chosen take is not in the handoff plays its newest one there.
    for tr in &mut out.tracks {
        let held = |n: u32| {
            out.takes
                .iter()
                .any(|t| t.number == n && t.tracks.iter().any(|f| f.track == tr.number))
        };
        if tr.playing_take.is_some_and(|n| !held(n)) {
            tr.playing_take = None;
        }
    }
    out.tracks.retain(|tr| {
        out.takes
            .iter()
            .any(|t| t.tracks.iter().any(|f| f.track == tr.number))
    });
    Ok((out, warnings))
}

/// Builds, checks and lists the handoff folder.
pub fn handoff(req: &HandoffRequest<'_>) -> Result<HandoffReport, Error> {
    let (m, warnings) = plan(req)?;
    let name = req
        .dest
        .file_name()
        .ok_or_else(|| Error::usage("give the handoff folder a name, e.g. ./Song1-handoff"))?
        .to_string_lossy()
        .into_owned();
    let parent = req
        .dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let work = parent.join(format!(".{name}.handoff-{}", std::process::id()));
    let built = build(req.session, &work, &m).and_then(|mut report| {
        report.warnings.extend(warnings);
        rename_no_replace(&work, req.dest).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Error::usage(format!(
                    "{} appeared while the handoff was being made; nothing was written there",
                    req.dest.display()
                ))
            } else {
                Error::io(format!("cannot create {}", req.dest.display()), e)
            }
        })?;
        report.dest = req.dest.to_path_buf();
        Ok(report)
    });
    if built.is_err() {
        // Only the folder this run made, never DEST.
        let _ = fs::remove_dir_all(&work);
    }
    built
}

fn build(session: &Path, work: &Path, m: &Manifest) -> Result<HandoffReport, Error> {
    let io_at = |what: &Path| {
        let shown = what.display().to_string();
        move |e: io::Error| Error::io(format!("cannot write {shown}"), e)
    };
    fs::create_dir(work).map_err(io_at(work))?;
    let mut report = HandoffReport::default();
    for t in &m.takes {
        report.takes.push(t.number);
        for part in t.tracks.iter().flat_map(|f| f.files()) {
            let to = work.join(&part.file);
            if let Some(dir) = to.parent() {
                fs::create_dir_all(dir).map_err(io_at(dir))?;
            }
            copy_synced(&session.join(&part.file), &to).map_err(io_at(&to))?;
            report.audio += 1;
        }
    }
    m.save(work).map_err(io_at(work))?;
    let sheet = super::sheet::write(work, m).map_err(io_at(work))?;
    report.warnings.extend(sheet.problems);
    check(work, m)?;
    report.warnings.extend(exports(work)?);
    report.files = list(work)?;
    write_lists(work, &report.files).map_err(io_at(work))?;
    Ok(report)
}

/// The folder of the exports inside the handoff.
pub const EXPORTS: &str = "exports";

/// Exports the handoff's own session (only the chosen takes) in every format, and checks that
/// every file each project refers to is there. Returns the exports' warnings.
fn exports(work: &Path) -> Result<Vec<String>, Error> {
    let mut warnings = Vec::new();
    // Absolute, so that what the exports report can be told from paths inside a container.
    let work = &fs::canonicalize(work)
        .map_err(|e| Error::io(format!("cannot resolve {}", work.display()), e))?;
    let root = work.join(EXPORTS);
    fs::create_dir(&root).map_err(|e| Error::io(format!("cannot write {}", root.display()), e))?;
    for format in [
        ExportFormat::Ardour,
        ExportFormat::Dawproject,
        ExportFormat::Reaper,
    ] {
        let dest = root.join(format.folder());
        let r = export::export(&ExportRequest {
            session: work,
            format,
            takes: TakeSelection::All,
            dest: &dest,
            media: Media::Link,
        })
        .map_err(|e| Error::Runtime(format!("the {} export failed: {e}", format.name())))?;
        for w in r.warnings {
            let w = format!("{}: {w}", format.name());
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        for a in &r.audio {
            let present = if a.is_absolute() {
                a.is_file()
            } else {
                // Audio stored inside the project's own container (a .dawproject zip).
                in_zip(&r.project_file, a)
            };
            if !present {
                return Err(Error::Runtime(format!(
                    "the {} export refers to {}, which is not in the handoff",
                    format.name(),
                    a.display()
                )));
            }
        }
    }
    Ok(warnings)
}

/// Whether the zip file `container` holds an entry `entry`.
fn in_zip(container: &Path, entry: &Path) -> bool {
    let Ok(f) = File::open(container) else {
        return false;
    };
    let Ok(mut z) = zip::ZipArchive::new(f) else {
        return false;
    };
    let name = entry.to_string_lossy().replace('\\', "/");
    z.by_name(&name).is_ok()
}

/// Copies a file and forces the copy to disk.
fn copy_synced(from: &Path, to: &Path) -> io::Result<()> {
    fs::copy(from, to)?;
    File::open(to)?.sync_all()
}

/// Every audio file of the handoff reads as WAV with the frames its manifest lists.
fn check(work: &Path, m: &Manifest) -> Result<(), Error> {
    for t in &m.takes {
        for f in t.tracks.iter().flat_map(|f| f.files()) {
            let p = work.join(&f.file);
            let info = probe::probe(&p)
                .map_err(|e| Error::Runtime(format!("the handoff's copy is not readable: {e}")))?;
            if info.frames < f.frames {
                return Err(Error::Runtime(format!(
                    "the handoff's copy {} holds {} of {} frames",
                    p.display(),
                    info.frames,
                    f.frames
                )));
            }
        }
    }
    Ok(())
}

/// Every file under `root`, sorted, with its size and SHA-256.
fn list(root: &Path) -> Result<Vec<Listed>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = fs::read_dir(&dir)
            .map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?;
        for e in entries {
            let p = e
                .map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?
                .path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            let (bytes, sha256) =
                digest(&p).map_err(|e| Error::io(format!("cannot read {}", p.display()), e))?;
            out.push(Listed {
                path: rel,
                bytes,
                sha256,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn digest(path: &Path) -> io::Result<(u64, String)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let got = f.read(&mut buf)?;
        if got == 0 {
            break;
        }
        h.update(&buf[..got]);
        n += got as u64;
    }
    let mut hex = String::with_capacity(64);
    for b in h.finalize() {
        let _ = write!(hex, "{b:02x}");
    }
    Ok((n, hex))
}

fn write_lists(work: &Path, files: &[Listed]) -> io::Result<()> {
    let mut sums = String::new();
    let mut sizes = String::from("# bytes  file  (SHA-256 of each in CHECKSUMS.sha256)\n");
    for f in files {
        let _ = writeln!(sums, "{}  {}", f.sha256, f.path);
        let _ = writeln!(sizes, "{:>12}  {}", f.bytes, f.path);
    }
    super::write_atomically(&work.join(CHECKSUMS), sums.as_bytes())?;
    super::write_atomically(&work.join(FILES), sizes.as_bytes())
}

/// Renames `from` to `to`, failing if `to` exists (a plain rename would replace an empty
/// folder).
fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    };
    let (a, b) = (c(from)?, c(to)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
