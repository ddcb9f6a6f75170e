//! What a tracer's wait4/waitid sees of its tracees: their ptrace-stops
//! (whether or not it asked for WUNTRACED, as Linux reports them) and
//! their exits. A tracee that is also the tracer's own child is reaped
//! by the ordinary child wait; the link just goes with it.

use std::sync::Arc;

use crate::kernel::ptrace::unlink;
use crate::kernel::task::Task;

/// A tracee's state change a wait returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceeEvent {
    /// A ptrace-stop; the status is `(code << 8) | 0x7f`.
    Stopped { tid: i32, status: i32 },
    /// The tracee exited; it is reaped with the report.
    Exited { tid: i32, status: i32 },
}

impl Task {
    /// Looks through this task's tracees for one `pid` selects (wait4's
    /// pid argument) with something to report. The bool: some tracee
    /// matched at all (so the wait is not ECHILD). `consume`: mark the
    /// stop seen, reap the exit (not WNOWAIT).
    pub fn ptrace_wait(
        &self,
        pid: i64,
        options: i32,
        consume: bool,
    ) -> (bool, Option<TraceeEvent>) {
        let links = self.kernel.ptrace.traced_by(&self.tg);
        if links.is_empty() {
            return (false, None);
        }
        let my_pgid = self.tg.inner.lock().unwrap().pgid;
        let mut any = false;
        for l in links {
            if options & libc::__WNOTHREAD != 0 && l.tracer_tid != self.tid {
                continue;
            }
            let matches = match pid {
                p if p > 0 => l.tracee_tid as i64 == p,
                -1 => true,
                0 => l.tracee_tg.inner.lock().unwrap().pgid == my_pgid,
                p => l.tracee_tg.inner.lock().unwrap().pgid as i64 == -p,
            };
            if !matches {
                continue;
            }
            let leader = l.tracee_tid == l.tracee_tg.tgid;
            let (zombie, own_child) = {
                let i = l.tracee_tg.inner.lock().unwrap();
                let own = i
                    .parent
                    .as_ref()
                    .is_some_and(|p| p.as_ptr() == Arc::as_ptr(&self.tg));
                (i.exit, own)
            };
            if leader && own_child && zombie.is_some() {
                // The ordinary wait reaps it; once it has, the link goes.
                let reaped = !self
                    .tg
                    .inner
                    .lock()
                    .unwrap()
                    .children
                    .iter()
                    .any(|c| Arc::ptr_eq(c, &l.tracee_tg));
                if reaped {
                    unlink(&self.kernel, &l);
                }
                continue;
            }
            any = true;
            let mut s = l.state.lock().unwrap();
            if let Some(st) = s.stop.as_mut().filter(|st| !st.reported) {
                if consume {
                    st.reported = true;
                }
                return (
                    true,
                    Some(TraceeEvent::Stopped {
                        tid: l.tracee_tid,
                        status: st.status,
                    }),
                );
            }
            if options & libc::WEXITED == 0 {
                continue;
            }
            let exit = if leader { zombie } else { s.exited };
            if let Some(status) = exit {
                drop(s);
                if consume {
                    unlink(&self.kernel, &l);
                }
                return (
                    true,
                    Some(TraceeEvent::Exited {
                        tid: l.tracee_tid,
                        status,
                    }),
                );
            }
        }
        (any, None)
    }
}
