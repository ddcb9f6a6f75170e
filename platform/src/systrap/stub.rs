//! The systrap stub code: one page, mapped read-and-execute at the same
//! address in every stub process. It holds four routines:
//!
//! * `handler`: the signal handler of every application thread, for
//!   SIGSYS (a system call the thread's seccomp filter trapped), the fault
//!   signals and the interrupt signal. It runs on the thread's alternate
//!   stack, inside the thread's region (see `region.rs`), so the kernel's
//!   signal frame (registers and XSAVE image) lands in memory the Sentry
//!   shares. It posts the event, wakes the Sentry if it sleeps, waits
//!   (spin, then futex) for the Sentry's reply in the read-only control
//!   page, then either restores the (possibly rewritten) frame with
//!   `rt_sigreturn` or exits the thread.
//! * `syscall_loop`: the *syscall thread* of each stub process, which
//!   never runs application code: it sleeps until a request in its read-only
//!   control page, makes the call (mmap, munmap, mprotect, clone), or
//!   the calls of its read-only batch list, posts the result and writes
//!   its eventfd. A `clone` child starts at `thread_start`. The master
//!   stub's syscall thread also forks ready stub processes.
//! * `tramp`: where a patched system call site's table entry jumps
//!   (`--systrap-patch`): it builds the kernel's signal frame for the call
//!   in the thread's region and enters `handler` without the seccomp
//!   trap (docs/architecture.md, "Syscall patching").
//! * `thread_start`: a new application thread sets its alternate stack,
//!   unblocks signals, installs the application filter (whose program the
//!   Sentry wrote in the thread's control page) and raises its first
//!   event with `ud2`.
//!
//! The code uses no stack and no memory but the thread's region: the
//! region base is the stack pointer rounded down to the region size.

use super::frame;
use super::region::{
    ctl, msg, syn, BATCH_ENTRY, BATCH_OFFSET, KIND_EXIT, REGIONS_SPAN, REGION_SIZE, REQ_BATCH,
    REQ_FORK,
};

/// Iterations of `pause` a stub thread spins before it sleeps on a futex
/// (a few tens of microseconds: a system call the Sentry answers at once
/// never sleeps).
pub const SPIN: u32 = 2000;

/// A stub thread's sleep on its control page's reply word: it says it
/// sleeps (the Sentry then wakes it), reads the reply again after a full
/// barrier, and unless `skip` (a jump to `label` on the flags of comparing
/// that reply with r14d) says the reply it waits for came meanwhile, sleeps
/// on the value it read; then it clears the flag and jumps to `again`.
macro_rules! sleep_on_reply {
    ($skip:literal, $label:literal, $again:literal) => {
        concat!(
            "mov dword ptr [r13 + {m_stub_waiting}], 1\n",
            "mfence\n",
            "mov edx, dword ptr [r12 + {c_reply}]\n",
            "cmp edx, r14d\n",
            $skip,
            "\n",
            "mov rdi, r12\n",
            "mov esi, {futex_wait}\n",
            "xor r10d, r10d\n",
            "xor r8d, r8d\n",
            "xor r9d, r9d\n",
            "mov eax, {sys_futex}\n",
            "syscall\n",
            $label,
            ":\n",
            "mov dword ptr [r13 + {m_stub_waiting}], 0\n",
            "jmp ",
            $again,
        )
    };
}

/// The syscall thread's answer to request r14d (its result already in the
/// message page): publish the number as the message's sequence (xchg: a
/// full barrier before reading the flag), wake the Sentry if it sleeps on
/// it, and go back to waiting (label 7). Served requests and a forked
/// stub's first answer end the same way.
macro_rules! publish_and_wait_for_next_request {
    () => {
        concat!(
            "mov eax, r14d\n",
            "xchg dword ptr [r13 + {m_seq}], eax\n",
            "cmp dword ptr [r12 + {c_sentry_waiting}], 0\n",
            "je 7b\n",
            "lea rdi, [r13 + {m_seq}]\n",
            "mov esi, {futex_wake}\n",
            "mov edx, 1\n",
            "xor r10d, r10d\n",
            "mov eax, {sys_futex}\n",
            "syscall\n",
            "jmp 7b",
        )
    };
}

