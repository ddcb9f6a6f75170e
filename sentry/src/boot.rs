//! Starting a sandbox's kernel and its first process.
//!
//! The runtime's one entry point into the Sentry: it describes the sandbox
//! as a [`BootSpec`] (plain data: platform, root, mounts ...), boots it
//! with [`Sandbox::boot`] (or [`run`]), starts processes with
//! [`Sandbox::prepare_with`] and [`Sandbox::start`], and reaches a running
//! sandbox through the methods in `boot/control.rs`.

mod container;
mod control;
mod mounts;
mod spec;

use std::sync::Arc;

use crate::errno::Errno;
use crate::kernel::task::Task;
use crate::kernel::thread_group::{default_actions, ThreadGroup};
use crate::kernel::{Config, Kernel, TaskHandle};
use crate::mm::MemoryManager;
use crate::vfs::{FdTable, FsContext, Vfs};

pub use crate::caps::CapSet;
pub use crate::kernel::debug::DUMP_SIGNAL;
pub use crate::kernel::syscall_table::syscall_name;
pub use crate::kernel::Credentials;
pub use crate::memfile::MemoryFile;
/// The (level, name) socket options host sockets pass on, for the
/// Sentry's seccomp filter.
pub use crate::net::hostinet::passed_options as hostinet_passed_options;
/// `--strace-log-size`'s default, and `--strace-syscalls`' names read.
pub use crate::syscalls::strace::{syscall_numbers, DEFAULT_LOG_SIZE as STRACE_LOG_SIZE};

/// The capabilities named (`CAP_CHOWN` ...), for an OCI process's sets.
/// A name the Sentry does not know (a newer kernel's) is left out, as
/// runc leaves out what its kernel lacks.
pub fn capabilities_named(names: &[String]) -> CapSet {
    names
        .iter()
        .filter_map(|n| crate::caps::number_of(n))
        .fold(CapSet::EMPTY, |s, c| s.with(c))
}
pub use container::ContainerFs;
pub use control::ProcessInfo;
pub use spec::{BootSpec, Mount, MountTree, RootSpec};

/// Where a new process's descriptors 0, 1 and 2 come from.
pub enum Stdio {
    /// The Sentry's own 0-2 (the runtime caller's stdio).
    Inherited,
    /// Host descriptors the runtime handed over (`exec`), owned by the
    /// process's files from now on.
    Host([std::os::fd::OwnedFd; 3]),
    /// A terminal: a console pty of the Sentry's, relayed to this host
    /// terminal, becomes the process's stdio and controlling terminal.
    Console(std::os::fd::OwnedFd),
}

/// What the first process runs.
pub struct InitProcess {
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    pub cwd: Vec<u8>,
    pub creds: Credentials,
    /// Host signals to pass on to the sandbox. The caller has blocked them in
    /// every thread (before starting any), so a forwarder thread takes them
    /// with sigwaitinfo.
    pub forward_signals: Vec<i32>,
    /// Without HOME in `envp`, set it from the sandbox's /etc/passwd (the
    /// home of `creds.uid`, else `/`), as runc does for a container's
    /// processes.
    pub home_from_passwd: bool,
    /// Resource limits to start with: (RLIMIT_* resource, soft, hard).
    pub rlimits: Vec<(u32, u64, u64)>,
}

/// Writes the task dump to stderr and the debug log: a person asked for
/// it (`kill -PWR` on the Sentry) and may have either at hand.
fn log_task_dump(k: &Kernel) {
    let dump = k.dump_tasks();
    tracing::info!("task dump:\n{dump}");
    eprint!("runsc-rs: task dump\n{dump}");
}

fn spawn_forwarder(k: &Arc<Kernel>, sigs: &[i32]) {
    let weak = Arc::downgrade(k);
    let sigs = sigs.to_vec();
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            // SAFETY: sigset_t is plain data; the libc calls only fill it.
            let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            unsafe { libc::sigemptyset(&mut set) };
            for s in sigs.iter().chain([&DUMP_SIGNAL]) {
                // SAFETY: as above.
                unsafe { libc::sigaddset(&mut set, *s) };
            }
            loop {
                // SAFETY: siginfo_t is plain data.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                // SAFETY: sigwaitinfo writes one siginfo_t.
                let sig = unsafe { libc::sigwaitinfo(&set, &mut info) };
                if sig <= 0 {
                    continue;
                }
                let Some(k) = weak.upgrade() else { return };
                if sig == DUMP_SIGNAL {
                    log_task_dump(&k);
                    continue;
                }
                k.signal_from_outside(sig, info.si_code == libc::SI_KERNEL);
            }
        });
}

