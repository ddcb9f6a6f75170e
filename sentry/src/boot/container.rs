//! The further containers of a pod in one sandbox (Kubernetes' pod as one
//! Sentry): each has its own root over a Gofer of its own, in a mount
//! namespace of its own, and shares the sandbox's network, IPC and
//! (unless its spec names another hostname) UTS namespaces. When its spec
//! asks for a PID namespace (the kubelet asks for one per container), it
//! gets a child of the sandbox's whose init is its first process, and the
//! proc filesystems of its spec show that namespace; otherwise it shares
//! the sandbox's PID space. Its processes carry its number
//! ([`ThreadGroup::container`]), which is what `kill` and `ps` of one
//! container look at.
//!
//! [`ThreadGroup::container`]: crate::kernel::ThreadGroup

use std::sync::{Arc, Mutex};

use super::spec::{MountTree, RootSpec};
use super::{PreparedInit, Sandbox};
use crate::kernel::namespaces::{alloc_ino, MntNs, Namespaces, PidNamespace, Uts, UtsNs};
use crate::vfs::Vfs;

/// A container's filesystem tree and namespaces, made by
/// [`Sandbox::mount_container`]; processes are started in it with
/// [`Sandbox::prepare_in`].
pub struct ContainerFs {
    pub(super) vfs: Arc<Vfs>,
    pub(super) ns: Arc<Namespaces>,
    /// Its processes' [`crate::kernel::ThreadGroup::container`].
    pub(super) number: u32,
}

impl ContainerFs {
    /// The number its processes carry.
    pub fn number(&self) -> u32 {
        self.number
    }
}

impl Sandbox {
    /// Mounts container `number`'s root (served by `gofer`) and `mounts`
    /// as a new mount namespace; with a `hostname` other than the
    /// sandbox's the container gets a UTS namespace of its own, and with
    /// `own_pid` a PID namespace of its own.
    pub fn mount_container(
        &self,
        number: u32,
        gofer: gofer_protocol::Client,
        root: &RootSpec,
        mounts: &MountTree,
        hostname: Option<&str>,
        own_pid: bool,
    ) -> Result<ContainerFs, String> {
        let k = &self.kernel;
        let init = &k.init_ns;
        let owner = init.mnt.owner.clone();
        let pid = if own_pid {
            PidNamespace::new_child(&init.pid, owner.clone())
                .map_err(|e| format!("cannot make the container's PID namespace: {e:?}"))?
        } else {
            init.pid.clone()
        };
        let shown = own_pid.then(|| pid.clone());
        let vfs = super::mounts::build(Arc::new(gofer), root, mounts, &k.memfile, shown)?;
        let mut ns = Namespaces {
            mnt: MntNs::new(alloc_ino(), owner.clone(), vfs.clone()),
            pid,
            ..(**init).clone()
        };
        let ours = init.uts.hostname.lock().unwrap().clone();
        if let Some(h) = hostname.filter(|h| h.as_bytes() != ours.as_slice()) {
            let domain = init.uts.domainname.lock().unwrap().clone();
            ns.uts = UtsNs::new(
                alloc_ino(),
                owner,
                Uts {
                    hostname: Mutex::new(h.as_bytes().to_vec()),
                    domainname: Mutex::new(domain),
                },
            );
        }
        Ok(ContainerFs {
            vfs,
            ns: Arc::new(ns),
            number,
        })
    }

    /// Forgets a prepared process that will not run (its container was
    /// deleted before `start`, or its check failed): its pid is free
    /// again, and a waiter for it ([`Sandbox::wait`]) is told it was
    /// killed, as a container killed before `start` is under runc.
    pub fn discard(&self, p: PreparedInit) {
        let tid = p.task.tid;
        crate::kernel::namespaces::pid::detach(&p.task.tg.pidns, tid);
        {
            let mut pids = self.kernel.pids.lock().unwrap();
            pids.tasks.remove(&tid);
            pids.groups.remove(&tid);
        }
        drop(p);
        self.kernel.set_top_exit(
            tid,
            crate::kernel::thread_group::signal_status(libc::SIGKILL, false),
        );
    }

    /// The pid of a prepared process.
    pub fn prepared_pid(p: &PreparedInit) -> i32 {
        p.task.tid
    }

    /// Sends `sig` to container `number`'s init `init`, or with `all` to
    /// every process of the container.
    pub fn signal_container(
        &self,
        number: u32,
        init: i32,
        sig: i32,
        all: bool,
    ) -> std::io::Result<()> {
        self.kernel
            .signal_container(sig, number, init, all)
            .map_err(|e| std::io::Error::from_raw_os_error(e.0))
    }

    /// Pauses (`paused`) or resumes container `number`: its processes
    /// run no application code until the resume; the pod's others run on.
    pub fn pause_container(&self, number: u32, paused: bool) {
        self.kernel.freeze_container(number, paused);
    }

    /// The pids of every live process of container `number`.
    pub fn container_pids(&self, number: u32) -> Vec<i32> {
        let mut v: Vec<i32> = self
            .kernel
            .all_groups()
            .into_iter()
            .filter(|g| g.container() == number && g.inner.lock().unwrap().exit.is_none())
            .map(|g| g.tgid)
            .collect();
        v.sort_unstable();
        v
    }
}
