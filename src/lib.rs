//! tapedeck: a terminal multitrack audio recorder.
//!
//! The flow of a sample: a cpal capture callback (`capture`) copies each block into one
//! preallocated SPSC ring; the writer thread (`engine`) takes it out, measures it for the
//! meters, zero-fills reported gaps, and the recording core converts the armed inputs
//! (`format`) and writes one WAV per track (`wav`), journaling the session manifest
//! (`session`). Front ends (`frontend`'s headless status, the `tui`) talk to the engine only
//! through commands and snapshots; `cli` turns the command line into a plan and runs it.

pub mod anchor;
pub mod audio;
pub mod calibrate;
pub mod capture;
pub mod cli;
pub mod control;
pub mod disk;
pub(crate) mod display;
pub(crate) mod duration;
pub mod engine;
pub mod error;
pub mod export;
pub mod format;
pub(crate) mod frontend;
pub mod handoff;
pub mod levels;
pub mod monitor;
pub mod playback;
pub mod session;
pub(crate) mod signals;
pub mod song_time;
pub mod tui;
pub mod wav;

pub use error::{Error, Result};
