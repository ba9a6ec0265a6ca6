//! The level report's cost: one second of audio at 48 kHz (24-bit, noise with a tone) measured
//! for 8 to 128 tracks through the take's measuring thread (ebur128 with true peak, plus
//! peaks, sums, clipping and the noise floor), from the writer's first hand-over to the
//! report. The median over one second of audio is the fraction of a core the measurement
//! takes at that track count; it runs on a thread of its own, beside the writer.
//!
//!     cargo bench --bench levels
//!
//! scripts/bench (`--only levels`) reports it per track and as a share of one core.

use std::hint::black_box;

use tapedeck::levels::worker::Measuring;
use tapedeck::levels::{Encoding, LevelMeter};

fn main() {
    divan::main();
}

const RATE: u32 = 48_000;

/// Frames per step, as the writer hands them (about 64 KB of all inputs).
fn step_frames(channels: usize) -> usize {
    (64 * 1024 / 4 / channels).clamp(64, 4096)
}

/// One second of `channels` interleaved 24-bit words: noise around a 1 kHz tone.
fn second(channels: usize) -> Vec<u32> {
    let mut x: u32 = 0x2468_ace1;
    (0..RATE as usize * channels)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let t = (i / channels) as f64 / f64::from(RATE);
            let tone = 0.25 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin();
            let noise = (f64::from(x) / f64::from(u32::MAX) - 0.5) * 0.1;
            (((tone + noise) * 8_388_608.0) as i32) as u32
        })
        .collect()
}

/// Every track of a take, one second, through the measuring thread.
#[divan::bench(args = [8, 32, 64, 128], sample_count = 10)]
fn take_second(bencher: divan::Bencher, tracks: usize) {
    let words = second(tracks);
    let step = step_frames(tracks) * tracks;
    bencher
        .counter(divan::counter::ItemsCount::new(RATE as usize * tracks))
        .bench_local(|| {
            let mut m = Measuring::start((0..tracks).collect(), tracks, RATE, Encoding::Int(24));
            for s in words.chunks(step) {
                m.frames(black_box(s), tracks);
            }
            black_box(m.finish().ok())
        });
}

/// One file's meter alone, one second: the cost per sample.
#[divan::bench(sample_count = 20)]
fn one_track_second(bencher: divan::Bencher) {
    let words = second(1);
    bencher
        .counter(divan::counter::ItemsCount::new(RATE as usize))
        .bench_local(|| {
            let mut m = LevelMeter::new(1, RATE, Encoding::Int(24)).ok()?;
            m.add_words(black_box(&words));
            Some(black_box(m.report()))
        });
}
