//! The command line: `tapedeck devices | record | demo`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use crate::audio::{self, HostKind, StreamRequest, demo};
use crate::engine::{Command, EndReason, Engine, EngineConfig, Event, Track};
use crate::error::{EXIT_RUNTIME, EXIT_USAGE, Error};
use crate::format::{DeviceFormat, FileFormat};
use crate::session::manifest::{DeviceRecord, TrackRecord};
use crate::session::{self, Session, SessionInit, naming};
use crate::status::{Printer, StatusStyle, status_line};
use crate::tui::TuiOptions;

#[derive(Parser, Debug)]
#[command(
    name = "tapedeck",
    version,
    about = "A terminal multitrack recorder: one WAV per track, sample-aligned, with a session manifest",
    after_help = "Run `tapedeck demo --duration 10s` to see it work without a sound card."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List input devices with their channels, rates and formats.
    Devices {
        /// Only this host: alsa, jack or demo.
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Record from an input device: takes on the screen, or one take of every track headless.
    Record(RecordArgs),
    /// Record from the built-in demo input (8 inputs of a little band, real time).
    Demo(DemoArgs),
    /// Repair takes that never finished (killed, crashed, power cut) in a session, or in every
    /// session under --dir.
    Recover {
        /// Session name (a folder under --dir) or a path to a session folder.
        #[arg(value_name = "SESSION")]
        session: Option<String>,
        /// Folder that holds sessions.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_DIR)]
        dir: PathBuf,
    },
}

#[derive(Args, Debug)]
struct RecordArgs {
    /// Audio host: alsa or jack.
    #[arg(long, default_value = "alsa", value_name = "HOST")]
    host: String,
    /// Input device id as `tapedeck devices` prints it (default: the host's default input).
    #[arg(long, value_name = "ID")]
    device: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Deliver audio as fast as tapedeck takes it instead of in real time (for throughput tests).
    #[arg(long)]
    unpaced: bool,
    /// Make the demo input vanish after this long, as if the interface were unplugged, to see
    /// what tapedeck does then.
    #[arg(long, value_name = "DURATION")]
    unplug_after: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// Sample rate in Hz (default: the device's).
    #[arg(long, value_name = "HZ")]
    rate: Option<u32>,
    /// Device channels to open (default: the device's).
    #[arg(long, value_name = "N")]
    channels: Option<u16>,
    /// File format: s16, s24 or f32.
    #[arg(long, default_value = "s24", value_name = "FORMAT")]
    format: String,
    /// Sample format to ask the device for: i16, i24, i32 or f32 (default: the best match).
    #[arg(long, value_name = "FORMAT")]
    device_format: Option<String>,
    /// Frames per device callback (default: the host's).
    #[arg(long, value_name = "FRAMES")]
    buffer: Option<u32>,
    /// A track: device input (1-based), optional name and role, e.g. `3:Bass DI:di`.
    /// Repeat for each track. Default: every input, named `In N`.
    #[arg(long = "track", value_name = "IN[:NAME[:ROLE]]")]
    tracks: Vec<String>,
    /// Session name (a folder under --dir); recording into an existing one adds a take.
    #[arg(long, value_name = "NAME")]
    session: Option<String>,
    /// Folder that holds sessions.
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// Stop by itself after this long: 90s, 10m, 1h30m.
    #[arg(long, value_name = "DURATION")]
    duration: Option<String>,
    /// No screen UI: print a status line per second (the default without a terminal).
    #[arg(long)]
    headless: bool,
    /// Start recording at once (always so without the screen UI).
    #[arg(long)]
    record: bool,
    /// Screen refreshes per second of the UI (lower it on slow links).
    #[arg(long, default_value_t = 25, value_name = "N")]
    fps: u32,
    /// Print status and events as JSON lines on stdout.
    #[arg(long)]
    json_status: bool,
    /// Do not start a take when the disk holds less recording time than this at the armed
    /// track count.
    #[arg(long, default_value = "1m", value_name = "DURATION")]
    min_free: String,
    /// Warn during a take when the recording time left on the disk drops below this.
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    warn_free: String,
    /// Ring buffer between the audio thread and the disk writer, in seconds of all channels.
    #[arg(long, default_value_t = 4.0, value_name = "SECONDS")]
    ring_seconds: f64,
    /// How often the take's files are forced to disk (fdatasync), in seconds: at most this
    /// much audio is missing after a power cut. 0 leaves it to the kernel (a killed tapedeck
    /// still loses nothing written).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    sync_interval: f64,
}

