//! JACK latency cables and probes for the tests, in process with the `jack` crate: a cable
//! that hides its delay, `jack_latent_client` (which declares it), port connections, and an
//! impulse that measures how late a cable delivers.
//!
//! libjack takes the server's name only from `JACK_DEFAULT_SERVER` (the `jack` crate cannot
//! pass `JackServerName`), so every client opened here is opened under [`JACK_ENV`] with that
//! variable set for the server at hand; a client keeps its server once open.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::JackServer;

/// Held while `JACK_DEFAULT_SERVER` is set and a client opened with it.
static JACK_ENV: Mutex<()> = Mutex::new(());

/// Runs `f` (which opens JACK clients or calls code that does, like
/// `tapedeck::audio::jack_graph`) with `JACK_DEFAULT_SERVER` naming `server`.
pub fn on_server<R>(server: &JackServer, f: impl FnOnce() -> R) -> R {
    let _env = JACK_ENV
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // SAFETY: the variables are set under JACK_ENV, which every opening of a JACK client in
    // the tests holds; std's own readers of the environment take std's lock, and libjack
    // reads it only while opening a client.
    unsafe {
        std::env::set_var("JACK_DEFAULT_SERVER", &server.name);
        std::env::set_var("JACK_NO_START_SERVER", "1");
    }
    f()
}

/// A client on `server`, not activated, named exactly `name`.
pub fn open_client(server: &JackServer, name: &str) -> jack::Client {
    jack::set_logger(jack::LoggerType::None);
    on_server(server, || {
        jack::Client::new(
            name,
            jack::ClientOptions::NO_START_SERVER | jack::ClientOptions::USE_EXACT_NAME,
        )
    })
    .unwrap_or_else(|e| panic!("open JACK client {name} on {}: {e}", server.name))
    .0
}

/// Reads and changes connections on one server through a client of its own.
pub struct Patchbay {
    client: jack::Client,
}

