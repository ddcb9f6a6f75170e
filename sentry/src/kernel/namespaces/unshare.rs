//! unshare(2), setns(2), and the namespaces clone(2) gives a child.

use std::sync::Arc;

use super::{
    alloc_ino, pid, IpcNs, MntNs, Namespaces, Net, NetNs, NsRef, PidNamespace, UserNamespace, UtsNs,
};
use crate::caps::{CapSet, CAP_SYS_ADMIN, CAP_SYS_CHROOT};
use crate::errno::Errno;
use crate::kernel::credentials::UserNsRef;
use crate::kernel::ipc::IpcNamespace;
use crate::kernel::{Credentials, Task};

/// The namespace kinds the Sentry gives (CLONE_NEWCGROUP and
/// CLONE_NEWTIME are EINVAL, as from a kernel built without them).
pub const NS_FLAGS: u64 = (libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWPID) as u64;

/// What unshare(2) accepts besides namespaces.
const UNSHARE_OTHER: u64 = (libc::CLONE_THREAD
    | libc::CLONE_FS
    | libc::CLONE_SIGHAND
    | libc::CLONE_VM
    | libc::CLONE_FILES
    | libc::CLONE_SYSVSEM) as u64;

fn has(flags: u64, bit: i32) -> bool {
    flags & bit as u64 != 0
}

/// What joining or making a user namespace does to the credentials
/// (Linux's set_cred_user_ns): every capability in it, default
/// securebits.
fn enter_user_ns(c: &mut Credentials, ns: Arc<UserNamespace>) {
    c.user_ns = UserNsRef(ns);
    c.securebits = 0;
    c.inheritable = CapSet::EMPTY;
    c.ambient = CapSet::EMPTY;
    c.permitted = CapSet::FULL;
    c.effective = CapSet::FULL;
    c.bounding = CapSet::FULL;
}

impl Task {
    /// New namespaces of the kinds in `flags` for `creds` (changed when a
    /// user namespace is among them), the others those of `old`: what
    /// unshare and clone share. EPERM without CAP_SYS_ADMIN in the user
    /// namespace that will own them.
    pub(crate) fn new_namespaces(
        &self,
        flags: u64,
        old: &Namespaces,
        creds: &mut Credentials,
    ) -> Result<Namespaces, Errno> {
        if has(flags, libc::CLONE_NEWUSER) {
            let ns = UserNamespace::new_child(&creds.user_ns.0, creds.euid, creds.egid)?;
            enter_user_ns(creds, ns);
        }
        let mut ns = old.clone();
        if flags & NS_FLAGS & !(libc::CLONE_NEWUSER as u64) == 0 {
            return Ok(ns);
        }
        if !creds.capable_here(CAP_SYS_ADMIN) {
            return Err(Errno::EPERM);
        }
        let owner = creds.user_ns.0.clone();
        if has(flags, libc::CLONE_NEWUTS) {
            ns.uts = UtsNs::new(alloc_ino(), owner.clone(), old.uts.copy());
        }
        if has(flags, libc::CLONE_NEWIPC) {
            let ipc = IpcNamespace::new(&self.kernel.memfile);
            ns.ipc = IpcNs::new(alloc_ino(), owner.clone(), ipc);
        }
        if has(flags, libc::CLONE_NEWNS) {
            ns.mnt = MntNs::new(alloc_ino(), owner.clone(), old.mnt.copy_namespace());
        }
        if has(flags, libc::CLONE_NEWNET) {
            ns.net = self.new_net(owner.clone())?;
        }
        if has(flags, libc::CLONE_NEWPID) {
            // Only from a task whose children still go to its own
            // namespace (Linux's copy_pid_ns): a second unshare before
            // the first child is EINVAL.
            if !Arc::ptr_eq(&old.pid, self.pid_ns()) {
                return Err(Errno::EINVAL);
            }
            ns.pid = PidNamespace::new_child(&old.pid, owner)?;
        }
        Ok(ns)
    }

