/*
 * /proc/PID/mem and the ptrace access check behind it, as root:
 *   - another process's memory read and written at its addresses with
 *     pread/pwrite, read-only pages included (the write is forced), the
 *     process sees the bytes; an unmapped address is EIO, a read running
 *     into one stops there;
 *   - once the process has exited, reads find nothing (0);
 *   - a root process without CAP_SYS_PTRACE, whose permitted set lacks
 *     capabilities the target has, may not: open EACCES, process_vm_readv
 *     EPERM; it may still open its own (/proc/self/mem);
 *   - another uid may not (EACCES; process_vm_readv EPERM).
 * (A process made undumpable by its setresuid is refused even to its own
 * uid on Linux; the sandbox keeps no dumpable flag, so that is left out.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static const char *value_or_errname(long r)
{
	static char buf[64];
	if (r >= 0)
		snprintf(buf, sizeof buf, "%ld", r);
	else
		snprintf(buf, sizeof buf, "%s", strerrorname_np(errno));
	return buf;
}

static char message[64] = "hello from the child";
/* The child's read-only page, made after the fork (its own, not shared
 * copy-on-write with the parent). */
#define RO_ADDR ((char *)0x200000000UL)
static char *ro = RO_ADDR;

/* A child that answers requests on a pipe: 'p' prints its buffers. */
static pid_t serve(int *req)
{
	int to[2];
	if (pipe(to) != 0)
		return -1;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		close(to[1]);
		/* Its own copy of the page, as a debuggee's written data. */
		message[0] = 'h';
		if (mmap(RO_ADDR, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
			 0) != RO_ADDR)
			_exit(3);
		strcpy(ro, "read-only text");
		mprotect(ro, 4096, PROT_READ);
		char op;
		while (read(to[0], &op, 1) == 1)
			if (op == 'p') {
				printf("child sees: \"%s\" \"%s\"\n", message,
				       ro);
				fflush(stdout);
			}
		_exit(0);
	}
	close(to[0]);
	*req = to[1];
	return c;
}

static void ask(int req)
{
	/* The child prints before it reads again; wait for its line. */
	CHECK(write(req, "p", 1) == 1);
	usleep(100000);
}

static int open_mem(pid_t pid, int flags)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", pid);
	return open(path, flags);
}

static long vm_read(pid_t pid, void *remote, char *buf, size_t n)
{
	struct iovec l = {buf, n}, r = {remote, n};
	return process_vm_readv(pid, &l, 1, &r, 1, 0);
}

static void drop_ptrace_cap(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	CHECK(syscall(SYS_capget, &h, d) == 0);
	d[0].effective &= ~(1u << CAP_SYS_PTRACE);
	d[0].permitted &= ~(1u << CAP_SYS_PTRACE);
	CHECK(syscall(SYS_capset, &h, d) == 0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char *gone = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	strcpy(gone + 4096 - 4, "edge");
	CHECK(munmap(gone + 4096, 4096) == 0);

	int req = -1;
	pid_t c = serve(&req);
	/* The child has made its page once it answers. */
	ask(req);
	int fd = open_mem(c, O_RDWR);
	printf("open child's mem: %s\n", fd < 0 ? value_or_errname(fd) : "ok");
	char buf[64] = {0};
	long r = pread(fd, buf, sizeof message, (off_t)(uintptr_t)message);
	printf("pread: %s \"%s\"\n", value_or_errname(r), buf);
	r = pwrite(fd, "HELLO", 5, (off_t)(uintptr_t)message);
	printf("pwrite: %s\n", value_or_errname(r));
	r = pwrite(fd, "WRITTEN", 7, (off_t)(uintptr_t)ro);
	printf("pwrite to read-only: %s\n", value_or_errname(r));
	ask(req);
	r = pread(fd, buf, 16, 4096);
	printf("pread unmapped: %s\n", value_or_errname(r));
	memset(buf, 0, sizeof buf);
	r = pread(fd, buf, 16, (off_t)(uintptr_t)(gone + 4096 - 4));
	printf("pread into a hole: %s \"%s\"\n", value_or_errname(r), buf);
	CHECK(lseek(fd, (off_t)(uintptr_t)message, SEEK_SET) ==
	      (off_t)(uintptr_t)message);
	memset(buf, 0, sizeof buf);
	r = read(fd, buf, 5);
	printf("lseek+read: %s \"%s\"\n", value_or_errname(r), buf);

	/* A root process without CAP_SYS_PTRACE. */
	fflush(stdout);
	pid_t w = fork();
	if (w == 0) {
		drop_ptrace_cap();
		int f = open_mem(c, O_RDONLY);
		printf("no CAP_SYS_PTRACE, open: %s\n",
		       f < 0 ? value_or_errname(f) : "ok");
		char b[8];
		long n = vm_read(c, message, b, 5);
		printf("no CAP_SYS_PTRACE, process_vm_readv: %s\n", value_or_errname(n));
		f = open("/proc/self/mem", O_RDWR);
		printf("no CAP_SYS_PTRACE, own mem: %s\n",
		       f < 0 ? value_or_errname(f) : "ok");
		memset(b, 0, sizeof b);
		n = pread(f, b, 5, (off_t)(uintptr_t)message);
		printf("no CAP_SYS_PTRACE, own pread: %s \"%.5s\"\n", value_or_errname(n),
		       b);
		fflush(stdout);
		_exit(0);
	}
	waitpid(w, NULL, 0);

	/* Another uid, and the same uid. */
	fflush(stdout);
	w = fork();
	if (w == 0) {
		CHECK(setresgid(1000, 1000, 1000) == 0);
		CHECK(setresuid(1000, 1000, 1000) == 0);
		int f = open_mem(c, O_RDONLY);
		printf("uid 1000, root's mem: %s\n", f < 0 ? value_or_errname(f) : "ok");
		char b[8];
		long n = vm_read(c, message, b, 5);
		printf("uid 1000, process_vm_readv of root: %s\n", value_or_errname(n));
		fflush(stdout);
		_exit(0);
	}
	waitpid(w, NULL, 0);

	close(req);
	/* The child exits; its zombie has no memory. */
	siginfo_t si;
	CHECK(waitid(P_PID, c, &si, WEXITED | WNOWAIT) == 0);
	r = pread(fd, buf, 5, (off_t)(uintptr_t)message);
	printf("pread after exit: %s\n", value_or_errname(r));
	waitpid(c, NULL, 0);
	close(fd);
	if (failures)
		return 1;
	printf("PASS\n");
	return 0;
}
