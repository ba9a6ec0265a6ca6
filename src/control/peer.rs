//! Who is on the other end of a connection, as the kernel says (SO_PEERCRED), and whether
//! they may control this recorder: only our own uid may. The socket's mode (0600) already
//! keeps others out; this check holds even where the file's mode does not (a socket path
//! given with --control-socket on a file system that ignores modes, a mode changed by
//! hand). Root is refused too unless the recorder runs as root: a recorder belongs to the
//! user who started it, and root reaching into it by accident (sudo in the wrong shell) is
//! a mistake rather than a need; root can always `sudo -u` the owner.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

/// The uid of the process at the other end of `stream`.
pub(crate) fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`, which is that large.
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// Whether a peer of uid `peer` may control a recorder that runs as `ours`; the refusal
/// says why.
pub(crate) fn check(peer: u32, ours: u32) -> Result<(), String> {
    if peer == ours {
        return Ok(());
    }
    Err(if peer == 0 {
        format!(
            "refused: this recorder runs as uid {ours}, and root may not control another user's recorder; run the command as that user (sudo -u)"
        )
    } else {
        format!(
            "refused: this recorder runs as uid {ours}; uid {peer} may not control it (only its own user may)"
        )
    })
}

/// The uid peers must have: ours, or in fault-injection builds the one
/// TAPEDECK_TEST_CONTROL_PEER_UID names (so that a test can see a peer refused by this
/// check and not by the socket's mode).
pub(crate) fn expected_uid() -> u32 {
    #[cfg(feature = "fault-injection")]
    if let Some(uid) = std::env::var("TAPEDECK_TEST_CONTROL_PEER_UID")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return uid;
    }
    super::path::our_uid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_uid_may_control_us() {
        assert!(check(1000, 1000).is_ok());
        assert!(check(0, 0).is_ok());
        let other = check(1001, 1000).err().unwrap_or_default();
        assert!(other.contains("uid 1001 may not control it"), "{other}");
        let root = check(0, 1000).err().unwrap_or_default();
        assert!(root.contains("root may not control"), "{root}");
        assert!(check(1000, 0).is_err());
    }

    #[test]
    fn the_kernel_names_the_peer() {
        let (a, _b) = UnixStream::pair().expect("pair");
        assert_eq!(peer_uid(&a).ok(), Some(super::super::path::our_uid()));
    }
}
