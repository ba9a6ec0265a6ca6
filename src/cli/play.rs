//! `tapedeck play`: listen back to a session's song on an output, without recording.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::audio::{self, HostKind, demo};
use crate::display::song_clock;
use crate::engine::SONG_RING_SECONDS;
use crate::error::Error;
use crate::playback::{self, PlayState, Player};
use crate::session::{self, song};
use crate::song_time::SongTime;

/// What `tapedeck play` was asked.
pub(crate) struct PlayArgs {
    pub(crate) session: String,
    pub(crate) dir: PathBuf,
    pub(crate) host: HostKind,
    pub(crate) output: Option<String>,
    pub(crate) from: Option<SongTime>,
    pub(crate) duration: Option<Duration>,
}

/// The session folder: a path to one, or a name under `dir`.
fn session_dir(session: &str, dir: &Path) -> PathBuf {
    let p = Path::new(session);
    if p.join(session::manifest::FILE_NAME).exists() {
        p.to_path_buf()
    } else {
        dir.join(session)
    }
}

pub(crate) fn run(a: PlayArgs) -> Result<i32, Error> {
    let dir = session_dir(&a.session, &a.dir);
    let (root, name) = match (dir.parent(), dir.file_name()) {
        (Some(r), Some(n)) => (r.to_path_buf(), n.to_string_lossy().into_owned()),
        _ => {
            return Err(Error::usage(format!(
                "{} is not a session folder",
                dir.display()
            )));
        }
    };
    let manifest = session::inspect(&root, &name)?.ok_or_else(|| {
        Error::usage(format!(
            "there is no session {} (no {}); `ls {}` shows the sessions there",
            dir.display(),
            session::manifest::FILE_NAME,
            a.dir.display()
        ))
    })?;
    let rate = manifest.sample_rate;
    let song = song::load(&dir, &manifest);
    for p in &song.problems {
        eprintln!("tapedeck: {p}");
    }
    let length = playback::song_length(&song.cue);
    if !song.has_audio() {
        return Err(Error::usage(format!(
            "session {name:?} has nothing to play: record or import a take first"
        )));
    }
    // A time past 2^64 frames is past any song's end, and is refused as such.
    let from = a.from.map_or(0, |t| t.frames(rate).unwrap_or(u64::MAX));
    if from >= length {
        return Err(Error::usage(format!(
            "--from {} is at or past the song's end ({}); start earlier",
            song_clock(from, rate),
            song_clock(length, rate)
        )));
    }
    let host = audio::open_host(a.host, demo::DemoOptions::default())?;
    let device =
        audio::find_output_device(a.host, &host, a.output.as_deref())?.ok_or_else(|| {
            Error::usage(format!(
                "the {} host has no default output; name one with --output",
                a.host.name()
            ))
        })?;
    let choice = playback::choose_output(
        a.host,
        &device,
        &playback::OutputRequest {
            sample_rate: rate,
            channels: None,
            format: None,
            buffer: None,
        },
    )?;
    let ring = super::plan::ring_frames(SONG_RING_SECONDS, rate);
    let (mut player, playout, shared) = Player::new(song.cue.clone(), rate, ring)?;
    let opened = playback::open_output(a.host, &device, &choice, playout, &shared)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| Error::Runtime(format!("cannot install signal handlers: {e}")))?;
    }
    let end = a.duration.map_or(length, |d| {
        (from + (d.as_secs_f64() * f64::from(rate)) as u64).min(length)
    });
    eprintln!(
        "tapedeck: playing {name} on {} ({}) from {} to {}",
        audio::name_of(&device),
        audio::id_of(&device),
        song_clock(from, rate),
        song_clock(end, rate)
    );
    player.play_from(from)?;
    let started = Instant::now();
    let mut next_line = started;
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let state = player.state();
        let pos = player.position();
        if Instant::now() >= next_line {
            next_line += Duration::from_secs(1);
            eprintln!("tapedeck: {}", song_clock(pos, rate));
        }
        if stop.load(Ordering::Relaxed) || state == PlayState::Ended || pos >= end {
            break;
        }
        if state == PlayState::Stopped && started.elapsed() > Duration::from_secs(3) {
            return Err(Error::Runtime(format!(
                "the output {} did not start playing; check that it is running",
                audio::id_of(&device)
            )));
        }
    }
    player.stop();
    drop(opened);
    let crate::playback::Underruns { events, frames } = shared.underruns();
    if events > 0 {
        eprintln!("tapedeck: the disk was late {events} times: {frames} frames played as silence");
    }
    eprintln!(
        "tapedeck: stopped at {}",
        song_clock(player.position().min(end), rate)
    );
    Ok(0)
}
