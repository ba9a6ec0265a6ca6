//! For the export tests: a real recorded session, Ardour 7 run headless through `ardour7-lua`
//! (Dummy backend) to load an exported session and render its mix, the same mix built by sox
//! from the raw files, and the level of what is left when one is taken from the other.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{bin, output_within, read_json, require};

pub const RATE: u32 = 48_000;

/// Runs the binary with `args`; panics with its stderr unless it succeeds. Returns stdout.
pub fn tapedeck(args: &[&str], envs: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run tapedeck");
    assert!(
        out.status.success(),
        "tapedeck {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A stereo 24-bit WAV: a sine on each side (300 Hz left, 500 Hz right) at -20 dBFS.
fn write_stereo(path: &Path, frames: u32) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create the stereo file");
    let full = f64::from((1 << 23) - 1);
    for i in 0..frames {
        let t = f64::from(i) / f64::from(RATE);
        for f in [300.0, 500.0] {
            let s = 0.1 * (2.0 * std::f64::consts::PI * f * t).sin();
            w.write_sample((s * full).round() as i32).expect("write");
        }
    }
    w.finalize().expect("finish the stereo file");
}

/// Records a session `song` under `root` the way a band would, through the real binary on the
/// demo interface, so that takes sit at different places on the timeline:
/// take 1, the band for 3 s (Bass DI, Vox, and the hi-hat named `Click`, a name Ardour keeps
/// for itself); take 2, Keys overdubbed from 1 s for 2 s; take 3, Vox again, overdubbed from
/// 0.5 s for 1 s (Vox then plays take 3); take 4, a stereo file imported at 0.7 s as
/// `Gtr: Amp` (a `:` Ardour turns into `-`). The mix stays below full scale (sox clips).
pub fn record_session(root: &Path) -> PathBuf {
    let d = root.to_str().expect("utf-8 path");
    let config = root.join("config");
    let config = config.to_str().expect("utf-8 path");
    let env = [
        ("XDG_CONFIG_HOME", config),
        ("TAPEDECK_DEMO_LOOPBACK_DELAY", "0"),
    ];
    tapedeck(
        &[
            "demo",
            "--headless",
            "--duration",
            "3s",
            "--session",
            "song",
            "--dir",
            d,
            "--track",
            "2:Bass DI:di",
            "--track",
            "4:Vox",
            "--track",
            "7:Click",
        ],
        &env,
    );
    for (from, duration, track) in [("48000f", "2s", "8:Keys"), ("24000f", "1s", "4:Vox")] {
        tapedeck(
            &[
                "demo",
                "--headless",
                "--overdub",
                "--from",
                from,
                "--duration",
                duration,
                "--session",
                "song",
                "--dir",
                d,
                "--track",
                track,
            ],
            &env,
        );
    }
    let stereo = root.join("gtr.wav");
    write_stereo(&stereo, 72_000);
    tapedeck(
        &[
            "import",
            stereo.to_str().expect("utf-8 path"),
            "--session",
            "song",
            "--dir",
            d,
            "--at",
            "33600f",
            "--name",
            "Gtr: Amp",
        ],
        &env,
    );
    root.join("song")
}

/// A clip as a mix uses it: a file's `frames` from `offset`, heard from timeline `position`.
#[derive(Clone, Debug, PartialEq)]
pub struct MixClip {
    pub path: PathBuf,
    pub offset: u64,
    pub frames: u64,
    pub position: u64,
}

/// Each track's playing take as the manifest places it (what every export must reproduce):
/// (track name, clip).
pub fn playing_clips(session: &Path) -> Vec<(String, MixClip)> {
    let m = read_json(&session.join("session.json"));
    let mut out = Vec::new();
    for track in m["tracks"].as_array().expect("tracks") {
        let n = track["number"].as_u64().expect("number");
        let holding: Vec<&serde_json::Value> = m["takes"]
            .as_array()
            .expect("takes")
            .iter()
            .filter(|t| {
                t["tracks"]
                    .as_array()
                    .expect("files")
                    .iter()
                    .any(|f| f["track"] == n)
            })
            .collect();
        let take = match track["playing_take"].as_u64() {
            Some(p) => holding.iter().find(|t| t["number"] == p).copied(),
            None => holding.last().copied(),
        };
        let Some(take) = take else { continue };
        let file = take["tracks"]
            .as_array()
            .expect("files")
            .iter()
            .find(|f| f["track"] == n)
            .expect("the take's file");
        out.push((
            track["name"].as_str().expect("name").to_string(),
            MixClip {
                path: session.join(file["file"].as_str().expect("file")),
                offset: 0,
                frames: file["frames"].as_u64().expect("frames"),
                position: take["timeline_start"].as_u64().expect("timeline_start"),
            },
        ));
    }
    out
}

/// The mix of `clips` into a stereo master, built by sox: mono files at -3 dB on each side
/// (Ardour's centred panner: 10^(-3/20), not 1/sqrt 2), stereo files side to side; 32-bit
/// float, `length` frames.
pub fn sox_mix(clips: &[MixClip], length: u64, out: &Path) {
    sox_mix_into(clips, length, out, 2);
}

/// The same mix into a mono master: mono files as they are, a stereo file's left channel
/// (its first output, the only one a mono master has).
pub fn sox_mix_mono(clips: &[MixClip], length: u64, out: &Path) {
    sox_mix_into(clips, length, out, 1);
}

fn sox_mix_into(clips: &[MixClip], length: u64, out: &Path, master: u16) {
    require("sox");
    let mut inputs = Vec::new();
    for c in clips {
        let channels = hound::WavReader::open(&c.path)
            .unwrap_or_else(|e| panic!("hound cannot open {}: {e}", c.path.display()))
            .spec()
            .channels;
        let tail = length - c.position - c.frames;
        let mut cmd = format!(
            "|sox '{}' -p trim {}s {}s pad {}s {tail}s",
            c.path.display(),
            c.offset,
            c.frames,
            c.position
        );
        match (master, channels) {
            (2, 1) => cmd.push_str(" remix 1v0.70794578 1v0.70794578"),
            (1, 2) => cmd.push_str(" remix 1"),
            _ => {}
        }
        inputs.push(cmd);
    }
    let mut sox = Command::new("sox");
    sox.arg("-D");
    if inputs.len() > 1 {
        sox.arg("-m");
    }
    for i in &inputs {
        sox.args(["-v", "1", i]);
    }
    sox.args(["-e", "floating-point", "-b", "32"]).arg(out);
    let o = sox.output().expect("run sox");
    assert!(
        o.status.success(),
        "sox mix failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every sample of a float WAV, interleaved, and its channel count.
fn float_samples(path: &Path) -> (Vec<f32>, u16) {
    let r = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("hound cannot open {}: {e}", path.display()));
    let ch = r.spec().channels;
    let s = r
        .into_samples::<f32>()
        .map(|s| s.expect("a sample"))
        .collect();
    (s, ch)
}

/// (peak of `a` in dBFS, peak of `a - b` in dBFS): the second is -inf when they are the same.
pub fn null_dbfs(a: &Path, b: &Path) -> (f64, f64) {
    let (x, cx) = float_samples(a);
    let (y, cy) = float_samples(b);
    assert_eq!(
        cx,
        cy,
        "{} and {} have other channel counts",
        a.display(),
        b.display()
    );
    assert_eq!(
        x.len(),
        y.len(),
        "{} and {} have other lengths",
        a.display(),
        b.display()
    );
    let db = |v: f32| 20.0 * f64::from(v).log10();
    let peak = x.iter().fold(0f32, |m, s| m.max(s.abs()));
    let diff = x
        .iter()
        .zip(&y)
        .fold(0f32, |m, (p, q)| m.max((p - q).abs()));
    (db(peak), db(diff))
}

/// What Ardour made of a session it loaded.
#[derive(Debug, Default)]
pub struct Loaded {
    pub region_fades: bool,
    /// (track name, its playlist, audio inputs).
    pub tracks: Vec<(String, String, u32)>,
    pub regions: Vec<Region>,
    /// (name, start, end, is a mark).
    pub locations: Vec<(String, u64, u64, bool)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub track: String,
    pub playlist: String,
    pub name: String,
    pub position: u64,
    pub start: u64,
    pub length: u64,
    pub path: PathBuf,
}

const LOAD_LUA: &str = r#"
-- Fields apart by tabs (print separates them by spaces, and names have spaces).
local function out(...)
  local t = {}
  for _, v in ipairs({...}) do t[#t + 1] = tostring(v) end
  print(table.concat(t, "\t"))
end
AudioEngine:set_backend("None (Dummy)", "", "")
local s = load_session(arg[1], arg[2])
assert(s, "the session did not load")
out("FADES", s:cfg():get_use_region_fades())
for r in s:get_routes():iter() do
  local t = r:to_track()
  if not t:isnil() then
    out("TRACK", r:name(), t:playlist():name(), r:n_inputs():n_audio())
    for pl in s:playlists():playlists_for_track(t):iter() do
      for reg in pl:region_list():iter() do
        out("REGION", r:name(), pl:name(), reg:name(), reg:position():samples(),
              reg:start():samples(), reg:length():samples(), reg:source(0):to_filesource():path())
      end
    end
  end
end
for l in s:locations():list():iter() do
  out("LOC", l:name(), l:start():samples(), l:_end():samples(), l:is_mark())
end
close_session()
"#;

fn ardour_lua(script: &str, args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    require("ardour7-lua");
    let dir = tempfile::tempdir().expect("tempdir");
    let lua = dir.path().join("script.lua");
    std::fs::write(&lua, script).expect("write the lua script");
    let mut cmd = Command::new("ardour7-lua");
    cmd.arg(&lua).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let o = output_within(&mut cmd, Duration::from_secs(180)).expect("ardour7-lua hung");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

/// Loads the session `name` in `dir` in Ardour 7 and lists what it holds.
pub fn ardour_load(dir: &Path, name: &str) -> Loaded {
    let (ok, text) = ardour_lua(LOAD_LUA, &[dir.to_str().expect("utf-8"), name], &[]);
    assert!(
        ok && !text.contains("Error:"),
        "Ardour did not load the session:\n{text}"
    );
    let mut l = Loaded::default();
    let num = |s: &str| {
        s.trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{s:?} in\n{text}"))
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["FADES", v] => l.region_fades = v.trim() == "true",
            ["TRACK", name, playlist, inputs] => {
                l.tracks
                    .push((name.to_string(), playlist.to_string(), num(inputs) as u32))
            }
            ["REGION", track, playlist, name, pos, start, len, path] => l.regions.push(Region {
                track: track.to_string(),
                playlist: playlist.to_string(),
                name: name.to_string(),
                position: num(pos),
                start: num(start),
                length: num(len),
                path: PathBuf::from(path.trim()),
            }),
            ["LOC", name, start, end, mark] => l.locations.push((
                name.to_string(),
                num(start),
                num(end),
                mark.trim() == "true",
            )),
            _ => {}
        }
    }
    assert!(!l.tracks.is_empty(), "Ardour listed no track:\n{text}");
    l
}

const RENDER_LUA: &str = r#"
-- Fields apart by tabs (print separates them by spaces, and names have spaces).
local function out(...)
  local t = {}
  for _, v in ipairs({...}) do t[#t + 1] = tostring(v) end
  print(table.concat(t, "\t"))
end
AudioEngine:set_backend("None (Dummy)", "", "")
-- The largest period: Ardour 7.3's exporter crashes now and then at smaller ones.
AudioEngine:set_buffer_size(8192)
local s = load_session(arg[1], arg[2])
assert(s, "the session did not load")
local e = s:simple_export()
e:set_folder(arg[3])
e:set_name("mix")
e:set_range(0, tonumber(arg[4]))
assert(e:set_preset("0e6a1f7c-5b3d-4c2a-8f1e-2d9b7a6c5e01"), "no export preset")
assert(e:check_outputs(), "no outputs to export")
out("EXPORTED", e:run_export())
close_session()
"#;

const FORMAT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ExportFormatSpecification name="null test f32" id="7c4d2b1e-0a4f-4e52-9a51-3d2f1c0b9e01" with-cue="false" with-toc="false" with-mp4chaps="false" command="" analyse="false" soundcloud-upload="false">
  <Encoding id="F_WAV" type="T_Sndfile" extension="wav" name="WAV" has-sample-format="true" channel-limit="256"/>
  <SampleRate rate="1"/>
  <SRCQuality quality="SRC_SincBest"/>
  <EncodingOptions>
    <Option name="sample-format" value="SF_Float"/>
    <Option name="dithering" value="D_None"/>
    <Option name="tag-metadata" value="false"/>
    <Option name="tag-support" value="false"/>
    <Option name="broadcast-info" value="false"/>
  </EncodingOptions>
  <Processing>
    <Normalize enabled="false" loudness="no" dbfs="0" lufs="-23" dbtp="-1"/>
    <Silence>
      <Start><Trim enabled="false"/><Add enabled="false"><Duration format="Timecode" hours="0" minutes="0" seconds="0" frames="0"/></Add></Start>
      <End><Trim enabled="false"/><Add enabled="false"><Duration format="Timecode" hours="0" minutes="0" seconds="0" frames="0"/></Add></End>
    </Silence>
  </Processing>
</ExportFormatSpecification>
"#;

const PRESET: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ExportPreset id="0e6a1f7c-5b3d-4c2a-8f1e-2d9b7a6c5e01" name="null test f32">
  <ExportFormat id="7c4d2b1e-0a4f-4e52-9a51-3d2f1c0b9e01"/>
  <ExportFilename>
    <Folder relative="true" path="/export"/>
    <Field name="label" enabled="false"/>
    <Field name="session" enabled="false"/>
    <Field name="revision" enabled="false"/>
    <Field name="time" enabled="false" value="T_None"/>
    <Field name="date" enabled="false" value="D_None"/>
  </ExportFilename>
</ExportPreset>
"#;

/// Renders the master of the session `name` in `dir` from 0 to `length` as 32-bit float
/// (no dither) into `out_dir/mix.wav`. Ardour 7.3's exporter crashes now and then (heap
/// corruption in ~PortExportChannel, sometimes after the file is written): it runs at period
/// 8192, where that was not seen, and a crashed run is retried, up to 4 runs.
pub fn ardour_render(dir: &Path, name: &str, length: u64, out_dir: &Path) -> PathBuf {
    let formats = tempfile::tempdir().expect("tempdir");
    std::fs::write(formats.path().join("nulltest.format"), FORMAT).expect("format");
    std::fs::write(formats.path().join("nulltest.preset"), PRESET).expect("preset");
    let fmt = formats.path().to_str().expect("utf-8").to_string();
    let out = out_dir.join("mix.wav");
    let mut log = String::new();
    for attempt in 1..=4 {
        let _ = std::fs::remove_file(&out);
        let (ok, text) = ardour_lua(
            RENDER_LUA,
            &[
                dir.to_str().expect("utf-8"),
                name,
                out_dir.to_str().expect("utf-8"),
                &length.to_string(),
            ],
            &[("ARDOUR_EXPORT_FORMATS_PATH", &fmt)],
        );
        if ok && text.contains("EXPORTED\ttrue") && out.is_file() {
            return out;
        }
        log.push_str(&format!("--- run {attempt}:\n{text}\n"));
    }
    panic!("Ardour did not render the session in 4 runs:\n{log}");
}

/// A Python with the PyPI packages `pkgs`, in a virtual environment under the target folder
/// (made on first use). None, with the reason, when pip cannot reach PyPI.
pub fn python_with(pkgs: &[&str]) -> Result<PathBuf, String> {
    require("python3");
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("export-venv");
    let python = venv.join("bin/python");
    let has = |python: &Path| {
        pkgs.iter().all(|p| {
            Command::new(python)
                .args(["-c", &format!("import {p}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
    };
    if python.is_file() && has(&python) {
        return Ok(python);
    }
    let o = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .expect("run python3 -m venv");
    assert!(
        o.status.success(),
        "python3 -m venv failed (scripts/setup --test installs python3-venv): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet"])
        .args(pkgs)
        .output()
        .expect("run pip");
    if !o.status.success() || !has(&python) {
        return Err(format!(
            "pip could not install {pkgs:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(python)
}

/// Says on the terminal (not in the captured test output) that a test did not run, and why.
pub fn skip(why: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("\nSKIPPED: {why}\n").as_bytes());
}
