//! What every front end does around the engine, whatever it shows: signals, the terminal
//! hanging up, waiting for a take to end, shutting down, and the exit status. The headless
//! printer (`headless`) and the TUI (`crate::tui`) both run on a `Driver`; the TUI sees it
//! through a `link::Link`, as it sees a recorder in another process.

pub(crate) mod headless;
pub(crate) mod link;
pub(crate) mod serve;
pub(crate) mod words;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use crate::control::server::Server;
use crate::engine::{Command, EndReason, Engine, Event, TakeSummary};
use crate::error::{EXIT_RUNTIME, Error};
use crate::hooks::{EndedTake, HookOutcome, Hooks};
use crate::session::Session;
use crate::signals::SignalGuard;

/// An engine with the process's signals wired to it.
pub(crate) struct Driver {
    engine: Engine,
    signals: SignalGuard,
    /// Takes the session had before this run.
    takes_before: usize,
    hangup_noted: bool,
    /// `--on-take-end` commands, and the session folder their takes are in.
    hooks: Option<(Hooks, PathBuf)>,
    /// Events of the front end's own (a hook failed), shown like the engine's.
    own_events: VecDeque<Event>,
    /// The control socket, when it runs: every event this driver receives is published to
    /// it (a send that never waits), and it goes away (its file removed) after the engine.
    control: Option<Server>,
}

/// How a run ended.
pub(crate) struct Finished {
    pub(crate) session: Session,
    takes_before: usize,
    /// The terminal hung up at some point.
    pub(crate) hung_up: bool,
}

impl Finished {
    /// The takes recorded in this run, as the manifest has them.
    pub(crate) fn takes(&self) -> Vec<TakeSummary> {
        self.session.manifest().takes[self.takes_before.min(self.session.manifest().takes.len())..]
            .iter()
            .filter_map(TakeSummary::from_record)
            .collect()
    }

    /// 0, or 1 when a take ended by a failure (device lost, disk full, a write error) or
    /// (`take_required`) none was recorded.
    pub(crate) fn exit_code(&self, take_required: bool) -> i32 {
        let takes = self.takes();
        let failed = takes.iter().any(|t| t.reason.is_failure());
        if failed || (take_required && takes.is_empty()) {
            EXIT_RUNTIME
        } else {
            0
        }
    }
}

/// What the hangup note says.
fn hangup_note(recording: bool) -> &'static str {
    if recording {
        "the terminal hung up during the take; it went on recording to its end"
    } else {
        "the terminal hung up between takes; tapedeck exited"
    }
}

impl Driver {
    /// SIGINT, SIGTERM and SIGQUIT stop the take from now on; SIGHUP is noted.
    /// `takes_before`: the takes the session had before this run.
    pub(crate) fn start(engine: Engine, takes_before: usize) -> Result<Self, Error> {
        let signals = crate::signals::install(engine.commander())?;
        Ok(Self {
            engine,
            signals,
            takes_before,
            hangup_noted: false,
            hooks: None,
            own_events: VecDeque::new(),
            control: None,
        })
    }

    /// Runs `hooks` for every take that ends from now on (takes in `session_dir`).
    pub(crate) fn with_hooks(mut self, hooks: Hooks, session_dir: PathBuf) -> Self {
        self.hooks = Some((hooks, session_dir));
        self
    }

    /// Serves the control socket with this driver's events from now on.
    pub(crate) fn set_control(&mut self, server: Server) {
        self.control = Some(server);
    }

    /// The control socket's path, when one is served.
    pub(crate) fn control_path(&self) -> Option<&std::path::Path> {
        self.control.as_ref().map(Server::path)
    }

    /// What every event goes through before a front end sees it: the control socket's
    /// clients get it, and a take that ended starts its hooks.
    fn observe(&self, ev: &Event) {
        if let Some(c) = &self.control {
            c.publish(ev);
        }
        if let (Event::TakeFinished(s), Some((hooks, dir))) = (ev, &self.hooks) {
            hooks.take_ended(EndedTake::new(s, dir));
        }
    }

    /// Hook runs that ended: noted in the session's log; a failure is also a warning.
    fn collect_hooks(&mut self) {
        let Some((hooks, _)) = &self.hooks else {
            return;
        };
        for o in hooks.finished() {
            self.report_hook(&o);
        }
    }

