//! Drawing the screen from the app state. Every frame is drawn whole; ratatui sends only the
//! cells that changed, which keeps the bytes on an SSH link small.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Mode, Row, Severity};
use crate::display::{hms, hours_minutes, song_clock};
use crate::engine::{InputMeter, Transport};
use crate::format::dbfs;
use crate::session::manifest::CueRecord;

pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 8;
/// The meter's scale: -60 dBFS to 0 dBFS.
const FLOOR_DB: f64 = -60.0;
const YELLOW_DB: f64 = -18.0;
const RED_DB: f64 = -6.0;
/// Width of one track in the compact meter bridge.
const CELL_WIDTH: u16 = 20;

struct Styles {
    color: bool,
}

impl Styles {
    fn s(&self, fg: Color) -> Style {
        if self.color {
            Style::default().fg(fg)
        } else {
            Style::default()
        }
    }
    fn bold(&self, fg: Color) -> Style {
        self.s(fg).add_modifier(Modifier::BOLD)
    }
    fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }
    fn zone(&self, db: f64) -> (Style, char) {
        // Without colour the zones differ by glyph, so levels stay readable.
        if db >= RED_DB {
            (self.s(Color::Red), if self.color { '█' } else { '#' })
        } else if db >= YELLOW_DB {
            (self.s(Color::Yellow), if self.color { '█' } else { '+' })
        } else {
            (self.s(Color::Green), if self.color { '█' } else { '=' })
        }
    }
}

fn db_of(m: f32) -> f64 {
    dbfs(m).unwrap_or(f64::NEG_INFINITY)
}

/// A horizontal meter of `width` cells on the -60..0 dBFS scale, with the peak-hold marker.
fn meter_spans(m: &InputMeter, width: usize, st: &Styles) -> Vec<Span<'static>> {
    let peak = db_of(m.peak);
    let hold = db_of(m.hold);
    let hold_cell = if hold > FLOOR_DB {
        Some((((hold - FLOOR_DB) / -FLOOR_DB * width as f64).ceil() as usize).clamp(1, width) - 1)
    } else {
        None
    };
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut run = String::new();
    let mut run_style = Style::default();
    for i in 0..width {
        let lo = FLOOR_DB + -FLOOR_DB * i as f64 / width as f64;
        let (style, ch) = if peak > lo {
            st.zone(lo)
        } else if Some(i) == hold_cell {
            (st.zone(lo).0.add_modifier(Modifier::BOLD), '|')
        } else {
            (st.dim(), '·')
        };
        if style != run_style && !run.is_empty() {
            spans.push(Span::styled(std::mem::take(&mut run), run_style));
        }
        run_style = style;
        run.push(ch);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, run_style));
    }
    spans
}

/// Scale labels placed over the meter's cells.
fn scale_line(width: usize) -> String {
    let mut s = vec![' '; width];
    for db in [-48i32, -36, -24, -18, -12, -6, 0] {
        let label = db.to_string();
        let end = ((f64::from(db) - FLOOR_DB) / -FLOOR_DB * width as f64).round() as usize;
        let start = end.saturating_sub(label.len());
        // Keep a blank before every label so that neighbours never run together.
        let free = start + label.len() <= width
            && s[start.saturating_sub(1)..start + label.len()]
                .iter()
                .all(|c| *c == ' ');
        if free {
            for (j, c) in label.chars().enumerate() {
                s[start + j] = c;
            }
        }
    }
    s.into_iter().collect()
}

