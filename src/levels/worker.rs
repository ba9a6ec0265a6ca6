//! The measuring thread of a take: the writer hands it each step of converted frames (a copy,
//! through a queue bounded in audio time: frames handed over and not yet measured) and goes on; the thread measures every file of the take. The
//! writer never waits for it while recording: when the queue is full the take's measurement is
//! given up (the writer's own peak and clip count stay), and the take ends without a level
//! report rather than late. At the end of the take the writer waits for what is still queued.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use super::{Encoding, LevelMeter, LevelsError, Report};

/// Audio the queue holds at most, in seconds: a thread that falls further behind than this
/// gives the take up.
pub const QUEUE_SECONDS: u64 = 2;

enum Message {
    /// Whole interleaved frames of sample words, all of the device's channels.
    Frames(Vec<u32>),
    /// Frames of digital silence in every file (a zero-filled dropout).
    Silence(u64),
}

/// Why a take has no level report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Lost {
    #[error(
        "the level measurement fell more than {QUEUE_SECONDS} s behind the recording and was given up for this take"
    )]
    Behind,
    #[error("the level measurement could not start: {0}")]
    Start(String),
    #[error("the level measurement stopped unexpectedly")]
    Died,
}

/// The measurement of one take, as the writer holds it.
pub struct Measuring {
    queue: Option<Sender<Message>>,
    /// Frames handed over and not yet measured, and how many may be.
    pending: Arc<AtomicU64>,
    limit: u64,
    /// Buffers the thread is done with, to be filled again.
    spent: Receiver<Vec<u32>>,
    thread: Option<JoinHandle<Vec<Report>>>,
    lost: Option<Lost>,
}

impl Measuring {
    /// Starts measuring files that record `inputs` (0-based) of a device with `channels`
    /// interleaved channels, at `rate`.
    pub fn start(inputs: Vec<usize>, channels: usize, rate: u32, encoding: Encoding) -> Self {
        let limit = QUEUE_SECONDS * u64::from(rate);
        let pending = Arc::new(AtomicU64::new(0));
        let (queue, work) = mpsc::channel();
        let (give_back, spent) = mpsc::channel();
        let meters: Result<Vec<LevelMeter>, LevelsError> = inputs
            .iter()
            .map(|_| LevelMeter::new(1, rate, encoding))
            .collect();
        let meters = match meters {
            Ok(m) => m,
            Err(e) => return Self::failed(Lost::Start(e.to_string()), spent),
        };
        let done = Arc::clone(&pending);
        let spawned = std::thread::Builder::new()
            .name("tapedeck-levels".into())
            .spawn(move || measure(work, give_back, &done, meters, inputs, channels));
        match spawned {
            Ok(thread) => Self {
                queue: Some(queue),
                pending,
                limit,
                spent,
                thread: Some(thread),
                lost: None,
            },
            Err(e) => Self::failed(Lost::Start(e.to_string()), spent),
        }
    }

    fn failed(why: Lost, spent: Receiver<Vec<u32>>) -> Self {
        Self {
            queue: None,
            pending: Arc::new(AtomicU64::new(0)),
            limit: 0,
            spent,
            thread: None,
            lost: Some(why),
        }
    }

    /// Frames that may be handed over now without the measurement being given up; no limit
    /// once it was (or never started). A take written from the kept past, faster than real
    /// time, is handed over no faster than this (the writer has the time then).
    pub fn room(&self) -> u64 {
        if self.queue.is_none() {
            return u64::MAX;
        }
        self.limit
            .saturating_sub(self.pending.load(Ordering::Acquire))
    }

    /// Queues a copy of whole interleaved frames (of `channels` channels); never waits.
    pub fn frames(&mut self, words: &[u32], channels: usize) {
        if !self.room_for((words.len() / channels.max(1)) as u64) {
            return;
        }
        let mut buf = self.spent.try_recv().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(words);
        self.send(Message::Frames(buf));
    }

    /// Queues frames of silence; never waits.
    pub fn silence(&mut self, frames: u64) {
        if self.room_for(frames) {
            self.send(Message::Silence(frames));
        }
    }

    /// Counts `frames` as handed over, or gives the take up when the thread is already that
    /// far behind.
    fn room_for(&mut self, frames: u64) -> bool {
        if self.queue.is_none() {
            return false;
        }
        // Behind by more than the limit before this hand-over: the thread cannot keep up.
        if self.pending.fetch_add(frames, Ordering::AcqRel) > self.limit {
            self.give_up(Lost::Behind);
            return false;
        }
        true
    }

    fn send(&mut self, m: Message) {
        let Some(q) = &self.queue else { return };
        if q.send(m).is_err() {
            self.give_up(Lost::Died);
        }
    }

    /// Stops feeding the thread; it ends once it has read what is queued (and is not waited
    /// for: its result is not wanted).
    fn give_up(&mut self, why: Lost) {
        self.queue = None;
        self.thread = None;
        self.lost.get_or_insert(why);
    }

    /// Whether the take's measurement was given up.
    pub fn lost(&self) -> Option<&Lost> {
        self.lost.as_ref()
    }

    /// Waits for what is queued to be measured and returns the report of each file, in the
    /// order of `inputs`.
    pub fn finish(mut self) -> Result<Vec<Report>, Lost> {
        self.queue = None;
        if let Some(why) = self.lost.take() {
            return Err(why);
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(reports)) => Ok(reports),
            _ => Err(Lost::Died),
        }
    }
}

/// The thread: measures until the writer drops its end of the queue.
fn measure(
    work: Receiver<Message>,
    give_back: Sender<Vec<u32>>,
    pending: &AtomicU64,
    mut meters: Vec<LevelMeter>,
    inputs: Vec<usize>,
    channels: usize,
) -> Vec<Report> {
    let mut column = Vec::new();
    for m in work {
        match m {
            Message::Frames(words) => {
                for (meter, &input) in meters.iter_mut().zip(&inputs) {
                    column.clear();
                    column.extend(words.iter().skip(input).step_by(channels.max(1)));
                    meter.add_words(&column);
                }
                pending.fetch_sub((words.len() / channels.max(1)) as u64, Ordering::AcqRel);
                // The writer may have given up and gone: the buffer is then simply dropped.
                let _ = give_back.send(words);
            }
            Message::Silence(frames) => {
                meters.iter_mut().for_each(|m| m.add_silence(frames));
                pending.fetch_sub(frames, Ordering::AcqRel);
            }
        }
    }
    meters.iter().map(LevelMeter::report).collect()
}
