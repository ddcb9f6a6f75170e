/* ptrace between two processes, as Linux does it: the TRACEME exec stop,
 * PEEK/POKE of data and text, registers (GETREGS/SETREGS, PEEKUSER,
 * the debug registers gdb touches), PTRACE_SYSCALL stops (a call skipped
 * and a result replaced), fork/clone/exec/exit events, single steps, an
 * int3 breakpoint written into read-only text, SEIZE + INTERRUPT +
 * LISTEN through a group stop, EXITKILL, and the errors (ESRCH, EPERM,
 * EIO, EINVAL). Prints one line per fact, then PASS. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include <elf.h>

static int failures;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            printf("FAIL line %d: ", __LINE__);                              \
            printf(__VA_ARGS__);                                             \
            printf(" (%s)\n", strerror(errno));                              \
            failures++;                                                      \
        }                                                                    \
    } while (0)

static long pt(int req, pid_t pid, void *addr, void *data) {
    errno = 0;
    return ptrace(req, pid, addr, data);
}

static int wait_for(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, __WALL) != pid) {
        printf("waitpid(%d): %s\n", pid, strerror(errno));
        exit(1);
    }
    return st;
}

static const char *describe(int st) {
    static char buf[80];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by %s", sigabbrev_np(WTERMSIG(st)));
    else if (WIFSTOPPED(st))
        snprintf(buf, sizeof buf, "stopped %s%s event %d",
                 sigabbrev_np(WSTOPSIG(st) & 0x7f),
                 (WSTOPSIG(st) & 0x80) ? "|0x80" : "", st >> 16);
    else
        snprintf(buf, sizeof buf, "status %#x", st);
    return buf;
}

/* A child that asks to be traced and stops itself. */
static pid_t traced_child(void (*body)(void)) {
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        body();
        _exit(0);
    }
    int st = wait_for(pid);
    CHECK(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP, "first stop: %s", describe(st));
    return pid;
}

/* ---- TRACEME, then exec: SIGTRAP ---- */
static void traceme_exec(void) {
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        execl("/bin/true", "true", (char *)0);
        _exit(99);
    }
    int st = wait_for(pid);
    printf("traceme + exec: %s\n", describe(st));
    siginfo_t si;
    memset(&si, 0, sizeof si);
    CHECK(pt(PTRACE_GETSIGINFO, pid, 0, &si) == 0, "GETSIGINFO");
    printf("exec SIGTRAP si_code SI_USER: %s\n", si.si_code == SI_USER ? "yes" : "no");
    pt(PTRACE_CONT, pid, 0, 0);
    printf("after CONT: %s\n", describe(wait_for(pid)));
}

/* ---- PEEK/POKE data, registers, sigmask ---- */
static volatile long cell = 0x1111;

static void body_cell(void) {
    _exit(cell == 0x2222 ? 7 : 1);
}

