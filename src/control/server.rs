//! The recorder's side of the control socket.
//!
//! Threads: one acceptor (polls the listening socket, checks each peer's uid), one hub (fans
//! events, status lines, meters and snapshots out to subscribers), and per client a reader
//! (parses requests, answers them) and a writer (drains the client's bounded queue onto the
//! socket). Nothing here is on the engine's path: events arrive from the front end's thread
//! through an unbounded channel (a send never waits), snapshots are cloned out of the
//! engine's mutex and released at once, meters come from one `MeterTap` (atomics), and a
//! client that stops reading only fills its own queue: pushed messages are then dropped and
//! counted (told with `lagged`), and after `DROP_LIMIT` of them, or a write blocked for
//! `WRITE_TIMEOUT`, it is disconnected.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::protocol::{
    self, Hello, MAX_INTERVAL_MS, MAX_LINE, MIN_INTERVAL_MS, Meters, Reply, Request, Subscription,
    TrackRef, Verb, Verdict,
};
use super::{Client, ControlError, path, peer};
use crate::engine::{Command, Commander, EndReason, Event, MeterTap, Snapshot, SnapshotReader};
use crate::format::dbfs_rounded;
use crate::frontend::headless::{event_line, status_line};
use crate::session::manifest::Mark;
use crate::session::triage::{TriageChange, TriageTarget};

/// Clients served at once; one more is told so and closed.
pub(crate) const MAX_CLIENTS: usize = 128;
/// Messages waiting for one client, at most.
const QUEUE: usize = 256;
/// Pushed messages a client may lose in a row (not reading) before it is disconnected.
pub(crate) const DROP_LIMIT: u64 = 2000;
/// How long one write to a client may block before it is disconnected.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the hub looks at who is due a status line, meters or a snapshot.
const TICK: Duration = Duration::from_millis(10);
/// How often the acceptor looks whether it should stop.
const ACCEPT_POLL_MS: i32 = 200;
/// Stack of each client thread: they only parse lines and copy strings.
const CLIENT_STACK: usize = 256 * 1024;
/// The nice value of every control thread: when the machine is short of CPU, clients wait
/// and the capture and writer threads do not.
const NICE: libc::c_int = 10;

/// Lowers the calling thread's priority to `NICE` (Linux: nice is per thread). Best effort.
fn lower_priority() {
    // SAFETY: gettid and setpriority on the calling thread only.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE);
    }
}

/// What the server needs of the engine: no reference to the engine itself.
pub(crate) struct EngineLink {
    pub(crate) commander: Commander,
    pub(crate) snapshots: SnapshotReader,
    pub(crate) tap: MeterTap,
}

/// Where and as what to serve.
pub(crate) struct ServerConfig {
    pub(crate) path: PathBuf,
    /// The path is the default one: its folder is made private and checked.
    pub(crate) default_location: bool,
    pub(crate) hello: Hello,
}

/// A running control socket. Dropping it stops serving and removes the socket file.
pub(crate) struct Server {
    path: PathBuf,
    /// The socket file's inode, so that only our own file is removed.
    ino: u64,
    stop: Arc<AtomicBool>,
    events: Sender<Event>,
    clients: Arc<Registry>,
    acceptor: Option<JoinHandle<()>>,
    hub: Option<JoinHandle<()>>,
}

struct Shared {
    hello: Hello,
    commander: Commander,
    snapshots: SnapshotReader,
}

/// One connected client, as the hub and its threads see it.
struct Conn {
    stream: UnixStream,
    out: SyncSender<Arc<str>>,
    /// Pushed messages lost since the client last got one (told with `lagged`).
    dropped: AtomicU64,
    /// Pushed messages lost since the last successful write (the disconnect limit).
    dropped_in_a_row: AtomicU64,
    sub: Mutex<Option<SubState>>,
}

struct SubState {
    sub: Subscription,
    next_due: Instant,
    /// Highest peak per input since the last message.
    peaks: Vec<f32>,
}

