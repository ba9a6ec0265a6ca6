//! The terminal UI without a terminal: screens rendered with ratatui's TestBackend and compared
//! with reviewed snapshots (tests/snapshots/), and key handling on the app state.

use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use tapedeck::engine::{
    Command, DiskSpace, EndReason, InputMeter, Locate, Snapshot, SongView, Track, Transport,
};
use tapedeck::format::FileFormat;
use tapedeck::session::manifest::{CueRecord, DeviceRecord};
use tapedeck::session::song::SongTrack;
use tapedeck::tui::app::{App, Mode};
use tapedeck::tui::view;

fn db(d: f64) -> f32 {
    10f64.powf(d / 20.0) as f32
}

/// 50 GB free: the time it holds at the armed tracks, as the engine works it out.
fn disk(armed: usize) -> Option<DiskSpace> {
    let free_bytes = 50_000_000_000;
    Some(DiskSpace {
        free_bytes,
        tracks: armed,
        seconds_left: free_bytes.checked_div(armed as u64 * 48_000 * 3),
    })
}

fn snapshot(tracks: usize, recording: bool) -> Snapshot {
    let names = [
        "Kick", "Snare", "Bass DI", "Gtr DI", "Vox", "Room", "Synth", "Keys",
    ];
    Snapshot {
        session: "Song 1".into(),
        sample_rate: 48_000,
        file_format: FileFormat::S24,
        device: DeviceRecord {
            host: "alsa".into(),
            id: "alsa:hw:CARD=US16,DEV=0".into(),
            name: "US-16x08".into(),
            sample_rate: 48_000,
            sample_format: "i32".into(),
            channels: tracks as u16,
            buffer_frames: None,
        },
        transport: if recording {
            Transport::Recording {
                take: 3,
                started_at: chrono::DateTime::parse_from_rfc3339("2026-11-25T20:15:03+01:00")
                    .expect("time"),
                frames: 48_000 * 83,
            }
        } else {
            Transport::Stopped
        },
        next_take: 3,
        position: 0,
        inputs: (0..tracks)
            .map(|i| InputMeter {
                peak: db(-6.0 - (i % 9) as f64 * 5.0),
                hold: db(-3.0 - (i % 9) as f64 * 5.0),
                clips: if i == 6 { 12 } else { 0 },
            })
            .collect(),
        tracks: (0..tracks)
            .map(|i| Track {
                number: i as u16 + 1,
                name: if tracks <= 8 {
                    names[i].to_string()
                } else {
                    format!("Ch {}", i + 1)
                },
                input: i as u16 + 1,
                role: None,
                armed: i % 3 != 2,
            })
            .collect(),
        dropouts: 0,
        dropped_frames: 0,
        xruns: 0,
        ring_fill: 0.02,
        ring_capacity_frames: 192_000,
        disk: disk((0..tracks).filter(|i| i % 3 != 2).count()),
        last_take: None,
        stream_failed: None,
        song: Default::default(),
        trigger: Default::default(),
        kept_frames: 0,
    }
}

fn app(tracks: usize, recording: bool) -> App {
    App::new(snapshot(tracks, recording), true, None)
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| view::draw(f, app, Instant::now()))
        .expect("draw");
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

#[test]
fn idle_with_four_tracks() {
    insta::assert_snapshot!(render(&app(4, false), 80, 24));
}

#[test]
fn recording_with_clip_and_peak_hold() {
    insta::assert_snapshot!(render(&app(8, true), 80, 24));
}

#[test]
fn help_overlay() {
    let mut a = app(8, false);
    a.on_key(key(KeyCode::Char('?')));
    assert_eq!(a.mode, Mode::Help);
    insta::assert_snapshot!(render(&a, 80, 24));
}

