//! /proc/PID/net (and /proc/net, a link to /proc/self/net): the sandbox's
//! network namespace as procfs shows it: AF_UNIX sockets, and the stack's
//! interfaces ([`interfaces`]), routes and inet sockets ([`sockets`]).

mod interfaces;
mod sockets;

use std::sync::Arc;

use netstack::{Proto, Stack};

use super::target::Target;
use super::{entry, owned_attrs, path_ino, GenFn};
use crate::errno::Errno;
use crate::vfs::{DirEntry, FileOps, Inode, InodeRef};

const ENTRIES: [&str; 9] = [
    "dev",
    "if_inet6",
    "ipv6_route",
    "route",
    "tcp",
    "tcp6",
    "udp",
    "udp6",
    "unix",
];

/// The text of /proc/net/`name` from the stack, for the files it backs.
fn stack_file(name: &[u8]) -> Option<fn(&Stack) -> String> {
    Some(match name {
        b"dev" => |s| interfaces::dev(&s.interfaces()),
        b"if_inet6" => |s| interfaces::if_inet6(&s.interfaces()),
        b"route" => |s| interfaces::route(&s.interfaces(), &s.routes()),
        b"ipv6_route" => |s| interfaces::ipv6_route(&s.interfaces(), &s.routes()),
        b"tcp" => |s| sockets::tcp(&s.connections(Proto::Tcp), false),
        b"tcp6" => |s| sockets::tcp(&s.connections(Proto::Tcp), true),
        b"udp" => |s| sockets::udp(&s.connections(Proto::Udp), false),
        b"udp6" => |s| sockets::udp(&s.connections(Proto::Udp), true),
        _ => return None,
    })
}

/// /proc/PID/net.
pub(super) struct NetDir {
    pub(super) ino: u64,
    pub(super) t: Target,
}

impl Inode for NetDir {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o555
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(owned_attrs(self.ino, self.mode(), 2, self.t.ids()))
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        let t = self.t.clone();
        let gen: GenFn = match name {
            b"unix" => Arc::new(move || Ok(t.net_ns()?.unix_names.proc_net_unix())),
            _ => {
                let text = stack_file(name).ok_or(Errno::ENOENT)?;
                Arc::new(move || Ok(text(&t.net_ns()?.stack).into_bytes()))
            }
        };
        let path = format!("net/{}", String::from_utf8_lossy(name));
        Ok(Arc::new(self.t.file(&path, 0o444, gen)))
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(ENTRIES
            .iter()
            .map(|n| {
                let key = format!("{}/net/{n}", self.t.key());
                entry(path_ino(&key), libc::DT_REG, n.as_bytes())
            })
            .collect())
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(crate::fsimpl::DirFile))
    }
}