impl Conn {
    fn sub(&self) -> MutexGuard<'_, Option<SubState>> {
        self.sub.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a pushed message if there is room; counts it lost otherwise.
    fn push(&self, line: &Arc<str>) {
        match self.out.try_send(Arc::clone(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                if self.dropped_in_a_row.fetch_add(1, Ordering::Relaxed) + 1 >= DROP_LIMIT {
                    self.close();
                }
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    fn close(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

#[derive(Default)]
struct Registry {
    conns: Mutex<Vec<Arc<Conn>>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn list(&self) -> Vec<Arc<Conn>> {
        self.lock().clone()
    }

    fn remove(&self, c: &Arc<Conn>) {
        self.lock().retain(|x| !Arc::ptr_eq(x, c));
    }
}

impl Server {
    /// Binds the socket (replacing a stale one, refusing a live one) and starts serving.
    pub(crate) fn start(config: ServerConfig, link: EngineLink) -> Result<Server, ControlError> {
        let listener = bind(&config.path, config.default_location)?;
        let ino = std::fs::symlink_metadata(&config.path)
            .map(|m| m.ino())
            .unwrap_or(0);
        let stop = Arc::new(AtomicBool::new(false));
        let clients = Arc::new(Registry::default());
        let shared = Arc::new(Shared {
            hello: config.hello,
            commander: link.commander,
            snapshots: link.snapshots.clone(),
        });
        let (events, events_rx) = mpsc::channel();
        let hub = {
            let (stop, clients, snapshots) =
                (Arc::clone(&stop), Arc::clone(&clients), link.snapshots);
            std::thread::Builder::new()
                .name("tapedeck-ctl-hub".into())
                .spawn(move || {
                    lower_priority();
                    hub(&stop, &clients, &events_rx, &snapshots, &link.tap);
                })
                .map_err(|e| ControlError::Setup(format!("cannot start a thread: {e}")))?
        };
        let acceptor = {
            let (stop, clients) = (Arc::clone(&stop), Arc::clone(&clients));
            std::thread::Builder::new()
                .name("tapedeck-ctl-accept".into())
                .spawn(move || {
                    lower_priority();
                    accept(&listener, &stop, &clients, &shared);
                })
                .map_err(|e| ControlError::Setup(format!("cannot start a thread: {e}")))?
        };
        Ok(Server {
            path: config.path,
            ino,
            stop,
            events,
            clients,
            acceptor: Some(acceptor),
            hub: Some(hub),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Hands an event to the clients; never waits (the channel is unbounded, and the hub
    /// drains it).
    pub(crate) fn publish(&self, e: &Event) {
        let _ = self.events.send(e.clone());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        if let Some(h) = self.hub.take() {
            let _ = h.join();
        }
        // Every client's threads end when their socket does.
        for c in self.clients.list() {
            c.close();
        }
        // Only our own file: a recorder started after us may have replaced it.
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The socket file's mode: 0600, or in fault-injection builds what
/// TAPEDECK_TEST_CONTROL_SOCKET_MODE says (octal), so that a test can let another user reach
/// the peer check.
fn socket_mode() -> u32 {
    #[cfg(feature = "fault-injection")]
    if let Some(m) = std::env::var("TAPEDECK_TEST_CONTROL_SOCKET_MODE")
        .ok()
        .and_then(|v| u32::from_str_radix(&v, 8).ok())
    {
        return m;
    }
    0o600
}

/// Makes the listening socket at `path`, mode 0600 from the start.
fn bind(path: &Path, default_location: bool) -> Result<UnixListener, ControlError> {
    path::check_length(path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        Some(_) => Path::new("."),
        None => Path::new("/"),
    };
    if default_location {
        path::ensure_private_dir(dir, path::our_uid())?;
    } else if !dir.is_dir() {
        return Err(ControlError::Setup(format!(
            "cannot make the control socket {}: {} is not a folder",
            path.display(),
            dir.display()
        )));
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(ControlError::Setup(format!(
                "{} is there and is not a socket; remove it, or give --control-socket another path",
                path.display()
            )));
        }
        match UnixStream::connect(path) {
            Ok(_) => {
                let who = Client::connect(path).map_or_else(
                    |_| "another program".to_string(),
                    |c| {
                        let h = c.hello();
                        format!(
                            "the tapedeck recorder of session {} (pid {}, {})",
                            h.session, h.pid, h.session_dir
                        )
                    },
                );
                return Err(ControlError::Setup(format!(
                    "{who} already answers on {}; stop it, or give --control-socket another path",
                    path.display()
                )));
            }
            // Left by a recorder that ended without removing it.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path).map_err(|e| {
                    ControlError::Setup(format!(
                        "cannot remove the stale control socket {}: {e}",
                        path.display()
                    ))
                })?;
            }
            Err(e) => {
                return Err(ControlError::Setup(format!(
                    "{} is there and cannot be checked ({e}); remove it, or give --control-socket another path",
                    path.display()
                )));
            }
        }
    }
    let listener = listen_private(path)?;
    // Where fchmod before bind is not honoured, the file is made 0600 at once (the folder is
    // private anyway in the default location).
    let mode = socket_mode();
    let now = std::fs::metadata(path)
        .map(|m| m.mode() & 0o777)
        .unwrap_or(0);
    if now != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| {
            ControlError::Setup(format!("cannot set the mode of {}: {e}", path.display()))
        })?;
    }
    Ok(listener)
}

/// socket, fchmod, bind, listen: on Linux a socket file takes its mode from the socket's
/// inode (less the umask), so it is never reachable by others, not even for a moment, and the
/// umask (the whole process's, the writer's files included) is left alone.
fn listen_private(path: &Path) -> Result<UnixListener, ControlError> {
    use std::os::unix::ffi::OsStrExt;
    let fail = |what: &str| {
        ControlError::Setup(format!(
            "cannot make the control socket {} ({what}: {})",
            path.display(),
            std::io::Error::last_os_error()
        ))
    };
    // SAFETY: plain socket calls on a descriptor owned by `fd` from here on; the address is
    // a zeroed sockaddr_un whose sun_path gets at most 107 bytes (checked by check_length),
    // so it stays NUL-terminated.
    unsafe {
        let raw = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if raw < 0 {
            return Err(fail("socket"));
        }
        let fd = OwnedFd::from_raw_fd(raw);
        if libc::fchmod(fd.as_raw_fd(), socket_mode()) != 0 {
            return Err(fail("fchmod"));
        }
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let bytes = path.as_os_str().as_bytes();
        if bytes.len() >= addr.sun_path.len() {
            return Err(ControlError::Setup(format!(
                "the control socket path {} is too long",
                path.display()
            )));
        }
        for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        let len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
        if libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast::<libc::sockaddr>(),
            len,
        ) != 0
        {
            return Err(fail("bind"));
        }
        if libc::listen(fd.as_raw_fd(), 128) != 0 {
            return Err(fail("listen"));
        }
        Ok(UnixListener::from(fd))
    }
}

fn accept(
    listener: &UnixListener,
    stop: &AtomicBool,
    clients: &Arc<Registry>,
    shared: &Arc<Shared>,
) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    let ours = peer::expected_uid();
    while !stop.load(Ordering::Relaxed) {
        let mut pfd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, valid for the call.
        let ready = unsafe { libc::poll(&raw mut pfd, 1, ACCEPT_POLL_MS) };
        if ready <= 0 {
            continue;
        }
        let Ok((stream, _)) = listener.accept() else {
            // Out of descriptors, say: do not spin on a socket that stays readable.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
        let refusal = match peer::peer_uid(&stream) {
            Ok(uid) => peer::check(uid, ours).err(),
            Err(e) => Some(format!("refused: cannot tell who is connecting ({e})")),
        };
        if let Some(why) = refusal {
            refuse(stream, &why);
            continue;
        }
        if clients.lock().len() >= MAX_CLIENTS {
            refuse(
                stream,
                &format!("refused: this recorder already serves {MAX_CLIENTS} clients; close one"),
            );
            continue;
        }
        serve(stream, clients, shared);
    }
}

/// Says why, then closes.
fn refuse(mut stream: UnixStream, why: &str) {
    let mut line = protocol::error_line(None, why);
    line.push('\n');
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(line.as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Starts a client's reader and writer.
fn serve(stream: UnixStream, clients: &Arc<Registry>, shared: &Arc<Shared>) {
    let (Ok(read_half), Ok(write_half)) = (stream.try_clone(), stream.try_clone()) else {
        return;
    };
    let (out, out_rx) = mpsc::sync_channel::<Arc<str>>(QUEUE);
    let conn = Arc::new(Conn {
        stream,
        out,
        dropped: AtomicU64::new(0),
        dropped_in_a_row: AtomicU64::new(0),
        sub: Mutex::new(None),
    });
    clients.lock().push(Arc::clone(&conn));
    let writer_conn = Arc::clone(&conn);
    let writer = std::thread::Builder::new()
        .name("tapedeck-ctl-out".into())
        .stack_size(CLIENT_STACK)
        .spawn(move || {
            lower_priority();
            write_loop(write_half, &out_rx, &writer_conn);
        });
    if writer.is_err() {
        clients.remove(&conn);
        conn.close();
        return;
    }
    let (registry, shared) = (Arc::clone(clients), Arc::clone(shared));
    let reader_conn = Arc::clone(&conn);
    let reader = std::thread::Builder::new()
        .name("tapedeck-ctl-in".into())
        .stack_size(CLIENT_STACK)
        .spawn(move || {
            lower_priority();
            read_loop(read_half, &reader_conn, &shared);
            registry.remove(&reader_conn);
            reader_conn.close();
        });
    if reader.is_err() {
        clients.remove(&conn);
        conn.close();
    }
}

fn write_loop(mut stream: UnixStream, out: &Receiver<Arc<str>>, conn: &Conn) {
    while let Ok(line) = out.recv() {
        let lost = conn.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let mut l = protocol::lagged_line(lost);
            l.push('\n');
            if stream.write_all(l.as_bytes()).is_err() {
                break;
            }
        }
        if stream.write_all(line.as_bytes()).is_err() {
            break;
        }
        conn.dropped_in_a_row.store(0, Ordering::Relaxed);
    }
    conn.close();
}

/// Reads request lines and answers each; a line over `MAX_LINE` is answered with an error
/// and skipped to its newline.
fn read_loop(mut stream: UnixStream, conn: &Conn, shared: &Shared) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut skipping = false;
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let mut data = &chunk[..n];
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                Some(at) => {
                    if skipping {
                        skipping = false;
                    } else {
                        buf.extend_from_slice(&data[..at]);
                        if !answer(&buf, conn, shared) {
                            return;
                        }
                    }
                    buf.clear();
                    data = &data[at + 1..];
                }
                None => {
                    if !skipping {
                        buf.extend_from_slice(data);
                        if buf.len() > MAX_LINE {
                            buf.clear();
                            skipping = true;
                            if !send(conn, protocol::error_line(None, &protocol::too_long())) {
                                return;
                            }
                        }
                    }
                    data = &[];
                }
            }
        }
    }
}

/// Answers one line; false when the client is gone.
fn answer(line: &[u8], conn: &Conn, shared: &Shared) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return true;
    }
    let reply = match protocol::parse_request(line) {
        Err(bad) => protocol::error_line(bad.id.as_ref(), &bad.message),
        Ok((id, req)) => match execute(req, conn, shared) {
            Ok(fields) => Reply { id, fields }.to_line(),
            Err(message) => protocol::error_line(id.as_ref(), &message),
        },
    };
    send(conn, reply)
}

