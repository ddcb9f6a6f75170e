//! One argument, or the result, of one call, by its kind in the signature.

use crate::errno::SysResult;
use crate::kernel::task::{SyscallArgs, Task};

use super::net_sets;
use super::sets;
use super::signatures::{self, Arg, Struct};
use super::structs;
use super::text::{self, hex, ptr, quote, signal, OMIT, PATH_MAX};

/// A file mode as strace prints it: `0644`, `000`.
fn mode(v: u64) -> String {
    format!("0{:02o}", v as u32)
}

/// What formatting one call's arguments needs: the task (to read its
/// memory), the registers, the result once there is one, and the most
/// bytes of a buffer to show.
pub struct Formatter<'a> {
    t: &'a Task,
    args: &'a SyscallArgs,
    ret: Option<&'a SysResult>,
    max: usize,
}

impl<'a> Formatter<'a> {
    pub fn new(t: &'a Task, args: &'a SyscallArgs, ret: Option<&'a SysResult>) -> Self {
        Formatter {
            t,
            args,
            ret,
            max: t.kernel.config.strace_log_size,
        }
    }

    /// The call's return value when it succeeded.
    fn ok(&self) -> Option<u64> {
        self.ret.and_then(|r| r.ok())
    }

    pub fn arg(&self, i: usize, kind: Arg) -> String {
        let v = self.args.ulong(i);
        let t = self.t;
        // What the call writes is only there if it succeeded.
        if kind.at_exit() && self.ok().is_none() && !matches!(kind, Arg::FcntlThird | Arg::Clone) {
            return match kind {
                Arg::IoctlThird if self.ioctl_takes_no_arg() => OMIT.into(),
                _ => ptr(v),
            };
        }
        match kind {
            Arg::Int | Arg::Fd => (v as i32).to_string(),
            Arg::Long => (v as i64).to_string(),
            Arg::ULong => v.to_string(),
            Arg::Hex => hex(v),
            Arg::Ptr => ptr(v),
            Arg::DirFd if v as i32 == libc::AT_FDCWD => "AT_FDCWD".into(),
            Arg::DirFd => (v as i32).to_string(),
            Arg::Path => self.cstring(v, PATH_MAX),
            Arg::Str => self.cstring(v, self.max),
            Arg::Mode => mode(v),
            Arg::OpenMode(n) => {
                let flags = self.args.ulong(n) as i32;
                if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
                    mode(v)
                } else {
                    OMIT.into()
                }
            }
            Arg::InBuf(n) => self.buffer(v, self.args.ulong(n)),
            Arg::OutBuf => self.buffer(v, self.ok().unwrap_or(0)),
            Arg::Dirents => format!("{v:#x} /* {} entries */", self.dirents(v)),
            Arg::IovIn(n) => structs::iovecs(t, v, self.args.ulong(n), None, self.max),
            Arg::IovOut(n) => structs::iovecs(t, v, self.args.ulong(n), self.ok(), self.max),
            Arg::Flags(set) => text::flags(v & u64::from(u32::MAX), set, "0"),
            Arg::FlagsOr(set, zero) => text::flags(v & u64::from(u32::MAX), set, zero),
            Arg::Enum(set) => text::enum_or_int(v, set),
            Arg::OpenFlags => sets::open_flags(v),
            Arg::MmapFlags => sets::mmap_flags(v),
            Arg::SockType => net_sets::socket_type(v),
            Arg::SockProto => self.socket_protocol(v),
            Arg::CloneFlags => sets::clone_flags(v),
            Arg::FutexOp => sets::futex_op(v),
            Arg::Signal => signal(v),
            Arg::SigSetIn | Arg::SigSetOut => structs::sigset(t, v),
            Arg::In(s) | Arg::Out(s) => self.structure(s, v),
            Arg::SockaddrIn(n) => structs::sockaddr(t, v, self.args.ulong(n)),
            Arg::SockaddrOut(n) => structs::sockaddr_out(t, v, self.args.ulong(n)),
            Arg::SockLevel => text::enum_or_int(v, net_sets::SOL),
            Arg::SockOpt => net_sets::sockopt(self.args.ulong(1), v),
            Arg::PollFds(n) => structs::pollfd_in(t, v, self.args.ulong(n)),
            Arg::EpollEvents => structs::epoll_events(t, v, self.ok().unwrap_or(0)),
            Arg::Argv => self.argv(v),
            Arg::Envp => match t.read_string_array(v) {
                Ok(env) => format!("{} /* {} vars */", ptr(v), env.len()),
                Err(_) => ptr(v),
            },
            Arg::FcntlThird => self.fcntl_arg(v),
            Arg::IoctlReq => text::enum_or_hex(v, sets::IOCTL),
            Arg::IoctlThird => self.ioctl_arg(v),
            Arg::Clone => self.clone_args(),
        }
    }

    fn cstring(&self, addr: u64, max: usize) -> String {
        if addr == 0 {
            return ptr(addr);
        }
        match self.t.read_cstring(addr, max.saturating_add(1)) {
            Ok(s) => quote(&s, max),
            Err(_) => ptr(addr),
        }
    }

    fn buffer(&self, addr: u64, len: u64) -> String {
        let shown = (len as usize).min(self.max);
        match self.t.read_bytes(addr, shown) {
            Ok(b) => quote(&b, self.max) + if len as usize > shown { "..." } else { "" },
            Err(_) => ptr(addr),
        }
    }

    /// How many records getdents wrote: each starts with d_ino and d_off
    /// (8 bytes each), then its 2-byte length, in both getdents formats.
    fn dirents(&self, addr: u64) -> usize {
        const RECLEN_AT: u64 = 16;
        let total = self.ok().unwrap_or(0);
        let (mut off, mut n) = (0u64, 0usize);
        while off + RECLEN_AT + 2 <= total {
            match self.t.copy_in::<u16>(addr + off + RECLEN_AT) {
                Ok(0) | Err(_) => break,
                Ok(len) => off += u64::from(len),
            }
            n += 1;
        }
        n
    }

    fn argv(&self, addr: u64) -> String {
        match self.t.read_string_array(addr) {
            Ok(a) => {
                let items: Vec<String> = a.iter().map(|s| quote(s, self.max)).collect();
                format!("[{}]", items.join(", "))
            }
            Err(_) => ptr(addr),
        }
    }

    fn socket_protocol(&self, v: u64) -> String {
        match self.args.ulong(0) as i32 {
            libc::AF_INET | libc::AF_INET6 => text::enum_or_int(v, net_sets::IPPROTO),
            libc::AF_NETLINK => text::enum_or_int(v, net_sets::NETLINK),
            _ => (v as i32).to_string(),
        }
    }

    fn structure(&self, s: Struct, v: u64) -> String {
        let t = self.t;
        match s {
            Struct::Stat => structs::stat(t, v),
            Struct::Statx => structs::statx(t, v),
            Struct::Timespec => structs::timespec(t, v),
            Struct::Timeval => structs::timeval(t, v),
            Struct::Itimerspec => structs::itimerspec(t, v),
            Struct::Rlimit => structs::rlimit(t, v),
            Struct::Utsname => structs::utsname(t, v),
            Struct::Sigaction => structs::sigaction(t, v),
            Struct::Int => structs::int(t, v),
            Struct::IntPair => structs::int_pair(t, v),
            Struct::WaitStatus => structs::wait_status(t, v),
            Struct::EpollEvent => structs::epoll_event(t, v),
        }
    }

    fn fcntl_arg(&self, v: u64) -> String {
        let t = self.t;
        match self.args.ulong(1) as i32 {
            libc::F_GETFD
            | libc::F_GETFL
            | libc::F_GETOWN
            | sets::F_GETSIG
            | libc::F_GETLEASE
            | libc::F_GETPIPE_SZ
            | libc::F_GET_SEALS => OMIT.into(),
            libc::F_SETFD => text::flags(v, sets::FD_FLAGS, "0"),
            libc::F_SETFL => sets::open_flags(v),
            sets::F_SETSIG => signal(v),
            libc::F_SETLEASE => text::enum_or_int(v, sets::LOCK_TYPES),
            libc::F_ADD_SEALS => text::flags(v, sets::SEALS, "0"),
            libc::F_SETLK
            | libc::F_SETLKW
            | libc::F_GETLK
            | libc::F_OFD_SETLK
            | libc::F_OFD_SETLKW
            | libc::F_OFD_GETLK => structs::flock(t, v),
            sets::F_SETOWN_EX | sets::F_GETOWN_EX => ptr(v),
            _ => (v as i32).to_string(),
        }
    }

    fn ioctl_takes_no_arg(&self) -> bool {
        matches!(
            self.args.ulong(1),
            libc::FIOCLEX | libc::FIONCLEX | libc::TIOCNOTTY | libc::TIOCEXCL | libc::TIOCNXCL
        )
    }

    fn ioctl_arg(&self, v: u64) -> String {
        if self.ioctl_takes_no_arg() {
            return OMIT.into();
        }
        let t = self.t;
        match self.args.ulong(1) {
            libc::FIONREAD
            | libc::TIOCOUTQ
            | libc::TIOCGPGRP
            | libc::TIOCSPGRP
            | libc::TIOCGPTN
            | libc::TIOCSPTLCK
            | libc::TIOCGETD
            | libc::TIOCSETD
            | libc::TIOCGSID
            | libc::FIONBIO
            | libc::FIOASYNC => structs::int(t, v),
            libc::TIOCGWINSZ | libc::TIOCSWINSZ => structs::winsize(t, v),
            libc::TCGETS | libc::TCSETS | libc::TCSETSW | libc::TCSETSF => structs::termios(t, v),
            libc::TIOCSCTTY | libc::TCSBRK | libc::TCXONC | libc::TCFLSH => (v as i32).to_string(),
            _ => ptr(v),
        }
    }

    /// clone(2) with strace's names; x86-64's order is flags, stack,
    /// parent_tid, child_tid, tls.
    fn clone_args(&self) -> String {
        let a = |i| self.args.ulong(i);
        let (flags, stack, parent_tid, child_tid, tls) = (a(0), a(1), a(2), a(3), a(4));
        let f = |bit: i32| flags & bit as u64 != 0;
        let mut parts = vec![
            format!("child_stack={}", ptr(stack)),
            format!("flags={}", sets::clone_flags(flags)),
        ];
        if f(libc::CLONE_PARENT_SETTID) {
            let written = self.ok().map(|_| structs::int(self.t, parent_tid));
            parts.push(format!(
                "parent_tid={}",
                written.unwrap_or_else(|| ptr(parent_tid))
            ));
        }
        if f(libc::CLONE_SETTLS) {
            parts.push(format!("tls={}", ptr(tls)));
        }
        if f(libc::CLONE_CHILD_SETTID) || f(libc::CLONE_CHILD_CLEARTID) {
            parts.push(format!("child_tidptr={}", ptr(child_tid)));
        }
        parts.join(", ")
    }

    /// A successful call's result: addresses in hex, fcntl's flags and
    /// poll's ready descriptors decoded after the number, as strace does.
    pub fn result(&self, nr: i64, v: u64) -> String {
        if signatures::returns_address(nr) {
            return format!("{v:#x}");
        }
        let n = (v as i64).to_string();
        match nr {
            libc::SYS_fcntl => match self.args.ulong(1) as i32 {
                libc::F_GETFD => format!("{v:#x} (flags {})", text::flags(v, sets::FD_FLAGS, "0")),
                libc::F_GETFL => format!("{v:#x} (flags {})", sets::open_flags(v)),
                libc::F_GET_SEALS => format!("{v:#x} (seals {})", text::flags(v, sets::SEALS, "0")),
                _ => n,
            },
            libc::SYS_poll | libc::SYS_ppoll if v > 0 => {
                let ready = structs::pollfd_out(self.t, self.args.ulong(0), self.args.ulong(1));
                format!("{n} ({ready})")
            }
            libc::SYS_poll | libc::SYS_ppoll => format!("{n} (Timeout)"),
            _ => n,
        }
    }
}
