//! Harness for the end-to-end tests: run a command natively and under
//! `runsc-rs do`, compare what they print and how they exit.
//!
//! * [`sandbox`] finds (or builds) the `runsc-rs` binary and checks that this
//!   machine lets it run (ptrace, user namespaces). A test starts with
//!   `let runsc = require!(sandbox());`: a missing requirement skips the test
//!   with a loud `SKIPPED:` line on stderr, or fails it when `CI=true`.
//! * [`c_program`] builds `tests/programs/NAME.c` with gcc into the target
//!   directory; a program takes CHECK, its failure count and the errno
//!   helpers from `#include "common.h"` (tests/programs/common.h).
//! * [`run_native`], [`run_sandboxed`] and [`compare`] run commands with a
//!   timeout in their own process group, killed whole on timeout.
//!
//! Environment:
//! * `RUNSC_RS_BIN`: the binary to test (default: `target/{debug,release}/runsc-rs`,
//!   built with `cargo build -p runsc` when the test itself is built).
//! * `RUNSC_RS_TEST_FLAGS`: extra global flags, e.g. `--platform=ptrace`.
//! * `RUNSC_RS_TEST_PLATFORM`: the platform every sandbox runs on
//!   (`ptrace`, the default, or `kvm`).
//! * `RUNSC_RS_TEST_DEBUG=1`: run every sandbox with `--debug --debug-log=DIR`
//!   under `target/tmp/runsc-rs-tests/logs/`; failures name the directory.
//! * `RUNSC_RS_TEST_TIMEOUT_SCALE`: multiply every timeout (slow machines).
//! * `CI=true`: a missing requirement is a failure, not a skip.

pub mod bundle;
pub mod console;
pub mod containerd;
pub mod debian;
pub mod docker;
pub mod host_proc;

use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

/// How long a command may run unless the test says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// PATH given to every command, native or sandboxed.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Skips the test (returns from it) when a requirement is missing, or fails it
/// when `CI=true`. The argument is a `Result<T, String>`; the value is `T`.
///
/// ```ignore
/// let runsc = require!(sandbox());
/// let busybox = require!(host_program("/bin/busybox", "busybox-static"));
/// ```
#[macro_export]
macro_rules! require {
    ($requirement:expr) => {
        match $requirement {
            Ok(value) => value,
            Err(why) => {
                $crate::skip(&why);
                return;
            }
        }
    };
}

/// True when running in CI (`CI=true` or `CI=1`): requirements are mandatory.
pub fn is_ci() -> bool {
    matches!(
        std::env::var("CI")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Ok("true") | Ok("1") | Ok("yes")
    )
}

/// Reports a missing requirement: panics under CI, else prints a `SKIPPED:`
/// line straight to the process's stderr (not captured by the test runner, so
/// it shows even when the test "passes").
pub fn skip(why: &str) {
    let test = thread::current().name().unwrap_or("?").to_string();
    if is_ci() {
        panic!("{test}: requirement missing and CI=true: {why}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: {test}: {why} (set CI=true to make this a failure) ***"
    );
}

/// The workspace root (parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent directory")
        .to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// A directory for build products and logs, under the target directory.
pub fn scratch_dir() -> PathBuf {
    let dir = target_dir().join("tmp").join("runsc-rs-tests");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

fn timeout_scale() -> f64 {
    std::env::var("RUNSC_RS_TEST_TIMEOUT_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0)
}

// ---------------------------------------------------------------------------
// Requirements

/// A host program the test needs (absolute path), with the Debian package that
/// provides it for the message.
pub fn host_program(path: &str, package: &str) -> Result<PathBuf, String> {
    match fs::metadata(path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(PathBuf::from(path)),
        _ => Err(format!(
            "{path} not available (apt-get install {package}; scripts/test does it)"
        )),
    }
}

/// A file a Debian package provides (not necessarily executable).
pub fn host_file(path: &str, package: &str) -> Result<PathBuf, String> {
    match fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(PathBuf::from(path)),
        _ => Err(format!(
            "{path} not available (apt-get install {package}; scripts/test does it)"
        )),
    }
}

/// Like [`host_program`], and the program must be a static executable (no
/// PT_INTERP), e.g. Debian's busybox-static rather than the dynamic busybox.
pub fn static_host_program(path: &str, package: &str) -> Result<PathBuf, String> {
    let p = host_program(path, package)?;
    match elf_has_interpreter(&p) {
        Ok(false) => Ok(p),
        Ok(true) => Err(format!(
            "{path} is dynamically linked; the test needs a static one (apt-get install {package})"
        )),
        Err(e) => Err(format!("{path}: not a readable ELF executable: {e}")),
    }
}

/// Whether an ELF64 file has a PT_INTERP program header (is dynamically linked).
pub fn elf_has_interpreter(path: &Path) -> Result<bool, String> {
    let data = fs::read(path).map_err(|e| e.to_string())?;
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    // e_ident: magic, ELFCLASS64, little endian.
    if data.get(0..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1][..]) {
        return Err("not a little-endian ELF64 file".into());
    }
    let bad = || "truncated ELF header".to_string();
    let phoff = u64_at(0x20).ok_or_else(bad)? as usize;
    let phentsize = u16_at(0x36).ok_or_else(bad)? as usize;
    let phnum = u16_at(0x38).ok_or_else(bad)? as usize;
    for i in 0..phnum {
        let p_type = u32_at(phoff + i * phentsize).ok_or_else(bad)?;
        if p_type == 3 {
            return Ok(true); // PT_INTERP
        }
    }
    Ok(false)
}

/// The `runsc-rs` binary under test, ready to run on this machine; or why not.
/// Checked once per test binary.
pub fn sandbox() -> Result<PathBuf, String> {
    static CHECKED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            if test_platform() == "kvm" {
                probe_kvm()?;
            } else {
                probe_ptrace()?;
            }
            probe_user_namespace()?;
            Ok(runsc_bin())
        })
        .clone()
}

