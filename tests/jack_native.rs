//! cpal's native JACK host with a real JACK client (ecasound) playing a counter signal into
//! the recorder's ports. Every sample k of the source is (k+1)/2^24, so every lost or repeated
//! sample is visible. A 300 ms SIGSTOP of the recorder must show up as a dropout in the
//! manifest at the right position with the right length, zero-filled so the counter resumes
//! at exactly the right place in every file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{JackServer, last_take, soxi, take_files};

const RATE: u32 = 48_000;
const PERIOD: u64 = 256;

/// These tests measure timing on a real-time server: one at a time, so that they do not
/// make each other's cycles late (three servers and recorders on 2 cores do).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn kill(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .map(|s| s.success());
    assert_eq!(ok.ok(), Some(true), "kill {sig} {pid}");
}

/// Ends a child on drop: asked first (a JACK client that is killed outright leaves the server
/// to find out, and clean up after it, while the next test's clients open), then killed.
struct Reaper(Child);
impl Drop for Reaper {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline && matches!(self.0.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes `seconds` of `channels` interleaved raw f32 for ecasound into `dir/name`: sample k
/// of channel c is `value(c, k)`.
fn write_source(
    dir: &Path,
    name: &str,
    channels: usize,
    seconds: usize,
    value: impl Fn(usize, usize) -> f32,
) -> PathBuf {
    let frames = RATE as usize * seconds;
    let mut raw = Vec::with_capacity(frames * channels * 4);
    for k in 0..frames {
        for c in 0..channels {
            raw.extend_from_slice(&value(c, k).to_le_bytes());
        }
    }
    let source = dir.join(name);
    std::fs::write(&source, raw).expect("write the source");
    source
}

/// Writes `seconds` of the two-channel counter (channel 1 counts up, channel 2 down, so a
/// swap would show too).
fn write_counter(dir: &Path, seconds: usize) -> PathBuf {
    write_source(dir, "counter.raw", 2, seconds, |c, k| {
        let v = (k + 1) as f32 / 16_777_216.0;
        if c == 0 { v } else { -v }
    })
}

/// `tapedeck record --host jack` on `jack`, with `args`, into session `session` under `dir`;
/// its output piped.
fn record(jack: &JackServer, dir: &Path, session: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(common::bin());
    cmd.args(["record", "--host", "jack"])
        .args(args)
        .args(["--headless", "--session", session, "--dir"])
        .arg(dir)
        .env("JACK_DEFAULT_SERVER", &jack.name)
        .env("JACK_NO_START_SERVER", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Records `source` (`channels` wide) played into a take of `args`; returns the take, after
/// checking that tapedeck succeeded.
fn record_played(
    jack: &JackServer,
    dir: &Path,
    session: &str,
    args: &[&str],
    source: &Path,
    channels: usize,
) -> serde_json::Value {
    let (recorder, player) = start_played(
        jack,
        &mut record(jack, dir, session, args),
        source,
        channels,
    );
    let out = recorder.wait_with_output().expect("wait for tapedeck");
    drop(player);
    assert_eq!(
        out.status.code(),
        Some(0),
        "tapedeck failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    last_take(&dir.join(session))
}

/// Starts the recorder `cmd` and plays `source` (`channels` interleaved f32 channels) into its
/// JACK ports once they appear. A take that ended before its ports were seen (a port listing
/// can wait seconds on a loaded machine) was never played into: the recorder is started again,
/// its next take, twice at most.
fn start_played(
    jack: &JackServer,
    cmd: &mut Command,
    source: &Path,
    channels: usize,
) -> (Child, Reaper) {
    let mut attempts = Vec::new();
    loop {
        let mut recorder = cmd.spawn().expect("start tapedeck");
        match play_into(jack, &mut recorder, source, channels) {
            Ok(player) => {
                if !attempts.is_empty() {
                    println!("started again after: {attempts:?}");
                }
                return (recorder, player);
            }
            Err(why)
                if attempts.len() < 2
                    && matches!(recorder.try_wait(), Ok(Some(s)) if s.success()) =>
            {
                attempts.push(why);
            }
            Err(why) => panic!("{attempts:?}, then {why}"),
        }
    }
}

/// Waits for the recorder's JACK ports, then plays `source` into them with ecasound; or says
/// why not if the recorder ended before its ports were seen.
fn play_into(
    jack: &JackServer,
    recorder: &mut Child,
    source: &Path,
    channels: usize,
) -> Result<Reaper, String> {
    let pid = recorder.id();
    // cpal names its client cpal_client_<pid>_in; JACK appends "-01" and so on when that
    // name is still taken (cpal opens and closes a client of the same name just before).
    let base = format!("cpal_client_{pid}_in");
    let since = Instant::now();
    let deadline = since + Duration::from_secs(10);
    // How the server answered meanwhile, for the message if the ports are never seen.
    let (mut asked, mut slowest) = (0u32, Duration::ZERO);
    let client = loop {
        let t = Instant::now();
        let ports = jack.ports();
        asked += 1;
        slowest = slowest.max(t.elapsed());
        let found = ports.iter().find_map(|p| {
            let (client, _) = p.split_once(':')?;
            let rest = client.strip_prefix(&base)?;
            (rest.is_empty() || rest.starts_with('-')).then(|| client.to_string())
        });
        if let Some(client) = found {
            break client;
        }
        if let Ok(Some(status)) = recorder.try_wait() {
            return Err(format!(
                "the recorder ended ({status}) {:?} after its start, and its JACK ports were \
                 not among the {asked} listings of the server's ports (the slowest took \
                 {slowest:?}; the last had {ports:?})",
                since.elapsed()
            ));
        }
        assert!(
            Instant::now() < deadline,
            "the recorder's JACK ports ({base}:*) never appeared in {asked} listings (the \
             slowest took {slowest:?}); the server has {ports:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Reaper(
        Command::new("ecasound")
            .arg("-q")
            .arg(format!("-f:f32_le,{channels},{RATE}"))
            .arg(format!("-i:{}", source.display()))
            .arg(format!("-o:jack,{client}"))
            .env("JACK_DEFAULT_SERVER", &jack.name)
            .env("JACK_NO_START_SERVER", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ecasound (apt-get install ecasound)"),
    ))
}

/// Reads a mono f32 WAV with hound.
fn samples(path: &Path) -> Vec<f32> {
    hound::WavReader::open(path)
        .expect("hound opens")
        .samples::<f32>()
        .map(|s| s.expect("sample"))
        .collect()
}

#[test]
fn a_stalled_recorder_gets_an_exact_zero_filled_dropout() {
    let _serial = one_at_a_time();
    let jack = JackServer::start(RATE, PERIOD as u32, 0);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();

    let source = write_counter(dir, 12);

    let args = ["--channels", "2", "--format", "f32", "--duration", "7s"];
    let (recorder, player) =
        start_played(&jack, &mut record(&jack, dir, "jack", &args), &source, 2);
    let pid = recorder.id();

    std::thread::sleep(Duration::from_millis(2500));
    kill(pid, "-STOP");
    std::thread::sleep(Duration::from_millis(300));
    kill(pid, "-CONT");

    let out = recorder.wait_with_output().expect("wait for tapedeck");
    drop(player);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "tapedeck failed:\n{stdout}\n{stderr}"
    );

    let session = dir.join("jack");
    let take = last_take(&session);
    assert_eq!(take["length_frames"].as_u64(), Some(7 * u64::from(RATE)));
    let files = take_files(&session, &take);
    assert_eq!(files.len(), 2);
    let tracks: Vec<Vec<f32>> = files.iter().map(|(_, p)| samples(p)).collect();
    assert_eq!(tracks[0].len(), tracks[1].len(), "tracks differ in length");
    for (_, p) in &files {
        assert_eq!(soxi(p), (7 * u64::from(RATE), RATE));
    }

    // The stall: one dropout of about 300 ms (whole periods), exactly measured.
    let dropouts = take["dropouts"].as_array().expect("dropouts").clone();
    let stall = dropouts
        .iter()
        .find(|d| d["frames"].as_u64().unwrap_or(0) >= u64::from(RATE) / 5)
        .unwrap_or_else(|| panic!("no dropout of the 300 ms stall in {dropouts:#?}"));
    let at = stall["at_frame"].as_u64().expect("at_frame") as usize;
    let len = stall["frames"].as_u64().expect("frames") as usize;
    assert_eq!(stall["cause"], "device_xrun");
    assert_eq!(stall["exact"], true);
    assert_eq!(len as u64 % PERIOD, 0, "JACK loses whole periods");
    let ms = len as f64 * 1000.0 / f64::from(RATE);
    assert!((280.0..=450.0).contains(&ms), "stall measured as {ms} ms");

    // Every file: the counter runs without a wrong step; where it pauses, the pause is exactly
    // a manifest dropout, zero-filled, and the counter resumes at the right value: advanced by
    // the pause's length where the recorder missed what the player played (the stall), or not
    // advanced at all where the whole graph missed the cycle (the dummy server's thread ran
    // late on a loaded machine, so the player did not play it either). Anything else is a
    // sample lost without a word or a period put in the wrong place.
    for (t, sign) in tracks.iter().zip([1.0f32, -1.0]) {
        let first = t
            .iter()
            .position(|&v| v != 0.0)
            .expect("the counter reached the file");
        let k0 = (t[first] * sign * 16_777_216.0).round() as i64 - 1;
        let mut offset = k0 - first as i64;
        // The zero-filled dropout just passed, as (frame, length).
        let mut after_gap: Option<(usize, usize)> = None;
        let mut i = first;
        while i < t.len() {
            if t[i] == 0.0 {
                let run = t[i..].iter().take_while(|&&v| v == 0.0).count();
                if i + run == t.len() {
                    break; // the player finished
                }
                let listed = dropouts.iter().any(|d| {
                    d["at_frame"].as_u64() == Some(i as u64)
                        && d["frames"].as_u64() == Some(run as u64)
                });
                assert!(
                    listed,
                    "silence of {run} frames at {i} is not a manifest dropout: {dropouts:#?}"
                );
                after_gap = Some((i, run));
                i += run;
                continue;
            }
            let k = (t[i] * sign * 16_777_216.0).round() as i64 - 1;
            let gap = after_gap.take();
            let in_step = match gap {
                // The stall: the player went on while the recorder was stopped.
                Some((g, _)) if g == at => k - i as i64 == offset,
                // Any other gap: lost by the recorder, or missed by the whole graph.
                Some((_, run)) => [offset, offset - run as i64].contains(&(k - i as i64)),
                None => k - i as i64 == offset,
            };
            if !in_step {
                // Where the step went wrong: the counter at each period boundary around it.
                let around: Vec<String> = (i.saturating_sub(1024)..(i + 1024).min(t.len()))
                    .step_by(128)
                    .map(|j| format!("{j}:{}", (t[j] * sign * 16_777_216.0).round() as i64 - 1))
                    .collect();
                panic!(
                    "counter out of step at frame {i} (after the zero-filled dropout \
                     (frame, length) {gap:?}): offset {} instead of {offset}; \
                     around it (frame:counter) {around:?}; dropouts {dropouts:?}",
                    k - i as i64
                );
            }
            offset = k - i as i64;
            i += 1;
        }
        assert!(
            t[at..at + len].iter().all(|&v| v == 0.0),
            "the stall is zero-filled"
        );
        assert!(
            t[at + len] != 0.0,
            "the counter resumes right after the stall"
        );
    }
    println!("stall of 300 ms recorded as: {stall}");
}

/// A player that connects to the recorder's ports the moment they appear must not stop JACK
/// from running the recorder. (With a second JACK client open in the same process, as tapedeck
/// once had for the server's frame counter, about one start in three never got a process
/// callback and waited for audio forever.)
#[test]
fn every_start_with_a_player_connecting_at_once_records() {
    let _serial = one_at_a_time();
    let jack = JackServer::start(RATE, PERIOD as u32, 0);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let source = write_counter(dir, 4);

    for start in 0..8 {
        let session = format!("start{start}");
        let mut cmd = record(
            &jack,
            dir,
            &session,
            &["--channels", "2", "--duration", "1s"],
        );
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let (recorder, _player) = start_played(&jack, &mut cmd, &source, 2);
        let mut recorder = Reaper(recorder);
        // A 1 s take ends in about a second once the audio flows.
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = recorder.0.try_wait().expect("wait for tapedeck") {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "start {start}: the 1 s take did not end within 10 s (no audio from JACK)"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "start {start}: tapedeck failed: {status}");
        let take = last_take(&dir.join(&session));
        assert_eq!(take["length_frames"].as_u64(), Some(u64::from(RATE)));
    }
}

/// An audio server that stops running the recorder is reported while it happens, in the
/// status output and in the manifest, and the take goes on, aligned, when audio returns.
#[test]
fn a_server_that_stops_calling_is_reported_and_the_take_goes_on() {
    let _serial = one_at_a_time();
    let jack = JackServer::start(RATE, PERIOD as u32, 0);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let recorder = record(&jack, dir, "stop", &["--channels", "2", "--duration", "6s"])
        .spawn()
        .expect("start tapedeck");
    std::thread::sleep(Duration::from_millis(1500));
    kill(jack.pid(), "-STOP");
    std::thread::sleep(Duration::from_millis(3000));
    kill(jack.pid(), "-CONT");
    let out = recorder.wait_with_output().expect("wait for tapedeck");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "tapedeck failed:\n{all}");
    assert!(
        all.contains("no audio from") && all.contains("for 2 s"),
        "the silence was not reported:\n{all}"
    );
    assert!(
        all.contains("resumed after"),
        "the return of audio was not reported:\n{all}"
    );
    // The test server runs without realtime priority: said once, and no reason not to record
    // (the warning may well come before the take has started).
    assert_eq!(
        all.matches("runs tapedeck without realtime priority")
            .count(),
        1,
        "{all}"
    );
    let session = dir.join("stop");
    let manifest = common::read_json(&session.join("session.json"));
    let notes: Vec<String> = manifest["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(|n| n["text"].as_str().map(str::to_string))
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("no audio from"))
            && notes.iter().any(|n| n.contains("resumed after")),
        "manifest notes: {notes:?}"
    );
    // The take has its full length; the time without audio is a dropout in it.
    let take = last_take(&session);
    assert_eq!(take["length_frames"].as_u64(), Some(6 * u64::from(RATE)));
    let lost: u64 = take["dropouts"]
        .as_array()
        .expect("dropouts")
        .iter()
        .filter_map(|d| d["frames"].as_u64())
        .sum();
    assert!(
        lost >= 2 * u64::from(RATE),
        "dropouts: {}",
        take["dropouts"]
    );
}

/// A JACK server that stops answering at the end of a take (hung, or stopped as here) does not
/// keep tapedeck from exiting: the take is finished and on disk, the goodbye to the server
/// gives up after a few seconds, says so, and the exit status is that of the take.
#[test]
fn a_server_that_hangs_at_the_end_does_not_keep_tapedeck_from_exiting() {
    let _serial = one_at_a_time();
    let jack = JackServer::start(RATE, PERIOD as u32, 0);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let recorder = record(
        &jack,
        dir,
        "hang",
        &["--channels", "2", "--duration", "60s"],
    )
    .spawn()
    .expect("start tapedeck");
    let recorder = Reaper(recorder);
    std::thread::sleep(Duration::from_millis(1500));
    kill(jack.pid(), "-STOP");
    let stopped_at = Instant::now();
    kill(recorder.0.id(), "-TERM");
    let mut recorder = recorder;
    let status = loop {
        if let Ok(Some(s)) = recorder.0.try_wait() {
            break Some(s);
        }
        if stopped_at.elapsed() > Duration::from_secs(30) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let waited = stopped_at.elapsed();
    kill(jack.pid(), "-CONT");
    let status = status.expect("tapedeck did not exit within 30 s of a stopped server");
    let mut err = String::new();
    if let Some(mut e) = recorder.0.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    assert_eq!(status.code(), Some(0), "stderr:\n{err}");
    assert!(
        err.contains("did not answer") && err.contains("everything recorded is on disk"),
        "stderr:\n{err}"
    );
    // Draining what the stopped server never delivers (3 s), then the goodbye (5 s).
    assert!(waited < Duration::from_secs(20), "exited after {waited:?}");
    let session = dir.join("hang");
    let take = last_take(&session);
    assert_eq!(take["state"], "complete");
    let frames = take["length_frames"].as_u64().expect("length");
    assert!(frames >= u64::from(RATE), "take of {frames} frames");
    for (_, path) in take_files(&session, &take) {
        assert_eq!(soxi(&path).0, frames, "{}", path.display());
    }
}

/// Input c of a many-input source: at its sample k, (-1)^c (k + 1 + 1024 c) / 2^23, so each
/// file says which input it came from and at which sample it starts.
fn many_value(c: usize, k: usize) -> f32 {
    let v = (k + 1 + 1024 * c) as f32 / 8_388_608.0;
    if c.is_multiple_of(2) { v } else { -v }
}

/// 19 inputs: JACK's ports are interleaved a group of inputs at a time and the inputs left
/// over one by one; every file must hold its own input's audio, bit-exact, and every track
/// must start at the same sample of the source.
#[test]
fn nineteen_inputs_each_reach_their_own_file_bit_exact_and_aligned() {
    const INPUTS: usize = 19;
    let _serial = one_at_a_time();
    let jack = JackServer::start(RATE, PERIOD as u32, 0);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let frames = RATE as usize * 3;
    let source = write_source(dir, "many.raw", INPUTS, 3, many_value);
    let channels = INPUTS.to_string();
    let args = [
        "--channels",
        &channels,
        "--format",
        "f32",
        "--duration",
        "5s",
    ];
    let take = record_played(&jack, dir, "many", &args, &source, INPUTS);
    let session = dir.join("many");
    let dropouts = take["dropouts"].as_array().expect("dropouts").clone();
    let files = take_files(&session, &take);
    assert_eq!(files.len(), INPUTS);
    let mut starts = Vec::new();
    for (c, (_, path)) in files.iter().enumerate() {
        let t = samples(path);
        let first = t
            .iter()
            .position(|&v| v != 0.0)
            .unwrap_or_else(|| panic!("no audio in {}", path.display()));
        // Which source sample this file starts with, if it holds input c: another input's
        // audio would start elsewhere than the other tracks, or with the wrong sign.
        let code = (f64::from(t[first].abs()) * 8_388_608.0).round() as usize - 1;
        let k0 = code
            .checked_sub(1024 * c)
            .unwrap_or_else(|| panic!("{} holds another input's audio", path.display()));
        starts.push((first, k0));
        // Where the player has finished, the file is silent to its end.
        let end = first + t[first..].iter().take_while(|&&v| v != 0.0).count();
        let mut k = k0;
        let mut i = first;
        while i < t.len() && k < frames {
            if t[i] == 0.0 {
                // Only a dropout in the manifest may interrupt the source, by its length.
                let run = t[i..].iter().take_while(|&&v| v == 0.0).count();
                let listed = dropouts.iter().any(|d| {
                    d["at_frame"].as_u64() == Some(i as u64)
                        && d["frames"].as_u64() == Some(run as u64)
                });
                if i + run == t.len() && i >= end {
                    break;
                }
                assert!(
                    listed,
                    "{}: {run} zeros at {i} not in {dropouts:?}",
                    path.display()
                );
                i += run;
                k += run;
                continue;
            }
            assert_eq!(
                t[i].to_bits(),
                many_value(c, k).to_bits(),
                "{} at frame {i}: expected source sample {k} of input {c}",
                path.display()
            );
            i += 1;
            k += 1;
        }
    }
    assert!(
        starts.windows(2).all(|w| w[0] == w[1]),
        "the tracks start at different places: {starts:?}"
    );
}

/// Ports connected to the server's capture ports take on their latency (a period here) once
/// the stream runs. A tone whose cycle divides the period repeats exactly from block to block,
/// as a copy of a late block would; only callbacks that ran late may have it treated as one.
/// (Measured by the callback stamp minus the capture stamp, every block after the connection
/// looked a period late, and such a tone lost a period again and again.)
#[test]
fn a_tone_repeating_every_period_into_ports_connected_to_the_hardware_is_kept() {
    let _serial = one_at_a_time();
    // Two capture ports: tapedeck connects its inputs to them, as to a sound card's.
    let jack = JackServer::start(RATE, PERIOD as u32, 2);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // A sawtooth of 64 samples: four cycles in every 256-frame block.
    let source = write_source(dir, "tone.raw", 2, 6, |c, k| {
        let v = ((k % 64) + 1) as f32 / 128.0;
        if c == 0 { v } else { -v }
    });
    let args = ["--channels", "2", "--format", "f32", "--duration", "4s"];
    let take = record_played(&jack, dir, "tone", &args, &source, 2);
    let session = dir.join("tone");
    let dropouts = take["dropouts"].as_array().expect("dropouts").clone();
    let lost: Vec<_> = dropouts
        .iter()
        .filter(|d| d["frames"].as_u64().unwrap_or(0) > 0)
        .collect();
    // A machine may miss a cycle now and then; the fault missed dozens a second.
    assert!(
        lost.len() <= 2,
        "{} dropouts in a steady tone, the first {:?}",
        lost.len(),
        &lost[..lost.len().min(3)]
    );
    for (_, path) in take_files(&session, &take) {
        let t = samples(&path);
        let first = t.iter().position(|&v| v != 0.0).expect("the tone arrived");
        let last = t.iter().rposition(|&v| v != 0.0).expect("the tone arrived");
        let silent_runs = t[first..=last]
            .windows(2)
            .filter(|w| w[0] != 0.0 && w[1] == 0.0)
            .count();
        assert!(
            silent_runs <= lost.len(),
            "{}: {silent_runs} silences inside the tone, {} dropouts",
            path.display(),
            lost.len()
        );
        // Where there is no dropout, the sawtooth runs on without a step out of place.
        let bad = t[first..=last]
            .windows(2)
            .filter(|w| w[0] != 0.0 && w[1] != 0.0)
            .filter(|w| {
                let step = (w[1].abs() - w[0].abs()) * 128.0;
                step != 1.0 && step != -63.0
            })
            .count();
        assert!(
            bad <= lost.len(),
            "{}: {bad} steps out of place",
            path.display()
        );
    }
}
