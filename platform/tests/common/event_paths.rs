//! The event-path tests every platform must pass, written once: system
//! calls (registers as Linux leaves them), demand and copy-on-write faults,
//! exceptions as Linux signals, interrupts of a busy loop and of a fault,
//! page-table changes reaching new and running threads, a stale
//! interrupter, a thousand threads and FPU state per thread. Several came
//! from KVM bugs (their comments say which); each holds for any platform
//! behind the `Platform` traits.
//!
//! A platform's test file includes this module (`use event_paths::*` for
//! the addresses, constants and `regs_at` below) and calls
//! `event_path_tests!()`, which expands in its scope: it provides
//! `setup() -> Option<Mem>` (skipping loudly where the platform is
//! missing), `Mem { p, base, put }` over a [`memory_file`], and `rax_at_a_syscall_stop(nr)`: what rax holds when a system
//! call stops (the number itself in a guest; -ENOSYS as PTRACE_SYSEMU
//! shows it), and `A_NEW_THREAD_INHERITS_FPU`: whether a new thread's
//! FPU registers start as those of the thread it was cloned from.

use std::os::fd::{FromRawFd, OwnedFd};

use platform::{Context, Event, Regs};

// si_code values (the libc crate does not export them on every target).
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const FPE_INTDIV: i32 = 1;
pub const ILL_ILLOPN: i32 = 2;

/// Where the tests put code and data in an address space.
pub const CODE: u64 = 0x10_0000;
pub const DATA: u64 = 0x20_0000;

pub const RX: i32 = libc::PROT_READ | libc::PROT_EXEC;
pub const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;
/// mov eax, 39; syscall
pub const GETPID: [u8; 7] = [0xb8, 39, 0, 0, 0, 0x0f, 0x05];

/// The size of the memory file each test maps (sparse).
pub const FILE: u64 = 1 << 30;

