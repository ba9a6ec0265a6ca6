//! The real playback path: clips streamed by the reader, played by cpal's ALSA host through
//! an ALSA `file` device that writes every frame played to a raw file, paced in real time by
//! a private JACK dummy server. A mono 24-bit take at unity, centre, must come back bit for
//! bit on both sides; a cue of three tracks with gains and pans must equal sox's mix of the
//! same files with the same factors within one 24-bit step.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use cpal::traits::HostTrait;
use tapedeck::audio::HostKind;
use tapedeck::format::DeviceFormat;
use tapedeck::playback::{
    Clip, Cue, CueTrack, Gains, OutputRequest, PlayState, Player, choose_output, open_output,
};
use tapedeck::wav::probe::probe;

use common::JackServer;

const RATE: u32 = 48_000;

/// A 24-bit signal with no zero in it, different at every frame.
fn counter24(frames: usize, seed: i32) -> Vec<i32> {
    (0..frames as i32)
        .map(|k| (((k * 7919 + seed) % 4_000_000) - 2_000_000) | 1)
        .collect()
}

fn write_wav(path: &Path, channels: u16, samples: &[i32]) -> Clip {
    let spec = hound::WavSpec {
        channels,
        sample_rate: RATE,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create");
    for &s in samples {
        w.write_sample(s).expect("sample");
    }
    w.finalize().expect("finalize");
    Clip::from_probe(path.to_path_buf(), 0, &probe(path).expect("probe"))
}

/// `$HOME/.asoundrc` with a playback device `played` that writes what it plays to `raw`,
/// paced by the JACK server's playback ports.
fn asoundrc(home: &Path, raw: &Path) {
    let rc = format!(
        r#"pcm.played {{
    type file
    slave.pcm {{
        type plug
        slave.pcm {{
            type jack
            playback_ports {{ 0 "system:playback_1" 1 "system:playback_2" }}
        }}
    }}
    file "{}"
    format "raw"
    hint {{ show on description "Playback into a raw file" }}
}}
"#,
        raw.display()
    );
    std::fs::create_dir_all(home).expect("home");
    std::fs::write(home.join(".asoundrc"), rc).expect("asoundrc");
}

/// Plays `tracks` through `alsa:played` as interleaved stereo i32, and returns what the
/// device was given.
fn play_through_alsa(tmp: &Path, name: &str, tracks: Vec<CueTrack>) -> Vec<[i32; 2]> {
    let raw = tmp.join(format!("{name}.raw"));
    asoundrc(&tmp.join("home"), &raw);
    let host = cpal::host_from_id(cpal::HostId::Alsa).expect("alsa host");
    let id = cpal::DeviceId::from_str("alsa:played").expect("id");
    let device = host.device_by_id(&id).expect("alsa:played exists");
    let req = OutputRequest {
        sample_rate: RATE,
        channels: None,
        format: Some(DeviceFormat::I32),
        buffer: Some(1024),
    };
    let choice = choose_output(HostKind::Alsa, &device, &req).expect("choice");
    assert_eq!(choice.channels, 2);
    let (mut player, playout, shared) = Player::new(tracks, RATE, 48_000).expect("player");
    player.play_from(0).expect("play");
    let out = open_output(HostKind::Alsa, &device, &choice, playout, &shared).expect("open");
    let deadline = Instant::now() + Duration::from_secs(20);
    while player.state() != PlayState::Ended {
        assert!(Instant::now() < deadline, "still {:?}", player.state());
        std::thread::sleep(Duration::from_millis(20));
    }
    // A few periods of silence after the end, then the stream is closed.
    std::thread::sleep(Duration::from_millis(100));
    drop(out);
    assert_eq!(player.underruns().frames, 0, "{:?}", player.underruns());
    assert!(player.problems().is_empty(), "{:?}", player.problems());
    let bytes = std::fs::read(&raw).expect("the played file");
    bytes
        .chunks_exact(8)
        .map(|f| {
            [
                i32::from_le_bytes(f[0..4].try_into().expect("4")),
                i32::from_le_bytes(f[4..8].try_into().expect("4")),
            ]
        })
        .collect()
}

/// Where the song begins in what was played (the takes have no zero sample), after checking
/// that only silence comes before it.
fn lead(played: &[[i32; 2]]) -> usize {
    played
        .iter()
        .position(|f| *f != [0, 0])
        .expect("something was played")
}

fn sox_mix(inputs: &[&Path], remix: &[String], out: &Path) {
    let mut cmd = Command::new("sox");
    cmd.arg("-D").arg("-M");
    cmd.args(inputs);
    cmd.args(["-t", "raw", "-e", "signed", "-b", "32"]).arg(out);
    cmd.arg("remix").args(remix);
    let st = cmd.status().expect("run sox");
    assert!(st.success(), "sox failed: {cmd:?}");
}

