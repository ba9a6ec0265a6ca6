//! The terminal UI: meters, arm states and transport. A front end of the engine like the
//! headless printer: it reads snapshots, sends commands, and does no audio or file work. All
//! terminal writes happen on this (the main) thread, so a slow or stalled terminal can delay
//! the screen but never the recording.

pub mod app;
pub mod view;

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event as TermEvent};

use crate::engine::Command;
use crate::error::Error;
use crate::frontend::link::{Ending, Link};
use app::App;

pub(crate) struct TuiOptions {
    pub(crate) fps: u32,
    pub(crate) color: bool,
    /// Length of each take (`--duration`), if any.
    pub(crate) take_frames: Option<u64>,
    /// Start a take as soon as the screen is up (`--record`).
    pub(crate) record_now: bool,
}

/// Whether to draw in colour: not when NO_COLOR is set (https://no-color.org) or TERM=dumb.
pub(crate) fn color_wanted() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    !no_color && !dumb
}

/// The real stderr while the screen is up; -1 when not redirected.
static SAVED_STDERR: AtomicI32 = AtomicI32::new(-1);

/// Sends fd 2 to /dev/null while the TUI owns the terminal: alsa-lib and JACK print
/// diagnostics from their own threads, which would garble the screen.
struct QuietStderr;

impl QuietStderr {
    fn new() -> Self {
        // SAFETY: plain fd calls on fds we own; failures leave stderr as it was.
        unsafe {
            let saved = libc::dup(2);
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            if saved >= 0 && null >= 0 && libc::dup2(null, 2) >= 0 {
                SAVED_STDERR.store(saved, Ordering::SeqCst);
            } else if saved >= 0 {
                libc::close(saved);
            }
            if null >= 0 {
                libc::close(null);
            }
        }
        Self
    }

    fn restore() {
        let saved = SAVED_STDERR.swap(-1, Ordering::SeqCst);
        if saved >= 0 {
            // SAFETY: `saved` is the dup of the original stderr made above.
            unsafe {
                libc::dup2(saved, 2);
                libc::close(saved);
            }
        }
    }
}

impl Drop for QuietStderr {
    fn drop(&mut self) {
        Self::restore();
    }
}

/// Restores the terminal and stderr on drop, whatever way the UI ends.
struct Screen {
    terminal: ratatui::DefaultTerminal,
    _quiet: QuietStderr,
}

impl Screen {
    fn open() -> Result<Self, Error> {
        let terminal = ratatui::try_init()
            .map_err(|e| Error::Runtime(format!("cannot set up the terminal: {e}")))?;
        // ratatui's hook restores the terminal; ours first gives the panic message a stderr.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            QuietStderr::restore();
            previous(info);
        }));
        Ok(Self {
            terminal,
            _quiet: QuietStderr::new(),
        })
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

enum Input {
    Ready,
    Timeout,
    HungUp,
}

/// Waits up to `timeout` for the terminal (stdin) to have input, noticing a hangup.
fn wait_for_input(timeout: Duration) -> Input {
    let mut fds = libc::pollfd {
        fd: 0,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(1000) as libc::c_int;
    // SAFETY: one valid pollfd, count 1.
    let r = unsafe { libc::poll(&mut fds, 1, ms) };
    if r < 0 {
        // EINTR (a signal) is not a hangup; anything else on stdin is.
        return if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            Input::Timeout
        } else {
            Input::HungUp
        };
    }
    if fds.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        Input::HungUp
    } else if fds.revents & libc::POLLIN != 0 {
        Input::Ready
    } else {
        Input::Timeout
    }
}

/// Runs the UI over `link` until the user quits, the terminal goes away, a signal arrives or
/// the recorder goes away; the link then says what that means (`Link::finish`). Returns the
/// exit status.
pub(crate) fn run<L: Link>(mut link: L, opts: TuiOptions) -> Result<i32, Error> {
    let mut app = App::new(link.snapshot(), opts.color, opts.take_frames);
    if let Some(to) = link.attached() {
        app.attach(to);
    }
    if opts.record_now {
        link.send(Command::Record {
            max_frames: opts.take_frames,
        });
    }
    let frame_time = Duration::from_secs_f64(1.0 / f64::from(opts.fps.clamp(1, 120)));
    let mut hung_up = false;
    let ending = {
        let mut screen = Screen::open()?;
        let mut next_frame = Instant::now();
        loop {
            let now = Instant::now();
            let wait = next_frame.saturating_duration_since(now);
            // Our own poll first: after a hangup crossterm's poll spins instead of failing.
            let ready = match wait_for_input(wait) {
                Input::HungUp => {
                    hung_up = true;
                    false
                }
                Input::Ready => true,
                Input::Timeout => false,
            };
            // crossterm reads everything the terminal has into its own buffer: take it all.
            while ready && !hung_up {
                match event::poll(Duration::ZERO) {
                    Ok(true) => match event::read() {
                        Ok(TermEvent::Key(k)) => {
                            for cmd in app.on_key(k) {
                                link.send(cmd);
                            }
                        }
                        Ok(TermEvent::Resize(..)) => next_frame = Instant::now(),
                        Ok(_) => {}
                        Err(_) => hung_up = true,
                    },
                    Ok(false) => break,
                    Err(_) => hung_up = true,
                }
            }
            while let Some(ev) = link.next_event(Duration::ZERO) {
                app.on_event(&ev);
            }
            if link.hung_up() {
                hung_up = true;
            }
            if hung_up {
                break Ending::HungUp;
            }
            if app.quit {
                break Ending::Quit;
            }
            if link.terminated() {
                break Ending::Terminated;
            }
            if let Some(why) = link.gone() {
                break Ending::Gone(why);
            }
            let now = Instant::now();
            if now >= next_frame {
                app.set_snapshot(link.snapshot());
                if screen.terminal.draw(|f| view::draw(f, &app, now)).is_err() {
                    hung_up = true;
                }
                next_frame = now + frame_time;
            }
        }
    };
    // The screen is closed and the terminal restored: the link says what happens now.
    link.finish(ending, app.recording())
}
