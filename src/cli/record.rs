//! Runs a plan: opens the device, then the session, then the engine, and hands them to a front
//! end. The device stream is opened before anything is created on disk, so that a device that
//! cannot be used leaves no trace.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::plan::{FrontEnd, OutputPlan, RecordPlan, resolve_tracks, ring_frames};
use super::song_output;
use crate::audio::{self, HostKind, demo};
use crate::control::protocol::{Hello, PROTOCOL_VERSION};
use crate::control::server::{EngineLink, Server, ServerConfig};
use crate::control::{ControlError, path as control_path};
use crate::engine::{
    Engine, EngineConfig, KeepConfig, KeptPast, RecorderConfig, RoundTripFix, SongSetup,
    TriggerConfig, kept_bytes, kept_fits, memory_available,
};
use crate::error::Error;
use crate::frontend::headless::{self, Printer, StatusStyle};
use crate::frontend::{self, Driver};
use crate::session::manifest::{DeviceRecord, TrackRecord};
use crate::session::{self, Session, SessionInit};
use crate::tui::{self, TuiOptions};

pub(crate) fn run(plan: RecordPlan) -> Result<i32, Error> {
    // 1. The folder for sessions, if it was given: it must be there and writable.
    if !plan.create_root {
        session::check_root(&plan.root)?;
    }

    // 2. The device and its configuration. The unpaced demo device paces itself by what the
    // writer has taken out of the ring.
    let kind = plan.host;
    let mut demo_options = plan.demo.clone();
    let taken = (kind == HostKind::Demo && !demo_options.paced).then(|| {
        let taken = Arc::new(AtomicU64::new(0));
        let rate = plan.request.sample_rate.unwrap_or(demo::DEFAULT_RATE);
        demo_options.pace = Some(demo::Pace::new(
            Arc::clone(&taken),
            ring_frames(plan.ring_seconds, rate) as u64,
        ));
        taken
    });
    let host = audio::open_host(kind, demo_options)?;
    // When the demo plays the song, its input is the one with the loopback cable from its
    // output (the band's inputs, then two that hear what tapedeck plays).
    let loopback =
        kind == HostKind::Demo && plan.device.is_none() && plan.output != OutputPlan::Off;
    let mut request = plan.request.clone();
    let device_id = if loopback {
        request.channels = request.channels.map(|c| c + demo::LOOPBACK_CHANNELS);
        Some(demo::LOOPBACK_DEVICE_ID)
    } else {
        plan.device.as_deref()
    };
    let device = audio::find_device(kind, &host, device_id)?;
    let choice = audio::choose_config(kind, &device, &request, plan.file_format)?;
    let dev_name = audio::name_of(&device);
    let dev_id = audio::id_of(&device);
    let mut tracks = resolve_tracks(&plan.tracks, choice.channels, &dev_id)?;
    if kind == HostKind::Demo && plan.tracks.is_empty() {
        // The demo's inputs are named after what they play; the loopback's are not armed.
        let voices = audio::demo_synth::VOICE_NAMES;
        let band = if loopback {
            choice.channels.saturating_sub(demo::LOOPBACK_CHANNELS)
        } else {
            choice.channels
        };
        for t in &mut tracks {
            if t.input > band {
                t.name = demo::LOOPBACK_NAMES[usize::from(t.input - band - 1) % 2].to_string();
                t.armed = false;
                continue;
            }
            let voice = voices[usize::from(t.input - 1) % voices.len()];
            t.name = if usize::from(t.input) > voices.len() {
                format!("{voice} {}", t.input)
            } else {
                voice.to_string()
            };
        }
    }

    // 3. An existing session must match what we are about to record, and be free.
    let existing = session::inspect(&plan.root, &plan.session)?;
    if let Some(m) = &existing {
        session::check_compatible(m, choice.sample_rate, plan.file_format.name())?;
        Session::check_not_busy(&plan.root, &plan.session)?;
        for (input, from, to) in session::song::keep_tracks_apart(&m.tracks, &mut tracks) {
            eprintln!(
                "tapedeck: track {from} of this session is not input {input} (it was imported or recorded from another input); input {input} records as track {to}"
            );
        }
    }

    // 3b. Where the song starts: checked against the session before anything is written.
    let from = plan
        .from
        .map_or(0, |t| t.frames(choice.sample_rate).unwrap_or(u64::MAX));
    let song_frames = existing.as_ref().map_or(0, |m| {
        let dir = plan.root.join(&plan.session);
        crate::playback::song_length(&crate::session::song::load(&dir, m).cue)
    });
    if plan.overdub && from >= song_frames {
        return Err(if song_frames == 0 {
            Error::usage(
                "--overdub plays the song, and this session has nothing to play yet: record or import a take first",
            )
        } else {
            Error::usage(format!(
                "--from {} is at or past the song's end ({}); start earlier",
                crate::display::song_clock(from, choice.sample_rate),
                crate::display::song_clock(song_frames, choice.sample_rate)
            ))
        });
    }

    // 4. The stream, before anything is created.
    let ring_frames = ring_frames(plan.ring_seconds, choice.sample_rate);
    let (keep, kept_note) = keep_config(&plan, choice.sample_rate, choice.channels, ring_frames)?;
    // The kept past's memory, held before the stream starts (at least a second while a song
    // can play, for an overdub that starts behind the writer).
    let song_possible = plan.output != OutputPlan::Off;
    let kept_frames = keep.frames(
        ring_frames as u64,
        if song_possible {
            u64::from(choice.sample_rate)
        } else {
            0
        },
    );
    let kept = (kept_frames > 0).then(|| {
        KeptPast::touched(
            usize::from(choice.channels.max(1)),
            usize::try_from(kept_frames).unwrap_or(usize::MAX),
        )
    });
    // Software monitoring: the capture callback's end now, the output's when it opens.
    let (monitor_in, monitor_out, monitor) = crate::monitor::monitor();
    let opened =
        crate::capture::open_stream(kind, &device, &choice, ring_frames, Some(monitor_in))?;
    let output = song_output::find(&plan, kind, &host, &dev_id, choice.sample_rate)?;
    // The output and its wiring, before anything is created: a port or device that will not
    // do leaves no session behind. The player starts with the song as the session holds it
    // now; the engine reads it again once the session is open (a repaired take may add to it).
    let song = existing.as_ref().map_or_else(Default::default, |m| {
        crate::session::song::load(&plan.root.join(&plan.session), m)
    });
    let (song_setup, output_stream) = match output {
        Some(out) => {
            let (setup, stream) = song_output::start(
                out,
                kind,
                &song,
                choice.sample_rate,
                &plan,
                &dev_id,
                choice.buffer,
                from,
                (monitor_out, monitor),
            )?;
            (setup, Some(stream))
        }
        None => {
            // Nothing plays, but the inputs are still wired where the user said.
            song_output::connect_inputs(kind, &plan.connect_input)?;
            (
                SongSetup {
                    player: None,
                    fix: RoundTripFix::default(),
                    loop_probe: None,
                    from,
                    monitor: None,
                    monitor_tracks: plan.monitor.clone(),
                },
                None,
            )
        }
    };

    // 4b. Said before recording: inputs that JACK connected to nothing record silence, and
    // PipeWire resamples a stream whose rate is not its graph's.
    let mut warnings: Vec<String> = Vec::new();
    #[cfg(feature = "jack")]
    if kind == HostKind::Jack {
        warnings.extend(audio::jack_graph::unconnected_inputs_warning(
            std::process::id(),
        ));
    }
    if kind == HostKind::Alsa && audio::pipewire::is_pipewire_alsa(&dev_id) {
        warnings.extend(
            audio::pipewire::graph_clock()
                .and_then(|c| audio::pipewire::rate_warning(&c, choice.sample_rate)),
        );
    }

    // 5. The session.
    let device_record = DeviceRecord {
        host: kind.name().to_string(),
        id: dev_id.clone(),
        name: dev_name.clone(),
        sample_rate: choice.sample_rate,
        sample_format: choice.format.name().to_string(),
        channels: choice.channels,
        buffer_frames: choice.buffer,
    };
    let format = plan.file_format.name();
    let init = SessionInit {
        sample_rate: choice.sample_rate,
        format: format.to_string(),
        device: device_record.clone(),
        tracks: tracks
            .iter()
            .map(|t| TrackRecord::new(t.number, &t.name, t.input, t.role.as_deref(), format))
            .collect(),
    };
    if plan.create_root {
        std::fs::create_dir_all(&plan.root).map_err(|e| {
            Error::Runtime(format!(
                "cannot create ./{}: {e}; pass --dir PATH",
                plan.root.display()
            ))
        })?;
    }
    let mut session = Session::open(&plan.root, &plan.session, init, session::now())?;
    // A take left unfinished by a crash is repaired before anything new is recorded.
    for r in session.recover_unfinished()? {
        eprintln!(
            "tapedeck: take {} of this session had not been finished (crash or kill); its files were repaired: {} frames",
            r.take, r.length_frames
        );
    }
    let session_dir = session.dir().display().to_string();
    let takes_before = session.manifest().takes.len();

    // 6. The engine, and a front end to drive it.
    let config = EngineConfig {
        recorder: RecorderConfig {
            device: device_record,
            device_format: choice.format,
            file_format: plan.file_format,
            tracks,
            min_free_seconds: plan.min_free_seconds,
            warn_free_seconds: plan.warn_free_seconds,
        },
        ring_frames,
        sync_interval: plan.sync_interval,
        split_every: plan.split_every,
        taken,
        song: song_setup,
        keep,
        kept,
    };
    // Dropped in this order: the capture stream, then the output.
    let engine = Engine::start(
        config,
        session,
        opened.output,
        opened.shared,
        Box::new((opened.stream, output_stream)),
    )?;
    let mut driver = Driver::start(engine, takes_before)?;
    if !plan.on_take_end.is_empty() {
        let dir = std::path::absolute(&session_dir).unwrap_or_else(|_| session_dir.clone().into());
        let hooks =
            crate::hooks::Hooks::start(plan.on_take_end.clone(), dir.join(crate::hooks::LOG_FILE))?;
        driver = driver.with_hooks(hooks, dir);
    }
    // 6b. The control socket: a warning when it cannot be served (recording matters more),
    // except for a service, which is controlled only through it.
    let serving = matches!(plan.front, FrontEnd::Serve { .. });
    if plan.control.enabled {
        match start_control(&plan, &driver, &session_dir, choice.sample_rate) {
            Ok(server) => driver.set_control(server),
            Err(e) if serving => {
                return Err(Error::Runtime(format!(
                    "cannot serve the control socket, and --serve is controlled only through it: {e}"
                )));
            }
            Err(e) => warnings.push(format!("no control socket: {e}")),
        }
    }
    // With --trigger, a headless run waits for the signal: --duration is then the wall time
    // it listens and records for, not a take's length.
    let trigger_on = plan.keep.trigger.is_some();
    let trigger_wall = if trigger_on {
        headless::Start::OnSignal {
            listen_for: plan.duration,
        }
    } else {
        headless::Start::Now
    };
    let mut take_frames = plan
        .duration
        .filter(|_| !trigger_on)
        .map(|d| (d.as_secs_f64() * f64::from(choice.sample_rate)).round() as u64);
    if plan.overdub && take_frames.is_none() {
        // To the song's end.
        take_frames = Some(song_frames - from);
    }
    let opened = format!(
        "tapedeck: {dev_name} ({dev_id}), {} ch, {} Hz, device {} -> files {}; session {session_dir}",
        choice.channels, choice.sample_rate, choice.format, plan.file_format
    );
    match plan.front {
        FrontEnd::Screen { fps, record_now } => {
            // The screen takes the terminal: the warning stays above it, and on it after.
            if let Some(n) = &kept_note {
                eprintln!("tapedeck: {n}");
            }
            for w in &warnings {
                eprintln!("tapedeck: WARNING: {w}");
            }
            tui::run(
                driver,
                TuiOptions {
                    fps,
                    color: tui::color_wanted(),
                    take_frames,
                    record_now,
                },
            )
        }
        FrontEnd::Headless { json } => {
            let printer = Printer::new(json, &session_dir);
            printer.note(&opened);
            say_before(&printer, kept_note.as_deref(), &warnings);
            headless::run(driver, take_frames, &printer, trigger_wall)
        }
        FrontEnd::Serve { json, record_now } => {
            let printer = Printer::new(json, &session_dir);
            printer.note(&opened);
            say_before(&printer, kept_note.as_deref(), &warnings);
            if let Some(p) = driver.control_path() {
                printer.note(&format!(
                    "tapedeck: serving on {}; control it with `tapedeck ctl` (stop the service with SIGTERM)",
                    p.display()
                ));
            }
            frontend::serve::run(driver, take_frames, record_now, &printer)
        }
        FrontEnd::Quiet => {
            let printer = Printer {
                style: StatusStyle::Quiet,
                session_dir: session_dir.clone(),
            };
            say_before(&printer, None, &warnings);
            headless::run(driver, take_frames, &printer, trigger_wall)
        }
    }
}

