//! What each sandbox process is called, and how it dies of a bug.

/// The names the sandbox's processes show in `ps` and `top` (argv[0], and
/// the thread name, at most 15 bytes), as gVisor's are `runsc-sandbox` and
/// `runsc-gofer`: re-executed as /proc/self/exe they would all be `exe`.
pub const SENTRY_NAME: &str = "runsc-rs-sentry";
pub const GOFER_NAME: &str = "runsc-rs-gofer";
pub const SUPERVISOR_NAME: &str = "runsc-rs-supervisor";
/// A rootless command run again in its user namespace (`rootless`).
pub const ROOTLESS_NAME: &str = "runsc-rs-userns";

/// Names the calling process (its main thread; threads started later
/// take the name along unless they set their own). `comm` holds 15 bytes:
/// a longer name is cut there.
pub fn set_process_name(name: &str) {
    let mut comm = [0u8; 16];
    let n = name.len().min(15);
    comm[..n].copy_from_slice(&name.as_bytes()[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes
    // from a buffer we own.
    unsafe { libc::prctl(libc::PR_SET_NAME, comm.as_ptr()) };
}

/// A panic anywhere in the Sentry is a bug that must end the sandbox at once
/// (a task thread unwinding alone would leave the rest hanging). Its
/// message and location go to stderr and the log first: the default hook
/// comes after, because a backtrace (RUST_BACKTRACE) reads files the
/// seccomp filter refuses, and the kill would take the message with it.
pub fn die_on_panic(process: &'static str) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("?");
        let line = format!("runsc-rs: {process} panicked (thread {name}): {info}");
        eprintln!("{line}");
        tracing::error!("{line}");
        default(info);
        // SAFETY: _exit ends the process without running other threads' code.
        unsafe { libc::_exit(125) };
    }));
}
