//! From parsed arguments to a validated plan, before anything is opened or created: every
//! check that needs no device happens here, in a pure function the unit tests drive. What
//! needs the device (channels, rates, formats) is checked when it is open.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use super::CommonArgs;
use crate::audio::demo::{self, DemoOptions};
use crate::audio::{HostKind, StreamRequest};
use crate::engine::Track;
use crate::error::Error;
use crate::format::FileFormat;
use crate::session::{self, naming};

/// Where sessions go when `--dir` is not given; created when missing.
pub(crate) const DEFAULT_DIR: &str = "sessions";

/// What to record from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Source {
    Device {
        host: HostKind,
        device: Option<String>,
    },
    Demo {
        unpaced: bool,
        unplug_after: Option<Duration>,
    },
}

/// What the plan depends on besides the arguments.
#[derive(Clone, Debug)]
pub(crate) struct Surroundings {
    /// Standard input and output are a terminal.
    pub(crate) terminal: bool,
    pub(crate) now: DateTime<FixedOffset>,
    /// `./sessions` exists.
    pub(crate) default_dir_exists: bool,
}

impl Surroundings {
    pub(crate) fn here() -> Self {
        use std::io::IsTerminal;
        Self {
            terminal: std::io::stdin().is_terminal() && std::io::stdout().is_terminal(),
            now: session::now(),
            default_dir_exists: std::path::Path::new(DEFAULT_DIR).exists(),
        }
    }
}

/// Which front end runs the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrontEnd {
    /// The recorder's screen; `record_now` starts the first take at once.
    Screen { fps: u32, record_now: bool },
    /// One take with a status line per second, as text or JSON lines.
    Headless { json: bool },
    /// One take, only warnings said (for `calibrate`).
    Quiet,
    /// A service: takes only when asked through the control socket (or `record_now`),
    /// events printed (status lines too with `json`).
    Serve { json: bool, record_now: bool },
}

/// The control socket (docs/control.md).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ControlPlan {
    /// Served (every recorder front end but calibrate's).
    pub(crate) enabled: bool,
    /// `--control-socket`; None: the default place for the session.
    pub(crate) socket: Option<PathBuf>,
}

/// Everything `record` and `demo` will do, checked.
#[derive(Clone, Debug)]
pub(crate) struct RecordPlan {
    pub(crate) host: HostKind,
    pub(crate) device: Option<String>,
    pub(crate) demo: DemoOptions,
    pub(crate) request: StreamRequest,
    pub(crate) file_format: FileFormat,
    pub(crate) tracks: Vec<TrackSpec>,
    pub(crate) session: String,
    pub(crate) root: PathBuf,
    /// The default folder, to be made once everything else has worked.
    pub(crate) create_root: bool,
    pub(crate) duration: Option<Duration>,
    pub(crate) min_free_seconds: u64,
    pub(crate) warn_free_seconds: u64,
    pub(crate) ring_seconds: f64,
    pub(crate) sync_interval: Option<Duration>,
    pub(crate) front: FrontEnd,
    pub(crate) output: OutputPlan,
    /// Headless: play the song while recording.
    pub(crate) overdub: bool,
    pub(crate) from: Option<crate::song_time::SongTime>,
    pub(crate) connect_output: Vec<String>,
    pub(crate) connect_input: Vec<String>,
    pub(crate) separate_clocks: bool,
    /// `calibrate` measures the round trip: no stored correction is applied.
    pub(crate) calibrating: bool,
    /// Tracks monitored from the start.
    pub(crate) monitor: Vec<u16>,
    /// Take-end hooks: shell commands run after each take.
    pub(crate) on_take_end: Vec<String>,
    // The control socket.
    pub(crate) control: ControlPlan,
    // Pre-roll, keep what was just played, record on signal.
    pub(crate) keep: KeepPlan,
    // Split takes (long takes on every file system).
    /// `--split-every`: every take continues in a next file per track at this length.
    pub(crate) split_every: Option<Duration>,
}

