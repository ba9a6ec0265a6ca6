//! `tapedeck devices`: every input device (or with `--outputs`, every output device) of each
//! host (or of one), for people or as JSON.

use crate::audio::{self, HostKind, demo};
use crate::error::Error;

pub(crate) fn run(host: Option<HostKind>, json: bool, outputs: bool) -> Result<i32, Error> {
    let kinds: Vec<HostKind> = match host {
        Some(h) => vec![h],
        None if cfg!(feature = "pipewire") => vec![
            HostKind::Alsa,
            HostKind::Jack,
            HostKind::PipeWire,
            HostKind::Demo,
        ],
        None => vec![HostKind::Alsa, HostKind::Jack, HostKind::Demo],
    };
    let mut all = Vec::new();
    let mut notes = Vec::new();
    for k in kinds {
        let listed = audio::open_host(k, demo::DemoOptions::default())
            .and_then(|h| audio::list_devices(k, &h, outputs));
        match listed {
            Ok(mut d) => all.append(&mut d),
            // The one host asked for cannot be listed: that is the answer, and a failure.
            Err(e) if host.is_some() => return Err(e),
            Err(e) => notes.push(format!("{}: {e}", k.name())),
        }
    }
    if json {
        let s = serde_json::to_string_pretty(&all).map_err(|e| Error::Runtime(e.to_string()))?;
        println!("{s}");
    } else {
        if all.is_empty() {
            println!(
                "no {} devices found",
                if outputs { "output" } else { "input" }
            );
        }
        for d in &all {
            let star = if d.default { "  (default)" } else { "" };
            println!("{}{star}\n    {}", d.id, d.name);
            let ch = &d.channels;
            let chs = match (ch.first(), ch.last()) {
                (Some(a), Some(b)) if ch.len() > 3 && usize::from(b - a) + 1 == ch.len() => {
                    format!("{a}-{b}")
                }
                _ => ch
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let mut rates = d
                .sample_rates
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            if let Some([lo, hi]) = d.sample_rate_range {
                rates.push_str(&format!(" (any of {lo}-{hi})"));
            }
            println!(
                "    channels: {chs}\n    rates:    {rates}\n    formats:  {}",
                d.formats.join(", ")
            );
            if let Some(c) = &d.default_config {
                println!(
                    "    default:  {} ch, {} Hz, {}",
                    c.channels, c.sample_rate, c.format
                );
            }
        }
    }
    for n in notes {
        eprintln!("note: {n}");
    }
    Ok(0)
}
