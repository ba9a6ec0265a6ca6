//! The control socket from other processes: a `--serve` recorder driven by this test (the
//! library's client) and by `tapedeck ctl`; peers of another uid refused; a hundred clients,
//! one that never reads and a stream of garbage during a take, with no dropout; `tapedeck take` through the recorder that holds the session.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::control::{Served, serve_demo};
use common::last_take;
use serde_json::{Value, json};
use tapedeck::control::protocol::{Pushed, TrackRef};
use tapedeck::control::{Client, Request, Subscription, Verb};
use tapedeck::engine::{Command, Event};

/// Pushed messages until `until` says stop or `limit` passes.
fn collect(c: &mut Client, limit: Duration, mut until: impl FnMut(&Pushed) -> bool) -> Vec<Pushed> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    while Instant::now() < deadline {
        match c.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(p)) => {
                let done = until(&p);
                got.push(p);
                if done {
                    break;
                }
            }
            Ok(None) => {}
            Err(e) => panic!("the subscriber lost the recorder: {e}"),
        }
    }
    got
}

fn notice<'a>(got: &'a [Pushed], kind: &str) -> Option<&'a Value> {
    got.iter().find_map(|p| match p {
        Pushed::Notice { kind: k, line } if k == kind => Some(line),
        _ => None,
    })
}