#[test]
fn thirty_two_tracks_fit_80_by_24() {
    let screen = render(&app(32, true), 80, 24);
    // Every track's number is on screen at once.
    for n in 1..=32 {
        assert!(
            screen.contains(&format!("{n:02} Ch")),
            "track {n} missing:\n{screen}"
        );
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn sixty_four_tracks_fit_80_by_24() {
    let screen = render(&app(64, false), 80, 24);
    for n in 1..=64 {
        assert!(
            screen.contains(&format!("{n:02} Ch")),
            "track {n} missing:\n{screen}"
        );
    }
}

#[test]
fn too_small_terminal_says_so() {
    insta::assert_snapshot!(render(&app(8, true), 30, 6));
}

#[test]
fn monochrome_keeps_arm_states_and_zones_readable() {
    let mut a = app(4, false);
    a.color = false;
    let screen = render(&a, 80, 24);
    assert!(
        screen.contains("● 01") && screen.contains("○ 03"),
        "{screen}"
    );
    // Level zones differ by glyph: green '=', yellow '+', red '#'.
    assert!(
        screen.contains("===") && screen.contains("+++") && screen.contains('#'),
        "{screen}"
    );
}

#[test]
fn every_size_renders_without_panic() {
    for w in [1u16, 10, 39, 40, 41, 60, 80, 120, 200] {
        for h in [1u16, 5, 7, 8, 9, 12, 24, 50] {
            for n in [0usize, 1, 8, 17, 64] {
                render(&app(n, n % 2 == 0), w, h);
            }
        }
    }
}

#[test]
fn arming_keys() {
    let mut a = app(4, false);
    assert!(!a.snap.tracks[2].armed);
    assert_eq!(
        a.on_key(key(KeyCode::Char('3'))),
        vec![Command::SetArmed {
            track: 3,
            armed: true
        }]
    );
    assert!(a.snap.tracks[2].armed);
    // Arrows select, Enter toggles the selected track (space is the song's transport).
    a.on_key(key(KeyCode::Up));
    assert_eq!(a.selected, 1);
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::SetArmed {
            track: 2,
            armed: false
        }]
    );
    // `a` disarms every track while any is armed, then arms all.
    assert_eq!(
        a.on_key(key(KeyCode::Char('a'))),
        vec![Command::ArmAll(false)]
    );
    assert!(a.snap.tracks.iter().all(|t| !t.armed));
    assert_eq!(
        a.on_key(key(KeyCode::Char('a'))),
        vec![Command::ArmAll(true)]
    );
    assert!(a.snap.tracks.iter().all(|t| t.armed));
    // A number beyond the tracks does nothing.
    assert!(a.on_key(key(KeyCode::Char('9'))).is_empty());
}

#[test]
fn record_and_stop_keys() {
    let mut a = app(4, false);
    assert_eq!(
        a.on_key(key(KeyCode::Char('r'))),
        vec![Command::Record { max_frames: None }]
    );
    // Nothing armed: no take, and the user is told why.
    let mut none = app(4, false);
    none.on_key(key(KeyCode::Char('a')));
    assert!(none.on_key(key(KeyCode::Char('r'))).is_empty());
    assert!(none.message.is_some());
    // While recording: space and s stop, r does not start another, m marks.
    let mut rec = app(4, true);
    assert!(rec.on_key(key(KeyCode::Char('r'))).is_empty());
    assert_eq!(
        rec.on_key(key(KeyCode::Char(' '))),
        vec![Command::Stop {
            reason: EndReason::Stopped
        }]
    );
    assert_eq!(
        rec.on_key(key(KeyCode::Char('s'))),
        vec![Command::Stop {
            reason: EndReason::Stopped
        }]
    );
    assert_eq!(
        rec.on_key(key(KeyCode::Char('m'))),
        vec![Command::Mark { label: None }]
    );
    // --duration gives every take its length.
    let mut timed = App::new(snapshot(2, false), true, Some(480_000));
    assert_eq!(
        timed.on_key(key(KeyCode::Char('r'))),
        vec![Command::Record {
            max_frames: Some(480_000)
        }]
    );
}

