//! Commands run when a take ends (`--on-take-end CMD`): copy the take to a NAS, tell a phone.
//!
//! They run on a thread of their own, one after another in the order the takes ended (a copy
//! of take 3 finishes before the copy of take 4 starts), each in a process group of its own
//! so that the Ctrl-C or hangup that stops the recorder does not cut a copy short. What they
//! print goes to `hooks.log` in the session folder, never to the screen or the status
//! stream. Nothing here touches the audio path: the front end hands a finished take over and
//! returns at once, and a hook that fails, hangs or cannot start is reported and changes
//! nothing about the next take.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine::TakeSummary;
use crate::error::Error;

/// Where the hooks' output goes, in the session folder.
pub const LOG_FILE: &str = "hooks.log";

/// How long the recorder waits, when it exits, for hooks still queued or running.
pub const EXIT_WAIT: Duration = Duration::from_secs(60);

/// A take that ended, as its hooks get it.
#[derive(Clone, Debug, PartialEq)]
pub struct EndedTake {
    pub take: u32,
    /// The take's folder (absolute when the session's folder is).
    pub take_dir: PathBuf,
    pub session_dir: PathBuf,
    /// The session's manifest, session.json.
    pub manifest: PathBuf,
    /// How the take ended, as the manifest says it (`stopped`, `signal`, `disk_full`, ...).
    pub end_reason: String,
}

impl EndedTake {
    pub fn new(summary: &TakeSummary, session_dir: &Path) -> Self {
        let end_reason = serde_json::to_value(summary.reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        Self {
            take: summary.take,
            take_dir: session_dir.join(&summary.folder),
            session_dir: session_dir.to_path_buf(),
            manifest: session_dir.join(crate::session::manifest::FILE_NAME),
            end_reason,
        }
    }
}

/// How one hook run went.
#[derive(Clone, Debug, PartialEq)]
pub struct HookOutcome {
    pub take: u32,
    pub command: String,
    /// Exit status 0.
    pub ok: bool,
    /// In words, for the manifest's log and (when it failed) a warning: "take 3: the take-end
    /// hook `...` exited with status 1 after 0.2 s; its output is in .../hooks.log".
    pub text: String,
}

/// The hook runner of one recorder.
pub struct Hooks {
    jobs: Option<Sender<EndedTake>>,
    outcomes: Receiver<HookOutcome>,
    worker: Option<JoinHandle<()>>,
    log: PathBuf,
    /// Takes whose hooks have not all run yet.
    pending: Arc<AtomicUsize>,
}

impl Hooks {
    /// Starts the runner for `commands` (run by `/bin/sh -c`), logging to `log`.
    pub fn start(commands: Vec<String>, log: PathBuf) -> Result<Self, Error> {
        let (job_tx, job_rx) = mpsc::channel::<EndedTake>();
        let (out_tx, out_rx) = mpsc::channel();
        let log_path = log.clone();
        let pending = Arc::new(AtomicUsize::new(0));
        let left = Arc::clone(&pending);
        let worker = std::thread::Builder::new()
            .name("tapedeck-hooks".into())
            .spawn(move || {
                for job in job_rx {
                    for cmd in &commands {
                        if out_tx.send(run_one(cmd, &job, &log_path)).is_err() {
                            return;
                        }
                    }
                    left.fetch_sub(1, Ordering::AcqRel);
                }
            })
            .map_err(|e| Error::Runtime(format!("cannot start the hook thread: {e}")))?;
        Ok(Self {
            jobs: Some(job_tx),
            outcomes: out_rx,
            worker: Some(worker),
            log,
            pending,
        })
    }

