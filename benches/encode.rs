//! The writer's conversion: one chunk of interleaved ring words (f32 from the device, as JACK
//! delivers) turned into 24-bit file samples with every input's peak and clip count, then
//! picked apart into one file buffer per track, at 8 to 256 tracks. This is the writer
//! thread's per-sample work; the rest of its time is the write(2) of the result.
//!
//!     cargo bench --bench encode
//!
//! scripts/bench reports the median per sample.

use std::hint::black_box;

use tapedeck::format::{ChunkConverter, DeviceFormat, FileFormat, pack_track};

fn main() {
    divan::main();
}

/// Frames per chunk: the writer keeps a chunk of all inputs near 64 KB.
fn chunk_frames(channels: usize) -> usize {
    (64 * 1024 / 4 / channels).clamp(64, 4096)
}

#[divan::bench(args = [8, 32, 64, 256], sample_count = 200)]
fn f32_to_s24_per_chunk(bencher: divan::Bencher, channels: usize) {
    let frames = chunk_frames(channels);
    // A counter on every input (channel c carries ±(k + 1 + 1024 c) / 2^23), signs mixed.
    let words: Vec<u32> = (0..frames)
        .flat_map(|k| {
            (0..channels).map(move |c| {
                let v = (k + 1 + 1024 * c) as f32 / 8_388_608.0;
                (if (k + c) % 2 == 0 { v } else { -v }).to_bits()
            })
        })
        .collect();
    let mut chunk = words.clone();
    let mut bufs = vec![vec![0u8; frames * 4]; channels];
    let mut converter = ChunkConverter::new(channels, DeviceFormat::F32, FileFormat::S24);
    bencher
        .counter(divan::counter::ItemsCount::new(frames * channels))
        .bench_local(|| {
            // The writer copies each chunk out of the ring before converting it in place.
            chunk.copy_from_slice(black_box(&words));
            converter.convert(&mut chunk);
            for (input, buf) in bufs.iter_mut().enumerate() {
                pack_track(&chunk, channels, input, FileFormat::S24, buf);
            }
        });
}
