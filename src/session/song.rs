//! The song a session plays: for each track, the take that plays, its file placed on the
//! timeline, and the track's cue settings, as the manifest says them.

use std::path::Path;

use super::manifest::{CueRecord, Manifest, TakeRecord, TakeState};
use crate::playback::{Clip, Cue, CueTrack};
use crate::wav::probe;

/// A track of the song as front ends show it.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct SongTrack {
    pub number: u16,
    pub name: String,
    /// The device input it records from; `None` for an imported track.
    pub input: Option<u16>,
    pub cue: CueRecord,
    /// The take chosen to play (`None`: the newest).
    pub chosen: Option<u32>,
    /// The take that plays, if the track has one.
    pub playing: Option<u32>,
    /// Every take that holds this track, oldest first.
    pub takes: Vec<u32>,
}

/// The song: what plays, what front ends show, and what is wrong with it (a file missing or
/// shorter than the manifest says: the rest still plays).
#[derive(Clone, Debug, Default)]
pub struct Song {
    pub tracks: Vec<SongTrack>,
    pub cue: Vec<CueTrack>,
    pub problems: Vec<String>,
}

impl Song {
    /// Whether anything plays.
    pub fn has_audio(&self) -> bool {
        self.cue.iter().any(|t| t.clip.is_some())
    }
}

fn playable(t: &TakeRecord) -> bool {
    matches!(t.state, TakeState::Complete | TakeState::Recovered)
}

/// The cue settings as the player takes them.
pub fn cue_of(c: &CueRecord) -> Cue {
    Cue {
        gain_db: c.gain_db as f32,
        pan: c.pan as f32,
        mute: c.mute,
        solo: c.solo,
    }
}

/// Reads the song of the session in `dir` from its manifest, probing each playing file.
pub fn load(dir: &Path, m: &Manifest) -> Song {
    let mut song = Song::default();
    for track in &m.tracks {
        let takes: Vec<&TakeRecord> = m
            .takes
            .iter()
            .filter(|t| playable(t) && t.tracks.iter().any(|f| f.track == track.number))
            .collect();
        let playing = match track.playing_take {
            Some(n) => match takes.iter().find(|t| t.number == n) {
                Some(t) => Some(*t),
                None => {
                    song.problems.push(format!(
                        "track {} ({}) is set to play take {n}, which does not hold it; it plays nothing",
                        track.number, track.name
                    ));
                    None
                }
            },
            None => takes.last().copied(),
        };
        // One clip per file: a take split in parts plays them back to back.
        let mut clips = Vec::new();
        if let Some(take) = playing
            && let Some(file) = take.tracks.iter().find(|f| f.track == track.number)
        {
            let mut at = take.timeline_start;
            for part in file.files() {
                if let Some(mut clip) = clip_of(dir, m, &part.file, at, part.frames, &mut song) {
                    if !file.parts.is_empty() {
                        // A part never plays over the next.
                        clip.frames = clip.frames.min(part.frames);
                    }
                    clips.push(clip);
                }
                // The next part starts where the manifest says this one ends, whatever this
                // one holds, so that a short part does not move the rest.
                at += part.frames;
            }
        }
        if clips.is_empty() {
            song.cue.push(CueTrack {
                number: track.number,
                cue: cue_of(&track.cue),
                clip: None,
            });
        }
        for clip in clips {
            song.cue.push(CueTrack {
                number: track.number,
                cue: cue_of(&track.cue),
                clip: Some(clip),
            });
        }
        song.tracks.push(SongTrack {
            number: track.number,
            name: track.name.clone(),
            input: track.input,
            cue: track.cue,
            chosen: track.playing_take,
            playing: playing.map(|t| t.number),
            takes: takes.iter().map(|t| t.number).collect(),
        });
    }
    song
}

/// The clip of one file of a take, placed at timeline frame `at`; what is wrong with it goes
/// into the song's problems.
fn clip_of(
    dir: &Path,
    m: &Manifest,
    file: &str,
    at: u64,
    frames: u64,
    song: &mut Song,
) -> Option<Clip> {
    let path = dir.join(file);
    match probe::probe(&path) {
        Ok(info) => {
            if info.sample_rate != m.sample_rate {
                song.problems.push(format!(
                    "{} is at {} Hz, the session at {} Hz; it does not play",
                    path.display(),
                    info.sample_rate,
                    m.sample_rate
                ));
                return None;
            }
            if info.frames < frames {
                song.problems.push(format!(
                    "{} holds {} of the {} frames the manifest lists; it plays what it has",
                    path.display(),
                    info.frames,
                    frames
                ));
            }
            Some(Clip::from_probe(path, at, &info))
        }
        Err(e) => {
            song.problems
                .push(format!("{}: {e}; it does not play", path.display()));
            None
        }
    }
}

