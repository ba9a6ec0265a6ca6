//! Faults during a take: the device vanishes, the disk fills up, the writer stalls. In each
//! case what reached tapedeck is on disk, readable and aligned, and the manifest says what
//! happened.

mod common;

use std::path::Path;
use std::process::Command;

use common::{last_take, read_json, soxi, take_files};
use tapedeck::audio::demo::DemoOptions;
use tapedeck::audio::demo_synth::DemoSynth;

/// What the demo device delivers (f32) on `channels` inputs from stream frame 0.
fn demo_signal(channels: usize, frames: usize) -> Vec<f32> {
    let mut synth = DemoSynth::new(channels, 48_000, DemoOptions::default().seed);
    let mut out = vec![0f32; frames * channels];
    synth.render(&mut out);
    out
}

fn f32_samples(path: &Path) -> Vec<f32> {
    hound::WavReader::open(path)
        .expect("hound opens")
        .samples::<f32>()
        .map(|s| s.expect("sample"))
        .collect()
}

#[test]
fn an_unplugged_device_ends_the_take_with_everything_captured() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = common::run(
        &[
            "demo",
            "--channels",
            "4",
            "--device-format",
            "f32",
            "--format",
            "f32",
            "--unplug-after",
            "2s",
            "--headless",
            "--session",
            "unplug",
            "--dir",
            tmp.path().to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code, 1, "device loss is a runtime failure:\n{out}\n{err}");
    assert!(err.contains("disappeared"), "the user is told: {err}");
    let session = tmp.path().join("unplug");
    let take = last_take(&session);
    assert_eq!(take["state"], "complete");
    assert_eq!(take["end_reason"], "device_lost");
    let len = take["length_frames"].as_u64().expect("length");
    assert!(
        len >= 96_000,
        "everything captured before the unplug is kept: {len}"
    );
    let start = take["start_frame"].as_u64().expect("start") as usize;
    let expected = demo_signal(4, start + len as usize);
    for (input, path) in take_files(&session, &take) {
        assert_eq!(soxi(&path).0, len);
        let got = f32_samples(&path);
        let ch = input as usize - 1;
        let same = got
            .iter()
            .enumerate()
            .all(|(i, v)| v.to_bits() == expected[(start + i) * 4 + ch].to_bits());
        assert!(
            same,
            "{} differs from what the device delivered",
            path.display()
        );
    }
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault-injection feature: run it through scripts/test, or cargo test --features fault-injection"
)]
fn a_stalled_writer_overflows_the_ring_and_the_gap_is_exact_and_aligned() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = common::run(
        &[
            "demo",
            "--channels",
            "4",
            "--device-format",
            "f32",
            "--format",
            "f32",
            "--ring-seconds",
            "0.5",
            "--duration",
            "5s",
            "--headless",
            "--session",
            "stall",
            "--dir",
            tmp.path().to_str().expect("utf-8"),
        ],
        // The writer stops for 2 s, 1 s into the take: a disk that stops answering.
        &[("TAPEDECK_TEST_STALL_WRITER", "1:2000")],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let session = tmp.path().join("stall");
    let take = last_take(&session);
    assert_eq!(take["length_frames"].as_u64(), Some(5 * 48_000));
    let dropouts = take["dropouts"].as_array().expect("dropouts").clone();
    let overflow: Vec<_> = dropouts
        .iter()
        .filter(|d| d["cause"] == "ring_overflow")
        .collect();
    assert!(!overflow.is_empty(), "no overflow recorded: {dropouts:#?}");
    let lost: u64 = overflow
        .iter()
        .map(|d| d["frames"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        lost >= 48_000,
        "about 1.5 s must have overflowed, got {lost} frames"
    );
    assert!(overflow.iter().all(|d| d["exact"] == true));
    // The status line counted them live.
    assert!(
        out.contains("dropouts 1") || out.contains("dropouts 2"),
        "{out}"
    );

    let start = take["start_frame"].as_u64().expect("start") as usize;
    let expected = demo_signal(4, start + 5 * 48_000);
    for (input, path) in take_files(&session, &take) {
        let got = f32_samples(&path);
        assert_eq!(got.len(), 5 * 48_000);
        let ch = input as usize - 1;
        for (i, v) in got.iter().enumerate() {
            let gap = overflow.iter().any(|d| {
                let at = d["at_frame"].as_u64().unwrap_or(0) as usize;
                let n = d["frames"].as_u64().unwrap_or(0) as usize;
                (at..at + n).contains(&i)
            });
            if gap {
                assert_eq!(
                    *v,
                    0.0,
                    "{}: frame {i} inside a dropout is not silent",
                    path.display()
                );
            } else {
                // Outside the gaps every sample is where it belongs: tracks stay aligned.
                assert_eq!(
                    v.to_bits(),
                    expected[(start + i) * 4 + ch].to_bits(),
                    "{}: frame {i} is not the device's frame {}",
                    path.display(),
                    start + i
                );
            }
        }
    }
}

/// How this process gets a private mount namespace in which it may mount a tmpfs on `at`:
/// `unshare -m` as root; `unshare -r -m` (a user namespace in which it is root) as anyone
/// else, where the kernel allows unprivileged user namespaces. `Err` says what each attempt
/// answered.
fn mount_namespace(at: &Path) -> Result<&'static [&'static str], String> {
    let probe = format!("mount -t tmpfs -o size=1m tmpfs {}", at.display());
    let mut tried = Vec::new();
    for args in [&["-m"][..], &["-r", "-m"][..]] {
        match Command::new("unshare")
            .args(args)
            .args(["sh", "-c", &probe])
            .output()
        {
            Ok(o) if o.status.success() => return Ok(args),
            Ok(o) => tried.push(format!(
                "`unshare {}`: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => tried.push(format!("`unshare {}`: {e}", args.join(" "))),
        }
    }
    Err(tried.join("; "))
}

#[test]
fn a_full_disk_stops_the_take_cleanly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mnt = tmp.path().join("small");
    std::fs::create_dir(&mnt).expect("mkdir");
    let unshare = mount_namespace(&mnt).unwrap_or_else(|tried| {
        panic!(
            "this test mounts a 3 MB tmpfs in a private mount namespace and cannot here: run \
             it as root, or as a user where unprivileged user namespaces are allowed \
             (`sysctl -w kernel.unprivileged_userns_clone=1` on kernels that have that switch, \
             and a non-zero `sysctl user.max_user_namespaces`); tried {tried}"
        )
    });
    // A private mount namespace: the 3 MB filesystem exists for this recording only; the test
    // copies what it needs out before the namespace goes.
    let script = format!(
        "set -e; mount -t tmpfs -o size=3m tmpfs {m}; set +e; \
         {bin} demo --channels 4 --device-format f32 --format f32 --duration 20s --headless \
           --min-free 0 --warn-free 5s --session full --dir {m} > {t}/out.txt 2> {t}/err.txt; \
         echo $? > {t}/code.txt; df -k {m} > {t}/df.txt; cp -a {m}/full {t}/full",
        m = mnt.display(),
        t = tmp.path().display(),
        bin = common::bin(),
    );
    let ok = Command::new("unshare")
        .args(unshare)
        .args(["sh", "-c", &script])
        .status()
        .expect("unshare");
    assert!(ok.success(), "the test script failed");
    let code = std::fs::read_to_string(tmp.path().join("code.txt")).expect("code");
    let err = std::fs::read_to_string(tmp.path().join("err.txt")).expect("err");
    let out = std::fs::read_to_string(tmp.path().join("out.txt")).expect("out");
    assert_eq!(
        code.trim(),
        "1",
        "disk full is a runtime failure\n{out}\n{err}"
    );
    assert!(err.contains("disk nearly full"), "warned before: {err}");
    assert!(
        out.contains("disk is full") || err.contains("disk is full"),
        "the user is told:\n{out}\n{err}"
    );

    let session = tmp.path().join("full");
    let m = read_json(&session.join("session.json"));
    let take = &m["takes"][0];
    assert_eq!(take["state"], "complete", "{m:#}");
    assert_eq!(take["end_reason"], "disk_full");
    assert!(take["ended_at"].is_string());
    let len = take["length_frames"].as_u64().expect("length");
    // 3 MB of 4 f32 tracks is about 4 s of audio.
    assert!(len > 48_000 * 2, "too little was kept: {len}");
    let start = take["start_frame"].as_u64().expect("start") as usize;
    let expected = demo_signal(4, start + 20 * 48_000);
    for (input, path) in take_files(&session, take) {
        let (n, _) = soxi(&path);
        assert!(
            n >= len,
            "{} has {n} frames, fewer than the take's {len}",
            path.display()
        );
        let got = f32_samples(&path);
        assert_eq!(got.len() as u64, n, "hound and sox agree");
        let ch = input as usize - 1;
        assert!(
            got.iter()
                .enumerate()
                .all(|(i, v)| v.to_bits() == expected[(start + i) * 4 + ch].to_bits()),
            "{}: the audio on disk is what the device delivered",
            path.display()
        );
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
}

#[test]
fn sigquit_ends_the_take_cleanly_and_sighup_lets_it_finish() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut quit = common::spawn_demo(tmp.path(), "quit", &[]);
    let mut hup = common::spawn_demo(tmp.path(), "hup", &["--duration", "3s"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    signal(quit.id(), "-QUIT");
    signal(hup.id(), "-HUP");
    assert_eq!(quit.wait().expect("wait").code(), Some(0));
    assert_eq!(hup.wait().expect("wait").code(), Some(0));

    let q = last_take(&tmp.path().join("quit"));
    assert_eq!(
        (q["state"].as_str(), q["end_reason"].as_str()),
        (Some("complete"), Some("signal"))
    );
    let h = last_take(&tmp.path().join("hup"));
    assert_eq!(
        (h["state"].as_str(), h["end_reason"].as_str()),
        (Some("complete"), Some("duration"))
    );
    assert_eq!(h["length_frames"].as_u64(), Some(3 * 48_000));
    let notes = read_json(&tmp.path().join("hup").join("session.json"))["notes"].clone();
    assert!(
        notes[0]["text"].as_str().unwrap_or("").contains("hung up"),
        "{notes}"
    );
    for (session, take) in [("quit", &q), ("hup", &h)] {
        let len = take["length_frames"].as_u64().expect("length");
        for (_, p) in take_files(&tmp.path().join(session), take) {
            assert_eq!(soxi(&p).0, len, "{}", p.display());
            assert_eq!(
                u64::from(hound::WavReader::open(&p).expect("hound").len()),
                len
            );
        }
    }
}
