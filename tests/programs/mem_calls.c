// Memory calls compared with Linux: membarrier's commands, registrations
// (kept by fork, dropped by exec) and errnos; mlock2; the NUMA calls on a
// machine of one node (set_mempolicy, get_mempolicy, mbind, migrate_pages,
// move_pages); protection keys on a CPU without them; remap_file_pages
// rearranging the pages of a shared file mapping.

#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <linux/mempolicy.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MEMBARRIER_CMD_GET_REGISTRATIONS
#define MEMBARRIER_CMD_GET_REGISTRATIONS (1 << 9)
#endif
// The RSEQ commands: answered as a kernel without rseq in the sandbox.
#define RSEQ_CMDS (MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ)

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %ld\n", what, r);
}

static long mb(int cmd, unsigned flags, int cpu) {
    return syscall(SYS_membarrier, cmd, flags, cpu);
}

static void membarrier_calls(void) {
    show("query (without rseq)", mb(MEMBARRIER_CMD_QUERY, 0, 0) & ~RSEQ_CMDS);
    show("query with flags", mb(MEMBARRIER_CMD_QUERY, 1, 0));
    show("registrations at start", mb(MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0));
    show("private expedited unregistered", mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    show("sync core unregistered", mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0));
    show("global", mb(MEMBARRIER_CMD_GLOBAL, 0, 0));
    show("global with flags", mb(MEMBARRIER_CMD_GLOBAL, 1, 0));
    show("global expedited unregistered", mb(MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0));
    show("unknown command", mb(1 << 20, 0, 0));
    show("two commands", mb(MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0));
    show("register private", mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));
    show("private expedited", mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    show("private expedited, flag cpu", mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, MEMBARRIER_CMD_FLAG_CPU, 0));
    show("sync core still unregistered", mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0));
    show("register global expedited", mb(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0));
    show("global expedited", mb(MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0));
    show("registrations", mb(MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0));
    show("register sync core", mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0));
    show("sync core", mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0));
    show("registrations", mb(MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0));
    pid_t pid = fork();
    if (pid == 0) {
        show("child's registrations", mb(MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0));
        show("child's private expedited", mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
        execl("/proc/self/exe", "mem_calls", "after-exec", (char *)NULL);
        _exit(99);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("exec child status %d\n", WEXITSTATUS(status));
}

static void after_exec(void) {
    show("registrations after exec", mb(MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0));
    show("private expedited after exec", mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    show("register sync core only", mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0));
    show("registrations", mb(MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0));
    show("private expedited with sync core only", mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    show("sync core", mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0));
}

static void mlock2_calls(char *p) {
    show("mlock2", syscall(SYS_mlock2, p, 4096, 0));
    show("mlock2 onfault", syscall(SYS_mlock2, p, 8192, MLOCK_ONFAULT));
    show("mlock2 unknown flag", syscall(SYS_mlock2, p, 4096, 2));
    show("mlock2 unmapped", syscall(SYS_mlock2, (void *)0x1000, 4096, 0));
    show("munlock", munlock(p, 8192));
}

static long getpol(int *mode, unsigned long *mask, unsigned long maxnode, void *addr, unsigned long flags) {
    return syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, flags);
}

static long setpol(int mode, unsigned long mask, unsigned long maxnode) {
    unsigned long m[2] = {mask, 0};
    return syscall(SYS_set_mempolicy, mode, mask == ~0UL ? NULL : m, maxnode);
}

static void showpol(const char *what, void *addr, unsigned long flags) {
    int mode = -7;
    unsigned long mask[4] = {0xaa, 0xbb, 0xcc, 0xdd};
    long r = getpol(&mode, mask, 4 * 64, addr, flags);
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: mode %#x mask %lx %lx %lx %lx\n", what, mode, mask[0], mask[1], mask[2], mask[3]);
}

