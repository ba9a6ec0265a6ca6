//! Shared test harness: a private JACK dummy server, ALSA file devices paced by it, and
//! helpers to run the real binary and read what it wrote.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tapedeck")
}

fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not installed; run scripts/test (it installs what the tests need)"
    );
}

/// A private JACK server with the dummy driver, stopped on drop.
pub struct JackServer {
    pub name: String,
    pub rate: u32,
    child: Child,
}

static SERVERS: AtomicU32 = AtomicU32::new(0);

impl JackServer {
    pub fn start(rate: u32, period: u32, capture_ports: u32) -> Self {
        require("jackd");
        require("jack_lsp");
        let name = format!(
            "tapedeck-test-{}-{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        );
        let child = Command::new("jackd")
            .args(["--no-realtime", "-n", &name, "-d", "dummy"])
            .args(["-r", &rate.to_string(), "-p", &period.to_string()])
            .args(["-C", &capture_ports.to_string(), "-P", "2"])
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jackd");
        let server = Self { name, rate, child };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ok = Command::new("jack_lsp")
                .env("JACK_DEFAULT_SERVER", &server.name)
                .env("JACK_NO_START_SERVER", "1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "jackd {} did not come up",
                server.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// The server's process id (to stop and continue it).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Port names currently registered on the server.
    pub fn ports(&self) -> Vec<String> {
        let out = Command::new("jack_lsp")
            .env("JACK_DEFAULT_SERVER", &self.name)
            .env("JACK_NO_START_SERVER", "1")
            .output()
            .expect("jack_lsp");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for JackServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `$home/.asoundrc` with one paced `file` input per (name, env var): each reads the raw
/// file named by the variable, paced by the JACK server's clock (recipe 2 of the harness notes).
pub fn write_asoundrc(home: &Path, devices: &[(&str, &str)]) {
    let mut rc = String::new();
    for (name, var) in devices {
        rc.push_str(&format!(
            r#"pcm.{name} {{
    type file
    slave.pcm {{
        type plug
        slave.pcm {{
            type jack
            capture_ports {{ 0 "system:capture_1" 1 "system:capture_2" }}
        }}
    }}
    file "/dev/null"
    infile {{ @func getenv vars [ {var} ] default "/dev/zero" }}
    format "raw"
    hint {{ show on description "Paced test input {name}" }}
}}
"#
        ));
    }
    std::fs::create_dir_all(home).expect("home");
    std::fs::write(home.join(".asoundrc"), rc).expect("write .asoundrc");
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The newest take of a session's manifest.
pub fn last_take(session_dir: &Path) -> serde_json::Value {
    let m = read_json(&session_dir.join("session.json"));
    m["takes"]
        .as_array()
        .and_then(|t| t.last())
        .cloned()
        .expect("the manifest has a take")
}

pub fn take_files(session_dir: &Path, take: &serde_json::Value) -> Vec<(u64, PathBuf)> {
    take["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| {
            (
                t["input"].as_u64().expect("input"),
                session_dir.join(t["file"].as_str().expect("file")),
            )
        })
        .collect()
}

/// `soxi` reports the file's length in samples and its rate; sox must read it without complaint.
pub fn soxi(path: &Path) -> (u64, u32) {
    require("soxi");
    let run = |flag: &str| {
        let out = Command::new("soxi")
            .arg(flag)
            .arg(path)
            .output()
            .expect("soxi");
        assert!(
            out.status.success(),
            "soxi {flag} {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let samples = run("-s").parse().expect("soxi -s");
    let rate = run("-r").parse().expect("soxi -r");
    let stats = Command::new("sox")
        .arg(path)
        .args(["-n", "stats"])
        .output()
        .expect("sox stats");
    assert!(
        stats.status.success(),
        "sox stats failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&stats.stderr)
    );
    (samples, rate)
}

/// Runs the binary to completion with extra environment; returns (status, stdout, stderr).
pub fn run(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run tapedeck");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `demo --channels 2 --headless` recording into `dir/session` until stopped, output
/// discarded, plus `extra`.
pub fn spawn_demo(dir: &Path, session: &str, extra: &[&str]) -> std::process::Child {
    Command::new(bin())
        .args([
            "demo",
            "--channels",
            "2",
            "--headless",
            "--session",
            session,
        ])
        .args(extra)
        .arg("--dir")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start tapedeck")
}
