//! The OCI spec's resource limits as the files of a cgroup v2 directory,
//! converted as runc converts them (its fs2 driver and
//! `ConvertMemorySwapToCgroupV2Value` / `ConvertCPUSharesToCgroupV2Value`):
//!
//! * `memory.max`: the limit, `max` for -1; unset for 0.
//! * `memory.swap.max`: v1's memory+swap minus memory (v2 counts swap
//!   alone); `max` for -1, and for an unlimited memory with no swap given;
//!   `0` when swap equals memory. A host without swap accounting lacks the
//!   file: then `max` and `0` are nothing to set, anything else an error.
//! * `pids.max`: the sandbox's host-task limit for the spec's pids (see
//!   `host_pids` in the parent).
//! * `cpu.max`: `QUOTA PERIOD`, `max` for a quota of -1 or none, the period
//!   left out when the spec gives none (the kernel keeps its own).
//! * `cpu.weight`: from v1 shares, `1 + (shares - 2) * 9999 / 262142`.

use std::path::Path;

use anyhow::{bail, Result};

use crate::spec::Resources;

/// v1's cpu.shares range, which the weight formula maps onto 1..=10000.
const MIN_SHARES: u64 = 2;
const MAX_SHARES: u64 = 262_144;

/// One file to write, and whether its absence (a host without that
/// accounting) is fine.
#[derive(Debug, PartialEq, Eq)]
pub struct Setting {
    pub file: &'static str,
    pub value: String,
    pub optional: bool,
}

fn num(v: i64) -> Option<String> {
    match v {
        0 => None,
        v if v < 0 => Some("max".into()),
        v => Some(v.to_string()),
    }
}

/// v2's swap limit for OCI's `memory.swap` (memory+swap) and `memory.limit`.
pub fn swap_value(swap: i64, memory: i64) -> Result<i64> {
    if memory == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if memory == 0 || memory == -1 {
        bail!("a swap limit needs a memory limit");
    }
    if memory < 0 {
        bail!("invalid memory limit {memory}");
    }
    if swap < memory {
        bail!("the memory+swap limit {swap} is below the memory limit {memory}");
    }
    Ok(swap - memory)
}

/// v2's cpu.weight for v1's cpu.shares (0: unset).
pub fn weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(MIN_SHARES, MAX_SHARES);
    1 + ((s - MIN_SHARES) * 9999) / (MAX_SHARES - MIN_SHARES)
}

/// The files `r` sets, in the order runc writes them (swap before
/// memory: lowering both must not pass through memory > memory+swap).
pub fn settings(r: &Resources, host_pids: impl Fn(i64) -> i64) -> Result<Vec<Setting>> {
    let mut out = Vec::new();
    let mut set = |file, value, optional| {
        out.push(Setting {
            file,
            value,
            optional,
        })
    };
    let memory = r.memory_limit.unwrap_or(0);
    if let Some(swap_spec) = r.memory_swap {
        let swap = swap_value(swap_spec, memory)?;
        let value = match num(swap) {
            // Swap as large as memory: none at all.
            None if swap_spec > 0 => Some("0".to_string()),
            v => v,
        };
        if let Some(v) = value {
            let optional = v == "max" || v == "0";
            set("memory.swap.max", v, optional);
        }
    } else if memory == -1 {
        set("memory.swap.max", "max".into(), true);
    }
    if let Some(v) = num(memory) {
        set("memory.max", v, false);
    }
    if let Some(p) = r.pids_limit.filter(|p| *p > 0) {
        set("pids.max", host_pids(p).to_string(), false);
    }
    let w = weight(r.cpu_shares.unwrap_or(0));
    if w != 0 {
        set("cpu.weight", w.to_string(), false);
    }
    let quota = r.cpu_quota.unwrap_or(0);
    let period = r.cpu_period.unwrap_or(0);
    if quota != 0 || period != 0 {
        let mut v = if quota > 0 {
            quota.to_string()
        } else {
            "max".to_string()
        };
        if period != 0 {
            v.push_str(&format!(" {period}"));
        }
        set("cpu.max", v, false);
    }
    Ok(out)
}

