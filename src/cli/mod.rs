//! The command line: `tapedeck devices | record | demo | recover | import`.
//!
//! Arguments are parsed once into typed values (clap value enums and value parsers); `plan`
//! turns them into a validated `RecordPlan` without touching anything; `record` then opens the
//! device, the session and the engine, and hands them to a front end.

// attach: the screen of a recorder in another process.
mod attach;
mod calibrate;
mod ctl;
mod devices;
mod export;
mod extras;
mod handoff;
mod import;
mod plan;
mod play;
mod record;
mod recover;
mod report;
mod song_output;
mod take;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::audio::HostKind;
use crate::error::{EXIT_USAGE, Error};
use crate::format::{DeviceFormat, FileFormat};
use crate::session::manifest::FILE_NAME;
use plan::{SyncInterval, TrackSpec};

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
    /// List input devices (or output devices) with their channels, rates and formats.
    Devices {
        /// Output devices (what the song plays on) instead of inputs.
        #[arg(long)]
        outputs: bool,
        /// Only this host.
        #[arg(long, value_enum, value_name = "HOST")]
        host: Option<AnyHost>,
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Record from an input device: takes on the screen, or one take of every track headless.
    Record(RecordArgs),
    /// Record from the built-in demo interface: 8 inputs of a little band in real time, an
    /// output, and two loopback inputs that hear it (to try overdubs and calibrate).
    Demo(DemoArgs),
    /// Measure the round trip the host does not report, with a cable from an output to an
    /// input, and keep the correction for overdubs on that pair of devices (in the user's
    /// config folder).
    Calibrate {
        /// Audio host.
        #[arg(long, value_enum, default_value_t = AnyHost::Alsa, value_name = "HOST")]
        host: AnyHost,
        /// Input device id (default: the host's default input; the demo's loopback on demo).
        #[arg(long, value_name = "ID")]
        device: Option<String>,
        /// Output device id (default: the host's default output).
        #[arg(long, value_name = "ID")]
        output: Option<String>,
        /// The input the cable reaches (1-based).
        #[arg(long, default_value_t = 1, value_name = "N")]
        input: u16,
        /// Input channels to open (default: the device's).
        #[arg(long, value_name = "N")]
        channels: Option<u16>,
        /// Sample rate in Hz (a correction holds for one rate).
        #[arg(long, value_name = "HZ")]
        rate: Option<u32>,
        /// Frames per callback (a correction holds for one buffer size).
        #[arg(long, value_name = "FRAMES")]
        buffer: Option<u32>,
        /// Sample format to ask the input for.
        #[arg(long, value_enum, value_name = "FORMAT")]
        device_format: Option<DeviceFormat>,
        /// JACK: connect tapedeck's outputs to these ports (repeat, in order).
        #[arg(long = "connect-output", value_name = "PORT")]
        connect_output: Vec<String>,
        /// JACK: record tapedeck's inputs from these ports (repeat, in order).
        #[arg(long = "connect-input", value_name = "PORT")]
        connect_input: Vec<String>,
        /// Measure although input and output may run on separate clocks.
        #[arg(long)]
        separate_clocks: bool,
        /// Measure and say, keep nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Play a session's song on an output: every track's playing take at its place, through
    /// the cue (gain, pan, mute, solo as the session keeps them).
    Play {
        /// Session name (a folder under --dir) or a path to a session folder.
        #[arg(value_name = "SESSION")]
        session: String,
        /// Folder that holds sessions.
        #[arg(long, value_name = "PATH", default_value = plan::DEFAULT_DIR)]
        dir: PathBuf,
        /// Audio host.
        #[arg(long, value_enum, default_value_t = AnyHost::Alsa, value_name = "HOST")]
        host: AnyHost,
        /// Output device id (default: the host's default output).
        #[arg(long, value_name = "ID")]
        output: Option<String>,
        /// Song position to start from: 1:23, 83s, 3984000f (frames).
        #[arg(long, value_name = "TIME", value_parser = crate::song_time::parse)]
        from: Option<crate::song_time::SongTime>,
        /// Stop after this long (default: at the song's end).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        duration: Option<Duration>,
    },
    /// Repair takes that never finished (killed, crashed, power cut) in a session, or in every
    /// session under --dir.
    Recover {
        /// Session name (a folder under --dir) or a path to a session folder.
        #[arg(value_name = "SESSION")]
        session: Option<String>,
        /// Folder that holds sessions.
        #[arg(long, value_name = "PATH", default_value = plan::DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Add WAV/BWF files (mono or stereo) as new tracks the song plays, copied into the session
    /// unchanged.
    Import(import::ImportArgs),
    /// Mark a take, or one track's file of it: keep, no-good, circle, clear, or a note (in
    /// session.json and each file's iXML; the audio is never touched).
    #[command(subcommand)]
    Take(take::TakeCmd),
    /// Make one folder for the mixer: the chosen takes, the session's manifest and track
    /// sheet, every file checked and listed with its size and SHA-256.
    Handoff(handoff::HandoffArgs),
    /// Write the session's track sheet, TRACKS.md, beside its session.json (with a waveform
    /// picture of each kept take's files).
    Sheet {
        /// Session name (a folder under --dir) or a path to a session folder (default: the
        /// current folder).
        #[arg(value_name = "SESSION")]
        session: Option<String>,
        /// Folder that holds sessions.
        #[arg(long, value_name = "PATH", default_value = plan::DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Write the session as an Ardour, DAWproject or REAPER project: each take at its place,
    /// markers and dropouts as markers, the audio referenced or copied.
    Export(export::ExportArgs),
    /// Each file's level report (peaks, loudness, RMS, DC, clipping, noise floor), per take.
    Report(report::ReportArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell
    /// (`scripts/install` puts it where the shell looks).
    Completions(extras::CompletionsArgs),
    /// Print the manual page, or write every page into a folder with --dir.
    Man(extras::ManArgs),
    // attach: the screen of a running recorder.
    /// The screen of a recorder running in another process (a service, a headless run), over
    /// its control socket: meters, arm, record, markers, the song. Quitting leaves it running.
    Attach(attach::AttachArgs),
    /// Control a running recorder through its control socket: status, arm, record, stop,
    /// mark, events... (`ssh studio tapedeck ctl record` works; no terminal needed).
    Ctl(ctl::CtlArgs),
}

/// A session given by name or path on the command line: a folder holding session.json, or a
/// session's name under `dir` (the one rule every command that takes a session follows).
pub(crate) fn named_session(s: &str, dir: &Path) -> Result<PathBuf, Error> {
    let p = Path::new(s);
    if p.join(FILE_NAME).is_file() {
        return Ok(p.to_path_buf());
    }
    let under = dir.join(s);
    if under.join(FILE_NAME).is_file() {
        return Ok(under);
    }
    Err(Error::usage(format!(
        "no session {s:?} in {} (and {s} is not a session folder); give its name with --dir, or its path",
        dir.display()
    )))
}

/// The hosts `record` records from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RecordHost {
    Alsa,
    Jack,
    /// PipeWire's own API (left out of a build without the default `pipewire` feature).
    Pipewire,
}

/// Every host, for `devices`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum AnyHost {
    Alsa,
    Jack,
    Pipewire,
    #[value(alias = "custom")]
    Demo,
}

impl From<RecordHost> for HostKind {
    fn from(h: RecordHost) -> Self {
        match h {
            RecordHost::Alsa => Self::Alsa,
            RecordHost::Jack => Self::Jack,
            RecordHost::Pipewire => Self::PipeWire,
        }
    }
}

impl From<AnyHost> for HostKind {
    fn from(h: AnyHost) -> Self {
        match h {
            AnyHost::Alsa => Self::Alsa,
            AnyHost::Jack => Self::Jack,
            AnyHost::Pipewire => Self::PipeWire,
            AnyHost::Demo => Self::Demo,
        }
    }
}

#[derive(Args, Debug)]
struct RecordArgs {
    /// Audio host.
    #[arg(long, value_enum, default_value_t = RecordHost::Alsa, value_name = "HOST")]
    host: RecordHost,
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
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    unplug_after: Option<Duration>,
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
    /// File format.
    #[arg(long, value_enum, default_value_t = FileFormat::S24, value_name = "FORMAT")]
    format: FileFormat,
    /// Sample format to ask the device for (default: the best match for the file format).
    #[arg(long, value_enum, value_name = "FORMAT")]
    device_format: Option<DeviceFormat>,
    /// Frames per device callback (default: the host's).
    #[arg(long, value_name = "FRAMES")]
    buffer: Option<u32>,
    /// A track: device input (1-based), optional name and role, e.g. `3:Bass DI:di`.
    /// Repeat for each track. Default: every input, named `In N`.
    #[arg(long = "track", value_name = "IN[:NAME[:ROLE]]", value_parser = plan::parse_track)]
    tracks: Vec<TrackSpec>,
    /// Session name (a folder under --dir); recording into an existing one adds a take.
    #[arg(long, value_name = "NAME", value_parser = plan::parse_session_name)]
    session: Option<String>,
    /// Folder that holds sessions (default ./sessions, created when missing).
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// Stop by itself after this long: 90s, 10m, 1h30m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// No screen UI: print a status line per second (the default without a terminal).
    #[arg(long)]
    headless: bool,
    /// Start recording at once (always so without the screen UI).
    #[arg(long)]
    record: bool,
    /// Screen refreshes per second of the UI (lower it on slow links).
    #[arg(long, default_value_t = 25, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=120))]
    fps: u32,
    /// Print status and events as JSON lines on stdout.
    #[arg(long)]
    json_status: bool,
    /// Do not start a take when the disk holds less recording time than this at the armed
    /// track count (0 turns it off).
    #[arg(long, default_value = "1m", value_name = "DURATION", value_parser = plan::parse_free_limit)]
    min_free: u64,
    /// Warn during a take when the recording time left on the disk drops below this.
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = plan::parse_free_limit)]
    warn_free: u64,
    /// Ring buffer between the audio thread and the disk writer, in seconds of all channels
    /// (0.1 to 600).
    #[arg(long, default_value = "4", value_name = "SECONDS", value_parser = plan::parse_ring_seconds)]
    ring_seconds: f64,
    /// How often the take's files are forced to disk (fdatasync), in seconds: at most this
    /// much audio is missing after a power cut. 0 leaves it to the kernel (a killed tapedeck
    /// still loses nothing written).
    #[arg(long, default_value = "1", value_name = "SECONDS", value_parser = plan::parse_sync_interval)]
    sync_interval: SyncInterval,
    /// Output device for playback, as `tapedeck devices --outputs` prints it (default: the
    /// host's default output; on the screen UI only when one exists). `none` plays nothing.
    #[arg(long, value_name = "ID")]
    output: Option<String>,
    /// Without the screen UI: play the song from --from while recording the armed tracks,
    /// for --duration or to the song's end, each take placed with the round trip compensated.
    #[arg(long)]
    overdub: bool,
    /// Song position to play and record from: 1:23, 83s, 3984000f (frames). Default: 0.
    #[arg(long, value_name = "TIME", value_parser = crate::song_time::parse)]
    from: Option<crate::song_time::SongTime>,
    /// JACK: connect tapedeck's outputs to these ports (repeat, in order) instead of the
    /// system playback ports.
    #[arg(long = "connect-output", value_name = "PORT")]
    connect_output: Vec<String>,
    /// JACK: record tapedeck's inputs from these ports (repeat, in order) instead of the
    /// system capture ports.
    #[arg(long = "connect-input", value_name = "PORT")]
    connect_input: Vec<String>,
    /// Record although the input and the output may run on separate clocks (two devices):
    /// the parts can drift apart over a long take.
    #[arg(long)]
    separate_clocks: bool,
    /// Hear this track's input in the cue while it is armed (software monitoring; repeat for
    /// more tracks). Prefer the interface's direct monitoring where it has one.
    #[arg(long = "monitor", value_name = "TRACK")]
    monitor: Vec<u16>,
    // Take-end hooks.
    /// Run this shell command (`/bin/sh -c`) after each take ends, with the take's folder as
    /// $1 and session.json as $2 (also TAPEDECK_TAKE, TAPEDECK_TAKE_DIR, TAPEDECK_MANIFEST,
    /// TAPEDECK_SESSION_DIR, TAPEDECK_END_REASON). Runs apart from the recording, one at a
    /// time; its output goes to hooks.log in the session; a failure is reported. Repeat for
    /// more commands.
    #[arg(long = "on-take-end", value_name = "CMD", value_parser = plan::parse_hook)]
    on_take_end: Vec<String>,
    // The control socket and the service mode (docs/control.md).
    /// Run as a service: no screen, no take until one is asked for through the control socket
    /// (`tapedeck ctl record`) or --record; SIGHUP is ignored, SIGTERM ends any take with its
    /// files finished and exits.
    #[arg(long)]
    serve: bool,
    /// Where the control socket goes (default: $XDG_RUNTIME_DIR/tapedeck/SESSION.sock, or
    /// /tmp/tapedeck-UID/SESSION.sock without XDG_RUNTIME_DIR).
    #[arg(long, value_name = "PATH")]
    control_socket: Option<PathBuf>,
    // Pre-roll, keep what was just played, record on signal.
    /// How much of what was played is kept for a take made afterwards (K on the screen;
    /// every device input): 30s, 10m, up to 60m; 0 keeps nothing for it. Its memory is said
    /// at the start. Default 2m, or as much as 512 MB holds on a big interface.
    #[arg(long, value_name = "DURATION", value_parser = plan::parse_keep)]
    keep: Option<Duration>,
    /// A take started by a key or the trigger begins this long before (up to 10m; 0 turns it
    /// off), taken bit-exact from what is kept. Default 2s, none for a take that starts with
    /// the program (headless without --trigger, --record).
    #[arg(long, value_name = "DURATION", value_parser = plan::parse_pre_roll)]
    pre_roll: Option<Duration>,
    /// Record on signal: a take starts when any armed input reaches this level (-40dBFS,
    /// -40), with the pre-roll, and ends after --trigger-silence below it.
    #[arg(long, value_name = "LEVEL", value_parser = crate::engine::parse_trigger_level,
          allow_hyphen_values = true)]
    trigger: Option<f64>,
    /// How long every armed input must stay below the --trigger level before a take it
    /// started ends.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    trigger_silence: Duration,
    // Split takes (long takes on every file system).
    /// Continue every take in a numbered next file per track at this length (e.g. 1h), on any
    /// file system. Takes are split anyway where a file cannot grow (FAT's 4 GiB limit).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    split_every: Option<Duration>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::duration::parse(s)
}

