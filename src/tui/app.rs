//! The TUI's state and key handling. Pure: it turns keys into engine commands and keeps what
//! the screen shows; it never touches audio, files or the terminal.

use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::engine::{Command, EndReason, Event, Snapshot, Transport};
use crate::frontend::words::describe_take;

/// How long a message stays in the message line.
const MESSAGE_TIME: Duration = Duration::from_secs(6);

#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Normal,
    Help,
    /// Editing the selected track's name.
    Rename {
        track: u16,
        text: String,
    },
    /// `q` while recording: stop and quit?
    ConfirmQuit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

pub struct App {
    pub snap: Snapshot,
    pub mode: Mode,
    /// Index into `snap.tracks`.
    pub selected: usize,
    pub message: Option<(String, Severity, Instant)>,
    pub color: bool,
    /// Each take's length when `--duration` was given.
    pub take_frames: Option<u64>,
    pub quit: bool,
    /// Arm changes sent but not yet seen in a snapshot: shown at once, and kept over stale
    /// snapshots until the engine confirms them.
    pending_arm: Vec<(u16, bool, Instant)>,
}

/// How long an unconfirmed arm change wins over the engine's snapshots.
const PENDING_TIME: Duration = Duration::from_millis(500);

impl App {
    pub fn new(snap: Snapshot, color: bool, take_frames: Option<u64>) -> Self {
        Self {
            snap,
            mode: Mode::Normal,
            selected: 0,
            message: None,
            color,
            take_frames,
            quit: false,
            pending_arm: Vec::new(),
        }
    }

    pub fn recording(&self) -> bool {
        matches!(self.snap.transport, Transport::Recording { .. })
    }

    pub fn set_snapshot(&mut self, mut snap: Snapshot) {
        let now = Instant::now();
        self.pending_arm.retain(|(track, armed, at)| {
            let Some(t) = snap.tracks.iter_mut().find(|t| t.number == *track) else {
                return false;
            };
            if t.armed == *armed || now.duration_since(*at) > PENDING_TIME {
                return false;
            }
            t.armed = *armed;
            true
        });
        self.snap = snap;
        self.selected = self.selected.min(self.snap.tracks.len().saturating_sub(1));
    }

    pub fn say(&mut self, text: impl Into<String>, severity: Severity) {
        self.message = Some((text.into(), severity, Instant::now()));
    }

    /// The message to show now, if it has not expired (errors stay).
    pub fn current_message(&self, now: Instant) -> Option<(&str, Severity)> {
        self.message.as_ref().and_then(|(t, s, at)| {
            (*s == Severity::Error || now.duration_since(*at) < MESSAGE_TIME)
                .then_some((t.as_str(), *s))
        })
    }