/// A booted kernel: memory, platform and filesystems are up; processes
/// are started in it with [`Sandbox::prepare`].
pub struct Sandbox {
    kernel: Arc<Kernel>,
    vfs: Arc<Vfs>,
    max_user_address: u64,
    forwarder: std::sync::Once,
}

/// A first process made and checked, not yet running: the OCI `create`
/// stops here, so a missing or non-executable program is reported before
/// `start`.
pub struct PreparedInit {
    task: Task,
    path: Vec<u8>,
    init: InitProcess,
}

impl PreparedInit {
    /// Gives the process host descriptors as its 3, 4 ... (runc's
    /// `exec --preserve-fds`), after its stdio; each is owned by the
    /// process's file from now on.
    pub fn give_host_fds(&self, fds: Vec<std::os::fd::OwnedFd>) -> Result<(), String> {
        let first = libc::STDERR_FILENO as usize + 1;
        for (i, fd) in fds.into_iter().enumerate() {
            let f = crate::fsimpl::host::HostFile::from_owned(fd);
            let got = self
                .task
                .fds
                .install_from(f, first + i, false)
                .map_err(|e| format!("cannot pass descriptors on: {}", describe(e)))?;
            if got as usize != first + i {
                return Err(format!("descriptor {} is taken", first + i));
            }
        }
        Ok(())
    }
}

impl Sandbox {
    /// Boots a kernel over the Gofer connection with the filesystem tree
    /// `vfs` builds from the Gofer's root, keeping what lives in memory in
    /// the kernel's memory file.
    fn new(
        memfile: Arc<MemoryFile>,
        gofer: gofer_protocol::Client,
        config: Config,
        net: netstack::StackConfig,
        vfs: impl FnOnce(Arc<gofer_protocol::Client>, &Arc<MemoryFile>) -> Result<Arc<Vfs>, String>,
    ) -> Result<Sandbox, String> {
        let kind = config.platform;
        if config.systrap_patch
            && kind == platform::PlatformKind::Systrap
            && !platform::systrap::enable_patching()
        {
            tracing::warn!("--systrap-patch: this CPU lacks BMI2 or XSAVE; not patching");
        }
        let platform = platform::new(kind, memfile.fd())
            .map_err(|e| format!("cannot start the {kind} platform: {e}"))?;
        let vfs = vfs(Arc::new(gofer), &memfile)?;
        let max_user_address = platform.max_user_address();
        let net = netstack::Stack::new(net)
            .map_err(|e| format!("cannot start the network stack: {e}"))?;
        let kernel = Kernel::new(
            platform,
            memfile,
            vfs.clone(),
            config,
            crate::syscalls::table(),
            net,
        );
        Ok(Sandbox {
            kernel,
            vfs,
            max_user_address,
            forwarder: std::sync::Once::new(),
        })
    }

    /// Boots a kernel over the Gofer connection as `spec` describes it,
    /// with its mount namespace, and its network stack on `net`'s
    /// interfaces (the runtime opened their descriptors; they are not
    /// part of the spec, which is plain data). `memfile` is made before
    /// (see [`memory_file`]): the Sentry's seccomp filter names its
    /// descriptor.
    pub fn boot(
        memfile: Arc<MemoryFile>,
        gofer: gofer_protocol::Client,
        spec: &BootSpec,
        net: netstack::StackConfig,
    ) -> Result<Sandbox, String> {
        Sandbox::new(memfile, gofer, spec.kernel_config(), net, |g, memfile| {
            mounts::build(g, &spec.root, &spec.mounts, memfile, None)
        })
    }

    /// Makes PID 1 with its stdio on the inherited descriptors 0-2, moves it
    /// to its working directory and finds its program (PATH lookup as a
    /// shell does), checking that it can be executed.
    pub fn prepare(&self, init: InitProcess) -> Result<PreparedInit, String> {
        self.prepare_with(init, Stdio::Inherited)
    }

