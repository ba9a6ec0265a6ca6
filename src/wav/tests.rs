use std::io::{Seek, SeekFrom};

use super::*;

impl WavWriter {
    /// Appends `bytes` of zero audio as a hole in the file (sparse: no disk space), so that the
    /// 4 GiB boundary can be tested in milliseconds.
    fn skip_zeros(&mut self, bytes: u64) -> io::Result<()> {
        self.out.flush()?;
        let end = self.data_offset + self.data_bytes + bytes;
        let f = self.out.get_mut();
        f.set_len(end)?;
        f.seek(SeekFrom::Start(end))?;
        self.data_bytes += bytes;
        Ok(())
    }
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

/// The first `n` bytes of a file (the header of a huge sparse one).
fn head(path: &Path, n: usize) -> Vec<u8> {
    let f = File::open(path).expect("open");
    let mut b = vec![0u8; n];
    f.read_exact_at(&mut b, 0).expect("read head");
    b
}

#[test]
fn the_header_is_complete_at_creation_and_the_audio_starts_at_4096() {
    let dir = tempfile::tempdir().expect("tempdir");
    for fmt in FileFormat::ALL {
        let p = dir.path().join(format!("{fmt}.wav"));
        let w = WavWriter::create(&p, fmt, 48000).expect("create");
        assert_eq!(w.data_offset(), 4096, "{fmt}");
        // Nothing finalised: the file on disk is already a valid, empty WAV.
        let b = std::fs::read(&p).expect("read");
        assert_eq!(b.len(), 4096);
        assert_eq!(&b[0..4], b"RIFF");
        assert_eq!(u64::from(u32_at(&b, 4)), 4096 - 8);
        assert_eq!(&b[8..16], b"WAVEJUNK");
        assert_eq!(u32_at(&b, 16), 28);
        assert_eq!(&b[48..52], b"fmt ");
        assert_eq!(&b[4088..4092], b"data");
        assert_eq!(u32_at(&b, 4092), 0);
        let text = String::from_utf8_lossy(&b);
        assert!(text.contains("bext") && text.contains("<BWFXML>"), "{fmt}");
        let r = hound::WavReader::open(&p).expect("hound opens an empty take");
        assert_eq!(r.len(), 0);
        drop(w);
    }
}

#[test]
fn samples_written_are_the_samples_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("s16.wav");
    let mut w = WavWriter::create(&p, FileFormat::S16, 44100).expect("create");
    let values: Vec<i16> = (0..1001).map(|i| (i * 65 - 32768) as i16).collect();
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    w.write_bytes(&bytes[..1000]).expect("write");
    w.update_header().expect("header");
    assert_eq!(hound::WavReader::open(&p).expect("open").len(), 500);
    w.write_bytes(&bytes[1000..]).expect("write");
    assert_eq!(w.finalize().expect("finalize"), 1001);
    let mut r = hound::WavReader::open(&p).expect("open");
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 44100, 16)
    );
    let read: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    assert_eq!(read, values);
}

#[test]
fn past_4_gib_the_file_becomes_rf64_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    for fmt in FileFormat::ALL {
        let p = dir.path().join(format!("{fmt}.wav"));
        let mut w = WavWriter::create(&p, fmt, 96000).expect("create");
        let bps = fmt.bytes_per_sample() as u64;
        let under = (U32_MAX - 4096 - 8) / bps * bps - 16 * bps;
        w.skip_zeros(under).expect("skip");
        w.update_header().expect("header");
        assert!(!w.is_rf64(), "{fmt}: still fits a plain WAV");
        let b = head(&p, 4096);
        assert_eq!(&b[0..4], b"RIFF");
        assert_eq!(&b[12..16], b"JUNK");
        assert_eq!(u64::from(u32_at(&b, 4088 + 4)), under);
        // 64 frames more cross the boundary; the last ones carry a pattern.
        w.skip_zeros(32 * bps).expect("skip");
        let tail: Vec<u8> = (0..32 * bps).map(|i| (i * 3 + 1) as u8).collect();
        w.write_bytes(&tail).expect("write");
        w.update_header().expect("header");
        assert!(w.is_rf64(), "{fmt}");
        let frames = w.finalize().expect("finalize");
        let data = under + 64 * bps;
        assert_eq!(frames, data / bps);
        let b = head(&p, 4096);
        assert_eq!(&b[0..4], b"RF64");
        assert_eq!(u32_at(&b, 4), u32::MAX);
        assert_eq!(&b[12..16], b"ds64");
        assert_eq!(
            u64_at(&b, 20),
            4096 - 8 + data + (data & 1),
            "{fmt}: ds64 riffSize"
        );
        assert_eq!(u64_at(&b, 28), data, "{fmt}: ds64 dataSize");
        assert_eq!(u64_at(&b, 36), data / bps, "{fmt}: ds64 sampleCount");
        assert_eq!(u32_at(&b, 44), 0, "no table");
        assert_eq!(u32_at(&b, 4092), u32::MAX);
        if fmt.is_float() {
            let fact = w_fact_offset(&b);
            // 32-bit float reaches 4 GiB at about 1.07 G frames, which the fact count holds.
            assert_eq!(u64::from(u32_at(&b, fact)), data / bps);
        }
        let len = std::fs::metadata(&p).expect("meta").len();
        assert_eq!(len, 4096 + data + (data & 1));
        let f = File::open(&p).expect("open");
        let mut last = vec![0u8; tail.len()];
        f.read_exact_at(&mut last, 4096 + data - tail.len() as u64)
            .expect("read tail");
        assert_eq!(last, tail, "{fmt}: the last samples are where they belong");
        // A finished RF64 file needs no repair.
        let r = repair(&p).expect("repair");
        assert_eq!(
            (r.changed, r.rf64, r.frames),
            (false, true, data / bps),
            "{fmt}"
        );
    }
}