#[test]
fn a_serve_recorder_is_driven_from_another_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rec = serve_demo(dir.path(), "gig", &[], &[]);

    // hello says who it is.
    let mut c = rec.client();
    let h = c.hello().clone();
    assert_eq!(h.protocol, 1);
    assert_eq!(h.session, "gig");
    assert_eq!(h.front_end, "serve");
    assert_eq!(h.pid, rec.child.id());
    assert_eq!(h.sample_rate, 48_000);
    assert_eq!(
        Path::new(&h.session_dir),
        std::fs::canonicalize(&rec.session_dir).expect("canonical")
    );
    let mode = std::fs::metadata(&rec.socket)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the socket is its owner's only");

    // A subscriber of everything but snapshots.
    let mut sub = rec.client();
    sub.subscribe(&Subscription {
        status: true,
        meters: true,
        interval_ms: 100,
        ..Subscription::default()
    })
    .expect("subscribe");
    // One that wants the engine's events exactly (what a remote front end needs).
    let mut engine_sub = rec.client();
    engine_sub
        .subscribe(&Subscription {
            events: false,
            engine_events: true,
            ..Subscription::default()
        })
        .expect("subscribe");

    // Arm 1, 2 (by name, any case) and 4 (as the engine command); 3 stays disarmed.
    assert_eq!(rec.ctl(&["disarm", "all"]).0, 0);
    let (code, _, err) = rec.ctl(&["arm", "1"]);
    assert_eq!(code, 0, "{err}");
    c.request(&Request::Verb(Verb::Arm {
        track: TrackRef::Name("bass di".into()),
    }))
    .expect("arm by name");
    c.send_command(&Command::SetArmed {
        track: 4,
        armed: true,
    })
    .expect("set_armed");
    let (code, _, err) = rec.ctl(&["rename", "2", "Bass Amp"]);
    assert_eq!(code, 0, "{err}");
    // A track that is not there, and a malformed request, are refused with a reason.
    let (code, _, err) = rec.ctl(&["arm", "9"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no track 9; the tracks are 1 Kick+Snare"),
        "{err}"
    );
    let e = c
        .request_value(json!({"cmd": "rename", "track": "Bass Amp"}))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.starts_with("bad rename request"), "{e}");

    // Record, mark, look, stop.
    let (code, out, err) = rec.ctl(&["record"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("recording take 1 into "), "{out}");
    std::thread::sleep(Duration::from_millis(800));
    let (code, _, err) = rec.ctl(&["mark", "verse"]);
    assert_eq!(code, 0, "{err}");
    c.request(&Request::Verb(Verb::Mark { label: None }))
        .expect("mark");
    let (code, out, _) = rec.ctl(&["status", "--json"]);
    assert_eq!(code, 0);
    let status: Value = serde_json::from_str(out.trim()).expect("status JSON");
    assert_eq!(status["type"], "status");
    assert_eq!(status["take"], 1);
    let armed: Vec<bool> = status["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| t["armed"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(armed, [true, true, false, true]);
    let (code, out, _) = rec.ctl(&["status"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("REC take 1 "), "{out}");
    assert!(out.contains("2 Bass Amp"), "{out}");
    std::thread::sleep(Duration::from_millis(500));
    let (code, out, err) = rec.ctl(&["stop"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("take 1 done"), "{out}");

    // The subscriber saw it all, in --json-status's words.
    let got = collect(
        &mut sub,
        Duration::from_secs(10),
        |p| matches!(p, Pushed::Notice { kind, .. } if kind == "take_finished"),
    );
    let started = notice(&got, "take_started").expect("take_started pushed");
    assert_eq!(started["take"], 1);
    let finished = notice(&got, "take_finished").expect("take_finished pushed");
    let statuses: Vec<_> = got
        .iter()
        .filter_map(|p| match p {
            Pushed::Status(s) => Some(s),
            _ => None,
        })
        .collect();
    assert!(statuses.len() >= 5, "{} status lines", statuses.len());
    assert!(statuses.iter().any(|s| s.take == Some(1)));
    let meters: Vec<_> = got
        .iter()
        .filter_map(|p| match p {
            Pushed::Meters(m) => Some(m),
            _ => None,
        })
        .collect();
    assert!(meters.len() >= 5, "{} meters", meters.len());
    assert!(
        meters
            .iter()
            .all(|m| m.peaks_dbfs.len() == 4 && m.clips.len() == 4)
    );
    assert!(
        meters
            .iter()
            .any(|m| m.peaks_dbfs[0].is_some_and(|p| p > -60.0)),
        "the kick is heard"
    );

    let got = collect(&mut engine_sub, Duration::from_secs(10), |p| {
        matches!(p, Pushed::Event(Event::TakeFinished(_)))
    });
    assert!(
        got.iter()
            .any(|p| matches!(p, Pushed::Event(Event::TakeStarted { take: 1, .. })))
    );
    assert!(
        got.iter().all(|p| matches!(p, Pushed::Event(_))),
        "only engine events: {got:?}"
    );

    // Nothing armed: record is refused, and says so.
    assert_eq!(rec.ctl(&["disarm", "all"]).0, 0);
    let (code, _, err) = rec.ctl(&["record"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("did not start a take"), "{err}");

    // The recorder printed the same take_finished line the subscriber got.
    assert_eq!(rec.signal_and_wait("TERM").code(), Some(0));
    let printed: Vec<Value> = rec
        .stdout_text()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let printed_finished = printed
        .iter()
        .find(|v| v["type"] == "take_finished")
        .expect("take_finished printed");
    assert_eq!(printed_finished, finished);
    assert!(!rec.socket.exists(), "the socket is removed on exit");

    // The manifest: the marker, the renamed track, the disarmed one left out.
    let take = last_take(&rec.session_dir);
    assert_eq!(take["number"], 1);
    let labels: Vec<Value> = take["markers"]
        .as_array()
        .expect("markers")
        .iter()
        .map(|m| m["label"].clone())
        .collect();
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert!(labels.contains(&json!("verse")), "{labels:?}");
    let tracks: Vec<(u64, String)> = take["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| {
            (
                t["track"].as_u64().unwrap_or(0),
                t["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        tracks,
        [
            (1, "Kick+Snare".to_string()),
            (2, "Bass Amp".to_string()),
            (4, "Vox".to_string())
        ]
    );
}

#[test]
fn ctl_says_when_no_recorder_is_there_and_what_is_wrong_with_its_arguments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none.sock");
    let (code, _, err) = common::run(
        &["ctl", "--socket", &missing.to_string_lossy(), "status"],
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no recorder reachable"), "{err}");
    // None running in the default folder.
    let run_dir = dir.path().join("run");
    let (code, _, err) = common::run(
        &["ctl", "status"],
        &[("XDG_RUNTIME_DIR", &run_dir.to_string_lossy())],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no recorder is running"), "{err}");
    let (code, _, _) = common::run(&["ctl", "arm"], &[]);
    assert_eq!(code, 2);
    let (code, _, err) = common::run(&["ctl", "send", "{not json"], &[]);
    assert_eq!(code, 2, "{err}");
}

/// Runs `tapedeck ctl` as the unprivileged user `nobody`.
fn ctl_as_nobody(socket: &Path, verb: &str) -> (i32, String, String) {
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(common::bin())
        .args(["ctl", "--socket"])
        .arg(socket)
        .arg(verb)
        .output()
        .expect("setpriv");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn is_root() -> bool {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() == 0 }
}

#[test]
fn a_client_of_another_uid_is_refused() {
    if !is_root() {
        common::daw::skip("a client of another uid needs root to become one (setpriv)");
        return;
    }
    common::require("setpriv");
    let dir = tempfile::tempdir().expect("tempdir");
    // The folder may be entered by anyone: the socket's own mode is what stops them.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut rec = serve_demo(dir.path(), "mine", &[], &[]);
    let (code, _, err) = ctl_as_nobody(&rec.socket, "status");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("permission denied"), "{err}");
    // We still get in.
    assert_eq!(rec.ctl(&["status"]).0, 0);
    assert_eq!(rec.signal_and_wait("TERM").code(), Some(0));
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault-injection feature: run it through scripts/test, or cargo test --features fault-injection"
)]
fn the_kernel_peer_check_refuses_another_uid_even_through_an_open_socket() {
    if !is_root() {
        common::daw::skip("a client of another uid needs root to become one (setpriv)");
        return;
    }
    common::require("setpriv");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // A socket anyone may connect to (a test-only mode): only the peer check stands.
    let mut rec = serve_demo(
        dir.path(),
        "open",
        &[],
        &[("TAPEDECK_TEST_CONTROL_SOCKET_MODE", "666")],
    );
    let mode = std::fs::metadata(&rec.socket)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o666);
    let (code, _, err) = ctl_as_nobody(&rec.socket, "status");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("refused: this recorder runs as uid 0; uid 65534 may not control it"),
        "{err}"
    );
    assert_eq!(rec.ctl(&["status"]).0, 0);
    assert_eq!(rec.signal_and_wait("TERM").code(), Some(0));

    // A recorder that expects another uid refuses us, root, as it would any other.
    let mut other = serve_demo(
        dir.path(),
        "theirs",
        &[],
        &[("TAPEDECK_TEST_CONTROL_PEER_UID", "12345")],
    );
    let (code, _, err) = other.ctl(&["status"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("root may not control another user's recorder"),
        "{err}"
    );
    assert_eq!(other.signal_and_wait("TERM").code(), Some(0));
}

#[test]
fn tapedeck_take_goes_through_the_recorder_that_holds_the_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&run_dir).expect("run dir");
    std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let xdg = run_dir.to_string_lossy().into_owned();
    // The default socket place this time: $XDG_RUNTIME_DIR/tapedeck/SESSION.sock.
    let socket = run_dir.join("tapedeck").join("band.sock");
    let mut cmd = std::process::Command::new(common::bin());
    cmd.args(["demo", "--serve", "--channels", "2", "--session", "band"])
        .args(["--record", "--duration", "1s", "--dir"])
        .arg(dir.path())
        .env("XDG_RUNTIME_DIR", &xdg);
    let mut rec = Served::spawn(
        &mut cmd,
        socket.clone(),
        dir.path().join("band"),
        dir.path(),
    );
    let folder_mode = std::fs::metadata(socket.parent().expect("folder"))
        .expect("folder")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(folder_mode, 0o700);
    // Wait for the take to finish.
    let mut c = rec.client();
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.status().expect("status").take.is_some() || last_take_number(&rec) != Some(1) {
        assert!(Instant::now() < deadline, "the take did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    let dir_s = dir.path().to_string_lossy().into_owned();
    let (code, out, err) = common::run(
        &[
            "take",
            "circle",
            "1",
            "--session",
            "band",
            "--dir",
            &dir_s,
            "--note",
            "the one",
        ],
        &[("XDG_RUNTIME_DIR", &xdg)],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("take 1"), "{out}");
    let take = last_take(&rec.session_dir);
    assert_eq!(take["triage"]["mark"], "circled", "{take}");
    // No such take: the recorder's warning, exit 1.
    let (code, _, err) = common::run(
        &["take", "keep", "7", "--session", "band", "--dir", &dir_s],
        &[("XDG_RUNTIME_DIR", &xdg)],
    );
    assert_eq!(code, 1, "{err}");
    // Without the socket (another XDG_RUNTIME_DIR) the old refusal stands.
    let (code, _, err) = common::run(
        &["take", "keep", "1", "--session", "band", "--dir", &dir_s],
        &[("XDG_RUNTIME_DIR", "/nonexistent")],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("is being recorded by another tapedeck"),
        "{err}"
    );
    assert_eq!(rec.signal_and_wait("TERM").code(), Some(0));
    assert!(!socket.exists());
}

fn last_take_number(rec: &Served) -> Option<u64> {
    let text = std::fs::read(rec.session_dir.join("session.json")).ok()?;
    let m: Value = serde_json::from_slice(&text).ok()?;
    let t = m["takes"].as_array()?.last()?.clone();
    t["end_reason"].as_str()?;
    t["number"].as_u64()
}

/// Lowers this thread's priority (nice 10).
fn be_nice() {
    // SAFETY: setpriority on the calling thread only.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
}

/// A small deterministic generator for the garbage (no two runs differ).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() & 0xff) as u8).collect()
    }
}

/// Sends garbage lines and counts the error replies; every complete line gets one.
fn fuzz(socket: &Path, seed: u64, stop: &AtomicBool) -> (usize, usize) {
    let mut s = UnixStream::connect(socket).expect("fuzzer connects");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut reader = std::io::BufReader::new(s.try_clone().expect("clone"));
    let mut rng = XorShift(seed);
    let (mut sent, mut answered) = (0, 0);
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        let mut msg: Vec<u8> = match rng.next() % 6 {
            0 => {
                let n = 1 + (rng.next() % 300) as usize;
                rng.bytes(n)
            }
            .into_iter()
            .filter(|&b| b != b'\n')
            .collect(),
            1 => {
                let mut big = b"{\"cmd\":\"note\",\"text\":\"".to_vec();
                big.resize(200_000, b'x');
                big
            }
            2 => b"{\"cmd\":\"arm\",\"track\":".to_vec(),
            3 => br#"{"cmd":"set_armed","track":"two","armed":"yes"}"#.to_vec(),
            4 => br#"{"cmd":"subscribe","interval_ms":"fast"}"#.to_vec(),
            _ => br#"[{"cmd":"stop"}]"#.to_vec(),
        };
        // A blank line is skipped without an answer (documented); garbage is answered.
        let blank = msg.iter().all(u8::is_ascii_whitespace);
        msg.push(b'\n');
        s.write_all(&msg).expect("fuzzer writes");
        if blank {
            continue;
        }
        sent += 1;
        line.clear();
        use std::io::BufRead;
        reader.read_line(&mut line).expect("an answer");
        let v: Value = serde_json::from_str(&line).expect("the answer is JSON");
        assert_eq!(v["type"], "error", "{line}");
        answered += 1;
    }
    (sent, answered)
}

/// Half a line, then gone.
fn half_line_then_disconnect(socket: &Path) {
    let mut s = UnixStream::connect(socket).expect("connects");
    s.write_all(br#"{"cmd":"stat"#).expect("writes");
}

/// On the demo device, which keeps time by the clock and never drops a frame itself: a
/// dropout could only be tapedeck's (its writer kept from draining the ring), so there must be
/// none at all. (On a JACK dummy server, below, the server's own late cycles may add some.)
#[test]
fn a_hundred_clients_a_silent_one_and_garbage_leave_the_take_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A ring of one second: the writer may not fall behind by more than that.
    let mut rec = serve_demo(
        dir.path(),
        "load",
        &["--channels", "8", "--ring-seconds", "1"],
        &[],
    );
    let take = load_during_a_take(&rec);
    assert_eq!(take["dropouts"], json!([]), "{take}");
    assert_eq!(take["dropout_frames"], 0);
    assert!(
        take["length_seconds"].as_f64().unwrap_or(0.0) > 7.0,
        "{take}"
    );
    // The status lines the recorder printed say the same.
    let last_status: Value = rec
        .stdout_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|v| v["type"] == "status")
        .expect("status lines printed");
    assert_eq!(last_status["dropped_frames"], 0);
    assert_eq!(rec.signal_and_wait("TERM").code(), Some(0));
}

