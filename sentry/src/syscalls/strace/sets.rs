//! Named constants, as strace(1) prints them: flag sets (bits joined by
//! `|`) and enums (one name per value). The values are libc's; the names
//! are the constants' own.

use super::text::{enum_and_flags, enum_or_hex, flags, signal, Set};

pub fn open_flags(v: u64) -> String {
    enum_and_flags(v, libc::O_ACCMODE as u64, ACCMODE, OPEN)
}

pub fn mmap_flags(v: u64) -> String {
    enum_and_flags(v, MAP_TYPE, MAP_KINDS, MAP)
}

/// The low byte of clone's flags is the exit signal.
pub fn clone_flags(v: u64) -> String {
    let sig = v & CSIGNAL;
    let f = flags(v & !CSIGNAL, CLONE, "");
    match (f.is_empty(), sig) {
        (_, 0) if !f.is_empty() => f,
        (true, 0) => "0".into(),
        (true, s) => signal(s),
        (false, s) => format!("{f}|{}", signal(s)),
    }
}

const MAP_TYPE: u64 = 0x0f;
const CSIGNAL: u64 = 0xff;

pub const ACCMODE: &Set = set!(O_RDONLY, O_WRONLY, O_RDWR);
pub const OPEN: &Set = set!(
    O_CREAT,
    O_EXCL,
    O_NOCTTY,
    O_TRUNC,
    O_APPEND,
    O_NONBLOCK,
    O_DSYNC,
    O_ASYNC,
    O_DIRECT,
    O_LARGEFILE,
    O_DIRECTORY,
    O_NOFOLLOW,
    O_NOATIME,
    O_CLOEXEC,
    O_PATH,
    O_TMPFILE,
    O_SYNC,
);
pub const AT: &Set = set!(
    AT_SYMLINK_NOFOLLOW,
    AT_REMOVEDIR,
    AT_SYMLINK_FOLLOW,
    AT_NO_AUTOMOUNT,
    AT_EMPTY_PATH,
    AT_STATX_FORCE_SYNC,
    AT_STATX_DONT_SYNC,
    AT_RECURSIVE,
);
pub const ACCESS: &Set = set!(R_OK, W_OK, X_OK);
pub const PROT: &Set = set!(
    PROT_READ,
    PROT_WRITE,
    PROT_EXEC,
    PROT_GROWSDOWN,
    PROT_GROWSUP
);
pub const MAP_KINDS: &Set = set!(MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE);
pub const MAP: &Set = set!(
    MAP_FIXED,
    MAP_ANONYMOUS,
    MAP_32BIT,
    MAP_GROWSDOWN,
    MAP_DENYWRITE,
    MAP_EXECUTABLE,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_NONBLOCK,
    MAP_STACK,
    MAP_HUGETLB,
    MAP_SYNC,
    MAP_FIXED_NOREPLACE,
);
pub const MREMAP: &Set = set!(MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP);
pub const MSYNC: &Set = set!(MS_ASYNC, MS_INVALIDATE, MS_SYNC);
pub const MADVISE: &Set = set!(
    MADV_NORMAL,
    MADV_RANDOM,
    MADV_SEQUENTIAL,
    MADV_WILLNEED,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_REMOVE,
    MADV_DONTFORK,
    MADV_DOFORK,
    MADV_MERGEABLE,
    MADV_UNMERGEABLE,
    MADV_HUGEPAGE,
    MADV_NOHUGEPAGE,
    MADV_DONTDUMP,
    MADV_DODUMP,
    MADV_WIPEONFORK,
    MADV_KEEPONFORK,
    MADV_COLD,
    MADV_PAGEOUT,
    MADV_HWPOISON,
);
pub const CLONE: &Set = set!(
    CLONE_VM,
    CLONE_FS,
    CLONE_FILES,
    CLONE_SIGHAND,
    CLONE_PIDFD,
    CLONE_PTRACE,
    CLONE_VFORK,
    CLONE_PARENT,
    CLONE_THREAD,
    CLONE_NEWNS,
    CLONE_SYSVSEM,
    CLONE_SETTLS,
    CLONE_PARENT_SETTID,
    CLONE_CHILD_CLEARTID,
    CLONE_DETACHED,
    CLONE_UNTRACED,
    CLONE_CHILD_SETTID,
    CLONE_NEWCGROUP,
    CLONE_NEWUTS,
    CLONE_NEWIPC,
    CLONE_NEWUSER,
    CLONE_NEWPID,
    CLONE_NEWNET,
    CLONE_IO,
);
pub const SIGPROCMASK_HOW: &Set = set!(SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK);
/// Missing from libc: the kernel's uapi values.
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const F_SETSIG: i32 = 10;
pub const F_GETSIG: i32 = 11;
pub const F_SETOWN_EX: i32 = 15;
pub const F_GETOWN_EX: i32 = 16;