const DEFAULT_DIR: &str = "sessions";

/// Runs the program; returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    // alsa-lib prints diagnostics to stderr while it enumerates devices (unknown cards, missing
    // plugins): send this thread's to a buffer that is dropped instead.
    let _alsa_quiet = alsa::Output::local_error_handler().ok();
    // libjack prints to stderr and stdout when a client cannot reach a server, which happens
    // whenever the ALSA host enumerates the `jack` pcm of alsa-plugins or the JACK host looks
    // for a server that is not running. tapedeck says in its own words what failed and what
    // to do, and the chatter would garble the screen and the JSON status stream.
    #[cfg(feature = "jack")]
    jack::set_logger(jack::LoggerType::None);
    let result = match cli.command {
        Cmd::Devices { host, json } => devices(host.as_deref(), json),
        Cmd::Recover { session, dir } => recover(session.as_deref(), &dir),
        Cmd::Record(a) => {
            let kind = match HostKind::parse(&a.host) {
                Some(HostKind::Demo) | None => Err(Error::usage(format!(
                    "unknown host {:?}; use --host alsa or --host jack (or `tapedeck demo` for the demo input)",
                    a.host
                ))),
                Some(k) => Ok(k),
            };
            kind.and_then(|k| {
                record(
                    k,
                    a.device.as_deref(),
                    &a.common,
                    demo::DemoOptions::default(),
                )
            })
        }
        Cmd::Demo(a) => {
            let unplug = match &a.unplug_after {
                Some(d) => crate::duration::parse(d)
                    .map(Some)
                    .map_err(|e| Error::usage(format!("--unplug-after: {e}"))),
                None => Ok(None),
            };
            unplug.and_then(|unplug| {
                let rate = a.common.rate.unwrap_or(demo::DEFAULT_RATE);
                let opts = demo::DemoOptions {
                    paced: !a.unpaced,
                    unplug_after_frames: unplug.map(|d| (d.as_secs_f64() * f64::from(rate)) as u64),
                    ..Default::default()
                };
                record(HostKind::Demo, None, &a.common, opts)
            })
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tapedeck: {e}");
            e.exit_code()
        }
    }
}

fn recover(session: Option<&str>, dir: &Path) -> Result<i32, Error> {
    let folders: Vec<PathBuf> = match session {
        Some(s)
            if Path::new(s)
                .join(crate::session::manifest::FILE_NAME)
                .exists() =>
        {
            vec![PathBuf::from(s)]
        }
        Some(s) => {
            let p = dir.join(s);
            if !p.join(crate::session::manifest::FILE_NAME).exists() {
                return Err(Error::usage(format!(
                    "no session {s:?} in {} (and {s} is not a session folder); give its name with --dir, or its path",
                    dir.display()
                )));
            }
            vec![p]
        }
        None => {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                Error::usage(format!(
                    "cannot read --dir {}: {e}; give the folder that holds sessions",
                    dir.display()
                ))
            })?;
            let mut v: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join(crate::session::manifest::FILE_NAME).exists())
                .collect();
            v.sort();
            v
        }
    };
    let mut any = false;
    let mut failed = false;
    for folder in folders {
        match crate::session::recover::recover(&folder) {
            Ok(found) if found.is_empty() => {
                if session.is_some() {
                    println!(
                        "{}: nothing to recover; every take was finished",
                        folder.display()
                    );
                }
            }
            Ok(found) => {
                any = true;
                for r in found {
                    println!(
                        "{}: take {} recovered, {} frames",
                        folder.display(),
                        r.take,
                        r.length_frames
                    );
                    for (file, res) in r.files {
                        match res {
                            Ok(frames) => println!("    {file}: {frames} frames"),
                            Err(e) => {
                                failed = true;
                                println!("    {file}: NOT USABLE: {e}")
                            }
                        }
                    }
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("tapedeck: {}: {e}", folder.display());
            }
        }
    }
    if !any && session.is_none() && !failed {
        println!("nothing to recover in {}", dir.display());
    }
    Ok(if failed { EXIT_RUNTIME } else { 0 })
}

