//! Drawing the screen from the app state. Every frame is drawn whole; ratatui sends only the
//! cells that changed, which keeps the bytes on an SSH link small.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Mode, Severity};
use crate::display::{hms, hours_minutes};
use crate::engine::{InputMeter, Track, Transport};
use crate::format::dbfs;

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
    let header = Rect { height: 2, ..area };
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
        y: area.y + 2,
        height: area.height - 4,
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
    let line1 = Line::from(vec![
        Span::styled("tapedeck", st.bold(Color::Cyan)),
        Span::raw(format!("  {}  ", s.session)),
        Span::styled(
            format!(
                "{} ({}) {} Hz {}",
                s.device.name, s.device.host, s.sample_rate, s.file_format
            ),
            st.dim(),
        ),
    ]);
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
    f.render_widget(Paragraph::new(vec![line1, line2]), area);
}

fn draw_tracks(f: &mut Frame, app: &App, area: Rect, st: &Styles) {
    let n = app.snap.tracks.len();
    // One row per track plus the scale line when they fit; else the compact meter bridge.
    if n < usize::from(area.height) {
        draw_list(f, app, area, st);
    } else {
        draw_bridge(f, app, area, st);
    }
}

fn meter_for(app: &App, t: &Track) -> InputMeter {
    app.snap
        .inputs
        .get(usize::from(t.input.saturating_sub(1)))
        .cloned()
        .unwrap_or_default()
}

fn draw_list(f: &mut Frame, app: &App, area: Rect, st: &Styles) {
    const NAME: usize = 16;
    // "› " "● " "01 " name " in1   " meter " -12.3" " CLIP"
    let fixed = 2 + 2 + 3 + NAME + 7 + 7 + 5;
    let width = usize::from(area.width).saturating_sub(fixed).max(8);
    let mut lines = Vec::with_capacity(app.snap.tracks.len() + 1);
    lines.push(Line::from(vec![
        Span::styled(
            format!("{:<w$}", "  arm # track             in", w = fixed - 12),
            st.dim(),
        ),
        Span::styled(scale_line(width), st.dim()),
        Span::styled("   peak", st.dim()),
    ]));
    for (i, t) in app.snap.tracks.iter().enumerate() {
        let m = meter_for(app, t);
        let selected = i == app.selected;
        let mut spans = vec![
            Span::raw(if selected { "› " } else { "  " }),
            if t.armed {
                Span::styled("● ", st.bold(Color::Red))
            } else {
                Span::styled("○ ", st.dim())
            },
            Span::raw(format!("{:02} ", t.number)),
        ];
        let name = match &app.mode {
            Mode::Rename { track, text } if *track == t.number => Span::styled(
                truncate(&format!("{text}▏"), NAME),
                Style::default().add_modifier(Modifier::REVERSED),
            ),
            _ if selected => Span::styled(
                truncate(&t.name, NAME),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            _ => Span::raw(truncate(&t.name, NAME)),
        };
        spans.push(name);
        spans.push(Span::styled(format!(" in{:<3} ", t.input), st.dim()));
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
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// Every track as a small cell, column by column, so that 64 inputs fit on 80×24.
fn draw_bridge(f: &mut Frame, app: &App, area: Rect, st: &Styles) {
    let n = app.snap.tracks.len();
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
            let Some(t) = app.snap.tracks.get(i) else {
                break;
            };
            let m = meter_for(app, t);
            spans.push(if t.armed {
                Span::styled("●", st.bold(Color::Red))
            } else {
                Span::styled("○", st.dim())
            });
            let label = format!("{:02} {}", t.number, truncate(&t.name, 5));
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
    if let Some((text, sev)) = app.current_message(now) {
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
        Mode::ConfirmQuit => &[("y", "stop the take and quit"), ("n", "keep recording")],
        Mode::Help => &[("any key", "close help")],
        Mode::Normal if app.recording() => &[
            ("space/s", "stop"),
            ("m", "marker"),
            ("c", "clear clips"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Mode::Normal => &[
            ("r", "record"),
            ("1-9/space", "arm"),
            ("a", "all"),
            ("n", "rename"),
            ("c", "clear clips"),
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

pub const HELP: &[(&str, &str)] = &[
    ("r", "record a take of the armed tracks"),
    ("space, s", "stop the take"),
    ("1-9", "arm or disarm track 1-9 (in list order)"),
    ("↑↓ / j k", "select a track"),
    (
        "space, Enter",
        "arm/disarm the selected track (when stopped)",
    ),
    ("a", "arm all tracks, or none"),
    ("m", "drop a marker into the take"),
    ("n", "rename the selected track (next take)"),
    ("c", "clear the clip indicators"),
    ("?", "this help"),
    ("q, Ctrl-C", "quit (asks first while recording)"),
];

fn draw_help(f: &mut Frame, area: Rect) {
    let rect = centered(area, 62, HELP.len() as u16 + 4);
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!(" {k:<14}"),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(
        " Meters: -60…0 dBFS, | peak hold, CLIP until cleared",
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
    let rect = centered(area, 46, 5);
    let text = vec![
        Line::from(Span::styled(
            format!("Recording {take}."),
            st.bold(Color::Red),
        )),
        Line::from("Stop it (everything is kept) and quit?"),
        Line::from("y = stop and quit    n = keep recording"),
    ];
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .block(Block::default().borders(Borders::ALL).title(" quit ")),
        rect,
    );
}