static void numa_calls(char *p) {
    showpol("policy at start", NULL, 0);
    showpol("mems allowed", NULL, MPOL_F_MEMS_ALLOWED);
    showpol("mems allowed with addr", NULL, MPOL_F_MEMS_ALLOWED | MPOL_F_ADDR);
    showpol("policy of a mapping", p, MPOL_F_ADDR);
    showpol("node of a page", p, MPOL_F_ADDR | MPOL_F_NODE);
    showpol("node without interleave", NULL, MPOL_F_NODE);
    showpol("policy of an unmapped address", (void *)0x1000, MPOL_F_ADDR);
    showpol("address without MPOL_F_ADDR", p, 0);
    showpol("unknown flag", NULL, 1 << 5);
    int mode;
    unsigned long mask[2] = {7, 7};
    show("get_mempolicy maxnode 0", getpol(&mode, mask, 0, NULL, 0));
    show("get_mempolicy maxnode 1", getpol(&mode, mask, 1, NULL, 0));
    printf("mask untouched: %lx %lx\n", mask[0], mask[1]);
    show("get_mempolicy maxnode 65", getpol(&mode, mask, 65, NULL, 0));
    printf("mask: %lx %lx\n", mask[0], mask[1]);
    show("get_mempolicy mask at NULL+1", getpol(&mode, (unsigned long *)8, 64, NULL, 0));

    show("bind node 0", setpol(MPOL_BIND, 1, 64));
    showpol("policy", NULL, 0);
    show("bind node 1", setpol(MPOL_BIND, 2, 64));
    show("bind nodes 0 and 1", setpol(MPOL_BIND, 3, 64));
    showpol("policy", NULL, 0);
    show("bind node 0, maxnode 1 (no bits)", setpol(MPOL_BIND, 1, 1));
    show("bind no nodes", setpol(MPOL_BIND, 0, 64));
    show("bind static nodes 0 and 1", setpol(MPOL_BIND | MPOL_F_STATIC_NODES, 3, 64));
    showpol("policy", NULL, 0);
    show("bind relative node 5", setpol(MPOL_BIND | MPOL_F_RELATIVE_NODES, 1 << 5, 64));
    showpol("policy", NULL, 0);
    show("static and relative", setpol(MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, 1, 64));
    show("interleave", setpol(MPOL_INTERLEAVE, 1, 64));
    showpol("policy", NULL, 0);
    showpol("next interleave node", NULL, MPOL_F_NODE);
    show("interleave, numa balancing", setpol(MPOL_INTERLEAVE | MPOL_F_NUMA_BALANCING, 1, 64));
    show("bind, numa balancing", setpol(MPOL_BIND | MPOL_F_NUMA_BALANCING, 1, 64));
    showpol("policy", NULL, 0);
    show("preferred node 0", setpol(MPOL_PREFERRED, 1, 64));
    showpol("policy", NULL, 0);
    show("preferred, no nodes", setpol(MPOL_PREFERRED, ~0UL, 0));
    showpol("policy", NULL, 0);
    show("preferred static, no nodes", setpol(MPOL_PREFERRED | MPOL_F_STATIC_NODES, 0, 64));
    show("local", setpol(MPOL_LOCAL, ~0UL, 0));
    showpol("policy", NULL, 0);
    show("local with a node", setpol(MPOL_LOCAL, 1, 64));
    show("preferred many", setpol(MPOL_PREFERRED_MANY, 1, 64));
    showpol("policy", NULL, 0);
    show("default with a node", setpol(MPOL_DEFAULT, 1, 64));
    show("unknown mode", setpol(MPOL_MAX + 1, 1, 64));
    show("mode with high bits", setpol(MPOL_BIND | 0x10000, 1, 64));
    show("maxnode beyond a page", setpol(MPOL_BIND, 1, 4096 * 8 + 2));
    show("mask at NULL+1", syscall(SYS_set_mempolicy, MPOL_BIND, (void *)8, 64));
    show("bind, inherited by a child", setpol(MPOL_BIND, 1, 64));
    pid_t pid = fork();
    if (pid == 0) {
        showpol("child's policy", NULL, 0);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    show("default", setpol(MPOL_DEFAULT, ~0UL, 0));
    showpol("policy", NULL, 0);

    unsigned long one = 1, two = 2;
    show("mbind bind", syscall(SYS_mbind, p + 4096, 4096, MPOL_BIND, &one, 64, 0));
    showpol("first page", p, MPOL_F_ADDR);
    showpol("second page", p + 4096, MPOL_F_ADDR);
    show("mbind strict move", syscall(SYS_mbind, p, 8192, MPOL_INTERLEAVE, &one, 64, MPOL_MF_STRICT | MPOL_MF_MOVE));
    showpol("first page", p, MPOL_F_ADDR);
    show("mbind node 1", syscall(SYS_mbind, p, 8192, MPOL_BIND, &two, 64, 0));
    show("mbind unknown flag", syscall(SYS_mbind, p, 8192, MPOL_BIND, &one, 64, 1 << 6));
    show("mbind unaligned", syscall(SYS_mbind, p + 1, 4096, MPOL_BIND, &one, 64, 0));
    show("mbind unmapped", syscall(SYS_mbind, (void *)0x1000, 4096, MPOL_BIND, &one, 64, 0));
    show("mbind length 0", syscall(SYS_mbind, (void *)0x1000, 0, MPOL_BIND, &one, 64, 0));
    show("mbind default", syscall(SYS_mbind, p, 8192, MPOL_DEFAULT, NULL, 0, 0));
    showpol("first page", p, MPOL_F_ADDR);

    unsigned long from = 1, to = 1, elsewhere = 2;
    show("migrate_pages to node 0", syscall(SYS_migrate_pages, 0, 64, &from, &to));
    show("migrate_pages to node 1", syscall(SYS_migrate_pages, 0, 64, &from, &elsewhere));
    show("migrate_pages of no process", syscall(SYS_migrate_pages, 999999, 64, &from, &to));

    p[0] = 1;
    p[4096] = 1;
    void *pages[3] = {p, p + 4096, (void *)0x1000};
    int nodes[3] = {0, 0, 0}, status[3] = {-9, -9, -9};
    show("move_pages query", syscall(SYS_move_pages, 0, 3, pages, NULL, status, 0));
    printf("status %d %d %d\n", status[0], status[1], status[2]);
    show("move_pages to node 0", syscall(SYS_move_pages, 0, 2, pages, nodes, status, 0));
    printf("status %d %d\n", status[0], status[1]);
    nodes[1] = 1;
    show("move_pages to node 1", syscall(SYS_move_pages, 0, 2, pages, nodes, status, 0));
    nodes[1] = -1;
    show("move_pages to node -1", syscall(SYS_move_pages, 0, 2, pages, nodes, status, 0));
    show("move_pages unknown flag", syscall(SYS_move_pages, 0, 2, pages, NULL, status, 1));
    show("move_pages of no process", syscall(SYS_move_pages, 999999, 2, pages, NULL, status, 0));
}

static sigjmp_buf jump;
static void on_segv(int sig) {
    (void)sig;
    siglongjmp(jump, 1);
}

static int writable(char *p) {
    if (sigsetjmp(jump, 1))
        return 0;
    *(volatile char *)p = 2;
    return 1;
}

// Whether the CPU and kernel offer protection keys (CPUID.7.0:ECX.OSPKE):
// natively pkey_alloc then gives keys, which the sandbox never does.
static int has_ospke(void) {
    unsigned a = 7, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return (c >> 4) & 1;
}

static void pkey_calls(char *p) {
    signal(SIGSEGV, on_segv);
    show("pkey_alloc flags 1", syscall(SYS_pkey_alloc, 1, 0));
    show("pkey_alloc rights 4", syscall(SYS_pkey_alloc, 0, 4));
    if (has_ospke()) {
        printf("pkey_alloc: keys refused\npkey_alloc again: -1 ENOSPC\n");
    } else {
        // Linux on such a CPU answers a process's first call EINVAL (its
        // key 0 leaks), the later ones ENOSPC; the sandbox always ENOSPC.
        long r = syscall(SYS_pkey_alloc, 0, 0);
        printf("pkey_alloc: %s\n", r < 0 && (errno == EINVAL || errno == ENOSPC) ? "keys refused" : "a key");
        show("pkey_alloc again", syscall(SYS_pkey_alloc, 0, PKEY_DISABLE_WRITE));
    }
    show("pkey_free 0", syscall(SYS_pkey_free, 0));
    show("pkey_free 1", syscall(SYS_pkey_free, 1));
    show("pkey_free -1", syscall(SYS_pkey_free, -1));
    show("pkey_mprotect key -1 read-only", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, -1));
    printf("writable after: %d\n", writable(p));
    show("pkey_mprotect key -1 read-write", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ | PROT_WRITE, -1));
    printf("writable after: %d\n", writable(p));
    show("pkey_mprotect key 1", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 1));
    show("pkey_mprotect key 16", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 16));
    show("pkey_mprotect key 1, length 0", syscall(SYS_pkey_mprotect, p, 0, PROT_READ, 1));
    show("pkey_mprotect key 1, unaligned", syscall(SYS_pkey_mprotect, p + 1, 4096, PROT_READ, 1));
    printf("writable after: %d\n", writable(p));
    signal(SIGSEGV, SIG_DFL);
}

