//! `tapedeck recover [SESSION]`: repairs takes that never finished, in one session or in every
//! session under `--dir`, and says what it found.

use std::path::{Path, PathBuf};

use crate::error::{EXIT_RUNTIME, Error};
use crate::session::manifest::FILE_NAME;
use crate::session::recover::recover;

pub(crate) fn run(session: Option<&str>, dir: &Path) -> Result<i32, Error> {
    let folders: Vec<PathBuf> = match session {
        Some(s) => vec![super::named_session(s, dir)?],
        None => {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                Error::usage(format!(
                    "cannot read --dir {}: {e}; give the folder that holds sessions",
                    dir.display()
                ))
            })?;
            let mut v: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join(FILE_NAME).exists())
                .collect();
            v.sort();
            v
        }
    };
    let mut any = false;
    let mut failed = false;
    for folder in folders {
        match recover(&folder) {
            Ok(found) if found.is_empty() => {
                if session.is_some() {
                    println!(
                        "{}: nothing to recover; every take was finished",
                        folder.display()
                    );
                }
            }
            Ok(found) => {
                any = true;
                for r in found {
                    println!(
                        "{}: take {} recovered, {} frames",
                        folder.display(),
                        r.take,
                        r.length_frames
                    );
                    for (file, res) in r.files {
                        match res {
                            Ok(frames) => println!("    {file}: {frames} frames"),
                            Err(e) => {
                                failed = true;
                                println!("    {file}: NOT USABLE: {e}")
                            }
                        }
                    }
                }
            }
            Err(e) => {
                failed = true;
                // Most messages name the folder already.
                let shown = folder.display().to_string();
                let message = e.to_string();
                if message.contains(&shown) {
                    eprintln!("tapedeck: {message}");
                } else {
                    eprintln!("tapedeck: {shown}: {message}");
                }
            }
        }
    }
    if !any && session.is_none() && !failed {
        println!("nothing to recover in {}", dir.display());
    }
    Ok(if failed { EXIT_RUNTIME } else { 0 })
}