/// Starts the control socket of this recorder.
fn start_control(
    plan: &RecordPlan,
    driver: &Driver,
    session_dir: &str,
    sample_rate: u32,
) -> Result<Server, ControlError> {
    let (path, default_location) = match &plan.control.socket {
        Some(p) => (p.clone(), false),
        None => (control_path::default_socket(&plan.session), true),
    };
    let front_end = match plan.front {
        FrontEnd::Screen { .. } => "screen",
        FrontEnd::Headless { .. } | FrontEnd::Quiet => "headless",
        FrontEnd::Serve { .. } => "serve",
    };
    // Absolute, so that `tapedeck take` run elsewhere can tell it is the same session.
    let dir = std::fs::canonicalize(session_dir)
        .map_or_else(|_| session_dir.to_string(), |p| p.display().to_string());
    let engine = driver.engine();
    Server::start(
        ServerConfig {
            path,
            default_location,
            hello: Hello {
                protocol: PROTOCOL_VERSION,
                version: env!("CARGO_PKG_VERSION").to_string(),
                session: plan.session.clone(),
                session_dir: dir,
                sample_rate,
                pid: std::process::id(),
                front_end: front_end.to_string(),
            },
        },
        EngineLink {
            commander: engine.commander(),
            snapshots: engine.snapshot_reader(),
            tap: engine.meter_tap(),
        },
    )
}

