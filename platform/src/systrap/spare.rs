//! A ready address space made in advance: a platform thread forks a stub
//! from the master stub, gives it its first thread and waits for that
//! thread's first event, so that `new_address_space` (each fork and each
//! exec of the application) takes a context that is ready to run and
//! costs no round trip. One is kept; its stub sleeps in the futex of its
//! syscall thread and its thread's handler, so it costs no CPU, only a
//! process of a few pages.

use std::sync::{Arc, Condvar, Mutex};

use super::context::SystrapContext;
use super::space::Space;

#[derive(Default)]
struct State {
    ready: Option<Box<SystrapContext>>,
    stop: bool,
}

#[derive(Default)]
pub struct Spare {
    state: Mutex<State>,
    cv: Condvar,
}

impl Spare {
    /// Starts the thread that keeps one address space forked from
    /// `master` ready.
    pub fn start(master: Arc<Space>) -> Arc<Spare> {
        let spare = Arc::new(Spare::default());
        let s = spare.clone();
        let made = std::thread::Builder::new()
            .name("systrap-spare".into())
            .spawn(move || s.keep(&master));
        if let Err(e) = made {
            tracing::warn!("systrap: no spare address spaces ({e})");
        }
        spare
    }

    /// A ready context, if one is; the thread then makes the next.
    pub fn take(&self) -> Option<Box<SystrapContext>> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let c = st.ready.take();
        self.cv.notify_one();
        c
    }

    /// Ends the thread; the spare it holds is destroyed.
    pub fn stop(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.stop = true;
        st.ready = None;
        self.cv.notify_one();
    }

    fn keep(&self, master: &Space) {
        // The thread that started us may be pinned next to a stub.
        super::space::restore_affinity(super::sandbox_cpus(), 0);
        loop {
            {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                while st.ready.is_some() && !st.stop {
                    st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.stop {
                    return;
                }
            }
            let made = master.fork().and_then(|space| {
                let (tid, region) = space.new_thread()?;
                SystrapContext::attach(space, tid, region)
            });
            match made {
                Ok(c) => {
                    let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    if st.stop {
                        return;
                    }
                    st.ready = Some(Box::new(c));
                }
                Err(e) => {
                    // new_address_space makes its own from now on.
                    tracing::warn!("systrap: no spare address spaces ({e})");
                    return;
                }
            }
        }
    }
}
