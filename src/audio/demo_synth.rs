//! Deterministic synthesizer behind the built-in demo input device.
//!
//! Every input carries a different part of one small E-minor band arrangement
//! (112 bpm, four bars: Em - C - G - D), so a newcomer who records from the demo
//! device ends up with a session that sounds like a band and exercises the whole
//! recorder: transient-heavy drums, a quiet room track, and one synth that clips
//! on purpose so the clip counters have something to count.
//!
//! All buffers are allocated in [`DemoSynth::new`]; [`DemoSynth::render`] only does
//! arithmetic, so it is safe to call from an audio callback.

use std::f64::consts::{PI, TAU};

/// What each demo input carries (in input order, cycling if more inputs than voices are requested).
pub const VOICE_NAMES: [&str; 8] = [
    "Kick+Snare",
    "Bass DI",
    "Guitar DI",
    "Vox",
    "Room",
    "Synth (clips)",
    "Hi-hat",
    "Keys",
];

/// Upper bound on inputs; keeps a bogus request from allocating without limit.
const MAX_CHANNELS: usize = 256;
/// Outside this range the filters and the musical clock stop making sense, so
/// the rate used for synthesis is clamped (the caller still gets samples).
const MIN_RATE: u32 = 8_000;
const MAX_RATE: u32 = 768_000;

/// Sixteenth notes per minute at 112 bpm.
const STEPS_PER_MINUTE: u64 = 112 * 4;
/// Four bars of sixteenths.
const LOOP_STEPS: usize = 64;
const STEPS_PER_BAR: usize = 16;

/// Keeps long exponential decays from ending up in subnormal territory, which is
/// slow on some CPUs and pointless to compute.
const SILENCE: f64 = 1e-12;

/// Chord roots per bar (MIDI), in bass register: E2, C2, G2, D2.
const BASS_ROOTS: [f64; 4] = [40.0, 36.0, 43.0, 38.0];

/// Guitar voicings, low string to high string; `None` = string not played (damped).
const GUITAR_CHORDS: [[Option<f64>; 6]; 4] = [
    // Em 022000
    [
        Some(40.0),
        Some(47.0),
        Some(52.0),
        Some(55.0),
        Some(59.0),
        Some(64.0),
    ],
    // C x32010
    [
        None,
        Some(48.0),
        Some(52.0),
        Some(55.0),
        Some(60.0),
        Some(64.0),
    ],
    // G 320003
    [
        Some(43.0),
        Some(47.0),
        Some(50.0),
        Some(55.0),
        Some(59.0),
        Some(67.0),
    ],
    // D xx0232
    [None, None, Some(50.0), Some(57.0), Some(62.0), Some(66.0)],
];

/// Lowest note a guitar string can be asked to play; sizes the delay lines.
const GUITAR_LOWEST: f64 = 40.0;

/// Close-voiced keyboard chords with smooth voice leading.
const KEYS_CHORDS: [[f64; 4]; 4] = [
    [55.0, 59.0, 64.0, 67.0],
    [55.0, 60.0, 64.0, 67.0],
    [55.0, 59.0, 62.0, 67.0],
    [54.0, 57.0, 62.0, 66.0],
];

/// Drum patterns over the whole loop: `x` = hit, `o` = ghost note.
const KICK_PATTERN: &[u8; LOOP_STEPS] =
    b"x.......x.......x.......x.o.....x.......x.......x.......x.....o.";
const SNARE_PATTERN: &[u8; LOOP_STEPS] =
    b"....x.......x.......x..o....x.......x.......x..o....x..o....x.oo";
/// `x` = accented closed hat, `c` = closed hat, `O` = open hat.
const HAT_PATTERN: &[u8; LOOP_STEPS] =
    b"x.c.x.c.x.c.x.c.x.c.x.c.x.c.x.O.x.c.x.c.x.c.x.c.x.c.x.c.x.c.x.O.";

/// A note in a monophonic line: start step, length in steps, MIDI note, extra.
#[derive(Clone, Copy)]
struct Note {
    start: u8,
    len: u8,
    pitch: u8,
    /// Vowel index for the vocal, accent flag (non-zero) for the synth.
    extra: u8,
}

const fn n(start: u8, len: u8, pitch: u8, extra: u8) -> Note {
    Note {
        start,
        len,
        pitch,
        extra,
    }
}

/// Bass line relative to each bar's root: (step, length, semitones above root).
const BASS_PATTERN: [(u8, u8, u8); 7] = [
    (0, 3, 0),
    (3, 1, 0),
    (6, 2, 0),
    (8, 2, 0),
    (10, 2, 12),
    (12, 2, 7),
    (14, 2, 0),
];

const VOWEL_A: u8 = 0;
const VOWEL_E: u8 = 1;
const VOWEL_O: u8 = 3;
const VOWEL_U: u8 = 4;

/// Formant frequencies, bandwidths and gains per vowel (a, e, i, o, u), male voice.
const FORMANTS: [[(f64, f64, f64); 3]; 5] = [
    [
        (730.0, 90.0, 1.0),
        (1090.0, 110.0, 0.5),
        (2440.0, 160.0, 0.22),
    ],
    [
        (530.0, 70.0, 1.0),
        (1840.0, 110.0, 0.45),
        (2480.0, 160.0, 0.25),
    ],
    [
        (270.0, 60.0, 1.0),
        (2290.0, 120.0, 0.3),
        (3010.0, 180.0, 0.25),
    ],
    [
        (570.0, 80.0, 1.0),
        (840.0, 90.0, 0.6),
        (2410.0, 160.0, 0.15),
    ],
    [
        (300.0, 60.0, 1.0),
        (870.0, 90.0, 0.4),
        (2240.0, 160.0, 0.12),
    ],
];
/// Per-vowel level trim (measured) so the vowels sing at similar levels
/// instead of jumping by several dB.
const VOWEL_TRIM: [f64; 5] = [1.0, 1.28, 1.0, 0.83, 1.15];

/// Two sung phrases per loop, each followed by a breath.
const VOX_LINE: [Note; 16] = [
    n(0, 4, 59, VOWEL_A),
    n(4, 2, 55, VOWEL_E),
    n(6, 2, 57, VOWEL_O),
    n(8, 6, 59, VOWEL_A),
    n(16, 4, 60, VOWEL_O),
    n(20, 2, 59, VOWEL_A),
    n(22, 2, 57, VOWEL_E),
    n(24, 4, 55, VOWEL_U),
    n(28, 2, 52, VOWEL_A),
    n(32, 4, 62, VOWEL_A),
    n(36, 4, 59, VOWEL_O),
    n(40, 4, 55, VOWEL_E),
    n(44, 2, 57, VOWEL_A),
    n(48, 4, 54, VOWEL_O),
    n(52, 2, 57, VOWEL_A),
    n(54, 6, 54, VOWEL_U),
];