fn truncate(s: &str, n: usize) -> String {
    let count = s.chars().count();
    if count <= n {
        format!("{s:<n$}")
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e12 {
        format!("{:.1} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else {
        format!("{:.0} MB", b / 1e6)
    }
}

pub fn draw(f: &mut Frame, app: &App, now: Instant) {
    let area = f.area();
    let st = Styles { color: app.color };
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "Terminal too small: {}×{}. tapedeck needs at least {MIN_WIDTH}×{MIN_HEIGHT}.{}",
            area.width,
            area.height,
            if app.recording() {
                " Still recording."
            } else {
                ""
            }
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let header = Rect { height: 3, ..area };
    let footer = Rect {
        y: area.y + area.height - 1,
        height: 1,
        ..area
    };
    let message = Rect {
        y: area.y + area.height - 2,
        height: 1,
        ..area
    };
    let body = Rect {
        y: area.y + 3,
        height: area.height - 5,
        ..area
    };
    draw_header(f, app, header, &st);
    draw_tracks(f, app, body, &st);
    draw_message(f, app, message, now, &st);
    draw_footer(f, app, footer, &st);
    match &app.mode {
        Mode::Help => draw_help(f, area),
        Mode::ConfirmQuit => draw_confirm(f, app, area, &st),
        _ => {}
    }
}

fn draw_header(f: &mut Frame, app: &App, area: Rect, st: &Styles) {
    let s = &app.snap;
    let mut line1 = vec![
        Span::styled("tapedeck", st.bold(Color::Cyan)),
        Span::raw(format!("  {}  ", s.session)),
    ];
    // A screen attached to a recorder in another process says so, and which one.
    if let Some(a) = &app.attached {
        line1.push(Span::styled(
            format!("⇄ attached pid {}", a.pid),
            st.bold(Color::Yellow),
        ));
        line1.push(Span::raw("  "));
    }
    line1.push(Span::styled(
        format!(
            "{} ({}) {} Hz {}",
            s.device.name, s.device.host, s.sample_rate, s.file_format
        ),
        st.dim(),
    ));
    let line1 = Line::from(line1);
    let mut spans = match &s.transport {
        Transport::Recording { take, frames, .. } => {
            let secs = *frames as f64 / f64::from(s.sample_rate.max(1));
            let mut v = vec![
                Span::styled(format!("● REC {}", hms(secs as u64)), st.bold(Color::Red)),
                Span::raw(format!("  take {take}")),
            ];
            if let Some(total) = app.take_frames {
                let t = total as f64 / f64::from(s.sample_rate.max(1));
                v.push(Span::styled(format!(" of {}", hms(t as u64)), st.dim()));
            }
            v
        }
        // Record on signal: listening, not stopped.
        Transport::Stopped if s.trigger == crate::engine::TriggerView::Waiting => vec![
            Span::styled("◌ WAITING", st.bold(Color::Yellow)),
            Span::raw(format!("  for the trigger, take {}", s.next_take)),
        ],
        Transport::Stopped => vec![
            Span::styled("■ STOPPED", st.bold(Color::White)),
            Span::raw(format!("  next take {}", s.next_take)),
        ],
    };
    let transport_len = spans.len();
    // The disk segment, from the fullest form to the shortest: the line must fit the width
    // (a timed take's "of h:mm:ss" and a dropout count make it longer than 80 columns), and
    // the transport and dropouts matter more than how the time left was worked out.
    let disk: Vec<String> = match s.disk {
        Some(d) => match d.seconds_left {
            Some(secs) => {
                let hm = hours_minutes(secs);
                let free = human_bytes(d.free_bytes);
                vec![
                    format!(" │ disk {free} = {hm} ({} trk)", d.tracks),
                    format!(" │ disk {free} = {hm}"),
                    format!(" │ {hm} left"),
                ]
            }
            None => vec![format!(" │ disk {}", human_bytes(d.free_bytes))],
        },
        None => vec![String::new()],
    };
    let drop_style = if s.dropouts > 0 {
        st.bold(Color::Red)
    } else {
        Style::default()
    };
    spans.push(Span::styled(
        format!(" │ dropouts {}", s.dropouts),
        drop_style,
    ));
    if s.dropped_frames > 0 {
        spans.push(Span::styled(
            format!(" ({} frames)", s.dropped_frames),
            drop_style,
        ));
    }
    let ring = Span::raw(format!(" │ ring {:.0}%", s.ring_fill * 100.0));
    // Fullest first; the ring's fill is the first thing to go, before the disk's time left.
    let width = usize::from(area.width);
    let with_ring = disk.iter().map(|d| (d, true));
    let without = disk.last().map(|d| (d, false));
    let mut line2 = Line::default();
    for (d, show_ring) in with_ring.chain(without) {
        let mut v = spans.clone();
        v.insert(transport_len, Span::raw(d.clone()));
        if show_ring {
            v.push(ring.clone());
        }
        line2 = Line::from(v);
        if line2.width() <= width {
            break;
        }
    }
    let line3 = song_line(app, width, st);
    f.render_widget(Paragraph::new(vec![line1, line2, line3]), area);
}

/// The song's transport: position / length, state, the output, underruns and files that do
/// not play. The output's name gives way first when the width is short.
fn song_line(app: &App, width: usize, st: &Styles) -> Line<'static> {
    let s = &app.snap;
    let song = &s.song;
    let rate = s.sample_rate;
    let mut spans = vec![Span::styled(
        format!(
            "♪ {} / {}",
            song_clock(song.position, rate),
            song_clock(song.length, rate)
        ),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    let recording = app.recording();
    let (state, style) = if song.starting_overdub {
        ("◌ overdub starting", st.bold(Color::Yellow))
    } else if recording && song.playing {
        ("● overdub", st.bold(Color::Red))
    } else if recording {
        ("● recording", st.bold(Color::Red))
    } else if song.playing {
        ("▶ playing", st.bold(Color::Green))
    } else {
        ("■ stopped", Style::default())
    };
    spans.push(Span::raw("  "));
    spans.push(Span::styled(state, style));
    // Software monitoring heard now, and what it costs.
    if !song.monitor.audible.is_empty() {
        let text = match song.monitor.latency_ms {
            Some(ms) => format!("  mon {ms:.1}ms"),
            None => "  mon".to_string(),
        };
        spans.push(Span::styled(text, st.bold(Color::Magenta)));
    }
    // Underruns and files that do not play, fullest first: the frames and the words give
    // way before the counts.
    let underruns = |full: bool| {
        (song.underruns > 0).then(|| {
            let text = if full {
                format!(
                    "UNDERRUNS {} ({} frames)",
                    song.underruns, song.underrun_frames
                )
            } else {
                format!("UNDERRUNS {}", song.underruns)
            };
            Span::styled(text, st.bold(Color::Red).add_modifier(Modifier::REVERSED))
        })
    };
    let problems = |full: bool| {
        let n = song.problems.len();
        (n > 0).then(|| {
            let s = if n == 1 { "" } else { "s" };
            let text = if full {
                format!("⚠ {n} file{s} not playing")
            } else {
                format!("⚠ {n} file{s}")
            };
            Span::styled(text, st.bold(Color::Yellow))
        })
    };
    let head = Line::from(spans.clone()).width();
    let mut tail = Vec::new();
    for full in [true, false] {
        tail = [underruns(full), problems(full)]
            .into_iter()
            .flatten()
            .flat_map(|s| [Span::raw(" │ "), s])
            .collect();
        if head + Line::from(tail.clone()).width() <= width {
            break;
        }
    }
    let used = head + Line::from(tail.clone()).width();
    // " │ out " and at least a few letters of the name, or nothing.
    let room = width.saturating_sub(used + 7);
    if room >= 6 {
        spans.push(Span::raw(" │ out "));
        match &song.output {
            Some(name) => spans.push(Span::raw(fit(name, room))),
            None => spans.push(Span::styled("none", st.dim())),
        }
    }
    spans.extend(tail);
    Line::from(spans)
}

/// `s` cut to `n` characters (with `…`), not padded.
fn fit(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        truncate(s, n)
    }
}

fn draw_tracks(f: &mut Frame, app: &App, area: Rect, st: &Styles) {
    let rows = app.rows();
    // One row per track, the scale line and the selected track's takes when they fit; else
    // the compact meter bridge.
    if rows.len() + 1 < usize::from(area.height) {
        let list = Rect {
            height: area.height - 1,
            ..area
        };
        let detail = Rect {
            y: area.y + area.height - 1,
            height: 1,
            ..area
        };
        draw_list(f, app, &rows, list, st);
        draw_detail(f, app, &rows, detail, st);
    } else {
        draw_bridge(f, app, &rows, area, st);
    }
}

/// The meter of the row's input; `None` for a track that records nothing here.
fn meter_for(app: &App, row: &Row) -> Option<InputMeter> {
    let t = row.track?;
    Some(
        app.snap
            .inputs
            .get(usize::from(t.input.saturating_sub(1)))
            .cloned()
            .unwrap_or_default(),
    )
}

/// A gain in dB as the cue shows it: `0`, `+3`, `-12` (tenths when not whole).
fn gain_text(db: f64) -> String {
    if db.abs() < 0.05 {
        "0".to_string()
    } else if (db - db.round()).abs() < 0.05 {
        format!("{:+.0}", db)
    } else {
        format!("{:+.1}", db)
    }
}

/// A pan as the cue shows it: `C`, `L25`, `R100`.
fn pan_text(pan: f64) -> String {
    let pct = (pan * 100.0).round() as i64;
    match pct {
        0 => "C".to_string(),
        p if p < 0 => format!("L{}", -p),
        p => format!("R{p}"),
    }
}

/// Columns of the compact cue.
const CUE_WIDTH: usize = 12;

/// The compact cue: mute, solo, gain and pan, `CUE_WIDTH` columns.
fn cue_spans(cue: &CueRecord, st: &Styles) -> Vec<Span<'static>> {
    vec![
        if cue.mute {
            Span::styled("M", st.bold(Color::Yellow).add_modifier(Modifier::REVERSED))
        } else {
            Span::styled("·", st.dim())
        },
        if cue.solo {
            Span::styled("S", st.bold(Color::Green).add_modifier(Modifier::REVERSED))
        } else {
            Span::styled("·", st.dim())
        },
        Span::raw(format!(
            " {:>3} {:<4} ",
            gain_text(cue.gain_db),
            pan_text(cue.pan)
        )),
    ]
}

/// Whether a track is heard in the cue: not muted, and soloed when any track heard is (as
/// the player mixes).
fn audible(app: &App, cue: &CueRecord) -> bool {
    let any_solo = app
        .snap
        .song
        .tracks
        .iter()
        .any(|t| t.cue.solo && !t.cue.mute);
    !cue.mute && (cue.solo || !any_solo)
}

/// The take a row plays, 5 columns: `▶T3  ` (lit while the song plays and it is heard).
fn take_span(app: &App, row: &Row, st: &Styles) -> Span<'static> {
    match row.song.and_then(|s| s.playing.map(|p| (s, p))) {
        Some((s, take)) => {
            let text = format!("{:<5}", format!("▶T{take}"));
            if app.snap.song.playing && audible(app, &s.cue) {
                Span::styled(text, st.bold(Color::Green))
            } else if audible(app, &s.cue) {
                Span::raw(text)
            } else {
                Span::styled(text, st.dim())
            }
        }
        None => Span::styled(" -   ", st.dim()),
    }
}

