//! `calibrate`'s analysis: one repeat's cross-correlation (a 1.4 s MLS over a 1.5 s window of
//! lags) at 48 and 96 kHz, planned once as the command does, and the whole three-repeat
//! analysis with its planning. Target: well under the time it takes to play one repeat
//! (about 3 s), so the user never waits on the arithmetic.
//!
//!     cargo bench --bench calibrate

use std::hint::black_box;

use tapedeck::calibrate::{Correlator, TestSignal, analyse};

fn main() {
    divan::main();
}

/// What came back: the signal 1000 frames late at half the level.
fn returned(signal: &TestSignal) -> Vec<f32> {
    let played = signal.samples();
    (0..played.len())
        .map(|k| k.checked_sub(1000).map_or(0.0, |i| played[i] * 0.5))
        .collect()
}

#[divan::bench(args = [48_000, 96_000], sample_count = 20)]
fn one_repeat(bencher: divan::Bencher, rate: u32) {
    let signal = TestSignal::new(rate);
    let captured = returned(&signal);
    let correlator = Correlator::new(signal.probe(), signal.window(), rate);
    bencher.bench_local(|| black_box(correlator.run(black_box(&captured), signal.start() as i64)));
}

#[divan::bench(args = [48_000, 96_000], sample_count = 10)]
fn three_repeats_with_planning(bencher: divan::Bencher, rate: u32) {
    let signal = TestSignal::new(rate);
    let captures = vec![returned(&signal); 3];
    bencher.bench_local(|| black_box(analyse(&signal, black_box(&captures))));
}