/// Lead line; the two accented notes are the ones that push the input past 0 dBFS.
const SYNTH_LINE: [Note; 24] = [
    n(0, 2, 76, 0),
    n(2, 2, 79, 0),
    n(4, 2, 83, 0),
    n(6, 2, 81, 0),
    n(8, 4, 79, 0),
    n(12, 2, 78, 0),
    n(14, 2, 76, 0),
    n(16, 2, 76, 0),
    n(18, 2, 79, 0),
    n(20, 2, 84, 0),
    n(22, 2, 83, 0),
    n(24, 6, 84, 1),
    n(32, 2, 74, 0),
    n(34, 2, 79, 0),
    n(36, 2, 83, 0),
    n(38, 2, 81, 0),
    n(40, 4, 79, 0),
    n(44, 2, 81, 0),
    n(46, 2, 83, 0),
    n(48, 2, 81, 0),
    n(50, 2, 78, 0),
    n(52, 2, 74, 0),
    n(54, 2, 78, 0),
    n(56, 6, 81, 1),
];

/// Guitar strums per bar: (step, downstroke, velocity).
const STRUMS: [(u8, bool, f64); 6] = [
    (0, true, 1.0),
    (4, true, 0.8),
    (6, false, 0.6),
    (10, false, 0.65),
    (12, true, 0.85),
    (14, false, 0.6),
];

/// Keyboard chord hits per bar: (step, velocity).
const KEYS_HITS: [(u8, f64); 3] = [(0, 1.0), (6, 0.6), (10, 0.75)];

// Output gains, calibrated by measurement so that each voice lands at its
// intended peak level at 48 kHz (see the tests for the accepted ranges).
const DRUM_GAIN: f64 = 0.518;
const BASS_GAIN: f64 = 0.344;
const GUITAR_GAIN: f64 = 0.163;
const VOX_GAIN: f64 = 0.47;
const ROOM_GAIN: f64 = 0.00187;
const SYNTH_GAIN: f64 = 0.488;
const SYNTH_ACCENT: f64 = 2.0;
const HAT_GAIN: f64 = 0.17;
const KEYS_GAIN: f64 = 0.054;

fn midi_to_hz(note: f64) -> f64 {
    440.0 * ((note - 69.0) / 12.0).exp2()
}

/// Per-sample multiplier for an exponential decay with time constant `tau` seconds.
fn decay_mul(tau: f64, sr: f64) -> f64 {
    (-1.0 / (tau * sr).max(1e-9)).exp()
}

