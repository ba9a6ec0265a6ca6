//! The terminal UI without a terminal: screens rendered with ratatui's TestBackend and compared
//! with reviewed snapshots (tests/snapshots/), and key handling on the app state.

use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use tapedeck::engine::{Command, DiskSpace, EndReason, InputMeter, Snapshot, Track, Transport};
use tapedeck::format::FileFormat;
use tapedeck::session::manifest::DeviceRecord;
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
    // Arrows and space toggle the selected track.
    a.on_key(key(KeyCode::Up));
    assert_eq!(a.selected, 1);
    assert_eq!(
        a.on_key(key(KeyCode::Char(' '))),
        vec![Command::SetArmed {
            track: 2,
            armed: false
        }]
    );
    // `a` arms all, then none.
    assert_eq!(
        a.on_key(key(KeyCode::Char('a'))),
        vec![Command::ArmAll(true)]
    );
    assert!(a.snap.tracks.iter().all(|t| t.armed));
    assert_eq!(
        a.on_key(key(KeyCode::Char('a'))),
        vec![Command::ArmAll(false)]
    );
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