/// The offset of the fact chunk's sample count in a float header.
fn w_fact_offset(b: &[u8]) -> usize {
    let at = b
        .windows(4)
        .position(|w| w == b"fact")
        .expect("a float file has a fact chunk");
    at + 8
}

#[test]
fn every_state_of_the_rf64_switch_is_a_valid_file() {
    // Apply the switch's writes one by one to a copy of a plain header and check after each
    // what a reader would take the data size to be: the old size or the new one, never more
    // than is on disk and never a RIFF file claiming 0xFFFFFFFF.
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("switch.wav");
    let mut w = WavWriter::create(&p, FileFormat::F32, 48000).expect("create");
    let old = (U32_MAX - 8192) / 4 * 4;
    w.skip_zeros(old).expect("skip");
    w.update_header().expect("header");
    w.skip_zeros(16384).expect("skip");
    w.out.flush().expect("flush");
    let data_offset = w.data_offset;
    let fact = w.fact_offset;
    let new = old + 16384;
    let s = Sizes::new(data_offset, new, 4);
    assert!(s.needs_rf64());
    let puts: Vec<Put> = rf64_switch(data_offset, fact, &s)
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(puts.len(), 6);
    let file = OpenOptions::new().write(true).open(&p).expect("open");
    for (i, put) in puts.iter().enumerate() {
        file.write_all_at(put.bytes(), put.at).expect("put");
        let b = head(&p, 4096);
        let (start, declared) = data_region(&p).expect("still a file tapedeck wrote");
        assert_eq!(start, 4096);
        assert!(
            declared == old || declared == new,
            "after step {i}: {declared}"
        );
        if &b[0..4] == b"RIFF" {
            assert_ne!(u32_at(&b, 4), u32::MAX, "after step {i}");
            assert_ne!(u32_at(&b, 4092), u32::MAX, "after step {i}");
        }
    }
    assert_eq!(data_region(&p).expect("region").1, new);
    drop(w);
}

#[test]
fn repair_turns_a_cut_rf64_file_back_into_a_plain_wav() {
    // An RF64 file whose audio beyond 4 GiB never reached the disk (cut by a crash and a
    // filesystem that kept only part of it) is a plain WAV again after repair.
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("cut.wav");
    let mut w = WavWriter::create(&p, FileFormat::S24, 48000).expect("create");
    w.skip_zeros(U32_MAX).expect("skip");
    w.update_header().expect("header");
    assert!(w.is_rf64());
    drop(w);
    let f = OpenOptions::new().write(true).open(&p).expect("open");
    f.set_len(4096 + 3 * 1000 + 2).expect("cut");
    let r = repair(&p).expect("repair");
    assert_eq!(
        (r.frames, r.changed, r.rf64, r.trailing_partial_bytes),
        (1000, true, false, 2)
    );
    let b = head(&p, 4096);
    assert_eq!(&b[0..4], b"RIFF");
    assert_eq!(&b[12..16], b"JUNK");
    assert!(
        b[20..48].iter().all(|&x| x == 0),
        "the reserve is blank again"
    );
    assert_eq!(hound::WavReader::open(&p).expect("hound").len(), 1000);
    assert!(!repair(&p).expect("again").changed);
}