static void peek_poke(void) {
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGUSR1);
        sigprocmask(SIG_BLOCK, &s, 0);
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        body_cell();
    }
    int st = wait_for(pid);
    CHECK(WIFSTOPPED(st), "stop: %s", describe(st));
    long v = pt(PTRACE_PEEKDATA, pid, (void *)&cell, 0);
    printf("peekdata: %#lx\n", v);
    CHECK(pt(PTRACE_POKEDATA, pid, (void *)&cell, (void *)0x2222) == 0, "POKEDATA");
    printf("peekdata after poke: %#lx\n", pt(PTRACE_PEEKDATA, pid, (void *)&cell, 0));
    long r = pt(PTRACE_PEEKDATA, pid, (void *)8, 0);
    printf("peekdata of an unmapped address: %ld %s\n", r, strerrorname_np(errno));
    r = pt(PTRACE_POKEDATA, pid, (void *)8, 0);
    printf("pokedata of an unmapped address: %ld %s\n", r, strerrorname_np(errno));

    struct user_regs_struct regs;
    CHECK(pt(PTRACE_GETREGS, pid, 0, &regs) == 0, "GETREGS");
    long rip = pt(PTRACE_PEEKUSER, pid, (void *)offsetof(struct user, regs.rip), 0);
    printf("peekuser rip matches getregs: %s\n", rip == (long)regs.rip ? "yes" : "no");
    long orig = pt(PTRACE_PEEKUSER, pid, (void *)offsetof(struct user, regs.orig_rax), 0);
    printf("stopped in a syscall (orig_rax is tgkill): %s\n", orig == SYS_tgkill ? "yes" : "no");
    long fsb = pt(PTRACE_PEEKUSER, pid, (void *)offsetof(struct user, regs.fs_base), 0);
    printf("fs_base set: %s\n", fsb != 0 && fsb == (long)regs.fs_base ? "yes" : "no");
    long dr7 = pt(PTRACE_PEEKUSER, pid, (void *)offsetof(struct user, u_debugreg[7]), 0);
    printf("peekuser dr7: %ld errno %d\n", dr7, errno);
    r = pt(PTRACE_POKEUSER, pid, (void *)offsetof(struct user, u_debugreg[7]), 0);
    printf("pokeuser dr7=0: %ld\n", r);
    r = pt(PTRACE_PEEKUSER, pid, (void *)3, 0);
    printf("peekuser unaligned: %ld %s\n", r, strerrorname_np(errno));
    r = pt(PTRACE_PEEKUSER, pid, (void *)(sizeof(struct user)), 0);
    printf("peekuser past struct user: %ld %s\n", r, strerrorname_np(errno));

    /* SETREGS round trip and a selector change refused. */
    CHECK(pt(PTRACE_SETREGS, pid, 0, &regs) == 0, "SETREGS same");
    struct user_regs_struct bad = regs;
    bad.cs = 0x10;
    r = pt(PTRACE_SETREGS, pid, 0, &bad);
    printf("setregs with a kernel cs: %ld %s\n", r, strerrorname_np(errno));

    /* Regsets: NT_PRSTATUS gives the same registers. */
    struct user_regs_struct rs;
    struct iovec iov = {&rs, sizeof rs};
    CHECK(pt(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) == 0, "GETREGSET");
    printf("regset NT_PRSTATUS: %zu bytes, rip matches: %s\n", iov.iov_len,
           rs.rip == regs.rip ? "yes" : "no");
    struct user_fpregs_struct fp;
    CHECK(pt(PTRACE_GETFPREGS, pid, 0, &fp) == 0, "GETFPREGS");
    printf("fpregs mxcsr default: %s\n", (fp.mxcsr & 0xffbf) == 0x1f80 ? "yes" : "no");
    fp.mxcsr = 0x1f80 | 0x6000; /* round toward zero */
    CHECK(pt(PTRACE_SETFPREGS, pid, 0, &fp) == 0, "SETFPREGS");
    struct user_fpregs_struct fp2;
    iov.iov_base = &fp2;
    iov.iov_len = sizeof fp2;
    CHECK(pt(PTRACE_GETREGSET, pid, (void *)NT_PRFPREG, &iov) == 0, "GETREGSET FP");
    printf("regset NT_PRFPREG: %zu bytes, mxcsr set: %s\n", iov.iov_len,
           fp2.mxcsr == (0x1f80 | 0x6000) ? "yes" : "no");
    fp.mxcsr = 0x1f80;
    pt(PTRACE_SETFPREGS, pid, 0, &fp);
    char xs[4096];
    iov.iov_base = xs;
    iov.iov_len = sizeof xs;
    CHECK(pt(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov) == 0, "GETREGSET XSTATE");
    uint64_t xcr0;
    memcpy(&xcr0, xs + 464, 8);
    printf("regset NT_X86_XSTATE: xcr0 has x87 and SSE: %s\n", (xcr0 & 3) == 3 ? "yes" : "no");

    uint64_t mask = 0;
    CHECK(pt(PTRACE_GETSIGMASK, pid, (void *)8, &mask) == 0, "GETSIGMASK");
    printf("sigmask has SIGUSR1: %s\n", (mask & (1ull << (SIGUSR1 - 1))) ? "yes" : "no");
    r = pt(PTRACE_GETSIGMASK, pid, (void *)4, &mask);
    printf("getsigmask with size 4: %ld %s\n", r, strerrorname_np(errno));
    r = pt(0x7777, pid, 0, 0);
    printf("unknown request: %ld %s\n", r, strerrorname_np(errno));
    r = pt(PTRACE_INTERRUPT, pid, 0, 0);
    printf("interrupt of a tracee not seized: %ld %s\n", r, strerrorname_np(errno));
    r = pt(PTRACE_LISTEN, pid, 0, 0);
    printf("listen outside a group stop: %ld %s\n", r, strerrorname_np(errno));
    r = pt(PTRACE_SETOPTIONS, pid, 0, (void *)0x80000000ul);
    printf("setoptions with an unknown bit: %ld %s\n", r, strerrorname_np(errno));
    r = pt(PTRACE_ATTACH, pid, 0, 0);
    printf("attach to a tracee of ours: %ld %s\n", r, strerrorname_np(errno));
    r = pt(PTRACE_CONT, pid, 0, (void *)1000);
    printf("cont with signal 1000: %ld %s\n", r, strerrorname_np(errno));
    pt(PTRACE_CONT, pid, 0, 0);
    printf("child saw the poke: %s\n", describe(wait_for(pid)));
}

