//! The callback as a whole, through its one entry point: blocks stamped as the hosts stamp
//! them go in, and the stored audio and the gaps queued come out. `timeline` and `holdback`
//! test their parts alone.

use ringbuf::traits::Consumer;

use super::*;

const RATE: u64 = 96_000;
const PERIOD: u64 = 256;

fn period_ns(n: u64) -> u64 {
    n * PERIOD * 1_000_000_000 / RATE
}

/// A host's stamp of a block captured at `ns`.
fn host(ns: u64) -> Stamp {
    Stamp::Host {
        capture_ns: Some(ns),
        callback_ns: None,
    }
}

/// A JACK cycle's stamp, the system clock given.
fn jack(frame: u32, wake_ns: u64, clock_ns: u64, read_end: u32) -> Stamp {
    Stamp::JackCycle {
        frame,
        wake_ns,
        clock_ns: Some(clock_ns),
        read_end,
        latency: 0,
    }
}

/// Feeds blocks at the given capture times and returns the gaps queued.
fn gaps_for(times: impl IntoIterator<Item = u64>, trust: TimestampTrust) -> Vec<Gap> {
    let (mut c, mut out, _) = Capture::new(2, RATE as u32, RATE as usize, trust);
    let block = vec![0.25f32; PERIOD as usize * 2];
    let mut gaps = Vec::new();
    for t in times {
        c.on_block(&block, host(t));
        out.samples.clear();
        while let Some(g) = out.gaps.try_pop() {
            gaps.push(g);
        }
    }
    gaps
}

const JACK: TimestampTrust = TimestampTrust::Exact {
    whole_periods: true,
};

#[test]
fn a_late_cycle_and_the_catch_up_after_it_are_not_a_gap() {
    // Cycle 10 wakes 0.8 of a period late, cycle 11 on time; later, three cycles in a row
    // come late and the host catches up with quick ones.
    let times = (0..2000).map(|k| {
        let late = match k {
            10 => period_ns(1) * 8 / 10,
            500..=502 => period_ns(1) * 7 / 10,
            _ => 0,
        };
        1_000_000 + period_ns(k) + late
    });
    assert_eq!(gaps_for(times, JACK), []);
}

#[test]
fn lost_cycles_are_exact_periods_at_their_place_even_with_jitter() {
    // Cycles 100-101, 400 and 777 never reach us; every delivered cycle is up to half a
    // period late, at random.
    let lost = |k: &u64| (100..=101).contains(k) || *k == 400 || *k == 777;
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let times: Vec<u64> = (0..5000u64)
        .filter(|k| !lost(k))
        .map(|k| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            period_ns(k) + (x % (period_ns(1) / 2))
        })
        .collect();
    let gap = |at: u64, n: u64| Gap {
        at_frame: at * PERIOD,
        frames: n * PERIOD,
        cause: GapCause::DeviceXrun,
        exact: true,
    };
    assert_eq!(
        gaps_for(times, JACK),
        [gap(100, 2), gap(400, 1), gap(777, 1)]
    );
}

#[test]
fn a_device_clock_slower_than_the_system_clock_is_not_a_gap() {
    // 200 ppm slow, for 10 minutes of periods: 120 ms of drift, ~4.5 periods.
    let n = 10 * 60 * RATE / PERIOD;
    let times = (0..n).map(|k| period_ns(k) + period_ns(k) / 5000);
    assert_eq!(gaps_for(times, JACK), []);
}

#[test]
fn a_server_falling_behind_is_not_a_gap() {
    // For 2000 cycles the host's cycles come 5 % further apart than its period says (an
    // overloaded server), with up to 0.3 of a period of jitter on top: nothing is lost.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut t = 0u64;
    let times: Vec<u64> = (0..3000u64)
        .map(|k| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            t += if (500..2500).contains(&k) {
                period_ns(1) * 105 / 100
            } else {
                period_ns(1)
            };
            t + x % (period_ns(1) * 3 / 10)
        })
        .collect();
    assert_eq!(gaps_for(times, JACK), []);
}