#[test]
fn metadata_is_written_as_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("meta.wav");
    let info = BwfInfo {
        description: "Bass DI - session Song <1> - take 2".into(),
        originator: ORIGINATOR.into(),
        originator_reference: "0123456789ABCDEF0123456789ABCDEF".into(),
        origination: chrono::NaiveDate::from_ymd_opt(2026, 12, 3)
            .and_then(|d| d.and_hms_opt(21, 4, 5))
            .expect("date"),
        time_reference: 123_456_789_012,
        project: "Song <1>".into(),
        scene: "Song <1>".into(),
        take: 2,
        track_name: "Bass DI".into(),
        track_number: 3,
        family_uid: "FAM".into(),
        file_uid: "FILE".into(),
        total_files: 4,
        file_index: 2,
        ..BwfInfo::default()
    };
    let w = WavWriter::create_bwf(&p, FileFormat::S24, 48000, &info).expect("create");
    drop(w);
    let b = std::fs::read(&p).expect("read");
    let at = b.windows(4).position(|w| w == b"bext").expect("bext") + 8;
    assert!(b[at..].starts_with(b"Bass DI - session Song <1> - take 2\0"));
    assert_eq!(u64_at(&b, at + 338), 123_456_789_012);
    let x = b.windows(4).position(|w| w == b"iXML").expect("ixml") + 8;
    let size = u32_at(&b, x - 4) as usize;
    let text = std::str::from_utf8(&b[x..x + size]).expect("utf-8");
    for want in [
        "<PROJECT>Song &lt;1&gt;</PROJECT>",
        "<TAKE>2</TAKE>",
        "<NAME>Bass DI</NAME>",
        "<CHANNEL_INDEX>3</CHANNEL_INDEX>",
        "<FAMILY_UID>FAM</FAMILY_UID>",
        "<TOTAL_FILES>4</TOTAL_FILES>",
        "<FILE_SET_INDEX>2</FILE_SET_INDEX>",
        "<AUDIO_BIT_DEPTH>24</AUDIO_BIT_DEPTH>",
        "<TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>28</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>",
        "<TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>3197704724</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>",
    ] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    assert!(text.trim_end().ends_with("</BWFXML>"));
    assert!(text.len() - text.trim_end().len() >= bwf::IXML_MIN_SLACK);
}

#[test]
fn metadata_too_long_for_one_page_pushes_the_audio_to_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("long.wav");
    let info = BwfInfo {
        track_name: "é".repeat(1500),
        project: "p".repeat(2000),
        ..BwfInfo::for_file(&p, 48000)
    };
    let mut w = WavWriter::create_bwf(&p, FileFormat::S16, 48000, &info).expect("create");
    assert_eq!(w.data_offset() % 4096, 0);
    assert!(w.data_offset() > 4096);
    w.write_bytes(&[1, 0, 2, 0]).expect("write");
    w.finalize().expect("finalize");
    let mut r = hound::WavReader::open(&p).expect("hound");
    let s: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    assert_eq!(s, [1, 2]);
}

#[test]
fn an_existing_file_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("taken.wav");
    std::fs::write(&p, b"precious").expect("write");
    let e = WavWriter::create(&p, FileFormat::S24, 48000)
        .err()
        .expect("refused");
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&p).expect("read"), b"precious");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no temporary file is left: {leftovers:?}"
    );
}

#[test]
fn split_off_ends_a_file_at_a_frame_and_hands_back_the_rest_from_disk_and_buffer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("cut.wav");
    let mut w = WavWriter::create(&p, FileFormat::S24, 48000).expect("create");
    let bytes: Vec<u8> = (0..300u32)
        .flat_map(|v| v.to_le_bytes()[..3].to_vec())
        .collect();
    // Part on disk, part still buffered.
    w.write_bytes(&bytes[..600]).expect("write");
    w.update_header().expect("header");
    w.write_bytes(&bytes[600..]).expect("write");
    let (frames, tail) = w.split_off(101).expect("split");
    assert_eq!(frames, 101);
    assert_eq!(
        tail,
        bytes[303..],
        "everything past the cut comes back, in order"
    );
    let got: Vec<i32> = hound::WavReader::open(&p)
        .expect("a complete file")
        .into_samples::<i32>()
        .map(|s| s.expect("sample"))
        .collect();
    assert_eq!(got, (0..101).collect::<Vec<i32>>());
    // 303 data bytes and a pad byte, nothing after.
    assert_eq!(std::fs::metadata(&p).expect("meta").len(), 4096 + 304);
}

#[test]
fn a_file_cut_at_2_gib_never_has_the_data_size_sox_reads_as_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    for fmt in FileFormat::ALL {
        let p = dir.path().join(format!("{fmt}.wav"));
        let w = WavWriter::create(&p, fmt, 96000).expect("create");
        let bps = fmt.bytes_per_sample() as u64;
        let frames = w.frames_within(1 << 31);
        assert_ne!(frames * bps, SOX_UNKNOWN_LENGTH, "{fmt}");
        assert!(w.data_offset + frames * bps <= 1 << 31, "{fmt}");
        assert!(
            frames * bps >= SOX_UNKNOWN_LENGTH - 2 * bps,
            "{fmt}: as much as fits"
        );
    }
}