/// Queues a reply, waiting for room (a reply is never dropped; a client that reads nothing
/// is disconnected by its writer's timeout, which ends this wait too).
fn send(conn: &Conn, mut line: String) -> bool {
    line.push('\n');
    conn.out.send(Arc::from(line)).is_ok()
}

type Fields = serde_json::Map<String, Value>;

fn fields(pairs: Value) -> Fields {
    match pairs {
        Value::Object(m) => m,
        _ => Fields::new(),
    }
}

fn execute(req: Request, conn: &Conn, shared: &Shared) -> Result<Fields, String> {
    let rate = shared.hello.sample_rate;
    let cmd = match req {
        Request::Engine(c) => c,
        Request::Verb(v) => match v {
            Verb::Hello => {
                return serde_json::to_value(&shared.hello)
                    .map(fields)
                    .map_err(|e| e.to_string());
            }
            Verb::Status => {
                let snap = shared.snapshots.get();
                let holds: Vec<f32> = snap.inputs.iter().map(|m| m.hold).collect();
                return Ok(fields(json!({"status": status_line(&snap, &holds)})));
            }
            Verb::Snapshot => {
                return Ok(fields(json!({"snapshot": shared.snapshots.get()})));
            }
            Verb::Subscribe(sub) => {
                if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&sub.interval_ms) {
                    return Err(format!(
                        "interval_ms must be {MIN_INTERVAL_MS} to {MAX_INTERVAL_MS}"
                    ));
                }
                let channels = shared.snapshots.get().inputs.len();
                // The first message after one interval, so that it covers one.
                *conn.sub() = Some(SubState {
                    sub: sub.clone(),
                    next_due: Instant::now() + Duration::from_millis(sub.interval_ms),
                    peaks: vec![0.0; channels],
                });
                return Ok(fields(json!({"subscribed": sub})));
            }
            Verb::Unsubscribe => {
                *conn.sub() = None;
                return Ok(fields(json!({"subscribed": null})));
            }
            Verb::Arm { track } => arm(&track, true, shared)?,
            Verb::Disarm { track } => arm(&track, false, shared)?,
            Verb::Record { duration, frames } => Command::Record {
                max_frames: length(duration.as_deref(), frames, rate)?,
            },
            Verb::Stop { reason } => Command::Stop {
                reason: reason.unwrap_or(EndReason::Stopped),
            },
            Verb::Mark { label } => Command::Mark { label },
            Verb::Rename { track, name } => {
                if name.trim().is_empty() {
                    return Err("a track's name cannot be empty".into());
                }
                Command::Rename {
                    track: resolve(&track, &shared.snapshots.get())?,
                    name,
                }
            }
            Verb::Note { text } => Command::Note(text),
            Verb::KeepLast { seconds, frames } => {
                let seconds = match seconds {
                    Some(s) if !(s.is_finite() && s > 0.0) => {
                        return Err("seconds must be a positive number".into());
                    }
                    Some(s) => Some(format!("{s}s")),
                    None => None,
                };
                Command::KeepLast {
                    frames: length(seconds.as_deref(), frames, rate)?,
                }
            }
            Verb::Take {
                verdict,
                take,
                track,
                note,
            } => Command::Triage {
                target: TriageTarget { take, track },
                change: verdict_change(verdict, note)?,
            },
        },
    };
    let sent = serde_json::to_value(&cmd).unwrap_or(Value::Null);
    if !shared.commander.send(cmd) {
        return Err("the recorder is shutting down".into());
    }
    Ok(fields(json!({"sent": sent})))
}