/// What is kept of the past and what it is used for (`--keep`, `--pre-roll`, `--trigger`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct KeepPlan {
    pub(crate) keep: Duration,
    /// `--keep` was given: the memory it costs is the user's choice. Otherwise `keep` is at
    /// most what `DEFAULT_KEEP_BYTES` holds at the device's channel count.
    pub(crate) keep_given: bool,
    pub(crate) pre_roll: Duration,
    /// The level in dBFS and the silence that ends a take.
    pub(crate) trigger: Option<(f64, Duration)>,
}

/// What is kept unless told (`--keep`), and the memory that may cost at most: two minutes of
/// a small interface, less of a big one (32 inputs at 48 kHz: 1m23s).
pub(crate) const DEFAULT_KEEP: Duration = Duration::from_secs(120);
pub(crate) const DEFAULT_KEEP_BYTES: u64 = 512 * 1024 * 1024;

/// The frames kept when `--keep` was not given: `wanted`, or fewer when that would cost more
/// than `DEFAULT_KEEP_BYTES` with the ring's margin (4 bytes a sample, every input), but never
/// less than the pre-roll.
pub(crate) fn default_keep_frames(
    wanted: u64,
    channels: u16,
    ring_frames: usize,
    pre_roll: u64,
) -> u64 {
    let per_frame = 4 * u64::from(channels.max(1));
    let budget = (DEFAULT_KEEP_BYTES / per_frame).saturating_sub(ring_frames as u64);
    wanted.min(budget.max(pre_roll))
}

/// The pre-roll of a take started by a key or the trigger, unless told.
const DEFAULT_PRE_ROLL: Duration = Duration::from_secs(2);
/// The most `--keep` may ask for, and `--pre-roll`.
const KEEP_MAX: Duration = Duration::from_secs(60 * 60);
const PRE_ROLL_MAX: Duration = Duration::from_secs(10 * 60);

/// A duration where 0 is allowed (turns the feature off).
fn duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim().trim_end_matches('s') == "0" {
        return Ok(Duration::ZERO);
    }
    crate::duration::parse(s)
}

pub(crate) fn parse_keep(s: &str) -> Result<Duration, String> {
    let d = duration_or_zero(s).map_err(|e| format!("--keep: {e}"))?;
    if d > KEEP_MAX {
        return Err(format!(
            "--keep {s} is more than 60m; keep at most an hour (or 0 for nothing)"
        ));
    }
    Ok(d)
}

pub(crate) fn parse_pre_roll(s: &str) -> Result<Duration, String> {
    let d = duration_or_zero(s).map_err(|e| format!("--pre-roll: {e}"))?;
    if d > PRE_ROLL_MAX {
        return Err(format!(
            "--pre-roll {s} is more than 10m; give at most 10m (or 0 for none)"
        ));
    }
    Ok(d)
}

/// Which output plays the song.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OutputPlan {
    /// None: nothing plays.
    Off,
    /// The host's default output if it has one (the screen UI), or it must (an overdub).
    Default { required: bool },
    /// This device; it must be there.
    Device(String),
}

/// The ring between the audio thread and the writer, in frames.
pub(crate) fn ring_frames(seconds: f64, rate: u32) -> usize {
    ((seconds * f64::from(rate)).ceil() as usize).max(1024)
}

