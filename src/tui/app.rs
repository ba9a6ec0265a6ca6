//! The TUI's state and key handling. Pure: it turns keys into engine commands and keeps what
//! the screen shows; it never touches audio, files or the terminal.

use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::engine::{Command, EndReason, Event, Locate, Snapshot, Track, Transport};
use crate::frontend::words::describe_take_brief;
use crate::session::manifest::CueRecord;
use crate::session::song::SongTrack;
use crate::session::triage::{TriageChange, TriageTarget};

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
    /// Typing a song position to go to.
    Goto {
        text: String,
    },
    /// `K`: typing how much of what was just played becomes a take (empty: all that is kept).
    KeepLast {
        text: String,
    },
    /// `v`: the verdict on the take the selected track plays (the whole take, or with Tab
    /// only this track's file).
    Triage {
        take: u32,
        track: u16,
        only_track: bool,
    },
    /// Typing the note of a verdict.
    TriageNote {
        target: TriageTarget,
        text: String,
    },
}

/// One row of the track list: a track the device records, the song's track of the same
/// number, or both. Tracks the song plays but that record nothing here (imported files,
/// tracks of inputs not opened now) have no `track`: no meter, and they cannot be armed.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    pub track: Option<&'a Track>,
    pub song: Option<&'a SongTrack>,
}

impl Row<'_> {
    pub fn number(&self) -> u16 {
        self.track
            .map(|t| t.number)
            .or(self.song.map(|s| s.number))
            .unwrap_or(0)
    }

    pub fn name(&self) -> &str {
        self.track
            .map(|t| t.name.as_str())
            .or(self.song.map(|s| s.name.as_str()))
            .unwrap_or("")
    }

    pub fn imported(&self) -> bool {
        self.song.is_some_and(|s| s.input.is_none())
    }
}

