//! What every front end does around the engine, whatever it shows: signals, the terminal
//! hanging up, waiting for a take to end, shutting down, and the exit status. The headless
//! printer (`headless`) and the TUI (`crate::tui`) both run on a `Driver`; the TUI sees it
//! through a `link::Link`, as it sees a recorder in another process.

pub(crate) mod headless;
pub(crate) mod link;
pub(crate) mod serve;
pub(crate) mod words;

use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use crate::control::server::Server;
use crate::engine::{Command, EndReason, Engine, Event, TakeSummary};
use crate::error::{EXIT_RUNTIME, Error};
use crate::session::Session;
use crate::signals::SignalGuard;

/// An engine with the process's signals wired to it.
pub(crate) struct Driver {
    engine: Engine,
    signals: SignalGuard,
    /// Takes the session had before this run.
    takes_before: usize,
    hangup_noted: bool,
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
            control: None,
        })
    }

    /// Serves the control socket with this driver's events from now on.
    pub(crate) fn set_control(&mut self, server: Server) {
        self.control = Some(server);
    }

    /// The control socket's path, when one is served.
    pub(crate) fn control_path(&self) -> Option<&std::path::Path> {
        self.control.as_ref().map(Server::path)
    }

    fn publish(&self, e: &Event) {
        if let Some(c) = &self.control {
            c.publish(e);
        }
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn send(&self, cmd: Command) {
        self.engine.send(cmd);
    }

    /// The next event within `timeout`.
    pub(crate) fn next_event(&self, timeout: Duration) -> Option<Event> {
        match self.engine.events().recv_timeout(timeout) {
            Ok(ev) => {
                self.publish(&ev);
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
                    self.publish(&ev);
                    if matches!(ev, Event::TakeFinished(_)) {
                        return;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Finishes any take, stops the engine and the stream.
    pub(crate) fn finish(self) -> Result<Finished, Error> {
        let Self {
            engine,
            signals,
            takes_before,
            hangup_noted,
            control,
        } = self;
        let hung_up = signals.hung_up() || hangup_noted;
        // Signals must not reach an engine that is going away.
        drop(signals);
        let session = engine.shutdown(EndReason::Stopped);
        // Clients are told the recorder is gone by their connection closing; the socket
        // file goes with it.
        drop(control);
        let session = session?;
        Ok(Finished {
            session,
            takes_before,
            hung_up,
        })
    }
}
