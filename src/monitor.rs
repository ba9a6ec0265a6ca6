//! Software input monitoring: the inputs of monitored tracks, heard in the cue.
//!
//! The capture callback mixes the monitored inputs (at most `MAX_MONITORED`, chosen through
//! atomics the engine sets, each with its cue gains) into stereo frames and pushes them into a
//! small SPSC ring of their own (`MonitorIn::feed`); the output callback adds what waits there
//! into the block it plays (`MonitorOut::add`). Both ends are allocated in `monitor`; neither
//! allocates, locks or waits.
//!
//! The ring is kept nearly empty, so that what is heard is as close to what is played as the
//! two callbacks allow: the output starts taking frames once a block's worth waits (its own
//! block, or the capture's when that is longer; both when they differ), and drops whatever
//! waits beyond that and one more block (after an output xrun, say), counting it. Frames the
//! output had to play without (the capture was late) are counted as missing.
//!
//! Each callback publishes an anchor (`crate::anchor`) whose position counts the ring's
//! frames: the capture side the frames pushed before its block and when the block's first
//! frame was sampled; the output side the frames taken before its block and when its first
//! frame will be heard. The latency from an input's converter to the output's is their
//! difference in time less their difference in frames (`MonitorShared::latency`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use crate::anchor::{Anchor, AnchorCell, ConverterClock};
use crate::capture::CaptureSample;
use crate::playback::{Gains, OutputSample};

/// Tracks that can be monitored at once.
pub const MAX_MONITORED: usize = 8;
/// The ring's size in stereo frames: room for a few of the largest blocks; it is kept far
/// emptier than this.
pub const RING_FRAMES: usize = 8192;
/// Frames the capture side mixes at a time.
const STEP_FRAMES: usize = 1024;
/// Marks `capture_cycle` as a JACK frame counter.
const JACK_CYCLE: u64 = 1 << 32;

/// What the engine and both callbacks share: atomics only.
pub struct MonitorShared {
    /// Per slot, the 1-based device input it monitors; 0 for none.
    inputs: [AtomicU32; MAX_MONITORED],
    /// Per slot, its gains (`Gains::to_bits`).
    gains: [AtomicU64; MAX_MONITORED],
    /// Counts the times monitoring was switched on: anchors of an earlier one are stale.
    generation: AtomicU64,
    /// Whether any slot is in use.
    active: AtomicBool,
    /// The capture callback's last block, in frames.
    capture_block: AtomicU32,
    /// JACK: the server's frame counter at the cycle of the capture's last block, plus
    /// `JACK_CYCLE`; 0 elsewhere.
    capture_cycle: AtomicU64,
    /// Frames thrown away: the ring was full when the capture pushed, or held more than the
    /// output lets wait.
    dropped: AtomicU64,
    /// Frames the output played without monitored input while it was running (the capture
    /// side was late).
    missing: AtomicU64,
    /// Frames left waiting in the ring after the output's last block.
    waiting: AtomicU32,
    /// The capture found the ring full (the output stopped taking): all it holds is stale.
    overflowed: AtomicBool,
    capture_anchor: AnchorCell,
    output_anchor: AnchorCell,
}

/// The monitor's latency as measured, in frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonitorLatency {
    /// From the input's converter to the output's: everything together.
    pub total: u64,
    /// The input latency the host reports.
    pub input: u32,
    /// The output latency the host reports.
    pub output: u32,
}

impl MonitorShared {
    fn new() -> Self {
        Self {
            inputs: std::array::from_fn(|_| AtomicU32::new(0)),
            gains: std::array::from_fn(|_| AtomicU64::new(0)),
            generation: AtomicU64::new(0),
            active: AtomicBool::new(false),
            capture_block: AtomicU32::new(0),
            capture_cycle: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            missing: AtomicU64::new(0),
            waiting: AtomicU32::new(0),
            overflowed: AtomicBool::new(false),
            capture_anchor: AnchorCell::new(),
            output_anchor: AnchorCell::new(),
        }
    }

