//! Shared test harness: a private JACK dummy server, ALSA file devices paced by it, and
//! helpers to run the real binary and read what it wrote.
// Each test binary uses part of it, through `mod common;`.
#![allow(dead_code, unreachable_pub)]

pub mod control;
pub mod daw;
#[cfg(feature = "jack")]
pub mod history;
#[cfg(feature = "jack")]
pub mod jack_cable;
pub mod pipewire;
pub mod split;
pub mod tmux;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tapedeck")
}

pub fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not installed; run scripts/test (it installs what the tests need)"
    );
}

/// Runs `cmd` to completion, or kills it after `limit` and returns `None`: a JACK tool that
/// blocks on a wedged server must fail the test, not hang the suite.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Option<Output> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            // The tools run here print a few lines, well within a pipe's buffer.
            Ok(Some(_)) => return child.wait_with_output().ok(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Ends the whole test process with a report of what every process involved is waiting on,
/// if it is still armed after `limit`. A hang in a real-time stack (a server that stops
/// running its clients, a tool that blocks on it) then fails in minutes with the evidence,
/// instead of stalling the suite until CI gives up.
pub struct Watchdog {
    disarmed: Arc<AtomicBool>,
}

impl Watchdog {
    pub fn arm(what: String, limit: Duration, log: Option<PathBuf>) -> Self {
        let disarmed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&disarmed);
        std::thread::spawn(move || {
            let deadline = Instant::now() + limit;
            while Instant::now() < deadline {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if flag.load(Ordering::Relaxed) {
                return;
            }
            // Straight to the file descriptor: the test harness captures eprintln! and would
            // drop it when the process exits.
            let mut report = format!(
                "\n=== WATCHDOG: {what} still running after {} s; the processes and what they wait on:\n",
                limit.as_secs()
            );
            if let Ok(out) = Command::new("sh")
                .arg("-c")
                .arg(WATCHDOG_REPORT)
                .arg("report")
                .arg(std::process::id().to_string())
                .output()
            {
                report.push_str(&String::from_utf8_lossy(&out.stdout));
            }
            if let Some(log) = log {
                // jackd repeats a line per cycle when a client is late: count repeats.
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let mut runs: Vec<(&str, usize)> = Vec::new();
                for line in text.lines() {
                    match runs.last_mut() {
                        Some((last, n)) if *last == line => *n += 1,
                        _ => runs.push((line, 1)),
                    }
                }
                report.push_str(&format!("=== the end of {}:\n", log.display()));
                for (line, n) in &runs[runs.len().saturating_sub(40)..] {
                    report.push_str(&format!(
                        "{line}{}\n",
                        if *n > 1 {
                            format!("  (x{n})")
                        } else {
                            String::new()
                        }
                    ));
                }
            }
            let _ = std::io::Write::write_all(&mut std::io::stderr(), report.as_bytes());
            // Nothing else will clean up after an exit: stop every process this test started.
            let _ = Command::new("pkill")
                .args(["-KILL", "-P", &std::process::id().to_string()])
                .status();
            std::process::exit(101);
        });
        Self { disarmed }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.disarmed.store(true, Ordering::Relaxed);
    }
}

/// The process tree with each thread's kernel wait channel, for the test process `$1`'s
/// children and every JACK-related process.
const WATCHDOG_REPORT: &str = r#"
ps -eo pid,ppid,stat,wchan:28,etime,args --forest | grep -E "jack|tapedeck|ecasound|arecord|$1" | grep -v -e "grep -E" -e " ps -eo"
for p in $(pgrep -d ' ' -f 'jackd|jack_lsp|tapedeck|ecasound'); do
  echo "--- $p: $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null)"
  for t in /proc/$p/task/*; do
    echo "    $(cat $t/comm 2>/dev/null) $(cut -d' ' -f3 $t/stat 2>/dev/null) $(cat $t/wchan 2>/dev/null)"
  done
done
ls -la /dev/shm
"#;

/// A private JACK server with the dummy driver, stopped on drop. Its output goes to a log
/// that the watchdog shows if the test hangs.
pub struct JackServer {
    pub name: String,
    pub rate: u32,
    child: Child,
    log: PathBuf,
    _watchdog: Watchdog,
}

static SERVERS: AtomicU32 = AtomicU32::new(0);

/// The names private servers take turns with (see `JackServer::start`).
const SERVER_NAMES: u32 = 6;

/// No test using a JACK server takes a minute; three means something hangs.
const JACK_TEST_LIMIT: Duration = Duration::from_secs(180);

impl JackServer {
    /// A private dummy server. Its name is one of a few fixed ones: jackd keeps at most 8
    /// servers in its registry and frees a dead server's entry only when a server of the same
    /// name starts, so unique names would let servers that died uncleanly (a killed test)
    /// fill it for good. A name in use by a live server is skipped.
    pub fn start(rate: u32, period: u32, capture_ports: u32) -> Self {
        require("jackd");
        require("jack_lsp");
        let mut tried = Vec::new();
        for slot in 0..SERVER_NAMES {
            let name = format!("tapedeck-test-{slot}");
            match Self::try_start(&name, rate, period, capture_ports) {
                Ok(server) => return server,
                Err(why) => tried.push(format!("{name}: {why}")),
            }
        }
        panic!("no private jackd could start:\n{}", tried.join("\n"));
    }

    fn try_start(name: &str, rate: u32, period: u32, capture_ports: u32) -> Result<Self, String> {
        let log = std::env::temp_dir().join(format!(
            "{name}-{}-{}.log",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        ));
        let out = std::fs::File::create(&log).expect("create the jackd log");
        let err = out.try_clone().expect("jackd log");
        let child = Command::new("jackd")
            .args(["--no-realtime", "-n", name, "-d", "dummy"])
            .args(["-r", &rate.to_string(), "-p", &period.to_string()])
            .args(["-C", &capture_ports.to_string(), "-P", "2"])
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start jackd");
        let _watchdog = Watchdog::arm(
            format!("the test using jackd {name}"),
            JACK_TEST_LIMIT,
            Some(log.clone()),
        );
        let mut server = Self {
            name: name.to_string(),
            rate,
            child,
            log,
            _watchdog,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            // A name in use: this jackd gives up at once (and a jack_lsp would answer from
            // the other one).
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = std::fs::read_to_string(&server.log).unwrap_or_default();
                let _ = std::fs::remove_file(&server.log);
                return Err(format!("jackd ended ({status}): {log}"));
            }
            if server.lsp().is_some() && matches!(server.child.try_wait(), Ok(None)) {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                let log = std::fs::read_to_string(&server.log).unwrap_or_default();
                return Err(format!("did not come up within 15 s: {log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the server has logged so far (its xruns among it).
    #[allow(dead_code)]
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server's process id (to stop and continue it).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `jack_lsp`'s output, if it answered within 5 s with success.
    fn lsp(&self) -> Option<String> {
        self.lsp_within(Duration::from_secs(5))
    }

    /// `jack_lsp`'s output, if it answered within `limit` with success.
    fn lsp_within(&self, limit: Duration) -> Option<String> {
        let out = output_within(
            Command::new("jack_lsp")
                .env("JACK_DEFAULT_SERVER", &self.name)
                .env("JACK_NO_START_SERVER", "1"),
            limit,
        )?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Port names currently registered on the server (none if it does not answer within a
    /// second: on a loaded machine a `jack_lsp` can wait for seconds to open its client, and
    /// the next one is often quick).
    pub fn ports(&self) -> Vec<String> {
        self.lsp_within(Duration::from_secs(1))
            .unwrap_or_default()
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
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
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

/// A mono 24-bit WAV of deterministic noise at about -12 dBFS: no two stretches alike, so a
/// lag between it and a recording of it cannot hide.
pub fn write_noise(path: &Path, rate: u32, frames: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create the noise file");
    let mut x: u32 = 0x1234_5678;
    for _ in 0..frames {
        // xorshift
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        w.write_sample(((x >> 8) as i32 - (1 << 23)) / 4)
            .expect("write the noise file");
    }
    w.finalize().expect("finish the noise file");
}

/// Every sample of an integer WAV file, as hound reads them.
pub fn wav_samples(path: &Path) -> Vec<i32> {
    hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("hound cannot open {}: {e}", path.display()))
        .samples::<i32>()
        .map(|s| s.expect("sample"))
        .collect()
}