impl Patchbay {
    pub fn open(server: &JackServer) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("patchbay{}", N.fetch_add(1, Ordering::Relaxed));
        Self {
            client: open_client(server, &name),
        }
    }

    pub fn connect(&self, from: &str, to: &str) {
        match self.client.connect_ports_by_name(from, to) {
            Ok(()) | Err(jack::Error::PortAlreadyConnected(..)) => {}
            Err(e) => panic!("connect {from} -> {to}: {e}"),
        }
    }

    pub fn disconnect(&self, from: &str, to: &str) {
        self.client
            .disconnect_ports_by_name(from, to)
            .unwrap_or_else(|e| panic!("disconnect {from} -> {to}: {e}"));
    }

    /// Disconnects `port` from everything.
    pub fn disconnect_all(&self, port: &str) {
        let is_output = self
            .client
            .port_by_name(port)
            .is_some_and(|p| p.flags().contains(jack::PortFlags::IS_OUTPUT));
        for other in self.connections(port) {
            // JACK wants the output first.
            if is_output {
                self.disconnect(port, &other);
            } else {
                self.disconnect(&other, port);
            }
        }
    }

    /// The ports connected to `port` (none if it does not exist).
    pub fn connections(&self, port: &str) -> Vec<String> {
        self.client
            .port_by_name(port)
            .map(|p| p.get_connections())
            .unwrap_or_default()
    }

    /// Waits until the ports connected to `port` are `expected` (in any order). JACK2 makes a
    /// change of connections visible to clients from the server's next cycle on.
    pub fn wait_connections(&self, port: &str, expected: &[&str]) {
        let mut want: Vec<&str> = expected.to_vec();
        want.sort_unstable();
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            seen = self.connections(port);
            seen.sort_unstable();
            if seen == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{port} is connected to {seen:?}, not {want:?}");
    }

    pub fn exists(&self, port: &str) -> bool {
        self.client.port_by_name(port).is_some()
    }

    /// (capture, playback) latency ranges of `port` as JACK reports them.
    pub fn latencies(&self, port: &str) -> ((u32, u32), (u32, u32)) {
        let p = self
            .client
            .port_by_name(port)
            .unwrap_or_else(|| panic!("no port {port}"));
        (
            p.get_latency_range(jack::LatencyType::Capture),
            p.get_latency_range(jack::LatencyType::Playback),
        )
    }

    /// Waits until `ready` holds, polling; panics with `what` after `limit`.
    pub fn wait(&self, what: &str, limit: Duration, mut ready: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + limit;
        while !ready(self) {
            assert!(Instant::now() < deadline, "{what} within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until JACK reports `latency` as the (capture, playback) maximum of `port`
    /// (latencies are recomputed by the server shortly after the graph changes).
    pub fn wait_latency(&self, port: &str, capture: u32, playback: u32) {
        let mut seen = ((0, 0), (0, 0));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            seen = self.latencies(port);
            if seen.0.1 == capture && seen.1.1 == playback {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{port}: JACK reports (capture, playback) {seen:?}, not maxima ({capture}, {playback})"
        );
    }
}

/// A cable that copies `<name>:input` to `<name>:output` `delay` frames later and declares no
/// latency (no latency callback: JACK sees a client that adds nothing), like hardware whose
/// converters do not report theirs. Stops on drop.
pub struct HiddenCable {
    pub name: String,
    pub delay: usize,
    active: Option<jack::AsyncClient<(), jack::contrib::ClosureProcessHandler<(), HiddenProcess>>>,
}

type HiddenProcess = Box<dyn FnMut(&jack::Client, &jack::ProcessScope) -> jack::Control + Send>;

impl HiddenCable {
    pub fn start(server: &JackServer, name: &str, delay: usize) -> Self {
        let client = open_client(server, name);
        let input = client
            .register_port("input", jack::AudioIn::default())
            .expect("register the cable's input");
        let mut output = client
            .register_port("output", jack::AudioOut::default())
            .expect("register the cable's output");
        // A ring of `delay` zeros: each sample out is the one that came in `delay` frames ago.
        let mut ring = vec![0f32; delay];
        let mut at = 0;
        let process: HiddenProcess = Box::new(move |_, ps| {
            let (inp, out) = (input.as_slice(ps), output.as_mut_slice(ps));
            if ring.is_empty() {
                out.copy_from_slice(inp);
            } else {
                for (o, i) in out.iter_mut().zip(inp) {
                    *o = std::mem::replace(&mut ring[at], *i);
                    at = (at + 1) % ring.len();
                }
            }
            jack::Control::Continue
        });
        let active = client
            .activate_async((), jack::contrib::ClosureProcessHandler::new(process))
            .expect("activate the hidden cable");
        Self {
            name: name.to_string(),
            delay,
            active: Some(active),
        }
    }

    pub fn input(&self) -> String {
        format!("{}:input", self.name)
    }

    pub fn output(&self) -> String {
        format!("{}:output", self.name)
    }
}

impl Drop for HiddenCable {
    fn drop(&mut self) {
        if let Some(a) = self.active.take() {
            let _ = a.deactivate();
        }
    }
}

/// `jack_latent_client <delay>` on a server: ports `latent:input` and `latent:output`, the
/// delay declared through JACK's latency API, its own connections to the system ports undone.
/// One per server (the client's name is fixed). Stopped on drop.
pub struct LatentCable {
    pub delay: u32,
    child: Child,
}

impl LatentCable {
    pub const INPUT: &'static str = "latent:input";
    pub const OUTPUT: &'static str = "latent:output";

    /// Panics for `delay` 0: `jack_latent_client 0` dies of a division by zero (jackd2
    /// 1.9.21); a plain connection, or a [`HiddenCable`] of 0, is that cable.
    pub fn start(server: &JackServer, delay: u32) -> Self {
        assert!(delay > 0, "jack_latent_client cannot delay by 0 frames");
        let child = Command::new("jack_latent_client")
            .arg(delay.to_string())
            .env("JACK_DEFAULT_SERVER", &server.name)
            .env("JACK_NO_START_SERVER", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jack_latent_client (package jackd2)");
        let mut cable = Self { delay, child };
        let bay = Patchbay::open(server);
        bay.wait(
            "jack_latent_client's ports appear",
            Duration::from_secs(10),
            |b| {
                if let Ok(Some(status)) = cable.child.try_wait() {
                    panic!("jack_latent_client {delay} ended: {status}");
                }
                b.exists(Self::INPUT) && b.exists(Self::OUTPUT)
            },
        );
        // It connects itself to the first physical ports after registering: wait for those
        // connections (when there are such ports) so that undoing them is not undone.
        let physical = |flags| {
            !bay.client
                .ports(None, Some("audio"), flags | jack::PortFlags::IS_PHYSICAL)
                .is_empty()
        };
        let (has_capture, has_playback) = (
            physical(jack::PortFlags::IS_OUTPUT),
            physical(jack::PortFlags::IS_INPUT),
        );
        bay.wait(
            "jack_latent_client connects to the system ports",
            Duration::from_secs(10),
            |b| {
                (!has_capture || !b.connections(Self::INPUT).is_empty())
                    && (!has_playback || !b.connections(Self::OUTPUT).is_empty())
            },
        );
        bay.disconnect_all(Self::INPUT);
        bay.disconnect_all(Self::OUTPUT);
        bay.wait_connections(Self::INPUT, &[]);
        bay.wait_connections(Self::OUTPUT, &[]);
        cable
    }
}

impl Drop for LatentCable {
    fn drop(&mut self) {
        // Asked first: a JACK client killed outright leaves the server to clean up after it.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many frames after it went into `into` an impulse comes out of `from`, on the server's
/// frame counter. A player client writes a 1.0 at the first frame of a cycle into `into`, a
/// listener client finds it on `from`: two clients, like tapedeck's output and input streams,
/// so the graph has no cycle for JACK to break with a period's delay. Retried if an impulse
/// is lost (a client late on a loaded machine).
pub fn impulse_delay(server: &JackServer, into: &str, from: &str) -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    // Frame counter of the cycle the impulse went out in, and where it arrived; -1 for not yet.
    let sent = Arc::new(AtomicI64::new(-1));
    let arrived = Arc::new(AtomicI64::new(-1));
    let armed = Arc::new(AtomicBool::new(false));

    let player = open_client(server, &format!("impulse_out{n}"));
    let mut out = player
        .register_port("out", jack::AudioOut::default())
        .expect("register the player's port");
    let (p_sent, p_armed) = (Arc::clone(&sent), Arc::clone(&armed));
    let play = jack::contrib::ClosureProcessHandler::new(
        move |_: &jack::Client, ps: &jack::ProcessScope| {
            let buf = out.as_mut_slice(ps);
            buf.fill(0.0);
            if p_armed.swap(false, Ordering::AcqRel) {
                buf[0] = 1.0;
                p_sent.store(i64::from(ps.last_frame_time()), Ordering::Release);
            }
            jack::Control::Continue
        },
    );
    let listener = open_client(server, &format!("impulse_in{n}"));
    let inp = listener
        .register_port("in", jack::AudioIn::default())
        .expect("register the listener's port");
    let l_arrived = Arc::clone(&arrived);
    let listen = jack::contrib::ClosureProcessHandler::new(
        move |_: &jack::Client, ps: &jack::ProcessScope| {
            if let Some(k) = inp.as_slice(ps).iter().position(|&s| s != 0.0) {
                let _ = l_arrived.compare_exchange(
                    -1,
                    i64::from(ps.last_frame_time()) + k as i64,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
            jack::Control::Continue
        },
    );
    let player = player
        .activate_async((), play)
        .expect("activate the player");
    let listener = listener
        .activate_async((), listen)
        .expect("activate the listener");
    let bay = Patchbay::open(server);
    bay.connect(&format!("impulse_out{n}:out"), into);
    bay.connect(from, &format!("impulse_in{n}:in"));

    let mut delay = None;
    for _ in 0..3 {
        sent.store(-1, Ordering::Release);
        arrived.store(-1, Ordering::Release);
        armed.store(true, Ordering::Release);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && arrived.load(Ordering::Acquire) < 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
        let (s, a) = (
            sent.load(Ordering::Acquire),
            arrived.load(Ordering::Acquire),
        );
        if s >= 0 && a >= 0 {
            delay = Some(u32::try_from(a - s).expect("the impulse came back before it left"));
            break;
        }
    }
    let _ = player.deactivate();
    let _ = listener.deactivate();
    delay.unwrap_or_else(|| panic!("no impulse came out of {from} after going into {into}"))
}
