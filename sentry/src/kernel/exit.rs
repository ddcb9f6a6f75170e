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
    k.locks.exited(tg.tgid);
    let (wait_status, children, exit_signal) = {
        let mut i = tg.inner.lock().unwrap();
        let s = i.group_exit.unwrap_or(status);
        i.exit = Some(s);
        i.exit_comm = handle.comm.lock().unwrap().clone();
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
        k.set_top_exit(1, wait_status);
        return;
    }
    let Some(parent) = tg.parent() else {
        // A process the runtime's `exec` started: its status goes there.
        k.pids.lock().unwrap().groups.remove(&tg.tgid);
        k.set_top_exit(tg.tgid, wait_status);
        return;
    };
    let act = parent.actions.lock().unwrap()[(libc::SIGCHLD - 1) as usize];
    let autoreap =
        act.handler == libc::SIG_IGN as u64 || act.flags & libc::SA_NOCLDWAIT as u64 != 0;
    if autoreap {
        parent
            .inner
            .lock()
            .unwrap()
            .children
            .retain(|c| !Arc::ptr_eq(c, tg));
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

fn is_stop_signal(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    )
}

const STOP_SIGNALS: [i32; 4] = [libc::SIGSTOP, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];

/// What sending `sig` does before it is queued (Linux's prepare_signal):
/// SIGCONT resumes a stopped group and discards pending stop signals; a stop
/// signal discards a pending SIGCONT.
pub fn prepare_signal(tg: &ThreadGroup, sig: i32) {
    if sig == libc::SIGCONT {
        let (tasks, resumed) = {
            let mut i = tg.inner.lock().unwrap();
            for s in STOP_SIGNALS {
                i.pending.remove(s);
            }
            let resumed = i.stopped.take().is_some();
            if resumed {
                i.wait_cont_pending = true;
                i.wait_stop_pending = None;
            }
            (i.tasks.clone(), resumed)
        };
        for t in &tasks {
            let mut s = t.sig.lock().unwrap();
            for st in STOP_SIGNALS {
                s.pending.remove(st);
            }
        }
        if resumed {
            tg.stop_queue.notify_all();
            for t in &tasks {
                t.waiter.notify();
            }
            notify_parent_stop(tg, libc::CLD_CONTINUED, libc::SIGCONT);
        }
    } else if is_stop_signal(sig) {
        let tasks = {
            let mut i = tg.inner.lock().unwrap();
            i.pending.remove(libc::SIGCONT);
            i.tasks.clone()
        };
        for t in tasks {
            t.sig.lock().unwrap().pending.remove(libc::SIGCONT);
        }
    }
}

/// Tells the parent a child stopped or continued: SIGCHLD (unless the
/// parent asked for SA_NOCLDSTOP) and a wake-up of its waiters.
pub fn notify_parent_stop(tg: &ThreadGroup, code: i32, sig: i32) {
    let Some(parent) = tg.parent() else { return };
    let act = parent.actions.lock().unwrap()[(libc::SIGCHLD - 1) as usize];
    if act.flags & libc::SA_NOCLDSTOP as u64 == 0 {
        send_group(&parent, SigInfo::child(code, tg.tgid, 0, sig));
    }
    parent.child_events.notify_all();
}

/// Queues a process-directed signal and wakes the group's tasks so one that
/// does not block it takes it.
pub fn send_group(tg: &ThreadGroup, info: SigInfo) {
    prepare_signal(tg, info.signo);
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
    let mut taken = false;
    for t in &tasks {
        if info.signo == libc::SIGKILL {
            t.kill();
        } else if t.sig.lock().unwrap().mask & crate::kernel::signal::bit(info.signo) == 0 {
            t.kick();
            taken = true;
            break;
        }
    }
    if !taken && info.signo != libc::SIGKILL {
        // Blocked everywhere: nobody is interrupted, but sleepers that wait
        // for pending signals (signalfd, sigtimedwait) must look again.
        for t in &tasks {
            t.waiter.notify();
        }
    }
}