/// Runs the program; returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return refuse_arguments(&e),
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
        Cmd::Devices {
            host,
            json,
            outputs,
        } => devices::run(host.map(HostKind::from), json, outputs),
        Cmd::Recover { session, dir } => recover::run(session.as_deref(), &dir),
        Cmd::Import(a) => import::plan(a, &plan::Surroundings::here()).and_then(import::run),
        Cmd::Take(t) => take::run(t),
        Cmd::Handoff(a) => handoff::run(a),
        Cmd::Sheet { session, dir } => take::run_sheet(session.as_deref(), &dir),
        Cmd::Export(a) => export::run(a),
        Cmd::Report(a) => report::run(a),
        Cmd::Completions(a) => extras::completions(a),
        Cmd::Man(a) => extras::man(a),
        Cmd::Attach(a) => attach::run(a),
        Cmd::Ctl(a) => Ok(ctl::run(a)),
        Cmd::Calibrate {
            host,
            device,
            output,
            input,
            channels,
            rate,
            buffer,
            device_format,
            connect_output,
            connect_input,
            separate_clocks,
            dry_run,
        } => calibrate::run(calibrate::CalibrateArgs {
            host: host.into(),
            device,
            output,
            input,
            channels,
            rate,
            buffer,
            device_format,
            connect_output,
            connect_input,
            separate_clocks,
            dry_run,
        }),
        Cmd::Play {
            session,
            dir,
            host,
            output,
            from,
            duration,
        } => play::run(play::PlayArgs {
            session,
            dir,
            host: host.into(),
            output,
            from,
            duration,
        }),
        Cmd::Record(a) => plan::plan(
            plan::Source::Device {
                host: a.host.into(),
                device: a.device,
            },
            a.common,
            &plan::Surroundings::here(),
        )
        .and_then(record::run),
        Cmd::Demo(a) => plan::plan(
            plan::Source::Demo {
                unpaced: a.unpaced,
                unplug_after: a.unplug_after,
            },
            a.common,
            &plan::Surroundings::here(),
        )
        .and_then(record::run),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tapedeck: {e}");
            e.exit_code()
        }
    }
}

