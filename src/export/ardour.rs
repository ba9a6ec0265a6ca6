//! An Ardour 7 session (format 7002): one track per track, one playlist per take (Ardour's own
//! way of keeping takes: the track plays the playing take's playlist, the others are a click
//! away in its playlist menu), markers as locations and dropouts as range markers.
//!
//! Times are superclock ticks with the `a` prefix: a region is `start="a<offset in file>"` and
//! `length="a<len>@a<pos>"`. Files are named by absolute path, or by file name when copied into
//! the session's `interchange/<name>/audiofiles/`. Region fades are off (`use-region-fades`),
//! so the session plays the files exactly. Ardour needs a tempo map: it gets Ardour's own
//! default (120 bpm, 4/4), which places nothing (every position is in audio time).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use super::model::{MarkerKind, Project, Track};
use super::text::{superclock, xml};

/// Ardour's id numbers, handed out in order.
struct Ids(u64);

impl Ids {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// The session file's text. `refs` names each session file as the session refers to it.
pub(crate) fn session_xml(
    project: &Project,
    name: &str,
    refs: &BTreeMap<PathBuf, String>,
) -> String {
    let rate = project.rate;
    let sc = |frames: u64| superclock(frames, rate);
    let mut ids = Ids(100);
    let mut x = String::new();

    // Sources: one per channel of each file.
    let mut sources: BTreeMap<(PathBuf, u16), u64> = BTreeMap::new();
    let mut sources_xml = String::new();
    for c in project.tracks.iter().flat_map(|t| &t.clips) {
        for ch in 0..c.channels {
            if sources.contains_key(&(c.source.clone(), ch)) {
                continue;
            }
            let id = ids.next();
            sources.insert((c.source.clone(), ch), id);
            let file = refs.get(&c.source).map_or("", String::as_str);
            let _ = writeln!(
                sources_xml,
                r#"    <Source name="{}" type="audio" flags="" id="{id}" channel="{ch}" origin=""/>"#,
                xml(file)
            );
        }
    }

    let mut locations = String::new();
    let _ = writeln!(
        locations,
        r#"    <Location id="{}" name="session" start="{}" end="{}" flags="IsSessionRange" locked="0" timestamp="0" cue="0"/>"#,
        ids.next(),
        sc(0),
        sc(project.length)
    );
    for m in &project.markers {
        let (flags, end) = match (m.kind, m.length) {
            (MarkerKind::Dropout, Some(len)) if len > 0 => ("IsRangeMarker", m.frame + len),
            _ => ("IsMark", m.frame),
        };
        let _ = writeln!(
            locations,
            r#"    <Location id="{}" name="{}" start="{}" end="{}" flags="{flags}" locked="0" timestamp="0" cue="0"/>"#,
            ids.next(),
            xml(&m.name),
            sc(m.frame),
            sc(end)
        );
    }

    let mut routes = String::new();
    master(&mut routes, &mut ids);
    let mut playlists = String::new();
    for (order, t) in project.tracks.iter().enumerate() {
        let route = ids.next();
        let mut active = 0;
        // One playlist per take; a take split in parts has one region per part.
        for (k, c) in t.clips.iter().enumerate() {
            let first_of_take = k == 0 || t.clips[k - 1].take != c.take;
            let last_of_take = t.clips.get(k + 1).is_none_or(|n| n.take != c.take);
            if first_of_take {
                let playlist = ids.next();
                if c.take == t.active {
                    active = playlist;
                }
                let _ = writeln!(
                    playlists,
                    r#"    <Playlist id="{playlist}" name="{}" type="audio" orig-track-id="{route}" shared-with-ids="" frozen="0" combine-ops="0">"#,
                    xml(&format!("{}.T{:03}", t.name, c.take)),
                );
            }
            let mut srcs = String::new();
            for ch in 0..c.channels {
                let id = sources.get(&(c.source.clone(), ch)).copied().unwrap_or(0);
                let _ = write!(srcs, r#" source-{ch}="{id}" master-source-{ch}="{id}""#);
            }
            let _ = writeln!(
                playlists,
                r#"      <Region name="{}" id="{}" type="audio" start="{}" length="{}@{}" channels="{}"{srcs} layering-index="0" muted="0" opaque="1" locked="0" video-locked="0" automatic="0" whole-file="0" import="0" external="0" sync-marked="0" hidden="0" position-locked="0" envelope-active="0" default-fade-in="0" default-fade-out="0" fade-in-active="0" fade-out-active="0" scale-amplitude="1"/>"#,
                xml(&format!("{} T{:03}", t.name, c.take)),
                ids.next(),
                sc(c.offset),
                sc(c.frames),
                sc(c.position),
                c.channels
            );
            if last_of_take {
                playlists.push_str("    </Playlist>\n");
            }
        }
        track_route(&mut routes, &mut ids, t, route, active, order + 1);
    }

    let _ = writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        x,
        r#"<Session version="7002" name="{}" sample-rate="{rate}" id-counter="{}" name-counter="1" event-counter="0" vca-counter="1">"#,
        xml(name),
        ids.0 + 1
    );
    let _ = writeln!(
        x,
        r#"  <ProgramVersion created-with="tapedeck {v}" modified-with="tapedeck {v}"/>"#,
        v = env!("CARGO_PKG_VERSION")
    );
    x.push_str(
        r#"  <Config>
    <Option name="native-file-data-format" value="FormatFloat"/>
    <Option name="native-file-header-format" value="WAVE"/>
    <Option name="use-region-fades" value="0"/>
  </Config>
"#,
    );
    let _ = write!(x, "  <Sources>\n{sources_xml}  </Sources>\n  <Regions/>\n");
    let _ = write!(x, "  <Locations>\n{locations}  </Locations>\n");
    let _ = write!(x, "  <Routes>\n{routes}  </Routes>\n");
    let _ = write!(
        x,
        "  <Playlists>\n{playlists}  </Playlists>\n  <UnusedPlaylists/>\n  <RouteGroups/>\n"
    );
    x.push_str(
        r#"  <TempoMap superclocks-per-second="282240000">
    <Tempos>
      <Tempo npm="120" enpm="120" note-type="4" type="Tempo::Constant" active="1" locked-to-meter="0" continuing="0" sclock="0" quarters="0:0" bbt="1|1|0" omega="0"/>
    </Tempos>
    <Meters>
      <Meter note-value="4" divisions-per-bar="4" sclock="0" quarters="0:0" bbt="1|1|0"/>
    </Meters>
    <MusicTimes/>
  </TempoMap>
</Session>
"#,
    );
    x
}

/// The master bus: stereo, to the system's first two playback ports so the engineer hears it.
fn master(out: &mut String, ids: &mut Ids) {
    let id = ids.next();
    let _ = writeln!(
        out,
        r#"    <Route version="7002" id="{id}" name="Master" default-type="audio" strict-io="1" active="1" denormal-protection="0" meter-point="MeterOutput" disk-io-point="DiskIOPreFader" meter-type="MeterK14">
      <PresentationInfo order="0" flags="MasterOut,OrderSet" color="0"/>
      <IO name="Master" id="{}" direction="Input" default-type="audio">
        <Port type="audio" name="Master/audio_in 1"/>
        <Port type="audio" name="Master/audio_in 2"/>
      </IO>
      <IO name="Master" id="{}" direction="Output" default-type="audio">
        <Port type="audio" name="Master/audio_out 1">
          <Connection other="system:playback_1"/>
        </Port>
        <Port type="audio" name="Master/audio_out 2">
          <Connection other="system:playback_2"/>
        </Port>
      </IO>
      <MuteMaster mute-point="PostFader,Listen,Main" muted="0"/>
      <Processor id="{}" name="Amp" active="1" user-latency="0" use-user-latency="0" type="amp">
        <Controllable name="gaincontrol" id="{}" flags="GainLike" value="1"/>
      </Processor>
      <Processor id="{}" name="Master" active="1" user-latency="0" use-user-latency="0" own-input="1" own-output="0" output="Master" type="main-outs" role="Main">
        <PannerShell bypassed="0" user-panner="" linked-to-route="1"/>
      </Processor>
    </Route>"#,
        ids.next(),
        ids.next(),
        ids.next(),
        ids.next(),
        ids.next()
    );
}

/// A track: its input ports (one per channel), both outputs to the master, the cue's gain,
/// pan and mute as fader, panner and mute.
fn track_route(out: &mut String, ids: &mut Ids, t: &Track, id: u64, playlist: u64, order: usize) {
    let name = xml(&t.name);
    let mut inputs = String::new();
    for k in 1..=t.channels {
        let _ = write!(
            inputs,
            "\n        <Port type=\"audio\" name=\"{name}/audio_in {k}\"/>"
        );
    }
    let gain = 10f64.powf(t.cue.gain_db / 20.0);
    // Ardour's azimuth runs from 0 (left) to 1 (right).
    let azimuth = ((t.cue.pan.clamp(-1.0, 1.0) + 1.0) / 2.0).clamp(0.0, 1.0);
    let width = if t.channels > 1 { 1 } else { 0 };
    let muted = u8::from(t.cue.mute);
    let _ = writeln!(
        out,
        r#"    <Route version="7002" id="{id}" name="{name}" default-type="audio" strict-io="1" active="1" denormal-protection="0" meter-point="MeterPostFader" disk-io-point="DiskIOPreFader" meter-type="MeterPeak" audio-playlist="{playlist}" saved-meter-point="MeterPostFader" alignment-choice="Automatic" mode="Normal">
      <PresentationInfo order="{order}" flags="AudioTrack,OrderSet" color="0"/>
      <Controllable name="mute" id="{}" flags="Toggle,RealTime" value="{muted}"/>
      <IO name="{name}" id="{}" direction="Input" default-type="audio">{inputs}
      </IO>
      <IO name="{name}" id="{}" direction="Output" default-type="audio">
        <Port type="audio" name="{name}/audio_out 1">
          <Connection other="Master/audio_in 1"/>
        </Port>
        <Port type="audio" name="{name}/audio_out 2">
          <Connection other="Master/audio_in 2"/>
        </Port>
      </IO>
      <MuteMaster mute-point="PostFader,Listen,Main" muted="{muted}"/>
      <Pannable>
        <Controllable name="pan-azimuth" id="{}" flags="" value="{azimuth}"/>
        <Controllable name="pan-width" id="{}" flags="" value="{width}"/>
      </Pannable>
      <Processor id="{}" name="Amp" active="1" user-latency="0" use-user-latency="0" type="amp">
        <Controllable name="gaincontrol" id="{}" flags="GainLike" value="{gain}"/>
      </Processor>
      <Processor id="{}" name="{name}" active="1" user-latency="0" use-user-latency="0" own-input="1" own-output="0" output="{name}" type="main-outs" role="Main">
        <PannerShell bypassed="0" user-panner="" linked-to-route="1"/>
      </Processor>
    </Route>"#,
        ids.next(),
        ids.next(),
        ids.next(),
        ids.next(),
        ids.next(),
        ids.next(),
        ids.next(),
        ids.next()
    );
}