    /// [`Sandbox::prepare`] with stdio from `stdio`.
    pub fn prepare_with(&self, init: InitProcess, stdio: Stdio) -> Result<PreparedInit, String> {
        self.prepare_in(init, stdio, None)
    }

    /// [`Sandbox::prepare_with`] in a container of the pod (its root,
    /// mount namespace and process tree), or with None the sandbox's own.
    pub fn prepare_in(
        &self,
        init: InitProcess,
        stdio: Stdio,
        container: Option<&ContainerFs>,
    ) -> Result<PreparedInit, String> {
        let kernel = &self.kernel;
        let (vfs, ns, number) = match container {
            Some(c) => (c.vfs.clone(), c.ns.clone(), c.number),
            None => (self.vfs.clone(), kernel.init_ns.clone(), 0),
        };
        let tid = {
            let mut pids = kernel.pids.lock().unwrap();
            // A container's own PID namespace numbers its first process 1
            // (the sandbox's is the kernel's numbering: nothing to add).
            pids.number(&ns.pid, true, &[], &|_| false)
                .map_err(|e| format!("the container's PID namespace takes no process: {e:?}"))?
        };
        let tg = ThreadGroup::new(tid, None, default_actions(), ns.pid.clone());
        tg.container
            .store(number, std::sync::atomic::Ordering::Relaxed);
        let comm = init
            .argv
            .first()
            .map(|a| a.rsplit(|c| *c == b'/').next().unwrap_or(a).to_vec())
            .unwrap_or_default();
        let handle = TaskHandle::new(tid, &tg, init.creds.clone(), comm, 0, ns.clone());
        for &(res, soft, hard) in &init.rlimits {
            tg.inner.lock().unwrap().rlimits.insert(
                res as usize,
                libc::rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                },
            );
        }
        crate::kernel::rlimits::watch_cpu_limit(&tg);
        {
            let mut pids = kernel.pids.lock().unwrap();
            pids.tasks.insert(tid, handle.clone());
            pids.groups.insert(tid, tg.clone());
        }
        tg.inner.lock().unwrap().tasks.push(handle.clone());