/* ---- PTRACE_SYSCALL: stops counted, a call skipped, a result changed ---- */
static void body_syscalls(void) {
    long a = syscall(SYS_getpid);
    int skipped = a == -1 && errno == ENOSYS;
    long b = syscall(SYS_getppid);
    syscall(SYS_exit_group, (skipped ? 1 : 0) + (b == 4242 ? 2 : 0));
}

static void syscalls(void) {
    pid_t pid = traced_child(body_syscalls);
    CHECK(pt(PTRACE_SETOPTIONS, pid, 0, (void *)PTRACE_O_TRACESYSGOOD) == 0, "SETOPTIONS");
    int entering = 1;
    char line[512] = "";
    for (;;) {
        pt(PTRACE_SYSCALL, pid, 0, 0);
        int st = wait_for(pid);
        if (!WIFSTOPPED(st)) {
            printf("syscall stops:%s\n", line);
            printf("after the calls: %s\n", describe(st));
            return;
        }
        CHECK(WSTOPSIG(st) == (SIGTRAP | 0x80), "stop %s", describe(st));
        struct user_regs_struct r;
        pt(PTRACE_GETREGS, pid, 0, &r);
        char one[64];
        snprintf(one, sizeof one, " %s%lld", entering ? ">" : "<", (long long)r.orig_rax);
        strncat(line, one, sizeof line - strlen(line) - 1);
        if (entering) {
            CHECK((long)r.rax == -ENOSYS, "rax at entry %lld", (long long)r.rax);
            if (r.orig_rax == SYS_getpid) {
                r.orig_rax = -1;
                pt(PTRACE_SETREGS, pid, 0, &r);
            }
        } else if (r.orig_rax == SYS_getppid) {
            r.rax = 4242;
            pt(PTRACE_SETREGS, pid, 0, &r);
        }
        entering = !entering;
    }
}

/* ---- fork, clone, exec and exit events ---- */
static void *thread_main(void *arg) {
    return arg;
}

static void body_events(void) {
    pid_t c = fork();
    if (c == 0)
        _exit(5);
    waitpid(c, 0, 0);
    pthread_t t;
    pthread_create(&t, 0, thread_main, 0);
    pthread_join(t, 0);
    execl("/bin/true", "true", (char *)0);
}