#[test]
fn rename_edits_inline() {
    let mut a = app(4, false);
    a.on_key(key(KeyCode::Down));
    a.on_key(key(KeyCode::Char('n')));
    assert_eq!(
        a.mode,
        Mode::Rename {
            track: 2,
            text: "Snare".into()
        }
    );
    for _ in 0..5 {
        a.on_key(key(KeyCode::Backspace));
    }
    for c in "Snare Top".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    let screen = render(&a, 80, 24);
    assert!(screen.contains("Snare Top▏"), "{screen}");
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::Rename {
            track: 2,
            name: "Snare Top".into()
        }]
    );
    assert_eq!(a.mode, Mode::Normal);
    // Esc cancels without a command.
    a.on_key(key(KeyCode::Char('n')));
    a.on_key(key(KeyCode::Char('x')));
    assert!(a.on_key(key(KeyCode::Esc)).is_empty());
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn quit_asks_first_while_recording() {
    let mut idle = app(2, false);
    idle.on_key(key(KeyCode::Char('q')));
    assert!(idle.quit);

    let mut rec = app(2, true);
    assert!(rec.on_key(key(KeyCode::Char('q'))).is_empty());
    assert_eq!(rec.mode, Mode::ConfirmQuit);
    assert!(!rec.quit);
    let screen = render(&rec, 80, 24);
    assert!(
        screen.contains("Stop it (everything is kept) and quit?"),
        "{screen}"
    );
    // No: keep recording.
    assert!(rec.on_key(key(KeyCode::Char('n'))).is_empty());
    assert!(!rec.quit);
    assert_eq!(rec.mode, Mode::Normal);
    // Ctrl-C behaves like q, and yes stops the take (finalising it) before quitting.
    rec.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(rec.mode, Mode::ConfirmQuit);
    assert_eq!(
        rec.on_key(key(KeyCode::Char('y'))),
        vec![Command::Stop {
            reason: EndReason::Stopped
        }]
    );
    assert!(rec.quit);
}

#[test]
fn clear_clips() {
    let mut a = app(8, true);
    assert!(render(&a, 80, 24).contains("CLIP"));
    assert_eq!(a.on_key(key(KeyCode::Char('c'))), vec![Command::ClearClips]);
    assert!(!render(&a, 80, 24).contains("CLIP"));
}

#[test]
fn rename_takes_the_usual_line_editing_keys() {
    let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    let mut a = app(4, false);
    a.on_key(key(KeyCode::Down));
    a.on_key(key(KeyCode::Char('n')));
    // Ctrl-U clears the old name; a Ctrl or Alt chord is never typed as text.
    a.on_key(ctrl('u'));
    for c in "Bass Amp Left".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    a.on_key(ctrl('w'));
    a.on_key(ctrl('x'));
    a.on_key(KeyEvent::new(KeyCode::Char('b'), KeyModifiers::ALT));
    assert_eq!(
        a.mode,
        Mode::Rename {
            track: 2,
            text: "Bass Amp ".into()
        }
    );
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::Rename {
            track: 2,
            name: "Bass Amp".into()
        }]
    );
}

#[test]
fn the_status_line_fits_80_columns_in_a_timed_take_with_dropouts() {
    let mut a = app(8, true);
    a.take_frames = Some(48_000 * 3 * 3600);
    a.snap.dropouts = 12;
    a.snap.dropped_frames = 123_456;
    let screen = render(&a, 80, 24);
    let status = screen.lines().nth(1).expect("status line");
    // What matters most stays whole: the transport, the dropouts, the recording time left.
    for part in [
        "● REC",
        "take 3",
        " of 3:00:00",
        "dropouts 12 (123456 frames)",
        "h04m left",
    ] {
        assert!(status.contains(part), "{part:?} missing from {status:?}");
    }
    // A plain timed take keeps everything but the track count at 80 columns.
    a.snap.dropouts = 0;
    a.snap.dropped_frames = 0;
    let screen = render(&a, 80, 24);
    let status = screen.lines().nth(1).expect("status line");
    assert!(
        status.contains("disk 50.0 GB = ") && status.ends_with("ring 2%"),
        "{status}"
    );
    // With room to spare, the full form.
    let wide = render(&a, 140, 24);
    assert!(wide.contains(" trk) │ dropouts 0 │ ring 2%"), "{wide}");
}

// ---------------------------------------------------------------------------------------------
// The song.

fn song_track(number: u16, name: &str, input: Option<u16>, takes: &[u32]) -> SongTrack {
    SongTrack {
        number,
        name: name.into(),
        input,
        cue: CueRecord::default(),
        chosen: None,
        playing: takes.last().copied(),
        takes: takes.to_vec(),
    }
}

