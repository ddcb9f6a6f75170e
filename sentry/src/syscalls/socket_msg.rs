//! sendto, recvfrom, sendmsg, recvmsg, sendmmsg, recvmmsg: a message's
//! buffers, address and ancillary data copied in and out around the
//! socket's send and recv.

use super::socket::{read_addr, socket_file, write_addr};
use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::net::control::{self, Builder, Control, Parsed, MAX_CONTROL};
use crate::net::socket::{self, RecvMsg, SendMsg};
use crate::usermem::{IoSeq, UserAddr, UserPtr};
use crate::vfs::Caller;

/// Most messages one sendmmsg/recvmmsg moves (Linux's UIO_MAXIOV).
const MAX_MMSG: u32 = 1024;
/// Most iovecs a message has.
const MAX_IOV: u64 = 1024;

/// `struct msghdr` field offsets on x86-64, for writing back only what
/// the kernel writes back.
const NAMELEN_OFF: u64 = 8;
const CONTROLLEN_OFF: u64 = 40;
const FLAGS_OFF: u64 = 48;
/// `struct mmsghdr`: the msghdr, then `msg_len`.
const MMSG_SIZE: u64 = 64;

/// TCP urgent data is carried by the sandbox's stack beside the bytes
/// (smoltcp has no urgent pointer): see netstack/src/urgent.rs.
const OOB_SEND: &str = "MSG_OOB on TCP marks urgent data only for a peer on the sandbox's own stack (loopback); a peer outside the sandbox gets the byte as ordinary data, with no URG flag";
const OOB_RECV: &str = "MSG_OOB on TCP reads urgent data sent by the sandbox's own sockets; an urgent pointer arriving from outside is ignored and its byte stays in the stream";
const MMSG_LEN_OFF: u64 = 56;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_sendto,
        "sendto",
        Support::Partial(OOB_SEND),
        sys_sendto,
    );
    t.add(
        libc::SYS_recvfrom,
        "recvfrom",
        Support::Partial(OOB_RECV),
        sys_recvfrom,
    );
    t.add(
        libc::SYS_sendmsg,
        "sendmsg",
        Support::Partial(OOB_SEND),
        sys_sendmsg,
    );
    t.add(
        libc::SYS_recvmsg,
        "recvmsg",
        Support::Partial(OOB_RECV),
        sys_recvmsg,
    );
    t.add(libc::SYS_sendmmsg, "sendmmsg", Support::Full, sys_sendmmsg);
    t.add(
        libc::SYS_recvmmsg,
        "recvmmsg",
        Support::Partial("the timeout is checked only between messages"),
        sys_recvmmsg,
    );
}

fn sys_sendto(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (f, sock) = socket_file(t, a.int(0))?;
    let to = if a.addr(4).is_null() {
        None
    } else {
        Some(read_addr(t, a.addr(4), a.int(5))?)
    };
    let iov = [(a.addr(1).get(), a.usize(2))];
    let mut msg = SendMsg {
        data: IoSeq::new(t.memory(), &iov),
        to,
        control: Control::default(),
        flags: a.int(3),
    };
    let n = socket::send(&*t, &*sock, &mut msg, f.nonblocking())?;
    Ok(n as u64)
}

fn sys_recvfrom(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (f, sock) = socket_file(t, a.int(0))?;
    let iov = [(a.addr(1).get(), a.usize(2))];
    let mut msg = RecvMsg::new(IoSeq::new(t.memory(), &iov), a.int(3));
    let n = sock.recv(&*t, &mut msg, f.nonblocking())?;
    if !a.addr(4).is_null() {
        write_addr(t, a.addr(4), a.ptr(5), &msg.from.unwrap_or_default())?;
    }
    Ok(n as u64)
}

/// The ancillary data of a sendmsg(2), with its descriptors looked up.
fn control_in(t: &Task, hdr: &libc::msghdr) -> Result<Control, Errno> {
    let mut c = Control::default();
    if hdr.msg_controllen == 0 {
        return Ok(c);
    }
    if hdr.msg_controllen > MAX_CONTROL {
        return Err(Errno::ENOBUFS);
    }
    let buf = t.read_bytes(hdr.msg_control as u64, hdr.msg_controllen)?;
    for m in control::parse(&buf)? {
        match m {
            Parsed::Rights(fds) => {
                for fd in fds {
                    c.rights.push(t.fds.get(fd)?);
                }
            }
            Parsed::Credentials(cred) => c.creds = Some(cred),
            Parsed::Data(m) => c.data.push(m),
        }
    }
    Ok(c)
}

/// The socket behind `fd`, and the `msghdr` at `hdr_ptr` with its iovecs.
fn read_msghdr(t: &Task, fd: i32, hdr_ptr: UserPtr<libc::msghdr>) -> Result<MsgParts, Errno> {
    let (f, sock) = socket_file(t, fd)?;
    let hdr = t.copy_in(hdr_ptr)?;
    if hdr.msg_iovlen as u64 > MAX_IOV {
        return Err(Errno::EMSGSIZE);
    }
    let iovs = t.read_iovecs(hdr.msg_iov as u64, hdr.msg_iovlen as u64)?;
    Ok((f, sock, hdr, iovs))
}

type MsgParts = (
    std::sync::Arc<crate::vfs::File>,
    std::sync::Arc<dyn crate::net::socket::Socket>,
    libc::msghdr,
    Vec<(u64, usize)>,
);

