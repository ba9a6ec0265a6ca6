//! tapedeck: a terminal multitrack audio recorder.
//!
//! The flow of a sample: a cpal capture callback (`capture`) copies each block into one
//! preallocated SPSC ring; the writer thread (`engine`) pops it, zero-fills reported gaps,
//! converts the armed inputs (`format`) and writes one WAV per track (`wav`), journaling the
//! session manifest (`session`). Front ends (`cli`'s headless status) talk to the engine only
//! through commands and snapshots.

pub mod audio;
pub mod capture;
pub mod cli;
pub mod disk;
pub mod duration;
pub mod engine;
pub mod error;
pub mod format;
pub mod session;
pub mod signals;
pub mod status;
pub mod tui;
pub mod wav;

pub use error::{Error, Result};