    /// A network namespace with a stack of its own: loopback only.
    fn new_net(&self, owner: Arc<UserNamespace>) -> Result<Arc<NetNs>, Errno> {
        let stack = netstack::Stack::new(netstack::StackConfig {
            interfaces: Vec::new(),
            routes: Vec::new(),
            log_packets: false,
            shown: None,
        })
        .map_err(|e| {
            tracing::warn!("cannot start a network namespace's stack: {e}");
            Errno::ENOMEM
        })?;
        Ok(NetNs::new(
            alloc_ino(),
            owner,
            Net {
                stack,
                unix_names: self.ns.net.unix_names.sibling(),
                netlink_ports: crate::net::netlink::Ports::new(),
                host: false,
            },
        ))
    }

    /// Makes `ns` this task's, moving its root and working directory into
    /// a new mount namespace (its filesystem context is its own by now).
    fn install_namespaces(&mut self, ns: Namespaces) {
        if !Arc::ptr_eq(&ns.mnt, &self.ns.mnt) {
            self.fs.set_root(ns.mnt.rebase(&self.fs.root()));
            self.fs.set_cwd(ns.mnt.rebase(&self.fs.cwd()));
        }
        let ns = Arc::new(ns);
        self.ns = ns.clone();
        *self.handle.ns.lock().unwrap() = ns;
    }

    /// unshare(2).
    pub fn unshare(&mut self, flags: u64) -> Result<(), Errno> {
        if flags & !(NS_FLAGS | UNSHARE_OTHER) != 0 {
            if flags & (libc::CLONE_NEWCGROUP | libc::CLONE_NEWTIME) as u64 != 0 {
                self.kernel.report_unsupported(
                    libc::SYS_unshare as usize,
                    flags & !(NS_FLAGS | UNSHARE_OTHER),
                    "unshare namespaces",
                );
            }
            return Err(Errno::EINVAL);
        }
        // Linux's implications: a user namespace needs a process of one
        // thread with its own filesystem context; a mount namespace its
        // own filesystem context.
        let mut flags = flags;
        if has(flags, libc::CLONE_NEWUSER) {
            flags |= (libc::CLONE_THREAD | libc::CLONE_FS) as u64;
        }
        if has(flags, libc::CLONE_VM) {
            flags |= libc::CLONE_SIGHAND as u64;
        }
        if has(flags, libc::CLONE_SIGHAND) {
            flags |= libc::CLONE_THREAD as u64;
        }
        if has(flags, libc::CLONE_NEWNS) {
            flags |= libc::CLONE_FS as u64;
        }
        let threads = self.tg.inner.lock().unwrap().tasks.len();
        if has(flags, libc::CLONE_THREAD) && threads > 1 {
            return Err(Errno::EINVAL);
        }
        if has(flags, libc::CLONE_SIGHAND) && Arc::strong_count(&self.tg.actions) > 1 {
            return Err(Errno::EINVAL);
        }
        let mut creds = self.creds();
        let ns = self.new_namespaces(flags, &self.ns.clone(), &mut creds)?;
        if has(flags, libc::CLONE_FS) && Arc::strong_count(&self.fs) > 1 {
            self.fs = self.fs.fork();
        }
        if has(flags, libc::CLONE_FILES) && Arc::strong_count(&self.fds) > 1 {
            self.fds = self.fds.fork();
        }
        if !Arc::ptr_eq(&ns.ipc, &self.ns.ipc) {
            // Leaving an IPC namespace applies the process's semaphore
            // undos there, as Linux's exit_sem does.
            self.ns.ipc.sem.exit(self.tgid());
        }
        *self.handle.creds.lock().unwrap() = creds;
        self.install_namespaces(ns);
        self.publish_view();
        Ok(())
    }