fn flush(x: f64) -> f64 {
    if x.abs() < SILENCE { 0.0 } else { x }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xorshift64*: tiny, fast and good enough for noise and humanisation.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // xorshift has a fixed point at zero.
        Self(splitmix64(seed) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [-1, 1).
    fn bipolar(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (2.0 / (1u64 << 53) as f64) - 1.0
    }

    /// Velocity multiplier within about ±0.3 dB, so repeats are not robotic.
    fn humanize(&mut self) -> f64 {
        1.0 + 0.035 * self.bipolar()
    }
}

/// PolyBLEP correction; removes most aliasing from naive saw/square edges.
fn poly_blep(t: f64, dt: f64) -> f64 {
    if t < dt {
        let x = t / dt;
        x + x - x * x - 1.0
    } else if t > 1.0 - dt {
        let x = (t - 1.0) / dt;
        x * x + x + x + 1.0
    } else {
        0.0
    }
}

/// One-pole lowpass with a cheap, always-stable coefficient so it can be
/// modulated every sample without transcendental functions.
#[derive(Clone, Default)]
struct OnePole {
    y: f64,
}

impl OnePole {
    fn coef(cutoff: f64, sr: f64) -> f64 {
        let w = TAU * cutoff.max(0.0) / sr;
        w / (1.0 + w)
    }

    fn tick(&mut self, x: f64, g: f64) -> f64 {
        self.y += g * (x - self.y);
        self.y
    }
}

/// Topology-preserving state-variable filter; stays well-behaved while its
/// cutoff is being modulated (vocal formant glides).
#[derive(Clone, Default)]
struct Svf {
    ic1: f64,
    ic2: f64,
    a1: f64,
    a2: f64,
    a3: f64,
    k: f64,
}

impl Svf {
    fn new(freq: f64, q: f64, sr: f64) -> Self {
        let mut f = Self::default();
        f.set(freq, q, sr);
        f
    }

    fn set(&mut self, freq: f64, q: f64, sr: f64) {
        // Keep the pole below Nyquist at low sample rates.
        let freq = freq.clamp(10.0, 0.45 * sr);
        let g = (PI * freq / sr).tan();
        self.k = 1.0 / q.max(0.05);
        self.a1 = 1.0 / (1.0 + g * (g + self.k));
        self.a2 = g * self.a1;
        self.a3 = g * self.a2;
    }

    /// Returns (lowpass, bandpass normalised to unity peak gain, highpass).
    fn tick(&mut self, v0: f64) -> (f64, f64, f64) {
        let v3 = v0 - self.ic2;
        let v1 = self.a1 * self.ic1 + self.a2 * v3;
        let v2 = self.ic2 + self.a2 * self.ic1 + self.a3 * v3;
        self.ic1 = 2.0 * v1 - self.ic1;
        self.ic2 = 2.0 * v2 - self.ic2;
        (v2, self.k * v1, v0 - self.k * v1 - v2)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Attack,
    Decay,
    Release,
}

/// Attack / decay-to-sustain / release envelope. Retriggering ramps from the
/// current level instead of jumping, so legato notes do not click.
#[derive(Clone)]
struct Env {
    level: f64,
    peak: f64,
    step: f64,
    sustain: f64,
    decay: f64,
    release: f64,
    stage: Stage,
}

impl Env {
    fn new(decay_tau: f64, sustain: f64, release_tau: f64, sr: f64) -> Self {
        Self {
            level: 0.0,
            peak: 0.0,
            step: 0.0,
            sustain,
            decay: decay_mul(decay_tau, sr),
            release: decay_mul(release_tau, sr),
            stage: Stage::Release,
        }
    }

    fn trigger(&mut self, peak: f64, attack_samples: f64) {
        self.peak = peak;
        self.step = (peak - self.level) / attack_samples.max(1.0);
        self.stage = Stage::Attack;
    }

    fn release(&mut self) {
        self.stage = Stage::Release;
    }

    fn tick(&mut self) -> f64 {
        match self.stage {
            Stage::Attack => {
                self.level += self.step;
                if (self.step >= 0.0 && self.level >= self.peak)
                    || (self.step < 0.0 && self.level <= self.peak)
                {
                    self.level = self.peak;
                    self.stage = Stage::Decay;
                }
            }
            Stage::Decay => {
                let floor = self.sustain * self.peak;
                self.level = flush(floor + (self.level - floor) * self.decay);
            }
            Stage::Release => {
                self.level = flush(self.level * self.release);
            }
        }
        self.level
    }
}

/// Phase accumulator in [0, 1); wrapping keeps precision over hours.
#[derive(Clone, Default)]
struct Phase(f64);

impl Phase {
    fn advance(&mut self, inc: f64) -> f64 {
        let p = self.0;
        self.0 += inc;
        if self.0 >= 1.0 {
            self.0 -= self.0.floor();
        }
        p
    }
}

/// Sine oscillator by complex rotation: one multiply-add per sample instead of
/// a `sin` call, with renormalisation so the amplitude never drifts.
#[derive(Clone)]
struct Rotor {
    c: f64,
    s: f64,
    wc: f64,
    ws: f64,
    gain: f64,
}

impl Rotor {
    fn new() -> Self {
        Self {
            c: 1.0,
            s: 0.0,
            wc: 1.0,
            ws: 0.0,
            gain: 1.0,
        }
    }

    fn set_freq(&mut self, hz: f64, sr: f64) {
        // A partial at or above Nyquist would alias, so it is muted instead.
        let w = TAU * hz / sr;
        self.wc = w.cos();
        self.ws = w.sin();
        self.gain = if hz < 0.48 * sr { 1.0 } else { 0.0 };
    }

    fn tick(&mut self) -> f64 {
        let c = self.c * self.wc - self.s * self.ws;
        let s = self.c * self.ws + self.s * self.wc;
        let g = 1.5 - 0.5 * (c * c + s * s);
        self.c = c * g;
        self.s = s * g;
        self.s * self.gain
    }
}

/// Looks up which note of a monophonic line covers `pos`, if any.
fn active_note(line: &[Note], pos: usize) -> Option<Note> {
    line.iter()
        .copied()
        .find(|note| (note.start as usize..(note.start + note.len) as usize).contains(&pos))
}

// ---------------------------------------------------------------------------
// Voices
// ---------------------------------------------------------------------------

struct Drums {
    sr: f64,
    rng: Rng,
    tune: f64,
    kick_phase: Phase,
    kick_sweep: f64,
    kick_sweep_mul: f64,
    kick_env: Env,
    click_env: Env,
    snare_phase: Phase,
    snare_phase2: Phase,
    snare_sweep: f64,
    snare_sweep_mul: f64,
    body_env: Env,
    wire_env: Env,
    wire_filter: Svf,
}

impl Drums {
    fn new(sr: f64, rng: Rng, tune: f64) -> Self {
        Self {
            sr,
            rng,
            tune,
            kick_phase: Phase::default(),
            kick_sweep: 0.0,
            kick_sweep_mul: decay_mul(0.028, sr),
            kick_env: Env::new(0.22, 0.0, 0.22, sr),
            click_env: Env::new(0.0008, 0.0, 0.0008, sr),
            snare_phase: Phase::default(),
            snare_phase2: Phase::default(),
            snare_sweep: 0.0,
            snare_sweep_mul: decay_mul(0.012, sr),
            body_env: Env::new(0.055, 0.0, 0.055, sr),
            wire_env: Env::new(0.13, 0.0, 0.13, sr),
            wire_filter: Svf::new(3200.0 * tune, 0.6, sr),
        }
    }

    fn on_step(&mut self, pos: usize) {
        let vel = match KICK_PATTERN[pos] {
            b'x' => 1.0,
            b'o' => 0.45,
            _ => 0.0,
        };
        if vel > 0.0 {
            let vel = vel * self.rng.humanize();
            self.kick_phase = Phase::default();
            self.kick_sweep = 1.0;
            self.kick_env.trigger(vel, 1.0);
            self.click_env.trigger(vel, 1.0);
        }
        let vel = match SNARE_PATTERN[pos] {
            b'x' => 1.0,
            b'o' => 0.2,
            _ => 0.0,
        };
        if vel > 0.0 {
            let vel = vel * self.rng.humanize();
            self.snare_sweep = 1.0;
            // Restarting the shell modes makes every hit's attack the same shape.
            self.snare_phase = Phase::default();
            self.snare_phase2 = Phase::default();
            self.body_env.trigger(vel, 1.0);
            self.wire_env.trigger(vel, 1.0);
        }
    }

    fn tick(&mut self) -> f64 {
        let dt = 1.0 / self.sr;
        // Kick: the fast pitch drop is what makes a sine read as a kick drum.
        let kick_hz = self.tune * (48.0 + 110.0 * self.kick_sweep);
        self.kick_sweep = flush(self.kick_sweep * self.kick_sweep_mul);
        let kick = (TAU * self.kick_phase.advance(kick_hz * dt)).sin() * self.kick_env.tick();
        let noise = self.rng.bipolar();
        let click = noise * self.click_env.tick() * 0.25;

        let drop = 1.0 + 0.3 * self.snare_sweep;
        self.snare_sweep = flush(self.snare_sweep * self.snare_sweep_mul);
        let body_env = self.body_env.tick();
        let body = ((TAU * self.snare_phase.advance(185.0 * self.tune * drop * dt)).sin()
            + 0.5 * (TAU * self.snare_phase2.advance(330.0 * self.tune * drop * dt)).sin())
            * body_env;
        let (_, wires, _) = self.wire_filter.tick(noise);
        // Filtered noise has Gaussian-like peaks that vary by several dB from hit
        // to hit; a soft saturator tames the rare spikes without audible change.
        let wires = wires / (1.0 + 4.0 * wires * wires).sqrt();
        let snare = 0.42 * body + 0.9 * wires * self.wire_env.tick();

        DRUM_GAIN * (0.92 * kick + click + 0.85 * snare)
    }
}

struct Bass {
    sr: f64,
    rng: Rng,
    tune: f64,
    phase: Phase,
    dt: f64,
    amp: Env,
    filter_env: Env,
    lp1: OnePole,
    lp2: OnePole,
}

impl Bass {
    fn new(sr: f64, rng: Rng, tune: f64) -> Self {
        Self {
            sr,
            rng,
            tune,
            phase: Phase::default(),
            dt: midi_to_hz(40.0) / sr,
            amp: Env::new(0.35, 0.55, 0.035, sr),
            filter_env: Env::new(0.07, 0.0, 0.07, sr),
            lp1: OnePole::default(),
            lp2: OnePole::default(),
        }
    }

    fn on_step(&mut self, pos: usize) {
        let bar = pos / STEPS_PER_BAR;
        let in_bar = pos % STEPS_PER_BAR;
        let root = BASS_ROOTS[bar];
        let mut sounding = false;
        for &(start, len, interval) in &BASS_PATTERN {
            let (start, len) = (start as usize, len as usize);
            if in_bar == start {
                let hz = midi_to_hz(root + f64::from(interval)) * self.tune;
                self.dt = hz / self.sr;
                let vel = if in_bar.is_multiple_of(4) { 1.0 } else { 0.85 } * self.rng.humanize();
                self.amp.trigger(vel, 0.003 * self.sr);
                self.filter_env.trigger(1.0, 1.0);
            }
            if (start..start + len).contains(&in_bar) {
                sounding = true;
            }
        }
        if !sounding {
            self.amp.release();
        }
    }

    fn tick(&mut self) -> f64 {
        let dt = self.dt;
        let t = self.phase.advance(dt);
        let saw = 2.0 * t - 1.0 - poly_blep(t, dt);
        let tri = 4.0 * (t - 0.5).abs() - 1.0;
        let raw = 0.65 * tri + 0.35 * saw;
        // Key-tracked cutoff with a fast envelope gives the pluck of a fingered DI bass.
        let cutoff = dt * self.sr * (1.5 + 10.0 * self.filter_env.tick());
        let g = OnePole::coef(cutoff, self.sr);
        let y = self.lp2.tick(self.lp1.tick(raw, g), g);
        BASS_GAIN * y * self.amp.tick()
    }
}

/// One Karplus-Strong string with an allpass for fractional tuning.
struct KsString {
    buf: Vec<f64>,
    len: usize,
    idx: usize,
    prev: f64,
    ap_c: f64,
    ap_x1: f64,
    ap_y1: f64,
    loss: f64,
    /// Samples until a scheduled pluck (strum spread), or `None`.
    pending: Option<(u32, f64, f64)>,
}

impl KsString {
    fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0.0; capacity.max(4)],
            len: 2,
            idx: 0,
            prev: 0.0,
            ap_c: 0.0,
            ap_x1: 0.0,
            ap_y1: 0.0,
            loss: 0.0,
            pending: None,
        }
    }

    fn pluck(&mut self, hz: f64, vel: f64, sr: f64, rng: &mut Rng) {
        // Loop delay = L (buffer) + 0.5 (averaging filter) + d (allpass).
        let period = (sr / hz.max(1.0)) - 0.5;
        let whole = (period - 0.1).floor().max(2.0);
        let len = (whole as usize).min(self.buf.len());
        let frac = (period - len as f64).clamp(0.1, 1.1);
        self.ap_c = (1.0 - frac) / (1.0 + frac);
        self.len = len;
        self.idx = 0;
        self.prev = 0.0;
        self.ap_x1 = 0.0;
        self.ap_y1 = 0.0;
        // Equal ring time on every string regardless of pitch (~4 s to -60 dB).
        self.loss = 10f64.powf(-3.0 / (hz * 4.0));

        // Softer picking = duller excitation.
        let bright = 0.08 + 0.14 * vel;
        let mut lp = 0.0;
        let buf = &mut self.buf[..len];
        for s in buf.iter_mut() {
            lp += bright * (rng.bipolar() - lp);
            *s = lp;
        }
        // Pick-position comb (in place, back to front) for a guitar-like spectrum.
        let pick = ((len as f64) * 0.13) as usize;
        if pick > 0 {
            for i in (pick..len).rev() {
                buf[i] -= buf[i - pick];
            }
        }
        // Any DC in the excitation would circulate in the loop as a slow thump.
        let mean = buf.iter().sum::<f64>() / len as f64;
        let mut peak = 0.0f64;
        for s in buf.iter_mut() {
            *s -= mean;
            peak = peak.max(s.abs());
        }
        // Normalising each pluck keeps strum peaks predictable whatever the noise did.
        let scale = if peak > 0.0 { vel / peak } else { 0.0 };
        for s in buf.iter_mut() {
            *s *= scale;
        }
    }

    fn damp(&mut self, hz: f64) {
        self.loss = 10f64.powf(-3.0 / (hz * 0.08));
    }

    fn tick(&mut self) -> f64 {
        let x = self.buf[self.idx];
        let avg = 0.5 * (x + self.prev);
        self.prev = x;
        let ap = self.ap_c * avg + self.ap_x1 - self.ap_c * self.ap_y1;
        self.ap_x1 = avg;
        self.ap_y1 = flush(ap);
        self.buf[self.idx] = self.ap_y1 * self.loss;
        self.idx += 1;
        if self.idx >= self.len {
            self.idx = 0;
        }
        x
    }
}