/// What the engine keeps of the past, in frames, and the line that says what it costs.
/// Refused, with what to lower, when the memory is not there.
fn keep_config(
    plan: &RecordPlan,
    rate: u32,
    channels: u16,
    ring_frames: usize,
) -> Result<(KeepConfig, Option<String>), Error> {
    let frames = |d: std::time::Duration| (d.as_secs_f64() * f64::from(rate)).round() as u64;
    // An overdub starts from the song position: no pre-roll there (docs/usage.md).
    let pre_roll = if plan.overdub {
        0
    } else {
        frames(plan.keep.pre_roll)
    };
    // Unless told, what is kept is bounded by memory too: a 64-input interface keeps less
    // than two minutes rather than gigabytes.
    let mut keep_frames = frames(plan.keep.keep);
    if !plan.keep.keep_given {
        keep_frames =
            super::plan::default_keep_frames(keep_frames, channels, ring_frames, pre_roll);
    }
    let keep = KeepConfig {
        keep_frames,
        pre_roll_frames: pre_roll,
        trigger: plan
            .keep
            .trigger
            .map(|(level_dbfs, silence)| TriggerConfig {
                level_dbfs,
                silence_frames: frames(silence),
            }),
    };
    let total = keep.frames(ring_frames as u64, 0);
    if total == 0 {
        return Ok((keep, None));
    }
    let bytes = kept_bytes(total, channels);
    let kept = keep.keep_frames.max(keep.pre_roll_frames);
    let what = format!(
        "keeping the last {} of {channels} input{}: {}",
        span(kept / u64::from(rate.max(1))),
        if channels == 1 { "" } else { "s" },
        megabytes(bytes)
    );
    if let Some(available) = memory_available()
        && !kept_fits(bytes, available)
    {
        return Err(Error::usage(format!(
            "{what}, and only {} of memory is available; lower --keep (or --pre-roll), or record fewer --channels",
            megabytes(available)
        )));
    }
    Ok((keep, Some(what)))
}

/// 2m, 1h30m, 45s, 10m30s.
fn span(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

fn megabytes(bytes: u64) -> String {
    format!("{} MB", bytes.div_ceil(1_000_000))
}

/// What a printing front end says before its first status line: what the kept past costs,
/// then the warnings.
fn say_before(printer: &Printer, kept_note: Option<&str>, warnings: &[String]) {
    if let Some(n) = kept_note {
        printer.info(n);
    }
    for w in warnings {
        printer.warning(w);
    }
}
