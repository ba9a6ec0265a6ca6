//! The reader thread: reads the clips ahead from disk and mixes the cue into blocks for the
//! output callback, a block at a time, with the gains as they are when the block is mixed.
//!
//! Two distances ahead: each clip's file is read far ahead into its window (`Source`, the
//! `ring_frames` given to `Player::new`), so a slow disk has time to answer; the mixed cue
//! is kept only a few blocks ahead of the callback (the block ring), so that a cue change is
//! heard within a fraction of a second.

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringbuf::traits::{Consumer, Observer, Producer};

use super::block::{BLOCK_FRAMES, ReaderEnds};
use super::clip::GainTable;
use super::mix::Mixer;
use super::shared::PlaybackShared;
use super::source::{Problem, Source};

/// How often the reader looks at the block ring while playing: a small fraction of what the
/// ring holds.
const POLL: Duration = Duration::from_millis(2);

pub(crate) enum Command {
    Play {
        run: u32,
        from: u64,
        end: u64,
        sources: Vec<Source>,
        gains: Arc<GainTable>,
    },
    Stop,
}

/// One play being read.
struct Job {
    run: u32,
    /// The next timeline frame to mix.
    next: u64,
    end: u64,
    sources: Vec<Source>,
    gains: Arc<GainTable>,
    /// The read-ahead is full and the callback may start.
    ready: bool,
    pushed: u64,
    /// The source to top up first next time (round robin).
    turn: usize,
}

pub(crate) struct Reader {
    pub(crate) shared: Arc<PlaybackShared>,
    pub(crate) ends: ReaderEnds,
    pub(crate) problems: Arc<Mutex<Vec<Problem>>>,
    pub(crate) mixer: Mixer,
}

impl Reader {
    /// Runs until the control side goes away.
    pub(crate) fn run(mut self, commands: Receiver<Command>) {
        let mut job: Option<Job> = None;
        loop {
            let first = if job.is_some() {
                match commands.recv_timeout(POLL) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            } else {
                match commands.recv() {
                    Ok(c) => Some(c),
                    Err(_) => return,
                }
            };
            // The last command waiting wins.
            let mut next = first;
            loop {
                if let Some(c) = next.take() {
                    job = match c {
                        Command::Play {
                            run,
                            from,
                            end,
                            sources,
                            gains,
                        } => Some(Job {
                            run,
                            next: from,
                            end,
                            sources,
                            gains,
                            ready: false,
                            pushed: 0,
                            turn: 0,
                        }),
                        Command::Stop => None,
                    };
                }
                match commands.try_recv() {
                    Ok(c) => next = Some(c),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            if let Some(j) = &mut job
                && self.work(j)
            {
                // Mixed to the song's end: the files are closed.
                job = None;
            }
        }
    }

    /// Mixes what the ring has room for and reads ahead; true when the play is all mixed.
    fn work(&mut self, job: &mut Job) -> bool {
        if self.shared.reader_stalled() {
            return false;
        }
        loop {
            self.mix(job);
            if job.next >= job.end {
                self.set_ready(job);
                return true;
            }
            if !self.top_up(job) {
                return false;
            }
        }
    }

    fn set_ready(&self, job: &mut Job) {
        if !job.ready {
            job.ready = true;
            self.shared.set_ready(job.run);
        }
    }

    /// Mixes a block into every free one.
    fn mix(&mut self, job: &mut Job) {
        while job.next < job.end {
            // After an underrun the callback has moved on without the blocks it lacked: what
            // belonged to those frames is not mixed any more.
            if let Some(a) = self.shared.anchor()
                && a.run == job.run
            {
                job.next = job.next.max(a.position + u64::from(a.frames));
                if job.next >= job.end {
                    return;
                }
            }
            let Some(mut block) = self.ends.free.try_pop() else {
                break;
            };
            let frames = (job.end - job.next).min(BLOCK_FRAMES as u64) as usize;
            block.run = job.run;
            block.start = job.next;
            self.mixer.begin(&mut block, frames);
            let (t0, t1) = (job.next, job.next + frames as u64);
            for s in &mut job.sources {
                let gains = job.gains.get(s.slot);
                let (a, b) = (t0.max(s.clip.start), t1.min(s.clip.start + s.frames));
                if gains.is_silent() || a >= b {
                    continue;
                }
                let (format, channels) = (s.clip.format, usize::from(s.clip.channels));
                let at = (a - t0) as usize;
                let (bytes, problem) = s.frames(a - s.clip.start, b - s.clip.start);
                self.mixer
                    .add(&mut block, at, bytes, format, channels, gains);
                if let Some(p) = problem {
                    self.report(p);
                }
            }
            // Cannot fail: every block is either free, filled or the callback's.
            let _ = self.ends.filled.try_push(block);
            job.next = t1;
            job.pushed += 1;
        }
        if job.pushed > 0 && self.ends.free.is_empty() {
            self.set_ready(job);
        }
    }

    /// Reads ahead in the file of one source that needs it; false when none did.
    fn top_up(&mut self, job: &mut Job) -> bool {
        let n = job.sources.len();
        for i in 0..n {
            let idx = (job.turn + i) % n;
            let s = &mut job.sources[idx];
            let k = job.next.saturating_sub(s.clip.start);
            let (read, problem) = s.top_up(k);
            if let Some(p) = problem {
                self.report(p);
            }
            if read {
                job.turn = idx + 1;
                return true;
            }
        }
        false
    }

    fn report(&self, p: Problem) {
        if let Ok(mut list) = self.problems.lock() {
            list.push(p);
        }
    }
}
