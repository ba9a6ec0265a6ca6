//! The last moments of the capture stream, kept while a song can play. An overdub's first
//! frame is known only once the output has played for a while, and it may lie a little
//! before the writer's position: when the host reports less of the round trip than there is
//! (before `calibrate`), or when the output starts at once. It must still be there.

/// A ring of the last frames the writer took out of the capture ring (ring words, before
/// conversion), contiguous on the stream: a gap starts it afresh.
pub(super) struct History {
    words: Box<[u32]>,
    channels: usize,
    capacity: usize,
    /// Frames held, ending at stream position `end`; the next frame goes to `head`.
    len: usize,
    head: usize,
    end: u64,
}

impl History {
    pub(super) fn new(channels: usize, frames: usize) -> Self {
        let channels = channels.max(1);
        Self {
            words: vec![0; channels * frames.max(1)].into_boxed_slice(),
            channels,
            capacity: frames.max(1),
            len: 0,
            head: 0,
            end: 0,
        }
    }

    /// Keeps `words` (whole frames) that start at stream position `start`.
    pub(super) fn push(&mut self, words: &[u32], start: u64) {
        if start != self.end {
            self.len = 0;
        }
        let frames = words.len() / self.channels;
        let skip = frames.saturating_sub(self.capacity);
        for frame in words[skip * self.channels..].chunks_exact(self.channels) {
            let at = self.head * self.channels;
            self.words[at..at + self.channels].copy_from_slice(frame);
            self.head = (self.head + 1) % self.capacity;
        }
        self.len = (self.len + frames).min(self.capacity);
        self.end = start + frames as u64;
    }

    /// The frames from stream position `from` to the end, if all of them are held.
    pub(super) fn since(&self, from: u64) -> Option<Vec<u32>> {
        let back = usize::try_from(self.end.checked_sub(from)?).ok()?;
        if back > self.len {
            return None;
        }
        let first = (self.head + self.capacity - back) % self.capacity;
        let mut out = Vec::with_capacity(back * self.channels);
        for k in 0..back {
            let at = ((first + k) % self.capacity) * self.channels;
            out.extend_from_slice(&self.words[at..at + self.channels]);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(from: u32, n: u32) -> Vec<u32> {
        (from..from + n).flat_map(|k| [k, k + 1000]).collect()
    }

    #[test]
    fn the_last_frames_come_back_in_order_across_the_wrap() {
        let mut h = History::new(2, 10);
        h.push(&frames(0, 6), 0);
        h.push(&frames(6, 6), 6);
        assert_eq!(h.since(12), Some(Vec::new()));
        assert_eq!(h.since(5), Some(frames(5, 7)));
        assert_eq!(h.since(2), Some(frames(2, 10)));
        // Older than held.
        assert_eq!(h.since(1), None);
        // A block larger than the ring keeps its end.
        h.push(&frames(12, 25), 12);
        assert_eq!(h.since(27), Some(frames(27, 10)));
    }

    #[test]
    fn a_gap_starts_afresh() {
        let mut h = History::new(2, 10);
        h.push(&frames(0, 6), 0);
        // Frames 6..9 went missing: what was before them is not contiguous with what follows.
        h.push(&frames(9, 2), 9);
        assert_eq!(h.since(9), Some(frames(9, 2)));
        assert_eq!(h.since(4), None);
    }
}
