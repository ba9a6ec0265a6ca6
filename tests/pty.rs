//! A terminal that stops reading (a stalled SSH link) must never stall the recording: the TUI
//! blocks on its writes, the engine keeps going. Runs the real binary on a pseudo-terminal
//! whose output nobody reads for longer than the whole take.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn openpty() -> (OwnedFd, OwnedFd) {
    let mut master = -1;
    let mut slave = -1;
    let ws = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: out-pointers to two ints and a valid winsize; no name buffer or termios.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    assert_eq!(r, 0, "openpty failed");
    // SAFETY: openpty returned two fresh descriptors that we now own.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

#[test]
fn a_stalled_terminal_does_not_stall_the_take() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (master, slave) = openpty();
    let mut child = Command::new(common::bin())
        // Many tracks at a high frame rate fill the terminal's buffer within a second.
        .args([
            "demo",
            "--channels",
            "64",
            "--fps",
            "120",
            "--record",
            "--duration",
            "4s",
        ])
        .args(["--session", "stall"])
        .arg("--dir")
        .arg(tmp.path())
        .env("TERM", "xterm-256color")
        .stdin(Stdio::from(slave.try_clone().expect("dup")))
        .stdout(Stdio::from(slave.try_clone().expect("dup")))
        .stderr(Stdio::from(slave))
        .spawn()
        .expect("start tapedeck");
    // Nobody reads the terminal for longer than the take lasts.
    std::thread::sleep(Duration::from_secs(3));
    // By now the UI is blocked writing to the full terminal.
    let wchan = std::fs::read_to_string(format!("/proc/{}/wchan", child.id())).unwrap_or_default();
    assert!(
        wchan.contains("wait") || wchan.contains("tty"),
        "the UI should be blocked on the terminal, it is in {wchan:?}"
    );
    std::thread::sleep(Duration::from_secs(4));
    let manifest = tmp.path().join("stall").join("session.json");
    let m = common::read_json(&manifest);
    let take = &m["takes"][0];
    assert_eq!(
        take["state"], "complete",
        "the take did not end on time while the terminal was stalled: {m:#}"
    );
    assert_eq!(take["length_frames"].as_u64(), Some(4 * 48_000));
    assert_eq!(take["dropouts"].as_array().map(Vec::len), Some(0), "{m:#}");

    // Read again, quit, and the program ends normally.
    let mut reader = File::from(master.try_clone().expect("dup"));
    let mut writer = File::from(master);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&done);
    let drain = std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            if reader.read(&mut buf).unwrap_or(0) == 0 {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    writer.write_all(b"q").expect("send q");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "tapedeck did not quit");
        std::thread::sleep(Duration::from_millis(100));
    };
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(writer);
    let _ = drain.join();
    assert!(status.success(), "exit status {status}");
    for (_, p) in common::take_files(&tmp.path().join("stall"), take) {
        assert_eq!(common::soxi(&p).0, 4 * 48_000);
    }
}