struct Guitar {
    sr: f64,
    rng: Rng,
    tune: f64,
    strings: [KsString; 6],
    notes: [f64; 6],
    dc: f64,
}

impl Guitar {
    fn new(sr: f64, rng: Rng, tune: f64) -> Self {
        let lowest = midi_to_hz(GUITAR_LOWEST) * tune * 0.9;
        let capacity = (sr / lowest).ceil() as usize + 8;
        Self {
            sr,
            rng,
            tune,
            strings: std::array::from_fn(|_| KsString::new(capacity)),
            notes: [midi_to_hz(GUITAR_LOWEST); 6],
            dc: 0.0,
        }
    }

    fn on_step(&mut self, pos: usize) {
        let bar = pos / STEPS_PER_BAR;
        let in_bar = (pos % STEPS_PER_BAR) as u8;
        let Some(&(_, down, vel)) = STRUMS.iter().find(|s| s.0 == in_bar) else {
            return;
        };
        let chord = &GUITAR_CHORDS[bar];
        let spread = 0.009 * self.sr * if down { 1.0 } else { 0.7 };
        let order: [usize; 6] = if down {
            [0, 1, 2, 3, 4, 5]
        } else {
            [5, 4, 3, 2, 1, 0]
        };
        let mut k = 0u32;
        for &i in &order {
            match chord[i] {
                // Upstrokes catch only the top four strings, the way a real strum does.
                Some(note) if down || i >= 2 => {
                    let hz = midi_to_hz(note) * self.tune;
                    self.notes[i] = hz;
                    let v = vel * self.rng.humanize() * (0.85 + 0.15 * (i as f64 / 5.0));
                    let delay =
                        (f64::from(k) * spread * (0.9 + 0.2 * self.rng.bipolar().abs())) as u32;
                    self.strings[i].pending = Some((delay, hz, v));
                    k += 1;
                }
                Some(_) => {}
                // Fretting hand mutes strings that are not part of the chord.
                None => {
                    let hz = self.notes[i];
                    self.strings[i].damp(hz);
                }
            }
        }
    }

    fn tick(&mut self) -> f64 {
        let mut sum = 0.0;
        for s in &mut self.strings {
            if let Some((delay, hz, vel)) = s.pending {
                if delay == 0 {
                    s.pending = None;
                    s.pluck(hz, vel, self.sr, &mut self.rng);
                } else {
                    s.pending = Some((delay - 1, hz, vel));
                }
            }
            sum += s.tick();
        }
        // A DI has no DC; a gentle blocker catches what the loop filter lets through.
        self.dc += 0.0005 * (sum - self.dc);
        GUITAR_GAIN * (sum - self.dc)
    }
}

struct Vox {
    sr: f64,
    rng: Rng,
    tune: f64,
    phase: Phase,
    pitch: f64,
    target_pitch: f64,
    glide: f64,
    vib_phase: Phase,
    vib_depth: f64,
    vib_ramp: f64,
    amp: Env,
    breath: Env,
    breath_filter: Svf,
    tilt: OnePole,
    tilt_g: f64,
    formants: [Svf; 3],
    formant_freq: [f64; 3],
    formant_target: [(f64, f64, f64); 3],
    formant_gain: [f64; 3],
    formant_glide: f64,
    vowel_trim: f64,
    countdown: u32,
    voiced: bool,
}

/// How often (in samples) the formant filters are re-tuned; `tan` per sample
/// would be wasted effort for a glide lasting tens of milliseconds.
const FORMANT_UPDATE: u32 = 32;
const BW_SCALE: f64 = 2.0;

