//! How a file's bytes are cut into memory-file chunks whose sizes grow
//! geometrically: a small file takes one small chunk, a big one few big
//! chunks, so a mapping of it is few VMAs. tmpfs keeps its data this way,
//! and a Gofer file the pages its shared mappings map.

/// The first chunk of a file's data; chunk k holds `CHUNK_BASE << k` bytes.
pub const CHUNK_BASE: u64 = 64 << 10;
/// Chunks 0 .. GEOMETRIC_CHUNKS grow; the ones after are all CHUNK_MAX.
pub const GEOMETRIC_CHUNKS: u64 = 11;
pub const CHUNK_MAX: u64 = CHUNK_BASE << (GEOMETRIC_CHUNKS - 1);
/// Where the growing chunks end.
pub const GEOMETRIC_END: u64 = CHUNK_BASE * ((1 << GEOMETRIC_CHUNKS) - 1);

/// The chunk holding file offset `off`: its index, file offset and length.
pub fn chunk_of(off: u64) -> (u64, u64, u64) {
    if off < GEOMETRIC_END {
        // Chunk k starts at CHUNK_BASE * (2^k - 1).
        let k = u64::from((off / CHUNK_BASE + 1).ilog2());
        (k, CHUNK_BASE * ((1 << k) - 1), CHUNK_BASE << k)
    } else {
        let i = (off - GEOMETRIC_END) / CHUNK_MAX;
        (
            GEOMETRIC_CHUNKS + i,
            GEOMETRIC_END + i * CHUNK_MAX,
            CHUNK_MAX,
        )
    }
}

/// The file offset where chunk `k` starts.
pub fn chunk_start(k: u64) -> u64 {
    if k < GEOMETRIC_CHUNKS {
        CHUNK_BASE * ((1 << k) - 1)
    } else {
        GEOMETRIC_END + (k - GEOMETRIC_CHUNKS) * CHUNK_MAX
    }
}
