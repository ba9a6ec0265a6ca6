//! What the JACK graph around tapedeck's own ports looks like: where its outputs go, where its
//! inputs come from, the latencies JACK reports for them, and whether a loop from the outputs
//! back to the inputs closes inside JACK. Also connects tapedeck's outputs to ports the user
//! names.
//!
//! Everything here uses a short-lived JACK client of its own that is never activated: it only
//! reads the graph (or asks the server to change connections) and takes no part in any cycle.
//!
//! # Why a loop inside JACK is counted once
//!
//! JACK propagates latency along connections: an output port's *playback* latency is the
//! longest way from it to a physical playback port (or to any terminal port), and an input
//! port's *capture* latency is the longest way from a physical capture port (or from a port
//! with nothing upstream) to it. A client passing audio through adds its own delay on both
//! sides. When tapedeck's outputs reach its inputs through other clients only, the same cable
//! is reported on both sides. Seen with `jack_lsp -l` on a dummy server (`-p 256`) with
//! `jack_latent_client 1000` between a player's output and a recorder's input, no physical
//! port involved: the player's output reports playback latency 1000 and the recorder's input
//! capture latency 1000, while audio takes 1000 frames from one to the other. Adding the two
//! sides, as for a loop through a sound card (where the output's playback latency ends at the
//! DAC and the input's capture latency begins at the ADC), would count the cable twice.
//!
//! tapedeck's output and input streams are two JACK clients (cpal opens one per stream) and the
//! output client has no inputs, so nothing upstream adds to the inputs' capture latency: on a
//! loop inside JACK it is the loop's delay alone, even when the outputs also feed the speakers
//! (which raises the outputs' playback latency, not the loop's delay). That is what
//! [`LoopReport::reported_round_trip`] uses.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use thiserror::Error;

/// JACK's name for its audio port type.
const AUDIO_TYPE: &str = "32 bit float mono audio";

/// The name the inspecting client asks for (JACK adds a suffix if it is taken).
const CLIENT_NAME: &str = "tapedeck_graph";

/// A latency range in frames, as JACK reports it for a port and a direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencyRange {
    pub min: u32,
    pub max: u32,
}

impl LatencyRange {
    fn widest(ranges: impl Iterator<Item = Self>) -> Self {
        ranges.fold(Self::default(), |a, b| Self {
            min: a.min.max(b.min),
            max: a.max.max(b.max),
        })
    }
}

/// Which way audio goes through a port, as JACK says it: an `Input` port receives audio (a
/// client's input, or a physical playback port), an `Output` port sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Input,
    Output,
}

/// One port of the graph as read from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortState {
    pub direction: Direction,
    pub physical: bool,
    pub audio: bool,
    /// Full names of the ports connected to this one.
    pub connections: Vec<String>,
    pub capture: LatencyRange,
    pub playback: LatencyRange,
}

/// The ports of the graph at one moment, by full name (`client:port`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    pub ports: BTreeMap<String, PortState>,
}

/// tapedeck's own ports, full names, in channel order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnPorts {
    pub outputs: Vec<String>,
    pub inputs: Vec<String>,
}

/// Where a loop from tapedeck's outputs back to its inputs closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopPath {
    /// Some inputs hear the outputs through other JACK clients only, and none of them also
    /// hears a physical capture port: JACK reports the path on both sides, count it once.
    InsideJack,
    /// The outputs reach physical playback ports and inputs are fed from physical capture
    /// ports: whatever closes the loop (a cable, the room) is outside JACK, and the outputs'
    /// playback latency and the inputs' capture latency add up.
    External,
    /// An input hears the outputs through JACK and a physical capture port too: which of the
    /// two paths carries what is recorded cannot be told from the graph.
    Mixed,
    /// No path: the outputs reach no physical port and no input, or the inputs are fed by
    /// neither.
    Open,
}