fn devices(host: Option<&str>, json: bool) -> Result<i32, Error> {
    let kinds: Vec<HostKind> =
        match host {
            Some(h) => vec![HostKind::parse(h).ok_or_else(|| {
                Error::usage(format!("unknown host {h:?}; use alsa, jack or demo"))
            })?],
            None => vec![HostKind::Alsa, HostKind::Jack, HostKind::Demo],
        };
    let mut all = Vec::new();
    let mut notes = Vec::new();
    for k in kinds {
        let listed = audio::open_host(k, demo::DemoOptions::default())
            .and_then(|h| audio::list_devices(k, &h));
        match listed {
            Ok(mut d) => all.append(&mut d),
            // The one host asked for cannot be listed: that is the answer, and a failure.
            Err(e) if host.is_some() => return Err(e),
            Err(e) => notes.push(format!("{}: {e}", k.name())),
        }
    }
    if json {
        let s = serde_json::to_string_pretty(&all).map_err(|e| Error::Runtime(e.to_string()))?;
        println!("{s}");
    } else {
        if all.is_empty() {
            println!("no input devices found");
        }
        for d in &all {
            let star = if d.default { "  (default)" } else { "" };
            println!("{}{star}\n    {}", d.id, d.name);
            let ch = &d.channels;
            let chs = match (ch.first(), ch.last()) {
                (Some(a), Some(b)) if ch.len() > 3 && usize::from(b - a) + 1 == ch.len() => {
                    format!("{a}-{b}")
                }
                _ => ch
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let mut rates = d
                .sample_rates
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            if let Some([lo, hi]) = d.sample_rate_range {
                rates.push_str(&format!(" (any of {lo}-{hi})"));
            }
            println!(
                "    channels: {chs}\n    rates:    {rates}\n    formats:  {}",
                d.formats.join(", ")
            );
            if let Some(c) = &d.default_config {
                println!(
                    "    default:  {} ch, {} Hz, {}",
                    c.channels, c.sample_rate, c.format
                );
            }
        }
    }
    for n in notes {
        eprintln!("note: {n}");
    }
    Ok(0)
}

/// A `--track` as written, before the device is known.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSpec {
    pub input: u16,
    pub name: Option<String>,
    pub role: Option<String>,
}

pub fn parse_track(s: &str) -> Result<TrackSpec, Error> {
    let mut parts = s.splitn(4, ':');
    let input = parts.next().unwrap_or("");
    let name = parts.next();
    let role = parts.next();
    if parts.next().is_some() {
        return Err(Error::usage(format!(
            "--track {s:?} has too many ':'; write IN[:NAME[:ROLE]] and keep ':' out of names"
        )));
    }
    let input: u16 = match input.trim().parse() {
        Ok(n) if n >= 1 => n,
        _ => {
            return Err(Error::usage(format!(
                "--track {s:?} must start with a device input number (1 or more), e.g. --track 3:Bass DI"
            )));
        }
    };
    let name = match name {
        Some(n) => {
            naming::check_track_name(n).map_err(|e| Error::usage(format!("--track {s:?}: {e}")))?;
            Some(n.trim().to_string())
        }
        None => None,
    };
    let role = match role {
        Some(r) => {
            let ok = !r.is_empty()
                && r.len() <= 24
                && r.starts_with(|c: char| c.is_ascii_lowercase())
                && r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(Error::usage(format!(
                    "--track {s:?}: role {r:?} must be a short lowercase word such as di, mic, line, room"
                )));
            }
            Some(r.to_string())
        }
        None => None,
    };
    Ok(TrackSpec { input, name, role })
}