/// Four inputs, of which 1 and 2 have takes (track 1 muted, track 2 soloed at +3 dB right of
/// centre playing its older take), track 3 and 4 nothing yet, and an imported backing track
/// (track 5) at -6 dB left; the song plays at 0:00:12.3 of 0:03:10.0 with underruns and a
/// file that does not play.
fn song_app(recording: bool) -> App {
    let mut snap = snapshot(4, recording);
    let mut kick = song_track(1, "Kick", Some(1), &[1, 2]);
    kick.cue.mute = true;
    let mut snare = song_track(2, "Snare", Some(2), &[1, 2]);
    snare.cue = CueRecord {
        gain_db: 3.0,
        pan: 0.25,
        mute: false,
        solo: true,
    };
    snare.chosen = Some(1);
    snare.playing = Some(1);
    let mut backing = song_track(5, "Backing", None, &[3]);
    backing.cue.gain_db = -6.0;
    backing.cue.pan = -0.5;
    snap.song = SongView {
        position: 48_000 * 12 + 14_400,
        playing: true,
        length: 48_000 * 190,
        tracks: vec![kick, snare, backing],
        underruns: 3,
        underrun_frames: 4_800,
        problems: vec![
            "sessions/Song 1/take-002/01_Kick_T002.wav: not a WAV file; it does not play".into(),
        ],
        output: Some("tapedeck demo output".into()),
        starting_overdub: false,
        monitor: Default::default(),
    };
    App::new(snap, true, None)
}

