//! A private PipeWire (with WirePlumber and its own D-Bus) for one test binary, started by
//! scripts/pw-test-up and stopped by PID in Drop; a counter signal played into its test source
//! and a checker for what came back.
//!
//! One PipeWire per test binary and one test at a time: cpal finds the server's socket once
//! per process, and the tests record real time from the same source.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Watchdog, require};

/// The test devices scripts/pw-test-up creates.
pub const CHANNELS: u16 = 8;
pub const SOURCE: &str = "test-mic";
pub const SOURCE_FEED: &str = "test-mic-in";
pub const SINK: &str = "test-sink";

/// No PipeWire test takes half a minute; two means something hangs.
const PW_TEST_LIMIT: Duration = Duration::from_secs(120);

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// How the private PipeWire is set up.
#[derive(Clone, Debug)]
pub struct Setup {
    pub rate: u32,
    /// Leave out the client setting that keeps ALSA streams from being remixed (a stock
    /// desktop).
    pub stock_remix: bool,
    /// Leave out `jack.default-as-system` (a stock desktop: no `system:*` JACK ports).
    pub stock_jack: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            rate: 48_000,
            stock_remix: false,
            stock_jack: false,
        }
    }
}

/// A running private PipeWire; the environment its clients need is in `env`.
pub struct PipeWire {
    dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    pids: Vec<u32>,
    _watchdog: Watchdog,
    _turn: MutexGuard<'static, ()>,
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

impl PipeWire {
    pub fn start(setup: Setup) -> Self {
        for tool in [
            "pipewire",
            "wireplumber",
            "dbus-daemon",
            "pw-cat",
            "pw-metadata",
        ] {
            require(tool);
        }
        // A test that failed holding the lock poisons it; the next one may still run.
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().expect("temp dir for PipeWire");
        let out = Command::new(script("pw-test-up"))
            .env("PW_TEST_DIR", dir.path())
            .env("RATE", setup.rate.to_string())
            .env("REMIX", if setup.stock_remix { "1" } else { "0" })
            .env("JACK_SYSTEM", if setup.stock_jack { "0" } else { "1" })
            .output()
            .expect("run scripts/pw-test-up");
        let pids = ["wireplumber", "pipewire", "dbus"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(dir.path().join(format!("{p}.pid"))).ok())
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let env = parse_env(&std::fs::read_to_string(dir.path().join("env")).unwrap_or_default());
        let pw = Self {
            _watchdog: Watchdog::arm(
                "a test using the private PipeWire".into(),
                PW_TEST_LIMIT,
                Some(dir.path().join("pipewire.log")),
            ),
            dir,
            env,
            pids,
            _turn: turn,
        };
        assert!(
            out.status.success(),
            "scripts/pw-test-up failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            pw.logs()
        );
        pw
    }