#[test]
fn a_stall_is_measured_from_the_timeline() {
    // 300 ms without callbacks, the cycles in it lost: 112.5 periods -> 112 or 113.
    let stall = 300_000_000u64;
    let times = (0..400u64).map(|k| {
        if k < 200 {
            period_ns(k)
        } else {
            period_ns(k) + stall - stall % period_ns(1)
        }
    });
    let gaps = gaps_for(times, JACK);
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].at_frame, 200 * PERIOD);
    assert_eq!(gaps[0].frames, 112 * PERIOD);
}

/// Feeds JACK cycles as (frame counter, system clock in periods from the start) and
/// returns the gaps queued.
fn gaps_by_counter(cycles: impl IntoIterator<Item = (u32, f64)>) -> Vec<Gap> {
    let (mut c, mut out, _) = Capture::new(2, RATE as u32, RATE as usize, JACK);
    let block: Vec<f32> = (0..PERIOD * 2).map(|i| i as f32 / 1024.0).collect();
    let mut gaps = Vec::new();
    for (frame, at) in cycles {
        let ns = 1_000_000 + (at * period_ns(1) as f64) as u64;
        c.on_block(&block, jack(frame, 1000, ns, frame));
        out.samples.clear();
        while let Some(g) = out.gaps.try_pop() {
            gaps.push(g);
        }
    }
    gaps
}

#[test]
fn cycles_late_by_the_clock_are_no_gap_while_the_frame_counter_runs_on() {
    // Cycles that run late by the clock (a whole period and more, ten in a row) are no
    // gap while the frame counter runs on.
    let cycles = (0..200u32).map(|i| {
        let at = f64::from(i) + if (50..60).contains(&i) { 1.3 } else { 0.0 };
        (i * PERIOD as u32, at)
    });
    let gaps = gaps_by_counter(cycles);
    assert!(gaps.is_empty(), "{gaps:?}");
}

#[test]
fn cycles_the_server_ran_without_us_are_exact_by_the_frame_counter() {
    // 56 cycles skipped at cycle 100, while the clock says 55.6.
    let cycles = (0..300u32).filter(|i| !(100..156).contains(i)).map(|i| {
        let at = f64::from(i) - if i >= 156 { 0.4 } else { 0.0 };
        (i * PERIOD as u32, at)
    });
    let gaps = gaps_by_counter(cycles);
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].at_frame, 100 * PERIOD);
    assert_eq!(gaps[0].frames, 56 * PERIOD);
    assert!(gaps[0].exact);
}

#[test]
fn a_server_that_stood_still_for_seconds_gets_an_estimated_silence_and_a_short_one_none() {
    // The server stops for 3 s after cycle 100 and for 0.3 s after cycle 300; its frame
    // counter waits both times.
    let periods = |seconds: f64| seconds * RATE as f64 / PERIOD as f64;
    let cycles = (0..500u32).map(|i| {
        let mut at = f64::from(i);
        if i > 100 {
            at += periods(3.0);
        }
        if i > 300 {
            at += periods(0.3);
        }
        (i * PERIOD as u32, at)
    });
    let gaps = gaps_by_counter(cycles);
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].at_frame, 101 * PERIOD);
    assert!(gaps[0].frames.abs_diff(3 * RATE) <= 1, "{gaps:?}");
    assert!(!gaps[0].exact, "measured by the clock, not by the server");
}

#[test]
fn a_server_stall_stays_when_the_block_after_it_ran_under_the_next_cycles_stamp() {
    // The server stands still for 3 s after cycle 100 (its counter waits). The first
    // callback after it runs so late that the counter has moved on: it and the next
    // carry the same stamp. The stamp's hole is none, the 3 s standstill still is one.
    let (mut c, mut out, _) = Capture::new(2, RATE as u32, RATE as usize, JACK);
    let stall_periods = 3.0 * RATE as f64 / PERIOD as f64;
    let mut gaps = Vec::new();
    let mut blocks = 0usize;
    let mut feed = |c: &mut Capture, cycle: u32, at: f64| {
        // Audio that differs from block to block, as music does.
        let block: Vec<f32> = (0..PERIOD * 2)
            .map(|i| (blocks * 4096 + i as usize) as f32 / 1_048_576.0)
            .collect();
        blocks += 1;
        let ns = 1_000_000 + (at * period_ns(1) as f64) as u64;
        let frame = cycle * PERIOD as u32;
        c.on_block(&block, jack(frame, 1000, ns, frame));
    };
    for i in 0..=100u32 {
        feed(&mut c, i, f64::from(i));
    }
    feed(&mut c, 102, 101.0 + stall_periods);
    feed(&mut c, 102, 101.2 + stall_periods);
    for i in 103..120u32 {
        feed(&mut c, i, f64::from(i) - 1.0 + stall_periods);
    }
    out.samples.clear();
    while let Some(g) = out.gaps.try_pop() {
        gaps.push(g);
    }
    let lost: u64 = gaps.iter().map(|g| g.frames).sum();
    assert!(lost.abs_diff(3 * RATE) <= 2 * PERIOD, "{gaps:?}");
    assert!(gaps.iter().any(|g| g.frames > 0 && !g.exact), "{gaps:?}");
}