#[test]
fn the_song_on_screen() {
    let screen = render(&song_app(false), 80, 24);
    let line = |needle: &str| {
        screen
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}:\n{screen}"))
            .to_string()
    };
    // The transport: position / length, playing, underruns loud, the problem; at 80
    // columns the output's name gives way, then the words.
    let transport = line("♪");
    for part in [
        "0:00:12.3 / 0:03:10.0",
        "▶ playing",
        "out tapedeck demo… │ UNDERRUNS 3 │ ⚠ 1 file",
    ] {
        assert!(transport.contains(part), "{part:?} missing: {transport:?}");
    }
    let wide = render(&song_app(false), 120, 24);
    let wide = wide.lines().nth(2).expect("transport line");
    assert!(
        wide.contains(
            "▶ playing │ out tapedeck demo output │ UNDERRUNS 3 (4800 frames) │ ⚠ 1 file not playing"
        ),
        "{wide}"
    );
    // Each track: its take, its cue; the imported one plays, has no meter and no arm mark.
    assert!(line("01 Kick").contains("▶T2  M·   0 C"), "{screen}");
    assert!(line("02 Snare").contains("▶T1  ·S  +3 R25"), "{screen}");
    assert!(line("03 Bass DI").contains(" -  "), "{screen}");
    let backing = line("05 Backing");
    assert!(
        backing.starts_with("    05 Backing"),
        "no arm mark: {backing:?}"
    );
    assert!(backing.contains("file ▶T3  ··  -6 L50"), "{backing:?}");
    assert!(
        backing.contains("imported") && !backing.contains('█'),
        "{backing:?}"
    );
    // The selected track's takes, the one playing marked; the problem in the message line.
    assert!(
        line("01 Kick:").contains("takes 1 ▶2  (newest)"),
        "{screen}"
    );
    assert!(
        line("not a WAV file").contains("01_Kick_T002.wav"),
        "{screen}"
    );
    // The footer offers what works while the song plays.
    assert!(line("space stop").contains("r overdub"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn the_song_overdubbing_and_stopped_without_output() {
    let mut a = song_app(true);
    a.snap.song.underruns = 0;
    a.snap.song.problems.clear();
    let screen = render(&a, 80, 24);
    let transport = screen.lines().nth(2).expect("transport line");
    assert!(
        transport.contains("● overdub │ out tapedeck demo output"),
        "{transport}"
    );
    assert!(
        !transport.contains("UNDERRUNS") && !transport.contains('⚠'),
        "{transport}"
    );
    a.snap.song.starting_overdub = true;
    a.snap.song.playing = false;
    a.snap.transport = Transport::Stopped;
    let screen = render(&a, 80, 24);
    assert!(screen.contains("◌ overdub starting"), "{screen}");
    let mut idle = app(4, false);
    idle.snap.song.output = None;
    let screen = render(&idle, 80, 24);
    let transport = screen.lines().nth(2).expect("transport line");
    assert!(
        transport.contains("0:00:00.0 / 0:00:00.0  ■ stopped │ out none"),
        "{transport}"
    );
    // The selected track's takes follow the selection.
    let mut a = song_app(false);
    a.on_key(key(KeyCode::Down));
    let screen = render(&a, 80, 24);
    assert!(
        screen.contains("02 Snare: takes ▶1 2  (chosen) │ +3 dB R25 solo"),
        "{screen}"
    );
}

#[test]
fn many_takes_show_around_the_one_playing() {
    let mut a = song_app(false);
    let takes: Vec<u32> = (1..=60).collect();
    a.snap.song.tracks[0].takes = takes;
    a.snap.song.tracks[0].playing = Some(7);
    let screen = render(&a, 80, 24);
    let detail = screen
        .lines()
        .find(|l| l.contains("01 Kick:"))
        .expect("detail");
    assert!(detail.contains("▶7") && detail.contains('…'), "{detail}");
    assert!(detail.chars().count() <= 80, "{detail}");
}

#[test]
fn imported_tracks_cannot_be_armed() {
    let mut a = song_app(false);
    // Row 5 is the imported track: its number key and Enter arm nothing, and say why.
    assert!(a.on_key(key(KeyCode::Char('5'))).is_empty());
    assert_eq!(a.selected, 4);
    let said = a.message.clone().map(|m| m.0).unwrap_or_default();
    assert!(said.contains("imported"), "{said}");
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    // Recording tracks still arm by number, in list order.
    assert_eq!(
        a.on_key(key(KeyCode::Char('3'))),
        vec![Command::SetArmed {
            track: 3,
            armed: true
        }]
    );
}

#[test]
fn transport_keys() {
    let stop = vec![Command::Stop {
        reason: EndReason::Stopped,
    }];
    // Stopped: space plays; s does nothing.
    let mut a = app(4, false);
    assert_eq!(a.on_key(key(KeyCode::Char(' '))), vec![Command::Play]);
    assert!(a.on_key(key(KeyCode::Char('s'))).is_empty());
    // Playing: space and s stop the song.
    let mut p = song_app(false);
    assert_eq!(p.on_key(key(KeyCode::Char(' '))), vec![Command::StopSong]);
    assert_eq!(p.on_key(key(KeyCode::Char('s'))), vec![Command::StopSong]);
    // r overdubs (the engine decides; the screen sends Record).
    assert_eq!(
        p.on_key(key(KeyCode::Char('r'))),
        vec![Command::Record { max_frames: None }]
    );
    // Recording, or an overdub about to start: space and s stop the take.
    let mut r = song_app(true);
    assert_eq!(r.on_key(key(KeyCode::Char(' '))), stop);
    assert_eq!(r.on_key(key(KeyCode::Char('s'))), stop);
    let mut starting = app(4, false);
    starting.snap.song.starting_overdub = true;
    assert_eq!(starting.on_key(key(KeyCode::Char(' '))), stop);
    assert!(starting.on_key(key(KeyCode::Char('r'))).is_empty());
    // Locate: Home and 0 to the start, arrows by 5 s, brackets by marker.
    for k in [KeyCode::Home, KeyCode::Char('0')] {
        assert_eq!(a.on_key(key(k)), vec![Command::Locate(Locate::Start)]);
    }
    assert_eq!(
        a.on_key(key(KeyCode::Left)),
        vec![Command::Locate(Locate::By(-5 * 48_000))]
    );
    assert_eq!(
        a.on_key(key(KeyCode::Right)),
        vec![Command::Locate(Locate::By(5 * 48_000))]
    );
    assert_eq!(
        a.on_key(key(KeyCode::Char('['))),
        vec![Command::Locate(Locate::PreviousMarker)]
    );
    assert_eq!(
        a.on_key(key(KeyCode::Char(']'))),
        vec![Command::Locate(Locate::NextMarker)]
    );
}

#[test]
fn go_to_a_typed_time() {
    let mut a = app(4, false);
    assert!(a.on_key(key(KeyCode::Char('g'))).is_empty());
    for c in "1:2x".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    a.on_key(key(KeyCode::Backspace));
    a.on_key(key(KeyCode::Char('3')));
    assert_eq!(
        a.mode,
        Mode::Goto {
            text: "1:23".into()
        }
    );
    let screen = render(&a, 80, 24);
    assert!(screen.contains("go to: 1:23▏"), "{screen}");
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::Locate(Locate::Frame(83 * 48_000))]
    );
    assert_eq!(a.mode, Mode::Normal);
    // Frames are exact; nonsense says how to write a time and goes nowhere; Esc cancels.
    a.on_key(key(KeyCode::Char('g')));
    for c in "3984001f".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::Locate(Locate::Frame(3_984_001))]
    );
    a.on_key(key(KeyCode::Char('g')));
    a.on_key(key(KeyCode::Char('x')));
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    let said = a.message.clone().map(|m| m.0).unwrap_or_default();
    assert!(said.contains("m:ss"), "{said}");
    a.on_key(key(KeyCode::Char('g')));
    a.on_key(key(KeyCode::Char('9')));
    assert!(a.on_key(key(KeyCode::Esc)).is_empty());
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn cue_keys_change_the_selected_track() {
    let mut a = song_app(false);
    let stale = a.snap.clone();
    let cue = |gain_db, pan, mute, solo| CueRecord {
        gain_db,
        pan,
        mute,
        solo,
    };
    let set = |cue| vec![Command::SetCue { track: 1, cue }];
    // Track 1 is muted at 0 dB, centre.
    assert_eq!(
        a.on_key(key(KeyCode::Char('M'))),
        set(cue(0.0, 0.0, false, false))
    );
    assert_eq!(
        a.on_key(key(KeyCode::Char('S'))),
        set(cue(0.0, 0.0, false, true))
    );
    // Repeated keys step from what was sent, even before the engine shows it.
    a.on_key(key(KeyCode::Char('+')));
    a.set_snapshot(stale.clone());
    assert_eq!(
        a.on_key(key(KeyCode::Char('+'))),
        set(cue(2.0, 0.0, false, true))
    );
    assert_eq!(
        a.on_key(key(KeyCode::Char('-'))),
        set(cue(1.0, 0.0, false, true))
    );
    assert_eq!(
        a.on_key(key(KeyCode::Char('<'))),
        set(cue(1.0, -0.25, false, true))
    );
    a.on_key(key(KeyCode::Char('>')));
    assert_eq!(
        a.on_key(key(KeyCode::Char('>'))),
        set(cue(1.0, 0.25, false, true))
    );
    // Shown at once.
    assert!(
        render(&a, 80, 24).contains("▶T2  ·S  +1 R25"),
        "{}",
        render(&a, 80, 24)
    );
    // Pan stops at full right; gain at +12 dB.
    for _ in 0..12 {
        a.on_key(key(KeyCode::Char('>')));
        a.on_key(key(KeyCode::Char('+')));
    }
    assert!(a.on_key(key(KeyCode::Char('>'))).is_empty());
    assert_eq!(a.snap.song.tracks[0].cue.pan, 1.0);
    assert_eq!(a.snap.song.tracks[0].cue.gain_db, 12.0);
    // A track with nothing in the song yet has no cue: nothing is sent, the user is told.
    a.on_key(key(KeyCode::Char('3')));
    a.on_key(key(KeyCode::Char('3')));
    assert!(a.on_key(key(KeyCode::Char('M'))).is_empty());
    let said = a.message.clone().map(|m| m.0).unwrap_or_default();
    assert!(said.contains("track 3 has nothing"), "{said}");
    // The imported track has one.
    a.on_key(key(KeyCode::End));
    assert_eq!(
        a.on_key(key(KeyCode::Char('M'))),
        vec![Command::SetCue {
            track: 5,
            cue: cue(-6.0, -0.5, true, false)
        }]
    );
}