/// A new memory file of FILE bytes and where it is mapped here.
pub fn memory_file() -> (OwnedFd, *mut u8) {
    // SAFETY: plain syscalls creating and sizing a new memfd we own.
    unsafe {
        let fd = libc::memfd_create(c"test".as_ptr(), 0);
        assert!(fd >= 0);
        assert_eq!(libc::ftruncate(fd, FILE as i64), 0);
        let p = libc::mmap(
            std::ptr::null_mut(),
            FILE as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_NORESERVE,
            fd,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        (OwnedFd::from_raw_fd(fd), p as *mut u8)
    }
}

/// Copies `bytes` to offset `off` of the memory file mapped at `base`.
pub fn put(base: *mut u8, off: u64, bytes: &[u8]) {
    assert!(off + bytes.len() as u64 <= FILE);
    // SAFETY: base maps FILE bytes of the memfd (`memory_file`); checked
    // above.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(off as usize), bytes.len()) };
}

/// Runs a new thread of `ctx`'s address space from CODE, on a host thread
/// of its own (it attaches there); its first event and registers.
pub fn first_event_of_a_new_thread(ctx: &mut dyn Context) -> (Event, Regs) {
    let pending = ctx.new_thread().unwrap();
    std::thread::spawn(move || {
        let mut c = pending.attach().unwrap();
        let mut r = regs_at(CODE);
        let ev = c.switch(&mut r);
        c.release();
        (ev, r)
    })
    .join()
    .unwrap()
}

/// The event of a SIGSEGV at `addr` with si_code `code`.
pub fn segv(addr: u64, code: i32) -> Event {
    Event::Fault {
        signo: libc::SIGSEGV,
        addr,
        code,
    }
}

/// User-mode registers starting at `rip`, the stack in DATA's page.
pub fn regs_at(rip: u64) -> Regs {
    // SAFETY: plain data, zero is valid.
    let mut r: Regs = unsafe { std::mem::zeroed() };
    r.rip = rip;
    r.cs = 0x33;
    r.ss = 0x2b;
    r.eflags = 0x202;
    r.rsp = DATA + 0x800;
    r
}

macro_rules! event_path_tests {
    () => {
        #[test]
        fn syscalls_faults_threads_and_memory() {
            let Some(m) = setup() else { return };
            let code: &[u8] = &[
                0xb8, 39, 0, 0, 0, 0x0f, 0x05, // getpid
                0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x20, 0x00, // mov rbx, [0x200000]
                0xb8, 60, 0, 0, 0, 0x0f, 0x05, // exit
                0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00, // mov rax, [0]
            ];
            m.put(0, code);
            m.put(4096, &0xfeedu64.to_le_bytes());
            let mut ctx = m.p.new_address_space().unwrap();
            ctx.map(CODE, 4096, RX, 0).unwrap();
            ctx.map(DATA, 4096, RW, 4096).unwrap();
            let mut regs = regs_at(CODE);
            regs.r11 = 0x1234;
            assert_eq!(ctx.switch(&mut regs), Event::Syscall);
            assert_eq!(regs.orig_rax, 39);
            assert_eq!(
                regs.rip,
                CODE + 7,
                "rip is after the syscall, as ptrace shows it"
            );
            assert_eq!(regs.rcx, CODE + 7, "rcx holds the return address");
            assert_eq!(regs.r11 & 0xff, regs.eflags & 0xff, "r11 holds the flags");
            regs.rax = 1234;
            assert_eq!(ctx.switch(&mut regs), Event::Syscall);
            assert_eq!(regs.orig_rax, 60);
            assert_eq!(
                regs.rax,
                rax_at_a_syscall_stop(60),
                "rax as this platform shows it at a stop"
            );
            assert_eq!(regs.rbx, 0xfeed, "the guest sees the memory file's bytes");
            match ctx.switch(&mut regs) {
                Event::Fault { signo, addr, code } => {
                    assert_eq!(signo, libc::SIGSEGV);
                    assert_eq!(addr, 0);
                    assert_eq!(code, SEGV_MAPERR);
                }
                e => panic!("expected a fault, got {e:?}"),
            }
            // A second thread runs in the same address space.
            let (ev, r) = first_event_of_a_new_thread(ctx.as_mut());
            assert_eq!((ev, r.orig_rax), (Event::Syscall, 39));
            ctx.interrupter().destroy_address_space();
            assert_eq!(ctx.switch(&mut regs), Event::Gone);
        }

        #[test]
        fn demand_fault_then_mapped_page_runs() {
            let Some(m) = setup() else { return };
            // mov rbx, [0x200000]; getpid
            let mut code = vec![0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x20, 0x00];
            code.extend_from_slice(&GETPID);
            m.put(0, &code);
            m.put(8192, &0xabcdu64.to_le_bytes());
            let mut ctx = m.p.new_address_space().unwrap();
            ctx.map(CODE, 4096, RX, 0).unwrap();
            let mut r = regs_at(CODE);
            assert_eq!(ctx.switch(&mut r), segv(DATA, SEGV_MAPERR));
            assert_eq!(r.rip, CODE, "the faulting instruction runs again");
            ctx.map(DATA, 4096, RW, 8192).unwrap();
            assert_eq!(ctx.switch(&mut r), Event::Syscall);
            assert_eq!(r.rbx, 0xabcd);
        }

        #[test]
        fn write_to_read_only_page_faults_and_a_copy_replaces_it() {
            let Some(m) = setup() else { return };
            // mov qword [0x200000], 7; mov rbx, [0x200000]; getpid
            let mut code = vec![0x48, 0xc7, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 7, 0, 0, 0];
            code.extend_from_slice(&[0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x20, 0x00]);
            code.extend_from_slice(&GETPID);
            m.put(0, &code);
            m.put(8192, &1u64.to_le_bytes());
            m.put(12288, &1u64.to_le_bytes());
            let mut ctx = m.p.new_address_space().unwrap();
            ctx.map(CODE, 4096, RX, 0).unwrap();
            ctx.map(DATA, 4096, RW, 8192).unwrap();
            // Read it once writable first (KVM then holds a writable shadow
            // entry, which the protect must reach).
            let mut r = regs_at(CODE + 12);
            assert_eq!(ctx.switch(&mut r), Event::Syscall);
            assert_eq!(r.rbx, 1);
            // Shared copy-on-write: read-only now.
            ctx.protect(DATA, 4096, libc::PROT_READ).unwrap();
            let mut r = regs_at(CODE);
            assert_eq!(ctx.switch(&mut r), segv(DATA, SEGV_ACCERR));
            // The MM's copy goes over it; the store then lands in the copy.
            ctx.map(DATA, 4096, RW, 12288).unwrap();
            assert_eq!(ctx.switch(&mut r), Event::Syscall);
            assert_eq!(r.rbx, 7);
            // SAFETY: offsets inside the mapping.
            unsafe {
                assert_eq!(
                    *(m.base.add(12288) as *const u64),
                    7,
                    "the copy took the store"
                );
                assert_eq!(*(m.base.add(8192) as *const u64), 1, "the original did not");
            }
        }

        /// Runs `code` (at CODE) in a new address space and returns its event.
        fn event_of(m: &Mem, code: &[u8]) -> (Event, Regs) {
            m.put(0, code);
            let mut ctx = m.p.new_address_space().unwrap();
            ctx.map(CODE, 4096, RX, 0).unwrap();
            ctx.map(DATA, 4096, RW, 4096).unwrap();
            let mut r = regs_at(CODE);
            let e = ctx.switch(&mut r);
            (e, r)
        }

        #[test]
        fn exceptions_become_linux_signals() {
            let Some(m) = setup() else { return };
            // mov rax, [0xdead000]
            let (e, r) = event_of(&m, &[0x48, 0x8b, 0x04, 0x25, 0x00, 0xd0, 0xea, 0x0d]);
            assert_eq!(e, segv(0xdead000, SEGV_MAPERR));
            assert_eq!(r.rip, CODE);
            // xor ecx, ecx; div ecx
            let (e, r) = event_of(&m, &[0x31, 0xc9, 0xf7, 0xf1]);
            assert_eq!(
                e,
                Event::Trap {
                    signo: libc::SIGFPE,
                    addr: CODE + 2,
                    code: FPE_INTDIV
                }
            );
            assert_eq!(r.rip, CODE + 2);
            // ud2
            let (e, _) = event_of(&m, &[0x0f, 0x0b]);
            assert_eq!(
                e,
                Event::Trap {
                    signo: libc::SIGILL,
                    addr: CODE,
                    code: ILL_ILLOPN
                }
            );
            // int3: after the instruction, SI_KERNEL as Linux sends it.
            let (e, r) = event_of(&m, &[0xcc]);
            assert_eq!(
                e,
                Event::Trap {
                    signo: libc::SIGTRAP,
                    addr: 0,
                    code: 0x80
                }
            );
            assert_eq!(r.rip, CODE + 1);
            // A privileged instruction (hlt): SIGSEGV, SI_KERNEL.
            let (e, _) = event_of(&m, &[0xf4]);
            assert_eq!(e, segv(0, 0x80));
        }

        #[test]
        fn interrupt_stops_a_busy_loop() {
            let Some(m) = setup() else { return };
            m.put(0, &[0xeb, 0xfe]);
            let mut ctx = m.p.new_address_space().unwrap();
            ctx.map(CODE, 4096, RX, 0).unwrap();
            let intr = ctx.interrupter();
            let h = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                intr.interrupt();
            });
            let mut r = regs_at(CODE);
            assert_eq!(ctx.switch(&mut r), Event::Interrupted);
            assert_eq!(r.rip, CODE);
            h.join().unwrap();
            // An interrupt before the switch is not lost either.
            ctx.interrupter().interrupt();
            assert_eq!(ctx.switch(&mut r), Event::Interrupted);
        }

        /// A kick can end KVM_RUN after KVM found a fault for the guest and before
        /// it delivered it; the fault then waits in the vCPU. The context must not
        /// resume somewhere else (a signal handler) with it still queued: it would
        /// be raised there, with the old fault's address.
        #[test]
        fn interrupted_fault_is_not_raised_at_the_next_entry() {
            let Some(m) = setup() else { return };
            // At CODE: mov qword [0x200000], 7 (on a read-only page: faults for
            // ever). At CODE + 64, the "handler": getpid.
            let mut code = vec![0x48, 0xc7, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 7, 0, 0, 0];
            code.resize(64, 0x90);
            code.extend_from_slice(&GETPID);
            m.put(0, &code);
            let mut ctx = m.p.new_address_space().unwrap();
            ctx.map(CODE, 4096, RX, 0).unwrap();
            ctx.map(DATA, 4096, libc::PROT_READ, 4096).unwrap();
            let intr = ctx.interrupter();
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let stop = done.clone();
            let kicker = std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    intr.interrupt();
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            });
            const INTERRUPTS: usize = 500;
            let mut interrupts = 0;
            while interrupts < INTERRUPTS {
                let mut r = regs_at(CODE);
                match ctx.switch(&mut r) {
                    Event::Fault { addr, .. } => {
                        assert_eq!((addr, r.rip), (DATA, CODE), "the store faults");
                    }
                    Event::Interrupted => {
                        interrupts += 1;
                        // As a signal delivery does: resume elsewhere.
                        let mut h = regs_at(CODE + 64);
                        loop {
                            match ctx.switch(&mut h) {
                                Event::Interrupted => continue,
                                e => {
                                    assert_eq!(
                                        (e, h.orig_rax),
                                        (Event::Syscall, 39),
                                        "the handler runs; the store's fault stays behind"
                                    );
                                    break;
                                }
                            }
                        }
                    }
                    e => panic!("unexpected {e:?}"),
                }
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            kicker.join().unwrap();
        }

        /// KVM's shadow of a page table belongs to the VM, not to a vCPU: a change
        /// no vCPU has flushed yet (the only thread was in the Sentry) must still
        /// reach a thread that starts afterwards.
        #[test]
        fn a_new_thread_sees_a_change_made_while_no_thread_ran() {
            let Some(m) = setup() else { return };
            // mov qword [0x200000], 7; getpid
            let mut code = vec![0x48, 0xc7, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 7, 0, 0, 0];
            code.extend_from_slice(&GETPID);
            m.put(0, &code);
            let mut ctx = m.p.new_address_space().unwrap();
            ctx.map(CODE, 4096, RX, 0).unwrap();
            ctx.map(DATA, 4096, RW, 4096).unwrap();
            // A store, so KVM holds a writable shadow entry.
            let mut r = regs_at(CODE);
            assert_eq!(ctx.switch(&mut r), Event::Syscall);
            // Copy-on-write after a fork: read-only now.
            ctx.protect(DATA, 4096, libc::PROT_READ).unwrap();
            let (ev, _) = first_event_of_a_new_thread(ctx.as_mut());
            assert_eq!(ev, segv(DATA, SEGV_ACCERR));
        }

        /// A context's vCPU goes back to the pool at `release` and the next context
        /// takes it: an Interrupter kept from the first must not reach the second.
        #[test]
        fn a_released_contexts_interrupter_leaves_the_next_one_alone() {
            let Some(m) = setup() else { return };
            m.put(0, &GETPID);
            let mut ctx = m.p.new_address_space().unwrap();
            ctx.map(CODE, 4096, RX, 0).unwrap();
            let pending = ctx.new_thread().unwrap();
            let first = pending.attach().unwrap();
            let stale = first.interrupter();
            first.release();
            // The pool hands the same vCPU to the next context on this thread.
            let mut second = ctx.new_thread().unwrap().attach().unwrap();
            stale.interrupt();
            let mut r = regs_at(CODE);
            assert_eq!(second.switch(&mut r), Event::Syscall);
            assert_eq!(r.orig_rax, 39);
            // Its own Interrupter still works.
            second.interrupter().interrupt();
            assert_eq!(second.switch(&mut r), Event::Interrupted);
            second.release();
        }

        #[test]
        fn unmap_reaches_a_running_thread() {
            let Some(m) = setup() else { return };
            // loop: mov rax, [0x200000]; jmp loop
            m.put(
                0,
                &[0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0xeb, 0xf6],
            );
            let mut ctx = m.p.new_address_space().unwrap();
            ctx.map(CODE, 4096, RX, 0).unwrap();
            ctx.map(DATA, 4096, RW, 4096).unwrap();
            let pending = ctx.new_thread().unwrap();
            let space = ctx.address_space();
            let t = std::thread::spawn(move || {
                let mut c = pending.attach().unwrap();
                let mut r = regs_at(CODE);
                let ev = c.switch(&mut r);
                c.release();
                ev
            });
            std::thread::sleep(std::time::Duration::from_millis(100));
            space.unmap(DATA, 4096).unwrap();
            assert_eq!(t.join().unwrap(), segv(DATA, SEGV_MAPERR));
        }

        #[test]
        fn a_thousand_threads() {
            let Some(m) = setup() else { return };
            m.put(0, &GETPID);
            let mut ctx = m.p.new_address_space().unwrap();
            ctx.map(CODE, 4096, RX, 0).unwrap();
            ctx.map(DATA, 4096, RW, 4096).unwrap();
            const N: usize = 1000;
            let barrier = Arc::new(Barrier::new(N));
            let mut handles = Vec::new();
            for _ in 0..N {
                let pending = ctx.new_thread().unwrap();
                let b = barrier.clone();
                let h = std::thread::Builder::new()
                    .stack_size(128 << 10)
                    .spawn(move || {
                        let mut c = pending.attach().unwrap();
                        let mut r = regs_at(CODE);
                        let ev = c.switch(&mut r);
                        // All of them alive at once.
                        b.wait();
                        c.release();
                        (ev, r.orig_rax)
                    })
                    .unwrap();
                handles.push(h);
            }
            for h in handles {
                assert_eq!(h.join().unwrap(), (Event::Syscall, 39));
            }
        }

        #[test]
        fn fpu_state_is_kept_per_thread() {
            let Some(m) = setup() else { return };
            // movq rax, xmm0; mov rbx, 0x55; movq xmm1, rbx; getpid
            let mut code = vec![0x66, 0x48, 0x0f, 0x7e, 0xc0];
            code.extend_from_slice(&[0x48, 0xc7, 0xc3, 0x55, 0, 0, 0]);
            code.extend_from_slice(&[0x66, 0x48, 0x0f, 0x6e, 0xcb]);
            code.extend_from_slice(&GETPID);
            m.put(0, &code);
            let mut ctx = m.p.new_address_space().unwrap();
            ctx.map(CODE, 4096, RX, 0).unwrap();
            ctx.map(DATA, 4096, RW, 4096).unwrap();
            let mut x: XSave = ctx.fpu().unwrap();
            assert!(x.0.len() >= XSave::FXSAVE_SIZE);
            // xmm0 is at offset 160 of the legacy area.
            x.0[160..168].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
            // XSTATE_BV: the SSE component is in the image.
            x.0[512] |= 2;
            ctx.set_fpu(&x).unwrap();
            let mut r = regs_at(CODE);
            assert_eq!(ctx.switch(&mut r), Event::Syscall);
            assert_eq!(r.orig_rax, 39);
            // rax was overwritten by eax=39 after the movq; check through xmm1.
            let after = ctx.fpu().unwrap();
            assert_eq!(
                &after.0[176..184],
                &0x55u64.to_le_bytes(),
                "xmm1 set by the guest"
            );
            assert_eq!(
                &after.0[160..168],
                &0x1122_3344_5566_7788u64.to_le_bytes(),
                "xmm0 as set_fpu left it"
            );
            // Another thread starts with its own registers, or with this
            // one's where the platform clones it from this one.
            let pending = ctx.new_thread().unwrap();
            let other = std::thread::spawn(move || {
                let mut c = pending.attach().unwrap();
                let f = c.fpu().unwrap();
                c.release();
                f
            })
            .join()
            .unwrap();
            assert_eq!(
                other.0[176..184] == 0x55u64.to_le_bytes(),
                A_NEW_THREAD_INHERITS_FPU,
                "xmm1 of a new thread"
            );
        }
    };
}
