//! `tapedeck completions SHELL` and `tapedeck man`: shell completions and manual pages, both
//! generated from the same clap definitions the program parses with, so they never disagree
//! with it. `scripts/install` puts them where the shells and `man` look.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use crate::error::Error;

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    shell: Shell,
}

#[derive(Args, Debug)]
pub(crate) struct ManArgs {
    /// Write tapedeck.1 and a page per subcommand (tapedeck-record.1, ...) into this folder
    /// instead of printing tapedeck.1.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub(crate) fn completions(a: CompletionsArgs) -> Result<i32, Error> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "tapedeck", &mut out);
    write_stdout(&out)?;
    Ok(0)
}

pub(crate) fn man(a: ManArgs) -> Result<i32, Error> {
    match a.dir {
        Some(dir) => {
            write_pages(&dir)?;
            eprintln!(
                "tapedeck: manual pages written to {} (read one with `man -l {}`)",
                dir.display(),
                dir.join("tapedeck.1").display()
            );
        }
        None => write_stdout(&main_page()?)?,
    }
    Ok(0)
}

fn write_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut o = std::io::stdout().lock();
    o.write_all(bytes)
        .and_then(|()| o.flush())
        .map_err(|e| Error::Runtime(format!("cannot write to stdout: {e}")))
}

/// tapedeck.1: clap's sections, then what a manual page of a recorder should also say.
fn main_page() -> Result<Vec<u8>, Error> {
    let man = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    let io = |e: std::io::Error| Error::Runtime(format!("cannot render the manual page: {e}"));
    man.render_title(&mut out).map_err(io)?;
    man.render_name_section(&mut out).map_err(io)?;
    man.render_synopsis_section(&mut out).map_err(io)?;
    man.render_description_section(&mut out).map_err(io)?;
    man.render_options_section(&mut out).map_err(io)?;
    man.render_subcommands_section(&mut out).map_err(io)?;
    out.extend_from_slice(EXTRA_SECTIONS.as_bytes());
    man.render_version_section(&mut out).map_err(io)?;
    Ok(out)
}

/// Every page, the main one with its extra sections.
fn write_pages(dir: &Path) -> Result<(), Error> {
    let fail = |e: std::io::Error| {
        Error::Runtime(format!(
            "cannot write manual pages into {}: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(fail)?;
    std::fs::write(dir.join("tapedeck.1"), main_page()?).map_err(fail)
}

/// Sections clap knows nothing about, in roff.
const EXTRA_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Done; every take that was asked for was recorded and finished.
.TP
\fB1\fR
A take ended by a failure (device lost, disk full, a write error), none was recorded when one
was asked for, or something at run time failed. What was captured is on disk and listed in
session.json.
.TP
\fB2\fR
The command line was wrong: nothing was recorded, created or overwritten.
.TP
\fB3\fR
\fBtapedeck ctl\fR and \fBtapedeck attach\fR: no recorder could be reached.
.SH FILES
.TP
\fIsessions/NAME/session.json\fR
The session manifest: tracks, takes, files, dropouts, markers, notes (docs/manifest.md).
.TP
\fIsessions/NAME/take\-NNN/NN_Track_TNNN.wav\fR
One Broadcast Wave file per track and take (RF64 past 4 GiB; on FAT, or with
\fB\-\-split\-every\fR, continued in \fINN_Track_TNNN_part002.wav\fR, ...).
.TP
\fIsessions/NAME/hooks.log\fR
What the \fB\-\-on\-take\-end\fR commands printed.
.TP
\fI$XDG_CONFIG_HOME/tapedeck/calibration.json\fR
Round-trip corrections measured by \fBtapedeck calibrate\fR.
.SH ENVIRONMENT
.TP
\fBNO_COLOR\fR
When set and not empty, the screen is drawn without colour.
.TP
\fBXDG_RUNTIME_DIR\fR
Where a running recorder's control socket lives (\fItapedeck/NAME.sock\fR; without it,
\fI/tmp/tapedeck\-UID/NAME.sock\fR).
.TP
\fBPIPEWIRE_PROPS\fR
tapedeck adds \fBstream.dont\-remix = true\fR unless it is set.
.SH "SEE ALSO"
\fBtapedeck\-record\fR(1), \fBtapedeck\-demo\fR(1), \fBtapedeck\-ctl\fR(1),
\fBtapedeck\-attach\fR(1), \fBjackd\fR(1), \fBarecord\fR(1),
\fBsox\fR(1)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_page_has_clap_sections_and_ours() {
        let page = String::from_utf8(main_page().expect("page")).expect("utf-8");
        for section in [
            ".TH tapedeck 1",
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH SUBCOMMANDS",
            ".SH \"EXIT STATUS\"",
            ".SH FILES",
            "tapedeck\\-record\\fR(1)",
        ] {
            assert!(page.contains(section), "no {section:?} in\n{page}");
        }
    }

    #[test]
    fn every_subcommand_gets_a_page() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_pages(dir.path()).expect("pages");
        for sub in Cli::command().get_subcommands() {
            let page = dir.path().join(format!("tapedeck-{}.1", sub.get_name()));
            assert!(page.is_file(), "no {}", page.display());
        }
        let main = std::fs::read_to_string(dir.path().join("tapedeck.1")).expect("main");
        assert!(main.contains(".SH FILES"));
    }
}