pub(crate) fn plan(source: Source, a: CommonArgs, env: &Surroundings) -> Result<RecordPlan, Error> {
    check_tracks(&a.tracks)?;
    let (host, device, demo) = match source {
        Source::Device { host, device } => (host, device, DemoOptions::default()),
        Source::Demo {
            unpaced,
            unplug_after,
        } => {
            let rate = a.rate.unwrap_or(demo::DEFAULT_RATE);
            let demo = DemoOptions {
                paced: !unpaced,
                unplug_after_frames: unplug_after
                    .map(|d| (d.as_secs_f64() * f64::from(rate)) as u64),
                ..Default::default()
            };
            (HostKind::Demo, None, demo)
        }
    };
    let (root, create_root) = match a.dir {
        Some(d) => (d, false),
        None => (PathBuf::from(DEFAULT_DIR), !env.default_dir_exists),
    };
    let front = if a.serve {
        if a.overdub {
            return Err(Error::usage(
                "--overdub records one take and ends; with --serve, record takes through the control socket",
            ));
        }
        if a.duration.is_some() && !a.record {
            return Err(Error::usage(
                "with --serve, --duration limits the take --record starts; add --record, or give the duration to `tapedeck ctl record --duration`",
            ));
        }
        FrontEnd::Serve {
            json: a.json_status,
            record_now: a.record,
        }
    } else if a.headless || a.json_status || !env.terminal {
        FrontEnd::Headless {
            json: a.json_status,
        }
    } else {
        FrontEnd::Screen {
            fps: a.fps,
            record_now: a.record,
        }
    };
    if a.overdub && !matches!(front, FrontEnd::Headless { .. }) {
        return Err(Error::usage(
            "--overdub is for recording without the screen UI (add --headless); on the screen, press r to overdub",
        ));
    }
    if (!a.connect_output.is_empty() || !a.connect_input.is_empty()) && host != HostKind::Jack {
        return Err(Error::usage(
            "--connect-output and --connect-input name JACK ports; use them with --host jack",
        ));
    }
    let keep_given = a.keep.is_some();
    // A headless run records its one take at once and ends with it: nothing could ever make a
    // take of its past, so unless told it keeps none (no memory, no time spent setting it
    // aside). With the trigger it listens first, and keeps the default.
    let one_take_at_once =
        matches!(front, FrontEnd::Headless { .. } | FrontEnd::Quiet) && a.trigger.is_none();
    let keep = match a.keep {
        Some(k) => k,
        None if one_take_at_once => Duration::ZERO,
        None => DEFAULT_KEEP,
    };
    // A take that starts with the program has no past to roll from: no pre-roll unless asked.
    // A service's takes come later, asked for through its socket (its first one may start at
    // once with --record, and then holds what little past there is, as the manifest says).
    let starts_at_once = a.trigger.is_none()
        && match front {
            FrontEnd::Screen { record_now, .. } => record_now,
            FrontEnd::Serve { .. } => false,
            _ => true,
        };
    let pre_roll = match a.pre_roll {
        Some(d) => d,
        None if starts_at_once => Duration::ZERO,
        None => DEFAULT_PRE_ROLL.min(if keep.is_zero() {
            DEFAULT_PRE_ROLL
        } else {
            keep
        }),
    };
    if keep > Duration::ZERO && pre_roll > keep {
        return Err(Error::usage(format!(
            "--pre-roll {}s is longer than what is kept (--keep {}s); keep at least as much as the pre-roll",
            pre_roll.as_secs(),
            keep.as_secs()
        )));
    }
    if a.trigger.is_some() && a.overdub {
        return Err(Error::usage(
            "--trigger records with nothing playing; leave out --overdub",
        ));
    }
    let output = match a.output.as_deref() {
        Some("none") => {
            if a.overdub {
                return Err(Error::usage(
                    "--overdub plays the song: give it an --output, not none",
                ));
            }
            OutputPlan::Off
        }
        Some(id) => OutputPlan::Device(id.to_string()),
        None if a.overdub || !a.monitor.is_empty() => OutputPlan::Default { required: true },
        None if matches!(front, FrontEnd::Screen { .. }) => OutputPlan::Default { required: false },
        None => OutputPlan::Off,
    };
    Ok(RecordPlan {
        control: ControlPlan {
            enabled: true,
            socket: a.control_socket,
        },
        output,
        overdub: a.overdub,
        from: a.from,
        connect_output: a.connect_output,
        connect_input: a.connect_input,
        calibrating: false,
        separate_clocks: a.separate_clocks,
        monitor: a.monitor,
        on_take_end: a.on_take_end,
        keep: KeepPlan {
            keep,
            keep_given,
            pre_roll,
            trigger: a.trigger.map(|level| (level, a.trigger_silence)),
        },
        host,
        device,
        demo,
        request: StreamRequest {
            channels: a.channels,
            sample_rate: a.rate,
            format: a.device_format,
            buffer: a.buffer,
        },
        file_format: a.format,
        tracks: a.tracks,
        session: a.session.unwrap_or_else(|| session::default_name(env.now)),
        root,
        create_root,
        duration: a.duration,
        min_free_seconds: a.min_free,
        warn_free_seconds: a.warn_free,
        ring_seconds: a.ring_seconds,
        sync_interval: a.sync_interval.0,
        front,
        // Split takes.
        split_every: a.split_every,
    })
}

