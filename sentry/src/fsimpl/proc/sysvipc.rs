//! The looker's IPC namespace in /proc: /proc/sysvipc (its objects, as `ipcs`
//! reads them) and its shared memory limits under /proc/sys/kernel
//! (shmmax, shmall, shmmni), read and written as Linux's sysctls.

use std::sync::{Arc, Weak};

use super::{path_ino, GenFn, GenInode, Node, TreeDir, WriteFn};
use crate::errno::Errno;
use crate::kernel::ipc::ids::IPCMNI;
use crate::kernel::ipc::shm::Limits;
use crate::kernel::namespaces::IpcNs;
use crate::vfs::InodeRef;

/// /proc/sysvipc.
pub(super) fn dir(k: Option<&Arc<IpcNs>>) -> InodeRef {
    let wk = k.map(Arc::downgrade).unwrap_or_default();
    let file = |name: &str, gen: GenFn| {
        let g = GenInode::new(path_ino(&format!("proc:/sysvipc/{name}")), 0o444, gen);
        (name.to_string(), Node::File(Arc::new(g)))
    };
    let (ws, wm) = (wk.clone(), wk.clone());
    let shm: GenFn = Arc::new(move || {
        let k = wk.upgrade().ok_or(Errno::ENOENT)?;
        Ok(k.shm.proc_listing().into_bytes())
    });
    let msg: GenFn = Arc::new(move || {
        let k = wm.upgrade().ok_or(Errno::ENOENT)?;
        Ok(k.msg.proc_listing().into_bytes())
    });
    let sem: GenFn = Arc::new(move || {
        let k = ws.upgrade().ok_or(Errno::ENOENT)?;
        Ok(k.sem.proc_listing().into_bytes())
    });
    Arc::new(TreeDir {
        key: "proc:/sysvipc".into(),
        children: Arc::new(vec![file("msg", msg), file("sem", sem), file("shm", shm)]),
        magic: libc::PROC_SUPER_MAGIC,
    })
}

/// kernel/shmall, shmmax and shmmni.
pub(super) fn shm_sysctls(k: Option<&Arc<IpcNs>>) -> Vec<(String, Node)> {
    let wk = k.map(Arc::downgrade).unwrap_or_default();
    vec![
        limit(&wk, "shmall", |l| l.shmall, |l, v| l.shmall = v, u64::MAX),
        limit(&wk, "shmmax", |l| l.shmmax, |l, v| l.shmmax = v, u64::MAX),
        limit(
            &wk,
            "shmmni",
            |l| l.shmmni.into(),
            |l, v| l.shmmni = v as u32,
            IPCMNI.into(),
        ),
    ]
}

/// One limit: read from the namespace, and written as a decimal number
/// of at most `max` (Linux's proc_doulongvec_minmax and
/// proc_dointvec_minmax: EINVAL for anything else).
fn limit(
    wk: &Weak<IpcNs>,
    name: &str,
    get: fn(&Limits) -> u64,
    set: fn(&mut Limits, u64),
    max: u64,
) -> (String, Node) {
    let (wr, ww) = (wk.clone(), wk.clone());
    let gen: GenFn = Arc::new(move || {
        let k = wr.upgrade().ok_or(Errno::ENOENT)?;
        Ok(format!("{}\n", get(&k.shm.limits())).into_bytes())
    });
    let write: WriteFn = Arc::new(move |buf: &[u8]| {
        let k = ww.upgrade().ok_or(Errno::ENOENT)?;
        let v: u64 = std::str::from_utf8(buf)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|v| *v <= max)
            .ok_or(Errno::EINVAL)?;
        let mut l = k.shm.limits();
        set(&mut l, v);
        k.shm.set_limits(l);
        Ok(())
    });
    let mut g = GenInode::new(path_ino(&format!("proc:/sys/kernel/{name}")), 0o644, gen).not_seq();
    g.write = Some(write);
    (name.to_string(), Node::File(Arc::new(g)))
}