/// The platform the tests run sandboxes on: `RUNSC_RS_TEST_PLATFORM`, or
/// `ptrace` (runsc-rs's default).
pub fn test_platform() -> String {
    std::env::var("RUNSC_RS_TEST_PLATFORM").unwrap_or_else(|_| "ptrace".into())
}

/// The global flags every sandbox of the tests gets: the platform
/// (`RUNSC_RS_TEST_PLATFORM`) and `RUNSC_RS_TEST_FLAGS`. They go before the
/// command (`do`, `run`, `create` ...).
pub fn global_flags() -> Vec<String> {
    let mut flags = Vec::new();
    if let Ok(p) = std::env::var("RUNSC_RS_TEST_PLATFORM") {
        flags.push(format!("--platform={p}"));
    }
    if let Ok(extra) = std::env::var("RUNSC_RS_TEST_FLAGS") {
        flags.extend(extra.split_whitespace().map(str::to_string));
    }
    flags
}

/// `runsc-rs` with [`global_flags`], for a test that starts it itself
/// (to signal it, read its output as it comes ...).
pub fn runsc_command() -> Command {
    let mut c = Command::new(runsc_bin());
    c.args(global_flags());
    c
}

/// Can this user open /dev/kvm for the KVM platform?
fn probe_kvm() -> Result<(), String> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map(drop)
        .map_err(|e| format!("RUNSC_RS_TEST_PLATFORM=kvm but /dev/kvm cannot be opened: {e}"))
}

/// Finds the `runsc-rs` binary: `RUNSC_RS_BIN`, else builds it with
/// `cargo build -p runsc` (a no-op when it is fresh) in the profile this test
/// was built in, and returns `target/{debug,release}/runsc-rs`. Panics when the
/// binary cannot be found or built: that is a failure, not a skip.
pub fn runsc_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("RUNSC_RS_BIN") {
            let bin = PathBuf::from(bin);
            assert!(
                bin.is_file(),
                "RUNSC_RS_BIN={} does not exist",
                bin.display()
            );
            return bin;
        }
        let release = !cfg!(debug_assertions);
        let profile = if release { "release" } else { "debug" };
        let bin = target_dir().join(profile).join("runsc-rs");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut build = Command::new(cargo);
        build
            .current_dir(workspace_root())
            .args(["build", "--quiet", "-p", "runsc"]);
        if release {
            build.arg("--release");
        }
        match build.output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "`cargo build -p runsc` failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => panic!("cannot run cargo to build runsc-rs: {e}"),
        }
        assert!(
            bin.is_file(),
            "cargo built runsc but {} is missing",
            bin.display()
        );
        bin
    })
    .clone()
}