        let fds = FdTable::new();
        if let Some(&(_, soft, _)) = init.rlimits.iter().find(|r| r.0 == libc::RLIMIT_NOFILE) {
            fds.set_max(soft);
        }
        let stdio_err = |e: Errno| format!("cannot set up stdio: {}", describe(e));
        let files: Vec<Arc<crate::vfs::File>> = match stdio {
            Stdio::Inherited => (0..3).map(crate::fsimpl::host::HostFile::new).collect(),
            Stdio::Host(fds) => fds
                .into_iter()
                .map(crate::fsimpl::host::HostFile::from_owned)
                .collect(),
            Stdio::Console(host) => {
                let (master, replica) =
                    crate::fsimpl::console::relay(kernel, &vfs, host).map_err(stdio_err)?;
                // A session leader whose terminal this is, as runc's
                // setsid + TIOCSCTTY make it.
                master.set_controlling(kernel, tid, tid);
                // Named /dev/pts/N where the container shows it, so that
                // ttyname(3) and `tty` find it.
                let ctx =
                    crate::vfs::ops::Ctx::new(&vfs, vfs.root(), crate::vfs::Cred::root(), 0o022);
                let rdev = crate::vfs::FileOps::stat(&*replica).map(|s| s.st_rdev).ok();
                let path = format!("/dev/pts/{}", master.index());
                let dentry = crate::vfs::ops::walk(&ctx, vfs.root(), path.as_bytes(), true)
                    .ok()
                    .filter(|d| d.inode.stat().ok().map(|s| s.st_rdev) == rdev);
                let f =
                    crate::vfs::File::new(replica, dentry, libc::O_RDWR | crate::vfs::O_LARGEFILE);
                vec![f.clone(), f.clone(), f]
            }
        };
        for f in files {
            fds.install(f, false).map_err(stdio_err)?;
        }
        let fs = FsContext::new(vfs.root());
        // SAFETY: user_regs_struct is plain data; zero is a valid value.
        let mut regs: platform::Regs = unsafe { std::mem::zeroed() };
        // The user code and stack segments of x86-64 Linux.
        regs.cs = 0x33;
        regs.ss = 0x2b;
        let mm = MemoryManager::new(kernel.memfile.clone(), self.max_user_address);
        mm.report_peak_to(tg.maxrss.clone());
        let task = Task {
            kernel: kernel.clone(),
            tid,
            handle,
            tg,
            mm,
            fds,
            fs,
            ns,
            regs,
            ctx: None,
            clear_child_tid: 0,
            robust_list: 0,
            vfork_parent: None,
            regs_replaced: false,
            restart: None,
            cpu_charge: Default::default(),
            exit_code: None,
        };
        if !init.cwd.is_empty() {
            let cwd = crate::vfs::open(
                &task,
                libc::AT_FDCWD,
                &init.cwd,
                libc::O_RDONLY | libc::O_DIRECTORY,
                0,
            )
            .and_then(|f| f.dentry().cloned().ok_or(Errno::ENOTDIR));
            match cwd {
                Ok(d) => task.fs.set_cwd(d),
                Err(e) => {
                    return Err(format!(
                        "cannot change to the working directory {}: {}",
                        String::from_utf8_lossy(&init.cwd),
                        describe(e)
                    ))
                }
            }
        }
        let mut init = init;
        if init.home_from_passwd && !init.envp.iter().any(|e| e.starts_with(b"HOME=")) {
            let mut home = b"HOME=".to_vec();
            home.extend_from_slice(&home_in_passwd(&task, init.creds.uid));
            init.envp.push(home);
        }
        let path = init.argv.first().cloned().unwrap_or_default();
        let path = resolve_in_path(&task, &path, &init.envp);
        Ok(PreparedInit { task, path, init })
    }

    /// Runs `init` and returns its wait status when it exits (the sandbox
    /// ends with it).
    pub fn run(&self, init: InitProcess) -> Result<i32, String> {
        // Errors of a prepared init (a missing working directory) are the
        // program's to report, as a shell's exec would: it still runs
        // `start`, which prints them and exits 126/127.
        let p = self.prepare(init)?;
        self.start(p)?;
        Ok(self.kernel.wait_init())
    }

    /// Starts a prepared process that is not PID 1 (`exec`): it has no
    /// parent in the sandbox; [`Kernel::wait_top`] gives its wait status.
    /// Returns its pid.
    pub fn exec(&self, p: PreparedInit) -> Result<i32, String> {
        p.check()?;
        let pid = p.task.tid;
        self.start(p)?;
        Ok(pid)
    }

    /// Starts a prepared process (PID 1, or one from [`Sandbox::exec`]).
    pub fn start(&self, p: PreparedInit) -> Result<(), String> {
        let PreparedInit {
            mut task,
            path,
            init,
        } = p;
        let forward = init.forward_signals.clone();
        std::thread::Builder::new()
            .name(format!("task-{}", task.tid))
            .spawn(move || {
                let r = task.execve(
                    libc::AT_FDCWD,
                    &path,
                    init.argv.clone(),
                    init.envp.clone(),
                    0,
                );
                if task.kernel.config.strace {
                    crate::syscalls::strace::log_initial_exec(
                        task.tid,
                        &path,
                        &init.argv,
                        &r.map(|_| 0),
                    );
                }
                match r {
                    Ok(()) => task.run(),
                    Err(e) => {
                        eprintln!(
                            "runsc-rs: cannot run {}: {}",
                            String::from_utf8_lossy(&path),
                            describe(e)
                        );
                        let code = if e == Errno::ENOENT { 127 } else { 126 };
                        task.exit_code = Some(code << 8);
                        task.group_exit(code << 8);
                        task.run();
                    }
                }
            })
            .map_err(|e| format!("cannot start the init task: {e}"))?;
        if !forward.is_empty() {
            self.forwarder
                .call_once(|| spawn_forwarder(&self.kernel, &forward));
        }
        Ok(())
    }
}

impl PreparedInit {
    /// The program PID 1 will run, checked the way execve will check it:
    /// an error names the problem as runc does ("no such file", "permission
    /// denied"), for `create` to report before anything runs.
    pub fn check(&self) -> Result<(), String> {
        let prog = String::from_utf8_lossy(&self.path).into_owned();
        if !self.path.contains(&b'/') {
            return Err(format!(
                "exec: \"{prog}\": executable file not found in $PATH"
            ));
        }
        let f = crate::vfs::open(&self.task, libc::AT_FDCWD, &self.path, libc::O_RDONLY, 0)
            .map_err(|e| format!("exec: \"{prog}\": {}", describe(e)))?;
        if f.dentry().is_some_and(|d| crate::vfs::is_dir(d.mode())) {
            return Err(format!("exec: \"{prog}\": is a directory"));
        }
        crate::vfs::check_exec(&self.task, &f)
            .map_err(|e| format!("exec: \"{prog}\": {}", describe(e)))
    }
}

