//! A real file system limit: a FAT32 image mounted through FUSE (fusefat, as root), which
//! refuses a write past 2 GiB. A take that crosses it continues in a second part; the parts'
//! audio, read by soxi, hound and ffprobe, is the demo device's, sample for sample by stream
//! frame (what an RF64 take of the same source holds, tests/large_file.rs); a recorder killed
//! while writing its second part is repaired by `tapedeck recover`, every part still exact.
//! Skipped, visibly, without root, /dev/fuse or fusefat.
//!
//! On fusefat, a file's header is not rewritten while it grows (writes that go back to the
//! start make later writes at the end land elsewhere there, `disk::header_rewrites_in_place`):
//! each part gets its sizes when it is finished, the killed one from `tapedeck recover`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::split::{DemoSource, check_take_with, track_parts};
use common::{last_take, read_json};

const RATE: u32 = 96_000;
const PERIOD: u32 = 512;
/// fusefat's limit: no file grows past 2 GiB.
const FUSEFAT_LIMIT: u64 = 1 << 31;
/// A little past 2 GiB of 32-bit float at 96 kHz (5592.4 s fit): about 45 MB in part 2.
const DURATION: &str = "1h35m";
const FRAMES: u64 = (3600 + 35 * 60) * RATE as u64;
/// The second take's parts (`--split-every`), in seconds.
const PART_SECS: u64 = 600;

/// The FAT image, mounted; unmounted when dropped, whether the test passed or not.
struct FatMount {
    dir: tempfile::TempDir,
    mnt: PathBuf,
}

