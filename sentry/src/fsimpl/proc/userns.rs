//! /proc/PID/uid_map, gid_map and setgroups: the target's user namespace,
//! read as Linux shows it and written once with Linux's rules
//! (`kernel/namespaces/user.rs`). The writer is the task that looked the
//! file up (Linux checks the opener and the writer; here they are one).

use std::sync::Arc;

use super::target::Target;
use super::{GenFn, GenInode, WriteFn};
use crate::errno::Errno;
use crate::kernel::namespaces::user::MapKind;
use crate::kernel::namespaces::UserNamespace;

fn user_ns(t: &Target) -> Result<Arc<UserNamespace>, Errno> {
    let task = t.snap()?.task.ok_or(Errno::ESRCH)?;
    let ns = task.creds.lock().unwrap().user_ns.0.clone();
    Ok(ns)
}

pub(super) fn file(t: &Target, name: &str) -> Result<GenInode, Errno> {
    let (t1, t2) = (t.clone(), t.clone());
    let kind = match name {
        "uid_map" => Some(MapKind::Uid),
        "gid_map" => Some(MapKind::Gid),
        _ => None,
    };
    let gen: GenFn = Arc::new(move || {
        let ns = user_ns(&t1)?;
        Ok(match kind {
            Some(k) => ns.map_text(k).into_bytes(),
            None if ns.setgroups_denied() => b"deny\n".to_vec(),
            None => b"allow\n".to_vec(),
        })
    });
    let write: WriteFn = Arc::new(move |buf: &[u8]| {
        let ns = user_ns(&t2)?;
        match kind {
            Some(k) => {
                let k2 = t2.kernel()?;
                let writer = t2.looker.and_then(|tid| k2.task(tid)).ok_or(Errno::EPERM)?;
                let creds = writer.creds.lock().unwrap().clone();
                ns.write_map(k, buf, &creds)
            }
            None => ns.write_setgroups(buf),
        }
    });
    let mut g = t.file(name, 0o644, gen);
    g.write = Some(write);
    Ok(g)
}