/// Renumbers this run's tracks whose number the session already gives to another track (an
/// imported one, or one recorded from another input), so that no take of one becomes a take
/// of the other. Returns (input, old number, new number) for each track moved.
pub(crate) fn keep_tracks_apart(
    session: &[super::manifest::TrackRecord],
    run: &mut [crate::engine::Track],
) -> Vec<(u16, u16, u16)> {
    let mut taken: Vec<u16> = session
        .iter()
        .map(|t| t.number)
        .chain(run.iter().map(|t| t.number))
        .collect();
    let run_numbers: Vec<u16> = run.iter().map(|t| t.number).collect();
    let mut moved = Vec::new();
    for t in run.iter_mut() {
        let clash = session
            .iter()
            .any(|s| s.number == t.number && s.input != Some(t.input));
        if clash {
            // The track this input recorded before, if it is free in this run; else a new one.
            let before = session
                .iter()
                .find(|s| s.input == Some(t.input))
                .map(|s| s.number)
                .filter(|n| !run_numbers.contains(n));
            let next = before
                .unwrap_or_else(|| taken.iter().max().copied().unwrap_or(0).saturating_add(1));
            moved.push((t.input, t.number, next));
            t.number = next;
            taken.push(next);
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Track;
    use crate::session::manifest::TrackRecord;

    #[test]
    fn a_split_take_plays_its_parts_back_to_back() {
        use crate::session::manifest::{DeviceRecord, PartRecord, TakeTrack};
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("take-001")).expect("mkdir");
        let names = [
            "take-001/01_Kick_T001.wav",
            "take-001/01_Kick_T001_part002.wav",
            "take-001/01_Kick_T001_part003.wav",
        ];
        let lengths = [1000u64, 1000, 300];
        for (name, frames) in names.iter().zip(lengths) {
            let mut w = crate::wav::WavWriter::create(
                &dir.path().join(name),
                crate::format::FileFormat::S16,
                48_000,
            )
            .expect("create");
            w.write_bytes(&vec![0u8; frames as usize * 2])
                .expect("write");
            w.finalize().expect("finalize");
        }
        let device = DeviceRecord {
            host: "demo".into(),
            id: "demo".into(),
            name: "demo".into(),
            sample_rate: 48_000,
            sample_format: "f32".into(),
            channels: 1,
            buffer_frames: None,
        };
        let now = crate::session::now();
        let mut m = Manifest::new(
            "S",
            now,
            48_000,
            "s16",
            device.clone(),
            vec![TrackRecord::new(1, "Kick", 1, None, "s16")],
        );
        let mut track = TakeTrack::new(1, "Kick", 1, None, names[0]);
        track.frames = lengths.iter().sum();
        track.parts = names
            .iter()
            .zip(lengths)
            .map(|(n, frames)| PartRecord {
                file: n.to_string(),
                frames,
            })
            .collect();
        let mut take = TakeRecord::begin(1, now, device, "s16", 0, vec![track], 0, "u".into());
        take.state = TakeState::Complete;
        take.timeline_start = 500;
        m.takes.push(take);
        let song = load(dir.path(), &m);
        assert!(song.problems.is_empty(), "{:?}", song.problems);
        let clips: Vec<(u64, u64)> = song
            .cue
            .iter()
            .map(|t| {
                assert_eq!(t.number, 1, "every clip is the track's");
                let c = t.clip.as_ref().expect("a clip per part");
                (c.start, c.frames)
            })
            .collect();
        assert_eq!(clips, [(500, 1000), (1500, 1000), (2500, 300)]);
        assert_eq!(crate::playback::song_length(&song.cue), 2800);
    }

    #[test]
    fn a_run_never_takes_over_an_imported_or_other_track() {
        let mut imported = TrackRecord::new(1, "Backing", 1, None, "s24");
        imported.input = None;
        let session = vec![imported, TrackRecord::new(2, "Bass", 2, None, "s24")];
        let mut run = Track::every_input(3);
        let moved = keep_tracks_apart(&session, &mut run);
        // Input 1 would have been track 1, the imported backing track.
        assert_eq!(moved, vec![(1, 1, 4)]);
        let numbers: Vec<(u16, u16)> = run.iter().map(|t| (t.input, t.number)).collect();
        assert_eq!(numbers, vec![(1, 4), (2, 2), (3, 3)]);
        // The next run finds input 1 where the last one put it.
        let mut session = session;
        session.push(TrackRecord::new(4, "In 1", 1, None, "s24"));
        let mut again = Track::every_input(3);
        assert_eq!(keep_tracks_apart(&session, &mut again), vec![(1, 1, 4)]);
    }
}
