//! The output the song plays on: found and checked before anything is created, started once
//! the session is open.

use std::sync::Arc;

use super::plan::{OutputPlan, RecordPlan};
use crate::audio::{self, HostKind};
use crate::engine::{RoundTripFix, SONG_RING_SECONDS, SongSetup};
use crate::error::Error;
use crate::monitor::{MonitorOut, MonitorShared};
use crate::playback::{self, OutputChoice, OutputRequest, Player};
use crate::session::song::Song;

/// An output device chosen for the song.
pub(crate) struct FoundOutput {
    device: cpal::Device,
    choice: OutputChoice,
    id: String,
    name: String,
}

/// Whether two devices of a host share one clock: JACK and the demo run every stream on one
/// clock; on ALSA, the same device, or two of one card.
fn same_clock(kind: HostKind, input: &str, output: &str) -> bool {
    match kind {
        // One graph, one clock.
        HostKind::Jack | HostKind::Demo | HostKind::PipeWire => true,
        HostKind::Alsa => {
            input == output || alsa_card(input).is_some_and(|c| Some(c) == alsa_card(output))
        }
    }
}

/// The card an ALSA device id names (`alsa:hw:CARD=US2x2,DEV=0`, `alsa:plughw:1,0`), if any.
fn alsa_card(id: &str) -> Option<&str> {
    let pcm = id.strip_prefix("alsa:").unwrap_or(id);
    let (_, args) = pcm.split_once(':')?;
    if let Some(i) = args.find("CARD=") {
        let rest = &args[i + 5..];
        return Some(rest.split(',').next().unwrap_or(rest));
    }
    args.split(',').next().filter(|c| !c.is_empty())
}