// ---------------------------------------------------------------------------------------------
// Value parsers: each returns the value or a message that says what to write instead.

/// A `--track` as written, before the device is known.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrackSpec {
    pub(crate) input: u16,
    pub(crate) name: Option<String>,
    pub(crate) role: Option<String>,
}

pub(crate) fn parse_track(s: &str) -> Result<TrackSpec, String> {
    let mut parts = s.splitn(4, ':');
    let input = parts.next().unwrap_or("");
    let name = parts.next();
    let role = parts.next();
    if parts.next().is_some() {
        return Err(format!(
            "--track {s:?} has too many ':'; write IN[:NAME[:ROLE]] and keep ':' out of names"
        ));
    }
    let input: u16 = match input.trim().parse() {
        Ok(n) if n >= 1 => n,
        _ => {
            return Err(format!(
                "--track {s:?} must start with a device input number (1 or more), e.g. --track 3:Bass DI"
            ));
        }
    };
    let name = match name {
        Some(n) => {
            naming::check_track_name(n).map_err(|e| format!("--track {s:?}: {e}"))?;
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
                return Err(format!(
                    "--track {s:?}: role {r:?} must be a short lowercase word such as di, mic, line, room"
                ));
            }
            Some(r.to_string())
        }
        None => None,
    };
    Ok(TrackSpec { input, name, role })
}

/// `--on-take-end`: a command for the shell; an empty one is a mistake worth saying.
pub(crate) fn parse_hook(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err(
            "--on-take-end needs a command, e.g. --on-take-end 'rsync -a \"$1\" nas:takes/'".into(),
        );
    }
    Ok(s.to_string())
}

pub(crate) fn parse_session_name(s: &str) -> Result<String, String> {
    naming::check_session_name(s).map(|()| s.to_string())
}

/// `--min-free` and `--warn-free`: a duration in seconds, or 0 for none.
pub(crate) fn parse_free_limit(s: &str) -> Result<u64, String> {
    if matches!(s.trim(), "0" | "0s") {
        return Ok(0);
    }
    crate::duration::parse(s).map(|d| d.as_secs())
}

pub(crate) fn parse_ring_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (0.1..=600.0).contains(&v) => Ok(v),
        _ => Err("--ring-seconds must be between 0.1 and 600".into()),
    }
}

/// `--sync-interval`: `None` leaves forcing the files to disk to the kernel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SyncInterval(pub(crate) Option<Duration>);