    /// Queues the hooks of a take that ended; returns at once.
    pub fn take_ended(&self, take: EndedTake) {
        if let Some(tx) = &self.jobs {
            self.pending.fetch_add(1, Ordering::AcqRel);
            if tx.send(take).is_err() {
                self.pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// Hook runs that finished since the last call.
    pub fn finished(&self) -> Vec<HookOutcome> {
        self.outcomes.try_iter().collect()
    }

    /// Waits up to `limit` for the queued hooks, then returns what they did and whether any
    /// is still running (left running: it belongs to the user).
    pub fn finish(mut self, limit: Duration) -> (Vec<HookOutcome>, bool) {
        self.jobs = None;
        let deadline = Instant::now() + limit;
        let mut done = Vec::new();
        let still_running = loop {
            done.extend(self.outcomes.try_iter());
            match &self.worker {
                Some(w) if !w.is_finished() => {
                    if Instant::now() >= deadline {
                        break true;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => break false,
            }
        };
        if !still_running && let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        done.extend(self.outcomes.try_iter());
        (done, still_running)
    }

    /// Takes whose hooks are queued or running.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    pub fn log(&self) -> &Path {
        &self.log
    }
}

/// Runs `cmd` for `job`, its output appended to `log`.
fn run_one(cmd: &str, job: &EndedTake, log: &Path) -> HookOutcome {
    let started = Instant::now();
    let outcome = |ok: bool, what: String| HookOutcome {
        take: job.take,
        command: cmd.to_string(),
        ok,
        text: format!(
            "take {}: the take-end hook `{cmd}` {what}; its output is in {}",
            job.take,
            log.display()
        ),
    };
    let mut file = match OpenOptions::new().create(true).append(true).open(log) {
        Ok(f) => f,
        Err(e) => {
            return HookOutcome {
                take: job.take,
                command: cmd.to_string(),
                ok: false,
                text: format!(
                    "take {}: the take-end hook `{cmd}` was not run: cannot open {}: {e}",
                    job.take,
                    log.display()
                ),
            };
        }
    };
    let _ = writeln!(
        file,
        "== {} take {} ({}): {cmd}",
        crate::session::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        job.take,
        job.take_dir.display()
    );
    let status = spawn(cmd, job, &file).and_then(|mut child| child.wait());
    let secs = started.elapsed().as_secs_f64();
    let (ok, what) = match status {
        Ok(s) if s.success() => (true, format!("finished after {secs:.1} s")),
        Ok(s) => (
            false,
            match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
                (Some(code), _) => format!("failed with exit status {code} after {secs:.1} s"),
                (None, Some(sig)) => format!("was killed by signal {sig} after {secs:.1} s"),
                (None, None) => format!("failed after {secs:.1} s"),
            },
        ),
        Err(e) => (false, format!("could not be started: {e}")),
    };
    let _ = writeln!(file, "== take {}: {what}", job.take);
    outcome(ok, what)
}

/// `/bin/sh -c CMD tapedeck-hook TAKE_DIR MANIFEST`: `$1` is the take's folder and `$2` the
/// manifest; the same, and more, in `TAPEDECK_*` variables.
fn spawn(cmd: &str, job: &EndedTake, log: &File) -> std::io::Result<std::process::Child> {
    let out = log.try_clone()?;
    let err = log.try_clone()?;
    Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .arg("tapedeck-hook")
        .arg(&job.take_dir)
        .arg(&job.manifest)
        .env("TAPEDECK_TAKE", job.take.to_string())
        .env("TAPEDECK_TAKE_DIR", &job.take_dir)
        .env("TAPEDECK_SESSION_DIR", &job.session_dir)
        .env("TAPEDECK_MANIFEST", &job.manifest)
        .env("TAPEDECK_END_REASON", &job.end_reason)
        .current_dir(&job.session_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        // Its own process group: the terminal's Ctrl-C and hangup are the recorder's.
        .process_group(0)
        .spawn()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(dir: &Path, take: u32) -> EndedTake {
        let take_dir = dir.join(format!("take-{take:03}"));
        std::fs::create_dir_all(&take_dir).expect("take dir");
        EndedTake {
            take,
            take_dir,
            session_dir: dir.to_path_buf(),
            manifest: dir.join("session.json"),
            end_reason: "stopped".into(),
        }
    }

    #[test]
    fn hooks_get_the_take_and_log_their_output_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join(LOG_FILE);
        let hooks = Hooks::start(
            vec![
                r#"echo "take $TAPEDECK_TAKE in $1 with $2 ($TAPEDECK_END_REASON)"; pwd"#.into(),
                "echo to stderr >&2; exit 3".into(),
            ],
            log.clone(),
        )
        .expect("start");
        hooks.take_ended(job(dir.path(), 1));
        hooks.take_ended(job(dir.path(), 2));
        let (outcomes, running) = hooks.finish(Duration::from_secs(30));
        assert!(!running);
        assert_eq!(outcomes.len(), 4);
        assert_eq!(
            outcomes.iter().map(|o| (o.take, o.ok)).collect::<Vec<_>>(),
            [(1, true), (1, false), (2, true), (2, false)]
        );
        assert!(
            outcomes[1].text.contains("failed with exit status 3"),
            "{}",
            outcomes[1].text
        );
        let text = std::fs::read_to_string(&log).expect("log");
        let session = dir.path().display().to_string();
        assert!(text.contains(&format!(
            "take 1 in {session}/take-001 with {session}/session.json (stopped)\n{session}\n"
        )));
        assert!(text.contains("to stderr\n== take 2: failed with exit status 3"));
        assert!(text.find("take 1 (").expect("1") < text.find("take 2 (").expect("2"));
    }

    #[test]
    fn a_hook_that_cannot_run_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A log in a folder that does not exist: the hook cannot be run.
        let hooks = Hooks::start(
            vec!["true".into()],
            dir.path().join("missing").join(LOG_FILE),
        )
        .expect("start");
        hooks.take_ended(job(dir.path(), 7));
        let (outcomes, _) = hooks.finish(Duration::from_secs(30));
        assert_eq!(outcomes.len(), 1);
        assert!(!outcomes[0].ok);
        assert!(
            outcomes[0].text.contains("was not run"),
            "{}",
            outcomes[0].text
        );
    }

    #[test]
    fn a_hook_still_running_at_exit_is_left_running_and_said() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hooks = Hooks::start(vec!["sleep 5".into()], dir.path().join(LOG_FILE)).expect("start");
        hooks.take_ended(job(dir.path(), 1));
        let (outcomes, running) = hooks.finish(Duration::from_millis(200));
        assert!(running);
        assert!(outcomes.is_empty());
    }
}