#[test]
fn take_keys_choose_what_plays() {
    let mut a = song_app(false);
    let stale = a.snap.clone();
    let choose = |track, take| vec![Command::ChooseTake { track, take }];
    // Track 1 plays its newest (2) of 1 and 2: t goes round to 1, then 2 again.
    assert_eq!(a.on_key(key(KeyCode::Char('t'))), choose(1, Some(1)));
    assert!(render(&a, 80, 24).contains("01 Kick: takes ▶1 2  (chosen)"));
    // A stale snapshot does not undo the choice on screen.
    a.set_snapshot(stale);
    assert_eq!(a.snap.song.tracks[0].playing, Some(1));
    assert_eq!(a.on_key(key(KeyCode::Char('t'))), choose(1, Some(2)));
    // T: back to the newest.
    assert_eq!(a.on_key(key(KeyCode::Char('T'))), choose(1, None));
    assert!(a.on_key(key(KeyCode::Char('T'))).is_empty());
    // Track 2 chose take 1: T gives it back its newest.
    a.on_key(key(KeyCode::Down));
    assert_eq!(a.on_key(key(KeyCode::Char('T'))), choose(2, None));
    assert_eq!(a.snap.song.tracks[1].playing, Some(2));
    // The imported track has one take: t keeps it.
    a.on_key(key(KeyCode::End));
    assert_eq!(a.on_key(key(KeyCode::Char('t'))), choose(5, Some(3)));
}