    fn report_hook(&mut self, o: &HookOutcome) {
        self.engine.send(Command::Note(o.text.clone()));
        if !o.ok {
            self.own_events.push_back(Event::Warning(o.text.clone()));
        }
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn send(&self, cmd: Command) {
        self.engine.send(cmd);
    }

    /// The next event within `timeout`.
    pub(crate) fn next_event(&mut self, timeout: Duration) -> Option<Event> {
        self.collect_hooks();
        if let Some(ev) = self.own_events.pop_front() {
            self.observe(&ev);
            return Some(ev);
        }
        match self.engine.events().recv_timeout(timeout) {
            Ok(ev) => {
                self.observe(&ev);
                Some(ev)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                // Waiting is still what the caller asked for.
                std::thread::sleep(timeout);
                None
            }
        }
    }

    /// The engine's writer has ended (it only does after a shutdown, or if it failed):
    /// nothing more will happen.
    pub(crate) fn engine_gone(&self) -> bool {
        self.engine.is_gone()
    }

    /// SIGHUP arrived: the terminal is gone.
    pub(crate) fn hung_up(&self) -> bool {
        self.signals.hung_up()
    }

    /// SIGINT, SIGTERM or SIGQUIT arrived: the program should end.
    pub(crate) fn terminated(&self) -> bool {
        self.signals.terminated()
    }

    /// Notes in the manifest, once, that the terminal went away.
    pub(crate) fn note_hangup(&mut self, recording: bool) {
        if !self.hangup_noted {
            self.hangup_noted = true;
            self.engine
                .send(Command::Note(hangup_note(recording).to_string()));
        }
    }

    /// Waits for the take being recorded to end by itself (its duration, a signal, a
    /// failure): nobody can press stop any more.
    pub(crate) fn wait_for_take_end(&self) {
        loop {
            match self
                .engine
                .events()
                .recv_timeout(Duration::from_millis(200))
            {
                Ok(ev) => {
                    self.observe(&ev);
                    if matches!(ev, Event::TakeFinished(_)) {
                        return;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Finishes any take, stops the engine and the stream, then waits (a while) for the
    /// take-end hooks, whose outcome is noted in the session.
    pub(crate) fn finish(self) -> Result<Finished, Error> {
        let Self {
            engine,
            signals,
            takes_before,
            hangup_noted,
            hooks,
            own_events: _,
            control,
        } = self;
        let hung_up = signals.hung_up() || hangup_noted;
        // Signals must not reach an engine that is going away.
        drop(signals);
        // A take ended by the shutdown itself (quitting the screen mid-take) has its hooks too.
        let (session, rest) = engine.shutdown_and_drain(EndReason::Stopped);
        // The control socket's clients see those last events; then they are told the recorder
        // is gone by their connection closing, and the socket file goes with it.
        if let Some(c) = &control {
            for ev in &rest {
                c.publish(ev);
            }
        }
        drop(control);
        let mut hook_notes = Vec::new();
        if let Some((hooks, dir)) = hooks {
            for ev in &rest {
                if let Event::TakeFinished(s) = ev {
                    hooks.take_ended(EndedTake::new(s, &dir));
                }
            }
            let log = hooks.log().to_path_buf();
            if hooks.pending() > 0 {
                eprintln!(
                    "tapedeck: waiting for the take-end hooks of {} take(s) to finish (at most {} s)",
                    hooks.pending(),
                    crate::hooks::EXIT_WAIT.as_secs()
                );
            }
            let (outcomes, still_running) = hooks.finish(crate::hooks::EXIT_WAIT);
            hook_notes.extend(outcomes);
            if still_running {
                eprintln!(
                    "tapedeck: a take-end hook is still running after {} s; it is left running (its output goes to {})",
                    crate::hooks::EXIT_WAIT.as_secs(),
                    log.display()
                );
            }
        }
        let mut session = session?;
        for o in hook_notes {
            if !o.ok {
                eprintln!("tapedeck: WARNING: {}", o.text);
            }
            // The engine is gone: the note goes into the manifest directly.
            if let Err(e) = session.note(crate::session::now(), Some(o.take), &o.text) {
                eprintln!("tapedeck: could not note the hook's outcome in session.json: {e}");
            }
        }
        Ok(Finished {
            session,
            takes_before,
            hung_up,
        })
    }
}
