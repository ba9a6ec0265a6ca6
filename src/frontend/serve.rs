//! `record --serve`: the recorder as a service. No screen and no take at start (unless
//! `--record`): takes are asked for through the control socket, and between them it waits.
//! Events go to stdout as headless prints them (status lines too with `--json-status`).
//!
//! SIGHUP is ignored (a service outlives the terminal or SSH session that started it);
//! SIGTERM, SIGINT and SIGQUIT stop any take (the signal thread already sends the stop),
//! wait for its files to be finished, and exit 0, or 1 if a take of this run failed.

use std::time::{Duration, Instant};

use super::Driver;
use super::headless::{Printer, StatusStyle, status_line};
use crate::engine::{Command, Event, Transport};
use crate::error::Error;

/// How long a take may take to finish after a signal before the engine is shut down anyway
/// (shutting down finishes it too; this only lets its events reach clients first).
const STOP_WAIT: Duration = Duration::from_secs(30);

pub(crate) fn run(
    driver: Driver,
    take_frames: Option<u64>,
    record_now: bool,
    printer: &Printer,
) -> Result<i32, Error> {
    let tap = driver.engine().meter_tap();
    if record_now {
        driver.send(Command::Record {
            max_frames: take_frames,
        });
    }
    let mut next_status = Instant::now() + Duration::from_secs(1);
    let mut recording = false;
    let mut stopping_since: Option<Instant> = None;
    loop {
        let wait = next_status.saturating_duration_since(Instant::now());
        if let Some(ev) = driver.next_event(wait.min(Duration::from_millis(100))) {
            printer.event(&ev);
            match ev {
                Event::TakeStarted { .. } => recording = true,
                Event::TakeFinished(_) => recording = false,
                _ => {}
            }
        }
        let now = Instant::now();
        if now >= next_status {
            next_status += Duration::from_secs(1);
            if printer.style == StatusStyle::Json {
                printer.status(&status_line(&driver.engine().snapshot(), &tap.take()));
            }
        }
        if driver.terminated() {
            let since = *stopping_since.get_or_insert(now);
            let still = recording
                || matches!(
                    driver.engine().snapshot().transport,
                    Transport::Recording { .. }
                );
            if !still || since.elapsed() >= STOP_WAIT {
                break;
            }
        }
        if driver.engine_gone() {
            break;
        }
        // A hangup is not news to a service: it goes on.
        let _ = driver.hung_up();
    }
    let finished = driver.finish()?;
    let code = finished.exit_code(false);
    if let Some(t) = finished.takes().iter().find(|t| t.reason.is_failure()) {
        printer.note(&format!(
            "tapedeck: take {} ended early ({}); what was captured is in {}",
            t.take,
            t.reason.describe(),
            finished.session.dir().join("session.json").display()
        ));
    }
    Ok(code)
}