/// One of tapedeck's ports and what surrounds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnPort {
    pub name: String,
    /// Ports connected to it directly.
    pub connections: Vec<String>,
    /// JACK's playback latency for an output, its capture latency for an input.
    pub latency: LatencyRange,
    /// For an input: tapedeck's outputs reach it through JACK clients, no physical port
    /// between. For an output: it reaches one of tapedeck's inputs that way.
    pub loops_inside: bool,
    /// For an input: fed (directly or through other clients) from a physical capture port.
    /// For an output: reaches a physical playback port.
    pub physical: bool,
}

/// The graph around tapedeck's ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopReport {
    pub outputs: Vec<OwnPort>,
    pub inputs: Vec<OwnPort>,
    pub path: LoopPath,
}

impl LoopReport {
    /// The widest playback latency of the outputs (what cpal reports for the output stream).
    pub fn output_latency(&self) -> LatencyRange {
        LatencyRange::widest(self.outputs.iter().map(|p| p.latency))
    }

    /// The widest capture latency of the inputs (what cpal reports for the input stream).
    pub fn input_latency(&self) -> LatencyRange {
        LatencyRange::widest(self.inputs.iter().map(|p| p.latency))
    }

    /// The round trip in frames that JACK's latencies describe, before any measured
    /// correction: for a loop inside JACK the capture latency of the inputs that hear the
    /// outputs (the same path the outputs' playback latency describes; see the module's
    /// comment), for an external loop the outputs' playback latency plus the capture latency
    /// of the inputs fed from physical ports. `None` when the path is mixed or open.
    pub fn reported_round_trip(&self) -> Option<u32> {
        let widest_input = |inside: bool| {
            self.inputs
                .iter()
                .filter(|p| if inside { p.loops_inside } else { p.physical })
                .map(|p| p.latency.max)
                .max()
                .unwrap_or(0)
        };
        match self.path {
            LoopPath::InsideJack => Some(widest_input(true)),
            LoopPath::External => Some(
                self.output_latency()
                    .max
                    .saturating_add(widest_input(false)),
            ),
            LoopPath::Mixed | LoopPath::Open => None,
        }
    }

    /// tapedeck's inputs connected to no port at all.
    pub fn unconnected_inputs(&self) -> Vec<&str> {
        unconnected(&self.inputs)
    }

    /// tapedeck's outputs connected to no port at all.
    pub fn unconnected_outputs(&self) -> Vec<&str> {
        unconnected(&self.outputs)
    }
}

fn unconnected(ports: &[OwnPort]) -> Vec<&str> {
    ports
        .iter()
        .filter(|p| p.connections.is_empty())
        .map(|p| p.name.as_str())
        .collect()
}

/// What can go wrong looking at or changing the graph.
#[derive(Debug, Error)]
pub enum GraphError {
    #[error("cannot reach the JACK server: {0}")]
    Server(String),
    #[error("there is no JACK port named {name:?}; {}", candidates_text(.candidates))]
    NoSuchPort {
        name: String,
        candidates: Vec<String>,
    },
    #[error("JACK port {name:?} cannot receive audio (it is an output or not an audio port); {}", candidates_text(.candidates))]
    NotAnAudioInput {
        name: String,
        candidates: Vec<String>,
    },
    #[error("JACK port {name:?} sends no audio (it is an input or not an audio port); {}", candidates_text(.candidates))]
    NotAnAudioOutput {
        name: String,
        candidates: Vec<String>,
    },
    #[error("{sources} ports to record from, but tapedeck records {inputs} inputs")]
    TooManySources { sources: usize, inputs: usize },
    #[error("{targets} ports to connect to, but tapedeck has only {outputs} outputs")]
    TooManyTargets { targets: usize, outputs: usize },
    #[error("JACK did not connect {from} to {to}: {reason}")]
    Connect {
        from: String,
        to: String,
        reason: String,
    },
    #[error("JACK did not disconnect {from} from {to}: {reason}")]
    Disconnect {
        from: String,
        to: String,
        reason: String,
    },
}

fn candidates_text(candidates: &[String]) -> String {
    if candidates.is_empty() {
        "the server has no ports that would do".to_string()
    } else {
        format!("ports that would do: {}", candidates.join(", "))
    }
}