impl Vox {
    fn new(sr: f64, rng: Rng, tune: f64) -> Self {
        let start = FORMANTS[VOWEL_A as usize];
        let pitch = (midi_to_hz(59.0) * tune).log2();
        Self {
            sr,
            rng,
            tune,
            phase: Phase::default(),
            pitch,
            target_pitch: pitch,
            glide: 1.0 - decay_mul(0.035, sr),
            vib_phase: Phase::default(),
            vib_depth: 0.0,
            vib_ramp: 1.0 / (0.35 * sr),
            amp: Env::new(0.25, 0.8, 0.07, sr),
            breath: Env::new(0.12, 0.0, 0.12, sr),
            breath_filter: Svf::new(1600.0, 0.9, sr),
            tilt: OnePole::default(),
            tilt_g: OnePole::coef(1200.0, sr),
            formants: std::array::from_fn(|i| {
                Svf::new(start[i].0, start[i].0 / (start[i].1 * BW_SCALE), sr)
            }),
            formant_freq: std::array::from_fn(|i| start[i].0),
            formant_target: start,
            formant_gain: std::array::from_fn(|i| start[i].2),
            formant_glide: 1.0 - decay_mul(0.015, sr / f64::from(FORMANT_UPDATE)),
            vowel_trim: 1.0,
            countdown: 0,
            voiced: false,
        }
    }

    fn on_step(&mut self, pos: usize) {
        match active_note(&VOX_LINE, pos) {
            Some(note) if note.start as usize == pos => {
                self.target_pitch = (midi_to_hz(f64::from(note.pitch)) * self.tune).log2();
                let vowel = note.extra as usize % FORMANTS.len();
                self.formant_target = FORMANTS[vowel];
                self.vowel_trim = VOWEL_TRIM[vowel];
                let vel = self.rng.humanize();
                self.amp.trigger(vel, 0.04 * self.sr);
                self.breath.release();
                self.vib_depth = 0.0;
                self.voiced = true;
            }
            Some(_) => {}
            None => {
                if self.voiced {
                    // The audible inhale is what makes the rests read as breaths.
                    self.amp.release();
                    self.breath.trigger(1.0, 0.09 * self.sr);
                    self.voiced = false;
                }
            }
        }
    }

    fn retune_formants(&mut self) {
        let k = self.formant_glide;
        for i in 0..3 {
            let (target, bw, gain) = self.formant_target[i];
            self.formant_freq[i] += k * (target - self.formant_freq[i]);
            self.formant_gain[i] += k * (gain * self.vowel_trim - self.formant_gain[i]);
            let f = self.formant_freq[i];
            self.formants[i].set(f, f / (bw * BW_SCALE), self.sr);
        }
    }

    fn tick(&mut self) -> f64 {
        if self.countdown == 0 {
            self.countdown = FORMANT_UPDATE;
            self.retune_formants();
        }
        self.countdown -= 1;

        self.pitch += self.glide * (self.target_pitch - self.pitch);
        self.vib_depth = (self.vib_depth + self.vib_ramp).min(1.0);
        let vib = (TAU * self.vib_phase.advance(5.4 / self.sr)).sin();
        let hz = (self.pitch + self.vib_depth * vib * (28.0 / 1200.0)).exp2();
        let dt = (hz / self.sr).min(0.45);
        let t = self.phase.advance(dt);
        let saw = 2.0 * t - 1.0 - poly_blep(t, dt);
        let noise = self.rng.bipolar();
        let source = self.tilt.tick(saw, self.tilt_g) + 0.04 * noise;

        let mut voice = 0.0;
        for (f, g) in self.formants.iter_mut().zip(self.formant_gain) {
            voice += g * f.tick(source).1;
        }
        let (_, breath, _) = self.breath_filter.tick(noise);
        VOX_GAIN * (voice * self.amp.tick() + 0.006 * breath * self.breath.tick())
    }
}

struct Room {
    rng: Rng,
    pink: [f64; 7],
    hum_phase: Phase,
    hum_inc: f64,
    hp: f64,
}

impl Room {
    fn new(sr: f64, rng: Rng, tune: f64) -> Self {
        Self {
            rng,
            pink: [0.0; 7],
            hum_phase: Phase::default(),
            hum_inc: 50.0 * tune / sr,
            hp: 0.0,
        }
    }

    fn tick(&mut self) -> f64 {
        // Paul Kellet's pink-noise filter.
        let w = self.rng.bipolar();
        let b = &mut self.pink;
        b[0] = 0.99886 * b[0] + w * 0.0555179;
        b[1] = 0.99332 * b[1] + w * 0.0750759;
        b[2] = 0.96900 * b[2] + w * 0.1538520;
        b[3] = 0.86650 * b[3] + w * 0.3104856;
        b[4] = 0.55000 * b[4] + w * 0.5329522;
        b[5] = -0.7616 * b[5] - w * 0.0168980;
        let pink = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
        b[6] = w * 0.115926;
        // Remove the sub-audio rumble the first pole accumulates.
        self.hp += 0.0005 * (pink - self.hp);
        let p = TAU * self.hum_phase.advance(self.hum_inc);
        let hum = 0.00035 * p.sin() + 0.0002 * (2.0 * p).sin() + 0.00012 * (3.0 * p).sin();
        ROOM_GAIN * (pink - self.hp) + hum
    }
}

struct Synth {
    sr: f64,
    rng: Rng,
    tune: f64,
    phase: Phase,
    dt: f64,
    amp: Env,
    filter_env: Env,
    brightness: f64,
    lp1: OnePole,
    lp2: OnePole,
}

impl Synth {
    fn new(sr: f64, rng: Rng, tune: f64) -> Self {
        Self {
            sr,
            rng,
            tune,
            phase: Phase::default(),
            dt: midi_to_hz(76.0) / sr,
            amp: Env::new(0.18, 0.75, 0.045, sr),
            filter_env: Env::new(0.12, 0.0, 0.12, sr),
            brightness: 1.0,
            lp1: OnePole::default(),
            lp2: OnePole::default(),
        }
    }

    fn on_step(&mut self, pos: usize) {
        match active_note(&SYNTH_LINE, pos) {
            Some(note) if note.start as usize == pos => {
                let hz = midi_to_hz(f64::from(note.pitch)) * self.tune;
                self.dt = (hz / self.sr).min(0.2);
                let accent = note.extra != 0;
                // Deliberately unclamped: this is the input that is meant to clip.
                let vel = if accent { SYNTH_ACCENT } else { 1.0 } * self.rng.humanize();
                self.brightness = if accent { 1.6 } else { 1.0 };
                self.amp.trigger(vel, 0.004 * self.sr);
                self.filter_env.trigger(1.0, 1.0);
            }
            Some(_) => {}
            None => self.amp.release(),
        }
    }

    fn tick(&mut self) -> f64 {
        // Master phase runs over two periods so the sub-octave square stays phase-locked.
        let dt = self.dt;
        let p = self.phase.advance(0.5 * dt) * 2.0;
        let t = p.fract();
        let saw = 2.0 * t - 1.0 - poly_blep(t, dt);
        let q = 0.5 * p;
        let hdt = 0.5 * dt;
        let sq = if q < 0.5 { 1.0 } else { -1.0 } + poly_blep(q, hdt)
            - poly_blep((q + 0.5).fract(), hdt);
        let raw = saw + 0.5 * sq;
        let cutoff = dt * self.sr * self.brightness * (2.5 + 9.0 * self.filter_env.tick());
        let g = OnePole::coef(cutoff, self.sr);
        let y = self.lp2.tick(self.lp1.tick(raw, g), g);
        SYNTH_GAIN * y * self.amp.tick()
    }
}

