//! The sandbox's System V IPC namespace (Linux's `struct ipc_namespace`):
//! one per kernel, so two sandboxes in one process share no segment.
//!
//! [`ids`] holds what every kind of IPC object shares (identifiers, keys,
//! permissions); [`shm`] is shared memory, [`sem`] semaphore sets, [`msg`]
//! message queues; [`mqueue`] is one POSIX message queue (their names are
//! the mqueue filesystem's, `fsimpl/mqueue.rs`, whose root each namespace
//! holds).

pub mod ids;
pub mod mqueue;
pub mod msg;
pub mod sem;
pub mod shm;

use std::any::Any;
use std::sync::{Arc, OnceLock};

use crate::kernel::Task;
use crate::mm::MemoryFile;

pub use ids::Who;

pub struct IpcNamespace {
    pub shm: Arc<shm::SharedMemory>,
    pub sem: Arc<sem::Semaphores>,
    pub msg: Arc<msg::MessageQueues>,
    /// The POSIX message queues: the root of this namespace's mqueue
    /// filesystem, made by `fsimpl/mqueue.rs` on first use (the kernel
    /// does not name a filesystem's types; layers import downward). It
    /// lives as long as the namespace, as Linux's queues do.
    pub mqueue: OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl IpcNamespace {
    /// An empty namespace whose shared memory lives in `memfile`.
    pub fn new(memfile: &Arc<MemoryFile>) -> IpcNamespace {
        IpcNamespace {
            shm: shm::SharedMemory::new(memfile),
            sem: Arc::default(),
            msg: Arc::default(),
            mqueue: OnceLock::new(),
        }
    }
}

impl Who {
    /// The task as IPC permission checks see it: its capabilities are
    /// those it holds in the user namespace owning its IPC namespace.
    pub fn of(t: &Task) -> Who {
        let creds = t.creds();
        let mut who = Who::new(&creds, t.tgid());
        let owner = &t.ns.ipc.owner;
        who.caps = crate::caps::CapSet::EMPTY;
        for cap in 0..=crate::caps::CAP_LAST_CAP {
            if creds.capable_in(owner, cap) {
                who.caps = who.caps.with(cap);
            }
        }
        who
    }
}
