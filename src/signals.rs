//! Signals end a take cleanly: SIGINT, SIGTERM and SIGQUIT stop it (files finalised, manifest
//! written); SIGHUP (the terminal or SSH connection went away) lets it run to its end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use crate::engine::{Command, Commander, EndReason};
use crate::error::Error;

pub(crate) struct SignalGuard {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
    hung_up: Arc<AtomicBool>,
    terminated: Arc<AtomicBool>,
}

impl SignalGuard {
    /// SIGHUP arrived: the terminal is gone.
    pub(crate) fn hung_up(&self) -> bool {
        self.hung_up.load(Ordering::Relaxed)
    }

    /// SIGINT, SIGTERM or SIGQUIT arrived: the take was told to stop; the program should end.
    pub(crate) fn terminated(&self) -> bool {
        self.terminated.load(Ordering::Relaxed)
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(crate) fn install(commander: Commander) -> Result<SignalGuard, Error> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGQUIT, SIGHUP])
        .map_err(|e| Error::Runtime(format!("cannot install signal handlers: {e}")))?;
    let handle = signals.handle();
    let hung_up = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&hung_up);
    let terminated = Arc::new(AtomicBool::new(false));
    let term = Arc::clone(&terminated);
    let thread = std::thread::Builder::new()
        .name("tapedeck-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGHUP {
                    // Nobody is watching any more, but the take goes on to its end.
                    flag.store(true, Ordering::Relaxed);
                    continue;
                }
                term.store(true, Ordering::Relaxed);
                commander.send(Command::Stop {
                    reason: EndReason::Signal,
                });
            }
        })
        .map_err(|e| Error::Runtime(format!("cannot start the signal thread: {e}")))?;
    Ok(SignalGuard {
        handle,
        thread: Some(thread),
        hung_up,
        terminated,
    })
}
