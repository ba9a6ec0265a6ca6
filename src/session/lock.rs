//! One recorder per session at a time: `record` holds an exclusive lock on
//! `<session>/.tapedeck.lock` while it runs, so that `recover` (or a second `record`) never
//! touches a take that is still being recorded. The lock is the kernel's (flock), so it goes
//! away by itself when the process dies, however it dies.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

pub const FILE_NAME: &str = ".tapedeck.lock";

pub struct SessionLock {
    _file: File,
}

#[derive(Debug)]
pub enum LockError {
    /// Another process holds the session.
    Busy,
    Io(io::Error),
}

impl SessionLock {
    /// Takes the lock without waiting.
    pub fn acquire(session_dir: &Path) -> Result<Self, LockError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(session_dir.join(FILE_NAME))
            .map_err(LockError::Io)?;
        // SAFETY: flock on a descriptor we own.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            Ok(Self { _file: file })
        } else {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                Err(LockError::Busy)
            } else {
                Err(LockError::Io(e))
            }
        }
    }
}

/// Whether some process holds the session's lock now.
pub fn is_locked(session_dir: &Path) -> bool {
    if !session_dir.join(FILE_NAME).exists() {
        return false;
    }
    matches!(SessionLock::acquire(session_dir), Err(LockError::Busy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_goes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = SessionLock::acquire(dir.path()).ok();
        assert!(first.is_some());
        assert!(matches!(
            SessionLock::acquire(dir.path()),
            Err(LockError::Busy)
        ));
        assert!(is_locked(dir.path()));
        drop(first);
        assert!(SessionLock::acquire(dir.path()).is_ok());
    }
}
