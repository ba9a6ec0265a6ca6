//! `tapedeck recover`: finds takes that never finished (the program was killed, crashed or lost
//! power while recording), repairs each file's header in place from the audio actually on disk,
//! and marks the take `recovered` in the manifest with what was found. Safe to run twice.

use std::path::Path;

use super::lock::SessionLock;
use super::manifest::{EndReason, Manifest, NoteRecord, TakeState};
use crate::error::Error;
use crate::format::FileFormat;

/// Part files of the track whose first file is `first` that exist on disk past the `listed`
/// ones the journal knows of (a recorder killed between opening a part and journaling it).
fn unlisted_parts(session_dir: &Path, first: &str, listed: usize) -> Vec<String> {
    let mut found = Vec::new();
    let mut k = listed.max(1) + 1;
    while let Ok(n) = u32::try_from(k) {
        let rel = super::naming::part_file_name(first, n);
        if !session_dir.join(&rel).exists() {
            break;
        }
        found.push(rel);
        k += 1;
    }
    found
}

/// What recovery found for one take.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecoveredTake {
    pub take: u32,
    /// Per file (relative to the session): frames found, or the reason it could not be used.
    pub files: Vec<(String, Result<u64, String>)>,
    /// Frames every file of the take has.
    pub length_frames: u64,
}

/// Repairs every unfinished take of the session in `session_dir`. The session must not be in
/// use by another tapedeck: its lock is taken (and released) here.
pub(crate) fn recover(session_dir: &Path) -> Result<Vec<RecoveredTake>, Error> {
    let manifest_path = session_dir.join(super::manifest::FILE_NAME);
    if !manifest_path.exists() {
        return Err(Error::usage(format!(
            "{} is not a tapedeck session (no session.json); give a session folder",
            session_dir.display()
        )));
    }
    let _lock = SessionLock::acquire(session_dir, "recover it after that one has stopped")?;
    let mut manifest = Manifest::load(&manifest_path).map_err(|e| Error::Runtime(e.to_string()))?;
    let found = recover_takes(session_dir, &mut manifest)?;
    if !found.is_empty() {
        manifest
            .save(session_dir)
            .map_err(|e| Error::io(format!("cannot write {}", manifest_path.display()), e))?;
    }
    Ok(found)
}

/// Repairs the unfinished takes listed in `manifest` (already loaded and locked by the caller)
/// and updates it; the caller saves it.
pub(crate) fn recover_takes(
    session_dir: &Path,
    manifest: &mut Manifest,
) -> Result<Vec<RecoveredTake>, Error> {
    FileFormat::parse(&manifest.format).ok_or_else(|| {
        Error::Runtime(format!(
            "the manifest names an unknown format {:?}",
            manifest.format
        ))
    })?;
    let mut found = Vec::new();
    let now = super::now();
    for take in manifest
        .takes
        .iter_mut()
        .filter(|t| t.state == TakeState::Recording)
    {
        let mut files = Vec::with_capacity(take.tracks.len());
        let mut last_write = None;
        for t in &mut take.tracks {
            // Every part: those the journal lists and any the recorder opened after its last
            // journal entry. Earlier parts were finalised as they closed; repairing them again
            // changes nothing unless something did go wrong.
            let mut parts: Vec<String> = t.files().into_iter().map(|p| p.file).collect();
            parts.extend(unlisted_parts(session_dir, &t.file, parts.len()));
            let mut repaired = Vec::with_capacity(parts.len());
            let mut track_result: Result<u64, String> = Ok(0);
            for rel in &parts {
                let path = session_dir.join(rel);
                let result = crate::wav::repair(&path)
                    .map_err(|e| e.to_string())
                    .map(|r| r.frames);
                match &result {
                    Ok(frames) => {
                        repaired.push(super::manifest::PartRecord {
                            file: rel.clone(),
                            frames: *frames,
                        });
                        let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                        last_write = last_write.max(mtime);
                    }
                    // A part that cannot be used ends the track there: what follows it
                    // would play in the wrong place.
                    Err(e) => {
                        track_result = Err(e.clone());
                        break;
                    }
                }
            }
            let frames: u64 = repaired.iter().map(|p| p.frames).sum();
            t.frames = frames;
            t.parts = if parts.len() > 1 {
                repaired.clone()
            } else {
                Vec::new()
            };
            if track_result.is_ok() {
                track_result = Ok(frames);
            }
            // The whole report, from the audio on disk (read once, as for the peak before),
            // one across the parts; into the bext loudness fields too, which the writer never
            // got to fill.
            let paths: Vec<_> = repaired.iter().map(|p| session_dir.join(&p.file)).collect();
            match crate::levels::file::measure_files(&paths) {
                Ok(r) if track_result.is_ok() => {
                    let l = r.levels();
                    t.peak_dbfs = l.sample_peak_dbfs;
                    t.clipped_samples = l.clipped_samples;
                    for path in &paths {
                        let _ = crate::wav::write_bext_loudness(
                            path,
                            &crate::levels::bext_loudness(&l),
                        );
                    }
                    t.levels = Some(l);
                }
                _ => t.levels = None,
            }
            if track_result.is_err() && repaired.is_empty() {
                t.frames = 0;
            }
            files.push((t.file.clone(), track_result));
        }
        let length = take.tracks.iter().map(|t| t.frames).min().unwrap_or(0);
        take.state = TakeState::Recovered;
        take.length_frames = length;
        take.length_seconds = length as f64 / f64::from(take.sample_rate.max(1));
        take.end_reason = Some(EndReason::Interrupted);
        take.ended_at = Some(
            last_write
                .map(|t| chrono::DateTime::<chrono::Local>::from(t).fixed_offset())
                .unwrap_or(now),
        );
        let problems: Vec<String> = files
            .iter()
            .filter_map(|(f, r)| r.as_ref().err().map(|e| format!("{f}: {e}")))
            .collect();
        take.end_detail = Some(if problems.is_empty() {
            "recovered: file headers repaired from the audio on disk".to_string()
        } else {
            format!("recovered, with unusable files: {}", problems.join("; "))
        });
        found.push(RecoveredTake {
            take: take.number,
            files,
            length_frames: length,
        });
    }
    for r in &found {
        manifest.notes.push(NoteRecord::new(
            now,
            Some(r.take),
            format!(
                "take {} had not been finished; its files were repaired ({} frames each at least)",
                r.take, r.length_frames
            ),
        ));
    }
    if !found.is_empty() {
        manifest.updated = now;
    }
    Ok(found)
}
