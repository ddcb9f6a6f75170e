//! CPU time as Linux counts it: only time on a CPU, however long the host
//! made the application wait for one. The program runs natively and in
//! the sandbox while busy threads of this test keep every host CPU taken.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tests::{assert_same, c_program, require, sandbox, Cmd};

/// Threads that keep every host CPU busy until dropped.
struct HostLoad {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl HostLoad {
    fn start() -> HostLoad {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..cpus)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    // Above the sandbox's own threads, so that the host's
                    // scheduler really makes them wait (a woken thread of
                    // equal weight would preempt a spinner at once). Needs
                    // root; without it the load is only lighter.
                    // SAFETY: setpriority changes this thread's nice value.
                    unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as u32, -15) };
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        HostLoad { stop, threads }
    }
}

impl Drop for HostLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A thread that sleeps 100 ms between quick system calls is charged
/// almost no CPU time by its thread clock, its process clock and
/// getrusage, on a host with every CPU busy.
#[test]
fn time_waiting_for_a_host_cpu_is_not_cpu_time() {
    let program = require!(c_program("cpu_time_idle"));
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path")]).timeout(Duration::from_secs(120));
    // The sandbox is built before the load starts.
    require!(sandbox());
    let _load = HostLoad::start();
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    let sandboxed = cmd.run_sandboxed();
    assert_same(&native, &sandboxed);
}