fn draw_list(f: &mut Frame, app: &App, rows: &[Row], area: Rect, st: &Styles) {
    const NAME: usize = 13;
    // "› " "● " "01 " name " in1  " "▶T3  " "MS +3 L25  " meter " -12.3" " CLIP"
    let fixed = 2 + 2 + 3 + NAME + 6 + 5 + CUE_WIDTH + 7 + 5;
    let width = usize::from(area.width).saturating_sub(fixed).max(8);
    let mut lines = Vec::with_capacity(rows.len() + 1);
    lines.push(Line::from(vec![
        Span::styled(
            format!(
                "{:<21}{:<5}{:<5}{:<w$}",
                "  arm # track",
                "in",
                "take",
                "cue",
                w = fixed - 12 - 31
            ),
            st.dim(),
        ),
        Span::styled(scale_line(width), st.dim()),
        Span::styled("   peak", st.dim()),
    ]));
    for (i, row) in rows.iter().enumerate() {
        let selected = i == app.selected;
        let number = row.number();
        let mut spans = vec![
            Span::raw(if selected { "› " } else { "  " }),
            match row.track {
                Some(t) if t.armed => Span::styled("● ", st.bold(Color::Red)),
                Some(_) => Span::styled("○ ", st.dim()),
                None => Span::raw("  "),
            },
            Span::raw(format!("{number:02} ")),
        ];
        let name = match &app.mode {
            Mode::Rename { track, text } if *track == number && row.track.is_some() => {
                Span::styled(
                    truncate(&format!("{text}▏"), NAME),
                    Style::default().add_modifier(Modifier::REVERSED),
                )
            }
            _ if selected => Span::styled(
                truncate(row.name(), NAME),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            _ => Span::raw(truncate(row.name(), NAME)),
        };
        spans.push(name);
        let input = match (row.track, row.song) {
            (Some(t), _) => format!(" in{:<3}", t.input),
            (None, Some(s)) if s.input.is_none() => " file ".to_string(),
            (None, Some(s)) => format!(" in{:<3}", s.input.unwrap_or(0)),
            (None, None) => "      ".to_string(),
        };
        spans.push(Span::styled(input, st.dim()));
        spans.push(take_span(app, row, st));
        match row.song {
            Some(s) => spans.extend(cue_spans(&s.cue, st)),
            None => spans.push(Span::raw(" ".repeat(CUE_WIDTH))),
        }
        match meter_for(app, row) {
            Some(m) => {
                spans.extend(meter_spans(&m, width, st));
                let hold = dbfs(m.hold);
                spans.push(Span::raw(match hold {
                    Some(d) if d > -0.05 => "    0.0".to_string(),
                    Some(d) => format!(" {d:>6.1}"),
                    None => "   -inf".to_string(),
                }));
                spans.push(if m.clips > 0 {
                    Span::styled(
                        " CLIP",
                        st.bold(Color::Red).add_modifier(Modifier::REVERSED),
                    )
                } else {
                    Span::raw("     ")
                });
            }
            None => {
                let why = if row.imported() {
                    "imported: plays, does not record"
                } else {
                    "no input open: plays only"
                };
                spans.push(Span::styled(fit(why, width + 12), st.dim()));
            }
        }
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// The selected track's takes, the one playing marked, and its cue in words.
fn draw_detail(f: &mut Frame, app: &App, rows: &[Row], area: Rect, st: &Styles) {
    let Some(row) = rows.get(app.selected) else {
        return;
    };
    let mut spans = vec![Span::styled(
        format!("{:02} {}: ", row.number(), fit(row.name(), 16)),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    let Some(song) = row.song.filter(|s| !s.takes.is_empty()) else {
        spans.push(Span::styled("no take yet", st.dim()));
        f.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    };
    spans.push(Span::raw("takes"));
    // The takes around the one playing when they do not all fit.
    let room = usize::from(area.width).saturating_sub(Line::from(spans.clone()).width() + 36);
    let per = song
        .takes
        .iter()
        .map(|t| t.to_string().len() + 2)
        .max()
        .unwrap_or(3);
    let fits = (room / per).max(1);
    let at = song
        .playing
        .and_then(|p| song.takes.iter().position(|&t| t == p))
        .unwrap_or(song.takes.len() - 1);
    let first = (at + 1)
        .saturating_sub(fits)
        .min(song.takes.len().saturating_sub(fits));
    if first > 0 {
        spans.push(Span::styled(" …", st.dim()));
    }
    for &t in song.takes.iter().skip(first).take(fits) {
        if Some(t) == song.playing {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(
                format!("▶{t}"),
                st.bold(Color::Green).add_modifier(Modifier::REVERSED),
            ));
        } else {
            spans.push(Span::raw(format!(" {t}")));
        }
    }
    if first + fits < song.takes.len() {
        spans.push(Span::styled(" …", st.dim()));
    }
    spans.push(Span::styled(
        if song.chosen.is_some() {
            "  (chosen)"
        } else {
            "  (newest)"
        },
        st.dim(),
    ));
    let cue = &song.cue;
    spans.push(Span::raw(format!(
        " │ {} dB {}",
        gain_text(cue.gain_db),
        pan_text(cue.pan)
    )));
    if cue.mute {
        spans.push(Span::styled(" muted", st.bold(Color::Yellow)));
    }
    if cue.solo {
        spans.push(Span::styled(" solo", st.bold(Color::Green)));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Every track as a small cell, column by column, so that 64 inputs fit on 80×24.
fn draw_bridge(f: &mut Frame, app: &App, rows: &[Row], area: Rect, st: &Styles) {
    let n = rows.len();
    let cols = usize::from((area.width / CELL_WIDTH).max(1));
    let rows_needed = n.div_ceil(cols);
    let visible = usize::from(area.height);
    let sel_row = app.selected % rows_needed.max(1);
    let first = if rows_needed <= visible {
        0
    } else {
        sel_row.saturating_sub(visible - 1)
    };
    // arm, "NN ", 5-character name, blank, meter, clip mark, blank
    let meter_w = usize::from(CELL_WIDTH) - 12;
    let mut lines = Vec::with_capacity(visible);
    for r in first..(first + visible).min(rows_needed) {
        let mut spans = Vec::new();
        for c in 0..cols {
            let i = c * rows_needed + r;
            let Some(row) = rows.get(i) else {
                break;
            };
            let m = meter_for(app, row).unwrap_or_default();
            spans.push(match row.track {
                Some(t) if t.armed => Span::styled("●", st.bold(Color::Red)),
                Some(_) => Span::styled("○", st.dim()),
                None => Span::styled("▶", st.dim()),
            });
            let label = format!("{:02} {}", row.number(), truncate(row.name(), 5));
            spans.push(if i == app.selected {
                Span::styled(label, Style::default().add_modifier(Modifier::REVERSED))
            } else {
                Span::raw(label)
            });
            spans.push(Span::raw(" "));
            spans.extend(meter_spans(&m, meter_w, st));
            spans.push(if m.clips > 0 {
                Span::styled("!", st.bold(Color::Red).add_modifier(Modifier::REVERSED))
            } else {
                Span::raw(" ")
            });
            spans.push(Span::raw(" "));
        }
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), area);
}

fn draw_message(f: &mut Frame, app: &App, area: Rect, now: Instant, st: &Styles) {
    let prompt = match &app.mode {
        Mode::Triage {
            take,
            track,
            only_track,
        } => Some(if *only_track {
            format!("mark take {take}, only track {track}: ")
        } else {
            format!("mark take {take} (all its tracks): ")
        }),
        Mode::TriageNote { target, text } => Some(match target.track {
            Some(t) => format!("note on take {} track {t}: {text}▏", target.take),
            None => format!("note on take {}: {text}▏", target.take),
        }),
        _ => None,
    };
    if let Some(p) = prompt {
        let line = Line::from(Span::styled(
            p,
            Style::default().add_modifier(Modifier::BOLD),
        ));
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    if let Mode::KeepLast { text } = &app.mode {
        let kept = crate::display::song_clock(app.snap.kept_frames, app.snap.sample_rate);
        let line = Line::from(vec![
            Span::styled(
                format!("keep the last (Enter: all {kept}): "),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!("{text}▏"),
                Style::default().add_modifier(Modifier::REVERSED),
            ),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    if let Mode::Goto { text } = &app.mode {
        let line = Line::from(vec![
            Span::styled("go to: ", Style::default().add_modifier(Modifier::BOLD)),
            Span::styled(
                format!("{text}▏"),
                Style::default().add_modifier(Modifier::REVERSED),
            ),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    // Files that do not play stay in view while nothing else is said.
    let problem = app
        .snap
        .song
        .problems
        .first()
        .map(|p| (p.as_str(), Severity::Warning));
    if let Some((text, sev)) = app.current_message(now).or(problem) {
        let style = match sev {
            Severity::Info => Style::default(),
            Severity::Warning => st.bold(Color::Yellow),
            Severity::Error => st.bold(Color::Red),
        };
        f.render_widget(Paragraph::new(Span::styled(text.to_string(), style)), area);
    }
}

fn draw_footer(f: &mut Frame, app: &App, area: Rect, st: &Styles) {
    let keys: &[(&str, &str)] = match &app.mode {
        Mode::Rename { .. } => &[("type", "new name"), ("Enter", "keep"), ("Esc", "cancel")],
        Mode::ConfirmQuit if app.attached.is_some() => &[
            ("y", "quit, the take goes on"),
            ("s", "stop the take and quit"),
            ("n", "stay"),
        ],
        Mode::ConfirmQuit => &[("y", "stop the take and quit"), ("n", "keep recording")],
        Mode::Goto { .. } => &[
            ("type", "a time: 1:23, 83s, 3984000f"),
            ("Enter", "go"),
            ("Esc", "cancel"),
        ],
        Mode::KeepLast { .. } => &[
            ("type", "how much: 30s, 1:30"),
            ("Enter", "make the take"),
            ("Esc", "cancel"),
        ],
        Mode::Help => &[("any key", "close help")],
        Mode::Triage { .. } => &[
            ("k", "keep"),
            ("x", "no-good"),
            ("c", "circle"),
            ("u", "clear"),
            ("n", "note"),
            ("Tab", "take/track"),
            ("Esc", "cancel"),
        ],
        Mode::TriageNote { .. } => &[("type", "the note"), ("Enter", "save"), ("Esc", "cancel")],
        Mode::Normal if app.recording() || app.snap.song.starting_overdub => &[
            ("space/s", "stop"),
            ("m", "marker"),
            ("M S +-<>", "cue"),
            ("c", "clear clips"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Mode::Normal if app.snap.song.playing => &[
            ("space", "stop"),
            ("r", "overdub"),
            ("←→ g", "locate"),
            ("M S +-<>", "cue"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Mode::Normal => &[
            ("space", "play"),
            ("r", "record"),
            ("Enter/1-9", "arm"),
            ("←→ g", "locate"),
            ("t", "take"),
            ("?", "help"),
            ("q", "quit"),
        ],
    };
    let mut spans = Vec::new();
    for (k, what) in keys {
        spans.push(Span::styled(
            format!(" {k}"),
            st.bold(Color::Cyan).add_modifier(Modifier::REVERSED),
        ));
        spans.push(Span::raw(format!(" {what} ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// The keys, in two columns: the take and the tracks, then the song.
pub const HELP: &[(&str, &str)] = &[
    ("r", "record (over the song)"),
    ("space, s", "stop the take"),
    ("1-9", "arm/disarm track 1-9"),
    ("Enter", "arm/disarm the selected"),
    ("a", "disarm all (or arm all)"),
    ("↑↓ j k", "select a track"),
    ("m", "marker (while recording)"),
    ("n", "rename the track"),
    ("v", "mark its take (keep…)"),
    ("i", "hear its input (software)"),
    ("c", "clear the clip indicators"),
    ("?", "this help"),
    ("q, Ctrl-C", "quit (asks while recording)"),
];

pub const HELP_SONG: &[(&str, &str)] = &[
    ("space", "play / stop the song"),
    ("Home, 0", "to the start"),
    ("← →", "back / on 5 seconds"),
    ("[ ]", "previous / next marker"),
    ("g", "go to a time (1:23)"),
    ("M  S", "mute / solo the track"),
    ("+ -", "gain up / down 1 dB"),
    ("< >", "pan left / right"),
    ("t", "play its next take"),
    ("T", "play its newest take"),
    ("K", "keep what was just played"),
];

fn help_line(left: Option<&(&str, &str)>, right: Option<&(&str, &str)>) -> Line<'static> {
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut spans = Vec::new();
    for (col, entry) in [left, right].into_iter().enumerate() {
        let (k, what) = entry.copied().unwrap_or(("", ""));
        spans.push(Span::styled(format!(" {k:<10}"), bold));
        spans.push(Span::raw(if col == 0 {
            format!("{what:<27}")
        } else {
            what.to_string()
        }));
    }
    Line::from(spans)
}

fn draw_help(f: &mut Frame, area: Rect) {
    let rows = HELP.len().max(HELP_SONG.len());
    let rect = centered(area, 78, rows as u16 + 4);
    let mut lines = vec![help_line(Some(&("take, tracks", "")), Some(&("song", "")))];
    lines.extend((0..rows).map(|i| help_line(HELP.get(i), HELP_SONG.get(i))));
    lines.push(Line::from(
        " Meters: -60…0 dBFS, | peak hold, CLIP until cleared. ▶T3: plays take 3",
    ));
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" keys ")),
        rect,
    );
}

fn draw_confirm(f: &mut Frame, app: &App, area: Rect, st: &Styles) {
    let take = match &app.snap.transport {
        Transport::Recording { take, .. } => format!("take {take}"),
        Transport::Stopped => "a take".to_string(),
    };
    let (width, text) = match &app.attached {
        // Attached: the recorder is another process, and quitting leaves it recording.
        Some(a) => (
            56,
            vec![
                Line::from(Span::styled(
                    format!("Recorder pid {} is recording {take}.", a.pid),
                    st.bold(Color::Red),
                )),
                Line::from("Quit this screen? The take goes on recording."),
                Line::from("y = quit, it goes on   s = stop it and quit"),
                Line::from("n = stay"),
            ],
        ),
        None => (
            46,
            vec![
                Line::from(Span::styled(
                    format!("Recording {take}."),
                    st.bold(Color::Red),
                )),
                Line::from("Stop it (everything is kept) and quit?"),
                Line::from("y = stop and quit    n = keep recording"),
            ],
        ),
    };
    let rect = centered(area, width, text.len() as u16 + 2);
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .block(Block::default().borders(Borders::ALL).title(" quit ")),
        rect,
    );
}