/// Can a child of ours be traced? (ptrace may be forbidden by Yama, seccomp
/// or a container runtime.)
fn probe_ptrace() -> Result<(), String> {
    // SAFETY: the child calls only async-signal-safe raw syscalls and _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork failed: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: plain syscalls in the freshly forked child.
        unsafe {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) != 0 {
                libc::_exit(1);
            }
            libc::kill(libc::getpid(), libc::SIGSTOP);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for and killing our own child.
    unsafe {
        libc::waitpid(pid, &mut status, 0);
        let stopped = libc::WIFSTOPPED(status);
        if stopped {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, &mut status, 0);
        }
        if !stopped {
            return Err("ptrace is not permitted here (PTRACE_TRACEME failed; \
                        check kernel.yama.ptrace_scope, seccomp or container capabilities)"
                .into());
        }
    }
    Ok(())
}

/// Can we create a user and a mount namespace (the Sentry and Gofer need both)?
fn probe_user_namespace() -> Result<(), String> {
    // SAFETY: the child calls only unshare and _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork failed: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: plain syscalls in the freshly forked, single-threaded child.
        unsafe {
            let ok = libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) == 0;
            libc::_exit(if ok { 0 } else { 1 });
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(
            "user namespaces are not available (unshare(CLONE_NEWUSER|CLONE_NEWNS) \
             failed; check user.max_user_namespaces / kernel.unprivileged_userns_clone, \
             or run as root)"
                .into(),
        )
    }
}

// ---------------------------------------------------------------------------
// C test programs

/// Builds `tests/programs/<name>.c` with `gcc -O2 -pthread` into the scratch
/// directory (reused while newer than the source and tests/programs/common.h,
/// the preamble programs share) and returns its path.
/// Err (skip) when gcc is missing; panics when the program does not compile.
pub fn c_program(name: &str) -> Result<PathBuf, String> {
    build_c_program(name, false, &[])
}

/// [`c_program`] linked with a Debian library: `header` (under
/// /usr/include) tells whether its -dev package is installed (Err, a skip,
/// when not), `lib` is the `-l` name (liburing-dev: `liburing.h`, `uring`).
pub fn c_program_with_lib(name: &str, header: &str, lib: &str) -> Result<PathBuf, String> {
    let h = Path::new("/usr/include").join(header);
    if !h.exists() {
        return Err(format!(
            "{} not available (apt-get install lib{lib}-dev)",
            h.display()
        ));
    }
    build_c_program(name, false, &[format!("-l{lib}")])
}

/// One of the example programs Debian's liburing-dev ships
/// (/usr/share/doc/liburing-dev/examples/NAME.c: io_uring-test,
/// io_uring-cp, link-cp ...), built as shipped into
/// `<scratch>/liburing-examples`. Err (a skip) without liburing-dev.
pub fn liburing_example(name: &str) -> Result<PathBuf, String> {
    let src = Path::new("/usr/share/doc/liburing-dev/examples").join(format!("{name}.c"));
    if !src.is_file() || !Path::new("/usr/include/liburing.h").exists() {
        return Err(format!(
            "{} not available (apt-get install liburing-dev)",
            src.display()
        ));
    }
    let gcc = find_in_path("gcc").ok_or("gcc not available (apt-get install gcc)")?;
    let dir = scratch_dir().join("liburing-examples");
    Ok(build_cached("gcc", &src, &[], &dir, name, |tmp| {
        let mut c = Command::new(&gcc);
        // io_uring-test opens with O_DIRECT, which needs _GNU_SOURCE.
        c.args(["-O2", "-D_GNU_SOURCE", "-o"])
            .arg(tmp)
            .arg(&src)
            .arg("-luring");
        c
    }))
}

/// [`c_program`] linked statically (`-static`), into its own directory
/// `<scratch>/static-programs`: for a container whose root has no C
/// library (the busybox bundles), bound there read-only.
pub fn static_c_program(name: &str) -> Result<PathBuf, String> {
    let libc_a = Path::new("/usr/lib/x86_64-linux-gnu/libc.a");
    if !libc_a.exists() {
        return Err("libc.a not available (apt-get install libc6-dev)".into());
    }
    build_c_program(name, true, &[])
}