/// The client part of a full port name (`client:port`; client names hold no colon, port
/// names may).
fn client_of(port: &str) -> &str {
    port.split_once(':').map_or(port, |(client, _)| client)
}

/// The number a port's name ends with (cpal's `out_3`), for channel order.
fn trailing_number(port: &str) -> u64 {
    let digits = port.len() - port.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    port[port.len() - digits..].parse().unwrap_or(0)
}

impl Graph {
    /// Reads the whole graph from the server named by `JACK_DEFAULT_SERVER` (the one cpal's
    /// JACK host uses), never starting one.
    pub fn read() -> Result<Self, GraphError> {
        let client = open_client()?;
        Ok(Self::read_with(&client))
    }

    fn read_with(client: &jack::Client) -> Self {
        let mut ports = BTreeMap::new();
        for name in client.ports(None, None, jack::PortFlags::empty()) {
            // A port that went away since the listing is simply not part of this graph.
            let Some(port) = client.port_by_name(&name) else {
                continue;
            };
            let flags = port.flags();
            let range = |kind| {
                let (min, max) = port.get_latency_range(kind);
                LatencyRange { min, max }
            };
            ports.insert(
                name,
                PortState {
                    direction: if flags.contains(jack::PortFlags::IS_INPUT) {
                        Direction::Input
                    } else {
                        Direction::Output
                    },
                    physical: flags.contains(jack::PortFlags::IS_PHYSICAL),
                    audio: port.port_type().is_ok_and(|t| t == AUDIO_TYPE),
                    connections: port.get_connections(),
                    capture: range(jack::LatencyType::Capture),
                    playback: range(jack::LatencyType::Playback),
                },
            );
        }
        Self { ports }
    }

    /// The ports cpal's JACK host registered for process `pid`: its output stream's client is
    /// `cpal_client_<pid>_out` with ports `out_0`, `out_1`..., its input stream's client
    /// `cpal_client_<pid>_in` with `in_0`...; JACK appends `-01` and so on to a client name
    /// that is taken. Empty lists when a stream is not open.
    pub fn cpal_ports(&self, pid: u32) -> OwnPorts {
        let ours = |suffix: &str, direction: Direction| {
            let base = format!("cpal_client_{pid}_{suffix}");
            let mut found: Vec<String> = self
                .ports
                .iter()
                .filter(|(name, state)| {
                    let rest = client_of(name).strip_prefix(base.as_str());
                    state.direction == direction
                        && rest.is_some_and(|r| r.is_empty() || r.starts_with('-'))
                })
                .map(|(name, _)| name.clone())
                .collect();
            found.sort_by_key(|n| (client_of(n).to_string(), trailing_number(n)));
            found
        };
        OwnPorts {
            outputs: ours("out", Direction::Output),
            inputs: ours("in", Direction::Input),
        }
    }