/// Gain steps and limits of the cue (dB), and pan steps (-1 left .. 1 right).
const GAIN_STEP: f64 = 1.0;
const GAIN_MIN: f64 = -40.0;
const GAIN_MAX: f64 = 12.0;
const PAN_STEP: f64 = 0.25;
/// How far ← and → move the song position.
const NUDGE_SECONDS: i64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// The recorder a screen in another process is attached to (`tapedeck attach`): shown in the
/// header; quitting such a screen leaves the recorder running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attached {
    /// The recorder's process id.
    pub pid: u32,
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
    /// Attached to a recorder in another process (`None`: the engine runs in this one).
    pub attached: Option<Attached>,
    /// Arm changes sent but not yet seen in a snapshot: shown at once, and kept over stale
    /// snapshots until the engine confirms them.
    pending_arm: Vec<(u16, bool, Instant)>,
    /// Cue changes sent: shown at once and kept until a snapshot shows them (the engine
    /// applies a cue at once but shows it only when it next reads the song), so that
    /// repeated keys step from the value last sent.
    pending_cue: Vec<(u16, CueRecord)>,
    /// Take choices sent but not yet seen in a snapshot: (track, chosen, playing, sent at).
    pending_take: Vec<(u16, Option<u32>, Option<u32>, Instant)>,
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
            attached: None,
            pending_arm: Vec::new(),
            pending_cue: Vec::new(),
            pending_take: Vec::new(),
        }
    }

    /// This screen drives a recorder in another process: the header says so, and quitting
    /// leaves it running (said once, at the start).
    pub fn attach(&mut self, to: Attached) {
        self.say(
            format!(
                "attached to the recorder (pid {}): q leaves it running",
                to.pid
            ),
            Severity::Info,
        );
        self.attached = Some(to);
    }

    /// The rows of the track list: the tracks the device records, in their order, then the
    /// song's other tracks (imported, or of inputs not opened now).
    pub fn rows(&self) -> Vec<Row<'_>> {
        let song = &self.snap.song.tracks;
        let recorded = |s: &SongTrack, t: &Track| s.number == t.number && s.input.is_some();
        let mut rows: Vec<Row<'_>> = self
            .snap
            .tracks
            .iter()
            .map(|t| Row {
                track: Some(t),
                song: song.iter().find(|s| recorded(s, t)),
            })
            .collect();
        rows.extend(
            song.iter()
                .filter(|s| !self.snap.tracks.iter().any(|t| recorded(s, t)))
                .map(|s| Row {
                    track: None,
                    song: Some(s),
                }),
        );
        rows
    }

    /// Whether the song is playing or an overdub is starting (and no take records yet).
    pub fn song_busy(&self) -> bool {
        self.snap.song.playing || self.snap.song.starting_overdub
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
        self.pending_cue.retain(|(track, cue)| {
            match snap.song.tracks.iter_mut().find(|t| t.number == *track) {
                Some(t) if t.cue != *cue => {
                    t.cue = *cue;
                    true
                }
                _ => false,
            }
        });
        self.pending_take.retain(|(track, chosen, playing, at)| {
            let Some(t) = snap.song.tracks.iter_mut().find(|t| t.number == *track) else {
                return false;
            };
            if t.chosen == *chosen || now.duration_since(*at) > PENDING_TIME {
                return false;
            }
            t.chosen = *chosen;
            t.playing = *playing;
            true
        });
        self.snap = snap;
        self.selected = self.selected.min(self.rows().len().saturating_sub(1));
    }

    /// A time typed into a prompt (1:23, 83s, 3984000f) in frames at the session's rate, or
    /// `None` with a warning on the message line ("TEXT is too far": `out_of_range`).
    fn typed_frames(&mut self, text: &str, out_of_range: &str) -> Option<u64> {
        let frames = crate::song_time::parse(text).and_then(|t| {
            t.frames(self.snap.sample_rate)
                .ok_or_else(|| format!("{} {out_of_range}", text.trim()))
        });
        match frames {
            Ok(f) => Some(f),
            Err(e) => {
                self.say(e, Severity::Warning);
                None
            }
        }
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
                self.say(describe_take_brief(s, &self.snap.session), sev);
            }
            Event::Warning(w) | Event::TakeRefused(w) => self.say(w.clone(), Severity::Warning),
            Event::Triaged(t) => self.say(t.clone(), Severity::Info),
            Event::StreamFailed(w) => self.say(
                format!("{w}: recording is no longer possible"),
                Severity::Error,
            ),
        }
    }

    /// Arms or disarms the track of row `index`.
    fn toggle_arm(&mut self, index: usize) -> Vec<Command> {
        let Some(row) = self.rows().get(index).copied() else {
            return Vec::new();
        };
        let number = row.number();
        if row.track.is_none() {
            let why = if row.imported() {
                "is imported: it plays, it does not record"
            } else {
                "has no input open now: it plays, it does not record"
            };
            self.say(format!("track {number} {why}"), Severity::Info);
            return Vec::new();
        }
        let Some(t) = self.snap.tracks.iter_mut().find(|t| t.number == number) else {
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
            // Attached, quitting leaves the recorder (and its take) running; `s` stops the
            // take first.
            Mode::ConfirmQuit if self.attached.is_some() => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Char('q') | KeyCode::Enter => {
                    self.quit = true;
                    self.mode = Mode::Normal;
                    Vec::new()
                }
                _ if ctrl_c => {
                    self.quit = true;
                    Vec::new()
                }
                KeyCode::Char('s') | KeyCode::Char('S') => {
                    self.quit = true;
                    self.mode = Mode::Normal;
                    vec![Command::Stop {
                        reason: EndReason::Stopped,
                    }]
                }
                _ => {
                    self.mode = Mode::Normal;
                    self.say("still attached", Severity::Info);
                    Vec::new()
                }
            },
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
            Mode::Rename { track, mut text } => match edit_line(&mut text, key, ctrl_c) {
                Edit::Done => {
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
                Edit::Cancel => {
                    self.mode = Mode::Normal;
                    Vec::new()
                }
                Edit::Editing => {
                    self.mode = Mode::Rename { track, text };
                    Vec::new()
                }
            },
            Mode::Goto { mut text } => match edit_line(&mut text, key, ctrl_c) {
                Edit::Done => {
                    self.mode = Mode::Normal;
                    self.typed_frames(&text, "is too far")
                        .map(|frame| Command::Locate(Locate::Frame(frame)))
                        .into_iter()
                        .collect()
                }
                Edit::Cancel => {
                    self.mode = Mode::Normal;
                    Vec::new()
                }
                Edit::Editing => {
                    self.mode = Mode::Goto { text };
                    Vec::new()
                }
            },
            Mode::KeepLast { mut text } => match edit_line(&mut text, key, ctrl_c) {
                Edit::Done => {
                    self.mode = Mode::Normal;
                    if text.trim().is_empty() {
                        return vec![Command::KeepLast { frames: None }];
                    }
                    match self.typed_frames(&text, "cannot be kept") {
                        Some(0) => {
                            self.say(format!("{} cannot be kept", text.trim()), Severity::Warning);
                            Vec::new()
                        }
                        Some(frames) => vec![Command::KeepLast {
                            frames: Some(frames),
                        }],
                        None => Vec::new(),
                    }
                }
                Edit::Cancel => {
                    self.mode = Mode::Normal;
                    Vec::new()
                }
                Edit::Editing => {
                    self.mode = Mode::KeepLast { text };
                    Vec::new()
                }
            },
            Mode::Triage {
                take,
                track,
                only_track,
            } => self.triage_key(key, ctrl_c, take, track, only_track),
            Mode::TriageNote { target, mut text } => match edit_line(&mut text, key, ctrl_c) {
                Edit::Done => {
                    self.mode = Mode::Normal;
                    vec![Command::Triage {
                        target,
                        change: TriageChange::note(&text),
                    }]
                }
                Edit::Cancel => {
                    self.mode = Mode::Normal;
                    Vec::new()
                }
                Edit::Editing => {
                    self.mode = Mode::TriageNote { target, text };
                    Vec::new()
                }
            },
            Mode::Normal => self.normal_key(key, ctrl_c),
        }
    }

    /// `v`: asks for the verdict on the take the selected track plays.
    fn start_triage(&mut self) -> Vec<Command> {
        let Some(t) = self.selected_song_track() else {
            return Vec::new();
        };
        match t.playing {
            Some(take) => {
                let track = t.number;
                self.mode = Mode::Triage {
                    take,
                    track,
                    only_track: false,
                };
            }
            None => {
                let n = t.number;
                self.say(format!("track {n} has no take to mark"), Severity::Info);
            }
        }
        Vec::new()
    }

    fn triage_key(
        &mut self,
        key: KeyEvent,
        ctrl_c: bool,
        take: u32,
        track: u16,
        only_track: bool,
    ) -> Vec<Command> {
        use crate::session::manifest::Mark;
        let target = TriageTarget {
            take,
            track: only_track.then_some(track),
        };
        let change = match key.code {
            _ if ctrl_c => None,
            KeyCode::Char('k') => Some(TriageChange::mark(Mark::Keep, None)),
            KeyCode::Char('x') => Some(TriageChange::mark(Mark::NoGood, None)),
            KeyCode::Char('c') => Some(TriageChange::mark(Mark::Circled, None)),
            KeyCode::Char('u') => Some(TriageChange::clear()),
            KeyCode::Tab => {
                self.mode = Mode::Triage {
                    take,
                    track,
                    only_track: !only_track,
                };
                return Vec::new();
            }
            KeyCode::Char('n') => {
                self.mode = Mode::TriageNote {
                    target,
                    text: String::new(),
                };
                return Vec::new();
            }
            _ => None,
        };
        self.mode = Mode::Normal;
        match change {
            Some(change) => vec![Command::Triage { target, change }],
            None => Vec::new(),
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
        let n = self.rows().len();
        let rate = i64::from(self.snap.sample_rate.max(1));
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
            // Space is the transport: it stops whatever runs, else plays the song.
            KeyCode::Char(' ') | KeyCode::Char('s') => {
                self.stop_or_play(key.code == KeyCode::Char(' '))
            }
            KeyCode::Enter => self.toggle_arm(self.selected),
            KeyCode::Char('a') => {
                // Anything armed: disarm everything (the way to an overdub of one track);
                // nothing armed: arm everything.
                let arm = !self.snap.tracks.iter().any(|t| t.armed);
                let now = Instant::now();
                for t in &mut self.snap.tracks {
                    t.armed = arm;
                    self.pending_arm.push((t.number, arm, now));
                }
                if self.recording() {
                    self.say("arming applies to the next take", Severity::Info);
                }
                vec![Command::ArmAll(arm)]
            }
            KeyCode::Char('r') => {
                if self.recording() || self.snap.song.starting_overdub {
                    self.say("already recording", Severity::Info);
                    Vec::new()
                } else if !self.snap.tracks.iter().any(|t| t.armed) {
                    self.say(
                        "no track is armed: arm one with its number or Enter",
                        Severity::Warning,
                    );
                    Vec::new()
                } else {
                    vec![Command::Record {
                        max_frames: self.take_frames,
                    }]
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
            // The song position.
            KeyCode::Home | KeyCode::Char('0') => vec![Command::Locate(Locate::Start)],
            KeyCode::Left => vec![Command::Locate(Locate::By(-NUDGE_SECONDS * rate))],
            KeyCode::Right => vec![Command::Locate(Locate::By(NUDGE_SECONDS * rate))],
            KeyCode::Char('[') => vec![Command::Locate(Locate::PreviousMarker)],
            KeyCode::Char(']') => vec![Command::Locate(Locate::NextMarker)],
            KeyCode::Char('g') => {
                self.mode = Mode::Goto {
                    text: String::new(),
                };
                Vec::new()
            }
            // What was just played, as a take.
            KeyCode::Char('K') => {
                if self.recording() || self.snap.song.starting_overdub {
                    self.say(
                        "a take is being recorded: K keeps what was played between takes",
                        Severity::Info,
                    );
                } else if self.snap.kept_frames == 0 {
                    self.say(
                        "nothing is kept yet (tapedeck keeps what was played with --keep)",
                        Severity::Info,
                    );
                } else {
                    self.mode = Mode::KeepLast {
                        text: String::new(),
                    };
                }
                Vec::new()
            }
            // The selected track's cue and take.
            KeyCode::Char('i') => self.toggle_monitor(),
            KeyCode::Char('M') => self.change_cue(|c| c.mute = !c.mute),
            KeyCode::Char('S') => self.change_cue(|c| c.solo = !c.solo),
            KeyCode::Char('+') | KeyCode::Char('=') => self.change_cue(|c| {
                c.gain_db = ((c.gain_db / GAIN_STEP).round() * GAIN_STEP + GAIN_STEP)
                    .clamp(GAIN_MIN, GAIN_MAX);
            }),
            KeyCode::Char('-') => self.change_cue(|c| {
                c.gain_db = ((c.gain_db / GAIN_STEP).round() * GAIN_STEP - GAIN_STEP)
                    .clamp(GAIN_MIN, GAIN_MAX);
            }),
            KeyCode::Char('<') | KeyCode::Char(',') => self.change_cue(|c| {
                c.pan = ((c.pan / PAN_STEP).round() * PAN_STEP - PAN_STEP).clamp(-1.0, 1.0);
            }),
            KeyCode::Char('>') | KeyCode::Char('.') => self.change_cue(|c| {
                c.pan = ((c.pan / PAN_STEP).round() * PAN_STEP + PAN_STEP).clamp(-1.0, 1.0);
            }),
            KeyCode::Char('t') => self.choose_take(true),
            KeyCode::Char('T') => self.choose_take(false),
            KeyCode::Char('v') => self.start_triage(),
            _ => Vec::new(),
        }
    }

    /// Space (and `s`): stops a take (or an overdub about to start), else stops the song if
    /// it plays, else (space only) plays it.
    fn stop_or_play(&mut self, space: bool) -> Vec<Command> {
        if self.recording() || self.snap.song.starting_overdub {
            vec![Command::Stop {
                reason: EndReason::Stopped,
            }]
        } else if self.snap.song.playing {
            vec![Command::StopSong]
        } else if space {
            vec![Command::Play]
        } else {
            Vec::new()
        }
    }

    /// The song's track on the selected row, or why there is none.
    fn selected_song_track(&mut self) -> Option<&mut SongTrack> {
        let number = self.rows().get(self.selected).map(Row::number);
        let found = number.and_then(|n| self.snap.song.tracks.iter().position(|t| t.number == n));
        match (number, found) {
            (Some(_), Some(i)) => self.snap.song.tracks.get_mut(i),
            (Some(n), None) => {
                self.say(
                    format!("track {n} has nothing in the song yet: record a take first"),
                    Severity::Info,
                );
                None
            }
            (None, _) => None,
        }
    }

    /// Changes the selected track's cue as `change` says: shown at once, sent to the engine.
    /// Software monitoring of the selected track's input, on or off.
    fn toggle_monitor(&mut self) -> Vec<Command> {
        let Some(track) = self.rows().get(self.selected).map(Row::number) else {
            return Vec::new();
        };
        if !self.snap.tracks.iter().any(|t| t.number == track) {
            self.say(
                format!("track {track} has no input to hear"),
                Severity::Info,
            );
            return Vec::new();
        }
        let on = !self.snap.song.monitor.tracks.contains(&track);
        let said = if on {
            format!(
                "hearing track {track}'s input (software: prefer the interface's direct monitoring when it has it)"
            )
        } else {
            format!("track {track}'s input no longer heard")
        };
        self.say(said, Severity::Info);
        vec![Command::SetMonitor { track, on }]
    }

    fn change_cue(&mut self, change: impl FnOnce(&mut CueRecord)) -> Vec<Command> {
        let Some(t) = self.selected_song_track() else {
            return Vec::new();
        };
        let mut cue = t.cue;
        change(&mut cue);
        if cue == t.cue {
            return Vec::new();
        }
        t.cue = cue;
        let track = t.number;
        self.pending_cue.retain(|(n, _)| *n != track);
        self.pending_cue.push((track, cue));
        vec![Command::SetCue { track, cue }]
    }

    /// `next`: the selected track plays its next take (after the one playing, round to the
    /// first); otherwise its newest again.
    fn choose_take(&mut self, next: bool) -> Vec<Command> {
        let Some(t) = self.selected_song_track() else {
            return Vec::new();
        };
        let (track, chosen, playing) = if next {
            if t.takes.is_empty() {
                let n = t.number;
                self.say(format!("track {n} has no take to play"), Severity::Info);
                return Vec::new();
            }
            let at = t.playing.and_then(|p| t.takes.iter().position(|&k| k == p));
            let take = t.takes[at.map_or(0, |i| (i + 1) % t.takes.len())];
            (t.number, Some(take), Some(take))
        } else {
            if t.chosen.is_none() {
                return Vec::new();
            }
            (t.number, None, t.takes.last().copied())
        };
        t.chosen = chosen;
        t.playing = playing;
        self.pending_take.retain(|(n, ..)| *n != track);
        self.pending_take
            .push((track, chosen, playing, Instant::now()));
        vec![Command::ChooseTake {
            track,
            take: chosen,
        }]
    }
}

/// What a key did to a line being typed.
enum Edit {
    Editing,
    Done,
    Cancel,
}

/// Line editing for the prompts: Enter, Esc (or Ctrl-C), Backspace, Ctrl-U clears, Ctrl-W
/// deletes a word; other Ctrl or Alt chords are commands, not text.
fn edit_line(text: &mut String, key: KeyEvent, ctrl_c: bool) -> Edit {
    if ctrl_c {
        return Edit::Cancel;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Enter => Edit::Done,
        KeyCode::Esc => Edit::Cancel,
        KeyCode::Backspace => {
            text.pop();
            Edit::Editing
        }
        KeyCode::Char('u') if ctrl => {
            text.clear();
            Edit::Editing
        }
        KeyCode::Char('w') if ctrl => {
            let kept = text.trim_end().rfind(' ').map_or(0, |i| i + 1);
            text.truncate(kept);
            Edit::Editing
        }
        KeyCode::Char(_)
            if key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Edit::Editing
        }
        KeyCode::Char(c) if !c.is_control() => {
            if text.chars().count() < 64 {
                text.push(c);
            }
            Edit::Editing
        }
        _ => Edit::Editing,
    }
}
