//! Calibration of the round trip: with a cable from an output to an input, play a test
//! signal, find where it came back to the sample, and keep the difference from what the host
//! reports per device pair. Pure: the caller plays and records; this module only reasons
//! about samples and files.
//!
//! - [`signal`]: what is played (an MLS at −12 dBFS, silence around it).
//! - [`correlate`]: FFT cross-correlation over a window of lags, the peak to the sample.

pub mod correlate;
pub mod signal;

pub use correlate::{Correlation, Correlator};
pub use signal::{LagWindow, TestSignal};