#[test]
fn the_frame_counter_wraps_without_a_gap_and_a_skip_across_the_wrap_is_exact() {
    let start = u32::MAX - 20 * PERIOD as u32 + 1;
    let cycles = (0..100u32)
        .filter(|&i| i != 30 && i != 31)
        .map(|i| (start.wrapping_add(i * PERIOD as u32), f64::from(i)));
    let gaps = gaps_by_counter(cycles);
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].at_frame, 30 * PERIOD);
    assert_eq!(gaps[0].frames, 2 * PERIOD);
}

/// JACK-like blocks of a two-channel counter: (cycle whose audio, cycle whose stamp, how
/// late the callback ran in periods), through cpal's stamps. Returns the gaps and the
/// counter values stored.
fn replay(blocks: &[(u64, u64, f64)]) -> (Vec<Gap>, Vec<u64>) {
    let blocks: Vec<_> = blocks.iter().map(|&(a, s, l)| (a, s, l, 0)).collect();
    replay_through(&blocks, |c, block, cycle, wake, _| {
        let at = 1_000_000 + period_ns(cycle);
        c.on_block(
            block,
            Stamp::Host {
                capture_ns: Some(at),
                callback_ns: Some(at + wake),
            },
        );
    })
}

/// [`replay`] on JACK's frame-counter path: (cycle whose audio, cycle of the counter, how
/// late the callback ran in periods, how many cycles the server began during the read).
fn replay_counted(blocks: &[(u64, u64, f64, u32)]) -> (Vec<Gap>, Vec<u64>) {
    replay_through(blocks, |c, block, cycle, wake, begun| {
        let frame = (cycle * PERIOD) as u32;
        let clock = 1_000_000 + period_ns(cycle) + wake;
        let read_end = frame + begun * PERIOD as u32;
        c.on_block(block, jack(frame, wake, clock, read_end));
    })
}

/// Feeds each block, and one of silence after them to let the last out, through `feed`
/// (the capture, the block, its cycle, how late in ns, cycles begun during the read).
fn replay_through(
    blocks: &[(u64, u64, f64, u32)],
    mut feed: impl FnMut(&mut Capture, &[f32], u64, u64, u32),
) -> (Vec<Gap>, Vec<u64>) {
    let (mut c, mut out, _) = Capture::new(2, RATE as u32, RATE as usize, JACK);
    let mut gaps = Vec::new();
    let mut stored = Vec::new();
    let block_of = |audio: u64| -> Vec<f32> {
        (0..PERIOD)
            .flat_map(|i| {
                let k = (audio * PERIOD + i + 1) as f32;
                [k, -k]
            })
            .collect()
    };
    let last = blocks.last().map_or(0, |b| b.1 + 1);
    let silence = vec![0.0f32; PERIOD as usize * 2];
    let all = blocks
        .iter()
        .map(|&(audio, cycle, late, begun)| (block_of(audio), cycle, late, begun))
        .chain([(silence, last, 0.0, 0)]);
    for (block, cycle, late, begun) in all {
        feed(
            &mut c,
            &block,
            cycle,
            (late * period_ns(1) as f64) as u64,
            begun,
        );
        while let Some(w) = out.samples.try_pop() {
            stored.push(f32::from_bits(w));
        }
        while let Some(g) = out.gaps.try_pop() {
            gaps.push(g);
        }
    }
    let firsts = stored
        .chunks_exact(2)
        .filter(|f| f[0] != 0.0)
        .map(|f| {
            assert_eq!(f[0], -f[1], "channels stay together");
            f[0] as u64
        })
        .collect();
    (gaps, firsts)
}

