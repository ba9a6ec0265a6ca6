//! The capture callback never allocates: a counting global allocator watches every allocation
//! made on this thread while the callback runs, through normal blocks, every sample format,
//! device xruns with measured gaps, ring overflow, and a full gap queue. The output callback
//! neither: through every device format and channel count, starting, playing, underruns,
//! cue changes, stop, a new play and the song's end. Both with software monitoring on (two
//! inputs mixed into the monitor ring, which overflows, is drained, switched off and on).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::Ordering;

use std::time::{Duration, Instant};

use ringbuf::traits::Consumer;
use tapedeck::capture::{Capture, CaptureSample, Stamp, TimestampTrust};
use tapedeck::monitor::{MonitorOut, MonitorShared, monitor};
use tapedeck::playback::{
    Clip, Cue, CueTrack, Gains, OutStamp, OutputSample, PlayState, Player, Playout,
};

struct Counting;

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn note() {
    // try_with: the thread-local may be gone while a thread shuts down.
    let _ = WATCHING.try_with(|w| {
        if w.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns how many allocations and frees it made on this thread.
fn allocations_in(f: impl FnOnce()) -> u64 {
    COUNT.with(|c| c.set(0));
    WATCHING.with(|w| w.set(true));
    f();
    WATCHING.with(|w| w.set(false));
    COUNT.with(|c| c.get())
}

fn host(capture_ns: Option<u64>, callback_ns: Option<u64>) -> Stamp {
    Stamp::Host {
        capture_ns,
        callback_ns,
    }
}

/// A JACK cycle whose callback ran 1 µs after the cycle began.
fn cycle(frame: u32, clock_ns: u64, read_end: u32) -> Stamp {
    Stamp::JackCycle {
        frame,
        wake_ns: 1000,
        clock_ns: Some(clock_ns),
        read_end,
        latency: 256,
    }
}

fn exercise<T: CaptureSample + Default>(trust: TimestampTrust, loud: T) {
    let channels = 64;
    let rate = 48_000u32;
    let period = 256usize;
    // A small ring so that overflow happens.
    let (mut capture, mut out, shared) = Capture::new(channels, rate, period * 4, trust);
    // Monitoring two inputs; the output end is drained now and then, the ring overflows.
    let (min, mut mout, monitoring) = monitor();
    capture.set_monitor(min);
    monitor_inputs(&monitoring);
    let mut heard = vec![0.0f32; 8192 * 2];
    let mut block = vec![T::default(); period * channels];
    for (i, s) in block.iter_mut().enumerate() {
        if i % 7 == 0 {
            *s = loud;
        }
    }
    let big = vec![T::default(); 8192 * channels];
    // The same block with its first half of inputs silent: read after `block` under one
    // cycle, a torn read.
    let mut torn = block.clone();
    for frame in torn.chunks_exact_mut(channels) {
        frame[..channels / 2].fill(T::default());
    }
    let period_ns = period as u64 * 1_000_000_000 / u64::from(rate);
    let n = allocations_in(|| {
        let mut t = 0u64;
        for i in 0..200u64 {
            // Every 10th block follows a reported xrun and a 3-period hole in the timestamps.
            if i % 10 == 9 {
                shared.xruns_reported.fetch_add(1, Ordering::AcqRel);
                t += 3 * period_ns;
            }
            capture.on_block(&block, host(Some(t), None));
            t += period_ns;
            // The writer drains now and then; in between the ring overflows.
            if i % 5 == 0 {
                out.samples.clear();
            }
            if i % 50 == 0 {
                drain(&mut mout, &mut heard);
            }
            // Off and on again.
            if i == 120 {
                monitoring.set(&[]);
            }
            if i == 130 {
                monitor_inputs(&monitoring);
            }
        }
        // A block larger than the conversion scratch and than the ring.
        capture.on_block(&big, host(None, None));
        capture.on_block(&block, host(None, None));
        // JACK's held-back blocks: a late block, then the same audio again one cycle on and
        // in the same cycle.
        for i in 0..50u64 {
            let woke = if i % 3 == 0 {
                t + period_ns * 9 / 10
            } else {
                t
            };
            capture.on_block(&block, host(Some(t), Some(woke)));
            if i % 5 != 0 {
                t += period_ns;
            }
            if i % 4 == 0 {
                out.samples.clear();
            }
        }
        // JACK's frame counter, wrapping, with skipped cycles, and now and then a read held
        // up for cycles.
        let mut frame = u32::MAX - 10 * period as u32;
        for i in 0..50u64 {
            if i % 7 == 6 {
                frame = frame.wrapping_add(2 * period as u32);
            }
            let read_end = if i % 11 == 10 {
                frame.wrapping_add(3 * period as u32)
            } else {
                frame
            };
            capture.on_block(&block, cycle(frame, t, read_end));
            frame = frame.wrapping_add(period as u32);
            t += period_ns;
            if i % 4 == 0 {
                out.samples.clear();
            }
        }
        // Torn reads: under one cycle's counter, and in consecutive cycles after a read
        // that overlapped the server's next cycle.
        for i in 0..20u64 {
            let moved = i % 2 == 1;
            let read_end = frame.wrapping_add(u32::from(moved) * period as u32);
            capture.on_block(&block, cycle(frame, t, read_end));
            if !moved {
                capture.on_block(&torn, cycle(frame, t, frame));
            }
            frame = frame.wrapping_add(period as u32);
            t += period_ns;
            capture.on_block(&torn, cycle(frame, t, frame));
            frame = frame.wrapping_add(period as u32);
            t += period_ns;
            out.samples.clear();
        }
    });
    assert_eq!(n, 0, "the capture callback allocated {n} times");
    assert!(
        monitoring.dropped_frames() > 0,
        "the monitor ring overflowed"
    );
    assert!(
        shared.overflow_frames.load(Ordering::Relaxed) > 0,
        "overflow was exercised"
    );
    assert!(
        shared.xrun_frames.load(Ordering::Relaxed) > 0,
        "xrun gaps were exercised"
    );

    // Gap queue full: nobody pops gaps, so the callback must hold the gap back and keep going.
    let n = allocations_in(|| {
        for _ in 0..3000 {
            capture.on_block(&block, host(None, None));
        }
    });
    assert_eq!(
        n, 0,
        "the capture callback allocated {n} times with a full gap queue"
    );
    drop(out);
}

/// Inputs 2 and 3, the second panned.
fn monitor_inputs(m: &MonitorShared) {
    let panned = Cue {
        pan: 0.5,
        gain_db: -3.0,
        ..Cue::default()
    };
    m.set(&[(2, Gains::of(&Cue::default())), (3, Gains::of(&panned))]);
}

/// Plays what waits in the monitor ring into a block (the output callback's part).
fn drain(m: &mut MonitorOut, out: &mut [f32]) {
    m.add(out, 2, None);
}

#[test]
fn the_capture_callback_never_allocates() {
    let exact = TimestampTrust::Exact {
        whole_periods: true,
    };
    exercise::<f32>(exact, 1.25);
    exercise::<i16>(TimestampTrust::OnXrunOnly, i16::MAX);
    exercise::<i32>(exact, i32::MIN);
    exercise::<cpal::I24>(
        TimestampTrust::OnXrunOnly,
        cpal::I24::new_unchecked(8_388_607),
    );
}

/// A mono 24-bit take and a stereo 16-bit one, the second starting later.
fn takes(dir: &std::path::Path) -> Vec<CueTrack> {
    let mut tracks = Vec::new();
    for (i, (channels, bits, start)) in [(1u16, 24u16, 0u64), (2, 16, 3000)].into_iter().enumerate()
    {
        let path = dir.join(format!("t{i}.wav"));
        let spec = hound::WavSpec {
            channels,
            sample_rate: 48_000,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).expect("create");
        for k in 0..48_000 * i32::from(channels) {
            let v = (k * 7919) % 30_000 - 15_000;
            if bits == 16 {
                w.write_sample(v as i16).expect("sample");
            } else {
                w.write_sample(v * 256).expect("sample");
            }
        }
        w.finalize().expect("finalize");
        let info = tapedeck::wav::probe::probe(&path).expect("probe");
        tracks.push(CueTrack {
            number: i as u16 + 1,
            cue: Cue::default(),
            clip: Some(Clip::from_probe(path, start, &info)),
        });
    }
    tracks
}

/// A capture callback feeding the output's monitor: input 2 and 3 monitored.
struct Feeder {
    capture: Capture,
    block: Vec<f32>,
    monitor: std::sync::Arc<MonitorShared>,
}

impl Feeder {
    fn new(playout: &mut Playout) -> Self {
        let (mut capture, _, _) = Capture::new(
            4,
            48_000,
            48_000,
            TimestampTrust::Exact {
                whole_periods: true,
            },
        );
        let (min, mout, monitor) = monitor();
        capture.set_monitor(min);
        playout.set_monitor(mout);
        monitor_inputs(&monitor);
        Self {
            capture,
            block: (0..256 * 4).map(|k| k as f32 / 2048.0).collect(),
            monitor,
        }
    }

    /// The capture blocks of cycle `i`: now and then none (missing), now and then many
    /// (the ring overflows, the output drops the excess).
    fn feed(&mut self, i: u64) {
        let blocks = match i % 40 {
            7 => 0,
            20 => 40,
            _ => 1,
        };
        for k in 0..blocks {
            let frame = ((i * 256 + k * 256) as u32).wrapping_sub(512);
            self.capture.on_block(
                &self.block,
                Stamp::JackCycle {
                    frame,
                    wake_ns: 1000,
                    clock_ns: Some(i * 5_333_333),
                    read_end: frame,
                    latency: 256,
                },
            );
        }
        if i % 100 == 50 {
            self.monitor.set(&[]);
        }
        if i % 100 == 60 {
            monitor_inputs(&self.monitor);
        }
    }
}

/// Calls the output callback once (after the capture callback feeding its monitor) and
/// returns the allocations they made.
fn out_block<T: OutputSample>(
    p: &mut Playout,
    f: &mut Feeder,
    out: &mut [T],
    channels: usize,
    i: u64,
) -> u64 {
    let stamp = if i.is_multiple_of(2) {
        OutStamp::JackCycle {
            frame: (i * 256) as u32,
            latency: 512,
        }
    } else {
        OutStamp::Host {
            callback_ns: Some(i * 5_333_333),
            playback_ns: Some(i * 5_333_333 + 10_000_000),
        }
    };
    allocations_in(|| {
        f.feed(i);
        p.on_block(out, channels, stamp);
    })
}

fn exercise_output<T: OutputSample>(channels: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut player, mut playout, _shared) =
        Player::new(takes(dir.path()), 48_000, 8192).expect("player");
    let mut out = vec![T::SILENCE; 256 * channels];
    let mut feeder = Feeder::new(&mut playout);
    let mut n = 0;
    let mut i = 0u64;
    // Stopped.
    for _ in 0..4 {
        n += out_block(&mut playout, &mut feeder, &mut out, channels, i);
        i += 1;
    }
    player.play_from(1000).expect("play");
    let deadline = Instant::now() + Duration::from_secs(10);
    while player.state() != PlayState::Playing {
        assert!(Instant::now() < deadline, "never started");
        n += out_block(&mut playout, &mut feeder, &mut out, channels, i);
        i += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    for k in 0..400 {
        // Paced now and then, as fast as it goes otherwise: underruns.
        if k % 3 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        if k == 100 {
            player
                .set_cue(
                    2,
                    Cue {
                        solo: true,
                        pan: 0.5,
                        gain_db: -3.0,
                        mute: false,
                    },
                )
                .expect("cue");
        }
        #[cfg(feature = "fault-injection")]
        _shared.stall_reader((150..200).contains(&k));
        n += out_block(&mut playout, &mut feeder, &mut out, channels, i);
        i += 1;
    }
    // The stall makes them certain; without it the reader may keep up.
    #[cfg(feature = "fault-injection")]
    assert!(player.underruns().frames > 0, "underruns were exercised");
    // Stop, then a play that runs to the song's end.
    player.stop();
    for _ in 0..4 {
        n += out_block(&mut playout, &mut feeder, &mut out, channels, i);
        i += 1;
    }
    player.play_from(player.length() - 5000).expect("play");
    let deadline = Instant::now() + Duration::from_secs(10);
    while player.state() != PlayState::Ended {
        assert!(
            Instant::now() < deadline,
            "never ended: {:?}",
            player.state()
        );
        n += out_block(&mut playout, &mut feeder, &mut out, channels, i);
        i += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    n += out_block(&mut playout, &mut feeder, &mut out, channels, i);
    assert_eq!(n, 0, "the output callback allocated {n} times");
    assert!(
        feeder.monitor.dropped_frames() > 0,
        "monitor overflow exercised"
    );
    assert!(
        feeder.monitor.missing_frames() > 0,
        "monitor underrun exercised"
    );
}

#[test]
fn the_output_callback_never_allocates() {
    exercise_output::<f32>(2);
    exercise_output::<i16>(1);
    exercise_output::<i32>(4);
    exercise_output::<cpal::I24>(2);
}

#[test]
fn the_counter_sees_allocations() {
    // Guard against a counter that can never fire.
    let n = allocations_in(|| {
        let v: Vec<u8> = Vec::with_capacity(10);
        std::hint::black_box(v);
    });
    assert!(n >= 1);
}