struct HiHat {
    rng: Rng,
    filter: Svf,
    sizzle: Svf,
    env: Env,
    closed: f64,
    open: f64,
}

impl HiHat {
    fn new(sr: f64, rng: Rng, tune: f64) -> Self {
        Self {
            rng,
            // At low sample rates the band moves down so the hat stays audible.
            filter: Svf::new((7000.0 * tune).min(0.3 * sr), 0.7, sr),
            sizzle: Svf::new((10000.0 * tune).min(0.4 * sr), 1.2, sr),
            env: Env::new(0.022, 0.0, 0.022, sr),
            closed: decay_mul(0.022, sr),
            open: decay_mul(0.2, sr),
        }
    }

    fn on_step(&mut self, pos: usize) {
        let (vel, decay) = match HAT_PATTERN[pos] {
            b'x' => (1.0, self.closed),
            b'c' => (0.6, self.closed),
            b'O' => (0.85, self.open),
            _ => return,
        };
        // A closed hit chokes a ringing open hat, as on a real hi-hat stand.
        self.env.decay = decay;
        self.env.trigger(vel * self.rng.humanize(), 1.0);
    }

    fn tick(&mut self) -> f64 {
        let w = self.rng.bipolar();
        let (_, _, hi) = self.filter.tick(w);
        let (_, sz, _) = self.sizzle.tick(w);
        HAT_GAIN * (hi + 0.5 * sz) * self.env.tick()
    }
}

/// One electric-piano note: three partials whose upper ones die away quickly,
/// which is most of what makes a tine piano sound the way it does.
struct KeyNote {
    partials: [Rotor; 3],
    envs: [Env; 3],
}

const KEY_PARTIALS: [(f64, f64, f64); 3] = [(1.0, 1.0, 1.6), (2.0, 0.35, 0.35), (3.0, 0.12, 0.12)];

struct Keys {
    sr: f64,
    rng: Rng,
    tune: f64,
    notes: [KeyNote; 4],
    trem: Phase,
}

impl Keys {
    fn new(sr: f64, rng: Rng, tune: f64) -> Self {
        Self {
            sr,
            rng,
            tune,
            notes: std::array::from_fn(|_| KeyNote {
                partials: std::array::from_fn(|_| Rotor::new()),
                envs: std::array::from_fn(|i| Env::new(KEY_PARTIALS[i].2, 0.0, 0.1, sr)),
            }),
            trem: Phase::default(),
        }
    }

    fn on_step(&mut self, pos: usize) {
        let bar = pos / STEPS_PER_BAR;
        let in_bar = (pos % STEPS_PER_BAR) as u8;
        let Some(&(_, vel)) = KEYS_HITS.iter().find(|h| h.0 == in_bar) else {
            return;
        };
        for (note, &pitch) in self.notes.iter_mut().zip(&KEYS_CHORDS[bar]) {
            let hz = midi_to_hz(pitch) * self.tune;
            let v = vel * self.rng.humanize();
            for ((rotor, env), &(mult, amp, _)) in note
                .partials
                .iter_mut()
                .zip(&mut note.envs)
                .zip(&KEY_PARTIALS)
            {
                rotor.set_freq(hz * mult, self.sr);
                env.trigger(v * amp, 0.004 * self.sr);
            }
        }
    }

    fn tick(&mut self) -> f64 {
        let mut sum = 0.0;
        for note in &mut self.notes {
            for (rotor, env) in note.partials.iter_mut().zip(&mut note.envs) {
                sum += rotor.tick() * env.tick();
            }
        }
        // Tremolo locked to eighth notes, so every loop sounds (and peaks) the same.
        let rate = STEPS_PER_MINUTE as f64 / 60.0 / 2.0;
        let trem = 1.0 - 0.08 * (1.0 + (TAU * self.trem.advance(rate / self.sr)).sin());
        KEYS_GAIN * sum * trem
    }
}

enum Voice {
    Drums(Box<Drums>),
    Bass(Box<Bass>),
    Guitar(Box<Guitar>),
    Vox(Box<Vox>),
    Room(Box<Room>),
    Synth(Box<Synth>),
    HiHat(Box<HiHat>),
    Keys(Box<Keys>),
}

impl Voice {
    fn new(channel: usize, sr: f64, seed: u64) -> Self {
        let variant = channel / VOICE_NAMES.len();
        // Copies of a voice on higher inputs get their own noise and a small
        // detune so no two inputs are bit-identical.
        let cents = if variant == 0 {
            0.0
        } else {
            let sign = if variant % 2 == 1 { 1.0 } else { -1.0 };
            sign * 2.0 * ((variant - 1) % 10 + 1) as f64
        };
        let tune = (cents / 1200.0).exp2();
        let rng = Rng::new(seed ^ splitmix64(channel as u64 + 1));
        match channel % VOICE_NAMES.len() {
            0 => Self::Drums(Box::new(Drums::new(sr, rng, tune))),
            1 => Self::Bass(Box::new(Bass::new(sr, rng, tune))),
            2 => Self::Guitar(Box::new(Guitar::new(sr, rng, tune))),
            3 => Self::Vox(Box::new(Vox::new(sr, rng, tune))),
            4 => Self::Room(Box::new(Room::new(sr, rng, tune))),
            5 => Self::Synth(Box::new(Synth::new(sr, rng, tune))),
            6 => Self::HiHat(Box::new(HiHat::new(sr, rng, tune))),
            _ => Self::Keys(Box::new(Keys::new(sr, rng, tune))),
        }
    }

    fn on_step(&mut self, pos: usize) {
        match self {
            Self::Drums(v) => v.on_step(pos),
            Self::Bass(v) => v.on_step(pos),
            Self::Guitar(v) => v.on_step(pos),
            Self::Vox(v) => v.on_step(pos),
            Self::Room(_) => {}
            Self::Synth(v) => v.on_step(pos),
            Self::HiHat(v) => v.on_step(pos),
            Self::Keys(v) => v.on_step(pos),
        }
    }

    fn tick(&mut self) -> f64 {
        match self {
            Self::Drums(v) => v.tick(),
            Self::Bass(v) => v.tick(),
            Self::Guitar(v) => v.tick(),
            Self::Vox(v) => v.tick(),
            Self::Room(v) => v.tick(),
            Self::Synth(v) => v.tick(),
            Self::HiHat(v) => v.tick(),
            Self::Keys(v) => v.tick(),
        }
    }
}

/// A fake multichannel interface whose inputs play a small band arrangement.
pub struct DemoSynth {
    voices: Vec<Voice>,
    /// Step `n` starts at frame `ceil(n * frames_per_minute / STEPS_PER_MINUTE)`:
    /// exact integer arithmetic, so the band never drifts out of time.
    frames_per_minute: u64,
    frames: u64,
    /// Index of the next sixteenth step to fire, and the frame it fires on.
    next_step: u64,
    next_step_frame: u64,
}

