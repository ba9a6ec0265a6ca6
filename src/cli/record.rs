//! Runs a plan: opens the device, then the session, then the engine, and hands them to a front
//! end. The device stream is opened before anything is created on disk, so that a device that
//! cannot be used leaves no trace.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::plan::{FrontEnd, OutputPlan, RecordPlan, resolve_tracks, ring_frames};
use super::song_output;
use crate::audio::{self, HostKind, demo};
use crate::engine::{Engine, EngineConfig, RecorderConfig, RoundTripFix, SongSetup};
use crate::error::Error;
use crate::frontend::Driver;
use crate::frontend::headless::{self, Printer, StatusStyle};
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
    };
    // Dropped in this order: the capture stream, then the output.
    let engine = Engine::start(
        config,
        session,
        opened.output,
        opened.shared,
        Box::new((opened.stream, output_stream)),
    )?;
    let driver = Driver::start(engine, takes_before)?;
    let mut take_frames = plan
        .duration
        .map(|d| (d.as_secs_f64() * f64::from(choice.sample_rate)).round() as u64);
    if plan.overdub && take_frames.is_none() {
        // To the song's end.
        take_frames = Some(song_frames - from);
    }
    match plan.front {
        FrontEnd::Screen { fps, record_now } => {
            // The screen takes the terminal: the warning stays above it, and on it after.
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
            let printer = Printer {
                style: if json {
                    StatusStyle::Json
                } else {
                    StatusStyle::Text
                },
                session_dir: session_dir.clone(),
            };
            printer.note(&format!(
                "tapedeck: {dev_name} ({dev_id}), {} ch, {} Hz, device {} -> files {}; session {session_dir}",
                choice.channels, choice.sample_rate, choice.format, plan.file_format
            ));
            for w in &warnings {
                printer.warning(w);
            }
            headless::run(driver, take_frames, &printer)
        }
        FrontEnd::Quiet => {
            let printer = Printer {
                style: StatusStyle::Quiet,
                session_dir: session_dir.clone(),
            };
            for w in &warnings {
                printer.warning(w);
            }
            headless::run(driver, take_frames, &printer)
        }
    }
}
