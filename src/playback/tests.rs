//! The reader and the callback together, without a device: the tests call `on_block` as a
//! device would, with made-up stamps, and compare what comes out with the files.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::wav::probe::probe;

/// Writes a WAV with hound and returns its clip at `start`.
fn wav(dir: &Path, name: &str, spec: hound::WavSpec, samples: &[i32], start: u64) -> Clip {
    let path = dir.join(name);
    let mut w = hound::WavWriter::create(&path, spec).expect("create");
    for &s in samples {
        match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Float, _) => w.write_sample(f32::from_bits(s as u32)),
            (_, 16) => w.write_sample(s as i16),
            _ => w.write_sample(s),
        }
        .expect("sample");
    }
    w.finalize().expect("finalize");
    Clip::from_probe(path.clone(), start, &probe(&path).expect("probe"))
}

fn spec(channels: u16, bits: u16, float: bool) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: RATE,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    }
}

const RATE: u32 = 48_000;

/// A 24-bit signal with no zero in it, different at every frame.
fn counter24(frames: usize, seed: i32) -> Vec<i32> {
    (0..frames as i32)
        .map(|k| (((k * 7919 + seed) % 8_000_000) - 4_000_000) | 1)
        .collect()
}

fn track(number: u16, cue: Cue, clip: Option<Clip>) -> CueTrack {
    CueTrack { number, cue, clip }
}

struct Rig {
    player: Player,
    playout: Playout,
    shared: Arc<PlaybackShared>,
    /// The device's clock, in frames.
    clock: u64,
}

impl Rig {
    fn new(tracks: Vec<CueTrack>) -> Self {
        let (player, playout, shared) = Player::new(tracks, RATE, 8192).expect("player");
        Self {
            player,
            playout,
            shared,
            clock: 0,
        }
    }