std::arch::global_asm!(
    ".pushsection .text.runsc_systrap,\"ax\",@progbits",
    ".balign 4096",
    ".globl runsc_systrap_start",
    "runsc_systrap_start:",
    // ---- handler(signo = rdi, info = rsi, uc = rdx), on the altstack.
    ".globl runsc_systrap_handler",
    "runsc_systrap_handler:",
    "mov r12, rsp",
    "and r12, {region_mask}",
    "lea r13, [r12 + 4096]",
    "mov dword ptr [r13 + {m_signo}], edi",
    "mov qword ptr [r13 + {m_info}], rsi",
    "mov qword ptr [r13 + {m_uc}], rdx",
    "mov r15, rdx",
    // A signal in the trampoline before it blocked signals: the thread is
    // put back at the start of its patched site (the trampoline runs
    // again from there), with the registers the trampoline had changed.
    "mov rax, qword ptr [r15 + {uc_rip}]",
    "lea rcx, [rip + runsc_systrap_tramp]",
    "cmp rax, rcx",
    "jb 79f",
    "lea rcx, [rip + runsc_systrap_tramp_commit]",
    "cmp rax, rcx",
    "jae 79f",
    "lea rcx, [rip + runsc_systrap_tramp_saved]",
    "cmp rax, rcx",
    "jb 77f",
    "mov rax, qword ptr [r12 + {syn_uc} + {uc_rsp}]",
    "mov qword ptr [r15 + {uc_rsp}], rax",
    "mov rax, qword ptr [r12 + {syn_uc} + {uc_rdi}]",
    "mov qword ptr [r15 + {uc_rdi}], rax",
    "mov rax, qword ptr [r12 + {syn_uc} + {uc_rsi}]",
    "mov qword ptr [r15 + {uc_rsi}], rax",
    "mov rax, qword ptr [r12 + {syn_uc} + {uc_rdx}]",
    "mov qword ptr [r15 + {uc_rdx}], rax",
    "mov rax, qword ptr [r12 + {syn_uc} + {uc_r10}]",
    "mov qword ptr [r15 + {uc_r10}], rax",
    "mov rax, qword ptr [r12 + {syn_packed}]",
    "jmp 78f",
    "77:",
    "mov rax, qword ptr [r15 + {uc_rax}]",
    "78:",
    "shr rax, 16",
    "sub rax, {site_len}",
    "mov qword ptr [r15 + {uc_rip}], rax",
    "79:",
    "rdfsbase rax",
    "mov qword ptr [r13 + {m_fs}], rax",
    "rdgsbase rax",
    "mov qword ptr [r13 + {m_gs}], rax",
    "mov r14d, dword ptr [r13 + {m_seq}]",
    "inc r14d",
    "mov eax, r14d",
    // Publish the event (xchg: a full barrier before reading the flag).
    "xchg dword ptr [r13 + {m_seq}], eax",
    "cmp dword ptr [r12 + {c_sentry_waiting}], 0",
    "je 2f",
    "lea rdi, [r13 + {m_seq}]",
    "mov esi, {futex_wake}",
    "mov edx, 1",
    "xor r10d, r10d",
    "xor r8d, r8d",
    "xor r9d, r9d",
    "mov eax, {sys_futex}",
    "syscall",
    "2:",
    "mov ecx, {spin}",
    "3:",
    "cmp dword ptr [r12 + {c_reply}], r14d",
    "je 5f",
    "pause",
    "dec ecx",
    "jnz 3b",
    sleep_on_reply!("je 4f", "4", "2b"),
    "5:",
    "cmp qword ptr [r12 + {c_kind}], {kind_exit}",
    "je 6f",
    "mov rax, qword ptr [r12 + {c_fs}]",
    "wrfsbase rax",
    "mov rax, qword ptr [r12 + {c_gs}]",
    "wrgsbase rax",
    // rt_sigreturn reads the frame below the stack pointer: point it at
    // the ucontext, as if the handler had returned through pretcode.
    "mov rsp, r15",
    "mov eax, {sys_rt_sigreturn}",
    "syscall",
    "ud2",
    "6:",
    "xor edi, edi",
    "mov eax, {sys_exit}",
    "syscall",
    "ud2",
    // ---- syscall_loop: r12 = control page, r13 = message page, r14d =
    // the last request served.
    ".globl runsc_systrap_syscall_loop",
    "runsc_systrap_syscall_loop:",
    // No spinning: the Sentry puts this thread on the CPU of the thread
    // that asks and sleeps, so a request is a switch on one CPU, and a
    // spin here would only delay the asker (see `Space::call`).
    "7:",
    "mov eax, dword ptr [r12 + {c_reply}]",
    "cmp eax, r14d",
    "jne 10f",
    sleep_on_reply!("jne 9f", "9", "7b"),
    "10:",
    "mov r14d, eax",
    "mov rax, qword ptr [r12 + {c_nr}]",
    "cmp rax, {req_batch}",
    "je 20f",
    "cmp rax, {req_fork}",
    "je 30f",
    "mov rdi, qword ptr [r12 + {c_args}]",
    "mov rsi, qword ptr [r12 + {c_args} + 8]",
    "mov rdx, qword ptr [r12 + {c_args} + 16]",
    "mov r10, qword ptr [r12 + {c_args} + 24]",
    "mov r8, qword ptr [r12 + {c_args} + 32]",
    "mov r9, qword ptr [r12 + {c_args} + 40]",
    "mov rax, qword ptr [r12 + {c_nr}]",
    // A clone child starts after the `syscall` with rax = 0: it must
    // know it is one from the number read before, not from the control
    // page, which the next request may already have changed.
    "cmp rax, {sys_clone}",
    "je 13f",
    "syscall",
    "jmp 11f",
    "13:",
    "syscall",
    "test rax, rax",
    "jz runsc_systrap_thread_start",
    "11:",
    "mov qword ptr [r13 + {m_ret}], rax",
    // The call's unforgeable end: the application cannot `write`.
    "mov rdi, qword ptr [r12 + {c_done_fd}]",
    "lea rsi, [r12 + {c_one}]",
    "mov edx, 8",
    "mov eax, {sys_write}",
    "syscall",
    publish_and_wait_for_next_request!(),
    // ---- a batch: the calls of the read-only batch list in order, up to
    // the first failure; the result is 0 or that failure.
    "20:",
    "mov rbx, qword ptr [r12 + {c_args}]",
    "lea rbp, [r12 + {batch_offset}]",
    "xor eax, eax",
    "21:",
    "test rbx, rbx",
    "jz 11b",
    "mov rax, qword ptr [rbp]",
    "mov rdi, qword ptr [rbp + 8]",
    "mov rsi, qword ptr [rbp + 16]",
    "mov rdx, qword ptr [rbp + 24]",
    "mov r10, qword ptr [rbp + 32]",
    "mov r8, qword ptr [rbp + 40]",
    "mov r9, qword ptr [rbp + 48]",
    "syscall",
    "cmp rax, -4095",
    "jae 11b",
    "add rbp, {batch_entry}",
    "dec rbx",
    "xor eax, eax",
    "jmp 21b",
    // ---- fork a ready stub process (the master stub's syscall thread):
    // args = the child's region in the stub, its offset in the regions'
    // file, that file's descriptor. The child inherits everything the
    // set-up made (code page, handlers, no new privileges, blocked
    // signals), swaps the master's region for its own, makes its own
    // eventfd and posts its number as the answer to request 1.
    "30:",
    "mov rbx, qword ptr [r12 + {c_args}]",
    "mov rbp, qword ptr [r12 + {c_args} + 8]",
    "mov r15, qword ptr [r12 + {c_args} + 16]",
    "mov edi, {fork_flags}",
    "xor esi, esi",
    "xor edx, edx",
    "xor r10d, r10d",
    "xor r8d, r8d",
    "xor r9d, r9d",
    "mov eax, {sys_clone}",
    "syscall",
    "test rax, rax",
    "jnz 11b",
    // The child: the master's eventfd and region are not its own.
    "mov rdi, qword ptr [r12 + {c_done_fd}]",
    "mov eax, {sys_close}",
    "syscall",
    "mov rdi, rbx",
    "mov esi, 4096",
    "mov edx, {prot_read}",
    "mov r10d, {map_shared_fixed}",
    "mov r8, r15",
    "mov r9, rbp",
    "mov eax, {sys_mmap}",
    "syscall",
    "cmp rax, rbx",
    "jne 39f",
    "lea rdi, [rbx + 4096]",
    "mov esi, 4096",
    "mov edx, {prot_rw}",
    "mov r10d, {map_shared_fixed}",
    "mov r8, r15",
    "lea r9, [rbp + 4096]",
    "mov eax, {sys_mmap}",
    "syscall",
    "lea rdx, [rbx + 4096]",
    "cmp rax, rdx",
    "jne 39f",
    "lea rdi, [rbx + {batch_offset}]",
    "mov esi, {batch_len}",
    "mov edx, {prot_read}",
    "mov r10d, {map_shared_fixed}",
    "mov r8, r15",
    "lea r9, [rbp + {batch_offset}]",
    "mov eax, {sys_mmap}",
    "syscall",
    "lea rdx, [rbx + {batch_offset}]",
    "cmp rax, rdx",
    "jne 39f",
    "mov rdi, r12",
    "mov esi, {region_size}",
    "mov eax, {sys_munmap}",
    "syscall",
    "test rax, rax",
    "jnz 39f",
    // The parent death signal is not inherited; the parent is the
    // master's (CLONE_PARENT), a Sentry thread as long-lived as it.
    "mov edi, {pr_set_pdeathsig}",
    "mov esi, {sigkill}",
    "mov eax, {sys_prctl}",
    "syscall",
    "test rax, rax",
    "jnz 39f",
    "xor edi, edi",
    "xor esi, esi",
    "mov eax, {sys_eventfd2}",
    "syscall",
    "mov r12, rbx",
    "lea r13, [rbx + 4096]",
    "mov r14d, 1",
    "mov qword ptr [r13 + {m_ret}], rax",
    publish_and_wait_for_next_request!(),
    "39:",
    "mov edi, 1",
    "mov eax, {sys_exit}",
    "syscall",
    "ud2",
    // ---- thread_start: a clone child; r9 = its own control page.
    ".globl runsc_systrap_thread_start",
    "runsc_systrap_thread_start:",
    "mov r12, r9",
    "lea rdi, [r12 + {c_altstack}]",
    "xor esi, esi",
    "mov eax, {sys_sigaltstack}",
    "syscall",
    "test rax, rax",
    "jnz 12f",
    "mov edi, {sig_setmask}",
    "lea rsi, [r12 + {c_empty_set}]",
    "xor edx, edx",
    "mov r10d, 8",
    "mov eax, {sys_rt_sigprocmask}",
    "syscall",
    "test rax, rax",
    "jnz 12f",
    "mov edi, {seccomp_set_mode_filter}",
    "xor esi, esi",
    "lea rdx, [r12 + {c_fprog}]",
    "mov eax, {sys_seccomp}",
    "syscall",
    "test rax, rax",
    "jnz 12f",
    ".globl runsc_systrap_first_event",
    "runsc_systrap_first_event:",
    "ud2",
    "12:",
    "mov edi, 1",
    "mov eax, {sys_exit}",
    "syscall",
    "ud2",
    // ---- trampoline: a patched site's table entry jumps here with
    // rax = (return address << 16) | call number; rcx and r11 are free
    // (a `syscall` clobbers them); every other register and the flags
    // are the application's. gs_base is the thread's region while the
    // application's is 0 (context.rs).
    ".globl runsc_systrap_tramp",
    "runsc_systrap_tramp:",
    // Is gs a region? Without touching the flags (not saved yet): the
    // distance from the first region, rotated so its low 16 bits go on
    // top, must be below the regions' count.
    "rdgsbase r11",
    "mov rcx, qword ptr [rip + runsc_systrap_neg_regions]",
    "lea r11, [r11 + rcx]",
    "rorx r11, r11, 16",
    "mov ecx, {area_shift}",
    "shrx rcx, r11, rcx",
    "jrcxz 50f",
    "jmp 59f",
    "50:",
    "rdgsbase r11",
    "mov qword ptr [r11 + {syn_uc} + {uc_r8}], r8",
    "mov qword ptr [r11 + {syn_uc} + {uc_r9}], r9",
    "mov qword ptr [r11 + {syn_uc} + {uc_r10}], r10",
    "mov qword ptr [r11 + {syn_uc} + {uc_r12}], r12",
    "mov qword ptr [r11 + {syn_uc} + {uc_r13}], r13",
    "mov qword ptr [r11 + {syn_uc} + {uc_r14}], r14",
    "mov qword ptr [r11 + {syn_uc} + {uc_r15}], r15",
    "mov qword ptr [r11 + {syn_uc} + {uc_rdi}], rdi",
    "mov qword ptr [r11 + {syn_uc} + {uc_rsi}], rsi",
    "mov qword ptr [r11 + {syn_uc} + {uc_rbp}], rbp",
    "mov qword ptr [r11 + {syn_uc} + {uc_rbx}], rbx",
    "mov qword ptr [r11 + {syn_uc} + {uc_rdx}], rdx",
    "mov qword ptr [r11 + {syn_uc} + {uc_rsp}], rsp",
    "mov qword ptr [r11 + {syn_packed}], rax",
    // From here rsp, rdi, rsi, rdx and r10 change: a signal until the
    // commit takes them back from the slots just written (the handler).
    "runsc_systrap_tramp_saved:",
    "lea rsp, [r11 + {syn_stack}]",
    "pushfq",
    "pop qword ptr [r11 + {syn_uc} + {uc_eflags}]",
    "lea rsi, [r11 + {c_full_set}]",
    "mov edi, {sig_block}",
    "mov edx, 0",
    "mov r10d, 8",
    "mov eax, {sys_rt_sigprocmask}",
    "syscall",
    // Committed: signals wait until rt_sigreturn restores the empty mask.
    "runsc_systrap_tramp_commit:",
    "rdgsbase r11",
    // As the `syscall` would have left them: rcx = rip = the return
    // address, r11 = rflags, rax = the number.
    "mov rax, qword ptr [r11 + {syn_packed}]",
    "mov rcx, rax",
    "shr rcx, 16",
    "mov qword ptr [r11 + {syn_uc} + {uc_rcx}], rcx",
    "mov qword ptr [r11 + {syn_uc} + {uc_rip}], rcx",
    "movzx eax, ax",
    "mov qword ptr [r11 + {syn_uc} + {uc_rax}], rax",
    "mov rcx, qword ptr [r11 + {syn_uc} + {uc_eflags}]",
    "mov qword ptr [r11 + {syn_uc} + {uc_r11}], rcx",
    "movabs rcx, {segments}",
    "mov qword ptr [r11 + {syn_uc} + {uc_seg}], rcx",
    "mov rcx, qword ptr [r11 + {c_uc_flags}]",
    "mov qword ptr [r11 + {syn_uc}], rcx",
    "xor ecx, ecx",
    "mov qword ptr [r11 + {syn_uc} + 8], rcx",
    "mov qword ptr [r11 + {syn_uc} + {uc_sigmask}], rcx",
    // uc_stack: rt_sigreturn sets the alternate stack from it.
    "mov rcx, qword ptr [r11 + {c_altstack}]",
    "mov qword ptr [r11 + {syn_uc} + 16], rcx",
    "mov rcx, qword ptr [r11 + {c_altstack} + 8]",
    "mov qword ptr [r11 + {syn_uc} + 24], rcx",
    "mov rcx, qword ptr [r11 + {c_altstack} + 16]",
    "mov qword ptr [r11 + {syn_uc} + 32], rcx",
    "lea rcx, [r11 + {syn_fp}]",
    "mov qword ptr [r11 + {syn_uc} + {uc_fpstate}], rcx",
    // XSAVE writes only XSTATE_BV of the header; XRSTOR wants the rest 0.
    "xor ecx, ecx",
    "mov qword ptr [r11 + {syn_fp} + 520], rcx",
    "mov qword ptr [r11 + {syn_fp} + 528], rcx",
    "mov qword ptr [r11 + {syn_fp} + 536], rcx",
    "mov qword ptr [r11 + {syn_fp} + 544], rcx",
    "mov qword ptr [r11 + {syn_fp} + 552], rcx",
    "mov qword ptr [r11 + {syn_fp} + 560], rcx",
    "mov qword ptr [r11 + {syn_fp} + 568], rcx",
    "mov eax, dword ptr [r11 + {c_fx_sw} + 8]",
    "mov edx, dword ptr [r11 + {c_fx_sw} + 12]",
    "xsave64 [r11 + {syn_fp}]",
    "mov rcx, qword ptr [r11 + {c_fx_sw}]",
    "mov qword ptr [r11 + {syn_fp} + {sw_bytes}], rcx",
    "mov rcx, qword ptr [r11 + {c_fx_sw} + 8]",
    "mov qword ptr [r11 + {syn_fp} + {sw_bytes} + 8], rcx",
    "mov rcx, qword ptr [r11 + {c_fx_sw} + 16]",
    "mov qword ptr [r11 + {syn_fp} + {sw_bytes} + 16], rcx",
    "mov rcx, qword ptr [r11 + {c_fx_sw} + 24]",
    "mov qword ptr [r11 + {syn_fp} + {sw_bytes} + 24], rcx",
    "mov rcx, qword ptr [r11 + {c_fx_sw} + 32]",
    "mov qword ptr [r11 + {syn_fp} + {sw_bytes} + 32], rcx",
    "mov rcx, qword ptr [r11 + {c_fx_sw} + 40]",
    "mov qword ptr [r11 + {syn_fp} + {sw_bytes} + 40], rcx",
    "mov ecx, dword ptr [r11 + {c_fx_sw} + 16]",
    "mov dword ptr [r11 + rcx + {syn_fp}], {magic2}",
    "mov qword ptr [r11 + {syn_info}], {sigsys}",
    "mov qword ptr [r11 + {syn_info} + 8], {si_sys_seccomp}",
    "mov qword ptr [r11 + {syn_info} + 16], 0",
    "mov edi, {sigsys}",
    "lea rsi, [r11 + {syn_info}]",
    "lea rdx, [r11 + {syn_uc}]",
    "jmp runsc_systrap_handler",
    // gs is not this thread's region (the application set its own): the
    // trap, at the `06` where the site's `syscall` was (the Sentry makes
    // the call in rax there).
    "59:",
    "mov r11d, 16",
    "shrx rcx, rax, r11",
    "movzx eax, ax",
    "lea rcx, [rcx - 2]",
    "jmp rcx",
    // -(the first region's stub address), written into the stub's copy of
    // this page (region.rs).
    ".balign 8",
    ".globl runsc_systrap_neg_regions",
    "runsc_systrap_neg_regions:",
    ".quad 0",
    ".globl runsc_systrap_end",
    "runsc_systrap_end:",
    ".popsection",
    region_mask = const -(REGION_SIZE as i64),
    m_signo = const msg::SIGNO,
    m_info = const msg::INFO,
    m_uc = const msg::UC,
    m_fs = const msg::FS,
    m_gs = const msg::GS,
    m_seq = const msg::SEQ,
    m_stub_waiting = const msg::STUB_WAITING,
    m_ret = const msg::RET,
    c_reply = const ctl::REPLY,
    c_sentry_waiting = const ctl::SENTRY_WAITING,
    c_kind = const ctl::KIND,
    c_fs = const ctl::FS,
    c_gs = const ctl::GS,
    c_args = const ctl::ARGS,
    c_nr = const ctl::NR,
    c_altstack = const ctl::ALTSTACK,
    c_empty_set = const ctl::EMPTY_SET,
    c_fprog = const ctl::FPROG,
    c_done_fd = const ctl::DONE_FD,
    c_one = const ctl::ONE,
    sys_write = const libc::SYS_write,
    req_batch = const REQ_BATCH,
    req_fork = const REQ_FORK,
    batch_offset = const BATCH_OFFSET,
    batch_entry = const BATCH_ENTRY,
    batch_len = const REGION_SIZE - BATCH_OFFSET,
    region_size = const REGION_SIZE,
    fork_flags = const libc::CLONE_PARENT | libc::CLONE_UNTRACED | libc::SIGCHLD,
    sys_close = const libc::SYS_close,
    sys_mmap = const libc::SYS_mmap,
    sys_munmap = const libc::SYS_munmap,
    sys_prctl = const libc::SYS_prctl,
    sys_eventfd2 = const libc::SYS_eventfd2,
    prot_read = const libc::PROT_READ,
    prot_rw = const libc::PROT_READ | libc::PROT_WRITE,
    map_shared_fixed = const libc::MAP_SHARED | libc::MAP_FIXED,
    pr_set_pdeathsig = const libc::PR_SET_PDEATHSIG,
    sigkill = const libc::SIGKILL,
    kind_exit = const KIND_EXIT,
    spin = const SPIN,
    futex_wake = const libc::FUTEX_WAKE,
    futex_wait = const libc::FUTEX_WAIT,
    sys_futex = const libc::SYS_futex,
    sys_rt_sigreturn = const libc::SYS_rt_sigreturn,
    sys_exit = const libc::SYS_exit,
    sys_clone = const libc::SYS_clone,
    sys_sigaltstack = const libc::SYS_sigaltstack,
    sys_rt_sigprocmask = const libc::SYS_rt_sigprocmask,
    sys_seccomp = const libc::SYS_seccomp,
    sig_setmask = const libc::SIG_SETMASK,
    seccomp_set_mode_filter = const libc::SECCOMP_SET_MODE_FILTER,
    uc_r8 = const frame::MCONTEXT + 8 * frame::R8,
    uc_r9 = const frame::MCONTEXT + 8 * frame::R9,
    uc_r10 = const frame::MCONTEXT + 8 * frame::R10,
    uc_r11 = const frame::MCONTEXT + 8 * frame::R11,
    uc_r12 = const frame::MCONTEXT + 8 * frame::R12,
    uc_r13 = const frame::MCONTEXT + 8 * frame::R13,
    uc_r14 = const frame::MCONTEXT + 8 * frame::R14,
    uc_r15 = const frame::MCONTEXT + 8 * frame::R15,
    uc_rdi = const frame::MCONTEXT + 8 * frame::RDI,
    uc_rsi = const frame::MCONTEXT + 8 * frame::RSI,
    uc_rbp = const frame::MCONTEXT + 8 * frame::RBP,
    uc_rbx = const frame::MCONTEXT + 8 * frame::RBX,
    uc_rdx = const frame::MCONTEXT + 8 * frame::RDX,
    uc_rax = const frame::MCONTEXT + 8 * frame::RAX,
    uc_rcx = const frame::MCONTEXT + 8 * frame::RCX,
    uc_rsp = const frame::MCONTEXT + 8 * frame::RSP,
    uc_rip = const frame::MCONTEXT + 8 * frame::RIP,
    uc_eflags = const frame::MCONTEXT + 8 * frame::EFLAGS,
    uc_seg = const frame::MCONTEXT + 8 * frame::SEGMENTS,
    uc_fpstate = const frame::MCONTEXT + 8 * frame::FPSTATE,
    uc_sigmask = const frame::UC_SIGMASK,
    segments = const frame::USER_CS | (frame::USER_SS << 48),
    sw_bytes = const frame::SW_BYTES,
    magic2 = const frame::FP_XSTATE_MAGIC2,
    syn_uc = const syn::UC,
    syn_info = const syn::INFO,
    syn_fp = const syn::FP,
    syn_packed = const syn::PACKED,
    syn_stack = const syn::STACK,
    c_full_set = const ctl::FULL_SET,
    c_uc_flags = const ctl::UC_FLAGS,
    c_fx_sw = const ctl::FX_SW,
    sig_block = const libc::SIG_BLOCK,
    sigsys = const libc::SIGSYS,
    si_sys_seccomp = const frame::SYS_SECCOMP,
    site_len = const super::patch::SITE_LEN,
    area_shift = const REGIONS_SPAN.trailing_zeros() - 16,
);