impl DemoSynth {
    /// `channels` >= 1 (up to 256), `sample_rate` in Hz (44100, 48000, 96000 at least; any 8000..=192000 must work), `seed` makes content reproducible.
    ///
    /// Out-of-range arguments are clamped rather than rejected: channels to
    /// 1..=256, the synthesis rate to 8000..=768000 Hz.
    pub fn new(channels: usize, sample_rate: u32, seed: u64) -> Self {
        let channels = channels.clamp(1, MAX_CHANNELS);
        let rate = sample_rate.clamp(MIN_RATE, MAX_RATE);
        let sr = f64::from(rate);
        Self {
            voices: (0..channels).map(|c| Voice::new(c, sr, seed)).collect(),
            frames_per_minute: u64::from(rate) * 60,
            frames: 0,
            next_step: 0,
            next_step_frame: 0,
        }
    }

    pub fn channels(&self) -> usize {
        self.voices.len()
    }

    /// Fills `out` with interleaved frames (out.len() must be a multiple of channels; panic-free: if not, fill the whole frames and zero the remainder).
    /// Must not allocate, lock or do I/O (it is called on an audio thread). Content continues seamlessly across calls regardless of block sizes.
    pub fn render(&mut self, out: &mut [f32]) {
        let channels = self.voices.len();
        let whole = out.len() / channels * channels;
        let (frames, rest) = out.split_at_mut(whole);
        rest.fill(0.0);
        for frame in frames.chunks_exact_mut(channels) {
            // Steps are over a thousand frames long even at 8 kHz, so at most
            // one can start per frame.
            if self.frames >= self.next_step_frame {
                let pos = (self.next_step % LOOP_STEPS as u64) as usize;
                for voice in &mut self.voices {
                    voice.on_step(pos);
                }
                self.next_step += 1;
                self.next_step_frame = self.step_start(self.next_step);
            }
            for (sample, voice) in frame.iter_mut().zip(&mut self.voices) {
                *sample = voice.tick() as f32;
            }
            // Wrapping takes millions of years; restart the clock rather than panic.
            self.frames = self.frames.wrapping_add(1);
            if self.frames == 0 {
                self.next_step = 0;
                self.next_step_frame = 0;
            }
        }
    }

    /// Total frames rendered so far.
    pub fn frames_rendered(&self) -> u64 {
        self.frames
    }