/// A length given as a duration ("90s") or in frames.
fn length(duration: Option<&str>, frames: Option<u64>, rate: u32) -> Result<Option<u64>, String> {
    match (duration, frames) {
        (Some(_), Some(_)) => Err("give a duration or frames, not both".into()),
        (Some(d), None) => {
            let d = crate::duration::parse(d)?;
            Ok(Some((d.as_secs_f64() * f64::from(rate)).round() as u64))
        }
        (None, f) => Ok(f),
    }
}

fn verdict_change(verdict: Verdict, note: Option<String>) -> Result<TriageChange, String> {
    Ok(match verdict {
        Verdict::Keep => TriageChange::mark(Mark::Keep, note),
        Verdict::NoGood => TriageChange::mark(Mark::NoGood, note),
        Verdict::Circle => TriageChange::mark(Mark::Circled, note),
        Verdict::Clear => {
            if note.is_some() {
                return Err("clear removes the mark and the note; to change only the note use the verdict note".into());
            }
            TriageChange::clear()
        }
        Verdict::Note => match note {
            Some(n) => TriageChange::note(&n),
            None => return Err("the verdict note needs a note (\"\" removes it)".into()),
        },
    })
}

fn arm(track: &TrackRef, armed: bool, shared: &Shared) -> Result<Command, String> {
    if track.is_all() {
        return Ok(Command::ArmAll(armed));
    }
    Ok(Command::SetArmed {
        track: resolve(track, &shared.snapshots.get())?,
        armed,
    })
}

