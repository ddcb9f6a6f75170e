/* System call sites as syscall patching (systrap) sees them, as Linux runs
 * them: glibc wrappers and raw syscall() called many times; hand-written
 * `mov $nr,%eax; syscall` sites (the patchable pattern) called until hot,
 * from four threads at once; a jump straight to such a site's `syscall`
 * instruction with another number in rax (must make that call, not the
 * site's); rcx and r11 after the call (the return address and the flags)
 * and the flags kept; a site restarted after SIGSTOP/SIGCONT
 * (restart_syscall) and after an SA_RESTART handler; a fork child calling
 * the same sites; an application seccomp filter that refuses a call made
 * through a site; and a ptraced child whose every call through a site is
 * a syscall stop. Prints one line per fact, then PASS. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* Each site is the exact 7-byte pattern `b8 imm32; 0f 05`, 8-aligned (so
 * a patch could be one aligned store), with a label on the `syscall` for
 * code that jumps into the middle. Raw results, -errno on failure. */
long site_getpid(void);
long site_mid(long nr);          /* jumps to site_getpid's `syscall` */
long site_nanosleep(const struct timespec *req, struct timespec *rem);
long site_nanosleep_mid(long nr, const struct timespec *req);
long site_read(int fd, void *buf, size_t n);
long site_getppid(void);
/* Calls site_getpid's pattern with CF and DF known and stores what the
 * call left in rcx, r11 and the flags, and where it returned. */
void site_regs(uint64_t out[4]);
extern char site_getpid_after[], site_regs_after[];

__asm__(
    ".text\n"
    ".balign 8\n"
    ".globl site_getpid\n"
    "site_getpid:\n"
    "  movl $39, %eax\n"
    ".globl site_getpid_syscall\n"
    "site_getpid_syscall:\n"
    "  syscall\n"
    ".globl site_getpid_after\n"
    "site_getpid_after:\n"
    "  ret\n"
    ".globl site_mid\n"
    "site_mid:\n"
    "  movq %rdi, %rax\n"
    "  jmp site_getpid_syscall\n"
    ".balign 8\n"
    ".globl site_nanosleep\n"
    "site_nanosleep:\n"
    "  movl $35, %eax\n"
    "site_nanosleep_syscall:\n"
    "  syscall\n"
    "  ret\n"
    ".globl site_nanosleep_mid\n"
    "site_nanosleep_mid:\n"
    "  movq %rdi, %rax\n"
    "  movq %rsi, %rdi\n"
    "  xorl %esi, %esi\n"
    "  jmp site_nanosleep_syscall\n"
    ".balign 8\n"
    ".globl site_read\n"
    "site_read:\n"
    "  movl $0, %eax\n"
    "  syscall\n"
    "  ret\n"
    ".balign 8\n"
    ".globl site_getppid\n"
    "site_getppid:\n"
    "  movl $110, %eax\n"
    "  syscall\n"
    "  ret\n"
    ".balign 8\n"
    ".globl site_regs\n"
    "site_regs:\n"
    "  pushq %rbx\n"
    "  movq %rdi, %rbx\n"
    "  movq $0x1234, %rcx\n"
    "  movq $0x5678, %r11\n"
    "  std\n"
    "  stc\n"
    "  jmp 1f\n"
    ".balign 8\n"
    "1:\n"
    "  movl $39, %eax\n"
    "  syscall\n"
    ".globl site_regs_after\n"
    "site_regs_after:\n"
    "  pushfq\n"
    "  popq 16(%rbx)\n"
    "  cld\n"
    "  movq %rcx, 0(%rbx)\n"
    "  movq %r11, 8(%rbx)\n"
    "  movq %rax, 24(%rbx)\n"
    "  popq %rbx\n"
    "  ret\n");

/* Arithmetic flags and DF: what a call must keep. */
#define FLAGS_KEPT (0x8d5ul | 0x400ul)
#define CF 0x1ul
#define DF 0x400ul

enum { HOT = 20000, THREADS = 4 };

static void wrappers_and_raw_calls(void) {
    pid_t me = getpid();
    int bad = 0;
    for (int i = 0; i < HOT; i++) {
        bad += getpid() != me;
        bad += syscall(SYS_getpid) != me;
        bad += getppid() != (pid_t)syscall(SYS_getppid);
        bad += getuid() != (uid_t)syscall(SYS_getuid);
        mode_t old = umask(022);
        bad += umask(old) != 022;
    }
    CHECK(bad == 0, "%d wrong answers from wrappers and syscall()", bad);
    printf("glibc wrappers and syscall() answered %d times each\n", HOT);
}

static void *racer(void *arg) {
    long me = (long)arg, bad = 0;
    for (int i = 0; i < HOT; i++) {
        bad += site_getpid() != me;
        bad += getpid() != me;
    }
    return (void *)bad;
}

static void sites_raced(void) {
    long me = getpid(), bad = 0;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], 0, racer, (void *)me);
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    CHECK(bad == 0, "%ld wrong answers from the raced site", bad);
    printf("%d threads called one site %d times each\n", THREADS, HOT);
}

static void jump_into_the_middle(void) {
    long bad = 0;
    for (int i = 0; i < HOT; i++) {
        bad += site_mid(SYS_getppid) != getppid();
        bad += site_mid(SYS_gettid) != gettid();
        bad += site_getpid() != getpid();
    }
    CHECK(bad == 0, "%ld wrong answers jumping to the site's syscall", bad);
    printf("a jump to a hot site's syscall made the caller's call\n");
    CHECK(site_mid(-1) == -ENOSYS, "nr -1 through the middle");
    CHECK(site_mid(100000) == -ENOSYS, "nr 100000 through the middle");
    printf("unknown numbers through the middle: ENOSYS\n");
}

