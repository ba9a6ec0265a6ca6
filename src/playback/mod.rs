//! Playback: the song's clips streamed from disk, mixed to a stereo cue and played on an
//! output stream. It mirrors `capture` in the other direction:
//!
//! ```text
//! take files ─► reader thread (reads ahead, mixes the cue) ─► ring ─► Playout::on_block ─► device
//! ```
//!
//! - `clip`: what plays (a take's file placed on the timeline) and the cue's pan law;
//! - `reader`: the disk side, a thread of its own;
//! - `playout`: the output callback's state, the only code on the audio thread;
//! - `shared`: the atomics both sides share (state, position, underruns, the anchor);
//! - `player`: the control side the engine (or `tapedeck play`) drives;
//! - `stream`: choosing the output's settings and building the cpal stream.

mod clip;
mod player;
mod playout;
mod reader;
mod shared;
mod stream;

pub use clip::{Clip, ClipFormat, Cue, CueTrack, Gains, cue_gains, song_length};
pub use player::Player;
pub use playout::{OutStamp, OutputSample, Playout};
pub use shared::{PlayState, PlaybackShared};
pub use stream::{OutputChoice, choose_output, open_output};
