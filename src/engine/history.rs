//! The kept past of the capture stream: the last minutes the writer took out of the capture
//! ring, every device channel, as ring words (before conversion). One buffer serves three
//! uses: a take's pre-roll (it starts before Record was pressed), a take made of what was
//! just played (`Command::KeepLast`), and an overdub whose first frame turns out to lie a
//! little behind the writer.
//!
//! Every device channel is kept, not only the armed ones: arming a track after the fact
//! then still finds its past, and the buffer's size never changes while the stream runs.
//! The past is contiguous on the stream: a gap (frames the device or the ring lost) starts it
//! afresh, so that nothing before a dropout is ever joined to what follows it.
//!
//! The words live in one allocation made and written once before the stream starts
//! (`History::touched`), so that the memory said up front is really held and no page is
//! first faulted in while audio runs; `memory_available` tells whether that much may be asked
//! for at all.

/// A ring of the last frames of the capture stream.
pub(crate) struct History {
    words: Box<[u32]>,
    channels: usize,
    capacity: usize,
    /// Frames held, ending at stream position `end`; the next frame goes to `head`.
    len: usize,
    head: usize,
    end: u64,
}

impl History {
    /// A past of `frames` frames of `channels` channels (at least one frame).
    pub(super) fn new(channels: usize, frames: usize) -> Self {
        let channels = channels.max(1);
        let capacity = frames.max(1);
        Self {
            words: vec![0; channels * capacity].into_boxed_slice(),
            channels,
            capacity,
            len: 0,
            head: 0,
            end: 0,
        }
    }

    /// A past of `frames` frames of `channels` channels, every page of it written once now
    /// (made before the stream starts: writing gigabytes takes a while).
    pub(crate) fn touched(channels: usize, frames: usize) -> Self {
        let mut h = Self::new(channels, frames);
        // A page is 4 KiB at least: one word in each makes the kernel hand it out now. The
        // value is hidden from the compiler, which knows the allocation is zeroed.
        for w in h.words.iter_mut().step_by(1024) {
            *w = std::hint::black_box(0);
        }
        h
    }

    pub(super) fn channels(&self) -> usize {
        self.channels
    }

    /// Keeps `words` (whole frames) that start at stream position `start`. Frames that do not
    /// follow the ones held (a gap between) start the past afresh.
    pub(super) fn push(&mut self, words: &[u32], start: u64) {
        if start != self.end {
            self.len = 0;
        }
        let frames = words.len() / self.channels;
        let skip = frames.saturating_sub(self.capacity);
        let mut rest = &words[skip * self.channels..frames * self.channels];
        // At most two copies: up to the end of the buffer, then from its start.
        while !rest.is_empty() {
            let n = (rest.len() / self.channels).min(self.capacity - self.head);
            let at = self.head * self.channels;
            let (now, later) = rest.split_at(n * self.channels);
            self.words[at..at + now.len()].copy_from_slice(now);
            self.head = (self.head + n) % self.capacity;
            rest = later;
        }
        self.len = (self.len + frames).min(self.capacity);
        self.end = start + frames as u64;
    }

    /// Frames went missing up to stream position `end`: what was held is not contiguous with
    /// what follows, and is dropped.
    pub(super) fn gap(&mut self, end: u64) {
        self.len = 0;
        self.end = end;
    }

    /// The stream position of the oldest frame held.
    pub(super) fn oldest(&self) -> u64 {
        self.end - self.len as u64
    }

    /// Frames held now.
    pub(super) fn held(&self) -> u64 {
        self.len as u64
    }

    /// How many frames can be pushed without overwriting the frame at `keep_from` or any
    /// after it (frames a take still has to be handed).
    pub(super) fn room(&self, keep_from: u64) -> usize {
        let pinned = usize::try_from(self.end.saturating_sub(keep_from)).unwrap_or(usize::MAX);
        self.capacity.saturating_sub(pinned.min(self.len))
    }

    /// Copies the frames from stream position `from` on into `out` (as many whole frames as
    /// fit, up to the end held). Returns the frames copied; `None` when `from` is no longer
    /// (or not yet) held.
    pub(super) fn copy(&self, from: u64, out: &mut [u32]) -> Option<usize> {
        if from < self.oldest() || from > self.end {
            return None;
        }
        let back = usize::try_from(self.end - from).ok()?;
        let n = back.min(out.len() / self.channels);
        let mut first = (self.head + self.capacity - back) % self.capacity;
        let mut done = 0;
        while done < n {
            let run = (n - done).min(self.capacity - first);
            let src = &self.words[first * self.channels..(first + run) * self.channels];
            out[done * self.channels..(done + run) * self.channels].copy_from_slice(src);
            done += run;
            first = (first + run) % self.capacity;
        }
        Some(n)
    }
}