/// A take with a hundred reading clients, one that never reads and four sending garbage
/// (plus twenty half lines) for eight seconds; returns the take as the manifest has it, its
/// files checked with soxi.
fn load_during_a_take(rec: &Served) -> Value {
    let socket = rec.socket.clone();
    // The take.
    let (code, _, err) = rec.ctl(&["record"]);
    assert_eq!(code, 0, "{err}");

    let stop = Arc::new(AtomicBool::new(false));
    // A hundred clients subscribed to everything, ten times a second.
    let readers: Vec<_> = (0..100)
        .map(|_| {
            let (socket, stop) = (socket.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                // These stand for clients on other machines: on this one they must not take
                // the CPU from the recorder they are testing.
                be_nice();
                let mut c = Client::connect(&socket).expect("client connects");
                c.subscribe(&Subscription {
                    events: true,
                    status: true,
                    meters: true,
                    snapshots: true,
                    interval_ms: 100,
                    ..Subscription::default()
                })
                .expect("subscribe");
                let mut got = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    if c.recv_timeout(Duration::from_millis(50))
                        .expect("still connected")
                        .is_some()
                    {
                        got += 1;
                    }
                }
                // It still answers this client.
                let status = c.status().expect("status at the end");
                (got, status.take)
            })
        })
        .collect();
    // One that subscribes to everything and never reads.
    let mut silent = UnixStream::connect(&socket).expect("silent connects");
    silent
        .write_all(b"{\"cmd\":\"subscribe\",\"status\":true,\"meters\":true,\"snapshots\":true,\"interval_ms\":20}\n")
        .expect("subscribe");
    // Garbage.
    let fuzzers: Vec<_> = (0..4)
        .map(|i| {
            let (socket, stop) = (socket.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                be_nice();
                fuzz(&socket, 0x9e37_79b9_7f4a_7c15 ^ i, &stop)
            })
        })
        .collect();
    for _ in 0..20 {
        half_line_then_disconnect(&socket);
    }

    std::thread::sleep(Duration::from_secs(8));
    stop.store(true, Ordering::Relaxed);
    let mut least = usize::MAX;
    for r in readers {
        let (got, take) = r.join().expect("reader");
        assert!(got > 50, "a reading client got only {got} messages");
        assert_eq!(take, Some(1));
        least = least.min(got);
    }
    let mut garbage = 0;
    for f in fuzzers {
        let (sent, answered) = f.join().expect("fuzzer");
        assert!(
            sent > 10 && sent == answered,
            "{sent} sent, {answered} answered"
        );
        garbage += sent;
    }
    eprintln!(
        "100 clients got at least {least} pushed messages each; {garbage} garbage lines were each answered with an error"
    );

    // The silent client lost messages: told `lagged` when it reads, or disconnected.
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(20);
    let outcome = loop {
        match silent.read(&mut buf) {
            Ok(0) => break "disconnected",
            Ok(n) => {
                seen.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&seen).contains("\"type\":\"lagged\"") {
                    break "lagged";
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break "disconnected",
            Err(e) => panic!("the silent client: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "the silent client was neither told nor dropped"
        );
    };
    eprintln!("the client that never read was {outcome}");

    // Stop; the files are whole and the recorder still answers.
    let (code, _, err) = rec.ctl(&["stop"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = rec.ctl(&["status"]);
    assert_eq!(code, 0, "{err}");
    let take = last_take(&rec.session_dir);
    for (_, file) in common::take_files(&rec.session_dir, &take) {
        let (frames, rate) = common::soxi(&file);
        assert_eq!(rate, 48_000);
        assert_eq!(frames, take["length_frames"].as_u64().expect("frames"));
    }
    take
}

/// The same on a JACK dummy server. On this shared machine the server's own cycles can run
/// late with no client at all (xruns), which the take records as dropouts of cause
/// `device_xrun`;
/// what the socket could cause is the writer falling behind, a `ring_overflow`: there is none.
#[test]
fn a_hundred_clients_on_jack_never_hold_up_the_writer() {
    let jack = common::JackServer::start(48_000, 256, 8);
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("jload.sock");
    let mut cmd = std::process::Command::new(common::bin());
    cmd.args(["record", "--host", "jack", "--serve", "--json-status"])
        .args(["--ring-seconds", "1", "--session", "jload", "--dir"])
        .arg(dir.path())
        .arg("--control-socket")
        .arg(&socket)
        .env("JACK_DEFAULT_SERVER", &jack.name)
        .env("JACK_NO_START_SERVER", "1");
    let mut rec = Served::spawn(&mut cmd, socket, dir.path().join("jload"), dir.path());
    let take = load_during_a_take(&rec);
    let dropouts = take["dropouts"].as_array().cloned().unwrap_or_default();
    let overflows: Vec<&Value> = dropouts
        .iter()
        .filter(|d| d["cause"] == "ring_overflow")
        .collect();
    assert!(
        overflows.is_empty(),
        "the writer fell behind: {overflows:?}"
    );
    eprintln!(
        "JACK take: {} s, {} dropout(s) of the server's own (xruns), no ring overflow",
        take["length_seconds"],
        dropouts.len()
    );
    assert_eq!(rec.signal_and_wait("TERM").code(), Some(0));
    drop(jack);
}

#[test]
fn the_client_past_the_limit_is_told_and_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rec = serve_demo(dir.path(), "full", &[], &[]);
    // 128 connections, each answered once so that the recorder has surely counted it.
    let mut held = Vec::new();
    for _ in 0..128 {
        let mut s = UnixStream::connect(&rec.socket).expect("connects");
        s.write_all(b"{\"cmd\":\"hello\"}\n").expect("writes");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(s.try_clone().expect("clone"))
            .read_line(&mut line)
            .expect("hello answered");
        assert!(line.starts_with("{\"type\":\"reply\""), "{line}");
        held.push(s);
    }
    let e = Client::connect(&rec.socket)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("already serves 128 clients"), "{e}");
    // One goes, another may come.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Client::connect(&rec.socket).is_err() {
        assert!(Instant::now() < deadline, "the freed place was not given");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(held);
    assert_eq!(rec.signal_and_wait("TERM").code(), Some(0));
}

#[test]
fn a_client_that_never_reads_is_disconnected_after_a_while() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rec = serve_demo(dir.path(), "deaf", &[], &[]);
    let mut silent = UnixStream::connect(&rec.socket).expect("connects");
    silent
        .write_all(b"{\"cmd\":\"subscribe\",\"status\":true,\"meters\":true,\"snapshots\":true,\"interval_ms\":20}\n")
        .expect("subscribe");
    // Its socket takes nothing for longer than the recorder's write limit (10 s) while
    // thousands of messages fall due.
    std::thread::sleep(Duration::from_secs(16));
    // Drained, the connection ends: the recorder has let it go.
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0usize;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match silent.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("still connected after {bytes} bytes: {e}"),
        }
        assert!(Instant::now() < deadline, "still connected");
    }
    eprintln!("the client that never read was disconnected after {bytes} bytes");
    // The others are served as ever.
    assert_eq!(rec.ctl(&["status"]).0, 0);
    assert_eq!(rec.signal_and_wait("TERM").code(), Some(0));
}