static void events(void) {
    pid_t pid = traced_child(body_events);
    long opts = PTRACE_O_TRACEFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
                PTRACE_O_TRACEEXIT;
    CHECK(pt(PTRACE_SETOPTIONS, pid, 0, (void *)opts) == 0, "SETOPTIONS");
    pt(PTRACE_CONT, pid, 0, 0);
    int fork_ev = 0, clone_ev = 0, exec_ev = 0, exit_ev = 0, new_stops = 0, gone = 0;
    unsigned long fork_msg = 0, clone_msg = 0, exec_msg = 0, exit_msg = 0;
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, __WALL);
        if (w < 0)
            break;
        if (!WIFSTOPPED(st)) {
            if (w == pid)
                printf("events: traced child %s\n", describe(st));
            else
                gone++;
            continue;
        }
        int ev = st >> 16;
        unsigned long msg = 0;
        if (ev)
            pt(PTRACE_GETEVENTMSG, w, 0, &msg);
        if (ev == PTRACE_EVENT_FORK)
            fork_ev++, fork_msg = msg;
        else if (ev == PTRACE_EVENT_CLONE)
            clone_ev++, clone_msg = msg;
        else if (ev == PTRACE_EVENT_EXEC)
            exec_ev++, exec_msg = msg;
        else if (ev == PTRACE_EVENT_EXIT)
            exit_ev += w == pid, exit_msg = w == pid ? msg : exit_msg;
        else if (w != pid && WSTOPSIG(st) == SIGSTOP)
            new_stops++;
        pt(PTRACE_CONT, w, 0, 0);
    }
    printf("fork events %d, clone events %d, exec events %d\n", fork_ev, clone_ev, exec_ev);
    printf("new tasks stopped with SIGSTOP: %d; they exited: %d\n", new_stops, gone);
    printf("fork message names a new pid: %s; clone message too: %s\n",
           fork_msg > 0 && fork_msg != (unsigned long)pid ? "yes" : "no",
           clone_msg > 0 && clone_msg != fork_msg ? "yes" : "no");
    printf("exec message is the pid: %s\n", exec_msg == (unsigned long)pid ? "yes" : "no");
    printf("exit event of the child: %d, status %#lx\n", exit_ev, exit_msg);
}

/* ---- single steps ---- */
static void body_spin(void) {
    volatile int x = 0;
    for (int i = 0; i < 1000; i++)
        x += i;
    _exit(x == 499500 ? 3 : 1);
}

static void single_step(void) {
    pid_t pid = traced_child(body_spin);
    int traps = 0, advanced = 0, trace_code = 0;
    struct user_regs_struct r0, r1;
    for (int i = 0; i < 5; i++) {
        pt(PTRACE_GETREGS, pid, 0, &r0);
        pt(PTRACE_SINGLESTEP, pid, 0, 0);
        int st = wait_for(pid);
        traps += WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP;
        siginfo_t si;
        pt(PTRACE_GETSIGINFO, pid, 0, &si);
        trace_code += si.si_code == TRAP_TRACE;
        pt(PTRACE_GETREGS, pid, 0, &r1);
        advanced += r1.rip != r0.rip;
        CHECK(!(r1.eflags & 0x100), "TF left set after a step");
    }
    printf("5 single steps: %d SIGTRAPs, %d with TRAP_TRACE, rip moved %d times\n", traps,
           trace_code, advanced);
    pt(PTRACE_CONT, pid, 0, 0);
    printf("after the steps: %s\n", describe(wait_for(pid)));
}

/* ---- an int3 breakpoint in read-only text ---- */
__attribute__((noinline)) int bp_target(int v) {
    __asm__ volatile("" ::: "memory");
    return v * 3;
}

static void body_bp(void) {
    _exit(bp_target(3));
}

static void breakpoint(void) {
    pid_t pid = traced_child(body_bp);
    void *at = (void *)bp_target;
    long word = pt(PTRACE_PEEKTEXT, pid, at, 0);
    CHECK(pt(PTRACE_POKETEXT, pid, at, (void *)((word & ~0xffl) | 0xcc)) == 0, "POKETEXT");
    pt(PTRACE_CONT, pid, 0, 0);
    int st = wait_for(pid);
    struct user_regs_struct r;
    pt(PTRACE_GETREGS, pid, 0, &r);
    siginfo_t si;
    pt(PTRACE_GETSIGINFO, pid, 0, &si);
    printf("breakpoint: %s, rip just after the int3: %s, si_code SI_KERNEL: %s\n",
           describe(st), r.rip == (unsigned long)at + 1 ? "yes" : "no",
           si.si_code == SI_KERNEL ? "yes" : "no");
    pt(PTRACE_POKETEXT, pid, at, (void *)word);
    r.rip = (unsigned long)at;
    pt(PTRACE_SETREGS, pid, 0, &r);
    pt(PTRACE_CONT, pid, 0, 0);
    printf("after the breakpoint: %s\n", describe(wait_for(pid)));
    printf("our own text untouched: %d\n", bp_target(5));
}