pub(crate) fn parse_sync_interval(s: &str) -> Result<SyncInterval, String> {
    match s.trim().parse::<f64>() {
        Ok(0.0) => Ok(SyncInterval(None)),
        Ok(v) if v.is_finite() && (0.1..=3600.0).contains(&v) => {
            Ok(SyncInterval(Some(Duration::from_secs_f64(v))))
        }
        _ => Err(
            "--sync-interval must be 0 (leave it to the kernel) or between 0.1 and 3600 seconds"
                .into(),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Tracks.

fn name_of(s: &TrackSpec) -> String {
    s.name.clone().unwrap_or_else(|| format!("In {}", s.input))
}

/// Two tracks on one input, or with one name (ignoring case), are refused before any device
/// is opened.
fn check_tracks(specs: &[TrackSpec]) -> Result<(), Error> {
    for (i, s) in specs.iter().enumerate() {
        for earlier in &specs[..i] {
            if earlier.input == s.input {
                return Err(Error::usage(format!(
                    "input {} is given to two tracks; give each track its own input",
                    s.input
                )));
            }
            let name = name_of(s);
            if name_of(earlier).to_lowercase() == name.to_lowercase() {
                return Err(Error::usage(format!(
                    "tracks {} and {} are both named {name:?}; give each track its own name",
                    earlier.input, s.input
                )));
            }
        }
    }
    Ok(())
}

/// Turns track specs (checked against each other by `plan`) into tracks for a device with
/// `channels` inputs: every input, named `In N`, when none were given.
pub(crate) fn resolve_tracks(
    specs: &[TrackSpec],
    channels: u16,
    device: &str,
) -> Result<Vec<Track>, Error> {
    if specs.is_empty() {
        return Ok(Track::every_input(channels));
    }
    let mut tracks = Vec::with_capacity(specs.len());
    for s in specs {
        if s.input > channels {
            return Err(Error::usage(format!(
                "input {} is beyond the {channels} inputs opened on {device}; use 1-{channels}, or open more with --channels",
                s.input
            )));
        }
        tracks.push(Track {
            number: s.input,
            name: name_of(s),
            input: s.input,
            role: s.role.clone(),
            armed: true,
        });
    }
    tracks.sort_by_key(|t| t.number);
    Ok(tracks)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Cmd};

    fn env(terminal: bool) -> Surroundings {
        Surroundings {
            terminal,
            now: DateTime::parse_from_rfc3339("2026-11-25T20:15:03+01:00").expect("time"),
            default_dir_exists: false,
        }
    }

    /// The plan of `tapedeck demo ARGS` (or `record`).
    fn planned(args: &[&str], env: &Surroundings) -> Result<RecordPlan, Error> {
        let cli = Cli::try_parse_from(args).map_err(|e| Error::usage(e.to_string()))?;
        match cli.command {
            Cmd::Demo(d) => plan(
                Source::Demo {
                    unpaced: d.unpaced,
                    unplug_after: d.unplug_after,
                },
                d.common,
                env,
            ),
            Cmd::Record(r) => plan(
                Source::Device {
                    host: r.host.into(),
                    device: r.device,
                },
                r.common,
                env,
            ),
            _ => Err(Error::usage("not a recording command")),
        }
    }

    #[test]
    fn defaults_make_a_dated_session_in_sessions_on_the_screen() {
        let p = planned(&["tapedeck", "record"], &env(true)).expect("plan");
        assert_eq!(p.host, HostKind::Alsa);
        assert_eq!(p.session, "2026-11-25_20-15-03");
        assert_eq!((p.root, p.create_root), (PathBuf::from("sessions"), true));
        assert_eq!(
            p.front,
            FrontEnd::Screen {
                fps: 25,
                record_now: false
            }
        );
        assert_eq!(p.file_format, FileFormat::S24);
        assert_eq!((p.min_free_seconds, p.warn_free_seconds), (60, 600));
        assert_eq!(p.sync_interval, Some(Duration::from_secs(1)));
        assert_eq!(p.ring_seconds, 4.0);
    }

    #[test]
    fn serve_is_a_front_end_of_its_own_with_a_control_socket() {
        let p = planned(&["tapedeck", "demo", "--serve"], &env(true)).expect("plan");
        assert_eq!(
            p.front,
            FrontEnd::Serve {
                json: false,
                record_now: false
            }
        );
        assert!(p.control.enabled);
        assert_eq!(p.control.socket, None);
        let p = planned(
            &[
                "tapedeck",
                "demo",
                "--serve",
                "--json-status",
                "--record",
                "--duration",
                "5s",
                "--control-socket",
                "/run/td.sock",
            ],
            &env(false),
        )
        .expect("plan");
        assert_eq!(
            p.front,
            FrontEnd::Serve {
                json: true,
                record_now: true
            }
        );
        assert_eq!(p.control.socket, Some(PathBuf::from("/run/td.sock")));
        let e = planned(
            &["tapedeck", "demo", "--serve", "--duration", "5s"],
            &env(false),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("add --record"), "{e}");
        let e = planned(&["tapedeck", "demo", "--serve", "--overdub"], &env(false))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("--overdub records one take"), "{e}");
        // Every recorder front end serves the socket.
        let p = planned(&["tapedeck", "demo"], &env(true)).expect("plan");
        assert!(p.control.enabled);
    }

    #[test]
    fn without_a_terminal_or_with_json_it_runs_headless() {
        let p = planned(&["tapedeck", "demo"], &env(false)).expect("plan");
        assert_eq!(p.front, FrontEnd::Headless { json: false });
        let p = planned(&["tapedeck", "demo", "--json-status"], &env(true)).expect("plan");
        assert_eq!(p.front, FrontEnd::Headless { json: true });
        let p = planned(&["tapedeck", "demo", "--headless"], &env(true)).expect("plan");
        assert_eq!(p.front, FrontEnd::Headless { json: false });
    }

    #[test]
    fn a_given_dir_is_never_created() {
        let p = planned(&["tapedeck", "demo", "--dir", "/x/y"], &env(false)).expect("plan");
        assert_eq!((p.root, p.create_root), (PathBuf::from("/x/y"), false));
        let mut there = env(false);
        there.default_dir_exists = true;
        let p = planned(&["tapedeck", "demo"], &there).expect("plan");
        assert!(!p.create_root);
    }

    #[test]
    fn the_demo_unplugs_after_its_duration_in_frames_at_its_rate() {
        let p = planned(
            &[
                "tapedeck",
                "demo",
                "--unplug-after",
                "2s",
                "--rate",
                "96000",
                "--unpaced",
            ],
            &env(false),
        )
        .expect("plan");
        assert_eq!(p.host, HostKind::Demo);
        assert_eq!(p.demo.unplug_after_frames, Some(192_000));
        assert!(!p.demo.paced);
    }

    #[test]
    fn typed_values_arrive_typed() {
        let p = planned(
            &[
                "tapedeck",
                "record",
                "--host",
                "jack",
                "--format",
                "f32",
                "--device-format",
                "i24",
                "--duration",
                "1h30m",
                "--min-free",
                "0",
                "--sync-interval",
                "0",
                "--ring-seconds",
                "0.5",
                "--track",
                "3:Bass DI:di",
            ],
            &env(false),
        )
        .expect("plan");
        assert_eq!(p.host, HostKind::Jack);
        assert_eq!(p.file_format, FileFormat::F32);
        assert_eq!(p.request.format, Some(crate::format::DeviceFormat::I24));
        assert_eq!(p.duration, Some(Duration::from_secs(5400)));
        assert_eq!((p.min_free_seconds, p.sync_interval), (0, None));
        assert_eq!(p.ring_seconds, 0.5);
        assert_eq!(
            p.tracks,
            [TrackSpec {
                input: 3,
                name: Some("Bass DI".into()),
                role: Some("di".into())
            }]
        );
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for args in [
            &["tapedeck", "demo", "--ring-seconds", "0.01"][..],
            &["tapedeck", "demo", "--ring-seconds", "NaN"],
            &["tapedeck", "demo", "--sync-interval", "0.05"],
            &["tapedeck", "demo", "--sync-interval", "inf"],
            &["tapedeck", "demo", "--fps", "121"],
            &["tapedeck", "demo", "--min-free", "-1"],
            &["tapedeck", "demo", "--session", "a/b"],
        ] {
            assert!(planned(args, &env(false)).is_err(), "{args:?}");
        }
    }

    #[test]
    fn two_tracks_on_one_input_or_name_are_refused_before_any_device() {
        let e = planned(
            &["tapedeck", "demo", "--track", "1:Gtr", "--track", "2:gtr"],
            &env(false),
        );
        assert!(matches!(e, Err(Error::Usage(m)) if m.contains("both named")));
        let e = planned(
            &["tapedeck", "demo", "--track", "1:a", "--track", "1:b"],
            &env(false),
        );
        assert!(matches!(e, Err(Error::Usage(m)) if m.contains("two tracks")));
    }

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
    fn track_resolution_checks_inputs_against_the_device() {
        let s = |i, n: &str| TrackSpec {
            input: i,
            name: Some(n.into()),
            role: None,
        };
        assert!(resolve_tracks(&[s(9, "a")], 8, "d").is_err());
        assert!(resolve_tracks(&[s(8, "a")], 8, "d").is_ok());
        let t = resolve_tracks(&[s(3, "Bass"), s(1, "Kick")], 8, "d").unwrap_or_default();
        assert_eq!(t.iter().map(|t| t.number).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(resolve_tracks(&[], 4, "d").map(|t| t.len()).ok(), Some(4));
    }

    #[test]
    fn the_ring_holds_at_least_1024_frames() {
        assert_eq!(ring_frames(4.0, 48_000), 192_000);
        assert_eq!(ring_frames(0.1, 8_000), 1024);
    }

    // Pre-roll, keep what was just played, record on signal.
    #[test]
    fn unless_told_the_kept_past_stays_within_its_memory_budget() {
        let two_minutes = 120 * 48_000;
        let ring = ring_frames(4.0, 48_000);
        // 8 inputs: two minutes fit (8 × 4 × 5.95 M frames = 190 MB).
        assert_eq!(
            default_keep_frames(two_minutes, 8, ring, 96_000),
            two_minutes
        );
        // 64 inputs: what 512 MiB holds, the ring's margin included.
        let k = default_keep_frames(two_minutes, 64, ring, 96_000);
        assert_eq!((k + ring as u64) * 64 * 4, DEFAULT_KEEP_BYTES);
        assert!(k < two_minutes);
        // Never less than the pre-roll, however many inputs.
        assert_eq!(default_keep_frames(two_minutes, 4096, ring, 96_000), 96_000);
        let p = planned(&["tapedeck", "demo"], &env(true)).expect("plan");
        assert!(!p.keep.keep_given);
        assert_eq!(p.keep.keep, DEFAULT_KEEP);
        // A headless run's one take starts at once: nothing is kept unless asked.
        let p = planned(&["tapedeck", "demo"], &env(false)).expect("plan");
        assert_eq!(p.keep.keep, Duration::ZERO);
        let p = planned(&["tapedeck", "demo", "--keep", "1m"], &env(false)).expect("plan");
        assert_eq!(p.keep.keep, Duration::from_secs(60));
        let p = planned(&["tapedeck", "demo", "--keep", "10m"], &env(true)).expect("plan");
        assert!(p.keep.keep_given);
    }

    #[test]
    fn the_kept_past_and_the_trigger_are_planned_with_their_defaults_and_limits() {
        let p = planned(&["tapedeck", "demo"], &env(true)).expect("plan");
        assert_eq!(p.keep.keep, Duration::from_secs(120));
        assert_eq!(p.keep.pre_roll, Duration::from_secs(2));
        assert_eq!(p.keep.trigger, None);
        // A take that starts with the program has no pre-roll unless asked for one.
        let p = planned(&["tapedeck", "demo"], &env(false)).expect("plan");
        assert_eq!(p.keep.pre_roll, Duration::ZERO);
        let p = planned(&["tapedeck", "demo", "--record"], &env(true)).expect("plan");
        assert_eq!(p.keep.pre_roll, Duration::ZERO);
        // A service's takes are asked for later: they roll from the past.
        let p = planned(&["tapedeck", "demo", "--serve"], &env(false)).expect("plan");
        assert_eq!(p.keep.pre_roll, Duration::from_secs(2));
        let p = planned(&["tapedeck", "demo", "--pre-roll", "5s"], &env(false)).expect("plan");
        assert_eq!(p.keep.pre_roll, Duration::from_secs(5));
        // The trigger waits for the signal: the default pre-roll, headless too.
        let p = planned(
            &[
                "tapedeck",
                "demo",
                "--trigger",
                "-40dBFS",
                "--trigger-silence",
                "5s",
            ],
            &env(false),
        )
        .expect("plan");
        assert_eq!(p.keep.pre_roll, Duration::from_secs(2));
        assert_eq!(p.keep.trigger, Some((-40.0, Duration::from_secs(5))));
        let p = planned(
            &["tapedeck", "demo", "--pre-roll", "0", "--keep", "0"],
            &env(true),
        )
        .expect("plan");
        assert_eq!(
            (p.keep.keep, p.keep.pre_roll),
            (Duration::ZERO, Duration::ZERO)
        );
        // Refused, each with what to write instead.
        for (args, says) in [
            (&["--pre-roll", "3m"][..], "longer than what is kept"),
            (&["--keep", "2h"][..], "at most an hour"),
            (&["--pre-roll", "11m", "--keep", "20m"][..], "at most 10m"),
            (&["--trigger", "loud"][..], "-40dBFS"),
            (
                &["--trigger", "-40", "--overdub", "--headless"][..],
                "leave out --overdub",
            ),
        ] {
            let mut all = vec!["tapedeck", "demo"];
            all.extend_from_slice(args);
            let e = planned(&all, &env(true)).expect_err("refused");
            assert!(e.to_string().contains(says), "{args:?}: {e}");
        }
    }
}
