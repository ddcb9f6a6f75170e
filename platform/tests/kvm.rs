//! The KVM platform against /dev/kvm: each event path (syscall, demand and
//! copy-on-write faults, SIGSEGV/SIGFPE/SIGILL/SIGTRAP, interrupts), threads,
//! FPU state, and page-table changes reaching a running vCPU. Skips loudly
//! without /dev/kvm, fails in CI.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Barrier};

use platform::kvm::KvmPlatform;
use platform::{Event, GuestAnswers, Platform, Regs, XSave};

#[macro_use]
#[path = "common/event_paths.rs"]
mod event_paths;
use event_paths::*;

struct Mem {
    _fd: OwnedFd,
    base: *mut u8,
    p: KvmPlatform,
}

impl Mem {
    /// Copies `bytes` to file offset `off`.
    fn put(&self, off: u64, bytes: &[u8]) {
        put(self.base, off, bytes);
    }
}

fn setup() -> Option<Mem> {
    if std::fs::metadata("/dev/kvm").is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "/dev/kvm is not available in CI"
        );
        eprintln!("SKIPPED: /dev/kvm is not available here");
        return None;
    }
    platform::prepare(platform::PlatformKind::Kvm).expect("prepare kvm");
    let (fd, base) = memory_file();
    let p = KvmPlatform::new(fd.as_raw_fd()).expect("kvm platform");
    Some(Mem { _fd: fd, base, p })
}

/// A syscall stops with rax untouched: the guest's own, the number.
fn rax_at_a_syscall_stop(nr: u64) -> u64 {
    nr
}

/// A new thread is a vCPU of its own: its FPU registers are not another
/// thread's.
const A_NEW_THREAD_INHERITS_FPU: bool = false;

event_path_tests!();

/// The platform region is nobody's: reading ring 0's code faults.
#[test]
fn the_platform_region_is_not_readable_from_the_guest() {
    let Some(m) = setup() else { return };
    let mut code = vec![0x48, 0xa1];
    code.extend_from_slice(&(m.p.max_user_address() + 0x2000).to_le_bytes());
    let (e, _) = event_of(&m, &code);
    assert!(
        matches!(
            e,
            Event::Fault {
                signo: libc::SIGSEGV,
                code: SEGV_MAPERR,
                ..
            }
        ),
        "{e:?}"
    );
}

// ---- calls answered in the guest (docs/architecture.md) ----

fn answers() -> GuestAnswers {
    GuestAnswers {
        getpid: 4242,
        gettid: 4243,
        getppid: 17,
        getuid: 1000,
        geteuid: 1001,
        getgid: 2000,
        getegid: 2001,
    }
}

/// Code that sets the flags to `flags`, makes call `nr` and keeps what
/// the application sees after it: r12 = rax, rbx = the flags after, r13 =
/// the flags before, r14 = rcx, r15 = r11; then exit (60) leaves.
fn call_keeping_flags(nr: u64, flags: u32) -> Vec<u8> {
    let mut c = vec![0x68];
    c.extend_from_slice(&flags.to_le_bytes()); // push flags
    c.extend_from_slice(&[0x9d, 0x9c, 0x41, 0x5d]); // popfq; pushfq; pop r13
    c.extend_from_slice(&[0x48, 0xb8]); // mov rax, nr
    c.extend_from_slice(&nr.to_le_bytes());
    c.extend_from_slice(&[0x0f, 0x05]); // syscall
    c.extend_from_slice(&[0x49, 0x89, 0xc4, 0x9c, 0x5b]); // mov r12, rax; pushfq; pop rbx
    c.extend_from_slice(&[0x49, 0x89, 0xce, 0x4d, 0x89, 0xdf]); // mov r14, rcx; mov r15, r11
    c.extend_from_slice(&[0xb8, 60, 0, 0, 0, 0x0f, 0x05]); // exit
    c
}

/// Where `call_keeping_flags`'s `syscall` returns to.
const AFTER_CALL: u64 = CODE + 21;

#[test]
fn served_calls_are_answered_in_the_guest_with_registers_as_linux_leaves_them() {
    let Some(m) = setup() else { return };
    let a = answers();
    // Every flag `syscall` keeps, set and clear: OF SF ZF AF PF CF, AC.
    for flags in [0x0004_08d7u32, 0x202] {
        for &(nr, name, _) in platform::SERVED {
            m.put(0, &call_keeping_flags(nr as u64, flags));
            let mut ctx = m.p.new_address_space().unwrap();
            ctx.map(CODE, 4096, RX, 0).unwrap();
            ctx.map(DATA, 4096, RW, 4096).unwrap();
            ctx.offer_guest_answers(&mut || Some(a));
            let mut r = regs_at(CODE);
            assert_eq!(ctx.switch(&mut r), Event::Syscall, "{name}");
            assert_eq!(r.orig_rax, 60, "{name} was answered without leaving");
            assert_eq!(Some(r.r12), a.answer(nr as u64), "{name}'s answer");
            assert_eq!(r.rbx, r.r13, "{name}: flags as before the call");
            assert_eq!(r.r15, r.r13, "{name}: r11 holds the flags");
            assert_eq!(r.r14, AFTER_CALL, "{name}: rcx holds the return address");
            assert_eq!(r.r13 & 0x4_08d7, (flags & 0x4_08d7) as u64);
            ctx.release();
        }
    }
}

