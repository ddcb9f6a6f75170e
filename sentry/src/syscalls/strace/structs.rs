//! Structures in application memory, printed as strace(1) abbreviates
//! them: `{st_mode=S_IFREG|0644, st_size=123, ...}`. Each reads through the
//! task's MM; a pointer that cannot be read prints as the address, as
//! strace does.

use crate::kernel::task::Task;
use crate::usermem::Pod;

use super::sets;
use super::text::{enum_or_int, flags, hex, ptr, quote, signal, sigset_value};

/// Reads a `T` at `addr` and formats it, or prints the pointer.
fn with<T: Pod>(t: &Task, addr: u64, f: impl FnOnce(&T) -> String) -> String {
    if addr == 0 {
        return ptr(addr);
    }
    match t.copy_in::<T>(addr) {
        Ok(v) => f(&v),
        Err(_) => ptr(addr),
    }
}

pub fn sigset(t: &Task, addr: u64) -> String {
    with::<u64>(t, addr, |m| sigset_value(*m))
}

pub fn mode(m: u32) -> String {
    let kind = match m & libc::S_IFMT {
        libc::S_IFREG => "S_IFREG",
        libc::S_IFDIR => "S_IFDIR",
        libc::S_IFCHR => "S_IFCHR",
        libc::S_IFBLK => "S_IFBLK",
        libc::S_IFIFO => "S_IFIFO",
        libc::S_IFLNK => "S_IFLNK",
        libc::S_IFSOCK => "S_IFSOCK",
        _ => return format!("{m:#o}"),
    };
    let mut s = kind.to_string();
    for (bit, name) in [
        (libc::S_ISUID, "S_ISUID"),
        (libc::S_ISGID, "S_ISGID"),
        (libc::S_ISVTX, "S_ISVTX"),
    ] {
        if m & bit != 0 {
            s.push('|');
            s.push_str(name);
        }
    }
    format!("{s}|{:04o}", m & 0o777)
}

/// `makedev(0x88, 0)`, as strace shows st_rdev.
fn makedev(dev: u64) -> String {
    let hex = |v: u32| hex(u64::from(v));
    format!(
        "makedev({}, {})",
        hex(libc::major(dev)),
        hex(libc::minor(dev))
    )
}

fn is_device(m: u32) -> bool {
    matches!(m & libc::S_IFMT, libc::S_IFCHR | libc::S_IFBLK)
}

pub fn stat(t: &Task, addr: u64) -> String {
    with::<libc::stat>(t, addr, |st| {
        let size = if is_device(st.st_mode) {
            format!("st_rdev={}", makedev(st.st_rdev))
        } else {
            format!("st_size={}", st.st_size)
        };
        format!("{{st_mode={}, {size}, ...}}", mode(st.st_mode))
    })
}

pub fn statx(t: &Task, addr: u64) -> String {
    with::<libc::statx>(t, addr, |st| {
        let m = u32::from(st.stx_mode);
        let size = if is_device(m) {
            let dev = libc::makedev(st.stx_rdev_major, st.stx_rdev_minor);
            format!("stx_rdev={}", makedev(dev))
        } else {
            format!("stx_size={}", st.stx_size)
        };
        format!(
            "{{stx_mask={}, stx_attributes=0, stx_mode={}, {size}, ...}}",
            flags(u64::from(st.stx_mask), sets::STATX_MASK, "0"),
            mode(m)
        )
    })
}

pub fn timespec(t: &Task, addr: u64) -> String {
    with::<libc::timespec>(t, addr, |ts| {
        format!("{{tv_sec={}, tv_nsec={}}}", ts.tv_sec, ts.tv_nsec)
    })
}

pub fn timeval(t: &Task, addr: u64) -> String {
    with::<libc::timeval>(t, addr, |tv| {
        format!("{{tv_sec={}, tv_usec={}}}", tv.tv_sec, tv.tv_usec)
    })
}

pub fn itimerspec(t: &Task, addr: u64) -> String {
    with::<libc::itimerspec>(t, addr, |it| {
        let ts = |v: &libc::timespec| format!("{{tv_sec={}, tv_nsec={}}}", v.tv_sec, v.tv_nsec);
        format!(
            "{{it_interval={}, it_value={}}}",
            ts(&it.it_interval),
            ts(&it.it_value)
        )
    })
}

fn rlim(v: u64) -> String {
    if v == libc::RLIM64_INFINITY {
        "RLIM64_INFINITY".into()
    } else if v > 0 && v.is_multiple_of(1024) {
        format!("{}*1024", v / 1024)
    } else {
        v.to_string()
    }
}

pub fn rlimit(t: &Task, addr: u64) -> String {
    with::<libc::rlimit>(t, addr, |r| {
        format!(
            "{{rlim_cur={}, rlim_max={}}}",
            rlim(r.rlim_cur),
            rlim(r.rlim_max)
        )
    })
}

