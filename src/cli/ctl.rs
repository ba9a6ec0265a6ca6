//! `tapedeck ctl [--socket PATH] [--session NAME] VERB [ARGS]`: a running recorder controlled
//! from a script, another terminal or over SSH, through its control socket.
//!
//! Exit status: 0 done, 1 refused by the recorder (a take that did not start, a bad track),
//! 2 usage, 3 no recorder reachable.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::control::protocol::{self, Pushed, TrackRef, Verdict};
use crate::control::{self, Client, ControlError, Request, Subscription, Verb};
use crate::engine::{Event, Transport};
use crate::error::{EXIT_RUNTIME, EXIT_USAGE};
use crate::frontend::headless::format_text;

/// How long `record` and `keep-last` wait for the take to start, and verdicts for their answer.
const ANSWER_WAIT: Duration = Duration::from_secs(15);
/// How long `stop` waits for the take's files to be finished.
const STOP_WAIT: Duration = Duration::from_secs(60);

#[derive(Args, Debug)]
pub(crate) struct CtlArgs {
    /// The recorder's control socket (default: the only recorder running, or --session's).
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
    /// The session whose recorder to control, when several run.
    #[arg(long, value_name = "NAME", global = true)]
    session: Option<String>,
    #[command(subcommand)]
    verb: CtlVerb,
}

#[derive(Subcommand, Debug)]
enum CtlVerb {
    /// The recorder's status in one line (take, time, each track's level, dropouts).
    Status {
        /// The status line as JSON, as `--json-status` prints it.
        #[arg(long)]
        json: bool,
    },
    /// Arm a track (its number or name) or `all`, for the next take.
    Arm {
        #[arg(value_name = "TRACK|all")]
        track: String,
    },
    /// Disarm a track (its number or name) or `all`.
    Disarm {
        #[arg(value_name = "TRACK|all")]
        track: String,
    },
    /// Start a take of the armed tracks; waits until it has started (exit 1 if it did not).
    Record {
        /// Stop by itself after this long: 90s, 10m, 1h30m.
        #[arg(long, value_name = "DURATION", value_parser = check_duration)]
        duration: Option<String>,
    },
    /// Stop the take; waits until its files are finished.
    Stop,
    /// Drop a marker into the take being recorded.
    Mark {
        #[arg(value_name = "LABEL")]
        label: Option<String>,
    },
    /// Rename a track (for the next take).
    Rename {
        #[arg(value_name = "TRACK")]
        track: String,
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Write a note into the session's log.
    Note {
        #[arg(value_name = "TEXT")]
        text: String,
    },
    /// Make a take of what was just played (the last DURATION, or all that is kept).
    KeepLast {
        #[arg(value_name = "DURATION", value_parser = check_duration)]
        duration: Option<String>,
    },
    /// Mark a take (or one track's file of it) as one to keep.
    Keep(VerdictArgs),
    /// Mark a take (or one track's file) not to use.
    NoGood(VerdictArgs),
    /// Circle a take (or one track's file): the keeper to use.
    Circle(VerdictArgs),
    /// Remove a take's (or one track's) mark and note.
    Clear(VerdictArgs),
    /// Print events and a status line a second as JSON lines until the recorder ends or
    /// you interrupt.
    Events {
        /// Meters too, every interval.
        #[arg(long)]
        meters: bool,
        /// The engine's events exactly (`{"type":"event",...}`) instead of the
        /// --json-status forms.
        #[arg(long)]
        engine_events: bool,
        /// Interval of status lines and meters, in milliseconds.
        #[arg(long, default_value_t = 1000, value_name = "MS",
              value_parser = clap::value_parser!(u64).range(20..=60_000))]
        interval: u64,
    },
    /// Send one raw request (a JSON object with a "cmd") and print the reply.
    Send {
        #[arg(value_name = "JSON")]
        json: String,
    },
}

#[derive(Args, Debug)]
struct VerdictArgs {
    /// The take's number.
    #[arg(value_name = "TAKE")]
    take: u32,
    /// Only this track's file of the take (its number).
    #[arg(long, value_name = "N")]
    track: Option<u16>,
    /// A note to go with the mark.
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
}

fn check_duration(s: &str) -> Result<String, String> {
    crate::duration::parse(s).map(|_| s.to_string())
}

