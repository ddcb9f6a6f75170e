//! What happens when a task or a whole thread group ends.

use std::sync::Arc;

use crate::kernel::signal::SigInfo;
use crate::kernel::task::TaskHandle;
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::Kernel;

/// Removes an exited task; if it was the last of its group, the group
/// becomes a zombie for its parent to reap (or is reaped at once if the
/// parent ignores SIGCHLD), and its children go to init.
pub fn task_exited(k: &Arc<Kernel>, handle: &Arc<TaskHandle>, tg: &Arc<ThreadGroup>, status: i32) {
    let last = {
        let mut i = tg.inner.lock().unwrap();
        i.tasks.retain(|t| t.tid != handle.tid);
        i.tasks.is_empty()
    };
    k.pids.lock().unwrap().tasks.remove(&handle.tid);
    if !last {
        return;
    }
    let (wait_status, children, exit_signal) = {
        let mut i = tg.inner.lock().unwrap();
        let s = i.group_exit.unwrap_or(status);
        i.exit = Some(s);
        (s, std::mem::take(&mut i.children), i.exit_signal)
    };
    let init = k.group(1).filter(|g| !Arc::ptr_eq(g, tg));
    for c in children {
        let zombie = c.inner.lock().unwrap().exit.is_some();
        match &init {
            Some(init) if !zombie => {
                c.inner.lock().unwrap().parent = Some(Arc::downgrade(init));
                init.inner.lock().unwrap().children.push(c);
            }
            _ => {
                k.pids.lock().unwrap().groups.remove(&c.tgid);
            }
        }
    }
    if tg.tgid == 1 {
        // When init dies the PID namespace dies with it.
        k.pids.lock().unwrap().groups.remove(&1);
        for g in k.all_groups() {
            let tasks = g.inner.lock().unwrap().tasks.clone();
            for t in tasks {
                t.kill();
            }
        }
        k.set_init_exit(wait_status);
        return;
    }
    let Some(parent) = tg.parent() else {
        k.pids.lock().unwrap().groups.remove(&tg.tgid);
        return;
    };
    let act = parent.actions.lock().unwrap()[(libc::SIGCHLD - 1) as usize];
    let autoreap = act.handler == libc::SIG_IGN as u64 || act.flags & libc::SA_NOCLDWAIT as u64 != 0;
    if autoreap {
        parent.inner.lock().unwrap().children.retain(|c| !Arc::ptr_eq(c, tg));
        k.pids.lock().unwrap().groups.remove(&tg.tgid);
    } else if exit_signal > 0 {
        let (code, st) = if wait_status & 0x7f == 0 {
            (libc::CLD_EXITED, (wait_status >> 8) & 0xff)
        } else if wait_status & 0x80 != 0 {
            (libc::CLD_DUMPED, wait_status & 0x7f)
        } else {
            (libc::CLD_KILLED, wait_status & 0x7f)
        };
        let uid = handle.creds.lock().unwrap().uid;
        let mut info = SigInfo::child(code, tg.tgid, uid, st);
        info.signo = exit_signal;
        send_group(&parent, info);
    }
    parent.child_events.notify_all();
}

/// Queues a process-directed signal and wakes the group's tasks so one that
/// does not block it takes it.
pub fn send_group(tg: &Arc<ThreadGroup>, info: SigInfo) {
    let tasks = {
        let mut i = tg.inner.lock().unwrap();
        if i.exit.is_some() {
            return;
        }
        if info.signo == libc::SIGKILL {
            i.group_exit.get_or_insert(libc::SIGKILL);
            i.tasks.clone()
        } else if i
            .tasks
            .iter()
            .all(|t| crate::kernel::task::ignored(tg, info.signo, t.sig.lock().unwrap().mask))
        {
            return;
        } else {
            i.pending.push(info);
            i.tasks.clone()
        }
    };
    for t in tasks {
        if info.signo == libc::SIGKILL {
            t.kill();
        } else if t.sig.lock().unwrap().mask & crate::kernel::signal::bit(info.signo) == 0 {
            t.kick();
            break;
        }
    }
}