pub const SA_FLAGS: &Set = set!(
    SA_NOCLDSTOP,
    SA_NOCLDWAIT,
    SA_SIGINFO,
    SA_ONSTACK,
    SA_RESTART,
    SA_NODEFER,
    SA_RESETHAND,
);
pub const FCNTL: &Set = set!(
    F_DUPFD,
    F_GETFD,
    F_SETFD,
    F_GETFL,
    F_SETFL,
    F_GETLK,
    F_SETLK,
    F_SETLKW,
    F_SETOWN,
    F_GETOWN,
    F_OFD_GETLK,
    F_OFD_SETLK,
    F_OFD_SETLKW,
    F_SETLEASE,
    F_GETLEASE,
    F_NOTIFY,
    F_DUPFD_CLOEXEC,
    F_SETPIPE_SZ,
    F_GETPIPE_SZ,
    F_ADD_SEALS,
    F_GET_SEALS;
    F_SETSIG,
    F_GETSIG,
    F_SETOWN_EX,
    F_GETOWN_EX,
);
pub const FD_FLAGS: &Set = set!(FD_CLOEXEC);
pub const SEALS: &Set = set!(
    F_SEAL_SEAL,
    F_SEAL_SHRINK,
    F_SEAL_GROW,
    F_SEAL_WRITE,
    F_SEAL_FUTURE_WRITE
);
pub const LOCK_TYPES: &Set = set!(F_RDLCK, F_WRLCK, F_UNLCK);
pub const FLOCK: &Set = set!(LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN);
pub const IOCTL: &Set = set!(
    TCGETS,
    TCSETS,
    TCSETSW,
    TCSETSF,
    TCGETA,
    TCSETA,
    TCSETAW,
    TCSETAF,
    TCSBRK,
    TCXONC,
    TCFLSH,
    TIOCEXCL,
    TIOCNXCL,
    TIOCSCTTY,
    TIOCGPGRP,
    TIOCSPGRP,
    TIOCOUTQ,
    TIOCSTI,
    TIOCGWINSZ,
    TIOCSWINSZ,
    TIOCMGET,
    TIOCMSET,
    FIONREAD,
    TIOCLINUX,
    TIOCCONS,
    FIONBIO,
    TIOCNOTTY,
    TIOCSETD,
    TIOCGETD,
    TIOCSBRK,
    TIOCCBRK,
    TIOCGSID,
    TIOCGPTN,
    TIOCSPTLCK,
    TIOCGPTPEER,
    FIONCLEX,
    FIOCLEX,
    FIOASYNC,
    SIOCGIFNAME,
    SIOCGIFCONF,
    SIOCGIFFLAGS,
    SIOCSIFFLAGS,
    SIOCGIFADDR,
    SIOCSIFADDR,
    SIOCGIFDSTADDR,
    SIOCGIFBRDADDR,
    SIOCGIFNETMASK,
    SIOCGIFMETRIC,
    SIOCGIFMTU,
    SIOCSIFMTU,
    SIOCGIFHWADDR,
    SIOCGIFINDEX,
    SIOCGIFTXQLEN,
    SIOCGIFMAP,
    SIOCETHTOOL,
);
pub const FUTEX_OPS: &Set = set!(
    FUTEX_WAIT,
    FUTEX_WAKE,
    FUTEX_FD,
    FUTEX_REQUEUE,
    FUTEX_CMP_REQUEUE,
    FUTEX_WAKE_OP,
    FUTEX_LOCK_PI,
    FUTEX_UNLOCK_PI,
    FUTEX_TRYLOCK_PI,
    FUTEX_WAIT_BITSET,
    FUTEX_WAKE_BITSET,
    FUTEX_WAIT_REQUEUE_PI,
    FUTEX_CMP_REQUEUE_PI,
    FUTEX_LOCK_PI2,
);

