//! A mutation fuzzer small enough to read, on stable Rust.
//!
//! Each target is a function of a byte slice that must not panic (and
//! may assert properties, such as decode-encode round trips). [`run`]
//! feeds it the seed corpus in `fuzz/corpus/TARGET/`, then mutations of
//! the seeds (bit flips, boundary integers written over fields, cuts,
//! splices, repeats) until its time is up.
//!
//! Why not cargo-fuzz or bolero: cargo-fuzz (libFuzzer) needs a nightly
//! compiler and builds the whole Sentry a second time with sanitizer
//! coverage; bolero on stable runs random inputs, not mutations of the
//! seeds, and random bytes rarely pass a frame's size field or an ELF's
//! magic. Without coverage feedback, mutating valid seeds is what
//! reaches deep into a decoder. Each target is a plain `fn(&[u8])`, so a
//! libFuzzer harness can call the same functions on nightly.
//!
//! Environment:
//! * `RUNSC_FUZZ_SECONDS`: how long each target runs after its seeds
//!   (default 0: the seeds and [`DEFAULT_ITERATIONS`] mutations, a quick
//!   regression check for `cargo test`). `scripts/fuzz` sets it.
//! * `RUNSC_FUZZ_SEED`: the random seed (default: from the clock); it is
//!   printed, so a failing run can be repeated.
//!
//! A failing input is written to `target/fuzz-crashes/TARGET-HASH` and
//! the panic names that file; add it to the corpus once fixed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mutations tried when no time budget is set.
pub const DEFAULT_ITERATIONS: u64 = 2_000;
/// Inputs grow to at most this many bytes.
const MAX_LEN: usize = 64 * 1024;

/// xorshift64*: enough randomness for choosing mutations, reproducible
/// from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Values at the edges of integer fields: where lengths, counts and
/// offsets overflow or run past their buffers.
const INTERESTING: [u64; 14] = [
    0,
    1,
    2,
    7,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_f000,
    u64::MAX,
];

/// One to eight random changes to a copy of a seed (or of two, spliced).
pub fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut v = if seeds.is_empty() {
        Vec::new()
    } else {
        seeds[rng.below(seeds.len())].clone()
    };
    for _ in 0..1 + rng.below(8) {
        let len = v.len();
        match rng.below(9) {
            // Flip one bit.
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            // One random byte.
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next_u64() as u8;
            }
            // A boundary value over a 1, 2, 4 or 8-byte field.
            2 if len > 0 => {
                let width = 1 << rng.below(4);
                let at = rng.below(len);
                let mut value = INTERESTING[rng.below(INTERESTING.len())];
                if rng.below(2) == 0 {
                    value = value.wrapping_add(rng.below(3) as u64).wrapping_sub(1);
                }
                for (k, b) in value.to_le_bytes().iter().take(width).enumerate() {
                    if let Some(slot) = v.get_mut(at + k) {
                        *slot = *b;
                    }
                }
            }
            // Cut the end off.
            3 if len > 0 => v.truncate(rng.below(len)),
            // Remove a range.
            4 if len > 1 => {
                let a = rng.below(len);
                let b = a + rng.below(len - a);
                v.drain(a..b);
            }
            // Repeat a range in place.
            5 if len > 0 && len < MAX_LEN => {
                let a = rng.below(len);
                let b = a + 1 + rng.below((len - a).min(256));
                let chunk = v[a..b].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            // Random bytes inserted.
            6 if len < MAX_LEN => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(32);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                v.splice(at..at, bytes);
            }
            // The head of this input and the tail of another seed.
            7 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            // Overwrite a range with a copy of another part.
            _ if len > 1 => {
                let a = rng.below(len);
                let b = rng.below(len);
                let n = rng.below(len - a.max(b)).min(64);
                v.copy_within(a..a + n, b);
            }
            _ => v.push(rng.next_u64() as u8),
        }
        v.truncate(MAX_LEN);
    }
    v
}

/// The seed corpus of `target`: every file in `fuzz/corpus/TARGET/`.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fuzz corpus {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

fn budget() -> Option<Duration> {
    std::env::var("RUNSC_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
}

fn random_seed() -> u64 {
    if let Some(s) = std::env::var("RUNSC_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return s;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.as_nanos() as u64 ^ u64::from(std::process::id())
}

/// Runs `target` on its seeds, then on mutations of them for the time
/// budget; panics (naming the saved input) at the first input it panics
/// on.
pub fn run(target: &str, check: impl Fn(&[u8])) {
    let corpus = seeds(target);
    assert!(!corpus.is_empty(), "fuzz target {target} has no seeds");
    let seed = random_seed();
    let budget = budget();
    eprintln!(
        "fuzz {target}: {} seeds, RUNSC_FUZZ_SEED={seed}, {}",
        corpus.len(),
        budget.map_or(format!("{DEFAULT_ITERATIONS} mutations"), |b| format!(
            "{}s",
            b.as_secs()
        ))
    );
    for input in &corpus {
        try_one(target, &check, input);
    }
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let mut runs = 0u64;
    loop {
        let done = match budget {
            Some(b) => start.elapsed() >= b,
            None => runs >= DEFAULT_ITERATIONS,
        };
        if done {
            break;
        }
        let input = mutate(&mut rng, &corpus);
        try_one(target, &check, &input);
        runs += 1;
    }
    eprintln!(
        "fuzz {target}: {runs} inputs in {:.1}s, no failure",
        start.elapsed().as_secs_f64()
    );
}

fn try_one(target: &str, check: &impl Fn(&[u8]), input: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| check(input))).is_ok() {
        return;
    }
    let path = save_crash(target, input);
    panic!(
        "fuzz target {target} failed on the input saved as {} ({} bytes; replay: copy it into fuzz/corpus/{target}/)",
        path.display(),
        input.len()
    );
}

fn save_crash(target: &str, input: &[u8]) -> PathBuf {
    // FNV-1a: a stable name for the same input.
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), |w| w.join("target"))
        .join("fuzz-crashes");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{target}-{hash:016x}"));
    let _ = std::fs::write(&path, input);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_bounded_and_change_the_input() {
        let seeds = vec![b"hello, world".to_vec(), vec![0u8; 100]];
        let mut rng = Rng::new(7);
        let mut changed = 0;
        for _ in 0..10_000 {
            let m = mutate(&mut rng, &seeds);
            assert!(m.len() <= MAX_LEN);
            if !seeds.contains(&m) {
                changed += 1;
            }
        }
        assert!(
            changed > 9_000,
            "only {changed} of 10,000 mutations changed the seed"
        );
    }

    #[test]
    fn a_panicking_target_is_reported_with_its_input_saved() {
        let r = catch_unwind(|| {
            try_one("selftest", &|d: &[u8]| assert!(d != b"boom"), b"boom");
        });
        let msg = r.expect_err("the target panicked");
        let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("fuzz-crashes/selftest-"), "{msg}");
    }
}
