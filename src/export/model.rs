//! The session as every export format sees it: tracks, the chosen takes' clips placed on the
//! song timeline in frames, and markers, built from the manifest with every file checked.

use std::path::{Path, PathBuf};

use super::{ExportError, TakeSelection};
use crate::session::manifest::{
    CueRecord, Manifest, TakeKind, TakeRecord, TakeState, TakeTrack, TrackRecord,
};
use crate::wav::probe;

/// One file of one take of one track placed on the timeline: the take's file, or one of its
/// parts when the take was split (its parts are clips of the same take, back to back).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Clip {
    pub(crate) take: u32,
    /// The session's file (absolute).
    pub(crate) source: PathBuf,
    /// Timeline frame of the clip's first frame.
    pub(crate) position: u64,
    /// Frame of the file the clip starts at.
    pub(crate) offset: u64,
    pub(crate) frames: u64,
    /// 1 or 2.
    pub(crate) channels: u16,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Track {
    pub(crate) number: u16,
    /// The name as the session has it.
    pub(crate) session_name: String,
    /// The name the format gets (set by `names::fit`).
    pub(crate) name: String,
    pub(crate) role: Option<String>,
    /// The widest of its clips (1 or 2).
    pub(crate) channels: u16,
    pub(crate) cue: CueRecord,
    /// Oldest take first; a split take's parts in order.
    pub(crate) clips: Vec<Clip>,
    /// The take that plays: the session's playing take when it is exported, else the newest.
    pub(crate) active: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MarkerKind {
    /// Where a take starts.
    TakeStart,
    /// A marker dropped while recording.
    User,
    /// Audio the device lost (zero-filled in the files); `length` is its length.
    Dropout,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Marker {
    pub(crate) frame: u64,
    /// Frames, for a marker that spans a range (a dropout).
    pub(crate) length: Option<u64>,
    pub(crate) name: String,
    pub(crate) kind: MarkerKind,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Project {
    pub(crate) name: String,
    pub(crate) rate: u32,
    pub(crate) tracks: Vec<Track>,
    /// In timeline order.
    pub(crate) markers: Vec<Marker>,
    /// One past the last frame any clip covers.
    pub(crate) length: u64,
    /// Things the export should say (a recovered take, a short file).
    pub(crate) warnings: Vec<String>,
}

impl Project {
    pub(crate) fn clips(&self) -> usize {
        self.tracks.iter().map(|t| t.clips.len()).sum()
    }
}

fn refused(msg: String) -> ExportError {
    ExportError::Refused(msg)
}

/// The session's takes that can be played (finished, or repaired by recover).
fn playable(t: &TakeRecord) -> bool {
    matches!(t.state, TakeState::Complete | TakeState::Recovered)
}

/// The (take, file) pairs the selection asks for, per track of the session.
fn select<'m>(
    m: &'m Manifest,
    track: &TrackRecord,
    takes: TakeSelection,
) -> Vec<(&'m TakeRecord, &'m TakeTrack)> {
    let holding = m.takes.iter().filter_map(|t| {
        t.tracks
            .iter()
            .find(|f| f.track == track.number)
            .map(|f| (t, f))
    });
    match takes {
        TakeSelection::All => holding.collect(),
        TakeSelection::Kept => holding
            .filter(|(t, _)| t.mark_for(track.number).is_some_and(|m| m.is_kept()))
            .collect(),
        // As `tapedeck play` chooses: the chosen take, else the newest playable one.
        TakeSelection::Playing => {
            let playable: Vec<_> = holding.filter(|(t, _)| playable(t)).collect();
            match track.playing_take {
                Some(n) => playable
                    .into_iter()
                    .filter(|(t, _)| t.number == n)
                    .collect(),
                None => playable.into_iter().last().into_iter().collect(),
            }
        }
    }
}

/// Builds the model of `m` (the session in the absolute folder `dir`), checking every file
/// the selection needs. Refuses a selection that holds nothing, a take that was never
/// finished, and a file that is missing or unreadable.
pub(crate) fn build(
    dir: &Path,
    m: &Manifest,
    takes: TakeSelection,
) -> Result<Project, ExportError> {
    let mut warnings = Vec::new();
    let mut tracks = Vec::new();
    let mut used_takes: Vec<&TakeRecord> = Vec::new();
    for track in &m.tracks {
        let chosen = select(m, track, takes);
        if chosen.is_empty() {
            if let (TakeSelection::Playing, Some(n)) = (takes, track.playing_take) {
                warnings.push(format!(
                    "track {} ({}) is set to play take {n}, which does not hold it (or is not \
                     finished); the track is left out",
                    track.number, track.name
                ));
            }
            continue;
        }
        let mut clips = Vec::new();
        for (take, file) in chosen {
            if !playable(take) {
                return Err(refused(format!(
                    "take {} is not finished: it is being recorded now (export once it ends), \
                     or the program stopped while recording it (run `tapedeck recover {}` \
                     first, then export again)",
                    take.number,
                    dir.display()
                )));
            }
            clips.extend(take_clips(dir, m, take, file, &mut warnings)?);
            if !used_takes.iter().any(|t| t.number == take.number) {
                used_takes.push(take);
            }
        }
        clips.sort_by_key(|c| (c.take, c.position));
        let newest = clips.last().map_or(0, |c| c.take);
        let active = track
            .playing_take
            .filter(|n| clips.iter().any(|c| c.take == *n))
            .unwrap_or(newest);
        tracks.push(Track {
            number: track.number,
            session_name: track.name.clone(),
            name: track.name.clone(),
            role: track.role.clone(),
            channels: clips.iter().map(|c| c.channels).max().unwrap_or(1),
            cue: track.cue,
            clips,
            active,
        });
    }
    if tracks.is_empty() {
        return Err(refused(match takes {
            TakeSelection::Kept => "no take is marked keep or circled; mark the keepers first \
                 (`tapedeck take keep SESSION TAKE`), or export with --takes playing"
                .to_string(),
            _ => format!(
                "session {:?} has no take to export; record or import one first",
                m.session
            ),
        }));
    }
    used_takes.sort_by_key(|t| t.number);
    let mut markers = Vec::new();
    for take in &used_takes {
        markers.extend(take_markers(take, m.sample_rate, &mut warnings));
    }
    markers.sort_by(|a, b| a.frame.cmp(&b.frame).then(a.name.cmp(&b.name)));
    let length = tracks
        .iter()
        .flat_map(|t| &t.clips)
        .map(|c| c.position + c.frames)
        .max()
        .unwrap_or(0);
    Ok(Project {
        name: m.session.clone(),
        rate: m.sample_rate,
        tracks,
        markers,
        length,
        warnings,
    })
}

/// The clips of one track in a take: its file, or each of its parts placed where the parts
/// before it end (as the manifest counts them), every file checked.
fn take_clips(
    dir: &Path,
    m: &Manifest,
    take: &TakeRecord,
    file: &TakeTrack,
    warnings: &mut Vec<String>,
) -> Result<Vec<Clip>, ExportError> {
    let mut at = take.timeline_start;
    let mut clips = Vec::new();
    for part in file.files() {
        let mut c = clip(dir, m, take, file, &part.file, part.frames, warnings)?;
        c.position = at;
        at += part.frames;
        clips.push(c);
    }
    Ok(clips)
}

/// The clip of one file (`rel`, listed with `listed` frames) of a track in a take, checked.
fn clip(
    dir: &Path,
    m: &Manifest,
    take: &TakeRecord,
    file: &TakeTrack,
    rel: &str,
    listed: u64,
    warnings: &mut Vec<String>,
) -> Result<Clip, ExportError> {
    let path = dir.join(rel);
    let info = probe::probe(&path).map_err(|e| {
        let what = if path.exists() {
            e.to_string()
        } else {
            format!("{} is missing", path.display())
        };
        refused(format!(
            "take {} track {} ({}): {what}; put the file back (or run `tapedeck recover` if the \
             take was cut short), or export other takes with --takes",
            take.number, file.track, file.name
        ))
    })?;
    if info.sample_rate != m.sample_rate {
        return Err(refused(format!(
            "{} is at {} Hz and the session at {} Hz; a project has one rate: convert the file \
             or leave its take out with --takes",
            path.display(),
            info.sample_rate,
            m.sample_rate
        )));
    }
    let mut frames = listed;
    if info.frames < listed {
        warnings.push(format!(
            "{} holds {} of the {} frames the manifest lists; the clip is as long as the file",
            path.display(),
            info.frames,
            listed
        ));
        frames = info.frames;
    }
    Ok(Clip {
        take: take.number,
        source: path,
        position: take.timeline_start,
        offset: 0,
        frames,
        channels: info.channels,
    })
}

/// A take's start, its markers and its dropouts as markers on the timeline.
fn take_markers(take: &TakeRecord, rate: u32, warnings: &mut Vec<String>) -> Vec<Marker> {
    let at = take.timeline_start;
    let kind = match take.kind {
        TakeKind::Recorded => "",
        TakeKind::Overdub => " (overdub)",
        TakeKind::Imported => " (imported)",
    };
    let mut out = vec![Marker {
        frame: at,
        length: None,
        name: format!("Take {}{kind}", take.number),
        kind: MarkerKind::TakeStart,
    }];
    if take.state == TakeState::Recovered {
        warnings.push(format!(
            "take {} was recovered after the program stopped while recording it; it is \
             exported as recover repaired it (listen to its end)",
            take.number
        ));
    }
    for mk in &take.markers {
        let label = if mk.label.trim().is_empty() {
            "marker"
        } else {
            mk.label.as_str()
        };
        out.push(Marker {
            frame: at + mk.frame,
            length: None,
            name: format!("T{:03} {label}", take.number),
            kind: MarkerKind::User,
        });
    }
    for d in &take.dropouts {
        out.push(Marker {
            frame: at + d.at_frame,
            length: Some(d.frames),
            name: format!(
                "T{:03} dropout {} frames ({})",
                take.number, d.frames, d.cause
            ),
            kind: MarkerKind::Dropout,
        });
    }
    if !take.dropouts.is_empty() {
        warnings.push(format!(
            "take {}: {} dropout(s) ({} frames zero-filled) marked where they are, for the mixer \
             to check ({:.3} s in all)",
            take.number,
            take.dropouts.len(),
            take.dropout_frames,
            take.dropout_frames as f64 / f64::from(rate.max(1))
        ));
    }
    out
}