fn counter(cycles: impl IntoIterator<Item = u64>) -> Vec<u64> {
    cycles
        .into_iter()
        .flat_map(|c| (0..PERIOD).map(move |i| c * PERIOD + i + 1))
        .collect()
}

fn lost_at(cycle: u64) -> Gap {
    lost(cycle, 1)
}

/// An exact dropout of `periods` periods from `cycle` on.
fn lost(cycle: u64, periods: u64) -> Gap {
    Gap {
        at_frame: cycle * PERIOD,
        frames: periods * PERIOD,
        cause: GapCause::DeviceXrun,
        exact: true,
    }
}

#[test]
fn a_late_block_that_read_the_next_cycle_becomes_a_dropout_not_a_repeat() {
    // The callback for cycle 10 ran 0.9 of a period late, stamped with cycle 10 but
    // reading cycle 11's audio, which the callback for cycle 11 then read again.
    let mut blocks: Vec<_> = (0..20).map(|k| (k, k, 0.05)).collect();
    blocks[10] = (11, 10, 0.9);
    let (gaps, stored) = replay(&blocks);
    assert_eq!(gaps, [lost_at(10)]);
    assert!(
        stored == counter((0..10).chain(11..20)),
        "stored audio differs"
    );
}

#[test]
fn a_cycle_delivered_twice_is_stored_once() {
    // Cycle 10 never reached us; the late callback was stamped with cycle 11 and read
    // it, and the next callback was stamped with cycle 11 again and read it again.
    let mut blocks: Vec<_> = (0..20).map(|k| (k, k, 0.05)).collect();
    blocks[10] = (11, 11, 0.1);
    let (gaps, stored) = replay(&blocks);
    assert_eq!(gaps, [lost_at(10)]);
    assert!(
        stored == counter((0..10).chain(11..20)),
        "stored audio differs"
    );
}

#[test]
fn audio_that_repeats_is_kept_when_the_timing_says_nothing_was_missed() {
    // The same audio in consecutive cycles (a tone whose period divides the block) from
    // callbacks on time: nothing is dropped.
    let blocks: Vec<_> = (0..20).map(|k| (3, k, 0.05)).collect();
    let (gaps, stored) = replay(&blocks);
    assert_eq!(gaps, []);
    assert!(
        stored == counter(std::iter::repeat_n(3, 20)),
        "stored audio differs"
    );
    // A late callback alone, with different audio after it, is no repeat either.
    let mut blocks: Vec<_> = (0..20).map(|k| (k, k, 0.05)).collect();
    blocks[10] = (10, 10, 0.9);
    let (gaps, stored) = replay(&blocks);
    assert_eq!(gaps, []);
    assert!(stored == counter(0..20), "stored audio differs");
}

#[test]
fn a_read_across_the_next_cycle_that_holds_it_becomes_a_dropout_by_the_counter() {
    // The callback for cycle 10 ran so late that the server began cycle 11 during the
    // read, and the source had already written cycle 11; the callback for 11 read it again.
    let mut blocks: Vec<_> = (0..20).map(|k| (k, k, 0.05, 0)).collect();
    blocks[10] = (11, 10, 0.9, 1);
    let (gaps, stored) = replay_counted(&blocks);
    assert_eq!(gaps, [lost_at(10)]);
    assert!(
        stored == counter((0..10).chain(11..20)),
        "stored audio differs"
    );
}

#[test]
fn a_block_read_after_the_process_stood_still_for_cycles_is_not_put_at_its_stamp() {
    // Stopped after its callback for cycle 10 began and before the ports were read, for
    // 55 cycles: the read found cycle 65's audio. The next callback is for cycle 66.
    let mut blocks: Vec<_> = (0..10).map(|k| (k, k, 0.05, 0)).collect();
    blocks.push((65, 10, 0.05, 55));
    blocks.extend((66..80).map(|k| (k, k, 0.05, 0)));
    let (gaps, stored) = replay_counted(&blocks);
    assert_eq!(gaps, [lost(10, 56)]);
    assert!(
        stored == counter((0..10).chain(66..80)),
        "stored audio differs"
    );
}

