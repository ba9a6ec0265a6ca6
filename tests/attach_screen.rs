//! The screen attached to a recorder in another process (`tapedeck attach`), without a
//! terminal: ratatui's TestBackend draws it, keys go to the app state. The same app and view
//! as the local screen; only the header and the quit dialog differ.

use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use tapedeck::engine::{Command, EndReason, InputMeter, Snapshot, Track, Transport};
use tapedeck::format::FileFormat;
use tapedeck::session::manifest::DeviceRecord;
use tapedeck::tui::app::{App, Attached, Mode};
use tapedeck::tui::view;

fn snapshot(recording: bool) -> Snapshot {
    Snapshot {
        session: "Gig".into(),
        sample_rate: 48_000,
        file_format: FileFormat::S24,
        device: DeviceRecord {
            host: "demo".into(),
            id: "demo".into(),
            name: "demo input".into(),
            sample_rate: 48_000,
            sample_format: "f32".into(),
            channels: 2,
            buffer_frames: None,
        },
        transport: if recording {
            Transport::Recording {
                take: 4,
                started_at: chrono::DateTime::parse_from_rfc3339("2026-11-25T20:15:03+01:00")
                    .expect("time"),
                frames: 48_000 * 75,
            }
        } else {
            Transport::Stopped
        },
        next_take: 4,
        position: 0,
        inputs: vec![
            InputMeter {
                peak: 0.5,
                hold: 0.6,
                clips: 0,
            };
            2
        ],
        tracks: (1..=2)
            .map(|i| Track {
                number: i,
                name: format!("In {i}"),
                input: i,
                role: None,
                armed: true,
            })
            .collect(),
        dropouts: 0,
        dropped_frames: 0,
        xruns: 0,
        ring_fill: 0.0,
        ring_capacity_frames: 192_000,
        disk: None,
        last_take: None,
        stream_failed: None,
        trigger: Default::default(),
        kept_frames: 0,
        song: Default::default(),
    }
}

fn attached(recording: bool) -> App {
    let mut app = App::new(snapshot(recording), true, None);
    app.attach(Attached { pid: 4242 });
    app
}

fn render(app: &App) -> String {
    let (w, h) = (80, 24);
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| view::draw(f, app, Instant::now()))
        .expect("draw");
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

#[test]
fn the_header_says_which_recorder_it_is_attached_to() {
    let screen = render(&attached(true));
    let first = screen.lines().next().unwrap_or("");
    assert!(first.contains("Gig"), "{screen}");
    assert!(first.contains("attached pid 4242"), "{screen}");
    assert!(screen.contains("● REC 0:01:15"), "{screen}");
    assert!(
        screen.contains("attached to the recorder (pid 4242): q leaves it running"),
        "{screen}"
    );
    // The local screen has no such mark.
    let local = render(&App::new(snapshot(true), true, None));
    assert!(!local.contains("attached"), "{local}");
}

#[test]
fn quitting_while_recording_leaves_the_take_running() {
    let mut app = attached(true);
    assert!(app.on_key(key(KeyCode::Char('q'))).is_empty());
    assert_eq!(app.mode, Mode::ConfirmQuit);
    let screen = render(&app);
    assert!(
        screen.contains("Recorder pid 4242 is recording take 4."),
        "{screen}"
    );
    assert!(screen.contains("The take goes on recording."), "{screen}");
    assert!(screen.contains("quit, the take goes on"), "{screen}");
    // n stays.
    assert!(app.on_key(key(KeyCode::Char('n'))).is_empty());
    assert!(!app.quit);
    // y quits without a command: the recorder's take goes on.
    app.on_key(key(KeyCode::Char('q')));
    assert!(app.on_key(key(KeyCode::Char('y'))).is_empty());
    assert!(app.quit);

    // s stops the take, then quits.
    let mut app = attached(true);
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(app.mode, Mode::ConfirmQuit);
    assert_eq!(
        app.on_key(key(KeyCode::Char('s'))),
        vec![Command::Stop {
            reason: EndReason::Stopped
        }]
    );
    assert!(app.quit);

    // Between takes q quits at once, and sends nothing.
    let mut idle = attached(false);
    assert!(idle.on_key(key(KeyCode::Char('q'))).is_empty());
    assert!(idle.quit);
}
