//! One recorder per session at a time: `record` holds an exclusive lock on
//! `<session>/.tapedeck.lock` while it runs, so that `recover` (or a second `record`) never
//! touches a take that is still being recorded. The lock is the kernel's (flock), so it goes
//! away by itself when the process dies, however it dies.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::Error;

pub(crate) const FILE_NAME: &str = ".tapedeck.lock";

/// The session's lock, held while this value lives.
#[derive(Debug)]
pub(crate) struct SessionLock {
    _file: File,
}

impl SessionLock {
    /// Takes the lock without waiting. `then` says what the user can do when another
    /// tapedeck holds it ("choose another --session").
    pub(crate) fn acquire(session_dir: &Path, then: &str) -> Result<Self, Error> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(session_dir.join(FILE_NAME))
            .map_err(|e| Error::io(format!("cannot lock {}", session_dir.display()), e))?;
        // SAFETY: flock on a descriptor we own.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return Ok(Self { _file: file });
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Err(busy(session_dir, then))
        } else {
            Err(Error::io(
                format!("cannot lock {}", session_dir.display()),
                e,
            ))
        }
    }
}

/// The one message for a session another tapedeck is recording.
pub(crate) fn busy(session_dir: &Path, then: &str) -> Error {
    Error::Runtime(format!(
        "{} is being recorded by another tapedeck right now; {then}",
        session_dir.display()
    ))
}

/// Whether some process holds the session's lock now.
pub(crate) fn is_locked(session_dir: &Path) -> bool {
    if !session_dir.join(FILE_NAME).exists() {
        return false;
    }
    let Ok(file) = File::open(session_dir.join(FILE_NAME)) else {
        return false;
    };
    // SAFETY: flock on a descriptor we own; a shared lock taken here is released when `file`
    // closes at the end of this function.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    r != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_goes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = SessionLock::acquire(dir.path(), "wait").ok();
        assert!(first.is_some());
        let second = SessionLock::acquire(dir.path(), "wait for it");
        assert!(
            matches!(&second, Err(Error::Runtime(m)) if m.contains("being recorded by another tapedeck right now; wait for it")),
            "{second:?}"
        );
        assert!(is_locked(dir.path()));
        drop(first);
        assert!(!is_locked(dir.path()));
        assert!(SessionLock::acquire(dir.path(), "wait").is_ok());
    }
}