#[test]
fn the_song_keys_are_in_the_help() {
    let mut a = song_app(false);
    a.on_key(key(KeyCode::Char('?')));
    let screen = render(&a, 80, 24);
    for part in [
        "play / stop the song",
        "Home, 0",
        "back / on 5 seconds",
        "previous / next marker",
        "go to a time",
        "mute / solo",
        "gain up / down 1 dB",
        "pan left / right",
        "play its next take",
        "play its newest take",
        "q, Ctrl-C",
    ] {
        assert!(screen.contains(part), "{part:?} missing:\n{screen}");
    }
}

#[test]
fn every_row_fits_80_columns_with_its_clip_mark() {
    let mut a = song_app(false);
    a.snap.tracks[0].name = "Synth (clips)".into();
    a.snap.song.tracks[0].name = "Synth (clips)".into();
    a.snap.inputs[0].clips = 3;
    let screen = render(&a, 80, 24);
    let row = screen
        .lines()
        .find(|l| l.contains("01 Synth (clips)"))
        .expect("row");
    assert!(row.ends_with(" CLIP"), "{row:?}");
    // The meters of tracks with and without a take start in the same column.
    let starts: Vec<usize> = screen
        .lines()
        .filter_map(|l| l.chars().position(|c| c == '█'))
        .collect();
    assert!(
        starts.len() >= 4 && starts.iter().all(|&s| s == starts[0]),
        "{screen}"
    );
}

/// The foreground colour of the first cell of `needle` on the screen.
fn color_of(app: &App, needle: &str) -> Option<ratatui::style::Color> {
    let (w, h) = (80u16, 24u16);
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| view::draw(f, app, Instant::now()))
        .expect("draw");
    let buf = t.backend().buffer().clone();
    let first = needle.chars().next()?;
    for y in 0..h {
        let line: Vec<&str> = (0..w).map(|x| buf[(x, y)].symbol()).collect();
        let text: String = line.concat();
        if let Some(at) = text.find(needle) {
            let col = text[..at].chars().count() as u16;
            let cell = &buf[(col, y)];
            assert_eq!(cell.symbol().chars().next(), Some(first));
            return cell.fg.into();
        }
    }
    None
}

#[test]
fn the_takes_heard_are_lit_while_the_song_plays() {
    use ratatui::style::Color;
    // Track 2 is soloed: it is heard (green); track 1 is muted and the backing is not soloed.
    let mut a = song_app(false);
    assert_eq!(color_of(&a, "▶T1  ·S"), Some(Color::Green));
    assert_eq!(color_of(&a, "▶T2  M·"), Some(Color::DarkGray));
    assert_eq!(color_of(&a, "▶T3  ··"), Some(Color::DarkGray));
    // A muted solo does not silence the others, as the player mixes.
    a.snap.song.tracks[1].cue.mute = true;
    assert_eq!(color_of(&a, "▶T3  ··"), Some(Color::Green));
    // Stopped: nothing is lit.
    a.snap.song.playing = false;
    assert_eq!(color_of(&a, "▶T3  ··"), Some(Color::Reset));
}

#[test]
fn the_monitor_key_hears_the_selected_input_and_the_screen_says_what_it_costs() {
    let mut a = song_app(false);
    // Track 1 records from an input: `i` turns its software monitor on, then off.
    assert_eq!(
        a.on_key(key(KeyCode::Char('i'))),
        vec![Command::SetMonitor { track: 1, on: true }]
    );
    let mut snap = a.snap.clone();
    snap.song.monitor.tracks = vec![1];
    snap.song.monitor.audible = vec![1];
    snap.song.monitor.latency_frames = Some(1024);
    snap.song.monitor.latency_ms = Some(21.333);
    a.set_snapshot(snap);
    assert!(render(&a, 80, 24).contains("mon 21.3ms"));
    assert_eq!(
        a.on_key(key(KeyCode::Char('i'))),
        vec![Command::SetMonitor {
            track: 1,
            on: false
        }]
    );
}