extern "C" {
    static runsc_systrap_start: u8;
    static runsc_systrap_handler: u8;
    static runsc_systrap_syscall_loop: u8;
    static runsc_systrap_first_event: u8;
    static runsc_systrap_tramp: u8;
    static runsc_systrap_neg_regions: u8;
    static runsc_systrap_end: u8;
}

/// The stub code's bytes (in the Sentry's own text) and the offsets of its
/// entry points in them.
pub struct Code {
    pub bytes: &'static [u8],
    pub handler: u64,
    pub syscall_loop: u64,
    /// The `ud2` a new thread raises its first event with.
    pub first_event: u64,
    /// Where a patched site's table entry jumps.
    pub trampoline: u64,
    /// The word that holds -(the first region's stub address).
    pub neg_regions: u64,
}

/// The stub code as linked into the Sentry.
pub fn code() -> Code {
    let start = std::ptr::addr_of!(runsc_systrap_start) as u64;
    let end = std::ptr::addr_of!(runsc_systrap_end) as u64;
    let len = (end - start) as usize;
    assert!(len <= 4096, "systrap stub code outgrew its page");
    let off = |p: *const u8| p as u64 - start;
    Code {
        // SAFETY: [start, end) is the stub's code in our own text section,
        // mapped for the life of the process.
        bytes: unsafe { std::slice::from_raw_parts(start as *const u8, len) },
        handler: off(std::ptr::addr_of!(runsc_systrap_handler)),
        syscall_loop: off(std::ptr::addr_of!(runsc_systrap_syscall_loop)),
        first_event: off(std::ptr::addr_of!(runsc_systrap_first_event)),
        trampoline: off(std::ptr::addr_of!(runsc_systrap_tramp)),
        neg_regions: off(std::ptr::addr_of!(runsc_systrap_neg_regions)),
    }
}