    /// One device block of `frames`, after the reader has mixed what it needs (a device
    /// would wait for real time to pass) unless `wait` is false.
    fn block<T: OutputSample>(&mut self, frames: usize, channels: usize, wait: bool) -> Vec<T> {
        if wait {
            let deadline = Instant::now() + Duration::from_secs(5);
            let length = self.player.length();
            loop {
                let state = self.player.state();
                let need = (self.player.position() + frames as u64).min(length);
                let mixed = self.playout.mixed_until().unwrap_or(0);
                let ready = match state {
                    PlayState::Playing => mixed >= need,
                    PlayState::Starting => mixed > 0 && self.shared.ready() != 0,
                    _ => true,
                };
                if ready || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        let mut out = vec![T::from_cue(0.25); frames * channels];
        let stamp = OutStamp::JackCycle {
            frame: self.clock as u32,
            latency: 512,
        };
        self.playout.on_block(&mut out, channels, stamp);
        self.clock += frames as u64;
        out
    }

    /// Plays from `frame` and collects the device's frames until the state is `Ended` (and
    /// `tail` blocks more), with blocks of `period`.
    fn play_all<T: OutputSample>(
        &mut self,
        frame: u64,
        period: usize,
        channels: usize,
        tail: usize,
    ) -> Vec<T> {
        self.player.play_from(frame).expect("play");
        let mut out = Vec::new();
        let mut after = 0;
        for _ in 0..100_000 {
            out.extend(self.block::<T>(period, channels, true));
            if self.player.state() == PlayState::Ended {
                after += 1;
                if after > tail {
                    return out;
                }
            }
        }
        panic!("never ended: {:?}", self.player.state());
    }
}

/// The frames before the play started (silent, whole device blocks): where it begins.
fn lead_in(out: &[f32], channels: usize, period: usize, shared: &PlaybackShared) -> usize {
    let first = shared.first_anchor().expect("a first anchor");
    let lead = first.clock.map(|c| match c {
        ClockStamp::JackFrame(f) => f as usize,
        ClockStamp::Nanos(_) => panic!("jack stamps here"),
    });
    let lead = lead.expect("clock");
    assert_eq!(lead % period, 0);
    assert!(out[..lead * channels].iter().all(|&x| x == 0.0));
    lead
}

#[test]
fn a_mono_take_at_unity_centre_is_bit_identical_on_both_sides() {
    let dir = tempfile::tempdir().expect("tempdir");
    let frames = 10_007;
    let s24 = counter24(frames, 3);
    let s16: Vec<i32> = s24.iter().map(|v| v >> 8).collect();
    let f32s: Vec<i32> = s24
        .iter()
        .map(|&v| (v as f32 / 3_000_000.0).to_bits() as i32)
        .chain([(-0.0f32).to_bits() as i32, 1.5f32.to_bits() as i32])
        .collect();
    let cases = [
        (spec(1, 24, false), s24.clone(), 8_388_608.0),
        (spec(1, 16, false), s16, 32_768.0),
        (spec(1, 32, true), f32s, 0.0),
    ];
    for (i, (spec, samples, scale)) in cases.into_iter().enumerate() {
        let clip = wav(dir.path(), &format!("t{i}.wav"), spec, &samples, 0);
        let mut rig = Rig::new(vec![track(1, Cue::default(), Some(clip))]);
        let period = 333;
        let out: Vec<f32> = rig.play_all(0, period, 2, 2);
        let lead = lead_in(&out, 2, period, &rig.shared);
        let played = &out[lead * 2..];
        for (k, want) in samples.iter().enumerate() {
            let want = if scale == 0.0 {
                f32::from_bits(*want as u32)
            } else {
                (*want as f64 / scale) as f32
            };
            assert_eq!(
                played[k * 2].to_bits(),
                want.to_bits(),
                "case {i} frame {k}"
            );
            assert_eq!(
                played[k * 2 + 1].to_bits(),
                want.to_bits(),
                "case {i} frame {k}"
            );
        }
        // Then silence, the song over.
        assert!(played[samples.len() * 2..].iter().all(|&x| x == 0.0));
        assert_eq!(rig.player.state(), PlayState::Ended);
        assert_eq!(rig.player.position(), samples.len() as u64);
        assert_eq!(rig.player.underruns(), Underruns::default());
        let first = rig.shared.first_anchor().expect("first");
        assert_eq!(
            (first.position, first.run, first.latency_frames),
            (0, 1, 512)
        );
        assert!(rig.player.problems().is_empty());
    }
}

#[test]
fn every_device_format_gets_the_take_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s24 = counter24(3000, 11);
    let clip = wav(dir.path(), "t.wav", spec(1, 24, false), &s24, 0);
    let tracks = vec![track(1, Cue::default(), Some(clip))];
    let period = 256;
    // i32 on four channels: the cue on the first two, the others silent.
    let mut rig = Rig::new(tracks.clone());
    let out: Vec<i32> = rig.play_all(0, period, 4, 1);
    let lead = out.chunks(4).position(|f| f[0] != 0).expect("sound");
    for (k, v) in s24.iter().enumerate() {
        let f = &out[(lead + k) * 4..(lead + k + 1) * 4];
        assert_eq!(f, [v << 8, v << 8, 0, 0], "frame {k}");
    }
    // I24 on one channel: (L + R) / 2 of a centred track is the track.
    let mut rig = Rig::new(tracks.clone());
    let out: Vec<cpal::I24> = rig.play_all(0, period, 1, 1);
    let lead = out.iter().position(|f| f.inner() != 0).expect("sound");
    let got: Vec<i32> = out[lead..lead + s24.len()]
        .iter()
        .map(|s| s.inner())
        .collect();
    assert_eq!(got, s24);
    // i16: rounded.
    let mut rig = Rig::new(tracks);
    let out: Vec<i16> = rig.play_all(0, period, 2, 1);
    let lead = out.chunks(2).position(|f| f[0] != 0).expect("sound");
    for (k, v) in s24.iter().enumerate() {
        let want = ((*v as f64) / 256.0).round() as i16;
        assert_eq!(out[(lead + k) * 2], want, "frame {k}");
    }
}

/// What the mix should be, computed here independently in f64.
fn expected_mix(tracks: &[(Vec<i32>, u16, u64, f64, f64)], length: usize) -> Vec<[f64; 2]> {
    let mut out = vec![[0.0; 2]; length];
    for (samples, channels, start, l, r) in tracks {
        let ch = usize::from(*channels);
        for (k, frame) in samples.chunks(ch).enumerate() {
            let t = *start as usize + k;
            let (a, b) = (frame[0], frame[ch - 1]);
            out[t][0] += a as f64 / 8_388_608.0 * l;
            out[t][1] += b as f64 / 8_388_608.0 * r;
        }
    }
    out
}

#[test]
fn clips_at_different_starts_mix_at_their_timeline_frames_with_gains_and_pans() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = counter24(5000, 1);
    let b = counter24(2 * 3100, 2); // stereo, 3100 frames
    let c = counter24(700, 3);
    let clips = [
        wav(dir.path(), "a.wav", spec(1, 24, false), &a, 0),
        wav(dir.path(), "b.wav", spec(2, 24, false), &b, 2500),
        wav(dir.path(), "c.wav", spec(1, 24, false), &c, 7000),
    ];
    let cues = [
        Cue {
            gain_db: -6.0,
            pan: -0.5,
            ..Cue::default()
        },
        Cue {
            gain_db: 3.0,
            pan: 0.25,
            ..Cue::default()
        },
        Cue {
            gain_db: 0.0,
            pan: 1.0,
            ..Cue::default()
        },
    ];
    let tracks: Vec<CueTrack> = (0..3)
        .map(|i| track(i as u16 + 1, cues[i], Some(clips[i].clone())))
        .collect();
    let g = |db: f64| 10f64.powf(db / 20.0);
    let expected = expected_mix(
        &[
            (a, 1, 0, g(-6.0), g(-6.0) * 0.5),
            (b, 2, 2500, g(3.0) * 0.75, g(3.0)),
            (c, 1, 7000, 0.0, 1.0),
        ],
        7700,
    );
    for from in [0u64, 2600, 5555] {
        let mut rig = Rig::new(tracks.clone());
        assert_eq!(rig.player.length(), 7700);
        let period = 250;
        let out: Vec<f32> = rig.play_all(from, period, 2, 1);
        let lead = lead_in(&out, 2, period, &rig.shared);
        let first = rig.shared.first_anchor().expect("first");
        assert_eq!(first.position, from, "the first block starts where asked");
        for (j, t) in (from as usize..7700).enumerate() {
            for side in 0..2 {
                let got = f64::from(out[(lead + j) * 2 + side]);
                assert!(
                    (got - expected[t][side]).abs() < 1e-6,
                    "from {from}: frame {t} side {side}: {got} vs {}",
                    expected[t][side]
                );
            }
        }
        let rest = &out[(lead + 7700 - from as usize) * 2..];
        assert!(rest.iter().all(|&x| x == 0.0));
        assert_eq!(rig.player.underruns(), Underruns::default());
    }
}

