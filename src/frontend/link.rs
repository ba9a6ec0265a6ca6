//! What the screen (`crate::tui`) needs of a recorder, whether it runs in this process (the
//! `Driver`) or in another one reached over its control socket (`tapedeck attach`): the
//! newest snapshot, commands, events, and how the run ends. The screen's code is the same for
//! both; only the link differs.

use std::io::Write;
use std::time::Duration;

use super::Driver;
use super::words::describe_take;
use crate::engine::{Command, Event, Snapshot};
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
        // The engine is this process: it ends only when the screen has ended.
        None
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
