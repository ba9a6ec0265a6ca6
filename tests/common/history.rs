//! A JACK source for the tests of the kept past: a sample counter, exactly representable in
//! f32 files, that can be made loud from a chosen frame on (record on signal).
//!
//! Frame k of the source is (k+1)/2^24 on its first port and -(k+1)/2^24 on its second
//! (so a swap would show); inside the loud window, 0.5 is added (subtracted on the second
//! port), which f32 still holds exactly while k < 2^23 (about 174 s at 48 kHz).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::JackServer;
use super::jack_cable::open_client;

/// 2^24: the counter's step is 1/2^24.
pub const STEP: f32 = 16_777_216.0;

type Process = Box<dyn FnMut(&jack::Client, &jack::ProcessScope) -> jack::Control + Send>;

/// The counter client `<name>` with ports `out1` and `out2`; stops on drop.
pub struct Counter {
    pub name: String,
    /// Frames produced so far (the next frame's k).
    produced: Arc<AtomicU64>,
    /// The loud window's frames [from, to); `u64::MAX` for none.
    loud: Arc<(AtomicU64, AtomicU64)>,
    _active: jack::AsyncClient<(), jack::contrib::ClosureProcessHandler<(), Process>>,
}

impl Counter {
    pub fn start(server: &JackServer, name: &str) -> Self {
        let client = open_client(server, name);
        let mut one = client
            .register_port("out1", jack::AudioOut::default())
            .expect("register out1");
        let mut two = client
            .register_port("out2", jack::AudioOut::default())
            .expect("register out2");
        let produced = Arc::new(AtomicU64::new(0));
        let loud = Arc::new((AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)));
        let (p, l) = (Arc::clone(&produced), Arc::clone(&loud));
        let process: Process = Box::new(move |_, ps| {
            let at = p.load(Ordering::Relaxed);
            let (from, to) = (l.0.load(Ordering::Relaxed), l.1.load(Ordering::Relaxed));
            let (a, b) = (one.as_mut_slice(ps), two.as_mut_slice(ps));
            for (i, (x, y)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
                let k = at + i as u64;
                let v = value(k, (from..to).contains(&k));
                *x = v;
                *y = -v;
            }
            p.store(at + a.len() as u64, Ordering::Release);
            jack::Control::Continue
        });
        let active = client
            .activate_async((), jack::contrib::ClosureProcessHandler::new(process))
            .expect("activate the counter");
        Self {
            name: name.to_string(),
            produced,
            loud,
            _active: active,
        }
    }

    /// The ports, for `--connect-input`.
    pub fn ports(&self) -> [String; 2] {
        [format!("{}:out1", self.name), format!("{}:out2", self.name)]
    }

    /// Frames produced so far.
    pub fn produced(&self) -> u64 {
        self.produced.load(Ordering::Acquire)
    }

    /// Makes frames [from, to) loud.
    pub fn loud(&self, from: u64, to: u64) {
        self.loud.1.store(to, Ordering::Relaxed);
        self.loud.0.store(from, Ordering::Relaxed);
    }
}

/// Frame k of the first port.
pub fn value(k: u64, loud: bool) -> f32 {
    let v = (k + 1) as f32 / STEP;
    if loud { 0.5 + v } else { v }
}

/// The frame a quiet sample of the first port was produced at.
pub fn frame_of(sample: f32) -> u64 {
    let v = if sample >= 0.5 { sample - 0.5 } else { sample };
    (v * STEP).round() as u64 - 1
}

/// Reads a mono f32 WAV with hound.
pub fn samples(path: &std::path::Path) -> Vec<f32> {
    hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("hound opens {}: {e}", path.display()))
        .samples::<f32>()
        .map(|s| s.expect("sample"))
        .collect()
}

/// The bext TimeReference of a WAV, as ffprobe reads it.
pub fn time_reference(path: &std::path::Path) -> u64 {
    super::require("ffprobe");
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "quiet", "-show_entries", "format_tags=time_reference"])
        .args(["-of", "default=nw=1:nk=1"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("ffprobe's time_reference of {}: {e}", path.display()))
}
