//! What a session hands to the mixer: the track sheet (`sheet`, with `waveform` pictures) and
//! the handoff folder (`package`).

pub mod package;
pub mod sheet;
pub mod waveform;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use crate::engine::Event;
use crate::session::Manifest;

/// Writes `bytes` to `dest` atomically: a hidden temporary file beside it, synced, renamed
/// over `dest`, the folder synced. Readers see the old file or the new one, never a part.
pub(crate) fn write_atomically(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The process id keeps a `tapedeck sheet` and a recorder's sheet apart.
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dest)?;
    File::open(dir)?.sync_all()
}

/// Writes the track sheet off the recorder's thread (a kept take's pictures read its files,
/// which must not hold up the writer). One request at a time; a newer manifest replaces one
/// still waiting. Problems reach the front ends as warnings.
pub(crate) struct SheetWorker {
    requests: Option<Sender<(PathBuf, Manifest)>>,
    thread: Option<JoinHandle<()>>,
}

impl SheetWorker {
    pub(crate) fn spawn(events: Sender<Event>) -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tapedeck-sheet".into())
            .spawn(move || sheet_loop(&rx, &events))
            .ok();
        Self {
            requests: thread.as_ref().map(|_| tx),
            thread,
        }
    }

    /// Asks for the sheet of `manifest` to be written in `dir`.
    pub(crate) fn request(&self, dir: &Path, manifest: &Manifest) {
        if let Some(tx) = &self.requests {
            let _ = tx.send((dir.to_path_buf(), manifest.clone()));
        }
    }
}

impl Drop for SheetWorker {
    /// Writes what was asked for before the program goes on (and exits).
    fn drop(&mut self) {
        self.requests = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn sheet_loop(rx: &Receiver<(PathBuf, Manifest)>, events: &Sender<Event>) {
    while let Ok(mut job) = rx.recv() {
        // Only the newest manifest matters.
        while let Ok(newer) = rx.try_recv() {
            job = newer;
        }
        let (dir, m) = job;
        match sheet::write(&dir, &m) {
            Ok(r) => {
                for p in r.problems {
                    let _ = events.send(Event::Warning(format!("track sheet: {p}")));
                }
            }
            Err(e) => {
                let _ = events.send(Event::Warning(format!(
                    "could not write {}: {e}",
                    dir.join(sheet::FILE_NAME).display()
                )));
            }
        }
    }
}