fn build_c_program(name: &str, linked_static: bool, libs: &[String]) -> Result<PathBuf, String> {
    let src = workspace_root()
        .join("tests/programs")
        .join(format!("{name}.c"));
    assert!(src.is_file(), "no such test program: {}", src.display());
    let gcc = find_in_path("gcc").ok_or("gcc not available (apt-get install gcc)")?;
    let dir = scratch_dir().join(if linked_static {
        "static-programs"
    } else {
        "programs"
    });
    // The header the programs share (`#include "common.h"`, found beside
    // the source): a change to it rebuilds them too.
    let common = src.with_file_name("common.h");
    Ok(build_cached("gcc", &src, &[&common], &dir, name, |tmp| {
        let mut c = Command::new(&gcc);
        c.args(["-O2", "-pthread", "-Wall"])
            .args(linked_static.then_some("-static"))
            .arg("-o")
            .arg(tmp)
            .arg(&src)
            .args(libs);
        c
    }))
}

/// Builds `tests/programs/go/<name>.go` with Debian's Go (golang-go) into
/// `<scratch>/go-programs` (reused while newer than the source), its build
/// cache under the scratch directory. Err (skip) when Go is missing; panics
/// when the program does not build.
pub fn go_program(name: &str) -> Result<PathBuf, String> {
    let src = workspace_root()
        .join("tests/programs/go")
        .join(format!("{name}.go"));
    assert!(src.is_file(), "no such Go test program: {}", src.display());
    let go = host_program(GO, "golang-go")?;
    let dir = scratch_dir().join("go-programs");
    Ok(build_cached("go build", &src, &[], &dir, name, |tmp| {
        let mut c = Command::new(&go);
        c.args(["build", "-o"])
            .arg(tmp)
            .arg(&src)
            .env("HOME", scratch_dir())
            .env("GOCACHE", scratch_dir().join("go-cache"))
            .env("GOFLAGS", "-buildvcs=false")
            .current_dir(&dir);
        c
    }))
}

/// `dir/name` built from `src` by the command `build` makes for a
/// temporary output path, renamed into place when it succeeds; reused
/// while newer than `src` and each file of `also` (headers it includes).
/// Panics with the tool's stderr when it fails.
fn build_cached(
    tool: &str,
    src: &Path,
    also: &[&Path],
    dir: &Path,
    name: &str,
    build: impl FnOnce(&Path) -> Command,
) -> PathBuf {
    static BUILD_LOCK: Mutex<()> = Mutex::new(());
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let out = dir.join(name);
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let built = mtime(&out);
    if built.is_some()
        && std::iter::once(src)
            .chain(also.iter().copied())
            .all(|p| built >= mtime(p))
    {
        return out;
    }
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = build(&tmp)
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    assert!(
        result.status.success(),
        "{tool} failed on {}:\n{}",
        src.display(),
        String::from_utf8_lossy(&result.stderr)
    );
    fs::rename(&tmp, &out).unwrap_or_else(|e| panic!("rename to {}: {e}", out.display()));
    out
}

/// Debian's Go toolchain (golang-go).
pub const GO: &str = "/usr/bin/go";

/// Writes an executable file into the scratch directory (e.g. a `#!` script)
/// and returns its path.
pub fn scratch_executable(name: &str, contents: &str) -> PathBuf {
    let dir = scratch_dir().join("files");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    fs::write(&tmp, contents).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", tmp.display()));
    fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
    path
}

fn mtime(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let inherited = std::env::var("PATH").unwrap_or_default();
    PATH.split(':')
        .chain(inherited.split(':'))
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

// ---------------------------------------------------------------------------
// Running commands

/// What a command did.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code, or 128 + N when killed by signal N (as a shell reports it).
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The debug-log directory of a sandboxed run, if logs were requested.
    pub log_dir: Option<PathBuf>,
    /// The full command line that ran (runsc-rs and its flags included).
    pub command: Vec<String>,
}

impl Output {
    /// A multi-line description for assertion messages.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "command: {:?}\nstatus: {}  elapsed: {:?}\n",
            self.command, self.status, self.elapsed
        );
        if let Some(dir) = &self.log_dir {
            s += &format!("debug logs: {}\n", dir.display());
        }
        s += &format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            clip(&self.stdout),
            clip(&self.stderr)
        );
        s
    }

    /// Asserts exit status 0.
    pub fn assert_success(&self) -> &Self {
        assert_eq!(self.status, 0, "expected success\n{}", self.describe());
        self
    }
}

