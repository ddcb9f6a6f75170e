//! The systrap platform against real stub processes: each event path
//! (syscall, demand and copy-on-write faults, SIGSEGV/SIGFPE/SIGILL/SIGTRAP,
//! interrupts), threads, FPU state, memory changes reaching a running
//! thread, and the stub's defences (an application cannot use the stub's
//! own system calls, nor reply for itself). Needs seccomp and ptrace (for
//! setting stubs up); skips loudly elsewhere, fails in CI.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Barrier, Mutex, MutexGuard, OnceLock};

use platform::systrap::SystrapPlatform;
use platform::{Event, Platform, Regs, XSave};

// si_code values (the libc crate does not export them on every target).
const SEGV_MAPERR: i32 = 1;
const SEGV_ACCERR: i32 = 2;
const FPE_INTDIV: i32 = 1;
const ILL_ILLOPN: i32 = 2;

const CODE: u64 = 0x10_0000;
const DATA: u64 = 0x20_0000;
const FILE: u64 = 1 << 30;

struct Mem {
    base: *mut u8,
    p: &'static SystrapPlatform,
    /// Tests take turns: they share the one memory file stubs inherit.
    _turn: MutexGuard<'static, ()>,
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

/// The memory file and the platform: stub processes inherit the memory
/// file by number from the master stub, made once, as in a Sentry.
struct Shared {
    _fd: OwnedFd,
    base: usize,
    p: SystrapPlatform,
}

static SHARED: OnceLock<Option<Shared>> = OnceLock::new();
static TURN: Mutex<()> = Mutex::new(());

fn setup() -> Option<Mem> {
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let shared = SHARED.get_or_init(|| {
        if let Err(e) = platform::prepare(platform::PlatformKind::Systrap) {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "systrap is not available in CI: {e}"
            );
            eprintln!("SKIPPED: systrap is not available here: {e}");
            return None;
        }
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
            (OwnedFd::from_raw_fd(fd), p as usize)
        };
        let p = SystrapPlatform::new(fd.as_raw_fd()).expect("systrap platform");
        Some(Shared { _fd: fd, base, p })
    });
    let shared = shared.as_ref()?;
    Some(Mem {
        base: shared.base as *mut u8,
        p: &shared.p,
        _turn: turn,
    })
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
    assert_eq!(
        regs.rax as i64,
        -(libc::ENOSYS as i64),
        "rax as PTRACE_SYSEMU shows it"
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
}

#[macro_use]
#[path = "common/event_paths.rs"]
mod event_paths;

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
