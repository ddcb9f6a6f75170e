//! The ptrace platform against real stub processes: syscalls stop before the
//! host runs them, mapped memory is shared with the memory file, faults and
//! interrupts come back as events, threads run in the same address space.
//! Needs ptrace (root or a permissive Yama); skips loudly elsewhere, fails in CI.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use platform::ptrace::PtracePlatform;
use platform::{Event, Platform, Regs};

const CODE: u64 = 0x10_0000;
const DATA: u64 = 0x20_0000;

fn memfd() -> (OwnedFd, *mut u8) {
    // SAFETY: plain syscalls creating and sizing a new memfd we own.
    unsafe {
        let fd = libc::memfd_create(c"test".as_ptr(), 0);
        assert!(fd >= 0);
        assert_eq!(libc::ftruncate(fd, 1 << 20), 0);
        let p = libc::mmap(
            std::ptr::null_mut(),
            1 << 20,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        (OwnedFd::from_raw_fd(fd), p as *mut u8)
    }
}

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

#[test]
fn syscalls_faults_threads_and_memory() {
    if !available() {
        return;
    }
    let (fd, base) = memfd();
    let p = PtracePlatform::new(fd.as_raw_fd()).unwrap();
    // mov eax, 39; syscall; mov rbx, [0x200000]; mov eax, 60; syscall; mov rax, [0]
    let code: &[u8] = &[
        0xb8, 39, 0, 0, 0, 0x0f, 0x05, // getpid
        0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x20, 0x00, // mov rbx, [0x200000]
        0xb8, 60, 0, 0, 0, 0x0f, 0x05, // exit
        0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00, // mov rax, [0]
    ];
    // SAFETY: base maps 1 MiB of the memfd; offsets 0 and 4096 are inside.
    unsafe {
        std::ptr::copy_nonoverlapping(code.as_ptr(), base, code.len());
        *(base.add(4096) as *mut u64) = 0xfeed;
    }
    let mut ctx = p.new_address_space().unwrap();
    ctx.map(CODE, 4096, libc::PROT_READ | libc::PROT_EXEC, 0)
        .unwrap();
    ctx.map(DATA, 4096, libc::PROT_READ | libc::PROT_WRITE, 4096)
        .unwrap();
    let mut regs = regs_at(CODE);
    assert_eq!(ctx.switch(&mut regs), Event::Syscall);
    assert_eq!(regs.orig_rax, 39);
    regs.rax = 1234;
    assert_eq!(ctx.switch(&mut regs), Event::Syscall);
    assert_eq!(regs.orig_rax, 60);
    assert_eq!(regs.rbx, 0xfeed, "the stub sees the memory file's bytes");

    // A fault at address 0 comes back with its address.
    match ctx.switch(&mut regs) {
        Event::Fault { signo, addr, .. } => {
            assert_eq!(signo, libc::SIGSEGV);
            assert_eq!(addr, 0);
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

    // An interrupt stops a thread spinning in application code.
    // SAFETY: offset 8192 is inside the mapping; `jmp $` spins forever.
    unsafe { std::ptr::copy_nonoverlapping([0xeb, 0xfe].as_ptr(), base.add(8192), 2) };
    ctx.map(CODE + 4096, 4096, libc::PROT_READ | libc::PROT_EXEC, 8192)
        .unwrap();
    let intr = ctx.interrupter();
    let h = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        intr.interrupt();
    });
    let mut r = regs_at(CODE + 4096);
    assert_eq!(ctx.switch(&mut r), Event::Interrupted);
    h.join().unwrap();

    // The kernel's vDSO stays mapped in every stub, for AT_SYSINFO_EHDR.
    if let Some(v) = p.vdso() {
        // movabs rax, [ehdr]; then getpid so the registers come back.
        let mut code = vec![0x48, 0xa1];
        code.extend_from_slice(&v.ehdr.to_le_bytes());
        code.extend_from_slice(&[0x48, 0x89, 0xc3, 0xb8, 39, 0, 0, 0, 0x0f, 0x05]); // mov rbx, rax; mov eax, 39; syscall
                                                                                    // SAFETY: offset 12288 is inside the 1 MiB memfd mapping.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), base.add(12288), code.len()) };
        ctx.map(CODE + 8192, 4096, libc::PROT_READ | libc::PROT_EXEC, 12288)
            .unwrap();
        let mut r = regs_at(CODE + 8192);
        assert_eq!(ctx.switch(&mut r), Event::Syscall);
        assert_eq!(
            r.rbx & 0xffff_ffff,
            0x464c_457f,
            "the vDSO's ELF header is readable in the stub"
        );
    }

    ctx.interrupter().destroy_address_space();
    assert_eq!(ctx.switch(&mut r), Event::Gone);
}
