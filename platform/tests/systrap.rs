//! The systrap platform against real stub processes: each event path
//! (syscall, demand and copy-on-write faults, SIGSEGV/SIGFPE/SIGILL/SIGTRAP,
//! interrupts), threads, FPU state, memory changes reaching a running
//! thread, and the stub's defences (an application cannot use the stub's
//! own system calls, nor reply for itself). Needs seccomp and ptrace (for
//! setting stubs up); skips loudly elsewhere, fails in CI.

use std::sync::{Arc, Barrier, OnceLock};

use platform::systrap::SystrapPlatform;
use platform::{Event, Platform, Regs, XSave};

#[macro_use]
#[path = "common/event_paths.rs"]
mod event_paths;
use event_paths::*;
#[path = "common/shared_platform.rs"]
mod shared_platform;
use shared_platform::{take_turn, Shared, Turn};

type Mem = Turn<SystrapPlatform>;

static SHARED: OnceLock<Option<Shared<SystrapPlatform>>> = OnceLock::new();

fn setup() -> Option<Mem> {
    let available = || match platform::prepare(platform::PlatformKind::Systrap) {
        Ok(()) => true,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "systrap is not available in CI: {e}"
            );
            eprintln!("SKIPPED: systrap is not available here: {e}");
            false
        }
    };
    take_turn(&SHARED, available, |fd| {
        SystrapPlatform::new(fd).expect("systrap platform")
    })
}

/// A syscall stops with rax as PTRACE_SYSEMU shows it: -ENOSYS.
fn rax_at_a_syscall_stop(_nr: u64) -> u64 {
    -(libc::ENOSYS as i64) as u64
}

/// A new thread is cloned by the stub's syscall thread, which never runs
/// application code: its FPU registers are not an application thread's.
const A_NEW_THREAD_INHERITS_FPU: bool = false;

event_path_tests!();

/// The stub's own `syscall` instructions give the application nothing:
/// one reached with mmap's number traps like any other call (the kernel
/// never runs it), and the Sentry sees it as the application's call.
#[test]
fn a_jump_into_the_stubs_syscall_instruction_traps() {
    let Some(m) = setup() else { return };
    let (code, bytes) = m.p.stub_code();
    let at = bytes
        .windows(2)
        .position(|w| w == [0x0f, 0x05])
        .expect("a syscall instruction in the stub") as u64;
    // mov eax, 9 (mmap); mov rdi, 0x300000; mov esi, 4096; mov edx, 3;
    // mov r10d, 0x32 (MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED); mov r8, -1;
    // xor r9d, r9d; mov rbx, target; jmp rbx
    let mut c = vec![0xb8, 9, 0, 0, 0];
    c.extend_from_slice(&[0x48, 0xc7, 0xc7, 0x00, 0x00, 0x30, 0x00]);
    c.extend_from_slice(&[0xbe, 0x00, 0x10, 0x00, 0x00]);
    c.extend_from_slice(&[0xba, 3, 0, 0, 0]);
    c.extend_from_slice(&[0x41, 0xba, 0x32, 0, 0, 0]);
    c.extend_from_slice(&[0x49, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff]);
    c.extend_from_slice(&[0x45, 0x31, 0xc9]);
    c.extend_from_slice(&[0x48, 0xbb]);
    c.extend_from_slice(&(code + at).to_le_bytes());
    c.extend_from_slice(&[0xff, 0xe3]);
    let (e, r) = event_of(&m, &c);
    assert_eq!(e, Event::Syscall, "the call trapped");
    assert_eq!(r.orig_rax, 9);
    assert_eq!(r.rip, code + at + 2, "at the stub's instruction");
}

/// The control page, where the Sentry's replies are, is read-only to the
/// application: a store there faults.
#[test]
fn the_application_cannot_write_the_reply_page() {
    let Some(m) = setup() else { return };
    // Every region's control page lies in [max_user_address, code); try
    // them all from the thread itself: each is unmapped or read-only.
    // mov rax, rsp? The thread's own region is unknown to it, so store to
    // the first control page of each slot until one is mapped: loop:
    //   mov qword [rbx], 1; add rbx, 0x10000; jmp loop
    let base = m.p.max_user_address();
    let mut c = vec![0x48, 0xbb];
    c.extend_from_slice(&base.to_le_bytes());
    c.extend_from_slice(&[0x48, 0xc7, 0x03, 1, 0, 0, 0]); // mov qword [rbx], 1
    c.extend_from_slice(&[0x48, 0x81, 0xc3, 0x00, 0x00, 0x01, 0x00]); // add rbx, 0x10000
    c.extend_from_slice(&[0xeb, 0xf0]); // jmp back to the store
    m.put(0, &c);
    let mut ctx = m.p.new_address_space().unwrap();
    ctx.map(CODE, 4096, RX, 0).unwrap();
    let mut r = regs_at(CODE);
    let mut mapped_seen = false;
    for _ in 0..100_000 {
        match ctx.switch(&mut r) {
            Event::Fault { signo, addr, code } => {
                assert_eq!(signo, libc::SIGSEGV);
                if code == SEGV_ACCERR {
                    // A control page: present, and not writable.
                    assert_eq!(addr & 0xffff, 0);
                    mapped_seen = true;
                    break;
                }
                // Unmapped slot: skip it as a handler would.
                r.rip += 7;
            }
            e => panic!("unexpected {e:?}"),
        }
    }
    assert!(mapped_seen, "the thread's own control page was found");
}

/// A stub forked from the master stub keeps no page of the master's
/// region (whose message page the master's syscall thread posts its
/// answers in): of the first 64 region slots, the application can write
/// the message pages of exactly two, its own thread's and its own
/// syscall thread's.
#[test]
fn a_forked_stub_can_write_only_its_own_message_pages() {
    let Some(m) = setup() else { return };
    let base = m.p.max_user_address();
    // A spare way past the message page's words: offset 0xfa0 of page 1.
    const STORE_LEN: u64 = 11;
    let mut c = vec![0x48, 0xbb]; // mov rbx, base
    c.extend_from_slice(&base.to_le_bytes());
    // loop: mov qword [rbx + 0x1fa0], 1
    c.extend_from_slice(&[0x48, 0xc7, 0x83, 0xa0, 0x1f, 0, 0, 1, 0, 0, 0]);
    c.extend_from_slice(&[0x48, 0x81, 0xc3, 0x00, 0x00, 0x01, 0x00]); // add rbx, 0x10000
    c.extend_from_slice(&[0x48, 0xff, 0xc1]); // inc rcx
    c.extend_from_slice(&[0x48, 0x83, 0xf9, 64]); // cmp rcx, 64
    c.extend_from_slice(&[0x72, 0xe5]); // jb loop
    c.extend_from_slice(&[0x0f, 0x0b]); // ud2
    m.put(0, &c);
    // The first space makes the master; the second is surely forked.
    drop(m.p.new_address_space().unwrap());
    let mut ctx = m.p.new_address_space().unwrap();
    ctx.map(CODE, 4096, RX, 0).unwrap();
    let mut r = regs_at(CODE);
    let mut refused = 0;
    loop {
        match ctx.switch(&mut r) {
            Event::Fault { signo, .. } => {
                assert_eq!(signo, libc::SIGSEGV);
                refused += 1;
                r.rip += STORE_LEN;
            }
            Event::Trap { signo, .. } => {
                assert_eq!(signo, libc::SIGILL, "the loop's end");
                break;
            }
            e => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(64 - refused, 2, "writable message pages");
}