#[test]
fn playback_through_alsa_is_the_take_and_the_mix_is_soxs() {
    let _jack = JackServer::start(RATE, 1024, 2);
    let tmp = tempfile::tempdir().expect("tempdir");
    // The test process itself opens the devices: alsa-lib reads $HOME/.asoundrc, its JACK
    // plugin the server's name.
    // SAFETY: set before any thread of this test binary reads the environment (the only
    // test in it).
    unsafe {
        std::env::set_var("HOME", tmp.path().join("home"));
        std::env::set_var("JACK_DEFAULT_SERVER", &_jack.name);
        std::env::set_var("JACK_NO_START_SERVER", "1");
    }

    // One mono 24-bit take at unity, centre: each side of what was played is the take.
    let take = counter24(RATE as usize + 777, 1);
    let clip = write_wav(&tmp.path().join("take.wav"), 1, &take);
    let track = CueTrack {
        number: 1,
        cue: Cue::default(),
        clip: Some(clip),
    };
    let played = play_through_alsa(tmp.path(), "unity", vec![track]);
    let at = lead(&played);
    for (k, v) in take.iter().enumerate() {
        assert_eq!(played[at + k], [v << 8, v << 8], "frame {k}");
    }
    assert!(played[at + take.len()..].iter().all(|f| *f == [0, 0]));

    // Three tracks (one stereo, one starting later) with gains and pans, against sox.
    let a = counter24(30_000, 2);
    let b = counter24(2 * 40_000, 3);
    let c = counter24(20_000, 4);
    let (pa, pb, pc) = (
        tmp.path().join("a.wav"),
        tmp.path().join("b.wav"),
        tmp.path().join("c.wav"),
    );
    let start_c = 5_000u64;
    let cues = [
        Cue {
            gain_db: -3.0,
            pan: -0.6,
            ..Cue::default()
        },
        Cue {
            gain_db: -1.5,
            pan: 0.3,
            ..Cue::default()
        },
        Cue {
            gain_db: 2.0,
            pan: 0.0,
            ..Cue::default()
        },
    ];
    let mut clip_c = write_wav(&pc, 1, &c);
    clip_c.start = start_c;
    let clips = [write_wav(&pa, 1, &a), write_wav(&pb, 2, &b), clip_c];
    let tracks: Vec<CueTrack> = (0..3)
        .map(|i| CueTrack {
            number: i as u16 + 1,
            cue: cues[i],
            clip: Some(clips[i].clone()),
        })
        .collect();
    let played = play_through_alsa(tmp.path(), "mix", tracks);
    let at = lead(&played);

    // sox: c delayed by its start, then every input channel remixed with our factors.
    let pc_late = tmp.path().join("c-late.wav");
    let st = Command::new("sox")
        .arg(&pc)
        .arg(&pc_late)
        .args(["pad", &format!("{start_c}s")])
        .status()
        .expect("sox pad");
    assert!(st.success());
    let g: Vec<Gains> = cues.iter().map(Gains::of).collect();
    let remix = vec![
        format!("1v{:.9},2v{:.9},4v{:.9}", g[0].left, g[1].left, g[2].left),
        format!(
            "1v{:.9},3v{:.9},4v{:.9}",
            g[0].right, g[1].right, g[2].right
        ),
    ];
    let sox_raw: PathBuf = tmp.path().join("sox.raw");
    sox_mix(&[&pa, &pb, &pc_late], &remix, &sox_raw);
    let sox: Vec<[i32; 2]> = std::fs::read(&sox_raw)
        .expect("sox output")
        .chunks_exact(8)
        .map(|f| {
            [
                i32::from_le_bytes(f[0..4].try_into().expect("4")),
                i32::from_le_bytes(f[4..8].try_into().expect("4")),
            ]
        })
        .collect();
    assert_eq!(sox.len(), 40_000);
    let mut worst = 0i64;
    for (k, want) in sox.iter().enumerate() {
        let got = played[at + k];
        for side in 0..2 {
            // In steps of 24 bits: within one.
            let d = (i64::from(got[side]) - i64::from(want[side])).abs();
            worst = worst.max(d);
            assert!(d <= 256, "frame {k} side {side}: {got:?} vs sox {want:?}");
        }
    }
    assert!(played[at + sox.len()..].iter().all(|f| *f == [0, 0]));
    eprintln!("largest difference from sox: {worst} (of 256 for one 24-bit step)");
}
