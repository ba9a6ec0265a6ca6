//! The capture callback's work per period: `Capture::on_block`, the entry point the stream
//! calls, on one JACK cycle of 256 frames of f32 at 48 kHz, for 2 to 256 inputs. The frame
//! counter advances by one period per call and every read ends in its own cycle, so no gap is
//! ever measured and every block takes the hold-back's full path: converted, compared with the
//! block held before it (the same period each time, so the comparison runs to the end: its
//! worst case), and stored. The writer's end of the ring is drained after every call so the
//! ring never fills: what is measured is conversion, the hold-back, the ring push and the gap
//! bookkeeping, nothing else.
//!
//!     cargo bench --bench callback
//!
//! scripts/bench runs it and reports each median as a fraction of the period (5.33 ms).

use std::hint::black_box;

use ringbuf::traits::Consumer;
use tapedeck::capture::{Capture, Stamp, TimestampTrust};

const RATE: u32 = 48_000;
const PERIOD: usize = 256;

fn main() {
    divan::main();
}

/// One period of a counter signal on every input (channel c carries ±(k + 1 + 1024 c) / 2^23):
/// real, varying values.
fn period(channels: usize) -> Vec<f32> {
    let mut data = Vec::with_capacity(PERIOD * channels);
    for k in 0..PERIOD {
        for c in 0..channels {
            let v = (k + 1 + 1024 * c) as f32 / 8_388_608.0;
            data.push(if c % 2 == 0 { v } else { -v });
        }
    }
    data
}

#[divan::bench(args = [2, 8, 64, 256], sample_count = 200, sample_size = 50)]
fn jack_cycle_f32_256_frames(bencher: divan::Bencher, channels: usize) {
    let data = period(channels);
    // A second of ring: more than a sample's worth of periods between drains is never needed.
    let (mut capture, mut output, _shared) = Capture::new(
        channels,
        RATE,
        RATE as usize,
        TimestampTrust::Exact {
            whole_periods: true,
        },
    );
    let mut cycle: u64 = 0;
    bencher.bench_local(|| {
        let frame = (cycle * PERIOD as u64) as u32;
        let clock_ns = 1_000_000 + cycle * PERIOD as u64 * 1_000_000_000 / u64::from(RATE);
        cycle += 1;
        let stamp = Stamp::JackCycle {
            frame,
            wake_ns: 1000,
            clock_ns: Some(clock_ns),
            read_end: frame,
            latency: 0,
        };
        capture.on_block::<f32>(black_box(&data), stamp);
        output.samples.skip(PERIOD * channels);
    });
}