/* ---- SEIZE, INTERRUPT, a group stop and LISTEN ---- */
static void seize_listen(void) {
    pid_t pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    long r = pt(PTRACE_SEIZE, pid, 0, (void *)0x80000000ul);
    printf("seize with an unknown option: %ld %s\n", r, strerrorname_np(errno));
    CHECK(pt(PTRACE_SEIZE, pid, 0, (void *)PTRACE_O_TRACESYSGOOD) == 0, "SEIZE");
    CHECK(pt(PTRACE_INTERRUPT, pid, 0, 0) == 0, "INTERRUPT");
    printf("interrupt: %s\n", describe(wait_for(pid)));
    pt(PTRACE_CONT, pid, 0, 0);
    kill(pid, SIGSTOP);
    printf("SIGSTOP sent: %s\n", describe(wait_for(pid)));
    pt(PTRACE_CONT, pid, 0, (void *)SIGSTOP);
    printf("group stop: %s\n", describe(wait_for(pid)));
    CHECK(pt(PTRACE_LISTEN, pid, 0, 0) == 0, "LISTEN");
    int st;
    printf("listening, nothing to wait for: %d\n", waitpid(pid, &st, WNOHANG | __WALL));
    kill(pid, SIGCONT);
    printf("SIGCONT while listening: %s\n", describe(wait_for(pid)));
    pt(PTRACE_CONT, pid, 0, 0);
    printf("then: %s\n", describe(wait_for(pid)));
    pt(PTRACE_CONT, pid, 0, (void *)SIGCONT);
    pt(PTRACE_KILL, pid, 0, 0);
    printf("killed: %s\n", describe(wait_for(pid)));
}

/* ---- a tracer's exit with EXITKILL ---- */
static void exitkill(void) {
    pid_t victim = fork();
    if (victim == 0) {
        for (;;)
            pause();
    }
    pid_t tracer = fork();
    if (tracer == 0) {
        int ok = ptrace(PTRACE_SEIZE, victim, 0, (void *)PTRACE_O_EXITKILL) == 0;
        _exit(ok ? 0 : 1);
    }
    printf("tracer: %s\n", describe(wait_for(tracer)));
    printf("its tracee: %s\n", describe(wait_for(victim)));
}

/* ---- who may trace whom ---- */
static void permissions(void) {
    long r = pt(PTRACE_ATTACH, getpid(), 0, 0);
    printf("attach to self: %ld %s\n", r, strerrorname_np(errno));
    r = pt(PTRACE_CONT, 999999, 0, 0);
    printf("cont of no such pid: %ld %s\n", r, strerrorname_np(errno));
    pid_t plain = fork();
    if (plain == 0) {
        for (;;)
            pause();
    }
    r = pt(PTRACE_CONT, plain, 0, 0);
    printf("cont of a child not traced: %ld %s\n", r, strerrorname_np(errno));
    r = pt(PTRACE_PEEKDATA, plain, (void *)&cell, 0);
    printf("peek of a child not traced: %ld %s\n", r, strerrorname_np(errno));
    kill(plain, SIGKILL);
    wait_for(plain);

    pid_t pid = fork();
    if (pid == 0) {
        /* Without the parent's credentials (and capabilities) it may not
         * attach to it, nor to a sibling of root's. */
        if (setuid(65534) != 0)
            _exit(2);
        errno = 0;
        long a = ptrace(PTRACE_ATTACH, getppid(), 0, 0);
        int e = errno;
        long b = ptrace(PTRACE_TRACEME, 0, 0, 0);
        long c = ptrace(PTRACE_TRACEME, 0, 0, 0);
        int e2 = errno;
        printf("unprivileged attach to the parent: %ld %s; traceme %ld, twice %ld %s\n", a,
               strerrorname_np(e), b, c, strerrorname_np(e2));
        fflush(stdout);
        _exit(0);
    }
    int st = wait_for(pid);
    printf("unprivileged child: %s\n", describe(st));
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    traceme_exec();
    peek_poke();
    syscalls();
    events();
    single_step();
    breakpoint();
    seize_listen();
    exitkill();
    permissions();
    if (failures)
        return 1;
    printf("PASS\n");
    return 0;
}
