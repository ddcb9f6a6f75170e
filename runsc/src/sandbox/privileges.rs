//! What a sandbox process keeps of its privileges once it is set up: the
//! capabilities it names and nothing else (the bounding, inheritable and
//! ambient sets emptied, securebits locked so that no later change of
//! uid gives any back), no new privileges through execve, no core dump
//! and not dumpable (no same-uid process may ptrace it or read its
//! /proc files).
//!
//! Capabilities, securebits and no_new_privs belong to one thread: call
//! [`keep_only`] while the process has a single thread (checked by
//! [`check_single_threaded`] while /proc is still visible), so every
//! thread started later inherits the result.

use anyhow::{bail, Context, Result};
use caps::{CapSet, Capability, CapsHashSet};

/// Securebits set and locked: root (uid 0) has no capabilities by virtue
/// of its uid, a change of uid neither grants nor clears any, and none
/// may be raised into the ambient set.
const LOCKED_SECUREBITS: libc::c_int = libc::SECBIT_NOROOT
    | libc::SECBIT_NOROOT_LOCKED
    | libc::SECBIT_NO_SETUID_FIXUP
    | libc::SECBIT_NO_SETUID_FIXUP_LOCKED
    | libc::SECBIT_KEEP_CAPS_LOCKED
    | libc::SECBIT_NO_CAP_AMBIENT_RAISE
    | libc::SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

/// Leaves the calling (single-threaded) process with the capabilities in
/// `kept`, effective and permitted, and no way to gain others; then sets
/// no_new_privs, PR_SET_DUMPABLE 0 and RLIMIT_CORE 0. Needs CAP_SETPCAP
/// (in its user namespace) until done.
pub fn keep_only(kept: &[Capability]) -> Result<()> {
    let kept: CapsHashSet = kept.iter().copied().collect();
    // The bounding set first: dropping from it needs CAP_SETPCAP, which
    // goes with the permitted set below.
    caps::clear(None, CapSet::Bounding).context("emptying the bounding set")?;
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_SECUREBITS, LOCKED_SECUREBITS as libc::c_ulong) } != 0 {
        return Err(std::io::Error::last_os_error()).context("locking the securebits");
    }
    caps::clear(None, CapSet::Ambient).context("emptying the ambient set")?;
    caps::clear(None, CapSet::Inheritable).context("emptying the inheritable set")?;
    caps::set(None, CapSet::Effective, &kept).context("setting the effective set")?;
    caps::set(None, CapSet::Permitted, &kept).context("setting the permitted set")?;
    nix::sys::prctl::set_no_new_privs().context("setting no_new_privs")?;
    nix::sys::prctl::set_dumpable(false).context("PR_SET_DUMPABLE")?;
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0)
        .context("RLIMIT_CORE")?;
    Ok(())
}

/// Fails if this process has started a thread: one started before
/// [`keep_only`] would keep every capability. Reads /proc.
pub fn check_single_threaded() -> Result<()> {
    let threads = std::fs::read_dir("/proc/self/task")
        .context("listing /proc/self/task")?
        .count();
    if threads != 1 {
        bail!("{threads} threads before dropping capabilities: they would keep them all");
    }
    Ok(())
}