fn send_one(t: &Task, fd: i32, hdr_ptr: UserPtr<libc::msghdr>, flags: i32) -> Result<usize, Errno> {
    let (f, sock, hdr, iovs) = read_msghdr(t, fd, hdr_ptr)?;
    let to = if hdr.msg_name.is_null() || hdr.msg_namelen == 0 {
        None
    } else {
        Some(read_addr(
            t,
            UserAddr(hdr.msg_name as u64),
            hdr.msg_namelen as i32,
        )?)
    };
    let mut msg = SendMsg {
        data: IoSeq::new(t.memory(), &iovs),
        to,
        control: control_in(t, &hdr)?,
        flags,
    };
    socket::send(t, &*sock, &mut msg, f.nonblocking())
}

/// Installs received descriptors and lays out the control buffer of
/// `cap` bytes: credentials first, then as many descriptors as fit (the
/// rest close, and MSG_CTRUNC says so), as Linux's scm_recv does, then
/// the plain messages (an inet socket's).
fn control_out(t: &Task, c: Control, cap: usize, cloexec: bool) -> Result<Builder, Errno> {
    let mut b = Builder::new(cap);
    if let Some(mut cred) = c.creds {
        // Kept as a kernel id: the receiver's namespace's number (0 for a
        // sender it cannot see), as Linux's pid_vnr.
        cred.pid = t.vpid(cred.pid);
        b.put(
            libc::SOL_SOCKET,
            libc::SCM_CREDENTIALS,
            crate::usermem::as_bytes(&cred),
        );
    }
    if !c.rights.is_empty() {
        let room = b.rights_room();
        if room < c.rights.len() {
            b.truncated = true;
        }
        let mut fds = Vec::new();
        for file in c.rights.into_iter().take(room) {
            match t.fds.install(file, cloexec) {
                Ok(fd) => fds.extend_from_slice(&fd.to_ne_bytes()),
                Err(_) => {
                    b.truncated = true;
                    break;
                }
            }
        }
        if !fds.is_empty() {
            b.put(libc::SOL_SOCKET, libc::SCM_RIGHTS, &fds);
        }
    }
    for m in &c.data {
        b.put(m.level, m.kind, &m.data);
    }
    Ok(b)
}

fn recv_one(t: &Task, fd: i32, hdr_ptr: UserPtr<libc::msghdr>, flags: i32) -> Result<usize, Errno> {
    let (f, sock, hdr, iovs) = read_msghdr(t, fd, hdr_ptr)?;
    let mut msg = RecvMsg::new(IoSeq::new(t.memory(), &iovs), flags);
    let n = sock.recv(t, &mut msg, f.nonblocking())?;
    let base = hdr_ptr.addr();
    if !hdr.msg_name.is_null() {
        let from = msg.from.take().unwrap_or_default();
        let k = (hdr.msg_namelen as usize).min(from.len());
        t.write_bytes(hdr.msg_name as u64, &from[..k])?;
        t.copy_out(base + NAMELEN_OFF, &(from.len() as u32))?;
    } else {
        t.copy_out(base + NAMELEN_OFF, &0u32)?;
    }
    let cloexec = flags & libc::MSG_CMSG_CLOEXEC != 0;
    let control = std::mem::take(&mut msg.control);
    let cap = if hdr.msg_control.is_null() {
        0
    } else {
        hdr.msg_controllen
    };
    let mut out_flags = msg.out_flags;
    let used = if control.is_empty() {
        0
    } else {
        let b = control_out(t, control, cap, cloexec)?;
        t.write_bytes(hdr.msg_control as u64, &b.buf)?;
        if b.truncated {
            out_flags |= libc::MSG_CTRUNC;
        }
        b.buf.len()
    };
    t.copy_out(base + CONTROLLEN_OFF, &used)?;
    t.copy_out(base + FLAGS_OFF, &out_flags)?;
    Ok(n)
}

fn sys_sendmsg(t: &mut Task, a: &SyscallArgs) -> SysResult {
    Ok(send_one(t, a.int(0), a.ptr(1), a.int(2))? as u64)
}

fn sys_recvmsg(t: &mut Task, a: &SyscallArgs) -> SysResult {
    Ok(recv_one(t, a.int(0), a.ptr(1), a.int(2))? as u64)
}

/// sendmmsg and recvmmsg: message by message, each one's length into its
/// `msg_len`; an error after the first message ends the call with the
/// count so far.
fn each_mmsg(
    t: &Task,
    a: &SyscallArgs,
    mut one: impl FnMut(&Task, UserPtr<libc::msghdr>, usize) -> Result<usize, Errno>,
) -> SysResult {
    let _ = socket_file(t, a.int(0))?;
    let vec = a.addr(1);
    let vlen = a.uint(2).min(MAX_MMSG) as usize;
    let mut done = 0;
    while done < vlen {
        let at = vec
            .checked_add(done as u64 * MMSG_SIZE)
            .ok_or(Errno::EFAULT)?;
        match one(t, UserPtr::new(at.get()), done) {
            Ok(n) => {
                t.copy_out(at.get() + MMSG_LEN_OFF, &(n as u32))?;
                done += 1;
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done as u64)
}

fn sys_sendmmsg(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (fd, flags) = (a.int(0), a.int(3));
    each_mmsg(t, a, |t, hdr, _| send_one(t, fd, hdr, flags))
}

fn sys_recvmmsg(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (fd, flags) = (a.int(0), a.int(3));
    let deadline = if a.addr(4).is_null() {
        None
    } else {
        let ts: libc::timespec = t.copy_in(a.ptr::<libc::timespec>(4))?;
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        let d = std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        std::time::Instant::now().checked_add(d)
    };
    each_mmsg(t, a, |t, hdr, i| {
        if i > 0 && deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Err(Errno::EAGAIN);
        }
        // MSG_WAITFORONE: only the first message may block.
        let f = if i > 0 && flags & libc::MSG_WAITFORONE != 0 {
            flags | libc::MSG_DONTWAIT
        } else {
            flags
        };
        recv_one(t, fd, hdr, f)
    })
}