fn cstr(field: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    quote(&bytes, usize::MAX)
}

pub fn utsname(t: &Task, addr: u64) -> String {
    with::<libc::utsname>(t, addr, |u| {
        format!(
            "{{sysname={}, nodename={}, ...}}",
            cstr(&u.sysname),
            cstr(&u.nodename)
        )
    })
}

pub fn winsize(t: &Task, addr: u64) -> String {
    with::<libc::winsize>(t, addr, |w| {
        format!(
            "{{ws_row={}, ws_col={}, ws_xpixel={}, ws_ypixel={}}}",
            w.ws_row, w.ws_col, w.ws_xpixel, w.ws_ypixel
        )
    })
}

/// strace's short form: the speed and the four flags people look at.
pub fn termios(t: &Task, addr: u64) -> String {
    with::<libc::termios>(t, addr, |tio| {
        let speed = match tio.c_cflag & libc::CBAUD {
            libc::B9600 => "B9600",
            libc::B19200 => "B19200",
            libc::B38400 => "B38400",
            libc::B115200 => "B115200",
            _ => "B0",
        };
        let mut s = format!("{{{speed}");
        for (on, name) in [
            (tio.c_oflag & libc::OPOST != 0, "opost"),
            (tio.c_lflag & libc::ISIG != 0, "isig"),
            (tio.c_lflag & libc::ICANON != 0, "icanon"),
            (tio.c_lflag & libc::ECHO != 0, "echo"),
        ] {
            s.push(' ');
            s.push_str(if on { "" } else { "-" });
            s.push_str(name);
        }
        s + " ...}"
    })
}

/// An `int` behind a pointer: `[4]`.
pub fn int(t: &Task, addr: u64) -> String {
    with::<i32>(t, addr, |v| format!("[{v}]"))
}

pub fn int_pair(t: &Task, addr: u64) -> String {
    with::<[i32; 2]>(t, addr, |v| format!("[{}, {}]", v[0], v[1]))
}

/// wait4's status, as the W* macros would test it.
pub fn wait_status(t: &Task, addr: u64) -> String {
    with::<i32>(t, addr, |&s| {
        let inner = if libc::WIFEXITED(s) {
            format!("WIFEXITED(s) && WEXITSTATUS(s) == {}", libc::WEXITSTATUS(s))
        } else if libc::WIFSIGNALED(s) {
            let core = if libc::WCOREDUMP(s) {
                " && WCOREDUMP(s)"
            } else {
                ""
            };
            format!(
                "WIFSIGNALED(s) && WTERMSIG(s) == {}{core}",
                signal(libc::WTERMSIG(s) as u64)
            )
        } else if libc::WIFSTOPPED(s) {
            format!(
                "WIFSTOPPED(s) && WSTOPSIG(s) == {}",
                signal(libc::WSTOPSIG(s) as u64)
            )
        } else if libc::WIFCONTINUED(s) {
            "WIFCONTINUED(s)".into()
        } else {
            format!("{s:#x}")
        };
        format!("[{{{inner}}}]")
    })
}

/// The kernel's `struct sigaction` (handler, flags, restorer, mask).
pub fn sigaction(t: &Task, addr: u64) -> String {
    with::<[u64; 4]>(t, addr, |&[handler, flags, restorer, mask]| {
        let h = match handler {
            0 => "SIG_DFL".to_string(),
            1 => "SIG_IGN".to_string(),
            h => format!("{h:#x}"),
        };
        let mut s = format!(
            "{{sa_handler={h}, sa_mask={}, sa_flags={}",
            sigset_value(mask),
            sets::sa_flags(flags)
        );
        if flags & sets::SA_RESTORER != 0 {
            s.push_str(&format!(", sa_restorer={restorer:#x}"));
        }
        s + "}"
    })
}

pub fn flock(t: &Task, addr: u64) -> String {
    with::<libc::flock>(t, addr, |f| {
        format!(
            "{{l_type={}, l_whence={}, l_start={}, l_len={}}}",
            enum_or_int(f.l_type as u64, sets::LOCK_TYPES),
            enum_or_int(f.l_whence as u64, sets::WHENCE),
            f.l_start,
            f.l_len
        )
    })
}

pub fn epoll_event(t: &Task, addr: u64) -> String {
    with::<libc::epoll_event>(t, addr, epoll_event_value)
}

pub fn epoll_event_value(e: &libc::epoll_event) -> String {
    let (events, data) = (e.events, e.u64);
    format!(
        "{{events={}, data={{u32={}, u64={}}}}}",
        flags(u64::from(events), sets::EPOLL_EVENTS, "0"),
        data as u32,
        data
    )
}

/// epoll_wait's events, the first `n` (the return value).
pub fn epoll_events(t: &Task, addr: u64, n: u64) -> String {
    let items: Vec<String> = (0..n.min(16))
        .map(|i| {
            let size = std::mem::size_of::<libc::epoll_event>() as u64;
            with::<libc::epoll_event>(t, addr + i * size, epoll_event_value)
        })
        .collect();
    let more = if n > 16 { ", ..." } else { "" };
    format!("[{}{more}]", items.join(", "))
}