    /// First frame of sixteenth step `step` (u128 so it cannot overflow).
    fn step_start(&self, step: u64) -> u64 {
        let num = u128::from(step) * u128::from(self.frames_per_minute);
        let den = u128::from(STEPS_PER_MINUTE);
        u64::try_from(num.div_ceil(den)).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
impl DemoSynth {
    /// Jumps the clock as if `frame` frames had been rendered (voice state is kept).
    fn seek(&mut self, frame: u64) {
        self.frames = frame;
        let num = u128::from(frame) * u128::from(STEPS_PER_MINUTE);
        let step = num.div_ceil(u128::from(self.frames_per_minute));
        self.next_step = u64::try_from(step).unwrap_or(u64::MAX);
        self.next_step_frame = self.step_start(self.next_step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    const SR: u32 = 48_000;
    const SEED: u64 = 0x7A9E_DEC0;

    fn render(channels: usize, sample_rate: u32, seed: u64, frames: usize) -> Vec<f32> {
        let mut synth = DemoSynth::new(channels, sample_rate, seed);
        let mut out = vec![0.0; frames * channels];
        synth.render(&mut out);
        out
    }

    fn channel(buf: &[f32], channels: usize, c: usize) -> impl Iterator<Item = f32> + '_ {
        buf.iter().skip(c).step_by(channels).copied()
    }

    fn peak(buf: &[f32], channels: usize, c: usize) -> f32 {
        channel(buf, channels, c).fold(0.0, |p, x| p.max(x.abs()))
    }

    fn db(x: f64) -> f64 {
        20.0 * x.max(1e-20).log10()
    }

    fn rms_db(buf: &[f32], channels: usize, c: usize) -> f64 {
        let (sum, n) = channel(buf, channels, c).fold((0.0f64, 0usize), |(s, n), x| {
            (s + f64::from(x) * f64::from(x), n + 1)
        });
        10.0 * (sum / n.max(1) as f64).max(1e-40).log10()
    }

    /// 8 s of 16 inputs at 48 kHz, shared by the level tests.
    fn eight_seconds() -> &'static [f32] {
        static BUF: OnceLock<Vec<f32>> = OnceLock::new();
        BUF.get_or_init(|| render(16, SR, SEED, 8 * SR as usize))
    }

    #[test]
    fn same_seed_same_output_different_seed_different_output() {
        let a = render(8, SR, 7, 20_000);
        let b = render(8, SR, 7, 20_000);
        let c = render(8, SR, 8, 20_000);
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        assert!(a.iter().zip(&c).any(|(x, y)| x.to_bits() != y.to_bits()));
    }

    #[test]
    fn block_size_does_not_change_output() {
        let channels = 12;
        let frames = 2 * SR as usize;
        let whole = render(channels, SR, SEED, frames);
        for block in [1usize, 64, 1000, 333] {
            let mut synth = DemoSynth::new(channels, SR, SEED);
            let mut out = vec![0.0f32; frames * channels];
            for chunk in out.chunks_mut(block * channels) {
                synth.render(chunk);
            }
            assert_eq!(synth.frames_rendered(), frames as u64);
            let same = whole
                .iter()
                .zip(&out)
                .all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "block size {block} changed the output");
        }
    }

    #[test]
    fn voices_peak_where_intended() {
        let buf = eight_seconds();
        // (channel, min peak dBFS, max peak dBFS)
        let ranges = [
            (0, -8.0, -4.0),
            (1, -12.0, -8.0),
            (2, -10.5, -5.5),
            (3, -14.0, -10.0),
            (5, 1.0, 5.0),
            (6, -15.0, -9.0),
            (7, -16.0, -12.0),
        ];
        for (c, lo, hi) in ranges {
            let p = db(f64::from(peak(buf, 16, c)));
            assert!(
                (lo..=hi).contains(&p),
                "{} peaks at {p:.2} dBFS, expected {lo}..{hi}",
                VOICE_NAMES[c]
            );
        }
        let room_rms = rms_db(buf, 16, 4);
        assert!(
            (-53.0..=-47.0).contains(&room_rms),
            "room RMS {room_rms:.2} dBFS"
        );
        assert!(db(f64::from(peak(buf, 16, 4))) < -30.0);
    }

    #[test]
    fn synth_normal_notes_peak_near_minus_3_dbfs() {
        // The first accented note starts at step 24 (about 3.21 s).
        let buf = eight_seconds();
        let head = &buf[..(3.2 * f64::from(SR)) as usize * 16];
        let p = db(f64::from(peak(head, 16, 5)));
        assert!((-4.5..=-1.5).contains(&p), "synth normal peak {p:.2} dBFS");
    }

    #[test]
    fn only_the_synth_clips() {
        let buf = eight_seconds();
        for c in 0..16 {
            let p = peak(buf, 16, c);
            if c % 8 == 5 {
                assert!(p > 1.0, "input {} never clips (peak {p})", c + 1);
            } else {
                assert!(p < 1.0, "input {} clips (peak {p})", c + 1);
            }
        }
    }

    #[test]
    fn finite_and_audible_early_at_any_rate() {
        let channels = 9;
        for rate in [
            8_000, 11_025, 22_050, 44_100, 48_000, 88_200, 96_000, 176_400, 192_000, 0, 1,
            1_000_000,
        ] {
            let frames = rate.clamp(MIN_RATE, MAX_RATE) as usize;
            let buf = render(channels, rate, SEED, frames);
            assert!(
                buf.iter().all(|x| x.is_finite()),
                "non-finite output at {rate} Hz"
            );
            let half = &buf[..frames / 2 * channels];
            for c in 0..channels {
                let p = peak(half, channels, c);
                if c % 8 != 4 {
                    assert!(
                        p > 0.05,
                        "{} silent in the first 0.5 s at {rate} Hz",
                        VOICE_NAMES[c % 8]
                    );
                }
                if c % 8 != 5 {
                    assert!(p < 1.0, "{} clips at {rate} Hz", VOICE_NAMES[c % 8]);
                }
            }
        }
    }

    /// Period (in samples) of the strongest autocorrelation peak near `guess`.
    fn period(x: &[f64], guess: f64) -> f64 {
        let corr = |lag: usize| -> f64 { x.iter().zip(&x[lag..]).map(|(a, b)| a * b).sum() };
        let lo = (guess * 0.9) as usize;
        let hi = (guess * 1.1) as usize;
        let best = (lo..=hi)
            .max_by(|&a, &b| corr(a).total_cmp(&corr(b)))
            .unwrap_or(lo);
        // Parabolic interpolation for sub-sample precision.
        let (y0, y1, y2) = (corr(best - 1), corr(best), corr(best + 1));
        best as f64 + 0.5 * (y0 - y2) / (y0 - 2.0 * y1 + y2)
    }

    fn cents(measured_hz: f64, expected_hz: f64) -> f64 {
        1200.0 * (measured_hz / expected_hz).log2()
    }

    #[test]
    fn karplus_strong_strings_are_in_tune() {
        for sr in [44_100.0, 48_000.0, 96_000.0] {
            for note in [40.0, 50.0, 59.0, 67.0] {
                let hz = midi_to_hz(note);
                let mut string = KsString::new((sr / 70.0) as usize);
                let mut rng = Rng::new(3);
                string.pluck(hz, 1.0, sr, &mut rng);
                let out: Vec<f64> = (0..(0.6 * sr) as usize).map(|_| string.tick()).collect();
                let p = period(&out[(0.1 * sr) as usize..], sr / hz);
                let error = cents(sr / p, hz);
                assert!(
                    error.abs() < 3.0,
                    "note {note} at {sr} Hz is {error:.2} cents off"
                );
            }
        }
    }

    #[test]
    fn bass_starts_on_e() {
        // Measured once the pluck's filter sweep (which bends the phase) has settled,
        // before the second note at 0.40 s.
        let buf = render(2, SR, SEED, SR as usize / 2);
        let bass: Vec<f64> = channel(&buf, 2, 1)
            .skip(SR as usize / 4)
            .take(SR as usize * 3 / 20)
            .map(f64::from)
            .collect();
        let e2 = midi_to_hz(40.0);
        let p = period(&bass, f64::from(SR) / e2);
        let error = cents(f64::from(SR) / p, e2);
        assert!(error.abs() < 5.0, "bass is {error:.2} cents off E2");
    }

    #[test]
    fn inputs_beyond_eight_are_distinct() {
        let channels = 24;
        let buf = render(channels, SR, SEED, SR as usize);
        for a in 0..channels {
            for b in a + 1..channels {
                let identical = channel(&buf, channels, a)
                    .zip(channel(&buf, channels, b))
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(!identical, "inputs {} and {} are identical", a + 1, b + 1);
            }
        }
    }

    #[test]
    fn partial_frames_are_zeroed() {
        let mut synth = DemoSynth::new(3, SR, SEED);
        let mut out = [f32::NAN; 10];
        synth.render(&mut out);
        assert_eq!(synth.frames_rendered(), 3);
        assert!(out[..9].iter().all(|x| x.is_finite()));
        assert_eq!(out[9], 0.0);
        let mut short = [1.0f32; 2];
        synth.render(&mut short);
        assert_eq!(short, [0.0, 0.0]);
        synth.render(&mut []);
        assert_eq!(synth.frames_rendered(), 3);
    }

    #[test]
    fn arguments_are_clamped() {
        assert_eq!(DemoSynth::new(0, SR, 1).channels(), 1);
        assert_eq!(DemoSynth::new(1, SR, 1).channels(), 1);
        assert_eq!(DemoSynth::new(256, SR, 1).channels(), 256);
        assert_eq!(DemoSynth::new(10_000, SR, 1).channels(), 256);
        assert_eq!(VOICE_NAMES.len(), 8);
    }

    #[test]
    fn clock_is_exact_and_loops_repeat() {
        // 112 bpm sixteenths: seven 4-bar loops are exactly one minute.
        let synth = DemoSynth::new(1, SR, 1);
        assert_eq!(synth.step_start(7 * LOOP_STEPS as u64), 60 * u64::from(SR));
        assert_eq!(synth.step_start(1), (60 * u64::from(SR)).div_ceil(448));

        // A minute of playback at a low rate: the last loop must be as loud as the
        // first (no filter blow-up, no decay of the arrangement).
        let rate = 8_000;
        let channels = 8;
        let buf = render(channels, rate, SEED, 60 * rate as usize);
        assert!(buf.iter().all(|x| x.is_finite()));
        let loop_frames = 60 * rate as usize / 7;
        let first = &buf[..loop_frames * channels];
        let last = &buf[buf.len() - loop_frames * channels..];
        for (c, name) in VOICE_NAMES.iter().enumerate() {
            let a = db(f64::from(peak(first, channels, c)));
            let b = db(f64::from(peak(last, channels, c)));
            assert!((a - b).abs() < 2.0, "{name}: {a:.2} vs {b:.2} dBFS");
        }
    }

    #[test]
    fn hours_in_the_clock_is_fine() {
        // Ten hours in (an exact number of loops), the band still starts on the one.
        let mut synth = DemoSynth::new(8, SR, SEED);
        synth.seek(10 * 3600 * u64::from(SR));
        let mut out = vec![0.0f32; SR as usize / 2 * 8];
        synth.render(&mut out);
        assert!(out.iter().all(|x| x.is_finite()));
        for c in [0, 1, 2, 3, 5, 6, 7] {
            assert!(peak(&out, 8, c) > 0.05, "{} silent", VOICE_NAMES[c]);
        }
        synth.seek(u64::MAX - 10_000);
        let mut out = vec![0.0f32; 20_000 * 8];
        synth.render(&mut out);
        assert!(out.iter().all(|x| x.is_finite()));
    }
}
