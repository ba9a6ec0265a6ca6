//! `scripts/install` with the binary under test: manual pages that `man` finds and renders
//! without a warning, and completions that bash, zsh and fish load and that offer what the
//! command line takes.

mod common;

use std::path::Path;
use std::process::Command;

fn install(prefix: &Path) {
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install"))
        .args(["--prefix"])
        .arg(prefix)
        .args(["--binary", common::bin()])
        .output()
        .expect("scripts/install runs");
    assert!(
        out.status.success(),
        "scripts/install failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Text as a terminal shows it: man's overstruck bold and underline (`X\bX`) made plain.
fn plain(text: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
            continue;
        }
        out.push(c);
    }
    out.into_iter().collect()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn manual_pages_are_found_and_render_cleanly() {
    common::require("man");
    common::require("groff");
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    install(tmp.path());
    let manpath = tmp.path().join("share/man");
    for page in [
        "tapedeck",
        "tapedeck-record",
        "tapedeck-demo",
        "tapedeck-completions",
    ] {
        let found = run(Command::new("man")
            .env("MANPATH", &manpath)
            .args(["-w", page]));
        assert!(
            found.trim().ends_with(&format!("man1/{page}.1")),
            "man -w {page}: {found}"
        );
        // groff's warnings (-ww) go to stderr; a clean page has none.
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(manpath.join(format!("man1/{page}.1")))
            .output()
            .expect("groff");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{page}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = plain(&run(Command::new("man")
        .env("MANPATH", &manpath)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .args(["-P", "cat", "tapedeck"])));
    for heading in [
        "SYNOPSIS",
        "SUBCOMMANDS",
        "EXIT STATUS",
        "FILES",
        "ENVIRONMENT",
    ] {
        assert!(text.contains(heading), "no {heading} in\n{text}");
    }
    let record = plain(&run(Command::new("man").env("MANPATH", &manpath).args([
        "-P",
        "cat",
        "tapedeck-record",
    ])));
    assert!(record.contains("--on-take-end"), "{record}");
}

#[test]
fn bash_completes_subcommands_and_options() {
    common::require("bash");
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    install(tmp.path());
    let script = tmp
        .path()
        .join("share/bash-completion/completions/tapedeck");
    // What bash's programmable completion does on Tab, called directly.
    let complete = |words: &str| {
        let line = format!(
            r#"source "{}"; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}; _tapedeck tapedeck "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"; printf '%s\n' "${{COMPREPLY[@]}}""#,
            script.display()
        );
        run(Command::new("bash").args(["--norc", "-c", &line]))
    };
    let subs = complete("tapedeck re");
    assert_eq!(
        subs.lines().collect::<Vec<_>>(),
        ["record", "recover", "report"],
        "{subs}"
    );
    let opts = complete("tapedeck demo --on-t");
    assert_eq!(opts.trim(), "--on-take-end");
    let hosts = complete(r#"tapedeck record --host """#);
    assert!(
        hosts.lines().any(|h| h == "jack") && hosts.lines().any(|h| h == "pipewire"),
        "{hosts}"
    );
    let shells = complete(r#"tapedeck completions """#);
    assert!(shells.lines().any(|s| s == "zsh"), "{shells}");
}

#[test]
fn zsh_and_fish_load_their_completions() {
    common::require("zsh");
    common::require("fish");
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    install(tmp.path());
    let zsh = tmp.path().join("share/zsh/site-functions/_tapedeck");
    let fish = tmp
        .path()
        .join("share/fish/vendor_completions.d/tapedeck.fish");
    run(Command::new("zsh").arg("-n").arg(&zsh));
    run(Command::new("fish").arg("--no-execute").arg(&fish));
    // fish answers a completion request itself.
    let line = format!(
        "source {}; complete --do-complete 'tapedeck rep'",
        fish.display()
    );
    let out = run(Command::new("fish").args(["--no-config", "-c", &line]));
    assert!(out.lines().any(|l| l.starts_with("report")), "{out}");
    // zsh: the completion function is defined once the file is autoloaded.
    let line = format!(
        "fpath=({} $fpath); autoload -Uz compinit; compinit -u -D; autoload -Uz _tapedeck; whence -w _tapedeck",
        zsh.parent().expect("dir").display()
    );
    let out = run(Command::new("zsh").args(["-f", "-c", &line]));
    assert!(out.contains("_tapedeck: function"), "{out}");
}
