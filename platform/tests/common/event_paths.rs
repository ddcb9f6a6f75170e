//! The event-path tests every platform must pass, written once: interrupts
//! of a busy loop and of a fault, page-table changes reaching new and
//! running threads, a stale interrupter, a thousand threads and FPU state
//! per thread. Several came from KVM bugs (their comments say which); each
//! holds for any platform behind the `Platform` traits.
//!
//! A platform's test file includes this module and calls
//! `event_path_tests!()`, which expands in its scope: it provides
//! `setup() -> Option<Mem>` (skipping loudly where the platform is
//! missing), `Mem { p, put }`, `regs_at`, and `CODE`, `DATA`, `RX`, `RW`,
//! `GETPID`.

macro_rules! event_path_tests {
    () => {
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
            let pending = ctx.new_thread().unwrap();
            let ev = std::thread::spawn(move || {
                let mut c = pending.attach().unwrap();
                let mut r = regs_at(CODE);
                let ev = c.switch(&mut r);
                c.release();
                ev
            })
            .join()
            .unwrap();
            assert_eq!(
                ev,
                Event::Fault {
                    signo: libc::SIGSEGV,
                    addr: DATA,
                    code: SEGV_ACCERR
                }
            );
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
            assert_eq!(
                t.join().unwrap(),
                Event::Fault {
                    signo: libc::SIGSEGV,
                    addr: DATA,
                    code: SEGV_MAPERR
                }
            );
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
            // Another thread does not see this one's registers.
            let pending = ctx.new_thread().unwrap();
            let other = std::thread::spawn(move || {
                let mut c = pending.attach().unwrap();
                let f = c.fpu().unwrap();
                c.release();
                f
            })
            .join()
            .unwrap();
            assert_ne!(&other.0[176..184], &0x55u64.to_le_bytes());
        }
    };
}