fn clip(s: &str) -> String {
    const MAX: usize = 20_000;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut cut = MAX;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n[... {} more bytes]", &s[..cut], s.len() - cut)
}

/// A command to run natively or in the sandbox.
#[derive(Debug, Clone)]
pub struct Cmd {
    argv: Vec<String>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    flags: Vec<String>,
    log_dir: Option<PathBuf>,
    env: Vec<(String, String)>,
    /// The directory it starts in (default `/`).
    cwd: Option<PathBuf>,
}

impl Cmd {
    pub fn new<S: AsRef<str>>(argv: &[S]) -> Self {
        assert!(!argv.is_empty(), "empty command");
        Cmd {
            argv: argv.iter().map(|s| s.as_ref().to_string()).collect(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            flags: Vec::new(),
            log_dir: None,
            env: Vec::new(),
            cwd: None,
        }
    }

    /// An environment variable for the command (besides PATH and LC_ALL).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The directory the command (and `runsc-rs do`) starts in.
    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// Bytes fed to the command's stdin (default: /dev/null).
    pub fn stdin(mut self, data: &[u8]) -> Self {
        self.stdin = Some(data.to_vec());
        self
    }

    /// Time limit (scaled by `RUNSC_RS_TEST_TIMEOUT_SCALE`).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// Global `runsc-rs` flags, placed before `do` (ignored natively).
    pub fn flags<S: AsRef<str>>(mut self, flags: &[S]) -> Self {
        self.flags
            .extend(flags.iter().map(|s| s.as_ref().to_string()));
        self
    }

    /// Run the sandbox with `--debug --debug-log=DIR`; `Output::log_dir` is DIR
    /// (a fresh directory under the scratch directory).
    pub fn debug_log(mut self) -> Self {
        self.log_dir = Some(fresh_log_dir());
        self
    }

    /// Runs the command on the host.
    pub fn run_native(&self) -> Output {
        spawn_and_wait(
            &self.argv,
            self.stdin.as_deref(),
            self.timeout,
            None,
            &self.env,
            self.cwd.as_deref(),
        )
    }

    /// Runs `runsc-rs [flags] do -- CMD...`. Panics if there is no binary; call
    /// `require!(sandbox())` first.
    pub fn run_sandboxed(&self) -> Output {
        let mut argv = vec![runsc_bin().to_string_lossy().into_owned()];
        argv.extend(global_flags());
        argv.extend(self.flags.iter().cloned());
        let mut log_dir = self.log_dir.clone();
        if log_dir.is_none() && std::env::var_os("RUNSC_RS_TEST_DEBUG").is_some() {
            log_dir = Some(fresh_log_dir());
        }
        if let Some(dir) = &log_dir {
            argv.push("--debug".into());
            argv.push(format!("--debug-log={}/", dir.display()));
        }
        argv.push("do".into());
        argv.push("--".into());
        argv.extend(self.argv.iter().cloned());
        spawn_and_wait(
            &argv,
            self.stdin.as_deref(),
            self.timeout,
            log_dir,
            &self.env,
            self.cwd.as_deref(),
        )
    }

    /// Runs natively and sandboxed; asserts equal exit status and stdout.
    /// Returns (native, sandboxed) for further checks.
    pub fn compare(&self) -> (Output, Output) {
        let native = self.run_native();
        let sandboxed = self.run_sandboxed();
        assert_same(&native, &sandboxed);
        (native, sandboxed)
    }
}

/// Asserts that two runs exited alike and printed the same stdout; on a
/// difference, the message has a line diff and both runs in full.
pub fn assert_same(native: &Output, sandboxed: &Output) {
    if native.status == sandboxed.status && native.stdout == sandboxed.stdout {
        return;
    }
    let diff = if native.stdout == sandboxed.stdout {
        "stdout is the same".to_string()
    } else {
        format!(
            "stdout diff (- native, + sandboxed):\n{}",
            line_diff(&native.stdout, &sandboxed.stdout, 60)
        )
    };
    panic!(
        "native and sandboxed runs differ (exit status {} vs {})\n{diff}\n\
         ===== native =====\n{}\n===== sandboxed =====\n{}",
        native.status,
        sandboxed.status,
        native.describe(),
        sandboxed.describe()
    );
}

/// A minimal line diff (longest common subsequence): lines only in `a` are
/// "- ", lines only in `b` are "+ "; at most `max` lines of output.
pub fn line_diff(a: &str, b: &str, max: usize) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let mut out = Vec::new();
    if a.len() * b.len() > 25_000_000 {
        // Too big for the table: report line by line.
        for i in 0..a.len().max(b.len()) {
            match (a.get(i), b.get(i)) {
                (Some(x), Some(y)) if x == y => {}
                (x, y) => {
                    if let Some(x) = x {
                        out.push(format!("- {x}"));
                    }
                    if let Some(y) = y {
                        out.push(format!("+ {y}"));
                    }
                }
            }
        }
    } else {
        // lcs[i][j]: length of the LCS of a[i..] and b[j..].
        let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                lcs[i][j] = if a[i] == b[j] {
                    lcs[i + 1][j + 1] + 1
                } else {
                    lcs[i + 1][j].max(lcs[i][j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            if i < a.len() && j < b.len() && a[i] == b[j] {
                i += 1;
                j += 1;
            } else if j == b.len() || (i < a.len() && lcs[i + 1][j] >= lcs[i][j + 1]) {
                out.push(format!("- {}", a[i]));
                i += 1;
            } else {
                out.push(format!("+ {}", b[j]));
                j += 1;
            }
        }
    }
    let total = out.len();
    out.truncate(max);
    let mut text = out.join("\n");
    if total > max {
        text += &format!("\n[... {} more diff lines]", total - max);
    }
    text
}

/// Runs `argv` on the host with the default timeout.
pub fn run_native<S: AsRef<str>>(argv: &[S]) -> Output {
    Cmd::new(argv).run_native()
}

/// Runs `argv` under `runsc-rs do` with the default timeout.
pub fn run_sandboxed<S: AsRef<str>>(argv: &[S]) -> Output {
    Cmd::new(argv).run_sandboxed()
}

/// Runs `argv` both ways and asserts equal stdout and exit status.
pub fn compare<S: AsRef<str>>(argv: &[S]) -> (Output, Output) {
    Cmd::new(argv).compare()
}

fn fresh_log_dir() -> PathBuf {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let test = thread::current()
        .name()
        .unwrap_or("test")
        .replace("::", "-")
        .replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
            "_",
        );
    let dir = scratch_dir().join("logs").join(format!(
        "{test}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Collects one pipe in a thread; the partial contents stay readable if a
/// leftover process keeps the pipe open.
struct Collector {
    buf: Arc<Mutex<Vec<u8>>>,
    thread: JoinHandle<()>,
}

impl Collector {
    fn new(mut pipe: impl Read + Send + 'static) -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let thread = thread::spawn(move || {
            let mut chunk = [0u8; 64 * 1024];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => sink
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
        Collector { buf, thread }
    }

    fn finish(self, deadline: Instant) -> String {
        while !self.thread.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let bytes = self.buf.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Is a live (not zombie) process left in process group `pgid`?
fn group_alive(pgid: i32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        // SAFETY: signal 0 only checks for existence.
        return unsafe { libc::kill(-pgid, 0) == 0 };
    };
    entries.flatten().any(|entry| {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp ...": comm may contain anything, so
        // split after its closing parenthesis.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let group = fields.nth(1).and_then(|f| f.parse::<i32>().ok());
        group == Some(pgid) && state != "Z" && state != "X"
    })
}

fn kill_group(pgid: i32) {
    // SAFETY: the group is the one we created for this command.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
}

fn spawn_and_wait(
    argv: &[String],
    stdin: Option<&[u8]>,
    timeout: Duration,
    log_dir: Option<PathBuf>,
    env: &[(String, String)],
    cwd: Option<&Path>,
) -> Output {
    let timeout = timeout.mul_f64(timeout_scale());
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", PATH)
        .env("LC_ALL", "C")
        .current_dir(cwd.unwrap_or(Path::new("/")))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // Only stdio goes to the program, natively as in the sandbox: a
    // descriptor the test runner inherited (a `flock` lock, a CI pipe)
    // would otherwise shift the native run's descriptor numbers.
    // SAFETY: close_range is async-signal-safe and touches only this
    // child's descriptor table; the pipes above are already on 0-2.
    unsafe {
        cmd.pre_exec(|| {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    for var in ["RUST_LOG", "RUST_BACKTRACE"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", argv));
    let pgid = child.id() as i32;
    let stdout = Collector::new(child.stdout.take().expect("piped stdout"));
    let stderr = Collector::new(child.stderr.take().expect("piped stderr"));
    let feeder = match (stdin, child.stdin.take()) {
        (Some(data), Some(mut pipe)) => {
            let data = data.to_vec();
            Some(thread::spawn(move || {
                let _ = pipe.write_all(&data);
            }))
        }
        _ => None,
    };

    let deadline = start + timeout;
    let mut pause = Duration::from_millis(1);
    let (status, timed_out) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (status, false),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(pgid);
                break (child.wait().expect("wait for killed child"), true);
            }
            Ok(None) => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => panic!("wait for {:?}: {e}", argv),
        }
    };
    let elapsed = start.elapsed();

    // Whatever is left of the group (a sandbox process that outlived the
    // command) gets a moment to exit, then is killed so nothing lingers.
    let grace = Instant::now() + Duration::from_secs(2);
    while group_alive(pgid) && Instant::now() < grace {
        thread::sleep(Duration::from_millis(10));
    }
    let leftovers = group_alive(pgid);
    if leftovers {
        kill_group(pgid);
    }
    let pipes_deadline = Instant::now() + Duration::from_secs(5);
    let stdout = stdout.finish(pipes_deadline);
    let mut stderr = stderr.finish(pipes_deadline);
    if let Some(feeder) = feeder {
        if feeder.is_finished() {
            let _ = feeder.join();
        }
    }
    if leftovers {
        let _ = writeln!(
            std::io::stderr(),
            "warning: processes of {:?} outlived it by 2 s and were killed",
            argv
        );
        stderr += "\n[harness: processes outlived the command and were killed]\n";
    }

    let mut out = Output {
        status: status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        stdout,
        stderr,
        elapsed,
        log_dir,
        command: argv.to_vec(),
    };
    if timed_out {
        panic!(
            "timed out after {:?}; the process group was killed\n{}",
            timeout,
            out.describe()
        );
    }
    if out.stderr.len() > 1 << 20 {
        out.stderr.truncate(1 << 20);
    }
    out
}

/// Reads every file in a debug-log directory: (file name, contents).
pub fn read_logs(dir: &Path) -> Vec<(String, String)> {
    let mut logs = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                let text = fs::read(&path)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                logs.push((entry.file_name().to_string_lossy().into_owned(), text));
            }
        }
    }
    logs.sort();
    logs
}

/// A name unique to this process and moment, for files the test creates.
pub fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

// ---------------------------------------------------------------------------
// Extended attributes on the host

/// The command line of tests/programs/xattrs.c over `dir`: with `at`
/// when the host kernel has the *xattrat calls (Linux 6.13), which the
/// sandbox always has, so that native and sandboxed runs try the same.
pub fn xattrs_argv(prog: &str, dir: &Path) -> Vec<String> {
    let mut argv = vec![prog.to_string(), dir.to_string_lossy().into_owned()];
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    if (v.next().unwrap_or(0), v.next().unwrap_or(0)) >= (6, 13) {
        argv.push("at".into());
    }
    argv
}

/// Sets `name` = `value` on `path` natively, not followed (the host's own
/// attributes, which the sandbox reads through the Gofer).
pub fn host_setxattr(path: &Path, name: &str, value: &str) {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL");
    let n = std::ffi::CString::new(name).expect("no NUL");
    // SAFETY: both strings are NUL-terminated and outlive the call; the
    // value pointer and length describe `value`'s bytes.
    let r = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        r,
        0,
        "setxattr {} {name}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// The user.* attributes of `path` itself (not followed), sorted.
pub fn host_xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL");
    let mut names = vec![0u8; 65536];
    // SAFETY: `p` is NUL-terminated; the buffer pointer and length
    // describe `names`.
    let n = unsafe { libc::llistxattr(p.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n < 0 {
        return Vec::new();
    }
    names.truncate(n as usize);
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| n.starts_with(b"user.")) {
        let c = std::ffi::CString::new(name).expect("no NUL");
        let mut v = vec![0u8; 65536];
        // SAFETY: as above, for `c` and `v`.
        let m = unsafe { libc::lgetxattr(p.as_ptr(), c.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        v.truncate(m.max(0) as usize);
        out.push((String::from_utf8_lossy(name).into_owned(), v));
    }
    out.sort();
    out
}

/// A host directory for xattrs.c: f with user.a and user.b, d with
/// user.dir, g with none, sym -> f.
pub fn xattr_fixture(dir: &Path) {
    fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    fs::write(dir.join("f"), "file\n").expect("write f");
    fs::write(dir.join("g"), "other\n").expect("write g");
    fs::create_dir(dir.join("d")).expect("mkdir d");
    std::os::unix::fs::symlink("f", dir.join("sym")).expect("symlink");
    host_setxattr(&dir.join("f"), "user.a", "1");
    host_setxattr(&dir.join("f"), "user.b", "two");
    host_setxattr(&dir.join("d"), "user.dir", "x");
}

/// The first line a client of `l` sends; the connection is then closed,
/// which ends the client. None came once `client_done` is set and the
/// backlog is empty (a connection the client made is queued by then).
pub fn accept_line(
    l: &std::net::TcpListener,
    client_done: &std::sync::atomic::AtomicBool,
) -> Result<String, String> {
    use std::io::BufRead;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    let conn = loop {
        let done = client_done.load(std::sync::atomic::Ordering::SeqCst);
        match l.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if done {
                    return Err("no connection".into());
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    conn.set_nonblocking(false).map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    std::io::BufReader::new(&conn)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(line.trim_end().to_string())
}

#[cfg(test)]
mod harness_tests {
    use super::*;

    #[test]
    fn native_run_reports_exit_status_and_output() {
        let out = run_native(&["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]);
        assert_eq!(out.status, 3);
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
    }

    #[test]
    fn native_run_reports_signal_death_as_128_plus_signal() {
        let out = run_native(&["/bin/sh", "-c", "kill -KILL $$"]);
        assert_eq!(out.status, 128 + libc::SIGKILL);
    }

    #[test]
    fn native_run_feeds_stdin() {
        let out = Cmd::new(&["/bin/cat"]).stdin(b"piped\n").run_native();
        assert_eq!(out.stdout, "piped\n");
    }

    #[test]
    fn timeout_kills_the_whole_process_group() {
        // Durations unique to this run identify the sleeps in /proc.
        let a = format!("1000.{}1", std::process::id());
        let b = format!("1000.{}2", std::process::id());
        let script = format!("sleep {a} & sleep {b}");
        let result = std::panic::catch_unwind(|| {
            Cmd::new(&["/bin/sh", "-c", &script])
                .timeout(Duration::from_millis(300))
                .run_native()
        });
        assert!(
            result.is_err(),
            "a command past its timeout must fail the test"
        );
        // Both sleeps, the backgrounded one too, were in the group and are gone.
        let survivors: Vec<String> = fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.starts_with("sleep ") && (c.contains(&a) || c.contains(&b)))
            .collect();
        assert!(survivors.is_empty(), "survived the timeout: {survivors:?}");
    }

    #[test]
    fn c_programs_compile_and_pass_natively() {
        let Ok(prog) = c_program("enosys") else {
            skip("gcc missing");
            return;
        };
        let out = run_native(&[prog.to_str().unwrap()]);
        out.assert_success();
        assert!(
            out.stdout.contains("syscall 1000: -1 ENOSYS"),
            "{}",
            out.describe()
        );
    }

    #[test]
    fn require_skips_outside_ci_and_fails_in_ci() {
        static REACHED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        fn body() {
            require!(Err::<(), String>(
                "a demonstration requirement (this skip is expected)".into()
            ));
            REACHED.store(true, Ordering::SeqCst);
        }
        let result = std::panic::catch_unwind(body);
        assert_eq!(
            result.is_err(),
            is_ci(),
            "CI=true must turn a skip into a failure"
        );
        assert!(
            !REACHED.load(Ordering::SeqCst),
            "require! must return early"
        );
    }

    #[test]
    fn line_diff_shows_only_changed_lines() {
        let d = line_diff("a\nb\nc\nd\n", "a\nc\nx\nd\n", 10);
        assert_eq!(d, "- b\n+ x");
        assert_eq!(line_diff("1\n2\n3\n", "1\n2\n3\n", 10), "");
        assert_eq!(line_diff("", "new\n", 10), "+ new");
    }

    #[test]
    fn elf_interpreter_detection() {
        assert!(elf_has_interpreter(Path::new("/bin/sh")).unwrap());
        if let Ok(bb) = static_host_program("/bin/busybox", "busybox-static") {
            assert!(!elf_has_interpreter(&bb).unwrap());
        }
    }
}
