//! The Sentry's side of a pod: the containers a sandbox runs besides its
//! own (Kubernetes' pod as one sandbox, as gVisor keeps it). Each came
//! with a `CreateContainer` request carrying its boot plan, the Sentry's
//! end of a connection to the container's own Gofer and its stdio; it is
//! mounted and its init prepared at once, started by `StartContainer`,
//! and the request's connection gets the init's wait status. When the
//! connection closes first (the container's host proxy was killed, or
//! `delete`d it), the container's processes are killed.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use sentry::boot::{ContainerFs, PreparedInit, RootSpec, Sandbox};

use super::boot_spec::mount_tree;
use super::init::{process, stdio_of};
use crate::control::{FollowUp, Reply};
use crate::spec::BootPlan;

/// One further container of the pod.
struct Member {
    fs: Arc<ContainerFs>,
    /// Its init's pid (in the sandbox's one PID space).
    init: i32,
    /// Its init until `StartContainer`.
    pending: Option<PreparedInit>,
}

/// The sandbox's containers: its own (whose init waits for `Start` in
/// `pending`) and the pod's others, by id.
pub struct Pod {
    /// The sandbox's root options (overlay, shared), which the pod's
    /// containers' roots take too.
    root: RootSpec,
    pub pending: Mutex<Option<PreparedInit>>,
    members: Mutex<HashMap<String, Member>>,
    /// The next container number (0 is the sandbox's own).
    next: AtomicU32,
}

/// Which container a request names: the sandbox's own, or a member (its
/// filesystem and init).
pub enum Target {
    Own,
    Member { fs: Arc<ContainerFs>, init: i32 },
}

impl Pod {
    pub fn new(root: RootSpec, pending: PreparedInit) -> Pod {
        Pod {
            root,
            pending: Mutex::new(Some(pending)),
            members: Mutex::new(HashMap::new()),
            next: AtomicU32::new(1),
        }
    }

    /// The container `id` names (None: the sandbox's own).
    pub fn target(&self, id: Option<&str>) -> Result<Target, String> {
        let Some(id) = id else { return Ok(Target::Own) };
        let members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        let m = members
            .get(id)
            .ok_or_else(|| format!("container {id:?} is not in this sandbox"))?;
        Ok(Target::Member {
            fs: m.fs.clone(),
            init: m.init,
        })
    }

    /// Whether container `id` has not been started yet.
    pub fn unstarted(&self, id: Option<&str>) -> bool {
        match id {
            None => self
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some(),
            Some(id) => self
                .members
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(id)
                .is_some_and(|m| m.pending.is_some()),
        }
    }

    /// `CreateContainer`: mounts the container's root over its Gofer,
    /// prepares its init with its stdio, and gives the follow-up that waits
    /// for the init's wait status.
    pub fn create(
        self: &Arc<Self>,
        sb: &Arc<Sandbox>,
        id: String,
        plan: serde_json::Value,
        fds: Vec<OwnedFd>,
    ) -> Result<(Reply, FollowUp), String> {
        let plan: BootPlan =
            serde_json::from_value(plan).map_err(|e| format!("bad container plan: {e}"))?;
        if self
            .members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&id)
        {
            return Err(format!("container {id:?} already exists in this sandbox"));
        }
        let mut fds = fds.into_iter();
        let gofer = fds
            .next()
            .ok_or("no connection to the container's Gofer was sent")?;
        let stdio = stdio_of(plan.process.terminal, fds.collect())?;
        let client = gofer_protocol::Client::connect(UnixStream::from(gofer)).map_err(|e| {
            format!(
                "cannot connect to the container's Gofer: {}",
                std::io::Error::from_raw_os_error(e)
            )
        })?;
        let root = RootSpec {
            readonly: plan.readonly_root,
            ..self.root
        };
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let fs = sb.mount_container(
            number,
            client,
            &root,
            &mount_tree(&plan),
            plan.hostname.as_deref(),
            plan.own_pid_namespace,
        )?;
        let fs = Arc::new(fs);
        let prepared = sb.prepare_in(process(&plan.process, Vec::new()), stdio, Some(&fs))?;
        if let Err(e) = prepared.check() {
            sb.discard(prepared);
            return Err(e);
        }
        let init = Sandbox::prepared_pid(&prepared);
        self.members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id.clone(),
                Member {
                    fs,
                    init,
                    pending: Some(prepared),
                },
            );
        let (pod, sb) = (self.clone(), sb.clone());
        let follow: FollowUp = Box::new(move |conn| {
            let done = Arc::new(AtomicBool::new(false));
            pod.end_when_closed(&sb, &id, conn, done.clone());
            let status = sb.wait(init);
            done.store(true, Ordering::SeqCst);
            // Its init gone, the container is over: what it left running
            // goes too, as with the end of a PID namespace.
            let _ = sb.signal_container(number, init, libc::SIGKILL, true);
            sb.pause_container(number, false);
            pod.members
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            Reply {
                status: Some(status),
                ..Reply::default()
            }
        });
        Ok((
            Reply {
                pid: Some(init),
                ..Reply::default()
            },
            follow,
        ))
    }

    /// `StartContainer`.
    pub fn start(&self, sb: &Sandbox, id: &str) -> Result<(), String> {
        let p = {
            let mut members = self.members.lock().unwrap_or_else(|e| e.into_inner());
            let m = members
                .get_mut(id)
                .ok_or_else(|| format!("container {id:?} is not in this sandbox"))?;
            m.pending
                .take()
                .ok_or_else(|| format!("container {id:?} has already been started"))?
        };
        sb.start(p)
    }

    /// Kills container `id` if its proxy closes the connection before
    /// `done`: a container not started is forgotten (its waiter is told
    /// it was killed), a started one's processes are SIGKILLed.
    fn end_when_closed(
        self: &Arc<Self>,
        sb: &Arc<Sandbox>,
        id: &str,
        conn: &UnixStream,
        done: Arc<AtomicBool>,
    ) {
        let (pod, sb, id) = (Arc::downgrade(self), Arc::downgrade(sb), id.to_string());
        super::watch::on_close(conn, "container-watch", move || {
            if done.load(Ordering::SeqCst) {
                return;
            }
            let (Some(pod), Some(sb)) = (pod.upgrade(), sb.upgrade()) else {
                return;
            };
            let pending = {
                let mut members = pod.members.lock().unwrap_or_else(|e| e.into_inner());
                match members.get_mut(&id) {
                    Some(m) => m
                        .pending
                        .take()
                        .map(Ok)
                        .unwrap_or(Err((m.fs.number(), m.init))),
                    None => return,
                }
            };
            match pending {
                Ok(p) => sb.discard(p),
                Err((number, init)) => {
                    let _ = sb.signal_container(number, init, libc::SIGKILL, true);
                }
            }
        });
    }
}