#[test]
fn an_underrun_plays_silence_counts_it_and_keeps_the_timeline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let frames = 48_000;
    let s = counter24(frames, 5);
    let clip = wav(dir.path(), "t.wav", spec(1, 24, false), &s, 1000);
    let mut rig = Rig::new(vec![track(1, Cue::default(), Some(clip))]);
    let period = 256;
    rig.player.play_from(1000).expect("play");
    let mut out: Vec<f32> = Vec::new();
    // Until it plays, then a few blocks.
    while rig.player.state() != PlayState::Playing {
        out.extend(rig.block::<f32>(period, 2, true));
    }
    let lead = out.len() / 2 - period;
    for _ in 0..10 {
        out.extend(rig.block::<f32>(period, 2, true));
    }
    // The disk stops answering: the read-ahead drains, then silence, counted.
    rig.shared.stall_reader(true);
    let stalled_at = out.len() / 2;
    for _ in 0..60 {
        out.extend(rig.block::<f32>(period, 2, false));
    }
    let u = rig.player.underruns();
    assert_eq!(u.events, 1, "{u:?}");
    assert!(
        u.frames > 0 && u.frames.is_multiple_of(period as u64),
        "{u:?}"
    );
    rig.shared.stall_reader(false);
    while rig.player.state() == PlayState::Playing {
        out.extend(rig.block::<f32>(period, 2, true));
    }
    // Every device frame holds the timeline frame the device clock says, or silence.
    let mut silent = 0u64;
    for (j, f) in out.chunks(2).enumerate().skip(lead) {
        let k = j - lead;
        if k >= frames {
            assert_eq!(f, [0.0, 0.0]);
            continue;
        }
        if f == [0.0, 0.0] {
            assert!(j >= stalled_at, "silence at {j} before the stall");
            silent += 1;
            continue;
        }
        let want = (s[k] as f64 / 8_388_608.0) as f32;
        assert_eq!(
            f,
            [want, want],
            "device frame {j} is timeline frame {}",
            k + 1000
        );
    }
    assert_eq!(silent, rig.player.underruns().frames);
    assert_eq!(rig.player.underruns().events, 1);
    assert_eq!(rig.player.state(), PlayState::Ended);
}

