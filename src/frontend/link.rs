//! What the screen (`crate::tui`) needs of a recorder, whether it runs in this process (the
//! `Driver`) or in another one reached over its control socket (`tapedeck attach`): the
//! newest snapshot, commands, events, and how the run ends. The screen's code is the same for
//! both; only the link differs.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

use super::Driver;
use super::words::{describe_take, describe_take_brief};
use crate::control::protocol::MIN_INTERVAL_MS;
use crate::control::{Client, ControlError, EXIT_UNREACHABLE, Pushed, Subscription};
use crate::display::hms;
use crate::engine::{Command, Event, Snapshot, Transport};
use crate::error::Error;
use crate::tui::app::Attached;

/// Why the screen's loop ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The user quit.
    Quit,
    /// The terminal went away (SIGHUP, or stdin closed).
    HungUp,
    /// SIGINT, SIGTERM or SIGQUIT reached this process.
    Terminated,
    /// The recorder went away (`Link::gone`), in words.
    Gone(String),
}

/// A recorder as the screen sees it.
pub(crate) trait Link {
    /// What to show now (the newest snapshot the link has).
    fn snapshot(&mut self) -> Snapshot;
    /// Sends a command; a link that can no longer send says so through `gone`.
    fn send(&mut self, cmd: Command);
    /// The next engine event within `timeout`.
    fn next_event(&mut self, timeout: Duration) -> Option<Event>;
    /// The recorder went away: why, in words. Nothing more will come.
    fn gone(&self) -> Option<String>;
    /// SIGHUP reached this process: its terminal is gone.
    fn hung_up(&self) -> bool;
    /// SIGINT, SIGTERM or SIGQUIT reached this process.
    fn terminated(&self) -> bool;
    /// The recorder is in another process: which one (shown in the header).
    fn attached(&self) -> Option<Attached>;
    /// After the screen is closed and the terminal restored: what ending the run means for
    /// the recorder, said on stdout/stderr. `recording`: a take was running when the screen
    /// closed. Returns the exit status.
    fn finish(self, ending: Ending, recording: bool) -> Result<i32, Error>;
}

/// In this process: quitting shuts the engine down and lists the takes of this run.
impl Link for Driver {
    fn snapshot(&mut self) -> Snapshot {
        self.engine().snapshot()
    }

    fn send(&mut self, cmd: Command) {
        Driver::send(self, cmd);
    }

    fn next_event(&mut self, timeout: Duration) -> Option<Event> {
        Driver::next_event(self, timeout)
    }

    fn gone(&self) -> Option<String> {
        // The engine ends before the screen only when told to through the control socket
        // (`shutdown`), or when its writer failed: a screen over it would show nothing more.
        self.engine_gone().then(|| {
            "the engine has stopped (shut down through the control socket, or failed)".to_string()
        })
    }

    fn hung_up(&self) -> bool {
        Driver::hung_up(self)
    }

    fn terminated(&self) -> bool {
        Driver::terminated(self)
    }

    fn attached(&self) -> Option<Attached> {
        None
    }

    fn finish(mut self, ending: Ending, recording: bool) -> Result<i32, Error> {
        let hung_up = ending == Ending::HungUp;
        if hung_up {
            self.note_hangup(recording);
            if recording {
                // Nobody can press stop now: the take ends at --duration, SIGINT or SIGTERM.
                self.wait_for_take_end();
            }
        }
        if let Ending::Gone(why) = &ending {
            eprintln!("tapedeck: {why}");
        }
        let finished = Driver::finish(self)?;
        // Say where everything went, on the restored terminal (ignored if it is gone).
        if !hung_up {
            let mut out = std::io::stdout().lock();
            let session = &finished.session;
            let takes = session.manifest().takes.len();
            let _ = writeln!(
                out,
                "tapedeck: session {} has {takes} take{}",
                session.dir().display(),
                if takes == 1 { "" } else { "s" }
            );
            let dir = session.dir().display().to_string();
            for s in finished.takes() {
                let _ = writeln!(out, "{}", describe_take(&s, &dir));
            }
        }
        Ok(finished.exit_code(false))
    }
}

/// A recorder in another process, through its control socket (`tapedeck attach`): snapshots
/// and engine events pushed at the screen's rate, commands sent as the engine's own.
/// Quitting leaves the recorder (and any take) running.
pub(crate) struct Remote {
    client: Client,
    /// The recorder's process and session, from its hello.
    pid: u32,
    session: String,
    session_dir: String,
    snap: Snapshot,
    events: VecDeque<Event>,
    gone: Option<String>,
    /// The last command sent was a stop: the end waits for the take to finish to say so.
    stopping: bool,
    hung_up: Arc<AtomicBool>,
    terminated: Arc<AtomicBool>,
    signals: Vec<signal_hook::SigId>,
}

/// How long the end of an attached run waits for a take it stopped to finish.
const STOP_WAIT: Duration = Duration::from_secs(10);