/// Finds the output the plan asks for, checks it can play at `rate` on the input's clock.
/// `Ok(None)`: nothing plays.
pub(crate) fn find(
    plan: &RecordPlan,
    kind: HostKind,
    host: &cpal::Host,
    input_id: &str,
    rate: u32,
) -> Result<Option<FoundOutput>, Error> {
    let (id, required) = match &plan.output {
        OutputPlan::Off => return Ok(None),
        OutputPlan::Default { required } => (None, *required),
        OutputPlan::Device(id) => (Some(id.as_str()), true),
    };
    let device = match audio::find_output_device(kind, host, id)? {
        Some(d) => d,
        None if required => {
            return Err(Error::usage(format!(
                "the {} host has no default output to play the song on; name one with --output (`tapedeck devices --outputs` lists them)",
                kind.name()
            )));
        }
        None => return Ok(None),
    };
    let out_id = audio::id_of(&device);
    let name = audio::name_of(&device);
    if !same_clock(kind, input_id, &out_id) && !plan.separate_clocks {
        if !required {
            eprintln!(
                "tapedeck: not playing the song on {out_id}: it may run on another clock than {input_id}; name an --output of the same card, or pass --separate-clocks"
            );
            return Ok(None);
        }
        return Err(Error::usage(format!(
            "the input {input_id} and the output {out_id} may run on separate clocks: an overdub would drift away from the song; use an input and an output of one card, or pass --separate-clocks to record anyway"
        )));
    }
    let choice = match playback::choose_output(
        kind,
        &device,
        &OutputRequest {
            sample_rate: rate,
            channels: None,
            format: None,
            buffer: plan.request.buffer,
        },
    ) {
        Ok(c) => c,
        Err(e) if !required => {
            eprintln!("tapedeck: not playing the song: {e}");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    Ok(Some(FoundOutput {
        device,
        choice,
        id: out_id,
        name,
    }))
}

/// Starts the player and the output stream for the song; returns what the engine plays with
/// and the stream to keep.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start(
    out: FoundOutput,
    kind: HostKind,
    song: &Song,
    rate: u32,
    plan: &RecordPlan,
    input_id: &str,
    buffer: Option<u32>,
    from: u64,
    monitor: (MonitorOut, Arc<MonitorShared>),
) -> Result<(SongSetup, Box<dyn Send>), Error> {
    let ring = super::plan::ring_frames(SONG_RING_SECONDS, rate);
    let (player, mut playout, shared) = Player::new(song.cue.clone(), rate, ring)?;
    playout.set_monitor(monitor.0);
    let opened = playback::open_output(kind, &out.device, &out.choice, playout, &shared)?;
    let loop_probe =
        jack_ports::connect_and_probe(kind, &plan.connect_output, &plan.connect_input)?;
    let (correction, correction_source) = if plan.calibrating {
        (0, "none (calibrating)".to_string())
    } else {
        stored_correction(kind, &out.id, input_id, rate, buffer)
    };
    let fix = RoundTripFix {
        inside_jack: false,
        correction,
        correction_source,
        reported_by: match kind {
            HostKind::Jack => "jack port latencies",
            HostKind::Alsa => "alsa stream timestamps",
            HostKind::PipeWire => "pipewire stream timestamps",
            HostKind::Demo => "demo device timestamps",
        }
        .to_string(),
    };
    let setup = SongSetup {
        player: Some((player, shared, format!("{} ({})", out.name, out.id))),
        fix,
        loop_probe,
        from,
        monitor: Some(monitor.1),
        monitor_tracks: plan.monitor.clone(),
    };
    Ok((setup, Box::new(opened.stream)))
}

/// JACK: records tapedeck's inputs from the ports named (`--connect-input`) when no output is
/// open (with one, `start` wires both sides).
pub(crate) fn connect_inputs(kind: HostKind, inputs_from: &[String]) -> Result<(), Error> {
    if inputs_from.is_empty() {
        return Ok(());
    }
    jack_ports::connect_and_probe(kind, &[], inputs_from).map(|_| ())
}

/// The correction `tapedeck calibrate` kept for this pair of devices, and where it came from.
fn stored_correction(
    kind: HostKind,
    output: &str,
    input: &str,
    rate: u32,
    buffer: Option<u32>,
) -> (i64, String) {
    let key = crate::calibrate::DeviceKey {
        host: kind.name().to_string(),
        output: output.to_string(),
        input: input.to_string(),
        sample_rate: rate,
        buffer_frames: buffer,
    };
    match crate::calibrate::Store::from_env().and_then(|s| s.load(&key)) {
        Ok(Some(c)) => (
            c.correction_frames,
            format!(
                "calibration of {}",
                c.measured_at.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        Ok(None) => (0, "none".to_string()),
        Err(e) => {
            eprintln!("tapedeck: {e}; no measured correction applied");
            (0, "none".to_string())
        }
    }
}

/// tapedeck's JACK ports: the outputs connected where the user said, and the question whether
/// the loop from them back to the inputs closes inside JACK.
#[cfg(feature = "jack")]
mod jack_ports {
    use crate::audio::HostKind;
    use crate::audio::jack_graph::{self, LoopPath};
    use crate::engine::LoopProbe;
    use crate::error::Error;

    pub(super) fn connect_and_probe(
        kind: HostKind,
        outputs_to: &[String],
        inputs_from: &[String],
    ) -> Result<Option<LoopProbe>, Error> {
        if kind != HostKind::Jack {
            return Ok(None);
        }
        let pid = std::process::id();
        if !outputs_to.is_empty() || !inputs_from.is_empty() {
            let graph = jack_graph::Graph::read().map_err(|e| Error::Runtime(e.to_string()))?;
            let ours = graph.cpal_ports(pid);
            if !outputs_to.is_empty() {
                jack_graph::connect_outputs(&ours.outputs, outputs_to)
                    .map_err(|e| Error::usage(e.to_string()))?;
            }
            if !inputs_from.is_empty() {
                jack_graph::connect_inputs(&ours.inputs, inputs_from)
                    .map_err(|e| Error::usage(e.to_string()))?;
            }
            // JACK orders its clients anew after a connection, a few cycles later.
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        Ok(Some(Box::new(move || {
            let graph = jack_graph::Graph::read().map_err(|e| e.to_string())?;
            let ours = graph.cpal_ports(pid);
            let report = graph.analyse(&ours).map_err(|e| e.to_string())?;
            Ok(report.path == LoopPath::InsideJack)
        })))
    }
}

#[cfg(not(feature = "jack"))]
mod jack_ports {
    use crate::audio::HostKind;
    use crate::engine::LoopProbe;
    use crate::error::Error;

    pub(super) fn connect_and_probe(
        _kind: HostKind,
        _outputs_to: &[String],
        _inputs_from: &[String],
    ) -> Result<Option<LoopProbe>, Error> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_of_one_card_share_a_clock() {
        assert!(same_clock(HostKind::Jack, "jack:a", "jack:b"));
        assert!(same_clock(HostKind::Alsa, "alsa:default", "alsa:default"));
        assert!(same_clock(
            HostKind::Alsa,
            "alsa:hw:CARD=US2x2,DEV=0",
            "alsa:plughw:CARD=US2x2,DEV=0"
        ));
        assert!(same_clock(HostKind::Alsa, "alsa:hw:1,0", "alsa:plughw:1,0"));
        assert!(!same_clock(HostKind::Alsa, "alsa:hw:1,0", "alsa:hw:2,0"));
        assert!(!same_clock(
            HostKind::Alsa,
            "alsa:cable_in",
            "alsa:cable_out"
        ));
    }
}