/// Turns track specs into tracks for a device with `channels` inputs.
pub fn resolve_tracks(
    specs: &[TrackSpec],
    channels: u16,
    device: &str,
) -> Result<Vec<Track>, Error> {
    if specs.is_empty() {
        return Ok((1..=channels)
            .map(|i| Track {
                number: i,
                name: format!("In {i}"),
                input: i,
                role: None,
                armed: true,
            })
            .collect());
    }
    let mut tracks: Vec<Track> = Vec::new();
    for s in specs {
        if s.input > channels {
            return Err(Error::usage(format!(
                "input {} is beyond the {channels} inputs opened on {device}; use 1-{channels}, or open more with --channels",
                s.input
            )));
        }
        let name = s.name.clone().unwrap_or_else(|| format!("In {}", s.input));
        if tracks.iter().any(|t| t.input == s.input) {
            return Err(Error::usage(format!(
                "input {} is given to two tracks; give each track its own input",
                s.input
            )));
        }
        if let Some(t) = tracks
            .iter()
            .find(|t| t.name.to_lowercase() == name.to_lowercase())
        {
            return Err(Error::usage(format!(
                "tracks {} and {} are both named {name:?}; give each track its own name",
                t.input, s.input
            )));
        }
        tracks.push(Track {
            number: s.input,
            name,
            input: s.input,
            role: s.role.clone(),
            armed: true,
        });
    }
    tracks.sort_by_key(|t| t.number);
    Ok(tracks)
}

