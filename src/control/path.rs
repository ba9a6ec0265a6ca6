//! Where control sockets live, and the rules for that folder (tmux's): it belongs to us and
//! nobody else may look in.
//!
//! `$XDG_RUNTIME_DIR/tapedeck/<session>.sock`, or without XDG_RUNTIME_DIR
//! `/tmp/tapedeck-<uid>/<session>.sock`; `record --control-socket PATH` chooses another.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::ControlError;

/// The file name ending of a recorder's socket.
pub const SOCKET_SUFFIX: &str = ".sock";

/// The longest socket path a `sockaddr_un` holds (its `sun_path` less the final NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// Our real uid.
pub fn our_uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// The folder recorders put their sockets in, from the environment given.
pub fn socket_dir_from(xdg_runtime_dir: Option<&std::ffi::OsStr>, uid: u32) -> PathBuf {
    match xdg_runtime_dir.map(Path::new) {
        Some(d) if d.is_absolute() => d.join("tapedeck"),
        // Unset, empty or relative (the spec says to ignore a relative one).
        _ => PathBuf::from(format!("/tmp/tapedeck-{uid}")),
    }
}

/// The folder recorders put their sockets in.
pub fn socket_dir() -> PathBuf {
    socket_dir_from(std::env::var_os("XDG_RUNTIME_DIR").as_deref(), our_uid())
}

/// A session's socket in the default folder.
pub fn default_socket(session: &str) -> PathBuf {
    socket_dir().join(format!("{session}{SOCKET_SUFFIX}"))
}

/// Refuses a path too long for a Unix socket address, saying what to do.
pub fn check_length(path: &Path) -> Result<(), ControlError> {
    let len = path.as_os_str().as_bytes().len();
    if len > MAX_SOCKET_PATH {
        return Err(ControlError::Setup(format!(
            "the control socket path {} is {len} bytes long; a Unix socket path holds at most {MAX_SOCKET_PATH}: give a shorter one with --control-socket",
            path.display()
        )));
    }
    Ok(())
}

/// Makes the socket folder (mode 0700) if it is not there, and refuses one that another user
/// owns or that others may enter: anyone who could enter it could replace our socket.
pub fn ensure_private_dir(dir: &Path, uid: u32) -> Result<(), ControlError> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                ControlError::Setup(format!(
                    "cannot create the control socket folder {}: {e}",
                    dir.display()
                ))
            })?;
        // The mode given to mkdir passes through the umask: make sure.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            ControlError::Setup(format!("cannot set the mode of {}: {e}", dir.display()))
        })?;
    }
    check_private_dir(dir, uid)
}

/// The folder must be a real folder (not a link), ours, and closed to group and others.
pub fn check_private_dir(dir: &Path, uid: u32) -> Result<(), ControlError> {
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| ControlError::Setup(format!("cannot read {}: {e}", dir.display())))?;
    if !meta.is_dir() {
        return Err(ControlError::Setup(format!(
            "{} is not a folder; remove it, or give --control-socket another path",
            dir.display()
        )));
    }
    if meta.uid() != uid {
        return Err(ControlError::Setup(format!(
            "{} belongs to uid {}, not to us (uid {uid}); tapedeck will not put its control socket where someone else could replace it: remove it, or give --control-socket another path",
            dir.display(),
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ControlError::Setup(format!(
            "{} has mode {mode:03o}: others could replace the control socket in it; `chmod 700 {}`, or give --control-socket another path",
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// The recorder sockets in a folder, sorted by name.
pub fn sockets_in(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_socket()))
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(SOCKET_SUFFIX))
        })
        .collect();
    found.sort();
    found
}

/// The session a socket in the default folder belongs to (its file name less `.sock`).
pub fn session_of(socket: &Path) -> String {
    let name = socket
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.strip_suffix(SOCKET_SUFFIX)
        .unwrap_or(&name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn the_folder_follows_xdg_runtime_dir_or_falls_back_to_tmp_by_uid() {
        assert_eq!(
            socket_dir_from(Some(OsStr::new("/run/user/1000")), 1000),
            PathBuf::from("/run/user/1000/tapedeck")
        );
        assert_eq!(
            socket_dir_from(None, 1000),
            PathBuf::from("/tmp/tapedeck-1000")
        );
        assert_eq!(
            socket_dir_from(Some(OsStr::new("")), 0),
            PathBuf::from("/tmp/tapedeck-0")
        );
        assert_eq!(
            socket_dir_from(Some(OsStr::new("run/user")), 5),
            PathBuf::from("/tmp/tapedeck-5")
        );
    }

    #[test]
    fn a_path_too_long_for_sun_path_is_refused_with_what_to_do() {
        let ok = PathBuf::from(format!("/{}", "a".repeat(MAX_SOCKET_PATH - 1)));
        assert!(check_length(&ok).is_ok());
        let long = PathBuf::from(format!("/{}", "a".repeat(MAX_SOCKET_PATH)));
        let e = check_length(&long)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("is 108 bytes long"), "{e}");
        assert!(e.contains("--control-socket"), "{e}");
    }

    #[test]
    fn the_folder_is_made_private_and_a_wide_or_foreign_one_is_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        let uid = our_uid();
        let dir = root.path().join("tapedeck");
        ensure_private_dir(&dir, uid).expect("made");
        let mode = std::fs::metadata(&dir).expect("meta").mode() & 0o777;
        assert_eq!(mode, 0o700);
        // Again: it is there and fine.
        ensure_private_dir(&dir, uid).expect("kept");

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let e = ensure_private_dir(&dir, uid)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("has mode 755") && e.contains("chmod 700"), "{e}");

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let e = check_private_dir(&dir, uid.wrapping_add(1))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not to us"), "{e}");

        // A link to a private folder is not the folder.
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).expect("symlink");
        let e = check_private_dir(&link, uid)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("is not a folder"), "{e}");
    }

    #[test]
    fn sockets_are_found_by_their_ending_and_named_after_their_session() {
        let root = tempfile::tempdir().expect("tempdir");
        let a = root.path().join("gig.sock");
        let _l = std::os::unix::net::UnixListener::bind(&a).expect("bind");
        std::fs::write(root.path().join("notes.sock"), b"not a socket").expect("write");
        let _m = std::os::unix::net::UnixListener::bind(root.path().join("other")).expect("bind");
        assert_eq!(sockets_in(root.path()), vec![a.clone()]);
        assert_eq!(session_of(&a), "gig");
    }
}