/// Bytes a past of `frames` frames at `channels` channels takes.
pub(crate) fn bytes_for(frames: u64, channels: u16) -> u64 {
    frames
        .saturating_mul(u64::from(channels.max(1)))
        .saturating_mul(4)
}

/// The memory the kernel says can be given to a new program without swapping
/// (`MemAvailable` in /proc/meminfo), in bytes; `None` where it cannot say.
pub(crate) fn memory_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&text)
}

fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line
        .trim_start_matches("MemAvailable:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

/// Whether `bytes` may be kept with `available` bytes free: a quarter of what is free (and
/// at least 256 MB) stays for the rest of the system and the page cache the takes go through.
pub(crate) fn fits(bytes: u64, available: u64) -> bool {
    let headroom = (available / 4).max(256 << 20);
    bytes <= available.saturating_sub(headroom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(from: u32, n: u32) -> Vec<u32> {
        (from..from + n).flat_map(|k| [k, k + 1000]).collect()
    }

    fn since(h: &History, from: u64) -> Option<Vec<u32>> {
        let mut out = vec![0; usize::try_from(h.end - from.min(h.end)).expect("small") * 2];
        let n = h.copy(from, &mut out)?;
        out.truncate(n * 2);
        Some(out)
    }

    #[test]
    fn the_last_frames_come_back_in_order_across_the_wrap() {
        let mut h = History::new(2, 10);
        h.push(&frames(0, 6), 0);
        h.push(&frames(6, 6), 6);
        assert_eq!(since(&h, 12), Some(Vec::new()));
        assert_eq!(since(&h, 5), Some(frames(5, 7)));
        assert_eq!(since(&h, 2), Some(frames(2, 10)));
        assert_eq!(h.oldest(), 2);
        assert_eq!(h.held(), 10);
        // Older than held.
        assert_eq!(since(&h, 1), None);
        // A block larger than the ring keeps its end.
        h.push(&frames(12, 25), 12);
        assert_eq!(since(&h, 27), Some(frames(27, 10)));
        assert_eq!(h.oldest(), 27);
    }

    #[test]
    fn a_copy_is_cut_to_what_fits_and_resumes_where_it_stopped() {
        let mut h = History::new(2, 8);
        h.push(&frames(0, 13), 0);
        // Held: 5..13, wrapped in the buffer.
        let mut out = vec![0; 3 * 2];
        assert_eq!(h.copy(5, &mut out), Some(3));
        assert_eq!(out, frames(5, 3));
        assert_eq!(h.copy(8, &mut out), Some(3));
        assert_eq!(out, frames(8, 3));
        assert_eq!(h.copy(11, &mut out), Some(2));
        assert_eq!(&out[..4], &frames(11, 2)[..]);
        // Not yet held.
        assert_eq!(h.copy(14, &mut out), None);
    }

    #[test]
    fn a_gap_starts_afresh() {
        let mut h = History::new(2, 10);
        h.push(&frames(0, 6), 0);
        // Frames 6..9 went missing: what was before them is not contiguous with what follows.
        h.push(&frames(9, 2), 9);
        assert_eq!(since(&h, 9), Some(frames(9, 2)));
        assert_eq!(since(&h, 4), None);
        // A gap told as such (the ring said so) empties it up to the gap's end.
        h.gap(20);
        assert_eq!(h.held(), 0);
        assert_eq!(h.oldest(), 20);
        h.push(&frames(20, 3), 20);
        assert_eq!(since(&h, 20), Some(frames(20, 3)));
        assert_eq!(since(&h, 19), None);
    }

    #[test]
    fn room_keeps_frames_not_yet_handed_on() {
        let mut h = History::new(1, 10);
        h.push(&(0..8).collect::<Vec<u32>>(), 0);
        // A take still needs frames 3.. : 5 are pinned, 5 may be pushed.
        assert_eq!(h.room(3), 5);
        // Nothing pinned: the whole buffer.
        assert_eq!(h.room(8), 10);
        // Pinned beyond what is held (a fresh past after a gap): what is held is pinned.
        h.gap(100);
        h.push(&[1, 2], 100);
        assert_eq!(h.room(0), 8);
    }

    #[test]
    fn memory_figures() {
        assert_eq!(bytes_for(48_000 * 600, 8), 921_600_000);
        let meminfo = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   2000000 kB\n";
        assert_eq!(parse_mem_available(meminfo), Some(2_048_000_000));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        assert!(fits(1 << 30, 2 << 30));
        assert!(!fits(2 << 30, 2 << 30));
        // Small machines keep at least 256 MB aside.
        assert!(!fits(100 << 20, 300 << 20));
    }
}
