//! The JACK latency cables of the test harness and `tapedeck::audio::jack_graph`, against a
//! private JACK dummy server: each cable delivers an impulse exactly N frames late (one
//! declaring N through JACK's latency API, one hiding it), and the graph inspection tells a
//! loop inside JACK from one through the system ports, with the latencies `jack_lsp -l` shows.
#![cfg(feature = "jack")]

mod common;

use std::process::Command;
use std::time::Duration;

use common::JackServer;
use common::jack_cable::{
    HiddenCable, LatentCable, Patchbay, impulse_delay, on_server, open_client,
};
use tapedeck::audio::jack_graph::{self, Graph, GraphError, LoopPath, OwnPorts};

const RATE: u32 = 48_000;
const PERIOD: u32 = 256;

/// One server at a time: these measure delays on a real-time server on 2 cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// (capture, playback) maxima of `port` as `jack_lsp -l` prints them: an independent reading.
fn lsp_latency(server: &JackServer, port: &str) -> (u32, u32) {
    let out = common::output_within(
        Command::new("jack_lsp")
            .args(["-l", port])
            .env("JACK_DEFAULT_SERVER", &server.name)
            .env("JACK_NO_START_SERVER", "1"),
        Duration::from_secs(10),
    )
    .expect("jack_lsp -l answers");
    let text = String::from_utf8_lossy(&out.stdout);
    // "\tport capture latency = [ 256 256 ] frames"
    let max_of = |kind: &str| -> u32 {
        text.lines()
            .find(|l| l.contains(&format!("port {kind} latency")))
            .and_then(|l| l.split('[').nth(1)?.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or_else(|| panic!("no {kind} latency for {port} in:\n{text}"))
    };
    (max_of("capture"), max_of("playback"))
}

#[test]
fn the_hidden_cable_delivers_n_frames_late_and_declares_nothing() {
    let _one = one_at_a_time();
    let server = JackServer::start(RATE, PERIOD, 2);
    let bay = Patchbay::open(&server);
    for n in [0, 100, 1000] {
        let cable = HiddenCable::start(&server, &format!("hidden{n}"), n);
        assert_eq!(
            impulse_delay(&server, &cable.input(), &cable.output()),
            n as u32,
            "hidden cable of {n} frames"
        );
        // Between the system ports it adds nothing to what JACK reports.
        bay.connect("system:capture_1", &cable.input());
        bay.connect(&cable.output(), "system:playback_1");
        bay.wait_latency(&cable.output(), PERIOD, 2 * PERIOD);
        bay.wait_latency(&cable.input(), PERIOD, 2 * PERIOD);
    }
}

#[test]
fn the_latent_client_delivers_n_frames_late_and_declares_it() {
    let _one = one_at_a_time();
    let server = JackServer::start(RATE, PERIOD, 2);
    let bay = Patchbay::open(&server);
    for n in [100, 1000] {
        let cable = LatentCable::start(&server, n);
        // Its own connections to the system ports are undone.
        bay.wait_connections(LatentCable::INPUT, &[]);
        bay.wait_connections(LatentCable::OUTPUT, &[]);
        assert_eq!(
            impulse_delay(&server, LatentCable::INPUT, LatentCable::OUTPUT),
            n,
            "jack_latent_client {n}"
        );
        bay.connect("system:capture_1", LatentCable::INPUT);
        bay.connect(LatentCable::OUTPUT, "system:playback_1");
        // Capture: the dummy's 256 plus the cable's n on its output; playback: 512 plus n on
        // its input.
        bay.wait_latency(LatentCable::OUTPUT, PERIOD + n, 2 * PERIOD);
        bay.wait_latency(LatentCable::INPUT, PERIOD, 2 * PERIOD + n);
        drop(cable);
        bay.wait("latent's ports go with it", Duration::from_secs(10), |b| {
            !b.exists(LatentCable::INPUT)
        });
    }
}

#[test]
fn the_patchbay_connects_and_disconnects() {
    let _one = one_at_a_time();
    let server = JackServer::start(RATE, PERIOD, 2);
    let bay = Patchbay::open(&server);
    bay.wait_connections("system:capture_1", &[]);
    bay.connect("system:capture_1", "system:playback_2");
    bay.connect("system:capture_1", "system:playback_2"); // already: fine
    bay.wait_connections("system:capture_1", &["system:playback_2"]);
    bay.wait_connections("system:playback_2", &["system:capture_1"]);
    bay.disconnect("system:capture_1", "system:playback_2");
    bay.wait_connections("system:capture_1", &[]);
    bay.connect("system:capture_2", "system:playback_1");
    bay.connect("system:capture_1", "system:playback_1");
    bay.wait_connections(
        "system:playback_1",
        &["system:capture_1", "system:capture_2"],
    );
    bay.disconnect_all("system:playback_1");
    bay.wait_connections("system:playback_1", &[]);
    bay.wait_connections("system:capture_2", &[]);
}

/// Stand-ins for tapedeck's two cpal streams: clients named as cpal's JACK host names them
/// (`cpal_client_<pid>_out` with `out_0`..., `cpal_client_<pid>_in` with `in_0`...), active
/// (JACK connects only ports of active clients), doing nothing.
struct FakeTapedeck {
    pid: u32,
    _clients: Vec<jack::AsyncClient<(), ()>>,
}

impl FakeTapedeck {
    fn start(server: &JackServer, pid: u32) -> Self {
        let out = open_client(server, &format!("cpal_client_{pid}_out"));
        let inp = open_client(server, &format!("cpal_client_{pid}_in"));
        for c in 0..2 {
            // The ports live as long as their client.
            let _ = out
                .register_port(&format!("out_{c}"), jack::AudioOut::default())
                .expect("register out");
            let _ = inp
                .register_port(&format!("in_{c}"), jack::AudioIn::default())
                .expect("register in");
        }
        let clients = [out, inp]
            .map(|c| c.activate_async((), ()).expect("activate"))
            .into();
        Self {
            pid,
            _clients: clients,
        }
    }

    fn out(&self, c: u32) -> String {
        format!("cpal_client_{}_out:out_{c}", self.pid)
    }

    fn inp(&self, c: u32) -> String {
        format!("cpal_client_{}_in:in_{c}", self.pid)
    }

    fn ports(&self, server: &JackServer) -> OwnPorts {
        let ours = on_server(server, Graph::read)
            .expect("read the graph")
            .cpal_ports(self.pid);
        assert_eq!(ours.outputs, vec![self.out(0), self.out(1)]);
        assert_eq!(ours.inputs, vec![self.inp(0), self.inp(1)]);
        ours
    }
}

/// What `jack_graph` says of the stand-in's ports.
fn inspect(server: &JackServer, me: &FakeTapedeck) -> jack_graph::LoopReport {
    let ours = me.ports(server);
    on_server(server, || jack_graph::inspect(&ours)).expect("inspect")
}

#[test]
fn a_loop_through_the_latent_client_is_inside_jack_and_counted_once() {
    let _one = one_at_a_time();
    let server = JackServer::start(RATE, PERIOD, 2);
    let me = FakeTapedeck::start(&server, 4242);
    let _cable = LatentCable::start(&server, 1000);
    let bay = Patchbay::open(&server);
    bay.connect(&me.out(0), LatentCable::INPUT);
    bay.connect(LatentCable::OUTPUT, &me.inp(0));
    // What JACK reports on both sides of the loop: the same 1000 frames.
    bay.wait_latency(&me.out(0), 0, 1000);
    bay.wait_latency(&me.inp(0), 1000, 0);
    assert_eq!(lsp_latency(&server, &me.out(0)), (0, 1000));
    assert_eq!(lsp_latency(&server, &me.inp(0)), (1000, 0));

    let report = inspect(&server, &me);
    assert_eq!(report.path, LoopPath::InsideJack, "{report:#?}");
    assert_eq!(report.outputs[0].latency.max, 1000);
    assert_eq!(report.inputs[0].latency.max, 1000);
    assert_eq!(report.outputs[0].connections, vec![LatentCable::INPUT]);
    assert_eq!(report.inputs[0].connections, vec![LatentCable::OUTPUT]);
    assert!(report.inputs[0].loops_inside && !report.inputs[0].physical);
    assert!(!report.inputs[1].loops_inside);
    assert_eq!(report.unconnected_inputs(), vec![me.inp(1)]);
    assert_eq!(report.reported_round_trip(), Some(1000));

    // The outputs also feeding the speakers: still a loop inside JACK, and still 1000.
    bay.connect(&me.out(0), "system:playback_1");
    bay.wait_latency(&me.out(0), 0, 1000);
    let report = inspect(&server, &me);
    assert_eq!(report.path, LoopPath::InsideJack);
    assert_eq!(report.reported_round_trip(), Some(1000));

    // The cabled input also hearing a system capture port: the graph cannot tell.
    bay.connect("system:capture_1", &me.inp(0));
    bay.wait_connections(&me.inp(0), &["system:capture_1", LatentCable::OUTPUT]);
    let report = inspect(&server, &me);
    assert_eq!(report.path, LoopPath::Mixed);
    assert_eq!(report.reported_round_trip(), None);
}

#[test]
fn a_loop_through_the_system_ports_is_external_and_adds_both_sides() {
    let _one = one_at_a_time();
    let server = JackServer::start(RATE, PERIOD, 2);
    let me = FakeTapedeck::start(&server, 4343);
    let bay = Patchbay::open(&server);
    // The way cpal connects its streams by itself.
    bay.connect(&me.out(0), "system:playback_1");
    bay.connect(&me.out(1), "system:playback_2");
    bay.connect("system:capture_1", &me.inp(0));
    bay.connect("system:capture_2", &me.inp(1));
    bay.wait_latency(&me.out(0), 0, 2 * PERIOD);
    bay.wait_latency(&me.inp(0), PERIOD, 0);
    assert_eq!(lsp_latency(&server, &me.out(1)), (0, 2 * PERIOD));
    assert_eq!(lsp_latency(&server, &me.inp(1)), (PERIOD, 0));

    let report = inspect(&server, &me);
    assert_eq!(report.path, LoopPath::External, "{report:#?}");
    assert_eq!(report.output_latency().max, 2 * PERIOD);
    assert_eq!(report.input_latency().max, PERIOD);
    assert_eq!(report.reported_round_trip(), Some(3 * PERIOD));
    assert!(report.inputs.iter().all(|p| p.physical && !p.loops_inside));

    // A hidden cable on the way: JACK sees nothing of it, and it is not a loop inside JACK.
    let hidden = HiddenCable::start(&server, "hidden", 300);
    bay.disconnect(&me.out(0), "system:playback_1");
    bay.connect(&me.out(0), &hidden.input());
    bay.connect(&hidden.output(), "system:playback_1");
    bay.wait_connections(&me.out(0), &[hidden.input().as_str()]);
    bay.wait_connections("system:playback_1", &[hidden.output().as_str()]);
    // JACK recomputes the latencies after the connections show.
    bay.wait_latency(&me.out(0), 0, 2 * PERIOD);
    let report = inspect(&server, &me);
    assert_eq!(report.path, LoopPath::External);
    assert_eq!(report.outputs[0].latency.max, 2 * PERIOD);
}

#[test]
fn outputs_are_connected_to_named_ports_instead_of_the_system_ones() {
    let _one = one_at_a_time();
    let server = JackServer::start(RATE, PERIOD, 2);
    let me = FakeTapedeck::start(&server, 4444);
    let _cable = LatentCable::start(&server, 100);
    let bay = Patchbay::open(&server);
    bay.connect(&me.out(0), "system:playback_1");
    bay.connect(&me.out(1), "system:playback_2");
    let outs = vec![me.out(0), me.out(1)];

    let e = on_server(&server, || {
        jack_graph::connect_outputs(&outs, &["latent:inptu".to_string()])
    })
    .expect_err("a port that does not exist");
    assert!(matches!(e, GraphError::NoSuchPort { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("latent:inptu") && text.contains("latent:input") && !text.contains("out_0"),
        "{text}"
    );
    let e = on_server(&server, || {
        jack_graph::connect_outputs(&outs, &["latent:output".to_string()])
    })
    .expect_err("an output");
    assert!(matches!(e, GraphError::NotAnAudioInput { .. }), "{e}");
    // Nothing changed.
    bay.wait_connections(&me.out(0), &["system:playback_1"]);

    let made = on_server(&server, || {
        jack_graph::connect_outputs(&outs, &["latent:input".to_string()])
    })
    .expect("connect");
    assert_eq!(made, vec![(me.out(0), "latent:input".to_string())]);
    bay.wait_connections(&me.out(0), &["latent:input"]);
    bay.wait_connections(&me.out(1), &[]);
}
