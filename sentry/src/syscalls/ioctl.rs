//! ioctl: the generic requests here, the rest by the file.

use super::file::io_file;
use super::{Support, SyscallArgs, Table};
use crate::errno::SysResult;
use crate::kernel::task::Task;
use crate::usermem::UserPtr;
use crate::vfs;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_ioctl,
        "ioctl",
        Support::Partial(
            "FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIONREAD; terminal requests on the host's stdio (TCGETS, TCSETS*, TIOCGWINSZ, TIOCSWINSZ, TCFLSH ...); on ptys also TIOCGPTN, TIOCSPTLCK, TIOCGPTPEER, TIOCSCTTY, TIOCNOTTY, TIOC[GS]PGRP, TIOCGSID, TIOCOUTQ; no TIOCPKT, TIOCSTI, TCGETS2; on sockets SIOCINQ, SIOCOUTQ, SIOCATMARK (TCP) and the interface requests (SIOCGIFCONF, SIOCGIF{FLAGS,INDEX,NAME,HWADDR,MTU,TXQLEN,METRIC,MAP}, and SIOCGIF{ADDR,NETMASK,BRDADDR,DSTADDR} on AF_INET), the SIOCS* ones EPERM",
        ),
        sys_ioctl,
    );
}

fn sys_ioctl(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let fd = a.int(0);
    let cmd = a.uint(1);
    let arg = a.ulong(2);
    let f = io_file(t, fd)?;
    match u64::from(cmd) {
        libc::FIOCLEX => {
            t.fds.set_cloexec(fd, true)?;
            Ok(0)
        }
        libc::FIONCLEX => {
            t.fds.set_cloexec(fd, false)?;
            Ok(0)
        }
        libc::FIONBIO => {
            let on = t.copy_in(UserPtr::<i32>::new(arg))?;
            let flags = f.flags();
            f.set_status_flags(if on != 0 {
                flags | libc::O_NONBLOCK
            } else {
                flags & !libc::O_NONBLOCK
            });
            Ok(0)
        }
        libc::FIOASYNC => {
            let on = t.copy_in(UserPtr::<i32>::new(arg))?;
            let flags = f.flags();
            f.set_status_flags(if on != 0 {
                flags | libc::O_ASYNC
            } else {
                flags & !libc::O_ASYNC
            });
            Ok(0)
        }
        libc::FIONREAD => {
            let n: i64 = match f.ops().readable_bytes() {
                Some(n) => i64::try_from(n).unwrap_or(i64::MAX),
                None => match f.dentry() {
                    // Linux reports size - offset, negative past the end.
                    Some(d) if vfs::is_reg(d.mode()) => {
                        f.stat()?.st_size.wrapping_sub(f.offset() as i64)
                    }
                    _ => return f.ops().ioctl(t, &f, cmd, arg),
                },
            };
            t.copy_out(UserPtr::<i32>::new(arg), &(n as i32))?;
            Ok(0)
        }
        _ => f.ops().ioctl(t, &f, cmd, arg),
    }
}