static void registers_after(void) {
    uint64_t out[4];
    for (int i = 0; i < HOT; i++)
        site_regs(out);
    CHECK(out[0] == (uint64_t)site_regs_after, "rcx %lx, return address %p",
          (unsigned long)out[0], (void *)site_regs_after);
    CHECK((out[1] & FLAGS_KEPT) == (out[2] & FLAGS_KEPT), "r11 %lx, flags %lx",
          (unsigned long)out[1], (unsigned long)out[2]);
    CHECK((out[1] & (CF | DF)) == (CF | DF), "r11 %lx lost CF or DF", (unsigned long)out[1]);
    CHECK((out[2] & (CF | DF)) == (CF | DF), "flags %lx lost CF or DF", (unsigned long)out[2]);
    CHECK((long)out[3] == getpid(), "rax %ld", (long)out[3]);
    printf("after the call: rcx = return address, r11 = flags, CF and DF kept\n");
}

static void on_alarm(int sig) {
    (void)sig;
}

static long ms_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void restarts(void) {
    for (int i = 0; i < 100; i++)
        site_getppid();
    /* restart_syscall: a stopped and continued nanosleep goes on. */
    for (int via_mid = 0; via_mid < 2; via_mid++) {
        pid_t c = fork();
        if (c == 0) {
            struct timespec req = {0, 300 * 1000 * 1000}, t0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            long r = via_mid ? site_nanosleep_mid(SYS_nanosleep, &req) : site_nanosleep(&req, 0);
            _exit(r == 0 && ms_since(&t0) >= 300 ? 0 : 1);
        }
        usleep(50 * 1000);
        kill(c, SIGSTOP);
        int st;
        waitpid(c, &st, WUNTRACED);
        usleep(20 * 1000);
        kill(c, SIGCONT);
        waitpid(c, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %x", st);
    }
    printf("a site's nanosleep stopped and continued slept its whole time\n");
    /* SA_RESTART: a read interrupted by a handled signal is made again. */
    int p[2];
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        struct sigaction sa = {0};
        sa.sa_handler = on_alarm;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGALRM, &sa, 0);
        close(p[1]);
        char b[8] = {0};
        for (int i = 0; i < 100; i++)
            site_getpid();
        long r = site_read(p[0], b, sizeof b);
        _exit(r == 3 && memcmp(b, "abc", 3) == 0 ? 0 : 1);
    }
    close(p[0]);
    usleep(50 * 1000);
    kill(c, SIGALRM);
    usleep(50 * 1000);
    write(p[1], "abc", 3);
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %x", st);
    close(p[1]);
    printf("a site's read interrupted by an SA_RESTART handler was made again\n");
}

static void fork_child_uses_sites(void) {
    pid_t parent = getpid();
    pid_t c = fork();
    if (c == 0) {
        long bad = 0;
        for (int i = 0; i < HOT; i++) {
            bad += site_getpid() != getpid();
            bad += site_mid(SYS_getppid) != parent;
            bad += site_getppid() != parent;
        }
        _exit(bad != 0);
    }
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %x", st);
    printf("a fork child called the hot sites and got its own answers\n");
}

static void seccomp_through_a_site(void) {
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < 100; i++)
            site_getppid();
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = {sizeof f / sizeof f[0], f};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
            _exit(2);
        int ok = 1;
        for (int i = 0; i < 100; i++) {
            ok &= site_getppid() == -EPERM;
            ok &= site_mid(SYS_getppid) == -EPERM;
            ok &= site_getpid() == getpid();
        }
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %x", st);
    printf("an application seccomp filter refused the call made through a hot site\n");
}

enum { TRACED_CALLS = 50 };

static void traced_child(void) {
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < HOT; i++)
            site_getpid();
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        for (int i = 0; i < TRACED_CALLS; i++)
            site_getpid();
        for (int i = 0; i < TRACED_CALLS; i++)
            site_mid(SYS_getppid);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFSTOPPED(st), "first stop %x", st);
    ptrace(PTRACE_SETOPTIONS, c, 0, (void *)PTRACE_O_TRACESYSGOOD);
    int entries_pid = 0, exits_pid = 0, entries_ppid = 0, at_site = 0, entering = 1;
    for (;;) {
        ptrace(PTRACE_SYSCALL, c, 0, 0);
        waitpid(c, &st, 0);
        if (!WIFSTOPPED(st))
            break;
        struct user_regs_struct r;
        ptrace(PTRACE_GETREGS, c, 0, &r);
        if (r.rip == (unsigned long)site_getpid_after)
            at_site++;
        if (r.orig_rax == SYS_getpid)
            entering ? entries_pid++ : exits_pid++;
        if (r.orig_rax == SYS_getppid && entering)
            entries_ppid++;
        entering = !entering;
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %x", st);
    CHECK(entries_pid == TRACED_CALLS && exits_pid == TRACED_CALLS, "getpid stops %d/%d",
          entries_pid, exits_pid);
    CHECK(entries_ppid == TRACED_CALLS, "getppid entries %d", entries_ppid);
    CHECK(at_site == 4 * TRACED_CALLS, "stops at the site %d", at_site);
    printf("a tracer saw every call through the hot site: %d getpid, %d getppid\n",
           entries_pid, entries_ppid);
}

int main(void) {
    setvbuf(stdout, 0, _IOLBF, 0);
    wrappers_and_raw_calls();
    sites_raced();
    jump_into_the_middle();
    registers_after();
    restarts();
    fork_child_uses_sites();
    seccomp_through_a_site();
    traced_child();
    if (failures)
        return 1;
    printf("PASS\n");
    return 0;
}
