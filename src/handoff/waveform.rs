//! A waveform overview of a WAV file as an SVG picture: the lowest and highest sample of each
//! column, read from the file in one pass, drawn as one filled outline.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::playback::decode;
use crate::wav::probe;

/// Columns of the picture.
pub const COLUMNS: usize = 800;
/// Height of the picture in pixels; full scale reaches the top and bottom.
pub const HEIGHT: u32 = 100;
/// How the picture says which audio it shows (a picture of fewer frames is drawn again).
const FRAMES_TAG: &str = "<!-- frames ";

/// The lowest and highest sample of each column (full scale = 1), over every channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Overview {
    pub frames: u64,
    pub columns: Vec<(f32, f32)>,
}

/// Reads `path` once and finds each column's extremes.
pub fn overview(path: &Path, columns: usize) -> io::Result<Overview> {
    let info = probe::probe(path).map_err(io::Error::other)?;
    let columns = columns.max(1);
    let bytes = info.format.bytes_per_sample();
    let block = bytes * usize::from(info.channels.max(1));
    let mut file = BufReader::with_capacity(1 << 20, File::open(path)?);
    file.seek(SeekFrom::Start(info.data_offset))?;
    let mut out = vec![(0f32, 0f32); columns];
    let mut buf = vec![0u8; block * 16384];
    let mut frame = 0u64;
    let total = info.frames.max(1);
    while frame < info.frames {
        let want = ((info.frames - frame) as usize).min(buf.len() / block) * block;
        file.read_exact(&mut buf[..want])?;
        for f in buf[..want].chunks_exact(block) {
            let col = ((frame * columns as u64) / total) as usize;
            let (lo, hi) = &mut out[col.min(columns - 1)];
            for s in f.chunks_exact(bytes) {
                let v = decode(info.format, s);
                *lo = lo.min(v);
                *hi = hi.max(v);
            }
            frame += 1;
        }
    }
    Ok(Overview {
        frames: info.frames,
        columns: out,
    })
}

/// The picture of an overview, with a title (the track and take) for viewers that show it.
pub fn svg(o: &Overview, title: &str) -> String {
    let h = f64::from(HEIGHT);
    let mid = h / 2.0;
    let y = |v: f32| mid - f64::from(v.clamp(-1.0, 1.0)) * mid;
    let mut upper = String::new();
    let mut lower = String::new();
    for (x, (_, hi)) in o.columns.iter().enumerate() {
        // A column of silence still shows as a hairline.
        let top = y(*hi).min(mid - 0.5);
        upper.push_str(&format!("{}{x},{top:.1}", if x == 0 { "M" } else { " L" }));
    }
    // Back along the lows, right to left, to close the outline.
    for (x, (lo, _)) in o.columns.iter().enumerate().rev() {
        let bottom = y(*lo).max(mid + 0.5);
        lower.push_str(&format!(" L{x},{bottom:.1}"));
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {HEIGHT}\" width=\"{w}\" height=\"{HEIGHT}\">\n\
         {FRAMES_TAG}{frames} -->\n\
         <title>{title}</title>\n\
         <rect width=\"{w}\" height=\"{HEIGHT}\" fill=\"#f4f4f4\"/>\n\
         <line x1=\"0\" y1=\"{mid}\" x2=\"{w}\" y2=\"{mid}\" stroke=\"#bbb\" stroke-width=\"0.5\"/>\n\
         <path d=\"{upper}{lower} Z\" fill=\"#2a5d8f\"/>\n\
         </svg>\n",
        w = o.columns.len(),
        frames = o.frames,
        title = crate::wav::xml_escape(title),
    )
}

/// The frames an existing picture shows, if it is one of ours.
fn frames_drawn(svg_path: &Path) -> Option<u64> {
    let text = fs::read_to_string(svg_path).ok()?;
    let at = text.find(FRAMES_TAG)? + FRAMES_TAG.len();
    text[at..].split_whitespace().next()?.parse().ok()
}

/// Draws `wav`'s overview into `svg_path` unless a picture of as many frames is there already
/// (the audio of a finished take never changes). Written atomically: temporary file, renamed.
pub fn write_svg(wav: &Path, svg_path: &Path, frames: u64, title: &str) -> io::Result<()> {
    if frames_drawn(svg_path) == Some(frames) {
        return Ok(());
    }
    let o = overview(wav, COLUMNS)?;
    if let Some(parent) = svg_path.parent() {
        fs::create_dir_all(parent)?;
    }
    super::write_atomically(svg_path, svg(&o, title).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_hold_their_extremes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.wav");
        let mut w = crate::wav::WavWriter::create(&path, crate::format::FileFormat::S16, 8000)
            .expect("create");
        // 8 frames: a rising ramp then silence; 4 columns.
        let samples: [i16; 8] = [0, 8192, 16384, -16384, 0, 0, 0, 0];
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        w.write_bytes(&bytes).expect("write");
        w.finalize().expect("finalize");
        let o = overview(&path, 4).expect("overview");
        assert_eq!(o.frames, 8);
        assert_eq!(
            o.columns,
            vec![(0.0, 0.25), (-0.5, 0.5), (0.0, 0.0), (0.0, 0.0)]
        );
        let picture = svg(&o, "a & b");
        assert!(picture.contains("<title>a &amp; b</title>"));
        assert!(picture.contains("<!-- frames 8 -->"));
        let out = dir.path().join("w/a.svg");
        write_svg(&path, &out, 8, "a").expect("svg");
        assert_eq!(frames_drawn(&out), Some(8));
    }
}