/// Writes `settings` into cgroup directory `d`.
pub fn apply(d: &Path, settings: &[Setting]) -> Result<()> {
    for s in settings {
        let path = d.join(s.file);
        // The files exist in a cgroup whose controllers are enabled: a
        // missing one is a controller or an accounting the host lacks,
        // never a file to create.
        let r = std::fs::OpenOptions::new()
            .write(true)
            // As runc opens them (cgroupfs ignores the truncation).
            .truncate(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, s.value.as_bytes()));
        match r {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && s.optional => {
                tracing::debug!("{} is missing: {} not set", path.display(), s.value);
            }
            Err(e) => bail!("cannot write {} to {}: {e}", s.value, path.display()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(f: impl FnOnce(&mut Resources)) -> Resources {
        let mut r = Resources::default();
        f(&mut r);
        r
    }

    fn files(r: &Resources) -> Vec<(&'static str, String)> {
        settings(r, |p| p * 2 + 64)
            .unwrap()
            .into_iter()
            .map(|s| (s.file, s.value))
            .collect()
    }

    #[test]
    fn memory_and_swap_convert_as_runc() {
        // Docker's --memory=64m: swap twice the memory.
        let r = res(|r| {
            r.memory_limit = Some(64 << 20);
            r.memory_swap = Some(128 << 20);
        });
        assert_eq!(
            files(&r),
            [
                ("memory.swap.max", (64u64 << 20).to_string()),
                ("memory.max", (64u64 << 20).to_string())
            ]
        );
        // --memory-swap equal to --memory: no swap.
        let r = res(|r| {
            r.memory_limit = Some(1 << 30);
            r.memory_swap = Some(1 << 30);
        });
        assert_eq!(files(&r)[0], ("memory.swap.max", "0".to_string()));
        // Unlimited swap, unlimited memory.
        let r = res(|r| {
            r.memory_limit = Some(1 << 30);
            r.memory_swap = Some(-1);
        });
        assert_eq!(files(&r)[0], ("memory.swap.max", "max".to_string()));
        let r = res(|r| r.memory_limit = Some(-1));
        assert_eq!(
            files(&r),
            [
                ("memory.swap.max", "max".to_string()),
                ("memory.max", "max".to_string())
            ]
        );
        assert!(swap_value(64, 128).is_err());
        assert!(swap_value(64, 0).is_err());
        assert!(files(&Resources::default()).is_empty());
    }

    #[test]
    fn cpu_converts_as_runc() {
        assert_eq!(weight(0), 0);
        assert_eq!(weight(2), 1);
        assert_eq!(weight(1024), 39);
        assert_eq!(weight(262_144), 10_000);
        assert_eq!(weight(1), 1, "below v1's range: its floor");
        let r = res(|r| {
            r.cpu_quota = Some(50_000);
            r.cpu_period = Some(100_000);
            r.cpu_shares = Some(512);
        });
        assert_eq!(
            files(&r),
            [
                ("cpu.weight", "20".to_string()),
                ("cpu.max", "50000 100000".to_string())
            ]
        );
        let r = res(|r| r.cpu_quota = Some(-1));
        assert_eq!(files(&r), [("cpu.max", "max".to_string())]);
        let r = res(|r| r.cpu_period = Some(250_000));
        assert_eq!(files(&r), [("cpu.max", "max 250000".to_string())]);
        let r = res(|r| r.cpu_quota = Some(20_000));
        assert_eq!(files(&r), [("cpu.max", "20000".to_string())]);
    }

    #[test]
    fn pids_take_the_host_task_limit() {
        let r = res(|r| r.pids_limit = Some(50));
        assert_eq!(files(&r), [("pids.max", "164".to_string())]);
    }

    /// The writes land in a cgroup directory (here a fake one with the
    /// files a v2 cgroup with memory, pids and cpu enabled has, but no
    /// swap accounting): each file holds its value, a missing optional one
    /// is skipped, a missing required one is an error.
    #[test]
    fn apply_writes_the_files_of_a_fake_cgroup() {
        let d = std::env::temp_dir().join(format!("runsc-rs-cgroup-v2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        for f in ["memory.max", "pids.max", "cpu.max", "cpu.weight"] {
            std::fs::write(d.join(f), "max\n").unwrap();
        }
        let r = res(|r| {
            r.memory_limit = Some(256 << 20);
            r.memory_swap = Some(256 << 20);
            r.pids_limit = Some(10);
            r.cpu_quota = Some(150_000);
            r.cpu_period = Some(100_000);
            r.cpu_shares = Some(2048);
        });
        let s = settings(&r, |p| p * 2 + 64).unwrap();
        apply(&d, &s).unwrap();
        let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        assert_eq!(read("memory.max"), (256u64 << 20).to_string());
        assert_eq!(read("pids.max"), "84");
        assert_eq!(read("cpu.max"), "150000 100000");
        assert_eq!(read("cpu.weight"), "79");
        assert!(!d.join("memory.swap.max").exists());
        // A swap limit the host cannot account is an error.
        let r = res(|r| {
            r.memory_limit = Some(256 << 20);
            r.memory_swap = Some(512 << 20);
        });
        let err = apply(&d, &settings(&r, |p| p).unwrap()).unwrap_err();
        assert!(err.to_string().contains("memory.swap.max"), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
