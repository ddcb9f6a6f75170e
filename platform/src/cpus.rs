//! The host CPUs a sandbox's threads run on, and pinning threads to them:
//! the Gofer's per-CPU channels and the ptrace platform's tracer-stub
//! pairs use them.

/// Puts the calling thread on `cpu`.
pub fn pin_to_cpu(cpu: usize) {
    pin(&[0], cpu);
}

/// The CPUs the calling thread may run on, in order (where the ptrace
/// platform spreads its tracer-stub pairs).
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above, for the calling thread.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) }
        != 0
    {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: CPU_ISSET reads the set within its bounds.
        .filter(|c| unsafe { libc::CPU_ISSET(*c, &allowed) })
        .collect()
}

/// Pins threads `tids` (0: the caller) to `cpu`.
pub(crate) fn pin(tids: &[i32], cpu: usize) {
    // SAFETY: cpu_set_t is plain data.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: cpu is below CPU_SETSIZE (it came from a set).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    for &tid in tids {
        // SAFETY: sched_setaffinity reads `size` bytes of the set; the
        // threads are ours (the caller and its tracee).
        unsafe { libc::sched_setaffinity(tid, size, &set) };
    }
}