#[test]
fn a_process_woken_late_for_a_missed_cycle_gets_the_hole_before_the_audio_it_read() {
    // Stopped for a while after cycle 9, the process is woken for a cycle it missed
    // while the server is in cycle 15, before the source has written cycle 15: that
    // block is stamped 15 but holds cycle 14. Then it is woken for cycle 15 itself.
    let mut blocks: Vec<_> = (0..10).map(|k| (k, k, 0.05, 0)).collect();
    blocks.push((14, 15, 0.05, 0));
    blocks.extend((15..25).map(|k| (k, k, 0.05, 0)));
    let (gaps, stored) = replay_counted(&blocks);
    assert_eq!(gaps, [lost(10, 4)]);
    assert!(
        stored == counter((0..10).chain(14..25)),
        "stored audio differs"
    );
}

#[test]
fn a_tone_that_repeats_every_period_is_kept_from_late_callbacks_that_read_their_own_cycle() {
    // A loaded machine: every other callback runs most of a period late, but each ends
    // its read before the server begins the next cycle, so each read its own cycle.
    let blocks: Vec<_> = (0..20)
        .map(|k| (3, k, if k % 2 == 1 { 0.9 } else { 0.05 }, 0))
        .collect();
    let (gaps, stored) = replay_counted(&blocks);
    assert_eq!(gaps, []);
    assert!(
        stored == counter(std::iter::repeat_n(3, 20)),
        "stored audio differs"
    );
}

/// Feeds JACK cycles of a four-input counter by frame counter: (the cycle whose audio each
/// input holds, the counter's cycle, whether the server began its next cycle during the
/// read). Returns the gaps and, per stored frame, the counter value all four inputs agree
/// on (a frame on which they disagree fails the test).
fn replay_inputs(blocks: &[([u64; 4], u64, bool)]) -> (Vec<Gap>, Vec<u64>) {
    let (mut c, mut out, _) = Capture::new(4, RATE as u32, RATE as usize, JACK);
    let mut gaps = Vec::new();
    let mut stored = Vec::new();
    let mut take = |out: &mut CaptureOutput, gaps: &mut Vec<Gap>| {
        while let Some(w) = out.samples.try_pop() {
            stored.push(f32::from_bits(w));
        }
        while let Some(g) = out.gaps.try_pop() {
            gaps.push(g);
        }
    };
    let block_of = |audio: [u64; 4]| -> Vec<f32> {
        (0..PERIOD)
            .flat_map(|i| {
                (0..4u64).map(move |ch| (audio[ch as usize] * PERIOD + i + 1 + 100_000 * ch) as f32)
            })
            .collect()
    };
    let ns = |cycle: u64| 1_000_000 + period_ns(cycle);
    for &(audio, cycle, moved) in blocks {
        let frame = (cycle * PERIOD) as u32;
        c.on_block(
            &block_of(audio),
            jack(
                frame,
                1000,
                ns(cycle),
                frame + u32::from(moved) * PERIOD as u32,
            ),
        );
        take(&mut out, &mut gaps);
    }
    // One more cycle lets the last block out.
    let last = blocks.last().map_or(0, |b| b.1 + 1);
    let silence = vec![0.0f32; PERIOD as usize * 4];
    let frame = (last * PERIOD) as u32;
    c.on_block(&silence, jack(frame, 1000, ns(last), frame));
    take(&mut out, &mut gaps);
    let frames = stored
        .chunks_exact(4)
        .filter(|f| f[0] != 0.0)
        .map(|f| {
            let k = f[0] as u64;
            for (ch, v) in f.iter().enumerate() {
                assert_eq!(*v as u64, k + 100_000 * ch as u64, "inputs out of step");
            }
            k
        })
        .collect();
    (gaps, frames)
}

#[test]
fn a_torn_read_under_the_next_cycles_stamp_becomes_an_exact_dropout() {
    // The callback for cycle 10 ran so late that the counter said 11 and the source was
    // writing cycle 11 into the ports as they were read: inputs 0 and 1 hold cycle 11,
    // inputs 2 and 3 still cycle 10. Then the callback for cycle 11 reads cycle 11.
    let mut blocks: Vec<_> = (0..20).map(|k| ([k; 4], k, false)).collect();
    blocks[10] = ([11, 11, 10, 10], 11, false);
    let (gaps, stored) = replay_inputs(&blocks);
    assert_eq!(gaps, [lost_at(10)]);
    assert!(
        stored == counter((0..10).chain(11..20)),
        "stored audio differs"
    );
}

