//! PID namespaces (`pid_namespaces(7)`).
//!
//! Inside the Sentry every task has one *kernel* id, its pid in the
//! initial namespace, by which the kernel's tables (`Pids`) know it. A
//! task in a nested namespace also has an id in its own namespace and in
//! each ancestor's between it and the initial one (Linux's `struct pid`
//! with a number per level); this file keeps those, a map each way per
//! namespace. The initial namespace maps every id to itself and keeps no
//! map. A namespace's map holds only its own tasks and those of its
//! descendants, so a kernel id missing from it is a task the namespace
//! cannot see (its id there reads 0, as Linux's `pid_nr_ns` answers).
//!
//! The first process made in a namespace is its init (id 1); once init
//! has died the namespace takes no new process (fork gives ENOMEM, as
//! Linux's alloc_pid does when PIDNS_ADDING is gone).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{alloc_ino, Ns, UserNamespace, PROC_PID_INIT_INO};
use crate::errno::Errno;

/// How deep namespaces nest below the initial one (Linux's
/// MAX_PID_NS_LEVEL): one more is ENOSPC.
pub const MAX_PID_NS_LEVEL: usize = 32;

/// The largest pid (Linux's PID_MAX_LIMIT on 64-bit; the Sentry's kernel
/// ids wrap at the same bound).
pub const PID_MAX: i32 = 4_194_304;

/// What a PID namespace holds.
pub struct PidNamespace {
    /// The namespace it was made in; None for the initial one.
    pub parent: Option<Arc<PidNs>>,
    /// 0 for the initial namespace, one more per nesting.
    pub level: usize,
    map: Mutex<PidMap>,
}

pub type PidNs = Ns<PidNamespace>;

#[derive(Default)]
struct PidMap {
    /// The last id handed out here (ids go up and wrap, as Linux's do).
    last: i32,
    to_k: HashMap<i32, i32>,
    from_k: HashMap<i32, i32>,
    /// Its init's kernel id, once the first process was made.
    init: Option<i32>,
    /// Init has exited: no process may enter.
    closed: bool,
}

impl PidNamespace {
    /// The sandbox's own namespace.
    pub fn initial(owner: Arc<UserNamespace>) -> Arc<PidNs> {
        let map = PidMap {
            init: Some(1),
            ..PidMap::default()
        };
        Ns::new(
            PROC_PID_INIT_INO,
            owner,
            PidNamespace {
                parent: None,
                level: 0,
                map: Mutex::new(map),
            },
        )
    }

    /// A namespace below `parent`, owned by `owner` (ENOSPC past
    /// [`MAX_PID_NS_LEVEL`]).
    pub fn new_child(parent: &Arc<PidNs>, owner: Arc<UserNamespace>) -> Result<Arc<PidNs>, Errno> {
        if parent.level >= MAX_PID_NS_LEVEL {
            return Err(Errno::ENOSPC);
        }
        Ok(Ns::new(
            alloc_ino(),
            owner,
            PidNamespace {
                parent: Some(parent.clone()),
                level: parent.level + 1,
                map: Mutex::new(PidMap::default()),
            },
        ))
    }

    /// The id kernel id `kid` has here, or None for a task this
    /// namespace cannot see.
    pub fn pid_of(&self, kid: i32) -> Option<i32> {
        if self.level == 0 {
            return Some(kid);
        }
        self.map.lock().unwrap().from_k.get(&kid).copied()
    }

    /// [`PidNamespace::pid_of`] with Linux's 0 for an invisible task.
    pub fn nr(&self, kid: i32) -> i32 {
        self.pid_of(kid).unwrap_or(0)
    }

    /// The kernel id of the task that has id `pid` here.
    pub fn kernel_pid(&self, pid: i32) -> Option<i32> {
        if pid <= 0 {
            return None;
        }
        if self.level == 0 {
            return Some(pid);
        }
        self.map.lock().unwrap().to_k.get(&pid).copied()
    }

    /// Its init's kernel id (None before the first process, and after
    /// init has died).
    pub fn init(&self) -> Option<i32> {
        let m = self.map.lock().unwrap();
        if m.closed {
            None
        } else {
            m.init
        }
    }

    /// Whether its init was ever made (/proc/PID/ns/pid_for_children
    /// names no namespace before that, as on Linux).
    pub fn has_had_init(&self) -> bool {
        self.map.lock().unwrap().init.is_some()
    }

    /// Init has died: every task still here is being killed, and no new
    /// one may come.
    pub fn close(&self) {
        self.map.lock().unwrap().closed = true;
    }
}

