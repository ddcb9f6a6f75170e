//! The ptrace platform against real stub processes: each event path
//! (syscall, demand and copy-on-write faults, SIGSEGV/SIGFPE/SIGILL/SIGTRAP,
//! interrupts), threads, FPU state, memory changes reaching a running
//! thread, and the kernel's vDSO in every stub. Needs ptrace (root or a
//! permissive Yama); skips loudly elsewhere, fails in CI.

use std::sync::{Arc, Barrier, OnceLock};

use platform::ptrace::PtracePlatform;
use platform::{Event, Platform, Regs, XSave};

#[macro_use]
#[path = "common/event_paths.rs"]
mod event_paths;
use event_paths::*;
#[path = "common/shared_platform.rs"]
mod shared_platform;
use shared_platform::{take_turn, Shared, Turn};

type Mem = Turn<PtracePlatform>;

static SHARED: OnceLock<Option<Shared<PtracePlatform>>> = OnceLock::new();

fn available() -> bool {
    // SAFETY: fork/ptrace probe; the child exits immediately.
    let ok = unsafe {
        let pid = libc::fork();
        if pid == 0 {
            let r = libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            libc::_exit(if r == 0 { 0 } else { 1 });
        }
        let mut st = 0;
        libc::waitpid(pid, &mut st, 0);
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0
    };
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "ptrace is not available in CI"
        );
        eprintln!("SKIPPED: ptrace is not available here");
    }
    ok
}

fn setup() -> Option<Mem> {
    let ready = || {
        available() && {
            platform::prepare(platform::PlatformKind::Ptrace).expect("prepare ptrace");
            true
        }
    };
    take_turn(&SHARED, ready, |fd| {
        PtracePlatform::new(fd).expect("ptrace platform")
    })
}

/// A syscall stops with rax as PTRACE_SYSEMU shows it: -ENOSYS.
fn rax_at_a_syscall_stop(_nr: u64) -> u64 {
    -(libc::ENOSYS as i64) as u64
}

/// A new thread is cloned from a thread of the stub, whose FPU registers
/// it starts with, as a clone(2) child does.
const A_NEW_THREAD_INHERITS_FPU: bool = true;

event_path_tests!();

/// The kernel's vDSO stays mapped in every stub, for AT_SYSINFO_EHDR.
#[test]
fn the_vdso_is_readable_in_the_stub() {
    let Some(m) = setup() else { return };
    let Some(v) = m.p.vdso() else {
        eprintln!("SKIPPED: the host has no vDSO");
        return;
    };
    // movabs rax, [ehdr]; mov rbx, rax; then getpid so the registers come
    // back.
    let mut code = vec![0x48, 0xa1];
    code.extend_from_slice(&v.ehdr.to_le_bytes());
    code.extend_from_slice(&[0x48, 0x89, 0xc3]);
    code.extend_from_slice(&GETPID);
    m.put(0, &code);
    let mut ctx = m.p.new_address_space().unwrap();
    ctx.map(CODE, 4096, RX, 0).unwrap();
    let mut r = regs_at(CODE);
    assert_eq!(ctx.switch(&mut r), Event::Syscall);
    assert_eq!(
        r.rbx & 0xffff_ffff,
        0x464c_457f,
        "the vDSO's ELF header is readable in the stub"
    );
}