/// A track's number, from its number or its name (exact, else ignoring case).
fn resolve(track: &TrackRef, snap: &Snapshot) -> Result<u16, String> {
    let list = || {
        snap.tracks
            .iter()
            .map(|t| format!("{} {}", t.number, t.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match track {
        TrackRef::Number(n) => snap
            .tracks
            .iter()
            .find(|t| t.number == *n)
            .map(|t| t.number)
            .ok_or_else(|| format!("no track {n}; the tracks are {}", list())),
        TrackRef::Name(name) => {
            if let Some(t) = snap.tracks.iter().find(|t| t.name == *name) {
                return Ok(t.number);
            }
            let like: Vec<u16> = snap
                .tracks
                .iter()
                .filter(|t| t.name.eq_ignore_ascii_case(name))
                .map(|t| t.number)
                .collect();
            match like.as_slice() {
                [one] => Ok(*one),
                [] => Err(format!(
                    "no track named {name:?}; the tracks are {}",
                    list()
                )),
                _ => Err(format!(
                    "several tracks are named {name:?}; give its number ({})",
                    list()
                )),
            }
        }
    }
}

/// Fans events out as they come, and status lines, meters and snapshots as they fall due.
fn hub(
    stop: &AtomicBool,
    clients: &Registry,
    events: &Receiver<Event>,
    snapshots: &SnapshotReader,
    tap: &MeterTap,
) {
    let mut next_tick = Instant::now();
    // Events that came while nobody was subscribed are not kept; the order of those that are
    // fanned out is the engine's.
    let mut batch: VecDeque<Event> = VecDeque::new();
    while !stop.load(Ordering::Relaxed) {
        let wait = next_tick.saturating_duration_since(Instant::now());
        match events.recv_timeout(wait) {
            Ok(e) => {
                batch.push_back(e);
                while let Ok(e) = events.try_recv() {
                    batch.push_back(e);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
        }
        if !batch.is_empty() {
            let conns = clients.list();
            for e in batch.drain(..) {
                fan_out_event(&e, &conns);
            }
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick = now + TICK;
            tick(clients, snapshots, tap, now);
        }
    }
}

fn fan_out_event(e: &Event, conns: &[Arc<Conn>]) {
    let mut printed: Option<Arc<str>> = None;
    let mut engine: Option<Arc<str>> = None;
    for c in conns {
        let (events, engine_events) = match c.sub().as_ref() {
            Some(s) => (s.sub.events, s.sub.engine_events),
            None => continue,
        };
        if engine_events {
            let line = engine
                .get_or_insert_with(|| Arc::from(format!("{}\n", protocol::engine_event_line(e))));
            c.push(line);
        } else if events {
            let line = printed.get_or_insert_with(|| Arc::from(format!("{}\n", event_line(e))));
            c.push(line);
        }
    }
}

/// What one subscriber is due now.
struct Due {
    conn: Arc<Conn>,
    sub: Subscription,
    peaks: Vec<f32>,
}

fn tick(clients: &Registry, snapshots: &SnapshotReader, tap: &MeterTap, now: Instant) {
    let conns = clients.list();
    // Read the tap even with nobody subscribed, so a new subscriber starts fresh.
    let peaks = tap.take();
    let mut due: Vec<Due> = Vec::new();
    for c in &conns {
        let mut guard = c.sub();
        let Some(s) = guard.as_mut() else { continue };
        if !(s.sub.status || s.sub.meters || s.sub.snapshots) {
            continue;
        }
        if s.peaks.len() < peaks.len() {
            s.peaks.resize(peaks.len(), 0.0);
        }
        for (acc, p) in s.peaks.iter_mut().zip(&peaks) {
            *acc = acc.max(*p);
        }
        if now >= s.next_due {
            let interval = Duration::from_millis(s.sub.interval_ms);
            s.next_due += interval;
            if s.next_due <= now {
                s.next_due = now + interval;
            }
            due.push(Due {
                conn: Arc::clone(c),
                sub: s.sub.clone(),
                peaks: std::mem::replace(&mut s.peaks, vec![0.0; peaks.len()]),
            });
        }
    }
    if due.is_empty() {
        return;
    }
    // One snapshot for everyone due, cloned out of the engine's mutex and released.
    let snap = snapshots.get();
    let mut snapshot_line: Option<Arc<str>> = None;
    for d in due {
        if d.sub.status
            && let Ok(s) = serde_json::to_string(&status_line(&snap, &d.peaks))
        {
            d.conn.push(&Arc::from(format!("{s}\n")));
        }
        if d.sub.meters {
            let m = Meters {
                peaks_dbfs: d.peaks.iter().map(|p| dbfs_rounded(*p)).collect(),
                clips: snap.inputs.iter().map(|i| i.clips).collect(),
            };
            d.conn
                .push(&Arc::from(format!("{}\n", protocol::meters_line(&m))));
        }
        if d.sub.snapshots {
            let line = snapshot_line
                .get_or_insert_with(|| Arc::from(format!("{}\n", protocol::snapshot_line(&snap))));
            d.conn.push(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_is_a_duration_or_frames_never_both() {
        assert_eq!(length(Some("2s"), None, 48_000), Ok(Some(96_000)));
        assert_eq!(length(None, Some(10), 48_000), Ok(Some(10)));
        assert_eq!(length(None, None, 48_000), Ok(None));
        assert!(length(Some("2s"), Some(1), 48_000).is_err());
        assert!(length(Some("soon"), None, 48_000).is_err());
    }

    #[test]
    fn verdicts_become_the_triage_change_tapedeck_take_makes() {
        assert_eq!(
            verdict_change(Verdict::Circle, Some("best".into())),
            Ok(TriageChange::mark(Mark::Circled, Some("best".into())))
        );
        assert_eq!(
            verdict_change(Verdict::Clear, None),
            Ok(TriageChange::clear())
        );
        assert!(verdict_change(Verdict::Clear, Some("x".into())).is_err());
        assert_eq!(
            verdict_change(Verdict::Note, Some("".into())),
            Ok(TriageChange::note(""))
        );
        assert!(verdict_change(Verdict::Note, None).is_err());
    }
}