    /// Audio ports that receive audio, tapedeck's own excepted: what an output may be
    /// connected to.
    fn audio_inputs_except(&self, ours: &BTreeSet<&str>) -> Vec<String> {
        self.ports
            .iter()
            .filter(|(n, s)| {
                s.audio && s.direction == Direction::Input && !ours.contains(n.as_str())
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Audio ports that send audio, tapedeck's own excepted: what an input may record.
    fn audio_outputs_except(&self, ours: &BTreeSet<&str>) -> Vec<String> {
        self.ports
            .iter()
            .filter(|(n, s)| {
                s.audio && s.direction == Direction::Output && !ours.contains(n.as_str())
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn all_names(&self) -> Vec<String> {
        self.ports.keys().cloned().collect()
    }

    /// The ports of `client` going the way `direction` says.
    fn client_ports(&self, client: &str, direction: Direction) -> impl Iterator<Item = &str> {
        self.ports
            .iter()
            .filter(move |(n, s)| client_of(n) == client && s.direction == direction)
            .map(|(n, _)| n.as_str())
    }

    /// Walks from `start` along connections, through other clients (a client's inputs are
    /// taken to reach all its outputs, and the other way round walking upstream), stopping at
    /// physical ports and at tapedeck's clients. Returns (tapedeck's ports met among
    /// `targets`, whether a physical port was met).
    fn walk(
        &self,
        start: &str,
        downstream: bool,
        targets: &BTreeSet<&str>,
        our_clients: &BTreeSet<&str>,
    ) -> (BTreeSet<String>, bool) {
        let (mut met, mut physical) = (BTreeSet::new(), false);
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([start]);
        // Downstream, an output leads to the inputs it is connected to, and a client's inputs
        // to its outputs; upstream the other way round.
        let pass_through = if downstream {
            Direction::Output
        } else {
            Direction::Input
        };
        while let Some(port) = queue.pop_front() {
            let Some(state) = self.ports.get(port) else {
                continue;
            };
            for next in &state.connections {
                let next = next.as_str();
                if !seen.insert(next) {
                    continue;
                }
                if targets.contains(next) {
                    met.insert(next.to_string());
                } else if self.ports.get(next).is_some_and(|s| s.physical) {
                    physical = true;
                } else if !our_clients.contains(client_of(next)) {
                    for through in self.client_ports(client_of(next), pass_through) {
                        if seen.insert(through) {
                            queue.push_back(through);
                        }
                    }
                }
            }
        }
        (met, physical)
    }

    /// The graph around tapedeck's ports `ours`: connections, latencies, and where a loop
    /// from the outputs to the inputs closes. Ports of `ours` missing from the graph are an
    /// error (tapedeck's stream is gone, or the names are wrong).
    pub fn analyse(&self, ours: &OwnPorts) -> Result<LoopReport, GraphError> {
        for name in ours.outputs.iter().chain(&ours.inputs) {
            if !self.ports.contains_key(name) {
                return Err(GraphError::NoSuchPort {
                    name: name.clone(),
                    candidates: self.all_names(),
                });
            }
        }
        let our_inputs: BTreeSet<&str> = ours.inputs.iter().map(String::as_str).collect();
        let our_outputs: BTreeSet<&str> = ours.outputs.iter().map(String::as_str).collect();
        let our_clients: BTreeSet<&str> = ours
            .outputs
            .iter()
            .chain(&ours.inputs)
            .map(|n| client_of(n))
            .collect();
        let own = |name: &String, downstream: bool| {
            let state = &self.ports[name];
            let targets = if downstream {
                &our_inputs
            } else {
                &our_outputs
            };
            let (met, physical) = self.walk(name, downstream, targets, &our_clients);
            OwnPort {
                name: name.clone(),
                connections: state.connections.clone(),
                latency: if downstream {
                    state.playback
                } else {
                    state.capture
                },
                loops_inside: !met.is_empty(),
                physical,
            }
        };
        let outputs: Vec<OwnPort> = ours.outputs.iter().map(|n| own(n, true)).collect();
        let inputs: Vec<OwnPort> = ours.inputs.iter().map(|n| own(n, false)).collect();
        let path = if inputs.iter().any(|p| p.loops_inside && p.physical) {
            LoopPath::Mixed
        } else if inputs.iter().any(|p| p.loops_inside) {
            LoopPath::InsideJack
        } else if outputs.iter().any(|p| p.physical) && inputs.iter().any(|p| p.physical) {
            LoopPath::External
        } else {
            LoopPath::Open
        };
        Ok(LoopReport {
            outputs,
            inputs,
            path,
        })
    }
}

/// A warning when some of this process's JACK inputs are connected to nothing: they would
/// record silence with no error. Under `pw-jack` on a PipeWire desktop the server has no
/// `system:capture_*` ports, so cpal's automatic connection finds nothing to connect.
/// `None` when every input is connected (or the graph cannot be read).
pub fn unconnected_inputs_warning(pid: u32) -> Option<String> {
    let graph = Graph::read().ok()?;
    let ours = graph.cpal_ports(pid);
    let report = graph.analyse(&ours).ok()?;
    let open = report.unconnected_inputs();
    if open.is_empty() {
        return None;
    }
    let own: BTreeSet<&str> = ours
        .inputs
        .iter()
        .chain(&ours.outputs)
        .map(String::as_str)
        .collect();
    let sources = graph.audio_outputs_except(&own);
    let system = graph.ports.keys().any(|p| p.starts_with("system:capture_"));
    let numbers: Vec<String> = ours
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, p)| open.contains(&p.as_str()))
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    Some(format!(
        "input{} {} {} connected to nothing and will record silence{}. Connect {} with --connect-input PORT (once per input, in order){}",
        if numbers.len() == 1 { "" } else { "s" },
        numbers.join(", "),
        if numbers.len() == 1 { "is" } else { "are" },
        if system {
            ""
        } else {
            " (this JACK server has no system:capture_* ports, as under pw-jack on a PipeWire desktop)"
        },
        if numbers.len() == 1 { "it" } else { "them" },
        if sources.is_empty() {
            "; the server has no ports that send audio".to_string()
        } else {
            format!("; ports that send audio: {}", sources.join(", "))
        }
    ))
}

/// Reads the graph and reports on tapedeck's ports `ours` (see [`Graph::analyse`]).
pub fn inspect(ours: &OwnPorts) -> Result<LoopReport, GraphError> {
    Graph::read()?.analyse(ours)
}

/// Connects tapedeck's output `outputs[i]` to `targets[i]` (`--connect-output latent:input`),
/// after undoing the connections cpal made on its own from those outputs to
/// `system:playback_*`; outputs beyond the targets are left connected to nothing. Nothing
/// changes unless every target exists and receives audio. Returns the connections made.
/// JACK2 shows a change of connections to its clients (and recomputes latencies) from the
/// server's next cycle on: a [`Graph::read`] right after this may still see the old graph.
pub fn connect_outputs(
    outputs: &[String],
    targets: &[String],
) -> Result<Vec<(String, String)>, GraphError> {
    connect(outputs, targets, Direction::Output)
}

/// Connects tapedeck's input `inputs[i]` from `sources[i]` (`--connect-input latent:output`),
/// after undoing the connections cpal made on its own from `system:capture_*` to those inputs;
/// inputs beyond the sources are left connected to nothing. Nothing changes unless every
/// source exists and sends audio. Returns the connections made, as (from, to).
pub fn connect_inputs(
    inputs: &[String],
    sources: &[String],
) -> Result<Vec<(String, String)>, GraphError> {
    connect(inputs, sources, Direction::Input)
}

/// Wires tapedeck's ports `ours` (of direction `side`) one by one to `others`, undoing cpal's
/// automatic connections to the system ports first.
fn connect(
    ours: &[String],
    others: &[String],
    side: Direction,
) -> Result<Vec<(String, String)>, GraphError> {
    if others.len() > ours.len() {
        return Err(match side {
            Direction::Output => GraphError::TooManyTargets {
                targets: others.len(),
                outputs: ours.len(),
            },
            Direction::Input => GraphError::TooManySources {
                sources: others.len(),
                inputs: ours.len(),
            },
        });
    }
    let client = open_client()?;
    let graph = Graph::read_with(&client);
    let own: BTreeSet<&str> = ours.iter().map(String::as_str).collect();
    for name in ours {
        if !graph.ports.contains_key(name) {
            return Err(GraphError::NoSuchPort {
                name: name.clone(),
                candidates: graph.all_names(),
            });
        }
    }
    // The other end receives what our output sends, or sends what our input receives.
    let wanted = match side {
        Direction::Output => Direction::Input,
        Direction::Input => Direction::Output,
    };
    for name in others {
        let candidates = || match side {
            Direction::Output => graph.audio_inputs_except(&own),
            Direction::Input => graph.audio_outputs_except(&own),
        };
        match graph.ports.get(name) {
            None => {
                return Err(GraphError::NoSuchPort {
                    name: name.clone(),
                    candidates: candidates(),
                });
            }
            Some(s) if !s.audio || s.direction != wanted => {
                let (name, candidates) = (name.clone(), candidates());
                return Err(match side {
                    Direction::Output => GraphError::NotAnAudioInput { name, candidates },
                    Direction::Input => GraphError::NotAnAudioOutput { name, candidates },
                });
            }
            Some(_) => {}
        }
    }
    // (from, to) for a pair of (our port, other port).
    let pair = |ours: &str, other: &str| match side {
        Direction::Output => (ours.to_string(), other.to_string()),
        Direction::Input => (other.to_string(), ours.to_string()),
    };
    let system = match side {
        Direction::Output => "system:playback_",
        Direction::Input => "system:capture_",
    };
    for name in ours {
        for peer in &graph.ports[name].connections {
            if peer.starts_with(system) {
                let (from, to) = pair(name, peer);
                client.disconnect_ports_by_name(&from, &to).map_err(|e| {
                    GraphError::Disconnect {
                        from,
                        to,
                        reason: e.to_string(),
                    }
                })?;
            }
        }
    }
    let mut made = Vec::new();
    for (ours, other) in ours.iter().zip(others) {
        let (from, to) = pair(ours, other);
        if let Err(e) = connect_retrying(&client, &from, &to) {
            return Err(GraphError::Connect {
                from,
                to,
                reason: e.to_string(),
            });
        }
        made.push((from, to));
    }
    Ok(made)
}

/// Connects `from` to `to`, trying again for a moment: a client that has just been activated
/// may not be part of the graph yet ("not part of an active client").
fn connect_retrying(client: &jack::Client, from: &str, to: &str) -> Result<(), jack::Error> {
    let mut tries = 0;
    loop {
        match client.connect_ports_by_name(from, to) {
            Err(jack::Error::PortAlreadyConnected(..)) | Ok(()) => return Ok(()),
            Err(_) if tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A client that is never activated, on the server cpal would use, never starting one.
fn open_client() -> Result<jack::Client, GraphError> {
    // libjack prints to stderr when it cannot reach a server; tapedeck says so in its own
    // words (the same as the cli does at start).
    jack::set_logger(jack::LoggerType::None);
    jack::Client::new(CLIENT_NAME, jack::ClientOptions::NO_START_SERVER)
        .map(|(client, _)| client)
        .map_err(|e| GraphError::Server(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(direction: Direction, physical: bool, to: &[&str], lat: (u32, u32)) -> PortState {
        PortState {
            direction,
            physical,
            audio: true,
            connections: to.iter().map(|s| s.to_string()).collect(),
            capture: LatencyRange {
                min: lat.0,
                max: lat.0,
            },
            playback: LatencyRange {
                min: lat.1,
                max: lat.1,
            },
        }
    }

    const OUT: &str = "cpal_client_7_out:out_0";
    const IN: &str = "cpal_client_7_in:in_0";

    fn ours() -> OwnPorts {
        OwnPorts {
            outputs: vec![OUT.into()],
            inputs: vec![IN.into()],
        }
    }

    /// The graph with `edges` (from an output to an input) and the dummy backend's system
    /// ports, plus a pass-through client `cable`.
    fn graph(edges: &[(&str, &str)]) -> Graph {
        let names = [
            ("system:capture_1", Direction::Output, true),
            ("system:playback_1", Direction::Input, true),
            ("cable:input", Direction::Input, false),
            ("cable:output", Direction::Output, false),
            (OUT, Direction::Output, false),
            (IN, Direction::Input, false),
        ];
        let mut g = Graph::default();
        for (name, dir, phys) in names {
            let to: Vec<&str> = edges
                .iter()
                .filter_map(|&(a, b)| {
                    if a == name {
                        Some(b)
                    } else if b == name {
                        Some(a)
                    } else {
                        None
                    }
                })
                .collect();
            g.ports.insert(name.into(), port(dir, phys, &to, (0, 0)));
        }
        g
    }

    #[test]
    fn a_cable_between_outputs_and_inputs_is_a_loop_inside_jack() {
        let g = graph(&[(OUT, "cable:input"), ("cable:output", IN)]);
        let r = g.analyse(&ours()).expect("analyse");
        assert_eq!(r.path, LoopPath::InsideJack);
        assert!(r.inputs[0].loops_inside && r.outputs[0].loops_inside);
    }

    #[test]
    fn a_loop_through_system_ports_is_external() {
        let g = graph(&[(OUT, "system:playback_1"), ("system:capture_1", IN)]);
        assert_eq!(
            g.analyse(&ours()).expect("analyse").path,
            LoopPath::External
        );
        // A cable on the way to the speakers does not make it inside.
        let g = graph(&[
            (OUT, "cable:input"),
            ("cable:output", "system:playback_1"),
            ("system:capture_1", IN),
        ]);
        assert_eq!(
            g.analyse(&ours()).expect("analyse").path,
            LoopPath::External
        );
    }

    #[test]
    fn an_input_hearing_the_cable_and_the_hardware_is_mixed() {
        let g = graph(&[
            (OUT, "cable:input"),
            ("cable:output", IN),
            ("system:capture_1", IN),
        ]);
        assert_eq!(g.analyse(&ours()).expect("analyse").path, LoopPath::Mixed);
    }

    #[test]
    fn inputs_connected_to_nothing_are_open_and_named() {
        let g = graph(&[(OUT, "system:playback_1")]);
        let r = g.analyse(&ours()).expect("analyse");
        assert_eq!(r.path, LoopPath::Open);
        assert_eq!(r.unconnected_inputs(), vec![IN]);
        assert!(r.unconnected_outputs().is_empty());
        assert_eq!(r.reported_round_trip(), None);
    }

    #[test]
    fn the_round_trip_counts_a_loop_inside_jack_once() {
        let mut g = graph(&[(OUT, "cable:input"), ("cable:output", IN)]);
        g.ports.get_mut(OUT).expect("out").playback = LatencyRange {
            min: 1000,
            max: 1000,
        };
        g.ports.get_mut(IN).expect("in").capture = LatencyRange {
            min: 1000,
            max: 1000,
        };
        let r = g.analyse(&ours()).expect("analyse");
        assert_eq!(r.reported_round_trip(), Some(1000));
        let mut g = graph(&[(OUT, "system:playback_1"), ("system:capture_1", IN)]);
        g.ports.get_mut(OUT).expect("out").playback = LatencyRange { min: 512, max: 512 };
        g.ports.get_mut(IN).expect("in").capture = LatencyRange { min: 256, max: 256 };
        let r = g.analyse(&ours()).expect("analyse");
        assert_eq!(r.reported_round_trip(), Some(768));
    }

    #[test]
    fn cpal_ports_are_found_in_channel_order_under_a_renamed_client() {
        let mut g = Graph::default();
        for n in [10, 2, 0, 1] {
            g.ports.insert(
                format!("cpal_client_7_in-01:in_{n}"),
                port(Direction::Input, false, &[], (0, 0)),
            );
        }
        g.ports
            .insert(OUT.into(), port(Direction::Output, false, &[], (0, 0)));
        // Another process's client is not ours.
        g.ports.insert(
            "cpal_client_77_out:out_0".into(),
            port(Direction::Output, false, &[], (0, 0)),
        );
        let p = g.cpal_ports(7);
        assert_eq!(p.outputs, vec![OUT.to_string()]);
        assert_eq!(
            p.inputs,
            ["in_0", "in_1", "in_2", "in_10"]
                .map(|s| format!("cpal_client_7_in-01:{s}"))
                .to_vec()
        );
    }

    #[test]
    fn missing_own_ports_are_an_error_naming_them() {
        let g = graph(&[]);
        let mut o = ours();
        o.inputs.push("cpal_client_7_in:in_1".into());
        let e = g.analyse(&o).expect_err("missing port");
        assert!(e.to_string().contains("cpal_client_7_in:in_1"), "{e}");
    }
}