/// Says what is wrong with the arguments: a value clap could not take becomes one line in the
/// program's own words; everything else (unknown options, `--help`, `--version`) is clap's.
fn refuse_arguments(e: &clap::Error) -> i32 {
    match one_line(e) {
        Some(line) => {
            eprintln!("tapedeck: {line}");
            EXIT_USAGE
        }
        None => {
            let _ = e.print();
            if e.use_stderr() { EXIT_USAGE } else { 0 }
        }
    }
}

fn context(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// `a`, `a or b`, `a, b or c`.
fn either(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn one_line(e: &clap::Error) -> Option<String> {
    // "--format <FORMAT>" -> "--format"
    let flag = context(e, ContextKind::InvalidArg)?
        .split_whitespace()
        .next()?
        .to_string();
    let value = context(e, ContextKind::InvalidValue).unwrap_or_default();
    match e.kind() {
        ErrorKind::InvalidValue => {
            let valid = match e.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(v)) => v.clone(),
                _ => Vec::new(),
            };
            let hint = if flag == "--host" && !valid.iter().any(|v| v == "demo") {
                " (or `tapedeck demo` for the built-in demo input)"
            } else {
                ""
            };
            Some(format!(
                "unknown {flag} {value:?}; use {}{hint}",
                either(&valid)
            ))
        }
        ErrorKind::ValueValidation => {
            let source = std::error::Error::source(e)?;
            if source.downcast_ref::<std::num::ParseIntError>().is_some() {
                return Some(format!("{flag} {value:?} is not a whole number in range"));
            }
            let why = source.to_string();
            Some(if why.starts_with(&flag) {
                why
            } else {
                format!("{flag}: {why}")
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(args: &[&str]) -> String {
        let e = Cli::try_parse_from(args).err();
        e.as_ref().and_then(one_line).unwrap_or_default()
    }

    #[test]
    fn bad_values_get_one_line_in_our_words() {
        assert_eq!(
            refused(&["tapedeck", "record", "--host", "pulse"]),
            "unknown --host \"pulse\"; use alsa, jack or pipewire (or `tapedeck demo` for the built-in demo input)"
        );
        assert_eq!(
            refused(&["tapedeck", "devices", "--host", "pulse"]),
            "unknown --host \"pulse\"; use alsa, jack, pipewire or demo"
        );
        assert_eq!(
            refused(&["tapedeck", "demo", "--format", "s32"]),
            "unknown --format \"s32\"; use s16, s24 or f32"
        );
        assert!(
            refused(&["tapedeck", "demo", "--duration", "1m1h"])
                .starts_with("--duration: cannot read duration \"1m1h\"")
        );
        assert_eq!(
            refused(&["tapedeck", "demo", "--fps", "0"]),
            "--fps: 0 is not in 1..=120"
        );
        assert_eq!(
            refused(&["tapedeck", "demo", "--rate", "fast"]),
            "--rate \"fast\" is not a whole number in range"
        );
        assert!(
            refused(&["tapedeck", "demo", "--track", "0:x"])
                .starts_with("--track \"0:x\" must start")
        );
    }

    #[test]
    fn the_demo_host_has_its_old_name_too() {
        let cli = Cli::try_parse_from(["tapedeck", "devices", "--host", "custom"]).ok();
        assert!(matches!(
            cli.map(|c| c.command),
            Some(Cmd::Devices {
                host: Some(AnyHost::Demo),
                ..
            })
        ));
    }
}