    /// Monitors these device inputs (1-based) with these gains, and no others; at most
    /// `MAX_MONITORED` (the rest are left out).
    pub fn set(&self, monitored: &[(u16, Gains)]) {
        let was = self.active.load(Ordering::Acquire);
        for (i, slot) in self.inputs.iter().enumerate() {
            match monitored.get(i) {
                Some((input, gains)) => {
                    self.gains[i].store(gains.to_bits(), Ordering::Relaxed);
                    slot.store(u32::from(*input), Ordering::Release);
                }
                None => slot.store(0, Ordering::Release),
            }
        }
        let now = !monitored.is_empty();
        if now && !was {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        self.active.store(now, Ordering::Release);
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Frames dropped (ring full, or more waiting than the output lets wait).
    pub fn dropped_frames(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Frames the output played without monitored input once it was running.
    pub fn missing_frames(&self) -> u64 {
        self.missing.load(Ordering::Relaxed)
    }

    /// Frames waiting in the ring after the output's last block.
    pub fn waiting_frames(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Capture-to-output latency from the anchors both callbacks published while monitoring
    /// was on; `None` before both have, or when their clocks cannot be compared.
    pub fn latency(&self, rate: u32) -> Option<MonitorLatency> {
        if !self.is_active() {
            return None;
        }
        let generation = self.generation.load(Ordering::Acquire);
        let cap = self.capture_anchor.read().filter(|a| a.run == generation)?;
        let out = self.output_anchor.read().filter(|a| a.run == generation)?;
        let time = out.frames_after(&cap, rate)?;
        let frames = out.position as i64 - cap.position as i64;
        let total = u64::try_from(time - frames).ok()?;
        Some(MonitorLatency {
            total,
            input: cap.latency_frames,
            output: out.latency_frames,
        })
    }

    /// The monitored inputs (1-based) and their gains, on a device of `channels` inputs.
    #[cfg(test)]
    pub(crate) fn monitored(&self, channels: usize) -> Vec<(u16, Gains)> {
        let (slots, n) = self.slots(channels);
        slots[..n].iter().map(|&(c, g)| (c as u16 + 1, g)).collect()
    }

    /// The monitored slots now: (device channel, gains), and how many.
    #[inline]
    fn slots(&self, channels: usize) -> ([(usize, Gains); MAX_MONITORED], usize) {
        let mut slots = [(0, Gains::SILENT); MAX_MONITORED];
        let mut n = 0;
        for (input, gains) in self.inputs.iter().zip(&self.gains) {
            let input = input.load(Ordering::Acquire) as usize;
            if input == 0 || input > channels {
                continue;
            }
            slots[n] = (input - 1, Gains::from_bits(gains.load(Ordering::Relaxed)));
            n += 1;
        }
        (slots, n)
    }
}

/// The capture callback's end.
pub struct MonitorIn {
    shared: Arc<MonitorShared>,
    ring: HeapProd<f32>,
    /// One step of stereo frames.
    scratch: Box<[f32]>,
    /// Frames pushed so far.
    pushed: u64,
}

/// The output callback's end.
pub struct MonitorOut {
    shared: Arc<MonitorShared>,
    ring: HeapCons<f32>,
    /// Frames taken so far (played or dropped).
    taken: u64,
    /// Taking frames (a block's worth waited); false until then and after running short.
    primed: bool,
    /// Has been taking frames since monitoring was switched on: a short block is missing
    /// audio from then on.
    running: bool,
}

/// Both ends of a monitor and what they share; everything is allocated here.
pub fn monitor() -> (MonitorIn, MonitorOut, Arc<MonitorShared>) {
    let shared = Arc::new(MonitorShared::new());
    let (mut prod, cons) = HeapRb::<f32>::new(RING_FRAMES * 2).split();
    // Every page written once before the streams start (see `capture::ring`).
    let fill = vec![0.0f32; RING_FRAMES * 2];
    prod.push_slice(&fill);
    let mut cons = cons;
    cons.clear();
    (
        MonitorIn {
            shared: Arc::clone(&shared),
            ring: prod,
            scratch: vec![1.0f32; STEP_FRAMES * 2].into_boxed_slice(),
            pushed: 0,
        },
        MonitorOut {
            shared: Arc::clone(&shared),
            ring: cons,
            taken: 0,
            primed: false,
            running: false,
        },
        shared,
    )
}

impl MonitorIn {
    /// Mixes the monitored inputs of a captured block (`channels` interleaved) into the ring.
    /// `converter`: when its first frame was sampled (clock, time, the input latency the host
    /// reported), where known.
    #[inline]
    pub fn feed<T: CaptureSample>(
        &mut self,
        data: &[T],
        channels: usize,
        converter: Option<(ConverterClock, u64, u32)>,
    ) {
        if !self.shared.active.load(Ordering::Acquire) {
            return;
        }
        let (slots, n) = self.shared.slots(channels);
        if n == 0 {
            return;
        }
        let frames = data.len() / channels.max(1);
        self.shared
            .capture_block
            .store(frames as u32, Ordering::Relaxed);
        let cycle = match converter {
            Some((ConverterClock::JackFrames, at, latency)) => {
                JACK_CYCLE | u64::from((at as u32).wrapping_add(latency))
            }
            _ => 0,
        };
        self.shared.capture_cycle.store(cycle, Ordering::Relaxed);
        if let Some((clock, at, latency_frames)) = converter {
            self.shared.capture_anchor.publish(Anchor {
                run: self.shared.generation.load(Ordering::Acquire),
                position: self.pushed,
                clock,
                at,
                latency_frames,
            });
        }
        let slots = &slots[..n];
        for part in data.chunks(STEP_FRAMES * channels) {
            let count = part.len() / channels;
            let lr = &mut self.scratch[..count * 2];
            for (frame, o) in part.chunks_exact(channels).zip(lr.chunks_exact_mut(2)) {
                let (ch, g) = slots[0];
                let x = frame[ch].to_cue();
                let (mut l, mut r) = (x * g.left, x * g.right);
                for &(ch, g) in &slots[1..] {
                    let x = frame[ch].to_cue();
                    l += x * g.left;
                    r += x * g.right;
                }
                o[0] = l;
                o[1] = r;
            }
            let room = self.ring.vacant_len() / 2;
            let fits = count.min(room);
            self.ring.push_slice(&lr[..fits * 2]);
            self.pushed += fits as u64;
            if fits < count {
                self.shared
                    .dropped
                    .fetch_add((count - fits) as u64, Ordering::Relaxed);
                self.shared.overflowed.store(true, Ordering::Release);
            }
        }
    }
}

impl MonitorOut {
    /// Adds the monitored input waiting in the ring into `out` (`channels` interleaved,
    /// `frames` long; the cue is there already). `heard`: when its first frame will be heard
    /// (clock, time, the output latency the host reported), where known.
    #[inline]
    pub fn add<T: OutputSample>(
        &mut self,
        out: &mut [T],
        channels: usize,
        heard: Option<(ConverterClock, u64, u32)>,
    ) {
        let channels = channels.max(1);
        let frames = out.len() / channels;
        let mut fill = self.ring.occupied_len() / 2;
        let overflowed = self.shared.overflowed.swap(false, Ordering::AcqRel);
        if overflowed && fill > 0 {
            // Everything waiting is older than the frames the capture could not push.
            self.shared
                .dropped
                .fetch_add(fill as u64, Ordering::Relaxed);
        }
        if overflowed || !self.shared.active.load(Ordering::Acquire) {
            // Nothing stale is heard when monitoring comes back.
            self.ring.skip(fill * 2);
            self.taken += fill as u64;
            self.primed = false;
            self.running = false;
            self.shared.waiting.store(0, Ordering::Relaxed);
            return;
        }
        let capture = self.shared.capture_block.load(Ordering::Relaxed) as usize;
        let (big, small) = (frames.max(capture), frames.min(capture).max(1));
        // A block's worth; when the two callbacks' blocks differ, the shorter one more, so
        // that the longer one's arrival never finds the ring empty.
        let prime = if big == small || capture == 0 {
            big
        } else {
            big + small
        };
        // JACK runs tapedeck's two clients in either order, even at once on two cores. When
        // the capture already ran in this cycle, its block waits for the next: the output
        // then plays the previous cycle's block whichever runs first, and never runs short
        // when the order changes.
        let this_cycle = match heard {
            Some((ConverterClock::JackFrames, at, latency)) => {
                JACK_CYCLE | u64::from((at as u32).wrapping_sub(latency))
            }
            _ => u64::MAX,
        };
        let prime = if self.shared.capture_cycle.load(Ordering::Relaxed) == this_cycle {
            prime + capture
        } else {
            prime
        };
        if fill > prime + big {
            let excess = fill - prime;
            self.ring.skip(excess * 2);
            self.taken += excess as u64;
            self.shared
                .dropped
                .fetch_add(excess as u64, Ordering::Relaxed);
            fill = prime;
        }
        if !self.primed && fill >= prime.max(1) && capture > 0 {
            self.primed = true;
            self.running = true;
        }
        let n = if self.primed { fill.min(frames) } else { 0 };
        if n < frames {
            if self.running {
                self.shared
                    .missing
                    .fetch_add((frames - n) as u64, Ordering::Relaxed);
            }
            self.primed = false;
        }
        if n > 0 {
            if let Some((clock, at, latency_frames)) = heard {
                self.shared.output_anchor.publish(Anchor {
                    run: self.shared.generation.load(Ordering::Acquire),
                    position: self.taken,
                    clock,
                    at,
                    latency_frames,
                });
            }
            let (a, b) = self.ring.as_slices();
            let from_a = (a.len() / 2).min(n);
            let out_a = &mut out[..from_a * channels];
            mix_into(out_a, channels, &a[..from_a * 2]);
            let out_b = &mut out[from_a * channels..n * channels];
            mix_into(out_b, channels, &b[..(n - from_a) * 2]);
            self.ring.skip(n * 2);
            self.taken += n as u64;
        }
        self.shared
            .waiting
            .store((self.ring.occupied_len() / 2) as u32, Ordering::Relaxed);
    }
}

/// Adds stereo frames `lr` to the device's frames: left and right on the first two channels;
/// one channel gets (left + right) / 2.
#[inline]
fn mix_into<T: OutputSample>(out: &mut [T], channels: usize, lr: &[f32]) {
    if channels == 1 {
        for (o, f) in out.iter_mut().zip(lr.chunks_exact(2)) {
            *o = o.add_cue((f[0] + f[1]) * 0.5);
        }
        return;
    }
    for (o, f) in out.chunks_exact_mut(channels).zip(lr.chunks_exact(2)) {
        o[0] = o[0].add_cue(f[0]);
        o[1] = o[1].add_cue(f[1]);
    }
}

/// When an output block's first frame is heard, on the converter's clock: JACK's frame
/// counter plus the playback latency, or the playback time cpal gives.
pub fn heard_at(stamp: crate::playback::OutStamp, rate: u32) -> Option<(ConverterClock, u64, u32)> {
    match stamp {
        crate::playback::OutStamp::JackCycle { frame, latency } => Some((
            ConverterClock::JackFrames,
            u64::from(frame.wrapping_add(latency)),
            latency,
        )),
        crate::playback::OutStamp::Host {
            callback_ns,
            playback_ns,
        } => {
            let at = playback_ns.or(callback_ns)?;
            let latency = callback_ns.zip(playback_ns).map_or(0, |(c, p)| {
                let ns = u128::from(p.saturating_sub(c));
                ((ns * u128::from(rate.max(1)) + 500_000_000) / 1_000_000_000) as u32
            });
            Some((ConverterClock::Nanos, at, latency))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Capture, Stamp, TimestampTrust};
    use crate::playback::{Cue, OutStamp, Player, Playout};

    const RATE: u32 = 48_000;
    const PERIOD: usize = 256;
    const CHANNELS: usize = 4;
    const IN_LATENCY: u32 = 256;
    const OUT_LATENCY: u32 = 512;

    /// The capture and output callbacks joined by a monitor, both driven by hand as JACK
    /// would, a cycle at a time. The player has nothing to play: the cue is silence.
    struct Rig {
        capture: Capture,
        playout: Playout,
        _player: Player,
        shared: Arc<MonitorShared>,
        _ring: crate::capture::CaptureOutput,
        cycle: u32,
        /// Next value of the counter on input 2.
        counter: u32,
        /// Every frame played: (left, right).
        played: Vec<(f32, f32)>,
    }

    /// The counter's k-th value: exact in f32, never 0, below 1.0.
    fn value(k: u32) -> f32 {
        (k % (1 << 20) + 1) as f32 / (1u32 << 20) as f32
    }

    fn index(v: f32) -> u32 {
        let x = v * (1u32 << 20) as f32;
        assert_eq!(x.fract(), 0.0, "{v} is no counter value");
        x as u32 - 1
    }

    impl Rig {
        fn new() -> Self {
            let (mut capture, ring, _) = Capture::new(
                CHANNELS,
                RATE,
                RATE as usize,
                TimestampTrust::Exact {
                    whole_periods: true,
                },
            );
            let (player, mut playout, _) = Player::new(Vec::new(), RATE, 8192).expect("player");
            let (min, mout, shared) = monitor();
            capture.set_monitor(min);
            playout.set_monitor(mout);
            Self {
                capture,
                playout,
                _player: player,
                shared,
                _ring: ring,
                cycle: 1_000_000,
                counter: 0,
                played: Vec::new(),
            }
        }

        /// Input 2 carries the counter; the others something that must not be heard.
        fn capture(&mut self) {
            let mut block = vec![0.75f32; PERIOD * CHANNELS];
            for f in block.chunks_exact_mut(CHANNELS) {
                f[1] = value(self.counter);
                self.counter += 1;
            }
            self.capture.on_block(
                &block,
                Stamp::JackCycle {
                    frame: self.cycle,
                    wake_ns: 1000,
                    clock_ns: Some(u64::from(self.cycle) * 20_833),
                    read_end: self.cycle,
                    latency: IN_LATENCY,
                },
            );
        }

        fn output(&mut self) {
            let mut out = vec![9.0f32; PERIOD * 2];
            self.playout.on_block(
                &mut out,
                2,
                OutStamp::JackCycle {
                    frame: self.cycle,
                    latency: OUT_LATENCY,
                },
            );
            self.played
                .extend(out.chunks_exact(2).map(|f| (f[0], f[1])));
        }

        fn next_cycle(&mut self) {
            self.cycle = self.cycle.wrapping_add(PERIOD as u32);
        }

        fn monitor_input_2(&self) {
            self.shared.set(&[(2, Gains::of(&Cue::default()))]);
        }

        /// The frames played since `from`: each either silence or the counter value, with
        /// left and right equal; returns the counter indices in order (None: silence).
        fn heard(&self, from: usize) -> Vec<Option<u32>> {
            self.played[from..]
                .iter()
                .map(|&(l, r)| {
                    assert_eq!(l.to_bits(), r.to_bits(), "unity centre: both sides alike");
                    (l.to_bits() != 0).then(|| index(l))
                })
                .collect()
        }
    }

    /// The counter is heard from its first value on, every value once, in order, with no gap.
    fn assert_continuous(heard: &[Option<u32>]) -> usize {
        let start = heard
            .iter()
            .position(Option::is_some)
            .expect("something heard");
        let first = heard[start].expect("heard");
        for (i, h) in heard[start..].iter().enumerate() {
            assert_eq!(*h, Some(first + i as u32), "frame {} after the start", i);
        }
        start
    }

    #[test]
    fn the_input_is_heard_at_unity_centre_in_order_without_gaps() {
        // JACK runs the two clients in either order: the output plays the previous cycle's
        // capture whichever runs first, and a change of order is no gap.
        type Order = fn(usize) -> bool;
        let orders: [(&str, Order); 3] = [
            ("capture first", |_| true),
            ("output first", |_| false),
            ("changing", |i| (i * 7 + i / 3) % 5 < 2),
        ];
        for (name, capture_first) in orders {
            let mut rig = Rig::new();
            rig.monitor_input_2();
            for i in 0..60 {
                if capture_first(i) {
                    rig.capture();
                    rig.output();
                } else {
                    rig.output();
                    rig.capture();
                }
                rig.next_cycle();
            }
            let heard = rig.heard(0);
            assert_eq!(assert_continuous(&heard), PERIOD, "{name}: one cycle later");
            assert_eq!(heard[PERIOD], Some(0), "{name}");
            let l = rig.shared.latency(RATE).expect("latency");
            assert_eq!(
                l.total,
                u64::from(IN_LATENCY + OUT_LATENCY) + PERIOD as u64,
                "{name}"
            );
            assert_eq!((l.input, l.output), (IN_LATENCY, OUT_LATENCY));
            assert_eq!(rig.shared.missing_frames(), 0, "{name}");
            assert_eq!(rig.shared.dropped_frames(), 0, "{name}");
        }
    }

    #[test]
    fn off_is_silence_and_nothing_stale_comes_back() {
        let mut rig = Rig::new();
        for _ in 0..10 {
            rig.capture();
            rig.output();
            rig.next_cycle();
        }
        assert!(
            rig.played
                .iter()
                .all(|&(l, r)| l.to_bits() == 0 && r.to_bits() == 0)
        );
        assert_eq!(rig.shared.latency(RATE), None);
        // On, then off with input waiting: the rest is silence.
        rig.monitor_input_2();
        for _ in 0..10 {
            rig.capture();
            rig.output();
            rig.next_cycle();
        }
        rig.capture();
        rig.shared.set(&[]);
        let from = rig.played.len();
        for _ in 0..5 {
            rig.output();
            rig.capture();
            rig.next_cycle();
        }
        assert!(
            rig.heard(from).iter().all(Option::is_none),
            "silence when off"
        );
        // On again: heard at once, from the input of now, not what waited before.
        rig.monitor_input_2();
        let from = rig.played.len();
        let now = rig.counter;
        for _ in 0..5 {
            rig.capture();
            rig.output();
            rig.next_cycle();
        }
        let heard = rig.heard(from);
        let start = assert_continuous(&heard);
        assert_eq!(heard[start], Some(now));
    }

    #[test]
    fn a_pan_and_gain_of_the_cue_apply_and_other_inputs_stay_out() {
        let mut rig = Rig::new();
        let cue = Cue {
            gain_db: 0.0,
            pan: -1.0,
            ..Cue::default()
        };
        rig.shared.set(&[(2, Gains::of(&cue))]);
        for _ in 0..4 {
            rig.capture();
            rig.output();
            rig.next_cycle();
        }
        for (k, &(l, r)) in rig.played[PERIOD..].iter().enumerate() {
            assert_eq!((l, r.to_bits()), (value(k as u32), 0), "hard left");
        }
    }

    #[test]
    fn an_overflow_is_dropped_and_counted_and_the_latency_stays_small() {
        let mut rig = Rig::new();
        rig.monitor_input_2();
        for _ in 0..10 {
            rig.capture();
            rig.output();
            rig.next_cycle();
        }
        let steady = rig.shared.latency(RATE).expect("latency").total;
        // The output stops being called for 100 cycles (an xrun of its own): the ring fills
        // and overflows.
        for _ in 0..100 {
            rig.capture();
            rig.next_cycle();
        }
        assert!(
            rig.shared.dropped_frames() > 0,
            "the full ring dropped frames"
        );
        let from = rig.played.len();
        for _ in 0..20 {
            rig.capture();
            rig.output();
            rig.next_cycle();
        }
        assert!(
            rig.shared.waiting_frames() as usize <= PERIOD,
            "{} frames wait",
            rig.shared.waiting_frames()
        );
        let dropped = rig.shared.dropped_frames();
        assert!(
            dropped >= (100 * PERIOD - RING_FRAMES) as u64,
            "{dropped} frames dropped"
        );
        // Back to the latency before, at once, and continuous after the first block.
        assert_eq!(rig.shared.latency(RATE).expect("latency").total, steady);
        let heard = rig.heard(from);
        assert_continuous(&heard[PERIOD..]);
        assert_eq!(
            heard[heard.len() - 1],
            Some(rig.counter - 1 - PERIOD as u32)
        );
        assert_eq!(rig.shared.missing_frames(), 0);

        // A shorter pause (5 cycles) leaves more than a couple of periods waiting, not a full
        // ring: the excess is dropped, the newest frames stay, and the latency is back.
        let dropped = rig.shared.dropped_frames();
        for _ in 0..5 {
            rig.capture();
            rig.next_cycle();
        }
        let from = rig.played.len();
        for _ in 0..5 {
            rig.capture();
            rig.output();
            rig.next_cycle();
        }
        assert_eq!(rig.shared.dropped_frames() - dropped, 5 * PERIOD as u64);
        let heard = rig.heard(from);
        assert_eq!(
            assert_continuous(&heard),
            0,
            "no silence: frames were waiting"
        );
        assert_eq!(
            heard[heard.len() - 1],
            Some(rig.counter - 1 - PERIOD as u32)
        );
        assert_eq!(rig.shared.latency(RATE).expect("latency").total, steady);
        assert_eq!(rig.shared.missing_frames(), 0);
    }

    #[test]
    fn a_late_capture_is_counted_missing_and_the_monitor_goes_on() {
        let mut rig = Rig::new();
        rig.monitor_input_2();
        for _ in 0..5 {
            rig.capture();
            rig.output();
            rig.next_cycle();
        }
        // Two cycles without capture: the output has one block, then nothing.
        for _ in 0..2 {
            rig.output();
            rig.next_cycle();
        }
        assert_eq!(rig.shared.missing_frames(), PERIOD as u64);
        // It starts again a cycle behind the capture (counted missing too), then goes on.
        let from = rig.played.len();
        for _ in 0..5 {
            rig.capture();
            rig.output();
            rig.next_cycle();
        }
        assert_eq!(rig.shared.missing_frames(), 2 * PERIOD as u64);
        let heard = rig.heard(from);
        assert_eq!(assert_continuous(&heard), PERIOD);
    }
}