fn pollfds(t: &Task, addr: u64, n: u64) -> Option<Vec<libc::pollfd>> {
    let size = std::mem::size_of::<libc::pollfd>() as u64;
    (0..n.min(64))
        .map(|i| t.copy_in::<libc::pollfd>(addr + i * size).ok())
        .collect()
}

/// poll's array at entry: each descriptor and the events it asks for.
pub fn pollfd_in(t: &Task, addr: u64, n: u64) -> String {
    let Some(fds) = pollfds(t, addr, n) else {
        return ptr(addr);
    };
    let items: Vec<String> = fds
        .iter()
        .map(|p| {
            format!(
                "{{fd={}, events={}}}",
                p.fd,
                flags(p.events as u16 as u64, sets::POLL, "0")
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// poll's result: the descriptors with events, after the return value.
pub fn pollfd_out(t: &Task, addr: u64, n: u64) -> String {
    let Some(fds) = pollfds(t, addr, n) else {
        return String::new();
    };
    let items: Vec<String> = fds
        .iter()
        .filter(|p| p.revents != 0)
        .map(|p| {
            format!(
                "{{fd={}, revents={}}}",
                p.fd,
                flags(p.revents as u16 as u64, sets::POLL, "0")
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// `count` iovecs; their data up to `total` bytes, each cut at `max`.
pub fn iovecs(t: &Task, addr: u64, count: u64, total: Option<u64>, max: usize) -> String {
    let Ok(iovs) = t.read_iovecs(addr, count) else {
        return ptr(addr);
    };
    let mut left = total.unwrap_or(u64::MAX);
    let items: Vec<String> = iovs
        .iter()
        .map(|&(base, len)| {
            let n = (len as u64).min(left);
            left -= n;
            let data = match t.read_bytes(base, (n as usize).min(max)) {
                Ok(b) => quote(&b, max) + if n as usize > max { "..." } else { "" },
                Err(_) => ptr(base),
            };
            format!("{{iov_base={data}, iov_len={len}}}")
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// A socket address of `len` bytes.
pub fn sockaddr(t: &Task, addr: u64, len: u64) -> String {
    if addr == 0 {
        return ptr(addr);
    }
    let len = len.min(std::mem::size_of::<libc::sockaddr_storage>() as u64) as usize;
    let Ok(b) = t.read_bytes(addr, len) else {
        return ptr(addr);
    };
    if b.len() < 2 {
        return "{}".into();
    }
    let family = u16::from_ne_bytes([b[0], b[1]]);
    let fam = enum_or_int(u64::from(family), super::net_sets::FAMILIES);
    let body = &b[2..];
    let rest = match i32::from(family) {
        libc::AF_INET if body.len() >= 6 => format!(
            "sin_port=htons({}), sin_addr=inet_addr(\"{}\")",
            be16(body),
            std::net::Ipv4Addr::new(body[2], body[3], body[4], body[5])
        ),
        libc::AF_INET6 if body.len() >= 26 => {
            let a: [u8; 16] = body[6..22].try_into().unwrap_or([0; 16]);
            let flow = u32::from_be_bytes([body[2], body[3], body[4], body[5]]);
            let scope = u32::from_ne_bytes([body[22], body[23], body[24], body[25]]);
            format!(
                "sin6_port=htons({}), sin6_flowinfo=htonl({flow}), \
                 inet_pton(AF_INET6, \"{}\", &sin6_addr), sin6_scope_id={scope}",
                be16(body),
                std::net::Ipv6Addr::from(a)
            )
        }
        libc::AF_UNIX if body.first() == Some(&0) && body.len() > 1 => {
            format!("sun_path=@{}", quote(&body[1..], usize::MAX))
        }
        libc::AF_UNIX => {
            let path: Vec<u8> = body.iter().take_while(|&&c| c != 0).copied().collect();
            format!("sun_path={}", quote(&path, usize::MAX))
        }
        libc::AF_NETLINK if body.len() >= 10 => format!(
            "nl_pid={}, nl_groups={:08x}",
            u32::from_ne_bytes([body[2], body[3], body[4], body[5]]),
            u32::from_ne_bytes([body[6], body[7], body[8], body[9]])
        ),
        _ => format!("sa_data={}", quote(body, usize::MAX)),
    };
    format!("{{sa_family={fam}, {rest}}}")
}

/// An address whose length sits behind a pointer (accept, getsockname,
/// recvfrom): the address, then `[len]`.
pub fn sockaddr_out(t: &Task, addr: u64, lenp: u64) -> String {
    match t.copy_in::<u32>(lenp) {
        Ok(len) if lenp != 0 => sockaddr(t, addr, u64::from(len)),
        _ => ptr(addr),
    }
}