#[test]
fn triage_keys_mark_the_selected_tracks_take() {
    use tapedeck::session::manifest::Mark;
    use tapedeck::session::triage::{TriageChange, TriageTarget};
    let mut a = song_app(false);
    a.selected = 0;
    // `v` asks about the take track 1 plays (take 2), the whole take first.
    assert!(a.on_key(key(KeyCode::Char('v'))).is_empty());
    assert_eq!(
        a.mode,
        Mode::Triage {
            take: 2,
            track: 1,
            only_track: false
        }
    );
    let screen = render(&a, 80, 24);
    assert!(screen.contains("mark take 2 (all its tracks):"), "{screen}");
    assert!(
        screen.contains("k keep") && screen.contains("Tab take/track"),
        "{screen}"
    );
    assert_eq!(
        a.on_key(key(KeyCode::Char('c'))),
        vec![Command::Triage {
            target: TriageTarget {
                take: 2,
                track: None
            },
            change: TriageChange::mark(Mark::Circled, None),
        }]
    );
    assert_eq!(a.mode, Mode::Normal);
    // Tab: only the selected track's file.
    a.on_key(key(KeyCode::Char('v')));
    a.on_key(key(KeyCode::Tab));
    let screen = render(&a, 80, 24);
    assert!(screen.contains("mark take 2, only track 1:"), "{screen}");
    assert_eq!(
        a.on_key(key(KeyCode::Char('x'))),
        vec![Command::Triage {
            target: TriageTarget {
                take: 2,
                track: Some(1)
            },
            change: TriageChange::mark(Mark::NoGood, None),
        }]
    );
    // A note, typed.
    a.on_key(key(KeyCode::Char('v')));
    a.on_key(key(KeyCode::Char('n')));
    for c in "ok".chars() {
        assert!(a.on_key(key(KeyCode::Char(c))).is_empty());
    }
    assert!(render(&a, 80, 24).contains("note on take 2: ok"));
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::Triage {
            target: TriageTarget {
                take: 2,
                track: None
            },
            change: TriageChange::note("ok"),
        }]
    );
    // Esc (or any other key) sends nothing; `u` clears.
    a.on_key(key(KeyCode::Char('v')));
    assert!(a.on_key(key(KeyCode::Esc)).is_empty());
    assert_eq!(a.mode, Mode::Normal);
    a.on_key(key(KeyCode::Char('v')));
    assert_eq!(
        a.on_key(key(KeyCode::Char('u'))),
        vec![Command::Triage {
            target: TriageTarget {
                take: 2,
                track: None
            },
            change: TriageChange::clear(),
        }]
    );
    // A track with no take has nothing to mark.
    a.selected = 2;
    assert!(a.on_key(key(KeyCode::Char('v'))).is_empty());
    assert_eq!(a.mode, Mode::Normal);
}

// Keep what was just played, record on signal.
#[test]
fn k_makes_a_take_of_what_was_just_played() {
    // Nothing kept yet: said, no prompt.
    let mut a = app(4, false);
    assert!(a.on_key(key(KeyCode::Char('K'))).is_empty());
    assert_eq!(a.mode, Mode::Normal);
    let mut s = snapshot(4, false);
    s.kept_frames = 90 * 48_000;
    let mut a = App::new(s, true, None);
    assert!(a.on_key(key(KeyCode::Char('K'))).is_empty());
    let screen = render(&a, 80, 24);
    assert!(
        screen.contains("keep the last (Enter: all 0:01:30"),
        "{screen}"
    );
    // Enter alone: all that is kept.
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::KeepLast { frames: None }]
    );
    // A typed length.
    a.on_key(key(KeyCode::Char('K')));
    for c in "30s".chars() {
        a.on_key(key(KeyCode::Char(c)));
    }
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::KeepLast {
            frames: Some(30 * 48_000)
        }]
    );
    // Not while a take records.
    let mut a = app(4, true);
    assert!(a.on_key(key(KeyCode::Char('K'))).is_empty());
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn a_recorder_waiting_for_the_trigger_says_so() {
    let mut s = snapshot(4, false);
    s.trigger = tapedeck::engine::TriggerView::Waiting;
    let a = App::new(s, true, None);
    let screen = render(&a, 80, 24);
    assert!(screen.contains("WAITING  for the trigger"), "{screen}");
}