impl Remote {
    /// Subscribes `client` to snapshots (`fps` a second) and the engine's events.
    /// SIGINT, SIGTERM and SIGQUIT end this screen only; the recorder never sees them.
    pub(crate) fn start(mut client: Client, fps: u32) -> Result<Self, ControlError> {
        let interval_ms = (1000 / u64::from(fps.max(1))).max(MIN_INTERVAL_MS);
        client.subscribe(&Subscription {
            events: false,
            engine_events: true,
            status: false,
            meters: false,
            snapshots: true,
            interval_ms,
        })?;
        let snap = client.snapshot()?;
        let hello = client.hello();
        let (pid, session, session_dir) =
            (hello.pid, hello.session.clone(), hello.session_dir.clone());
        let hung_up = Arc::new(AtomicBool::new(false));
        let terminated = Arc::new(AtomicBool::new(false));
        let mut signals = Vec::new();
        let flags = [
            (SIGHUP, &hung_up),
            (SIGINT, &terminated),
            (SIGTERM, &terminated),
            (SIGQUIT, &terminated),
        ];
        for (sig, flag) in flags {
            let id = signal_hook::flag::register(sig, Arc::clone(flag))
                .map_err(|e| ControlError::Setup(format!("cannot install signal handlers: {e}")))?;
            signals.push(id);
        }
        Ok(Self {
            client,
            pid,
            session,
            session_dir,
            snap,
            events: VecDeque::new(),
            gone: None,
            stopping: false,
            hung_up,
            terminated,
            signals,
        })
    }

    /// Takes what the recorder pushed, waiting at most `timeout` for the first message.
    fn pump(&mut self, timeout: Duration) {
        let mut wait = timeout;
        while self.gone.is_none() {
            match self.client.recv_timeout(wait) {
                Ok(Some(p)) => self.take(p),
                Ok(None) => return,
                Err(e) => self.lose(e),
            }
            wait = Duration::ZERO;
        }
    }

    fn take(&mut self, p: Pushed) {
        match p {
            Pushed::Snapshot(s) => self.snap = *s,
            Pushed::Event(ev) => self.events.push_back(ev),
            Pushed::Lagged(n) => self.events.push_back(Event::Warning(format!(
                "this screen fell behind: {n} updates from the recorder were skipped"
            ))),
            // Not subscribed to, or from a newer recorder: nothing this screen shows.
            Pushed::Status(_) | Pushed::Meters(_) | Pushed::Notice { .. } | Pushed::Other(_) => {}
        }
    }

    /// The connection failed: the recorder is gone (or refuses this screen), for good.
    fn lose(&mut self, e: ControlError) {
        if self.gone.is_none() {
            self.gone = Some(format!(
                "lost the recorder (pid {}, session {}): {e}",
                self.pid, self.session
            ));
        }
    }

    /// What the recorder is doing now, in words, for the line printed at the end.
    fn doing(&self) -> String {
        match &self.snap.transport {
            Transport::Recording { take, frames, .. } => format!(
                "recording take {take} ({} so far)",
                hms(*frames / u64::from(self.snap.sample_rate.max(1)))
            ),
            Transport::Stopped => format!("between takes (next take {})", self.snap.next_take),
        }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        for id in self.signals.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

impl Link for Remote {
    fn snapshot(&mut self) -> Snapshot {
        self.pump(Duration::ZERO);
        self.snap.clone()
    }

    fn send(&mut self, cmd: Command) {
        if self.gone.is_some() {
            return;
        }
        self.stopping = matches!(cmd, Command::Stop { .. });
        match self.client.send_command(&cmd) {
            Ok(_) => {}
            // The recorder said no: shown like the engine's own warnings.
            Err(ControlError::Refused(why)) => self.events.push_back(Event::Warning(why)),
            Err(e @ (ControlError::Lost(_) | ControlError::Unreachable(_))) => self.lose(e),
            Err(e) => self.events.push_back(Event::Warning(e.to_string())),
        }
    }

    fn next_event(&mut self, timeout: Duration) -> Option<Event> {
        if self.events.is_empty() {
            self.pump(timeout);
        }
        self.events.pop_front()
    }

    fn gone(&self) -> Option<String> {
        self.gone.clone()
    }

    fn hung_up(&self) -> bool {
        self.hung_up.load(Ordering::Relaxed)
    }

    fn terminated(&self) -> bool {
        self.terminated.load(Ordering::Relaxed)
    }

    fn attached(&self) -> Option<Attached> {
        Some(Attached { pid: self.pid })
    }

    fn finish(mut self, ending: Ending, _recording: bool) -> Result<i32, Error> {
        if let Ending::Gone(why) = ending {
            eprintln!("tapedeck: {why}");
            return Ok(EXIT_UNREACHABLE);
        }
        if ending == Ending::HungUp {
            // Nobody to tell; the recorder never depended on this screen.
            return Ok(0);
        }
        let mut out = std::io::stdout().lock();
        if self.stopping {
            // The take was stopped on the way out: say how it ended, as the recorder has it.
            let deadline = Instant::now() + STOP_WAIT;
            while self.gone.is_none() && Instant::now() < deadline {
                match self.next_event(Duration::from_millis(200)) {
                    Some(Event::TakeFinished(s)) => {
                        let _ = writeln!(
                            out,
                            "tapedeck: {}",
                            describe_take_brief(&s, &self.session_dir)
                        );
                        break;
                    }
                    Some(Event::TakeRefused(w) | Event::Warning(w)) => {
                        let _ = writeln!(out, "tapedeck: {w}");
                    }
                    _ => {}
                }
            }
        }
        // A fresh look: the snapshot pushed last may be a frame old.
        match self.client.snapshot() {
            Ok(s) => self.snap = s,
            Err(e) => {
                eprintln!(
                    "tapedeck: lost the recorder (pid {}, session {}): {e}",
                    self.pid, self.session
                );
                return Ok(EXIT_UNREACHABLE);
            }
        }
        let _ = writeln!(
            out,
            "tapedeck: detached; the recorder (pid {}, session {}) goes on running, {}.\n`tapedeck attach` comes back to it.",
            self.pid,
            self.session,
            self.doing()
        );
        Ok(0)
    }
}
