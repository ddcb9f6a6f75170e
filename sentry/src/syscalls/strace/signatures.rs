//! Each system call's arguments as data: how many it takes and how strace(1)
//! prints each. Arguments the call writes (`Out*`, `Late*`) are printed at
//! exit, after the handler, as strace does.

use super::net_sets;
use super::sets;
use super::text::Set;

/// The structures the formatter knows.
#[derive(Clone, Copy, Debug)]
pub enum Struct {
    Stat,
    Statx,
    Timespec,
    Timeval,
    Itimerspec,
    Rlimit,
    Utsname,
    Sigaction,
    /// An `int` behind a pointer: `[4]`.
    Int,
    /// Two `int`s: pipe's descriptors.
    IntPair,
    WaitStatus,
    EpollEvent,
}

/// How to print one argument.
#[derive(Clone, Copy, Debug)]
pub enum Arg {
    /// A C `int`.
    Int,
    /// A 64-bit signed value (off_t, long).
    Long,
    /// A size_t or other unsigned value.
    ULong,
    Hex,
    /// An address not followed: `NULL` or hex.
    Ptr,
    Fd,
    DirFd,
    Path,
    /// A NUL-terminated string that is not a path, cut at the log size.
    Str,
    Mode,
    /// open's mode: only with O_CREAT or O_TMPFILE (argument `n`).
    OpenMode(usize),
    /// Data the call reads; its length is argument `n`.
    InBuf(usize),
    /// Data the call writes; the return value is its length.
    OutBuf,
    /// getdents: `/* N entries */`.
    Dirents,
    /// iovecs the call reads; their count is argument `n`.
    IovIn(usize),
    /// iovecs the call fills, up to the return value.
    IovOut(usize),
    Flags(&'static Set),
    /// Flags whose zero has a name (`PROT_NONE`, `F_OK`).
    FlagsOr(&'static Set, &'static str),
    Enum(&'static Set),
    OpenFlags,
    MmapFlags,
    SockType,
    /// The third argument of socket(2), named by the family (argument 0).
    SockProto,
    CloneFlags,
    FutexOp,
    Signal,
    SigSetIn,
    SigSetOut,
    In(Struct),
    Out(Struct),
    /// A socket address; its length is argument `n`.
    SockaddrIn(usize),
    /// A socket address the call fills; its length is behind argument `n`.
    SockaddrOut(usize),
    /// A socket option's level, then its name (which needs the level).
    SockLevel,
    SockOpt,
    /// poll's array; the count is argument `n`.
    PollFds(usize),
    /// epoll_wait's events, as many as the return value.
    EpollEvents,
    Argv,
    /// The environment: strace prints only its size.
    Envp,
    /// fcntl's third argument, by command (some commands take none).
    FcntlThird,
    IoctlReq,
    /// ioctl's third argument, by request.
    IoctlThird,
    /// clone's arguments, printed with names as strace does.
    Clone,
}

impl Arg {
    /// Printed at exit: the call writes what it points to.
    pub fn at_exit(self) -> bool {
        use Arg::*;
        matches!(
            self,
            OutBuf
                | Dirents
                | IovOut(_)
                | SigSetOut
                | Out(_)
                | SockaddrOut(_)
                | EpollEvents
                | FcntlThird
                | IoctlThird
                | Clone
        )
    }
}

use Arg::*;
use Struct as S;

const AT: Arg = Flags(sets::AT);

/// The arguments of syscall `nr`, or None for a number we do not know (all
/// six are then printed in hex).
pub fn signature(nr: i64) -> Option<&'static [Arg]> {
    Some(match nr {
        libc::SYS_read => &[Fd, OutBuf, ULong],
        libc::SYS_write => &[Fd, InBuf(2), ULong],
        libc::SYS_open => &[Path, OpenFlags, OpenMode(1)],
        libc::SYS_close => &[Fd],
        libc::SYS_stat | libc::SYS_lstat => &[Path, Out(S::Stat)],
        libc::SYS_fstat => &[Fd, Out(S::Stat)],
        libc::SYS_poll => &[PollFds(1), ULong, Int],
        libc::SYS_lseek => &[Fd, Long, Enum(sets::WHENCE)],
        libc::SYS_mmap => &[
            Ptr,
            ULong,
            FlagsOr(sets::PROT, "PROT_NONE"),
            MmapFlags,
            Fd,
            Hex,
        ],
        libc::SYS_mprotect => &[Ptr, ULong, FlagsOr(sets::PROT, "PROT_NONE")],
        libc::SYS_munmap => &[Ptr, ULong],
        libc::SYS_brk => &[Ptr],
        libc::SYS_rt_sigaction => &[Signal, In(S::Sigaction), Out(S::Sigaction), ULong],
        libc::SYS_rt_sigprocmask => &[Enum(sets::SIGPROCMASK_HOW), SigSetIn, SigSetOut, ULong],
        libc::SYS_rt_sigreturn => &[],
        libc::SYS_ioctl => &[Fd, IoctlReq, IoctlThird],
        libc::SYS_pread64 => &[Fd, OutBuf, ULong, Long],
        libc::SYS_pwrite64 => &[Fd, InBuf(2), ULong, Long],
        libc::SYS_readv => &[Fd, IovOut(2), Int],
        libc::SYS_writev => &[Fd, IovIn(2), Int],
        libc::SYS_preadv | libc::SYS_preadv2 => &[Fd, IovOut(2), Int, Long, Hex],
        libc::SYS_pwritev | libc::SYS_pwritev2 => &[Fd, IovIn(2), Int, Long, Hex],
        libc::SYS_access => &[Path, FlagsOr(sets::ACCESS, "F_OK")],
        libc::SYS_pipe => &[Out(S::IntPair)],
        libc::SYS_pipe2 => &[Out(S::IntPair), Flags(sets::PIPE)],
        libc::SYS_select => &[Int, Ptr, Ptr, Ptr, In(S::Timeval)],
        libc::SYS_pselect6 => &[Int, Ptr, Ptr, Ptr, In(S::Timespec), Ptr],
        libc::SYS_sched_yield => &[],
        libc::SYS_mremap => &[Ptr, ULong, ULong, Flags(sets::MREMAP), Ptr],
        libc::SYS_msync => &[Ptr, ULong, Flags(sets::MSYNC)],
        libc::SYS_mincore => &[Ptr, ULong, Ptr],
        libc::SYS_madvise => &[Ptr, ULong, Enum(sets::MADVISE)],
        libc::SYS_shmget => &[Hex, ULong, Flags(sets::IPC)],
        libc::SYS_shmat => &[Int, Ptr, Flags(sets::IPC)],
        libc::SYS_shmctl => &[Int, Enum(sets::SHM_CTL), Ptr],
        libc::SYS_shmdt => &[Ptr],
        libc::SYS_dup => &[Fd],
        libc::SYS_dup2 => &[Fd, Fd],
        libc::SYS_dup3 => &[Fd, Fd, Flags(sets::PIPE)],
        libc::SYS_pause | libc::SYS_getpid | libc::SYS_getppid | libc::SYS_gettid => &[],
        libc::SYS_nanosleep => &[In(S::Timespec), Out(S::Timespec)],
        libc::SYS_getitimer => &[Enum(sets::ITIMER), Ptr],
        libc::SYS_setitimer => &[Enum(sets::ITIMER), Ptr, Ptr],
        libc::SYS_alarm => &[ULong],
        libc::SYS_sendfile => &[Fd, Fd, Ptr, ULong],
        libc::SYS_socket => &[Enum(net_sets::FAMILIES), SockType, SockProto],
        libc::SYS_connect | libc::SYS_bind => &[Fd, SockaddrIn(2), ULong],
        libc::SYS_accept => &[Fd, SockaddrOut(2), Ptr],
        libc::SYS_accept4 => &[Fd, SockaddrOut(2), Ptr, Flags(net_sets::SOCK_FLAGS)],
        libc::SYS_sendto => &[
            Fd,
            InBuf(2),
            ULong,
            Flags(net_sets::MSG),
            SockaddrIn(5),
            ULong,
        ],
        libc::SYS_recvfrom => &[Fd, OutBuf, ULong, Flags(net_sets::MSG), SockaddrOut(5), Ptr],
        libc::SYS_sendmsg | libc::SYS_recvmsg => &[Fd, Ptr, Flags(net_sets::MSG)],
        libc::SYS_sendmmsg | libc::SYS_recvmmsg => &[Fd, Ptr, ULong, Flags(net_sets::MSG), Ptr],
        libc::SYS_shutdown => &[Fd, Enum(net_sets::SHUTDOWN)],
        libc::SYS_listen => &[Fd, Int],
        libc::SYS_getsockname | libc::SYS_getpeername => &[Fd, SockaddrOut(2), Ptr],
        libc::SYS_socketpair => &[
            Enum(net_sets::FAMILIES),
            SockType,
            SockProto,
            Out(S::IntPair),
        ],
        libc::SYS_setsockopt => &[Fd, SockLevel, SockOpt, Ptr, ULong],
        libc::SYS_getsockopt => &[Fd, SockLevel, SockOpt, Ptr, Ptr],
        libc::SYS_clone => &[Clone],
        libc::SYS_fork | libc::SYS_vfork => &[],
        libc::SYS_execve => &[Path, Argv, Envp],
        libc::SYS_exit | libc::SYS_exit_group => &[Int],
        libc::SYS_wait4 => &[Int, Out(S::WaitStatus), Flags(sets::WAIT), Ptr],
        libc::SYS_kill | libc::SYS_tkill => &[Int, Signal],
        libc::SYS_uname => &[Out(S::Utsname)],
        libc::SYS_fcntl => &[Fd, Enum(sets::FCNTL), FcntlThird],
        libc::SYS_flock => &[Fd, Flags(sets::FLOCK)],
        libc::SYS_fsync | libc::SYS_fdatasync | libc::SYS_syncfs | libc::SYS_fchdir => &[Fd],
        libc::SYS_truncate => &[Path, Long],
        libc::SYS_ftruncate => &[Fd, Long],
        libc::SYS_getdents | libc::SYS_getdents64 => &[Fd, Dirents, ULong],
        libc::SYS_getcwd => &[OutBuf, ULong],
        libc::SYS_chdir | libc::SYS_rmdir | libc::SYS_unlink | libc::SYS_chroot => &[Path],
        libc::SYS_rename | libc::SYS_link | libc::SYS_symlink => &[Path, Path],
        libc::SYS_mkdir | libc::SYS_creat | libc::SYS_chmod => &[Path, Mode],
        libc::SYS_readlink => &[Path, OutBuf, ULong],
        libc::SYS_fchmod => &[Fd, Mode],
        libc::SYS_chown | libc::SYS_lchown => &[Path, Int, Int],
        libc::SYS_fchown => &[Fd, Int, Int],
        libc::SYS_umask => &[Mode],
        libc::SYS_gettimeofday => &[Out(S::Timeval), Ptr],
        libc::SYS_getrlimit => &[Enum(sets::RLIMIT), Out(S::Rlimit)],
        libc::SYS_setrlimit => &[Enum(sets::RLIMIT), In(S::Rlimit)],
        libc::SYS_getrusage => &[Enum(sets::RUSAGE), Ptr],
        libc::SYS_sysinfo | libc::SYS_times => &[Ptr],
        libc::SYS_getuid
        | libc::SYS_getgid
        | libc::SYS_geteuid
        | libc::SYS_getegid
        | libc::SYS_getpgrp
        | libc::SYS_setsid
        | libc::SYS_sync
        | libc::SYS_munlockall
        | libc::SYS_vhangup => &[],
        libc::SYS_setuid | libc::SYS_setgid | libc::SYS_setfsuid | libc::SYS_setfsgid => &[Int],
        libc::SYS_setpgid => &[Int, Int],
        libc::SYS_setreuid | libc::SYS_setregid => &[Int, Int],
        libc::SYS_getgroups | libc::SYS_setgroups => &[Int, Ptr],
        libc::SYS_setresuid | libc::SYS_setresgid => &[Int, Int, Int],
        libc::SYS_getresuid | libc::SYS_getresgid => &[Out(S::Int), Out(S::Int), Out(S::Int)],
        libc::SYS_getpgid | libc::SYS_getsid => &[Int],
        libc::SYS_capget | libc::SYS_capset => &[Ptr, Ptr],
        libc::SYS_rt_sigpending => &[SigSetOut, ULong],
        libc::SYS_rt_sigtimedwait => &[SigSetIn, Ptr, In(S::Timespec), ULong],
        libc::SYS_rt_sigqueueinfo => &[Int, Signal, Ptr],
        libc::SYS_rt_sigsuspend => &[SigSetIn, ULong],
        libc::SYS_sigaltstack => &[Ptr, Ptr],
        libc::SYS_utime | libc::SYS_utimes => &[Path, Ptr],
        libc::SYS_mknod => &[Path, Mode, Hex],
        libc::SYS_statfs => &[Path, Ptr],
        libc::SYS_fstatfs => &[Fd, Ptr],
        libc::SYS_getpriority => &[Enum(sets::PRIO_WHICH), Int],
        libc::SYS_setpriority => &[Enum(sets::PRIO_WHICH), Int, Int],
        libc::SYS_sched_setparam | libc::SYS_sched_getparam => &[Int, Ptr],
        libc::SYS_sched_setscheduler => &[Int, Enum(sets::SCHED_POLICY), Ptr],
        libc::SYS_sched_getscheduler => &[Int],
        libc::SYS_sched_get_priority_max | libc::SYS_sched_get_priority_min => {
            &[Enum(sets::SCHED_POLICY)]
        }
        libc::SYS_sched_rr_get_interval => &[Int, Out(S::Timespec)],
        libc::SYS_mlock | libc::SYS_munlock => &[Ptr, ULong],
        libc::SYS_mlockall => &[Flags(sets::MLOCKALL)],
        libc::SYS_prctl => &[Enum(sets::PRCTL), Hex, Hex, Hex, Hex],
        libc::SYS_arch_prctl => &[Enum(sets::ARCH_PRCTL), Ptr],
        libc::SYS_mount => &[Str, Path, Str, Flags(sets::MOUNT), Ptr],
        libc::SYS_umount2 => &[Path, Flags(sets::UMOUNT)],
        libc::SYS_sethostname | libc::SYS_setdomainname => &[InBuf(1), ULong],
        libc::SYS_readahead => &[Fd, Long, ULong],
        libc::SYS_setxattr | libc::SYS_lsetxattr => {
            &[Path, Str, InBuf(3), ULong, Flags(sets::XATTR)]
        }
        libc::SYS_fsetxattr => &[Fd, Str, InBuf(3), ULong, Flags(sets::XATTR)],
        libc::SYS_getxattr | libc::SYS_lgetxattr => &[Path, Str, OutBuf, ULong],
        libc::SYS_fgetxattr => &[Fd, Str, OutBuf, ULong],
        libc::SYS_listxattr | libc::SYS_llistxattr => &[Path, OutBuf, ULong],
        libc::SYS_flistxattr => &[Fd, OutBuf, ULong],
        libc::SYS_removexattr | libc::SYS_lremovexattr => &[Path, Str],
        libc::SYS_fremovexattr => &[Fd, Str],
        libc::SYS_time => &[Ptr],
        libc::SYS_futex => &[Ptr, FutexOp, Int, In(S::Timespec), Ptr, Int],
        libc::SYS_sched_setaffinity | libc::SYS_sched_getaffinity => &[Int, ULong, Ptr],
        libc::SYS_set_tid_address => &[Ptr],
        libc::SYS_fadvise64 => &[Fd, Long, Long, Int],
        libc::SYS_timer_create => &[Enum(sets::CLOCKS), Ptr, Ptr],
        libc::SYS_timer_settime => &[Int, Flags(sets::TIMER_FLAGS), In(S::Itimerspec), Ptr],
        libc::SYS_timer_gettime => &[Int, Out(S::Itimerspec)],
        libc::SYS_timer_getoverrun | libc::SYS_timer_delete => &[Int],
        libc::SYS_clock_settime => &[Enum(sets::CLOCKS), In(S::Timespec)],
        libc::SYS_clock_adjtime => &[Enum(sets::CLOCKS), Ptr],
        libc::SYS_adjtimex => &[Ptr],
        libc::SYS_restart_syscall => &[],
        libc::SYS_clock_gettime | libc::SYS_clock_getres => &[Enum(sets::CLOCKS), Out(S::Timespec)],
        libc::SYS_clock_nanosleep => &[
            Enum(sets::CLOCKS),
            Flags(sets::TIMER_FLAGS),
            In(S::Timespec),
            Out(S::Timespec),
        ],
        libc::SYS_epoll_create => &[Int],
        libc::SYS_epoll_wait => &[Fd, EpollEvents, Int, Int],
        libc::SYS_epoll_ctl => &[Fd, Enum(sets::EPOLL_CTL), Fd, In(S::EpollEvent)],
        libc::SYS_tgkill => &[Int, Int, Signal],
        libc::SYS_waitid => &[Enum(sets::IDTYPE), Int, Ptr, Flags(sets::WAIT), Ptr],
        libc::SYS_inotify_init => &[],
        libc::SYS_inotify_add_watch => &[Fd, Path, Hex],
        libc::SYS_inotify_rm_watch => &[Fd, Int],
        libc::SYS_openat => &[DirFd, Path, OpenFlags, OpenMode(2)],
        libc::SYS_mkdirat => &[DirFd, Path, Mode],
        libc::SYS_mknodat => &[DirFd, Path, Mode, Hex],
        libc::SYS_fchownat => &[DirFd, Path, Int, Int, AT],
        libc::SYS_futimesat => &[DirFd, Path, Ptr],
        libc::SYS_newfstatat => &[DirFd, Path, Out(S::Stat), AT],
        libc::SYS_unlinkat => &[DirFd, Path, AT],
        libc::SYS_renameat => &[DirFd, Path, DirFd, Path],
        libc::SYS_renameat2 => &[DirFd, Path, DirFd, Path, Flags(sets::RENAME)],
        libc::SYS_linkat => &[DirFd, Path, DirFd, Path, AT],
        libc::SYS_symlinkat => &[Path, DirFd, Path],
        libc::SYS_readlinkat => &[DirFd, Path, OutBuf, ULong],
        libc::SYS_fchmodat => &[DirFd, Path, Mode],
        libc::SYS_faccessat => &[DirFd, Path, FlagsOr(sets::ACCESS, "F_OK")],
        libc::SYS_faccessat2 => &[DirFd, Path, FlagsOr(sets::ACCESS, "F_OK"), AT],
        libc::SYS_ppoll => &[PollFds(1), ULong, In(S::Timespec), SigSetIn, ULong],
        libc::SYS_unshare => &[CloneFlags],
        libc::SYS_set_robust_list => &[Ptr, ULong],
        libc::SYS_get_robust_list => &[Int, Ptr, Ptr],
        libc::SYS_splice => &[Fd, Ptr, Fd, Ptr, ULong, Flags(sets::SPLICE)],
        libc::SYS_tee => &[Fd, Fd, ULong, Flags(sets::SPLICE)],
        libc::SYS_sync_file_range => &[Fd, Long, Long, Hex],
        libc::SYS_vmsplice => &[Fd, IovIn(2), ULong, Flags(sets::SPLICE)],
        libc::SYS_utimensat => &[DirFd, Path, Ptr, AT],
        libc::SYS_epoll_pwait => &[Fd, EpollEvents, Int, Int, SigSetIn, ULong],
        libc::SYS_signalfd => &[Fd, SigSetIn, ULong],
        libc::SYS_signalfd4 => &[Fd, SigSetIn, ULong, Flags(sets::SIGNALFD)],
        libc::SYS_timerfd_create => &[Enum(sets::CLOCKS), Flags(sets::TFD)],
        libc::SYS_eventfd => &[ULong],
        libc::SYS_eventfd2 => &[ULong, Flags(sets::EFD)],
        libc::SYS_fallocate => &[Fd, Hex, Long, Long],
        libc::SYS_timerfd_settime => &[
            Fd,
            Flags(sets::TFD_TIMER),
            In(S::Itimerspec),
            Out(S::Itimerspec),
        ],
        libc::SYS_timerfd_gettime => &[Fd, Out(S::Itimerspec)],
        libc::SYS_epoll_create1 => &[Flags(sets::EPOLL_CREATE)],
        libc::SYS_inotify_init1 => &[Flags(sets::IN_INIT)],
        libc::SYS_rt_tgsigqueueinfo => &[Int, Int, Signal, Ptr],
        libc::SYS_prlimit64 => &[Int, Enum(sets::RLIMIT), In(S::Rlimit), Out(S::Rlimit)],
        libc::SYS_name_to_handle_at => &[DirFd, Path, Ptr, Ptr, AT],
        libc::SYS_setns => &[Fd, CloneFlags],
        libc::SYS_getcpu => &[Out(S::Int), Out(S::Int), Ptr],
        libc::SYS_process_vm_readv | libc::SYS_process_vm_writev => {
            &[Int, Ptr, ULong, Ptr, ULong, Hex]
        }
        libc::SYS_sched_setattr => &[Int, Ptr, Hex],
        libc::SYS_sched_getattr => &[Int, Ptr, ULong, Hex],
        libc::SYS_seccomp => &[Enum(sets::SECCOMP_OPS), Hex, Ptr],
        libc::SYS_getrandom => &[OutBuf, ULong, Flags(sets::GRND)],
        libc::SYS_memfd_create => &[Str, Flags(sets::MFD)],
        libc::SYS_execveat => &[DirFd, Path, Argv, Envp, AT],
        libc::SYS_membarrier => &[Enum(sets::MEMBARRIER), Hex, Int],
        libc::SYS_mlock2 => &[Ptr, ULong, Hex],
        libc::SYS_copy_file_range => &[Fd, Ptr, Fd, Ptr, ULong, Hex],
        libc::SYS_statx => &[DirFd, Path, AT, Flags(sets::STATX_MASK), Out(S::Statx)],
        libc::SYS_rseq => &[Ptr, ULong, Hex, Hex],
        libc::SYS_pidfd_open => &[Int, Hex],
        libc::SYS_pidfd_send_signal => &[Fd, Signal, Ptr, Hex],
        libc::SYS_pidfd_getfd => &[Fd, Fd, Hex],
        libc::SYS_clone3 => &[Ptr, ULong],
        libc::SYS_close_range => &[Fd, Fd, Hex],
        libc::SYS_openat2 => &[DirFd, Path, Ptr, ULong],
        libc::SYS_epoll_pwait2 => &[Fd, EpollEvents, Int, In(S::Timespec), SigSetIn, ULong],
        _ => return None,
    })
}

/// Calls whose result is an address, printed in hex.
pub fn returns_address(nr: i64) -> bool {
    matches!(
        nr,
        libc::SYS_mmap | libc::SYS_brk | libc::SYS_mremap | libc::SYS_shmat
    )
}