#[test]
fn a_torn_read_of_its_own_cycle_becomes_an_exact_dropout_when_the_read_overlapped_the_next() {
    // Read while the server began cycle 11: input 3 already holds cycle 11.
    let mut blocks: Vec<_> = (0..20).map(|k| ([k; 4], k, false)).collect();
    blocks[10] = ([10, 10, 10, 11], 10, true);
    let (gaps, stored) = replay_inputs(&blocks);
    assert_eq!(gaps, [lost_at(10)]);
    assert!(
        stored == counter((0..10).chain(11..20)),
        "stored audio differs"
    );
}

#[test]
fn inputs_that_repeat_a_cycle_by_nature_are_no_torn_read_when_the_timing_says_nothing() {
    // Input 1 plays a loop as long as a period (the same audio every cycle); the others
    // move on. Every other callback runs most of a period late (a loaded machine), but no
    // read overlapped a new cycle: every block is kept.
    let blocks: Vec<_> = (0..20).map(|k| ([k, 3, k, k], k, false)).collect();
    let (mut c, mut out, _) = Capture::new(4, RATE as u32, RATE as usize, JACK);
    let mut stored = 0;
    let mut gaps = Vec::new();
    for &(audio, cycle, moved) in &blocks {
        let block: Vec<f32> = (0..PERIOD)
            .flat_map(|i| {
                (0..4u64).map(move |ch| (audio[ch as usize] * PERIOD + i + 1 + 100_000 * ch) as f32)
            })
            .collect();
        let wake = if cycle % 2 == 1 {
            period_ns(1) * 9 / 10
        } else {
            1000
        };
        let frame = (cycle * PERIOD) as u32;
        c.on_block(
            &block,
            jack(
                frame,
                wake,
                1_000_000 + period_ns(cycle) + wake,
                frame + u32::from(moved) * PERIOD as u32,
            ),
        );
        while out.samples.try_pop().is_some() {
            stored += 1;
        }
        while let Some(g) = out.gaps.try_pop() {
            gaps.push(g);
        }
    }
    assert_eq!(gaps, []);
    // All but the block still held back.
    assert_eq!(stored, 19 * PERIOD as usize * 4);
}

#[test]
fn a_late_block_stamped_with_the_next_cycle_is_no_hole_when_the_next_block_shares_it() {
    // The callback for cycle 10 ran after the server's stamp had moved on to cycle 11 but
    // still read cycle 10's audio; the callback for cycle 11 then came with the same stamp.
    let mut blocks: Vec<_> = (0..20).map(|k| (k, k, 0.05)).collect();
    blocks[10] = (10, 11, 0.1);
    let (gaps, stored) = replay(&blocks);
    assert_eq!(gaps, []);
    assert!(stored == counter(0..20), "stored audio differs");
}

#[test]
fn without_the_hold_back_a_hole_goes_before_the_block_whose_stamp_showed_it() {
    // The demo device's stamps are exact to the frame and its blocks are not held back: 100
    // frames go missing before block 10.
    let demo = TimestampTrust::Exact {
        whole_periods: false,
    };
    let (mut c, mut out, _) = Capture::new(2, RATE as u32, RATE as usize, demo);
    let mut gaps = Vec::new();
    let mut stored = Vec::new();
    for k in 0..20u64 {
        let first = k * PERIOD + if k >= 10 { 100 } else { 0 };
        let block: Vec<f32> = (first + 1..=first + PERIOD)
            .flat_map(|v| [v as f32, -(v as f32)])
            .collect();
        c.on_block(&block, host(1_000_000 + first * 1_000_000_000 / RATE));
        while let Some(w) = out.samples.try_pop() {
            stored.push(f32::from_bits(w));
        }
        while let Some(g) = out.gaps.try_pop() {
            gaps.push(g);
        }
    }
    assert_eq!(
        gaps,
        [Gap {
            at_frame: 10 * PERIOD,
            frames: 100,
            cause: GapCause::DeviceXrun,
            exact: true,
        }]
    );
    let firsts: Vec<u64> = stored.chunks_exact(2).map(|f| f[0] as u64).collect();
    let expected: Vec<u64> = (1..=10 * PERIOD)
        .chain(10 * PERIOD + 101..=20 * PERIOD + 100)
        .collect();
    assert!(firsts == expected, "stored audio differs");
}
