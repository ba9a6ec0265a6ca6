//! `tapedeck attach`: the screen of a recorder running in another process (a `--serve`
//! service, a headless run, another screen), over its control socket. The same screen as
//! `tapedeck record` shows; quitting it leaves the recorder running.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use crate::control::{self, Client, ControlError};
use crate::error::Error;
use crate::frontend::link::Remote;
use crate::tui::{self, TuiOptions};

#[derive(Args, Debug)]
pub(crate) struct AttachArgs {
    /// The recorder's control socket (default: the one running recorder's, or --session's).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// The session whose recorder to attach to, when several run.
    #[arg(long, value_name = "NAME")]
    session: Option<String>,
    /// Screen refreshes per second; the recorder sends its state this often (lower it on
    /// slow links).
    #[arg(long, default_value_t = 25, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=50))]
    fps: u32,
}

pub(crate) fn run(a: AttachArgs) -> Result<i32, Error> {
    match connect(&a) {
        Ok(client) => {
            if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
                return Err(Error::usage(
                    "tapedeck attach shows a screen and needs a terminal; without one use `tapedeck ctl` (status, record, stop, events ...)",
                ));
            }
            let link = match Remote::start(client, a.fps) {
                Ok(link) => link,
                Err(e) => return Ok(said(&e)),
            };
            tui::run(
                link,
                TuiOptions {
                    fps: a.fps,
                    color: tui::color_wanted(),
                    take_frames: None,
                    record_now: false,
                },
            )
        }
        Err(e) => Ok(said(&e)),
    }
}

/// Nothing to attach to (or it went away at once): said in one line, with `ctl`'s exit
/// status (3: no recorder reachable).
fn said(e: &ControlError) -> i32 {
    eprintln!("tapedeck: {e}");
    e.exit_code()
}

fn connect(a: &AttachArgs) -> Result<Client, ControlError> {
    let path = match &a.socket {
        Some(p) => p.clone(),
        None => control::find_socket(a.session.as_deref())?,
    };
    Client::connect(&path)
}