#[test]
fn calls_leave_when_answers_are_off_revoked_or_not_served() {
    let Some(m) = setup() else { return };
    let a = answers();
    let run = |code: &[u8], offer: &mut dyn FnMut(&mut dyn platform::Context)| -> Regs {
        m.put(0, code);
        let mut ctx = m.p.new_address_space().unwrap();
        ctx.map(CODE, 4096, RX, 0).unwrap();
        ctx.map(DATA, 4096, RW, 4096).unwrap();
        offer(&mut *ctx);
        let mut r = regs_at(CODE);
        assert_eq!(ctx.switch(&mut r), Event::Syscall);
        ctx.release();
        r
    };
    let getpid = call_keeping_flags(39, 0x202);
    // No offer: the call leaves, as every call did before.
    assert_eq!(run(&getpid, &mut |_| {}).orig_rax, 39);
    // An offer of nothing.
    assert_eq!(
        run(&getpid, &mut |c| c.offer_guest_answers(&mut || None)).orig_rax,
        39
    );
    // Revoked from another thread after the offer.
    let r = run(&getpid, &mut |c| {
        c.offer_guest_answers(&mut || Some(a));
        let i = c.interrupter();
        std::thread::spawn(move || i.revoke_guest_answers())
            .join()
            .unwrap();
    });
    assert_eq!(r.orig_rax, 39);
    // Revoked while the snapshot was being taken: the offer must not hold.
    let r = run(&getpid, &mut |c| {
        let i = c.interrupter();
        c.offer_guest_answers(&mut || {
            i.revoke_guest_answers();
            Some(a)
        });
    });
    assert_eq!(r.orig_rax, 39);
    // Offered again after a revocation: answered again.
    let r = run(&getpid, &mut |c| {
        c.interrupter().revoke_guest_answers();
        c.offer_guest_answers(&mut || Some(a));
    });
    assert_eq!((r.orig_rax, r.r12), (60, 4242));
    // A number with high bits set is not getpid's.
    let high = call_keeping_flags(0x1_0000_0027, 0x202);
    let r = run(&high, &mut |c| c.offer_guest_answers(&mut || Some(a)));
    assert_eq!(r.orig_rax, 0x1_0000_0027);
    // Not a served call (getpgrp).
    let other = call_keeping_flags(libc::SYS_getpgrp as u64, 0x202);
    let r = run(&other, &mut |c| c.offer_guest_answers(&mut || Some(a)));
    assert_eq!(r.orig_rax, libc::SYS_getpgrp as u64);
    // DF set: `syscall` cleared it, only the full return gives it back.
    let mut std_getpid = vec![0xfd];
    std_getpid.extend_from_slice(&GETPID);
    let r = run(&std_getpid, &mut |c| c.offer_guest_answers(&mut || Some(a)));
    assert_eq!(r.orig_rax, 39);
    assert_ne!(r.eflags & 0x400, 0, "DF is in the flags the Sentry sees");
}

#[test]
fn each_thread_answers_from_its_own_snapshot_and_a_reused_vcpu_starts_off() {
    let Some(m) = setup() else { return };
    m.put(0, &call_keeping_flags(libc::SYS_gettid as u64, 0x202));
    let mut ctx = m.p.new_address_space().unwrap();
    ctx.map(CODE, 4096, RX, 0).unwrap();
    ctx.map(DATA, 4096, RW, 4096).unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let mut handles = vec![];
    for tid in 1..=4u64 {
        let pending = ctx.new_thread().unwrap();
        let b = barrier.clone();
        handles.push(std::thread::spawn(move || {
            let mut c = pending.attach().unwrap();
            c.offer_guest_answers(&mut || {
                Some(GuestAnswers {
                    gettid: 100 + tid,
                    ..Default::default()
                })
            });
            // All four vCPUs hold answers at once.
            b.wait();
            let mut r = regs_at(CODE);
            r.rsp = DATA + 0x100 * tid;
            let ev = c.switch(&mut r);
            c.release();
            (ev, r.orig_rax, r.r12, tid)
        }));
    }
    for h in handles {
        let (ev, nr, got, tid) = h.join().unwrap();
        assert_eq!((ev, nr, got), (Event::Syscall, 60, 100 + tid));
    }
    // The vCPUs went back to the pool with answers on; whoever takes one
    // next has offered nothing, so its calls leave.
    let mut fresh = vec![];
    for _ in 0..4 {
        let mut c = m.p.new_address_space().unwrap();
        c.map(CODE, 4096, RX, 0).unwrap();
        c.map(DATA, 4096, RW, 4096).unwrap();
        let mut r = regs_at(CODE);
        assert_eq!(c.switch(&mut r), Event::Syscall);
        assert_eq!(r.orig_rax, libc::SYS_gettid as u64);
        fresh.push(c);
    }
}