/// Boots a kernel over the Gofer connection as `spec` describes it, with
/// its network stack on `net`, runs `init` as PID 1 and returns its wait
/// status when it exits.
pub fn run(
    memfile: Arc<MemoryFile>,
    gofer: gofer_protocol::Client,
    spec: &BootSpec,
    net: netstack::StackConfig,
    init: InitProcess,
) -> Result<i32, String> {
    Sandbox::boot(memfile, gofer, spec, net)?.run(init)
}

/// The kernel's memory file, made before the Sentry's seccomp filter goes
/// on: the filter lets stubs map this one descriptor.
pub fn memory_file() -> Result<Arc<MemoryFile>, String> {
    MemoryFile::new().map_err(|e| format!("cannot create the memory file: {e}"))
}

/// strerror(3) text in lower case, as Go's syscall errors (and so runc's
/// messages) read: "no such file or directory".
fn describe(e: Errno) -> String {
    let text = std::io::Error::from_raw_os_error(e.0).to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut c = text.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => text.to_string(),
    }
}

/// A command without a slash is looked up in PATH, as a shell would.
/// The home directory of `uid` in the sandbox's /etc/passwd, or `/` when
/// the file, or the user in it, is missing (runc's default).
fn home_in_passwd(t: &Task, uid: u32) -> Vec<u8> {
    /// Bigger than any /etc/passwd a container carries; a file past it is
    /// read up to here.
    const MAX: usize = 1 << 20;
    let mut data = Vec::new();
    if let Ok(f) = crate::vfs::open(t, libc::AT_FDCWD, b"/etc/passwd", libc::O_RDONLY, 0) {
        let mut buf = [0u8; 16384];
        while data.len() < MAX {
            match f.read(t, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
    }
    home_of(&data, uid).unwrap_or_else(|| b"/".to_vec())
}

/// `name:password:uid:gid:gecos:home:shell` lines: the home of the first
/// line with `uid`.
fn home_of(passwd: &[u8], uid: u32) -> Option<Vec<u8>> {
    let uid = uid.to_string();
    passwd.split(|c| *c == b'\n').find_map(|line| {
        let fields: Vec<&[u8]> = line.split(|c| *c == b':').collect();
        (fields.len() >= 7 && fields[2] == uid.as_bytes() && !fields[5].is_empty())
            .then(|| fields[5].to_vec())
    })
}

fn resolve_in_path(t: &Task, cmd: &[u8], envp: &[Vec<u8>]) -> Vec<u8> {
    if cmd.contains(&b'/') || cmd.is_empty() {
        return cmd.to_vec();
    }
    let path = envp
        .iter()
        .find_map(|e| e.strip_prefix(b"PATH="))
        .unwrap_or(b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(|c| *c == b':').filter(|d| !d.is_empty()) {
        let mut p = dir.to_vec();
        p.push(b'/');
        p.extend_from_slice(cmd);
        if crate::vfs::open(t, libc::AT_FDCWD, &p, libc::O_RDONLY, 0).is_ok() {
            return p;
        }
    }
    cmd.to_vec()
}

#[cfg(test)]
mod tests {
    use super::home_of;

    #[test]
    fn home_comes_from_the_first_passwd_line_of_the_uid() {
        let passwd = b"root:x:0:0:root:/root:/bin/sh\n\
                       daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n\
                       broken:x:2\n\
                       nohome:x:3:3:::/bin/sh\n\
                       again:x:1:1::/elsewhere:/bin/sh\n";
        assert_eq!(home_of(passwd, 0).as_deref(), Some(&b"/root"[..]));
        assert_eq!(home_of(passwd, 1).as_deref(), Some(&b"/usr/sbin"[..]));
        assert_eq!(home_of(passwd, 2), None);
        assert_eq!(home_of(passwd, 3), None);
        assert_eq!(home_of(passwd, 1000), None);
        assert_eq!(home_of(b"", 0), None);
    }
}