    pub fn on_event(&mut self, ev: &Event) {
        match ev {
            Event::TakeStarted { take, folder } => self.say(
                format!("recording take {take} into {folder}"),
                Severity::Info,
            ),
            Event::TakeFinished(s) => {
                let sev = if s.reason.is_failure() {
                    Severity::Error
                } else if !s.dropouts.is_empty() || s.clipped_samples > 0 {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                self.say(describe_take(s, &self.snap.session), sev);
            }
            Event::Warning(w) | Event::TakeRefused(w) => self.say(w.clone(), Severity::Warning),
            Event::StreamFailed(w) => self.say(
                format!("{w}: recording is no longer possible"),
                Severity::Error,
            ),
        }
    }

    fn toggle_arm(&mut self, index: usize) -> Vec<Command> {
        let Some(t) = self.snap.tracks.get_mut(index) else {
            return Vec::new();
        };
        t.armed = !t.armed;
        let (track, armed) = (t.number, t.armed);
        self.pending_arm.push((track, armed, Instant::now()));
        let cmd = Command::SetArmed { track, armed };
        if self.recording() {
            self.say("arming applies to the next take", Severity::Info);
        }
        vec![cmd]
    }

    /// Handles a key; returns the commands to send to the engine.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl_c =
            key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
        match self.mode.clone() {
            Mode::Help => {
                self.mode = Mode::Normal;
                if ctrl_c {
                    return self.quit_request();
                }
                Vec::new()
            }
            Mode::ConfirmQuit => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                    // Stopping finalises the take: nothing recorded is lost.
                    self.quit = true;
                    self.mode = Mode::Normal;
                    vec![Command::Stop {
                        reason: EndReason::Stopped,
                    }]
                }
                _ if ctrl_c => {
                    self.quit = true;
                    vec![Command::Stop {
                        reason: EndReason::Stopped,
                    }]
                }
                _ => {
                    self.mode = Mode::Normal;
                    self.say("still recording", Severity::Info);
                    Vec::new()
                }
            },
            Mode::Rename { track, mut text } => {
                if ctrl_c {
                    self.mode = Mode::Normal;
                    return Vec::new();
                }
                match key.code {
                    KeyCode::Enter => {
                        self.mode = Mode::Normal;
                        let name = text.trim().to_string();
                        if self
                            .snap
                            .tracks
                            .iter()
                            .any(|t| t.number == track && t.name == name)
                        {
                            return Vec::new();
                        }
                        self.say(
                            format!("track {track} will be named {name:?} from the next take"),
                            Severity::Info,
                        );
                        vec![Command::Rename { track, name }]
                    }
                    KeyCode::Esc => {
                        self.mode = Mode::Normal;
                        Vec::new()
                    }
                    KeyCode::Backspace => {
                        text.pop();
                        self.mode = Mode::Rename { track, text };
                        Vec::new()
                    }
                    // The usual line-editing keys: Ctrl-U clears, Ctrl-W deletes a word.
                    KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                        self.mode = Mode::Rename {
                            track,
                            text: String::new(),
                        };
                        Vec::new()
                    }
                    KeyCode::Char('w') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                        let kept = text.trim_end().rfind(' ').map_or(0, |i| i + 1);
                        text.truncate(kept);
                        self.mode = Mode::Rename { track, text };
                        Vec::new()
                    }
                    // Any other Ctrl or Alt chord is a command, not text.
                    KeyCode::Char(_)
                        if key
                            .modifiers
                            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
                    {
                        Vec::new()
                    }
                    KeyCode::Char(c) if !c.is_control() => {
                        if text.chars().count() < 64 {
                            text.push(c);
                        }
                        self.mode = Mode::Rename { track, text };
                        Vec::new()
                    }
                    _ => Vec::new(),
                }
            }
            Mode::Normal => self.normal_key(key, ctrl_c),
        }
    }

    fn quit_request(&mut self) -> Vec<Command> {
        if self.recording() {
            self.mode = Mode::ConfirmQuit;
        } else {
            self.quit = true;
        }
        Vec::new()
    }

    fn normal_key(&mut self, key: KeyEvent, ctrl_c: bool) -> Vec<Command> {
        if ctrl_c {
            return self.quit_request();
        }
        let n = self.snap.tracks.len();
        match key.code {
            KeyCode::Char('q') => self.quit_request(),
            KeyCode::Esc => {
                self.message = None;
                Vec::new()
            }
            KeyCode::Char('?') | KeyCode::Char('h') | KeyCode::F(1) => {
                self.mode = Mode::Help;
                Vec::new()
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                Vec::new()
            }
            KeyCode::Down | KeyCode::Char('j') => {
                if self.selected + 1 < n {
                    self.selected += 1;
                }
                Vec::new()
            }
            KeyCode::PageUp => {
                self.selected = self.selected.saturating_sub(8);
                Vec::new()
            }
            KeyCode::PageDown => {
                self.selected = (self.selected + 8).min(n.saturating_sub(1));
                Vec::new()
            }
            KeyCode::Home => {
                self.selected = 0;
                Vec::new()
            }
            KeyCode::End => {
                self.selected = n.saturating_sub(1);
                Vec::new()
            }
            KeyCode::Char(c @ '1'..='9') => {
                let i = usize::from(c as u8 - b'1');
                if i < n {
                    self.selected = i;
                    self.toggle_arm(i)
                } else {
                    Vec::new()
                }
            }
            KeyCode::Char(' ') => {
                if self.recording() {
                    vec![Command::Stop {
                        reason: EndReason::Stopped,
                    }]
                } else {
                    self.toggle_arm(self.selected)
                }
            }
            KeyCode::Enter => self.toggle_arm(self.selected),
            KeyCode::Char('a') => {
                let all = self.snap.tracks.iter().all(|t| t.armed);
                let now = Instant::now();
                for t in &mut self.snap.tracks {
                    t.armed = !all;
                    self.pending_arm.push((t.number, !all, now));
                }
                if self.recording() {
                    self.say("arming applies to the next take", Severity::Info);
                }
                vec![Command::ArmAll(!all)]
            }
            KeyCode::Char('r') => {
                if self.recording() {
                    self.say("already recording", Severity::Info);
                    Vec::new()
                } else if !self.snap.tracks.iter().any(|t| t.armed) {
                    self.say(
                        "no track is armed: arm one with its number or space",
                        Severity::Warning,
                    );
                    Vec::new()
                } else {
                    vec![Command::Record {
                        max_frames: self.take_frames,
                    }]
                }
            }
            KeyCode::Char('s') => {
                if self.recording() {
                    vec![Command::Stop {
                        reason: EndReason::Stopped,
                    }]
                } else {
                    Vec::new()
                }
            }
            KeyCode::Char('m') => {
                if self.recording() {
                    self.say("marker dropped", Severity::Info);
                    vec![Command::Mark { label: None }]
                } else {
                    self.say(
                        "markers go into a take: press r to record first",
                        Severity::Info,
                    );
                    Vec::new()
                }
            }
            KeyCode::Char('n') => {
                if let Some(t) = self.snap.tracks.get(self.selected) {
                    self.mode = Mode::Rename {
                        track: t.number,
                        text: t.name.clone(),
                    };
                }
                Vec::new()
            }
            KeyCode::Char('c') => {
                for m in &mut self.snap.inputs {
                    m.clips = 0;
                }
                vec![Command::ClearClips]
            }
            _ => Vec::new(),
        }
    }
}
