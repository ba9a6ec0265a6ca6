use super::*;

const RATE: u32 = 48_000;

fn s24(x: f64) -> u32 {
    ((x * 8_388_608.0).round().clamp(-8_388_608.0, 8_388_607.0) as i32) as u32
}

fn sine(amplitude: f64, hz: f64, seconds: f64) -> Vec<u32> {
    let n = (seconds * f64::from(RATE)) as usize;
    (0..n)
        .map(|i| {
            s24(amplitude * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(RATE)).sin())
        })
        .collect()
}

fn measure(words: &[u32]) -> Levels {
    let mut m = LevelMeter::new(1, RATE, Encoding::Int(24)).expect("meter");
    m.add_words(words);
    m.report().levels()
}

#[test]
fn a_minus_20_dbfs_sine_reads_minus_23_lufs_single_channel() {
    let l = measure(&sine(0.1, 997.0, 10.0));
    let i = l.integrated_lufs.expect("integrated");
    assert!((i + 23.0).abs() <= 0.05, "{i}");
    assert!((l.sample_peak_dbfs.expect("peak") + 20.0).abs() < 0.01);
    // A sine's RMS is 3.01 dB under its peak.
    assert!((l.rms_dbfs.expect("rms") + 23.01).abs() < 0.01, "{l:?}");
    assert!(l.loudness_range_lu.expect("lra") < 0.1);
    assert!((l.max_momentary_lufs.expect("m") + 23.0).abs() < 0.1);
    assert!((l.max_short_term_lufs.expect("s") + 23.0).abs() < 0.1);
    assert_eq!(l.clipped_samples, 0);
    assert_eq!(l.dc_offset, 0.0);
}

#[test]
fn clipped_runs_dc_and_noise_floor() {
    // One second at 0.5 DC, one second of quiet, then a run of 5 clipped samples and 2 more.
    let mut w = vec![s24(0.5); RATE as usize];
    w.extend(vec![s24(0.001); RATE as usize]);
    w.extend([s24(1.0); 5]);
    w.push(s24(0.0));
    w.extend([s24(-1.0); 2]);
    let l = measure(&w);
    assert_eq!(l.clipped_samples, 7);
    assert_eq!(l.longest_clipped_run, 5);
    assert!(
        (l.noise_floor_dbfs.expect("floor") + 60.0).abs() < 0.01,
        "{l:?}"
    );
    assert_eq!(l.sample_peak_dbfs, Some(0.0));
    assert!(l.dc_offset > 0.25);
}

#[test]
fn silence_has_no_levels_in_db() {
    let mut m = LevelMeter::new(1, RATE, Encoding::Float).expect("meter");
    m.add_silence(2 * u64::from(RATE));
    let l = m.report().levels();
    assert_eq!(l.sample_peak_dbfs, None);
    assert_eq!(l.rms_dbfs, None);
    assert_eq!(l.integrated_lufs, None);
    assert_eq!(l.noise_floor_dbfs, None);
    assert_eq!(m.frames(), 2 * u64::from(RATE));
}

#[test]
fn a_quarter_rate_sine_between_samples_reads_its_true_peak() {
    // At fs/4 and 45°, every sample is at 0.707 of the peak: 3 dB of sample peak missing.
    let n = 5 * RATE as usize;
    let w: Vec<u32> = (0..n)
        .map(|i| {
            s24(0.5 * (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin())
        })
        .collect();
    let l = measure(&w);
    let tp = l.true_peak_dbtp.expect("tp");
    assert!((-6.42..=-5.82).contains(&tp), "{tp}");
    assert!((l.sample_peak_dbfs.expect("peak") + 9.03).abs() < 0.01);
}

#[test]
fn rounding_follows_printf() {
    assert_eq!(round_as_printed(-0.125, 2), -0.12);
    assert_eq!(round_as_printed(1.005, 2), 1.0); // 1.005 is 1.00499999... in binary
    assert_eq!(round_as_printed(-23.456, 2), -23.46);
}

#[test]
fn the_worker_measures_what_the_writer_hands_it() {
    let channels = 3;
    // Less than the queue holds: handed over at once, none of it is lost.
    let tone = sine(0.1, 997.0, 1.5);
    let mut words = Vec::new();
    for &t in &tone {
        words.extend([t, 0, s24(0.25)]);
    }
    let mut m = worker::Measuring::start(vec![2, 0], channels, RATE, Encoding::Int(24));
    // In small pieces, as a writer that keeps up hands them over.
    for step in words.chunks(64 * channels) {
        m.frames(step, channels);
    }
    m.silence(100);
    let reports = m.finish().expect("reports");
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].frames, tone.len() as u64 + 100);
    assert!((reports[0].sample_peak - 0.25).abs() < 1e-9);
    assert!((reports[1].sample_peak - 0.1).abs() < 1e-6);
}

#[test]
fn a_measurement_that_falls_behind_is_given_up_never_waited_for() {
    let mut m = worker::Measuring::start(vec![0], 1, RATE, Encoding::Int(24));
    let step = vec![s24(0.1); 4096];
    // Far more than the queue holds, handed over faster than anything can measure it.
    for _ in 0..(worker::QUEUE_SECONDS as usize + 60) * RATE as usize / 4096 {
        m.frames(&step, 1);
    }
    assert_eq!(m.lost(), Some(&worker::Lost::Behind));
    assert_eq!(m.finish(), Err(worker::Lost::Behind));
}
