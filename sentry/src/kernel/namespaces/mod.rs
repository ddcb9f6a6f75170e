//! Namespaces for applications (`namespaces(7)`), served by the Sentry
//! alone: no host namespace is made for them.
//!
//! Each kind is a value of its own type, [`Ns`]`<T>`: an nsfs inode
//! number, the user namespace that owns it, and the state Linux keeps per
//! namespace of that kind (hostname and domain name for UTS, the SysV
//! objects for IPC, the mount table for mount, the TCP/IP stack and
//! socket names for net). A task holds one of each in its
//! [`Namespaces`] (Linux's nsproxy), shared with the tasks that did not
//! unshare; its user namespace is in its credentials, as on Linux. The
//! state that used to be the kernel's is now the initial namespaces'
//! (`Kernel::init_ns`); code that serves a task reaches it through the
//! task's set, never through the kernel.
//!
//! `user.rs` is user namespaces and id maps; `unshare.rs` is unshare(2),
//! setns(2) and what clone(2) does with CLONE_NEW*.

pub mod nsfs;
pub mod pid;
pub mod unshare;
pub mod user;

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::kernel::ipc::IpcNamespace;
use crate::vfs::Vfs;
pub use pid::{PidNamespace, PidNs};
pub use user::UserNamespace;

/// nsfs inode numbers of the initial namespaces (Linux's PROC_*_INIT_INO).
pub const PROC_IPC_INIT_INO: u64 = 0xEFFF_FFFF;
pub const PROC_UTS_INIT_INO: u64 = 0xEFFF_FFFE;
pub const PROC_USER_INIT_INO: u64 = 0xEFFF_FFFD;
pub const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;
pub const PROC_CGROUP_INIT_INO: u64 = 0xEFFF_FFFB;
/// Where Linux's proc_alloc_inum starts handing out numbers.
const FIRST_DYNAMIC_INO: u64 = 0xF000_0000;

static NEXT_INO: AtomicU64 = AtomicU64::new(FIRST_DYNAMIC_INO);

/// A fresh nsfs inode number.
pub fn alloc_ino() -> u64 {
    NEXT_INO.fetch_add(1, Ordering::Relaxed)
}

/// One namespace of a kind whose state is `T`.
pub struct Ns<T> {
    /// Its nsfs inode number (`readlink /proc/PID/ns/uts` shows it).
    pub ino: u64,
    /// Whose CAP_SYS_ADMIN (and other capabilities) count for it.
    pub owner: Arc<UserNamespace>,
    state: T,
}

impl<T> Ns<T> {
    pub fn new(ino: u64, owner: Arc<UserNamespace>, state: T) -> Arc<Ns<T>> {
        Arc::new(Ns { ino, owner, state })
    }
}

impl<T> Deref for Ns<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.state
    }
}

/// What a UTS namespace holds.
pub struct Uts {
    pub hostname: Mutex<Vec<u8>>,
    pub domainname: Mutex<Vec<u8>>,
}

impl Uts {
    /// A copy: a new UTS namespace starts with its creator's names.
    fn copy(&self) -> Uts {
        Uts {
            hostname: Mutex::new(self.hostname.lock().unwrap().clone()),
            domainname: Mutex::new(self.domainname.lock().unwrap().clone()),
        }
    }
}

/// What a network namespace holds: its own TCP/IP stack (loopback only in
/// a namespace the application made), its abstract AF_UNIX names and its
/// netlink ports.
pub struct Net {
    pub stack: Arc<netstack::Stack>,
    pub unix_names: Arc<crate::net::unix::Names>,
    pub netlink_ports: Arc<crate::net::netlink::Ports>,
    /// Inet sockets are host sockets (`--network=host`); only the
    /// initial namespace can be so.
    pub host: bool,
}

pub type UtsNs = Ns<Uts>;
pub type IpcNs = Ns<IpcNamespace>;
/// A mount namespace: its mount table is a [`Vfs`].
pub type MntNs = Ns<Arc<Vfs>>;
pub type NetNs = Ns<Net>;

/// The namespaces a task lives in, besides its user namespace (which is in
/// its credentials).
#[derive(Clone)]
pub struct Namespaces {
    pub uts: Arc<UtsNs>,
    pub ipc: Arc<IpcNs>,
    pub mnt: Arc<MntNs>,
    pub net: Arc<NetNs>,
    /// The PID namespace its next children are made in (Linux's
    /// pid_ns_for_children; a task's own is its thread group's, fixed
    /// for life).
    pub pid: Arc<PidNs>,
}

/// Any namespace, as an nsfs file names it (/proc/PID/ns/*, setns).
#[derive(Clone)]
pub enum NsRef {
    User(Arc<UserNamespace>),
    Uts(Arc<UtsNs>),
    Ipc(Arc<IpcNs>),
    Mnt(Arc<MntNs>),
    Net(Arc<NetNs>),
    /// A PID namespace: `pid` (the task's own) or `pid_for_children`.
    Pid(Arc<PidNs>, &'static str),
}

impl NsRef {
    pub fn ino(&self) -> u64 {
        match self {
            NsRef::User(n) => n.ino,
            NsRef::Uts(n) => n.ino,
            NsRef::Ipc(n) => n.ino,
            NsRef::Mnt(n) => n.ino,
            NsRef::Net(n) => n.ino,
            NsRef::Pid(n, _) => n.ino,
        }
    }

    /// The CLONE_NEW* flag of its kind (setns's nstype).
    pub fn flag(&self) -> i32 {
        match self {
            NsRef::User(_) => libc::CLONE_NEWUSER,
            NsRef::Uts(_) => libc::CLONE_NEWUTS,
            NsRef::Ipc(_) => libc::CLONE_NEWIPC,
            NsRef::Mnt(_) => libc::CLONE_NEWNS,
            NsRef::Net(_) => libc::CLONE_NEWNET,
            NsRef::Pid(..) => libc::CLONE_NEWPID,
        }
    }

    /// The name /proc/PID/ns uses, and readlink shows before the number.
    pub fn kind(&self) -> &'static str {
        match self {
            NsRef::User(_) => "user",
            NsRef::Uts(_) => "uts",
            NsRef::Ipc(_) => "ipc",
            NsRef::Mnt(_) => "mnt",
            NsRef::Net(_) => "net",
            NsRef::Pid(..) => "pid",
        }
    }

    /// `uts:[4026531838]`.
    pub fn link_text(&self) -> String {
        format!("{}:[{}]", self.kind(), self.ino())
    }
}

impl Namespaces {
    /// The namespace of kind `name` (a /proc/PID/ns entry), given the
    /// task's user namespace and its own PID namespace.
    pub fn get(&self, name: &[u8], user: &Arc<UserNamespace>, pid: &Arc<PidNs>) -> Option<NsRef> {
        Some(match name {
            b"user" => NsRef::User(user.clone()),
            b"pid" => NsRef::Pid(pid.clone(), "pid"),
            b"pid_for_children" => NsRef::Pid(self.pid.clone(), "pid_for_children"),
            b"uts" => NsRef::Uts(self.uts.clone()),
            b"ipc" => NsRef::Ipc(self.ipc.clone()),
            b"mnt" => NsRef::Mnt(self.mnt.clone()),
            b"net" => NsRef::Net(self.net.clone()),
            _ => return None,
        })
    }
}

/// The entries of /proc/PID/ns the sandbox gives.
pub const NS_NAMES: [&str; 7] = [
    "ipc",
    "mnt",
    "net",
    "pid",
    "pid_for_children",
    "user",
    "uts",
];
