//! The KVM platform against /dev/kvm: each event path (syscall, demand and
//! copy-on-write faults, SIGSEGV/SIGFPE/SIGILL/SIGTRAP, interrupts), threads,
//! FPU state, and page-table changes reaching a running vCPU. Skips loudly
//! without /dev/kvm, fails in CI.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Barrier};

use platform::kvm::KvmPlatform;
use platform::{Event, GuestAnswers, Platform, Regs, XSave};

// si_code values (the libc crate does not export them on every target).
const SEGV_MAPERR: i32 = 1;
const SEGV_ACCERR: i32 = 2;
const FPE_INTDIV: i32 = 1;
const ILL_ILLOPN: i32 = 2;

const CODE: u64 = 0x10_0000;
const DATA: u64 = 0x20_0000;
const FILE: u64 = 1 << 30;

struct Mem {
    _fd: OwnedFd,
    base: *mut u8,
    p: KvmPlatform,
}

impl Mem {
    /// Copies `bytes` to file offset `off`.
    fn put(&self, off: u64, bytes: &[u8]) {
        assert!(off + bytes.len() as u64 <= FILE);
        // SAFETY: base maps FILE bytes of the memfd; checked above.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(off as usize), bytes.len())
        };
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
    // SAFETY: plain syscalls creating and sizing a new memfd we own.
    let (fd, base) = unsafe {
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
    };
    let p = KvmPlatform::new(fd.as_raw_fd()).expect("kvm platform");
    Some(Mem { _fd: fd, base, p })
}

fn regs_at(rip: u64) -> Regs {
    // SAFETY: plain data, zero is valid.
    let mut r: Regs = unsafe { std::mem::zeroed() };
    r.rip = rip;
    r.cs = 0x33;
    r.ss = 0x2b;
    r.eflags = 0x202;
    r.rsp = DATA + 0x800;
    r
}

const RX: i32 = libc::PROT_READ | libc::PROT_EXEC;
const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;
/// mov eax, 39; syscall
const GETPID: [u8; 7] = [0xb8, 39, 0, 0, 0, 0x0f, 0x05];

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
    assert_eq!(regs.rax, 60);
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
    let pending = ctx.new_thread().unwrap();
    let t = std::thread::spawn(move || {
        let mut c = pending.attach().unwrap();
        let mut r = regs_at(CODE);
        let ev = c.switch(&mut r);
        c.release();
        (ev, r.orig_rax)
    });
    assert_eq!(t.join().unwrap(), (Event::Syscall, 39));
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
    assert_eq!(
        ctx.switch(&mut r),
        Event::Fault {
            signo: libc::SIGSEGV,
            addr: DATA,
            code: SEGV_MAPERR
        }
    );
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
    // Read it once writable, so KVM holds a writable shadow entry.
    let mut r = regs_at(CODE + 12);
    assert_eq!(ctx.switch(&mut r), Event::Syscall);
    assert_eq!(r.rbx, 1);
    // Shared copy-on-write: read-only now.
    ctx.protect(DATA, 4096, libc::PROT_READ).unwrap();
    let mut r = regs_at(CODE);
    assert_eq!(
        ctx.switch(&mut r),
        Event::Fault {
            signo: libc::SIGSEGV,
            addr: DATA,
            code: SEGV_ACCERR
        }
    );
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
    assert_eq!(
        e,
        Event::Fault {
            signo: libc::SIGSEGV,
            addr: 0xdead000,
            code: SEGV_MAPERR
        }
    );
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
    assert_eq!(
        e,
        Event::Fault {
            signo: libc::SIGSEGV,
            addr: 0,
            code: 0x80
        }
    );
    // The platform region is nobody's: reading ring 0's code faults.
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

#[macro_use]
#[path = "common/event_paths.rs"]
mod event_paths;

event_path_tests!();

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