impl FatMount {
    /// `None` (and a SKIPPED line) when this machine cannot mount one.
    fn new() -> Option<Self> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            common::daw::skip("split_fat: needs root to mount a FAT image through FUSE");
            return None;
        }
        if !Path::new("/dev/fuse").exists() {
            common::daw::skip("split_fat: /dev/fuse is missing");
            return None;
        }
        for tool in ["fusefat", "mkfs.vfat", "fusermount", "soxi", "ffprobe"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !found {
                common::daw::skip(&format!("split_fat: {tool} is not installed"));
                return None;
            }
        }
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let img = dir.path().join("fat.img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).expect("mkdir");
        let ok = |c: &mut Command| {
            let out = c.output().expect("run");
            assert!(
                out.status.success(),
                "{c:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        // Sparse. (fusefat loses track of images much larger than this.)
        ok(Command::new("truncate").args(["-s", "3G"]).arg(&img));
        ok(Command::new("mkfs.vfat").args(["-F", "32"]).arg(&img));
        // The daemon keeps printing: its output goes nowhere rather than into a pipe that
        // closes under it.
        let mounted = Command::new("fusefat")
            .args(["-o", "rw+"])
            .arg(&img)
            .arg(&mnt)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("fusefat");
        assert!(mounted.success(), "fusefat could not mount the image");
        let m = FatMount { dir, mnt };
        eprintln!(
            "split_fat: FAT image mounted, {:?} bytes free",
            tapedeck::disk::free_bytes(&m.mnt)
        );
        let table = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let real = std::fs::canonicalize(&m.mnt).expect("canonical");
        assert_eq!(
            tapedeck::disk::mount_type(&table, &real).as_deref(),
            Some("fuse.fusefat"),
            "the image is mounted"
        );
        assert_eq!(
            tapedeck::disk::file_size_limit(&m.mnt),
            Some(tapedeck::disk::FAT_FILE_LIMIT),
            "tapedeck knows FAT's limit ahead"
        );
        assert!(
            !tapedeck::disk::header_rewrites_in_place(&m.mnt),
            "no header checkpoints on fusefat"
        );
        Some(m)
    }
}

impl Drop for FatMount {
    fn drop(&mut self) {
        let _ = Command::new("fusermount").arg("-u").arg(&self.mnt).status();
        let _ = &self.dir;
    }
}

fn record_args(dir: &Path, duration: &str) -> Vec<String> {
    [
        "demo",
        "--unpaced",
        "--channels",
        "1",
        "--rate",
        "96000",
        "--device-format",
        "f32",
        "--format",
        "f32",
        "--buffer",
        "512",
        "--track",
        "1:Long",
        "--min-free",
        "1s",
        "--headless",
        "--session",
        "long",
        "--duration",
        duration,
        "--dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([dir.to_str().expect("utf-8").to_string()])
    .collect()
}

/// Frames a part cut at fusefat's limit holds: every whole frame that fit but one (all of
/// them would make the data size the one sox reads as "length unknown").
fn first_part_frames() -> u64 {
    (FUSEFAT_LIMIT - 4096) / 4 - 1
}

#[test]
fn a_take_across_the_fat_limit_continues_in_a_next_part_and_a_killed_one_is_recovered() {
    let Some(fat) = FatMount::new() else { return };
    let started = Instant::now();

    // 1. A whole take across the limit.
    let dir = fat.mnt.join("one");
    std::fs::create_dir(&dir).expect("mkdir");
    let out = Command::new(common::bin())
        .args(record_args(&dir, DURATION))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let session = dir.join("long");
    let take = last_take(&session);
    assert_eq!(take["length_frames"].as_u64(), Some(FRAMES));
    assert_eq!(take["end_reason"], "duration", "{take:#}");
    assert_eq!(take["dropout_frames"].as_u64(), Some(0));
    let parts = track_parts(&session, &take);
    let first = &parts[0].1[0].path;

    // The part ends on whole frames, within the limit.
    let len = std::fs::metadata(first).expect("meta").len();
    assert!(len <= FUSEFAT_LIMIT, "the first part is {len} bytes");

    let source = DemoSource::new(1, RATE, PERIOD);
    let frames = check_take_with(&session, &take, &source, false);
    assert_eq!(
        frames,
        vec![vec![first_part_frames(), FRAMES - first_part_frames()]],
        "the first part holds what fit, the second the rest"
    );
    // The harness fact, once the parts are checked (fusefat counts a refused write in the
    // file's length): the file system refuses to grow a file past 2 GiB (fusefat answers
    // EPERM, "Operation not permitted"; other systems say EFBIG).
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(first)
        .expect("open the first part");
    let refused = f.write_all(&[0u8; 4096]).and_then(|()| f.flush());
    let len = std::fs::metadata(first).expect("meta").len();
    let errno = refused.as_ref().err().and_then(|e| e.raw_os_error());
    assert!(
        matches!(errno, Some(libc::EFBIG | libc::EPERM)),
        "a write past 2 GiB on fusefat: {refused:?}, file now {len} bytes"
    );
    eprintln!("split_fat: a write past 2 GiB is refused: {refused:?} (file now {len} bytes)");
    drop(f);
    eprintln!(
        "split_fat: whole take checked after {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // The second take on an image of its own (the first one's 2 GiB are given back to the
    // machine's disk as it is unmounted).
    drop(fat);
    let Some(fat) = FatMount::new() else { return };

    // 2. Killed while writing its second part. Parts of 10 minutes (--split-every, 230 MB: a
    // few seconds of writing each, long enough to be caught in the second) reach the second
    // part without another 2 GiB of writing; recovery is the same whatever made it.
    let dir = fat.mnt.join("two");
    std::fs::create_dir(&dir).expect("mkdir");
    let mut args = record_args(&dir, "3h");
    args.extend(["--split-every".to_string(), format!("{PART_SECS}s")]);
    let mut child = Command::new(common::bin())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tapedeck");
    let session = dir.join("long");
    let part2 = session.join("take-001/01_Long_T001_part002.wav");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = std::fs::read_to_string(session.join("session.json"))
            .is_ok_and(|t| t.contains("_part002.wav"));
        let grown = std::fs::metadata(&part2).is_ok_and(|m| m.len() > 1 << 20);
        if listed && grown {
            break;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the recorder ended before its second part grew"
        );
        assert!(Instant::now() < deadline, "no second part after 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: kill has no memory preconditions; the pid is our child's, not yet reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    let m = read_json(&session.join("session.json"));
    assert_eq!(m["takes"][0]["state"], "recording");
    let listed = m["takes"][0]["tracks"][0]["parts"]
        .as_array()
        .expect("parts listed");
    assert_eq!(listed.len(), 2, "the journal lists both parts: {listed:?}");
    assert_eq!(listed[0]["frames"].as_u64(), Some(PART_SECS * RATE as u64));

    let (code, said, err) = common::run(
        &["recover", "--dir", dir.to_str().expect("utf-8"), "long"],
        &[],
    );
    assert_eq!(code, 0, "{said}\n{err}");
    let take = last_take(&session);
    assert_eq!(take["state"], "recovered", "{take:#}");
    let frames = check_take_with(&session, &take, &source, false);
    assert_eq!(frames[0].len(), 2, "{frames:?}");
    assert_eq!(frames[0][0], PART_SECS * RATE as u64);
    assert!(
        frames[0][1] > 0,
        "the second part kept what reached the disk"
    );
    assert_eq!(
        take["length_frames"].as_u64(),
        Some(frames[0].iter().sum::<u64>())
    );
    eprintln!(
        "split_fat: done after {:.0} s (second part recovered with {} frames)",
        started.elapsed().as_secs_f64(),
        frames[0][1]
    );
}