    /// setns(2) into one namespace (a namespace file's, or one kind of a
    /// pidfd's process), with Linux's checks for its kind.
    pub fn setns_one(&mut self, target: NsRef) -> Result<(), Errno> {
        let creds = self.creds();
        let admin_here = creds.capable_here(CAP_SYS_ADMIN);
        let mut ns = (*self.ns).clone();
        match target {
            NsRef::User(u) => {
                if Arc::ptr_eq(&u, &creds.user_ns.0) {
                    return Err(Errno::EINVAL);
                }
                if self.tg.inner.lock().unwrap().tasks.len() > 1 || Arc::strong_count(&self.fs) > 1
                {
                    return Err(Errno::EINVAL);
                }
                if !creds.capable_in(&u, CAP_SYS_ADMIN) {
                    return Err(Errno::EPERM);
                }
                let mut c = creds;
                enter_user_ns(&mut c, u);
                *self.handle.creds.lock().unwrap() = c;
                return Ok(());
            }
            NsRef::Uts(u) => {
                if !(creds.capable_in(&u.owner, CAP_SYS_ADMIN) && admin_here) {
                    return Err(Errno::EPERM);
                }
                ns.uts = u;
            }
            NsRef::Ipc(i) => {
                if !(creds.capable_in(&i.owner, CAP_SYS_ADMIN) && admin_here) {
                    return Err(Errno::EPERM);
                }
                ns.ipc = i;
            }
            NsRef::Net(n) => {
                if !(creds.capable_in(&n.owner, CAP_SYS_ADMIN) && admin_here) {
                    return Err(Errno::EPERM);
                }
                ns.net = n;
            }
            NsRef::Pid(p, _) => {
                // Only into the caller's own namespace or one below it
                // (Linux's pidns_install); its children go there.
                if !(creds.capable_in(&p.owner, CAP_SYS_ADMIN) && admin_here) {
                    return Err(Errno::EPERM);
                }
                if !pid::contains(self.pid_ns(), &p) {
                    return Err(Errno::EINVAL);
                }
                ns.pid = p;
            }
            NsRef::Mnt(m) => {
                if !(creds.capable_in(&m.owner, CAP_SYS_ADMIN)
                    && admin_here
                    && creds.capable_here(CAP_SYS_CHROOT))
                {
                    return Err(Errno::EPERM);
                }
                if Arc::strong_count(&self.fs) > 1 {
                    return Err(Errno::EINVAL);
                }
                // Joining a mount namespace puts root and cwd at its root.
                self.fs.set_root(m.root());
                self.fs.set_cwd(m.root());
                ns.mnt = m;
                let ns = Arc::new(ns);
                self.ns = ns.clone();
                *self.handle.ns.lock().unwrap() = ns;
                return Ok(());
            }
        }
        self.install_namespaces(ns);
        Ok(())
    }

    /// The namespaces of a child of clone(2) with `flags`, and its
    /// credentials (a new user namespace changes them). EINVAL for the
    /// combinations Linux refuses.
    pub(crate) fn clone_namespaces(
        &self,
        flags: u64,
    ) -> Result<(Arc<Namespaces>, Credentials), Errno> {
        let mut creds = self.creds();
        if flags & NS_FLAGS == 0 {
            return Ok((self.ns.clone(), creds));
        }
        if has(flags, libc::CLONE_NEWNS) && has(flags, libc::CLONE_FS) {
            return Err(Errno::EINVAL);
        }
        if has(flags, libc::CLONE_NEWUSER)
            && (has(flags, libc::CLONE_FS) || has(flags, libc::CLONE_THREAD))
        {
            return Err(Errno::EINVAL);
        }
        if has(flags, libc::CLONE_THREAD) {
            // Threads share their process's namespaces.
            return Err(Errno::EINVAL);
        }
        let ns = self.new_namespaces(flags, &self.ns, &mut creds)?;
        Ok((Arc::new(ns), creds))
    }
}