fn record(
    kind: HostKind,
    device_id: Option<&str>,
    a: &CommonArgs,
    demo_opts: demo::DemoOptions,
) -> Result<i32, Error> {
    // 1. Everything that can be checked without the device.
    let file_format = FileFormat::parse(&a.format).ok_or_else(|| {
        Error::usage(format!(
            "unknown --format {:?}; use s16, s24 or f32",
            a.format
        ))
    })?;
    let device_format = match &a.device_format {
        Some(f) => Some(DeviceFormat::parse(f).ok_or_else(|| {
            Error::usage(format!(
                "unknown --device-format {f:?}; use i16, i24, i32 or f32"
            ))
        })?),
        None => None,
    };
    let duration = match &a.duration {
        Some(d) => {
            Some(crate::duration::parse(d).map_err(|e| Error::usage(format!("--duration: {e}")))?)
        }
        None => None,
    };
    let free_limit = |flag: &str, v: &str| {
        if v.trim() == "0" || v.trim() == "0s" {
            return Ok(0);
        }
        crate::duration::parse(v)
            .map(|d| d.as_secs())
            .map_err(|e| Error::usage(format!("{flag}: {e}")))
    };
    let min_free_seconds = free_limit("--min-free", &a.min_free)?;
    let warn_free_seconds = free_limit("--warn-free", &a.warn_free)?;
    let specs = a
        .tracks
        .iter()
        .map(|t| parse_track(t))
        .collect::<Result<Vec<_>, _>>()?;
    let session_name = match &a.session {
        Some(s) => {
            naming::check_session_name(s).map_err(|e| Error::usage(format!("--session: {e}")))?;
            s.clone()
        }
        None => session::default_name(),
    };
    if !(1..=120).contains(&a.fps) {
        return Err(Error::usage("--fps must be between 1 and 120"));
    }
    if !(a.ring_seconds.is_finite() && (0.1..=600.0).contains(&a.ring_seconds)) {
        return Err(Error::usage("--ring-seconds must be between 0.1 and 600"));
    }
    let sync_interval = match a.sync_interval {
        0.0 => None,
        s if s.is_finite() && (0.1..=3600.0).contains(&s) => Some(Duration::from_secs_f64(s)),
        _ => {
            return Err(Error::usage(
                "--sync-interval must be 0 (leave it to the kernel) or between 0.1 and 3600 seconds",
            ));
        }
    };
    // The default folder is created only once everything else has been checked.
    let (root, create_root) = match &a.dir {
        Some(d) => (d.clone(), false),
        None => {
            let d = PathBuf::from(DEFAULT_DIR);
            let missing = !d.exists();
            (d, missing)
        }
    };
    if !create_root {
        session::check_root(&root)?;
    }

    // 2. The device and its configuration.
    let host = audio::open_host(kind, demo_opts)?;
    let device = audio::find_device(kind, &host, device_id)?;
    let req = StreamRequest {
        channels: a.channels,
        sample_rate: a.rate,
        format: device_format,
        buffer: a.buffer,
    };
    let choice = audio::choose_config(kind, &device, &req, file_format)?;
    let dev_name = audio::name_of(&device);
    let dev_id = audio::id_of(&device);
    let mut tracks = resolve_tracks(&specs, choice.channels, &dev_id)?;
    if kind == HostKind::Demo && specs.is_empty() {
        for t in &mut tracks {
            let voice = audio::demo_synth::VOICE_NAMES
                [usize::from(t.input - 1) % audio::demo_synth::VOICE_NAMES.len()];
            t.name = if t.input as usize > audio::demo_synth::VOICE_NAMES.len() {
                format!("{voice} {}", t.input)
            } else {
                voice.to_string()
            };
        }
    }

    // 3. An existing session must match what we are about to record.
    let existing = session::inspect(&root, &session_name)?;
    if let Some(m) = &existing
        && (m.sample_rate != choice.sample_rate || m.format != file_format.name())
    {
        return Err(Error::usage(format!(
            "session {session_name:?} is recorded at {} Hz {}; record at the same rate and format (--rate {} --format {}) or start a new --session",
            m.sample_rate, m.format, m.sample_rate, m.format
        )));
    }

    if existing.is_some() && crate::session::lock::is_locked(&root.join(&session_name)) {
        return Err(Error::Runtime(format!(
            "session {session_name:?} is being recorded by another tapedeck right now; choose another --session"
        )));
    }

    // 4. Open the stream before creating anything, so a device failure leaves no trace.
    let ring_frames = ((a.ring_seconds * f64::from(choice.sample_rate)).ceil() as usize).max(1024);
    let opened = crate::capture::open_stream(kind, &device, &choice, ring_frames)?;

    let device_record = DeviceRecord {
        host: kind.name().to_string(),
        id: dev_id.clone(),
        name: dev_name.clone(),
        sample_rate: choice.sample_rate,
        sample_format: choice.format.name().to_string(),
        channels: choice.channels,
        buffer_frames: choice.buffer,
    };
    let init = SessionInit {
        sample_rate: choice.sample_rate,
        format: file_format.name().to_string(),
        device: device_record.clone(),
        tracks: tracks
            .iter()
            .map(|t| TrackRecord {
                number: t.number,
                name: t.name.clone(),
                input: t.input,
                role: t.role.clone(),
                format: file_format.name().to_string(),
            })
            .collect(),
    };
    if create_root {
        std::fs::create_dir_all(&root).map_err(|e| {
            Error::Runtime(format!(
                "cannot create ./{DEFAULT_DIR}: {e}; pass --dir PATH"
            ))
        })?;
    }
    let mut session = Session::open(&root, &session_name, existing, init)?;
    let _lock = match crate::session::lock::SessionLock::acquire(&session.dir) {
        Ok(l) => l,
        Err(crate::session::lock::LockError::Busy) => {
            return Err(Error::Runtime(format!(
                "session {session_name:?} is being recorded by another tapedeck right now; choose another --session"
            )));
        }
        Err(crate::session::lock::LockError::Io(e)) => {
            return Err(Error::io(
                format!("cannot lock {}", session.dir.display()),
                e,
            ));
        }
    };
    // A take left unfinished by a crash is repaired before anything new is recorded.
    let recovered = crate::session::recover::recover_takes(&session.dir, &mut session.manifest)?;
    if !recovered.is_empty() {
        session.save().map_err(|e| {
            Error::io(
                format!("cannot write {}/session.json", session.dir.display()),
                e,
            )
        })?;
        for r in &recovered {
            eprintln!(
                "tapedeck: take {} of this session had not been finished (crash or kill); its files were repaired: {} frames",
                r.take, r.length_frames
            );
        }
    }
    let session_dir = session.dir.display().to_string();
    let takes_before = session.manifest.takes.len();

    let config = EngineConfig {
        device: device_record,
        sample_rate: choice.sample_rate,
        channels: choice.channels,
        device_format: choice.format,
        file_format,
        tracks,
        ring_frames,
        min_free_seconds,
        warn_free_seconds,
        sync_interval,
    };
    let engine = Engine::start(config, session, opened.stream, opened.output, opened.shared)?;
    let take_frames =
        duration.map(|d| (d.as_secs_f64() * f64::from(choice.sample_rate)).round() as u64);
    let screen = !a.headless
        && !a.json_status
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    if screen {
        let signals = crate::signals::install(engine.commander())?;
        let opts = TuiOptions {
            fps: a.fps,
            color: crate::tui::color_wanted(),
            take_frames,
            record_now: a.record,
            session_dir: PathBuf::from(&session_dir),
            takes_before,
        };
        return crate::tui::run(engine, opts, &signals);
    }
    let printer = Printer {
        style: if a.json_status {
            StatusStyle::Json
        } else {
            StatusStyle::Text
        },
        session_dir: session_dir.clone(),
    };
    printer.note(&format!(
        "tapedeck: {dev_name} ({dev_id}), {} ch, {} Hz, device {} -> files {}; session {session_dir}",
        choice.channels, choice.sample_rate, choice.format, file_format
    ));
    run_take(engine, take_frames, &printer)
}