/// futex's op: the command, `_PRIVATE`, then `|FUTEX_CLOCK_REALTIME`.
pub fn futex_op(v: u64) -> String {
    let cmd = v & libc::FUTEX_CMD_MASK as u64;
    let mut s = enum_or_hex(cmd, FUTEX_OPS);
    if v & libc::FUTEX_PRIVATE_FLAG as u64 != 0 {
        s.push_str("_PRIVATE");
    }
    if v & libc::FUTEX_CLOCK_REALTIME as u64 != 0 {
        s.push_str("|FUTEX_CLOCK_REALTIME");
    }
    s
}

pub const PRCTL: &Set = set!(
    PR_SET_PDEATHSIG,
    PR_GET_PDEATHSIG,
    PR_GET_DUMPABLE,
    PR_SET_DUMPABLE,
    PR_GET_KEEPCAPS,
    PR_SET_KEEPCAPS,
    PR_GET_TIMING,
    PR_SET_TIMING,
    PR_SET_NAME,
    PR_GET_NAME,
    PR_GET_SECCOMP,
    PR_SET_SECCOMP,
    PR_CAPBSET_READ,
    PR_CAPBSET_DROP,
    PR_GET_TSC,
    PR_SET_TSC,
    PR_GET_SECUREBITS,
    PR_SET_SECUREBITS,
    PR_SET_TIMERSLACK,
    PR_GET_TIMERSLACK,
    PR_MCE_KILL,
    PR_MCE_KILL_GET,
    PR_SET_MM,
    PR_SET_PTRACER,
    PR_SET_CHILD_SUBREAPER,
    PR_GET_CHILD_SUBREAPER,
    PR_SET_NO_NEW_PRIVS,
    PR_GET_NO_NEW_PRIVS,
    PR_GET_TID_ADDRESS,
    PR_SET_THP_DISABLE,
    PR_GET_THP_DISABLE,
    PR_SET_FP_MODE,
    PR_GET_FP_MODE,
    PR_CAP_AMBIENT,
    PR_SET_VMA,
);
pub const ARCH_PRCTL: &[(u64, &str)] = &[
    (0x1001, "ARCH_SET_GS"),
    (0x1002, "ARCH_SET_FS"),
    (0x1003, "ARCH_GET_FS"),
    (0x1004, "ARCH_GET_GS"),
    (0x1011, "ARCH_GET_CPUID"),
    (0x1012, "ARCH_SET_CPUID"),
];
pub const RLIMIT: &Set = set!(
    RLIMIT_CPU,
    RLIMIT_FSIZE,
    RLIMIT_DATA,
    RLIMIT_STACK,
    RLIMIT_CORE,
    RLIMIT_RSS,
    RLIMIT_NPROC,
    RLIMIT_NOFILE,
    RLIMIT_MEMLOCK,
    RLIMIT_AS,
    RLIMIT_LOCKS,
    RLIMIT_SIGPENDING,
    RLIMIT_MSGQUEUE,
    RLIMIT_NICE,
    RLIMIT_RTPRIO,
    RLIMIT_RTTIME,
);
pub const CLOCKS: &Set = set!(
    CLOCK_REALTIME,
    CLOCK_MONOTONIC,
    CLOCK_PROCESS_CPUTIME_ID,
    CLOCK_THREAD_CPUTIME_ID,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME_COARSE,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_BOOTTIME,
    CLOCK_REALTIME_ALARM,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_TAI,
);
pub const TIMER_FLAGS: &Set = set!(TIMER_ABSTIME);
pub const WHENCE: &Set = set!(SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE);
pub const WAIT: &Set = set!(
    WNOHANG,
    WUNTRACED,
    WEXITED,
    WCONTINUED,
    WNOWAIT,
    __WNOTHREAD,
    __WALL,
    __WCLONE,
);
pub const IDTYPE: &Set = set!(P_ALL, P_PID, P_PGID, P_PIDFD);
pub const POLL: &Set = set!(
    POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL, POLLRDNORM, POLLRDBAND, POLLWRNORM,
    POLLWRBAND, POLLRDHUP,
);
pub const EPOLL_CTL: &Set = set!(EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD);
pub const EPOLL_EVENTS: &Set = set!(
    EPOLLIN,
    EPOLLPRI,
    EPOLLOUT,
    EPOLLERR,
    EPOLLHUP,
    EPOLLRDNORM,
    EPOLLRDBAND,
    EPOLLWRNORM,
    EPOLLWRBAND,
    EPOLLMSG,
    EPOLLRDHUP,
    EPOLLEXCLUSIVE,
    EPOLLWAKEUP,
    EPOLLONESHOT,
    EPOLLET,
);
pub const EPOLL_CREATE: &Set = set!(EPOLL_CLOEXEC);
pub const EFD: &Set = set!(EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC);
pub const TFD: &Set = set!(TFD_NONBLOCK, TFD_CLOEXEC);
pub const TFD_TIMER: &Set = set!(TFD_TIMER_ABSTIME);
pub const MFD: &Set = set!(MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_HUGETLB);
pub const PIPE: &Set = set!(O_NONBLOCK, O_DIRECT, O_CLOEXEC);
pub const RENAME: &Set = set!(RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT);
pub const XATTR: &Set = set!(XATTR_CREATE, XATTR_REPLACE);
pub const GRND: &Set = set!(GRND_NONBLOCK, GRND_RANDOM);
pub const ITIMER: &Set = set!(ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF);
pub const RUSAGE: &Set = set!(RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD);
pub const MLOCKALL: &Set = set!(MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT);
pub const SCHED_POLICY: &Set = set!(
    SCHED_OTHER,
    SCHED_FIFO,
    SCHED_RR,
    SCHED_BATCH,
    SCHED_IDLE,
    SCHED_DEADLINE,
);
pub const PRIO_WHICH: &Set = set!(PRIO_PROCESS, PRIO_PGRP, PRIO_USER);
pub const UMOUNT: &Set = set!(MNT_FORCE, MNT_DETACH, MNT_EXPIRE, UMOUNT_NOFOLLOW);
pub const MOUNT: &Set = set!(
    MS_RDONLY,
    MS_NOSUID,
    MS_NODEV,
    MS_NOEXEC,
    MS_SYNCHRONOUS,
    MS_REMOUNT,
    MS_MANDLOCK,
    MS_DIRSYNC,
    MS_NOATIME,
    MS_NODIRATIME,
    MS_BIND,
    MS_MOVE,
    MS_REC,
    MS_SILENT,
    MS_POSIXACL,
    MS_UNBINDABLE,
    MS_PRIVATE,
    MS_SLAVE,
    MS_SHARED,
    MS_RELATIME,
    MS_KERNMOUNT,
    MS_I_VERSION,
    MS_STRICTATIME,
    MS_LAZYTIME,
);
pub const SPLICE: &Set = set!(
    SPLICE_F_MOVE,
    SPLICE_F_NONBLOCK,
    SPLICE_F_MORE,
    SPLICE_F_GIFT
);
pub const IN_INIT: &Set = set!(IN_NONBLOCK, IN_CLOEXEC);
pub const STATX_MASK: &Set = set!(
    STATX_TYPE,
    STATX_MODE,
    STATX_NLINK,
    STATX_UID,
    STATX_GID,
    STATX_ATIME,
    STATX_MTIME,
    STATX_CTIME,
    STATX_INO,
    STATX_SIZE,
    STATX_BLOCKS,
    STATX_BTIME,
    STATX_MNT_ID,
    STATX_DIOALIGN,
);
pub const MEMBARRIER: &Set = set!(
    MEMBARRIER_CMD_QUERY,
    MEMBARRIER_CMD_GLOBAL,
    MEMBARRIER_CMD_GLOBAL_EXPEDITED,
    MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
    MEMBARRIER_CMD_PRIVATE_EXPEDITED,
    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
);
pub const SIGNALFD: &Set = set!(SFD_NONBLOCK, SFD_CLOEXEC);
pub const SECCOMP_OPS: &Set = set!(
    SECCOMP_SET_MODE_STRICT,
    SECCOMP_SET_MODE_FILTER,
    SECCOMP_GET_ACTION_AVAIL,
    SECCOMP_GET_NOTIF_SIZES,
);
pub const SHM_CTL: &Set = set!(IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO, SHM_LOCK, SHM_UNLOCK);
pub const IPC: &Set = set!(IPC_CREAT, IPC_EXCL, SHM_RDONLY, SHM_RND, SHM_REMAP, SHM_EXEC);

/// sigaction's flags; SA_RESTORER (which libc leaves out) in its place.
pub fn sa_flags(v: u64) -> String {
    let restorer = v & SA_RESTORER != 0;
    let rest = flags(v & !SA_RESTORER, SA_FLAGS, "0");
    match (restorer, rest.as_str()) {
        (false, _) => rest,
        (true, "0") => "SA_RESTORER".into(),
        (true, _) => format!("SA_RESTORER|{rest}"),
    }
}