    /// The daemons' logs, for a failure message.
    pub fn logs(&self) -> String {
        ["pipewire", "wireplumber"]
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(self.dir.path().join(format!("{p}.log")))
                    .unwrap_or_default();
                format!("\n--- {p}.log\n{text}")
            })
            .collect()
    }

    /// A command with this PipeWire's client environment.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    /// `tapedeck` with this PipeWire's client environment.
    pub fn tapedeck(&self) -> Command {
        self.command(super::bin())
    }

    /// Plays an 8-channel file into the test source (blocks until it has been played).
    pub fn play_into_source(&self, file: &Path) {
        self.play(file, SOURCE_FEED);
    }

    /// Plays an 8-channel file into `target` with the nodes' channel positions: a WAV's own
    /// channel mask would make the session manager downmix the player.
    pub fn play(&self, file: &Path, target: &str) {
        let out = self
            .command("pw-cat")
            .args([
                "--playback",
                "--target",
                target,
                "--channel-map",
                &aux_map(),
            ])
            .arg(file)
            .output()
            .expect("run pw-cat");
        assert!(
            out.status.success(),
            "pw-cat could not play {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts recording `target` (a source, or a sink's monitor) into `file` as 8-channel f32.
    pub fn spawn_recorder(&self, target: &str, file: &Path) -> Child {
        self.command("pw-cat")
            // A capture stream reaches a sink's monitor only when it asks to.
            .args(["--record", "-P", "{ stream.capture.sink = true }"])
            .args(["--target", target, "--channel-map", &aux_map()])
            .args(["--format", "f32", "--rate", "48000", "--channels", "8"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pw-cat --record")
    }

    /// Waits until at least `count` links end at ports whose names start with `into` (as
    /// `pw-link -l` prints them, e.g. `ALSA Capture:input_`).
    pub fn wait_for_links(&self, into: &str, count: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let out = self
                .command("pw-link")
                .arg("-l")
                .output()
                .expect("run pw-link");
            let text = String::from_utf8_lossy(&out.stdout);
            let links = text
                .lines()
                .filter(|l| {
                    l.trim_start()
                        .strip_prefix("|-> ")
                        .is_some_and(|p| p.starts_with(into))
                })
                .count();
            if links >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{links} PipeWire links into {into:?} within {limit:?}, expected {count}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PipeWire {
    fn drop(&mut self) {
        // scripts/pw-test-down stops the three by PID (SIGTERM, then SIGKILL after 2 s).
        let _ = Command::new(script("pw-test-down"))
            .env("PW_TEST_DIR", self.dir.path())
            .status();
        for pid in &self.pids {
            let stat = Command::new("ps")
                .args(["-o", "stat=", "-p", &pid.to_string()])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default();
            // A zombie has exited (its parent, the script's shell, is gone).
            if !stat.is_empty() && !stat.starts_with('Z') && !std::thread::panicking() {
                panic!("PipeWire daemon {pid} still runs after scripts/pw-test-down");
            }
        }
    }
}

fn parse_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.split_whitespace().next().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn aux_map() -> String {
    (0..CHANNELS)
        .map(|c| format!("AUX{c}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The counter's value at frame `k` of channel `c`: different on every channel and frame,
/// never zero, exact in f32 and in 24- and 32-bit integers (a whole number of 24-bit steps,
/// 2^-23: PipeWire converts 32-bit integer samples through 24 bits).
pub fn counter(k: usize, c: usize) -> f32 {
    counter_of(usize::from(CHANNELS), k, c)
}

/// The counter of a `width`-channel file.
pub fn counter_of(width: usize, k: usize, c: usize) -> f32 {
    ((k * width + c + 1) as f32) / 8_388_608.0
}

/// Writes an 8-channel f32 WAV: `lead` frames of silence (the links appear one by one after
/// the player starts), `frames` of the counter, `tail` of silence (pw-cat drops a file's last
/// partial quantum).
pub fn write_counter(path: &Path, rate: u32, lead: usize, frames: usize, tail: usize) {
    write_counter_of(CHANNELS, path, rate, lead, frames, tail);
}

/// `write_counter` with `width` channels.
pub fn write_counter_of(
    width: u16,
    path: &Path,
    rate: u32,
    lead: usize,
    frames: usize,
    tail: usize,
) {
    let spec = hound::WavSpec {
        channels: width,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create the counter file");
    let width = usize::from(width);
    for _ in 0..lead * width {
        w.write_sample(0.0f32).expect("write");
    }
    for k in 0..frames {
        for c in 0..width {
            w.write_sample(counter_of(width, k, c)).expect("write");
        }
    }
    for _ in 0..tail * width {
        w.write_sample(0.0f32).expect("write");
    }
    w.finalize().expect("finish the counter file");
}

/// Every sample of a WAV as f32 (integers scaled to ±1 the way the counter was made).
pub fn read_f32(path: &Path) -> (u16, Vec<f32>) {
    let mut r = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("hound cannot open {}: {e}", path.display()));
    let spec = r.spec();
    let v = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.expect("sample")).collect(),
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f64;
            r.samples::<i32>()
                .map(|s| (f64::from(s.expect("sample")) / scale) as f32)
                .collect()
        }
    };
    (spec.channels, v)
}

/// Checks channels (one sample vector each, in input order) against the counter: silence,
/// then all of the counter's `frames` frames on every channel in order, then silence. Returns
/// the frame where the counter starts, or what is wrong.
pub fn check_counter(channels: &[Vec<f32>], frames: usize) -> Result<usize, String> {
    if channels.len() != usize::from(CHANNELS) {
        return Err(format!("{} channels, expected {CHANNELS}", channels.len()));
    }
    check_counter_of(channels.len(), channels, frames)
}

/// `check_counter` for the counter of a `width`-channel file: channels past `width` must be
/// silent throughout.
pub fn check_counter_of(
    width: usize,
    channels: &[Vec<f32>],
    frames: usize,
) -> Result<usize, String> {
    let counter = |k: usize, c: usize| {
        if c < width {
            counter_of(width, k, c)
        } else {
            0.0
        }
    };
    let len = channels[0].len();
    if let Some((c, ch)) = channels.iter().enumerate().find(|(_, ch)| ch.len() != len) {
        return Err(format!(
            "channel {} has {} frames, channel 1 {len}",
            c + 1,
            ch.len()
        ));
    }
    let Some(start) = (0..len).find(|&i| channels.iter().any(|ch| ch[i] != 0.0)) else {
        return Err(format!("all {len} frames are silent on every channel"));
    };
    if start + frames > len {
        return Err(format!(
            "the counter starts at frame {start} but the take ends at {len}: {} of {frames} frames recorded",
            len - start
        ));
    }
    for k in 0..frames {
        for (c, ch) in channels.iter().enumerate() {
            let got = ch[start + k];
            if got != counter(k, c) {
                let hint = (0..width)
                    .find(|&o| got == counter(k, o))
                    .map(|o| format!(" (channel {}'s value: channels swapped)", o + 1))
                    .unwrap_or_default();
                return Err(format!(
                    "frame {k} of the counter (take frame {}), channel {}: {got:e}, expected {:e}{hint}",
                    start + k,
                    c + 1,
                    counter(k, c)
                ));
            }
        }
    }
    if let Some(i) = (start + frames..len).find(|&i| channels.iter().any(|ch| ch[i] != 0.0)) {
        return Err(format!("sound after the counter ended, at take frame {i}"));
    }
    Ok(start)
}

/// The interleaved samples of one multichannel file, split into channels.
pub fn deinterleave(channels: u16, v: &[f32]) -> Vec<Vec<f32>> {
    let n = usize::from(channels);
    (0..n)
        .map(|c| v.iter().skip(c).step_by(n).copied().collect())
        .collect()
}

/// What a tapedeck run that recorded the counter left behind.
pub struct Recorded {
    /// The take's files, one channel each, in input order.
    pub channels: Vec<Vec<f32>>,
    /// The take's entry in the manifest.
    pub take: serde_json::Value,
    pub stdout: String,
    pub stderr: String,
    /// CPU time (user + system) tapedeck used, and how long it ran.
    pub cpu: Duration,
    pub wall: Duration,
    _dir: tempfile::TempDir,
}

/// Runs `tapedeck record ARGS --headless --json-status` (under `wrapper`, e.g. `pw-jack`),
/// waits until `links` PipeWire links end at ports named `into*`, plays `counter` into the
/// test source, stops tapedeck with SIGINT and reads what it wrote.
pub fn record_counter(
    pw: &PipeWire,
    wrapper: Option<&str>,
    args: &[&str],
    into: &str,
    links: usize,
    counter: &Path,
) -> Recorded {
    let dir = tempfile::tempdir().expect("session dir");
    let mut cmd = match wrapper {
        Some(w) => {
            let mut c = pw.command(w);
            c.arg(super::bin());
            c
        }
        None => pw.tapedeck(),
    };
    cmd.arg("record")
        .args(args)
        .args(["--headless", "--json-status", "--session", "s", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t0 = Instant::now();
    let mut child = cmd.spawn().expect("start tapedeck");
    let out = child.stdout.take().expect("stdout");
    let err = child.stderr.take().expect("stderr");
    let read_all = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = read_all(Box::new(out));
    let err = read_all(Box::new(err));
    pw.wait_for_links(into, links, Duration::from_secs(10));
    pw.play_into_source(counter);
    std::thread::sleep(Duration::from_millis(200));
    let (status, cpu) = stop_and_reap(&mut child);
    let wall = t0.elapsed();
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    assert!(
        status == Some(0),
        "tapedeck ended with {status:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let session = dir.path().join("s");
    let take = super::last_take(&session);
    let mut files = super::take_files(&session, &take);
    files.sort_by_key(|(input, _)| *input);
    let channels = files.iter().map(|(_, f)| read_f32(f).1).collect();
    Recorded {
        channels,
        take,
        stdout,
        stderr,
        cpu,
        wall,
        _dir: dir,
    }
}

/// SIGINT (a clean stop), then waits for the process with wait4 to read its CPU time: the
/// children's total would count the players too.
pub fn stop_and_reap(child: &mut Child) -> (Option<i32>, Duration) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: signalling and reaping our own child, whose pid `Child` has not reaped.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        // SAFETY: pid is our child; status and usage are valid for writes.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tapedeck did not stop within 15 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, tv(usage.ru_utime) + tv(usage.ru_stime))
}

/// A helper process (a peer recorder) killed and reaped when the test ends, however it ends:
/// left running after its PipeWire has gone it would spin.
pub struct Peer(pub Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
