//! Pre-roll and keep-what-was-played through the real binary on a JACK dummy server, checked
//! bit-exact against a counter source: the screen UI in tmux (the keys a user presses) records
//! take 1 with `--pre-roll 3s` after the source has run for more than 3 s, and makes take 2 of
//! the last 2 s with `K`, nothing recording.
#![cfg(feature = "jack")]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::JackServer;
use common::history::{Counter, frame_of, samples, time_reference};
use common::tmux::Tmux;

const RATE: u32 = 48_000;

/// The manifest's entry of take `n`, once it is complete.
fn wait_for_take(session: &Path, n: u64, secs: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(text) = std::fs::read(session.join("session.json"))
            && let Ok(m) = serde_json::from_slice::<serde_json::Value>(&text)
            && let Some(t) = m["takes"]
                .as_array()
                .and_then(|ts| ts.iter().find(|t| t["number"].as_u64() == Some(n)))
            && t["state"] == "complete"
        {
            return t.clone();
        }
        assert!(
            Instant::now() < deadline,
            "take {n} did not complete within {secs} s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Checks that every file of `take` continues the counter sample by sample from the first (up
/// to a dropout in it), and returns the frame of the source the take starts at.
fn continuous_counter(session: &Path, take: &serde_json::Value) -> u64 {
    let files = take["tracks"].as_array().expect("tracks");
    assert_eq!(files.len(), 2);
    let first = samples(&session.join(files[0]["file"].as_str().expect("file")));
    let second = samples(&session.join(files[1]["file"].as_str().expect("file")));
    assert_eq!(
        first.len() as u64,
        take["length_frames"].as_u64().expect("a number")
    );
    let k0 = frame_of(first[0]);
    // Up to the first dropout after the press, if one came (zero-filled, as it should be).
    let upto = take["dropouts"]
        .as_array()
        .and_then(|d| d.first())
        .and_then(|d| d["at_frame"].as_u64())
        .map_or(first.len(), |f| f as usize);
    for (i, (a, b)) in first.iter().zip(&second).take(upto).enumerate() {
        let want = common::history::value(k0 + i as u64, false);
        assert!(
            *a == want && *b == -want,
            "frame {i} of take {} is {a}, {b}: not the counter's {want}",
            take["number"]
        );
    }
    k0
}

/// Samples since local midnight of `t` (what a take's TimeReference holds).
fn samples_since_midnight(t: chrono::DateTime<chrono::Local>) -> i64 {
    let midnight = t.date_naive().and_hms_opt(0, 0, 0).expect("midnight");
    (t.naive_local() - midnight).num_milliseconds() * i64::from(RATE) / 1000
}

#[test]
fn pre_roll_and_keep_last_take_exactly_the_counter_before_the_press() {
    // Long periods: a dummy server on a loaded machine misses fewer cycles with them.
    let jack = JackServer::start(RATE, 1024, 0);
    let counter = Counter::start(&jack, "counter");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let [one, two] = counter.ports();
    let tmux = Tmux::new("preroll");
    tmux.start(&format!(
        "JACK_DEFAULT_SERVER={} JACK_NO_START_SERVER=1 {} record --host jack --channels 2 \
         --format f32 --output none --pre-roll 3s --keep 5s --connect-input {one} \
         --connect-input {two} --session kept --dir {} 2>{}/stderr.txt",
        jack.name,
        common::bin(),
        dir.display(),
        dir.display()
    ));
    tmux.wait_for("the recorder's screen", 20, |s| s.contains("STOPPED"));
    let session = dir.join("kept");

    // Take 1: Record after more than the pre-roll has played. A dropout (the dummy server
    // missing cycles on a loaded machine) rightly restarts the kept past, and the pre-roll is
    // then shorter: such an attempt is made again, four times at most. A whole pre-roll has
    // no dropout in it, by construction.
    let mut number = 0;
    let mut unclean = Vec::new();
    let (take, wall) = loop {
        number += 1;
        std::thread::sleep(Duration::from_secs(4));
        let (pressed_at, wall) = (counter.produced(), chrono::Local::now());
        tmux.keys(&["r"]);
        tmux.wait_for("the take", 10, |s| s.contains("REC"));
        std::thread::sleep(Duration::from_secs(2));
        tmux.keys(&["s"]);
        let take = wait_for_take(&session, number, 15);
        assert_eq!(take["started_by"], "record");
        let pre_roll = take["pre_roll_frames"].as_u64().expect("pre_roll_frames");
        let start = take["start_frame"].as_u64().expect("a number");
        assert_eq!(take["pressed_frame"].as_u64(), Some(start + pre_roll));
        if pre_roll < 3 * u64::from(RATE) {
            assert!(
                number < 5,
                "the pre-roll is {pre_roll} frames, not 3 s, five times: {take}"
            );
            unclean.push(pre_roll);
            continue;
        }
        assert_eq!(pre_roll, 3 * u64::from(RATE), "the whole pre-roll: {take}");
        let k0 = continuous_counter(&session, &take);
        // The press as the source counted it, against where the take says it was pressed:
        // the key's way from tmux to the writer takes a few periods, never a second.
        let pressed = k0 + pre_roll;
        println!("pressed at source frame {pressed_at}; the take's press is at {pressed}");
        assert!(
            pressed.abs_diff(pressed_at) < u64::from(RATE),
            "the take's press (source frame {pressed}) is not where the key was pressed \
             ({pressed_at})"
        );
        break (take, wall);
    };
    if !unclean.is_empty() {
        println!("pre-rolls shortened by dropouts first: {unclean:?}");
    }
    // Its TimeReference moved back with it: the first frame's time of day (on the timeline:
    // the session's first take sets where it starts, so only the first take says this).
    let file = session.join(take["tracks"][0]["file"].as_str().expect("a string"));
    let tr = take["time_reference"].as_u64().expect("time_reference");
    assert_eq!(time_reference(&file), tr, "bext and manifest agree");
    if number == 1 {
        let want = samples_since_midnight(wall) - 3 * i64::from(RATE);
        assert!(
            (tr as i64 - want).abs() < i64::from(RATE),
            "TimeReference {tr} is not 3 s before the press ({want})"
        );
    }
    let started =
        chrono::DateTime::parse_from_rfc3339(take["started_at"].as_str().expect("started_at"))
            .expect("a time");
    let before = wall.fixed_offset() - started;
    assert!(
        (2000..4000).contains(&before.num_milliseconds()),
        "the take's started_at is {before:?} before the press, not 3 s"
    );

    // Then: the last 2 s, nothing recording (again, four times at most, when a dropout
    // shortened what was kept: a whole one has none in it).
    let mut attempts = 0;
    let kept = loop {
        number += 1;
        attempts += 1;
        std::thread::sleep(Duration::from_secs(3));
        let pressed_at = counter.produced();
        tmux.keys(&["K"]);
        tmux.wait_for("the keep-last prompt", 10, |s| s.contains("keep the last"));
        tmux.keys(&["2s", "Enter"]);
        let kept = wait_for_take(&session, number, 15);
        assert_eq!(kept["started_by"], "keep_last");
        let length = kept["length_frames"].as_u64().expect("a number");
        let start = kept["start_frame"].as_u64().expect("a number");
        assert_eq!(kept["pre_roll_frames"].as_u64(), Some(length));
        assert_eq!(kept["pressed_frame"].as_u64(), Some(start + length));
        if length < 2 * u64::from(RATE) {
            assert!(
                attempts < 5,
                "the kept take is {length} frames, not 2 s, five times: {kept}"
            );
            println!("a kept take shortened by a dropout in its past: {length} frames");
            continue;
        }
        assert_eq!(length, 2 * u64::from(RATE), "{kept}");
        let k0 = continuous_counter(&session, &kept);
        let end = k0 + length;
        println!("K pressed at source frame {pressed_at}; the take ends at {end}");
        assert!(
            end.abs_diff(pressed_at) < u64::from(RATE),
            "the kept take ends at source frame {end}, not where K was pressed ({pressed_at})"
        );
        break kept;
    };
    assert_eq!(kept["dropout_frames"].as_u64(), Some(0), "{kept}");

    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && tmux.screen().contains("STOPPED") {
        std::thread::sleep(Duration::from_millis(100));
    }
    let info = std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
    assert!(
        info.contains("keeping the last 5s of 2 inputs"),
        "the memory kept is said at the start: {info}"
    );
}