/// The namespaces `ns` and its ancestors, innermost first.
pub fn chain(ns: &Arc<PidNs>) -> Vec<Arc<PidNs>> {
    let mut v = vec![ns.clone()];
    while let Some(p) = v.last().and_then(|n| n.parent.clone()) {
        v.push(p);
    }
    v
}

/// Whether `ancestor` is `ns` or one of its ancestors (a task of
/// `ancestor` sees every task of `ns`).
pub fn contains(ancestor: &Arc<PidNs>, ns: &Arc<PidNs>) -> bool {
    chain(ns).iter().any(|n| Arc::ptr_eq(n, ancestor))
}

/// Gives a new task an id in `ns` and in every ancestor, and returns its
/// kernel id, which `kernel_id` hands out: asked for a number (clone3's
/// set_tid reaching the initial namespace) it gives that one or EEXIST,
/// asked for none it picks one. A process (not a thread) that is the
/// first of its namespace becomes its init, id 1.
///
/// `set_tid` is clone3's: the ids wanted, innermost namespace first, one
/// per level at most; the levels it does not reach number as usual. Each
/// wanted id is checked level by level from the innermost, as Linux's
/// alloc_pid does: outside 1..PID_MAX, or other than 1 in a namespace
/// without an init, is EINVAL; a namespace whose owner `may_choose` says
/// the caller lacks CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN) over is
/// EPERM; an id in use is EEXIST. ENOMEM when `ns`'s init has died.
///
/// The caller holds the kernel's pid table lock, so no other clone takes
/// a number between the checks here and the maps' update.
pub fn attach(
    ns: &Arc<PidNs>,
    process: bool,
    set_tid: &[i32],
    may_choose: &dyn Fn(&UserNamespace) -> bool,
    kernel_id: &mut dyn FnMut(Option<i32>) -> Result<i32, Errno>,
) -> Result<i32, Errno> {
    if set_tid.len() > ns.level + 1 {
        return Err(Errno::EINVAL);
    }
    let levels = chain(ns);
    // The id each nested level gets, innermost first; chosen before any
    // map changes so a failure leaves every namespace as it was.
    let mut ids = Vec::with_capacity(levels.len());
    let mut kid = None;
    for (i, n) in levels.iter().enumerate() {
        let want = set_tid.get(i).copied();
        if let Some(tid) = want {
            if !(1..PID_MAX).contains(&tid) {
                return Err(Errno::EINVAL);
            }
            if tid != 1 && n.map.lock().unwrap().init.is_none() {
                return Err(Errno::EINVAL);
            }
            if !may_choose(&n.owner) {
                return Err(Errno::EPERM);
            }
        }
        if n.level == 0 {
            kid = Some(kernel_id(want)?);
            break;
        }
        let mut m = n.map.lock().unwrap();
        let id = match want {
            Some(tid) if m.to_k.contains_key(&tid) => return Err(Errno::EEXIST),
            Some(tid) => tid,
            None if i == 0 && m.init.is_none() => 1,
            None => next_free(&mut m),
        };
        ids.push(id);
    }
    let kid = kid.expect("every chain ends in the initial namespace");
    {
        let m = ns.map.lock().unwrap();
        if m.closed || (!process && m.init.is_none()) {
            return Err(Errno::ENOMEM);
        }
    }
    for (i, (n, id)) in levels.iter().zip(ids).enumerate() {
        let mut m = n.map.lock().unwrap();
        if i == 0 && m.init.is_none() {
            m.init = Some(kid);
        }
        m.to_k.insert(id, kid);
        m.from_k.insert(kid, id);
    }
    Ok(kid)
}

fn next_free(m: &mut PidMap) -> i32 {
    loop {
        // Init keeps 1; later ids wrap past it, as Linux's pid_max wrap
        // restarts above the reserved low ids.
        m.last = if m.last >= PID_MAX - 1 { 2 } else { m.last + 1 };
        if !m.to_k.contains_key(&m.last) {
            return m.last;
        }
    }
}

/// Forgets kernel id `kid` in `ns` and its ancestors: no task or process
/// has it any more.
pub fn detach(ns: &Arc<PidNs>, kid: i32) {
    for n in chain(ns) {
        if n.level == 0 {
            break;
        }
        let mut m = n.map.lock().unwrap();
        if let Some(id) = m.from_k.remove(&kid) {
            m.to_k.remove(&id);
        }
    }
}

/// Every id of `kid`, from the namespace `from` down to its own (the
/// NSpid line of /proc/PID/status: outermost the looker's).
pub fn ids_from(from: &Arc<PidNs>, own: &Arc<PidNs>, kid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    for n in chain(own) {
        match n.pid_of(kid) {
            Some(id) => v.push(id),
            None => break,
        }
        if Arc::ptr_eq(&n, from) {
            v.reverse();
            return v;
        }
    }
    Vec::new()
}