/// Records one take until `duration` or a signal, printing status once a second.
fn run_take(engine: Engine, take_frames: Option<u64>, printer: &Printer) -> Result<i32, Error> {
    let signals = crate::signals::install(engine.commander())?;
    let tap = engine.meter_tap();
    engine.send(Command::Record {
        max_frames: take_frames,
    });
    let mut next_status = Instant::now() + Duration::from_secs(1);
    let mut outcome: Option<EndReason> = None;
    let mut noted_hangup = false;
    loop {
        let wait = next_status.saturating_duration_since(Instant::now());
        match engine
            .events()
            .recv_timeout(wait.min(Duration::from_millis(100)))
        {
            Ok(ev) => {
                printer.event(&ev);
                match ev {
                    Event::TakeFinished(s) => {
                        outcome = Some(s.reason);
                        break;
                    }
                    // Other warnings (a slow disk, no realtime priority, ...) may come before
                    // the take starts and are only shown.
                    Event::TakeRefused(_) => break,
                    _ => {}
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if Instant::now() >= next_status {
            next_status += Duration::from_secs(1);
            printer.status(&status_line(&engine.snapshot(), &tap.take()));
        }
        if signals.hung_up() && !noted_hangup {
            noted_hangup = true;
            engine.send(Command::Note(
                "the terminal hung up during the take; it went on recording to its end".into(),
            ));
        }
    }
    let hangup = signals.hung_up();
    drop(signals);
    let session = engine.shutdown(EndReason::Stopped)?;
    if hangup {
        printer
            .note("note: the terminal hung up during the take; the take was recorded to the end");
    }
    let path = session.dir.join("session.json");
    match outcome {
        Some(r) if r.is_failure() => {
            printer.note(&format!(
                "tapedeck: the take ended early ({}); what was captured is in {}",
                r.describe(),
                path.display()
            ));
            Ok(EXIT_RUNTIME)
        }
        Some(_) => Ok(0),
        None => {
            printer.note("tapedeck: no take was recorded");
            Ok(EXIT_RUNTIME)
        }
    }
}

#[allow(dead_code)]
fn _assert_path(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_specs() {
        assert_eq!(
            parse_track("3:Bass DI:di").ok(),
            Some(TrackSpec {
                input: 3,
                name: Some("Bass DI".into()),
                role: Some("di".into())
            })
        );
        assert_eq!(
            parse_track("2").ok(),
            Some(TrackSpec {
                input: 2,
                name: None,
                role: None
            })
        );
        for bad in [
            "0:x",
            "x:Bass",
            ":Bass",
            "1:",
            "1:a:b:c",
            "1:Bass:DI",
            "1:\u{7}",
        ] {
            assert!(parse_track(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn track_resolution_checks_inputs_and_names() {
        let s = |i, n: &str| TrackSpec {
            input: i,
            name: Some(n.into()),
            role: None,
        };
        assert!(resolve_tracks(&[s(9, "a")], 8, "d").is_err());
        assert!(resolve_tracks(&[s(1, "a"), s(1, "b")], 8, "d").is_err());
        assert!(resolve_tracks(&[s(1, "Gtr"), s(2, "gtr")], 8, "d").is_err());
        let t = resolve_tracks(&[s(3, "Bass"), s(1, "Kick")], 8, "d").unwrap_or_default();
        assert_eq!(t.iter().map(|t| t.number).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(resolve_tracks(&[], 4, "d").map(|t| t.len()).ok(), Some(4));
    }
}
