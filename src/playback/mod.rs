//! Playback: the song's clips streamed from disk, mixed to a stereo cue and played on an
//! output stream. It mirrors `capture`:
//!
//! - `Player` (the control side, on the engine's thread) opens the files of a play and
//!   commands the reader thread (`reader`), which reads each clip ahead into a window
//!   (`source`) and mixes the cue, a block at a time, with each track's gains (`clip`, `mix`);
//! - preallocated blocks go to the output callback through an SPSC ring and back through
//!   another (`block`);
//! - `Playout::on_block` (`playout`), the output callback, copies the cue to the device in
//!   its format (`sample`), plays silence when it has nothing (counting underruns), and
//!   publishes where each block lies on the host's clock (`anchor`, `shared`);
//! - `stream` builds the cpal output stream around it.

mod anchor;
mod block;
mod clip;
mod mix;
mod player;
mod playout;
mod reader;
mod sample;
mod shared;
mod source;
mod stream;

#[cfg(test)]
mod tests;

pub use anchor::{Anchor, ClockStamp};
pub use clip::{Clip, ClipFormat, Cue, CueTrack, Gains, cue_gains, song_length};
pub use mix::decode;
pub use player::Player;
pub use playout::{OutStamp, Playout};
pub use sample::OutputSample;
pub use shared::{PlayState, PlaybackShared, Underruns};
pub use source::Problem;
pub use stream::{OpenOutput, OutputChoice, OutputRequest, choose_output, open_output};
