//! The control socket: a running recorder (screen, headless or `--serve`) answers on a Unix
//! socket in newline-delimited JSON, so that scripts (`tapedeck ctl`), `tapedeck take` and
//! `tapedeck attach` drive it from another process. docs/control.md is the reference.
//!
//! - `protocol`: the requests, replies and pushed messages, and their parsing;
//! - `client`: the blocking client every tapedeck command that talks to a recorder uses;
//! - `path`: where sockets live and the rules for that folder;
//! - `server`, `peer`: the recorder's side (one acceptor, a reader and a writer per client).

pub mod client;
pub mod path;
pub(crate) mod peer;
pub mod protocol;
pub(crate) mod server;

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

pub use client::Client;
pub use protocol::{PROTOCOL_VERSION, Pushed, Reply, Request, Subscription, Verb};

/// Exit status when no recorder could be reached (`ctl`).
pub const EXIT_UNREACHABLE: i32 = 3;

/// What went wrong talking to a recorder, or setting up its socket.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No recorder answers there (none running, a stale socket, no permission).
    #[error("{0}")]
    Unreachable(String),
    /// Several recorders run and none was chosen.
    #[error("{0}")]
    Ambiguous(String),
    /// The recorder answered with an error.
    #[error("{0}")]
    Refused(String),
    /// The connection went away.
    #[error("{0}")]
    Lost(String),
    /// The recorder said something this client does not understand.
    #[error("{0}")]
    Protocol(String),
    /// The socket could not be set up (recorder side).
    #[error("{0}")]
    Setup(String),
}

impl ControlError {
    pub(crate) fn unreachable(path: &Path, e: &std::io::Error) -> Self {
        let start = "; start one with `tapedeck record --serve`";
        let (why, then) = match e.kind() {
            std::io::ErrorKind::NotFound => ("no such socket".to_string(), start),
            std::io::ErrorKind::ConnectionRefused => (
                "nobody answers (the recorder that made it has ended)".to_string(),
                start,
            ),
            std::io::ErrorKind::PermissionDenied => (
                "permission denied (the socket belongs to another user: run this as that user)"
                    .to_string(),
                "",
            ),
            _ => (e.to_string(), ""),
        };
        Self::Unreachable(format!(
            "no recorder reachable at {}: {why}{then}",
            path.display()
        ))
    }

    pub(crate) fn lost(path: &Path, e: &std::io::Error) -> Self {
        Self::Lost(format!(
            "the connection to the recorder at {} failed: {e}",
            path.display()
        ))
    }

    /// `ctl`'s exit status for it: 3 no recorder reachable, 2 a choice to make, 1 refused.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Unreachable(_) | Self::Lost(_) => EXIT_UNREACHABLE,
            Self::Ambiguous(_) => crate::error::EXIT_USAGE,
            _ => crate::error::EXIT_RUNTIME,
        }
    }
}

impl From<ControlError> for crate::error::Error {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::Ambiguous(m) => Self::Usage(m),
            other => Self::Runtime(other.to_string()),
        }
    }
}

/// The socket of a running recorder in the default folder: the one of `session`; without
/// one, the only recorder running (several: an error listing them; none: an error saying
/// how to start one). Sockets nobody answers on (left by a crash) are passed over.
pub fn find_socket(session: Option<&str>) -> Result<PathBuf, ControlError> {
    find_socket_in(&path::socket_dir(), session)
}

/// `find_socket` in a given folder.
pub fn find_socket_in(dir: &Path, session: Option<&str>) -> Result<PathBuf, ControlError> {
    let how = "start one with `tapedeck record --serve` (or any `tapedeck record`), or give its socket with --socket";
    if let Some(s) = session {
        let p = dir.join(format!("{s}{}", path::SOCKET_SUFFIX));
        return match UnixStream::connect(&p) {
            Ok(_) => Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let others: Vec<String> = live_sockets(dir)
                    .iter()
                    .map(|p| path::session_of(p))
                    .collect();
                let running = if others.is_empty() {
                    String::new()
                } else {
                    format!(" (running: {})", others.join(", "))
                };
                Err(ControlError::Unreachable(format!(
                    "no recorder is running for session {s:?}{running}; {how}"
                )))
            }
            Err(e) => Err(ControlError::unreachable(&p, &e)),
        };
    }
    let live = live_sockets(dir);
    match live.as_slice() {
        [] => Err(ControlError::Unreachable(format!(
            "no recorder is running (no socket in {}); {how}",
            dir.display()
        ))),
        [one] => Ok(one.clone()),
        several => Err(ControlError::Ambiguous(format!(
            "{} recorders are running: {}; choose one with --session NAME",
            several.len(),
            several
                .iter()
                .map(|p| format!("{} ({})", path::session_of(p), p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn live_sockets(dir: &Path) -> Vec<PathBuf> {
    path::sockets_in(dir)
        .into_iter()
        .filter(|p| UnixStream::connect(p).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn the_finder_takes_the_one_running_recorder_and_names_the_choices_otherwise() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = find_socket_in(dir.path(), None).expect_err("none");
        assert!(matches!(none, ControlError::Unreachable(_)));
        assert!(
            none.to_string().contains("no recorder is running"),
            "{none}"
        );
        assert_eq!(none.exit_code(), EXIT_UNREACHABLE);

        let a = dir.path().join("gig.sock");
        let _la = UnixListener::bind(&a).expect("bind");
        // A socket left by a recorder that died: nobody listens.
        drop(UnixListener::bind(dir.path().join("old.sock")).expect("bind"));
        assert_eq!(find_socket_in(dir.path(), None).ok(), Some(a.clone()));
        assert_eq!(
            find_socket_in(dir.path(), Some("gig")).ok(),
            Some(a.clone())
        );
        let stale = find_socket_in(dir.path(), Some("old")).expect_err("stale");
        assert!(stale.to_string().contains("nobody answers"), "{stale}");
        let missing = find_socket_in(dir.path(), Some("rehearsal")).expect_err("missing");
        assert!(missing.to_string().contains("(running: gig)"), "{missing}");

        let _lb = UnixListener::bind(dir.path().join("band.sock")).expect("bind");
        let several = find_socket_in(dir.path(), None).expect_err("several");
        assert!(matches!(several, ControlError::Ambiguous(_)));
        let text = several.to_string();
        assert!(
            text.starts_with("2 recorders are running: band ("),
            "{text}"
        );
        assert!(
            text.contains("gig (") && text.ends_with("--session NAME"),
            "{text}"
        );
    }
}