static void remap_calls(void) {
    int fd = memfd_create("remap", 0);
    for (int i = 0; i < 4; i++) {
        char page[4096];
        memset(page, 'A' + i, sizeof page);
        write(fd, page, sizeof page);
    }
    char *m = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    show("remap page 0 to file page 3", syscall(SYS_remap_file_pages, m, 4096, 0, 3, 0));
    show("remap page 3 to file page 0", syscall(SYS_remap_file_pages, m + 3 * 4096, 4096, 0, 0, 0));
    show("remap pages 1-2 to file pages 2-3", syscall(SYS_remap_file_pages, m + 4096, 8192, 0, 2, 0));
    printf("pages now: %c %c %c %c\n", m[0], m[4096], m[2 * 4096], m[3 * 4096]);
    m[0] = 'z';
    printf("a store through page 0 shows in page 2 (both file page 3): %c\n", m[2 * 4096]);
    show("remap with prot", syscall(SYS_remap_file_pages, m, 4096, PROT_READ, 1, 0));
    show("remap length 0", syscall(SYS_remap_file_pages, m, 0, 0, 1, 0));
    show("remap unmapped", syscall(SYS_remap_file_pages, (void *)0x1000, 4096, 0, 1, 0));
    show("remap past the mapping", syscall(SYS_remap_file_pages, m + 3 * 4096, 8192, 0, 1, 0));
    show("remap unaligned start and length", syscall(SYS_remap_file_pages, m + 5, 4096 + 5, 0, 1, 0));
    printf("page 0 now: %c\n", m[0]);
    char *priv = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show("remap a private mapping", syscall(SYS_remap_file_pages, priv, 4096, 0, 0, 0));
    munmap(priv, 4096);
    munmap(m, 4 * 4096);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "after-exec") == 0) {
        after_exec();
        return 0;
    }
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    membarrier_calls();
    mlock2_calls(p);
    numa_calls(p);
    pkey_calls(p);
    remap_calls();
    printf("PASS\n");
    return 0;
}