#[test]
fn missing_and_truncated_files_are_reported_and_the_rest_plays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = counter24(4000, 1);
    let b = counter24(4000, 2);
    let good = wav(dir.path(), "good.wav", spec(1, 24, false), &a, 0);
    let short = wav(dir.path(), "short.wav", spec(1, 24, false), &b, 0);
    let bytes = std::fs::read(&short.path).expect("read");
    // 1500 frames and a byte of the next remain.
    std::fs::write(
        &short.path,
        &bytes[..short.data_offset as usize + 1500 * 3 + 1],
    )
    .expect("cut");
    let missing = Clip {
        path: dir.path().join("gone.wav"),
        ..good.clone()
    };
    let tracks = vec![
        track(1, Cue::default(), Some(missing.clone())),
        track(2, Cue::default(), Some(short.clone())),
        track(3, Cue::default(), Some(good)),
    ];
    let mut rig = Rig::new(tracks);
    let period = 512;
    let out: Vec<f32> = rig.play_all(0, period, 2, 1);
    let problems = rig.player.problems();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        matches!(&problems[0], Problem::Missing { path, .. } if *path == missing.path),
        "{problems:?}"
    );
    assert_eq!(
        problems[1],
        Problem::Truncated {
            path: short.path.clone(),
            expected: 4000,
            actual: 1500
        }
    );
    assert!(problems[0].to_string().contains("gone.wav"));
    assert!(problems[1].to_string().contains("short.wav"));
    let lead = lead_in(&out, 2, period, &rig.shared);
    for k in 0..4000 {
        let mut want = a[k] as f32 / 8_388_608.0;
        if k < 1500 {
            want += b[k] as f32 / 8_388_608.0;
        }
        assert_eq!(out[(lead + k) * 2], want, "frame {k}");
    }
    assert_eq!(rig.player.underruns(), Underruns::default());
}

#[test]
fn cue_changes_are_heard_while_playing_and_solo_silences_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let frames = 48_000;
    let a = vec![4_194_304; frames]; // 0.5
    let b = vec![838_861; frames]; // ~0.1
    let tracks = vec![
        track(
            1,
            Cue::default(),
            Some(wav(dir.path(), "a.wav", spec(1, 24, false), &a, 0)),
        ),
        track(
            2,
            Cue::default(),
            Some(wav(dir.path(), "b.wav", spec(1, 24, false), &b, 0)),
        ),
    ];
    let mut rig = Rig::new(tracks);
    let period = 256;
    rig.player.play_from(0).expect("play");
    let both = 0.5 + 838_861.0 / 8_388_608.0;
    let mut last = Vec::new();
    for _ in 0..20 {
        last = rig.block::<f32>(period, 2, true);
    }
    assert_eq!(last[0], both);
    // Solo track 2: within the mixed read-ahead (a sixth of a second) only it plays.
    rig.player
        .set_cue(
            2,
            Cue {
                solo: true,
                ..Cue::default()
            },
        )
        .expect("cue");
    let changed_at = rig.clock;
    let horizon = RATE as u64 / 6 + 2 * block::BLOCK_FRAMES as u64;
    while rig.clock < changed_at + horizon {
        last = rig.block::<f32>(period, 2, true);
    }
    assert_eq!(last[0], 838_861.0 / 8_388_608.0);
    // Mute it too: a muted solo is no solo, track 1 plays, hard right now.
    rig.player
        .set_cue(
            2,
            Cue {
                solo: true,
                mute: true,
                ..Cue::default()
            },
        )
        .expect("cue");
    rig.player
        .set_cue(
            1,
            Cue {
                pan: 1.0,
                ..Cue::default()
            },
        )
        .expect("cue");
    let changed_at = rig.clock;
    while rig.clock < changed_at + horizon {
        last = rig.block::<f32>(period, 2, true);
    }
    assert_eq!(&last[..2], [0.0, 0.5]);
    assert!(rig.player.set_cue(9, Cue::default()).is_err());
    assert_eq!(rig.player.underruns(), Underruns::default());
}

