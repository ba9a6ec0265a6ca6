//! A recorder run as a service (`--serve`) for the control socket's tests: started, reached
//! through its socket, stopped by a signal.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tapedeck::control::Client;

pub struct Served {
    pub child: Child,
    pub socket: PathBuf,
    pub session_dir: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// `demo --serve --json-status` (4 channels unless `extra` says) into `dir/session`, its socket beside the session.
pub fn serve_demo(dir: &Path, session: &str, extra: &[&str], envs: &[(&str, &str)]) -> Served {
    let socket = dir.join(format!("{session}.sock"));
    let mut cmd = Command::new(super::bin());
    cmd.args(["demo", "--serve", "--json-status"])
        .args(["--session", session])
        .arg("--dir")
        .arg(dir)
        .arg("--control-socket")
        .arg(&socket)
        .args(if extra.contains(&"--channels") {
            &[][..]
        } else {
            &["--channels", "4"][..]
        })
        .args(extra);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Served::spawn(&mut cmd, socket, dir.join(session), dir)
}

impl Served {
    /// Starts `cmd` (a recorder serving `socket`), output to files in `logs`, and waits until
    /// its socket answers.
    pub fn spawn(cmd: &mut Command, socket: PathBuf, session_dir: PathBuf, logs: &Path) -> Self {
        let name = socket
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stdout = logs.join(format!("{name}.stdout"));
        let stderr = logs.join(format!("{name}.stderr"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start tapedeck");
        let mut served = Self {
            child,
            socket,
            session_dir,
            stdout,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = served.child.try_wait() {
                panic!(
                    "the recorder ended ({status}) before serving: {}",
                    served.stderr_text()
                );
            }
            // Answering, even with a refusal (a test where we are the wrong uid), is serving.
            if matches!(
                Client::connect(&served.socket),
                Ok(_) | Err(tapedeck::control::ControlError::Refused(_))
            ) {
                return served;
            }
            assert!(
                Instant::now() < deadline,
                "the recorder did not serve {} within 30 s: {}",
                served.socket.display(),
                served.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.socket)
            .unwrap_or_else(|e| panic!("connect: {e}; {}", self.stderr_text()))
    }

    /// `tapedeck ctl --socket SOCKET args...`: (status, stdout, stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let socket = self.socket.to_string_lossy().into_owned();
        let mut all = vec!["ctl", "--socket", socket.as_str()];
        all.extend_from_slice(args);
        super::run(&all, &[])
    }

    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `signal` (e.g. "TERM") and waits at most a minute for the recorder to end.
    pub fn signal_and_wait(&mut self, signal: &str) -> ExitStatus {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(ok.success(), "kill -{signal} failed");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the recorder did not end within 60 s of SIG{signal}: {}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