/// Runs `ctl`; returns the exit status (messages are printed here).
pub(crate) fn run(a: CtlArgs) -> i32 {
    match run_verb(a) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tapedeck: {e}");
            e.exit_code()
        }
    }
}

fn connect(socket: Option<&Path>, session: Option<&str>) -> Result<Client, ControlError> {
    let path = match socket {
        Some(p) => p.to_path_buf(),
        None => control::find_socket(session)?,
    };
    Client::connect(&path)
}

fn run_verb(a: CtlArgs) -> Result<i32, ControlError> {
    if let CtlVerb::Send { json } = &a.verb {
        // Checked before connecting: a typo is a usage error, whoever is running.
        if serde_json::from_str::<Value>(json).map_or(true, |v| !v.is_object()) {
            eprintln!(
                "tapedeck: ctl send takes one JSON object with a \"cmd\", e.g. '{{\"cmd\":\"status\"}}'"
            );
            return Ok(EXIT_USAGE);
        }
    }
    let mut c = connect(a.socket.as_deref(), a.session.as_deref())?;
    match a.verb {
        CtlVerb::Status { json } => {
            let line = c.status()?;
            if json {
                println!("{}", serde_json::to_string(&line).unwrap_or_default());
            } else {
                println!("{}", format_text(&line));
            }
            Ok(0)
        }
        CtlVerb::Arm { track } => simple(
            &mut c,
            Verb::Arm {
                track: TrackRef::parse(&track),
            },
        ),
        CtlVerb::Disarm { track } => simple(
            &mut c,
            Verb::Disarm {
                track: TrackRef::parse(&track),
            },
        ),
        CtlVerb::Record { duration } => start_take(
            &mut c,
            Verb::Record {
                duration,
                frames: None,
            },
        ),
        CtlVerb::KeepLast { duration } => {
            let seconds = duration
                .as_deref()
                .and_then(|d| crate::duration::parse(d).ok())
                .map(|d| d.as_secs_f64());
            start_take(
                &mut c,
                Verb::KeepLast {
                    seconds,
                    frames: None,
                },
            )
        }
        CtlVerb::Stop => stop(&mut c),
        CtlVerb::Mark { label } => simple(&mut c, Verb::Mark { label }),
        CtlVerb::Rename { track, name } => simple(
            &mut c,
            Verb::Rename {
                track: TrackRef::parse(&track),
                name,
            },
        ),
        CtlVerb::Note { text } => simple(&mut c, Verb::Note { text }),
        CtlVerb::Keep(v) => verdict(&mut c, Verdict::Keep, v),
        CtlVerb::NoGood(v) => verdict(&mut c, Verdict::NoGood, v),
        CtlVerb::Circle(v) => verdict(&mut c, Verdict::Circle, v),
        CtlVerb::Clear(v) => verdict(&mut c, Verdict::Clear, v),
        CtlVerb::Events {
            meters,
            engine_events,
            interval,
        } => events(&mut c, meters, engine_events, interval),
        CtlVerb::Send { json } => {
            let value: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
            // The client numbers its requests itself; the reply shows the id that was given.
            let id = value.get("id").cloned();
            match c.request_value(value) {
                Ok(mut r) => {
                    r.id = id;
                    println!("{}", r.to_line());
                    Ok(0)
                }
                Err(ControlError::Refused(m)) => {
                    println!("{}", protocol::error_line(id.as_ref(), &m));
                    Ok(EXIT_RUNTIME)
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// A request whose reply is all there is to wait for.
fn simple(c: &mut Client, v: Verb) -> Result<i32, ControlError> {
    c.request(&Request::Verb(v))?;
    Ok(0)
}

/// The engine's events from now on (and nothing else).
fn watch_engine_events(c: &mut Client) -> Result<(), ControlError> {
    c.subscribe(&Subscription {
        events: false,
        engine_events: true,
        ..Subscription::default()
    })?;
    Ok(())
}

/// `record` and `keep-last`: 0 once the take has started, 1 when the recorder refused it.
fn start_take(c: &mut Client, v: Verb) -> Result<i32, ControlError> {
    watch_engine_events(c)?;
    c.request(&Request::Verb(v))?;
    let deadline = Instant::now() + ANSWER_WAIT;
    while Instant::now() < deadline {
        match c.recv_timeout(Duration::from_millis(200))? {
            Some(Pushed::Event(Event::TakeStarted { take, folder })) => {
                println!(
                    "recording take {take} into {}/{folder}",
                    c.hello().session_dir
                );
                return Ok(0);
            }
            Some(Pushed::Event(Event::TakeRefused(why))) => {
                eprintln!("tapedeck: the recorder did not start a take: {why}");
                return Ok(EXIT_RUNTIME);
            }
            Some(Pushed::Event(Event::Warning(w))) => eprintln!("tapedeck: warning: {w}"),
            _ => {}
        }
    }
    eprintln!(
        "tapedeck: the recorder did not start a take within {} s",
        ANSWER_WAIT.as_secs()
    );
    Ok(EXIT_RUNTIME)
}

/// `stop`: waits for the take to be finished and says how it went.
fn stop(c: &mut Client) -> Result<i32, ControlError> {
    let recording = matches!(c.snapshot()?.transport, Transport::Recording { .. });
    watch_engine_events(c)?;
    c.request(&Request::Verb(Verb::Stop { reason: None }))?;
    if !recording {
        eprintln!("tapedeck: no take was being recorded");
        return Ok(0);
    }
    let deadline = Instant::now() + STOP_WAIT;
    while Instant::now() < deadline {
        if let Some(Pushed::Event(Event::TakeFinished(s))) =
            c.recv_timeout(Duration::from_millis(200))?
        {
            println!(
                "{}",
                crate::frontend::words::describe_take(&s, &c.hello().session_dir)
            );
            return Ok(if s.reason.is_failure() {
                EXIT_RUNTIME
            } else {
                0
            });
        }
    }
    eprintln!(
        "tapedeck: the take did not finish within {} s",
        STOP_WAIT.as_secs()
    );
    Ok(EXIT_RUNTIME)
}

fn verdict(c: &mut Client, v: Verdict, a: VerdictArgs) -> Result<i32, ControlError> {
    send_verdict(c, v, a.take, a.track, a.note)
}

/// A take's verdict sent to a recorder: 0 once it says what the verdict is now (printed),
/// 1 when it warns instead (no such take, ...).
pub(crate) fn send_verdict(
    c: &mut Client,
    verdict: Verdict,
    take: u32,
    track: Option<u16>,
    note: Option<String>,
) -> Result<i32, ControlError> {
    watch_engine_events(c)?;
    c.request(&Request::Verb(Verb::Take {
        verdict,
        take,
        track,
        note,
    }))?;
    let deadline = Instant::now() + ANSWER_WAIT;
    while Instant::now() < deadline {
        match c.recv_timeout(Duration::from_millis(200))? {
            Some(Pushed::Event(Event::Triaged(t))) => {
                println!("{t}");
                return Ok(0);
            }
            Some(Pushed::Event(Event::Warning(w))) => {
                eprintln!("tapedeck: {w}");
                return Ok(EXIT_RUNTIME);
            }
            _ => {}
        }
    }
    eprintln!(
        "tapedeck: the recorder did not answer the verdict within {} s",
        ANSWER_WAIT.as_secs()
    );
    Ok(EXIT_RUNTIME)
}

/// `events`: every pushed message as a JSON line until the recorder goes away.
fn events(
    c: &mut Client,
    meters: bool,
    engine_events: bool,
    interval: u64,
) -> Result<i32, ControlError> {
    c.subscribe(&Subscription {
        events: true,
        engine_events,
        status: true,
        meters,
        snapshots: false,
        interval_ms: interval,
    })?;
    let mut out = std::io::stdout();
    loop {
        let line = match c.recv_line_timeout(Duration::from_secs(3600)) {
            Ok(Some((line, _))) => line,
            Ok(None) => continue,
            // The recorder ended: so do we.
            Err(ControlError::Lost(_)) => return Ok(0),
            Err(e) => return Err(e),
        };
        // A reader that went away (a closed pipe) ends it too.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return Ok(0);
        }
    }
}

/// `tapedeck take` while a recorder holds the session: the recorder of `dir` on its socket
/// in the default place, if one answers there and is that session's.
pub(crate) fn recorder_of(dir: &Path) -> Option<Client> {
    let canonical = std::fs::canonicalize(dir).ok()?;
    let name = canonical.file_name()?.to_str()?.to_string();
    let client = Client::connect(&control::path::default_socket(&name)).ok()?;
    (Path::new(&client.hello().session_dir) == canonical).then_some(client)
}