#[test]
fn stop_silences_and_a_new_play_starts_exactly_where_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = counter24(30_000, 9);
    let clip = wav(dir.path(), "t.wav", spec(1, 24, false), &s, 0);
    let mut rig = Rig::new(vec![track(1, Cue::default(), Some(clip))]);
    let period = 128;
    rig.player.play_from(100).expect("play");
    while rig.player.state() != PlayState::Playing {
        rig.block::<f32>(period, 2, true);
    }
    for _ in 0..5 {
        rig.block::<f32>(period, 2, true);
    }
    rig.player.stop();
    assert_eq!(rig.player.state(), PlayState::Stopped);
    let out = rig.block::<f32>(period, 2, true);
    assert!(out.iter().all(|&x| x == 0.0));
    let a = rig.shared.anchor().expect("anchor");
    assert_eq!((a.run, a.position), (0, 100 + 6 * period as u64));
    assert_eq!(rig.player.position(), 100 + 6 * period as u64);

    rig.player.play_from(20_000).expect("play");
    assert_eq!(rig.player.position(), 20_000);
    let mut out = rig.block::<f32>(period, 2, true);
    while rig.player.state() != PlayState::Playing {
        out = rig.block::<f32>(period, 2, true);
    }
    let first = rig.shared.first_anchor().expect("first");
    assert_eq!((first.run, first.position), (2, 20_000));
    assert_eq!(
        first.clock,
        Some(ClockStamp::JackFrame((rig.clock - period as u64) as u32))
    );
    assert_eq!(out[0], s[20_000] as f32 / 8_388_608.0);
    // At the end: ended at once.
    rig.player.play_from(30_000).expect("play at the end");
    assert_eq!(rig.player.state(), PlayState::Ended);
    assert_eq!(rig.player.position(), 30_000);
    // Past the end: refused, with the song's end in the message.
    let e = rig.player.play_from(30_001).expect_err("past the end");
    assert!(e.to_string().contains("the song ends at 0.625 s"), "{e}");
}

#[test]
fn host_stamps_give_the_latency_in_frames() {
    let (_player, mut playout, shared) = Player::new(Vec::new(), RATE, 4096).expect("player");
    let mut out = [0.0f32; 64];
    playout.on_block(
        &mut out,
        2,
        OutStamp::Host {
            callback_ns: Some(1_000_000),
            playback_ns: Some(1_000_000 + 10_000_000),
        },
    );
    let a = shared.anchor().expect("anchor");
    assert_eq!(a.clock, Some(ClockStamp::Nanos(1_000_000)));
    assert_eq!((a.latency_frames, a.frames, a.run), (480, 32, 0));
}

#[test]
fn a_file_cut_short_while_playing_is_reported_and_goes_silent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = counter24(40_000, 4);
    let clip = wav(dir.path(), "t.wav", spec(1, 24, false), &s, 0);
    let mut rig = Rig::new(vec![track(1, Cue::default(), Some(clip.clone()))]);
    rig.player.play_from(0).expect("play");
    // Cut after the play opened it: the read-ahead (8192 frames) already holds the start.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&clip.path)
        .expect("open");
    file.set_len(clip.data_offset + 20_000 * 3).expect("cut");
    let mut out: Vec<f32> = Vec::new();
    while rig.player.state() != PlayState::Ended {
        out.extend(rig.block::<f32>(512, 2, true));
    }
    let problems = rig.player.problems();
    assert!(
        matches!(&problems[..], [Problem::ReadFailed { path, .. }] if *path == clip.path),
        "{problems:?}"
    );
    assert!(problems[0].to_string().contains("t.wav"));
    let lead = lead_in(&out, 2, 512, &rig.shared);
    assert_eq!(out[lead * 2], s[0] as f32 / 8_388_608.0);
    // Silent from some point before the cut to the end, and still on time: no underrun.
    assert!(out[(lead + 20_000) * 2..].iter().all(|&x| x == 0.0));
    assert_eq!(rig.player.underruns(), Underruns::default());
    assert_eq!(rig.player.position(), 40_000);
}
