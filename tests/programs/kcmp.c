/*
 * kcmp: which objects a thread, a fork child and a CLONE_FILES child
 * share with us (files, address space, descriptor table, filesystem
 * context, signal handlers, SysV undo list, a file in an epoll set), an
 * order that is antisymmetric, and the errors (ESRCH, EBADF, EINVAL,
 * ENOENT, EPERM). Then process_vm_readv/writev between a parent and its
 * child: copies both ways, partial transfers at a fault, and the errors.
 * Prints no pid or address: the output is the same on Linux and in the
 * sandbox.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

enum { KCMP_FILE, KCMP_VM, KCMP_FILES, KCMP_FS, KCMP_SIGHAND, KCMP_IO, KCMP_SYSVSEM,
       KCMP_EPOLL_TFD };

struct kcmp_epoll_slot {
	uint32_t efd, tfd, toff;
};

static long kcmp(pid_t a, pid_t b, int type, unsigned long i1, unsigned long i2)
{
	return syscall(SYS_kcmp, a, b, type, i1, i2);
}

/* "same", or "differ" when the two orders are 1 and 2 either way round. */
static const char *cmp(pid_t a, pid_t b, int type)
{
	long x = kcmp(a, b, type, 0, 0), y = kcmp(b, a, type, 0, 0);

	if (x == 0 && y == 0)
		return "same";
	if ((x == 1 && y == 2) || (x == 2 && y == 1))
		return "differ";
	static char buf[64];
	snprintf(buf, sizeof(buf), "inconsistent %ld %ld (%s)", x, y, strerror(errno));
	return buf;
}

static const char *names[] = { "FILE", "VM", "FILES", "FS", "SIGHAND" };

static void report(const char *who, pid_t other)
{
	for (int t = KCMP_VM; t <= KCMP_SIGHAND; t++)
		printf("%s %s: %s\n", who, names[t], cmp(getpid(), other, t));
}

static int gate[2];

static pid_t gated(int flags)
{
	static char stack[1 << 16];
	int child(void *arg)
	{
		char c;
		read(gate[0], &c, 1);
		return 0;
	}
	CHECK(pipe(gate) == 0);
	pid_t pid = clone(child, stack + sizeof(stack), flags | SIGCHLD, NULL);
	CHECK(pid > 0);
	return pid;
}

static void release(pid_t pid)
{
	CHECK(write(gate[1], "x", 1) == 1);
	CHECK(waitpid(pid, NULL, 0) == pid);
	close(gate[0]);
	close(gate[1]);
}

static volatile pid_t thread_tid;

static void *thread(void *arg)
{
	char c;
	thread_tid = gettid();
	read(gate[0], &c, 1);
	return NULL;
}

static void sharing(void)
{
	printf("self VM: %s\n", cmp(getpid(), getpid(), KCMP_VM));
	printf("self IO: %s\n", cmp(getpid(), getpid(), KCMP_IO));

	pid_t child = gated(0);
	report("fork child", child);
	printf("fork child SYSVSEM before SEM_UNDO: %s\n", cmp(getpid(), child, KCMP_SYSVSEM));
	release(child);

	child = gated(CLONE_FILES);
	report("CLONE_FILES child", child);
	release(child);

	child = gated(CLONE_FS | CLONE_SIGHAND | CLONE_VM);
	report("CLONE_FS|CLONE_SIGHAND|CLONE_VM child", child);
	release(child);

	pthread_t th;
	CHECK(pipe(gate) == 0);
	CHECK(pthread_create(&th, NULL, thread, NULL) == 0);
	while (!thread_tid)
		usleep(1000);
	report("thread", thread_tid);

	/* SEM_UNDO gives the process an undo list, which threads share. */
	int id = semget(IPC_PRIVATE, 1, 0600);
	struct sembuf op = { 0, 1, SEM_UNDO };
	CHECK(semop(id, &op, 1) == 0);
	printf("thread SYSVSEM after SEM_UNDO: %s\n", cmp(getpid(), thread_tid, KCMP_SYSVSEM));
	CHECK(write(gate[1], "x", 1) == 1);
	CHECK(pthread_join(th, NULL) == 0);
	close(gate[0]);
	close(gate[1]);
	child = gated(0);
	printf("fork child SYSVSEM after our SEM_UNDO: %s\n", cmp(getpid(), child, KCMP_SYSVSEM));
	release(child);
	semctl(id, 0, IPC_RMID);
}

static void files(void)
{
	int a = open("/dev/null", O_RDONLY), b = dup(a), c = open("/dev/null", O_RDONLY);
	int d = open("/dev/zero", O_RDONLY);
	pid_t me = getpid();

	printf("dup'ed fd: %s\n", err(kcmp(me, me, KCMP_FILE, a, b)));
	long x = kcmp(me, me, KCMP_FILE, a, c), y = kcmp(me, me, KCMP_FILE, c, a);
	printf("two opens differ, antisymmetric: %d\n", x + y == 3 && x * y == 2);
	/* A total order: of three files, exactly one is least. */
	long ac = kcmp(me, me, KCMP_FILE, a, c), ad = kcmp(me, me, KCMP_FILE, a, d),
	     cd = kcmp(me, me, KCMP_FILE, c, d);
	int least = (ac == 1 && ad == 1) + (ac == 2 && cd == 1) + (ad == 2 && cd == 2);
	printf("exactly one of three is least: %d\n", least == 1);
	printf("closed fd: %s\n", err(kcmp(me, me, KCMP_FILE, a, 900)));

	pid_t child = gated(0);
	printf("fd inherited by fork: %s\n", err(kcmp(me, child, KCMP_FILE, a, a)));
	release(child);

	int ep = epoll_create1(0), p[2];
	CHECK(pipe(p) == 0);
	int p2 = dup(p[0]);
	struct epoll_event ev = { .events = EPOLLIN };
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
	struct kcmp_epoll_slot slot = { ep, p[0], 0 };
	printf("EPOLL_TFD, the file registered: %s\n", err(kcmp(me, me, KCMP_EPOLL_TFD, p2, (unsigned long)&slot)));
	long r = kcmp(me, me, KCMP_EPOLL_TFD, d, (unsigned long)&slot);
	printf("EPOLL_TFD, another file: differs %d\n", r == 1 || r == 2);
	slot.toff = 1;
	printf("EPOLL_TFD, second of that number: %s\n", err(kcmp(me, me, KCMP_EPOLL_TFD, a, (unsigned long)&slot)));
	slot.toff = 0;
	slot.tfd = d;
	printf("EPOLL_TFD, unregistered number: %s\n", err(kcmp(me, me, KCMP_EPOLL_TFD, a, (unsigned long)&slot)));
	slot.efd = a;
	printf("EPOLL_TFD, not an epoll: %s\n", err(kcmp(me, me, KCMP_EPOLL_TFD, a, (unsigned long)&slot)));
	printf("EPOLL_TFD, bad slot: %s\n", err(kcmp(me, me, KCMP_EPOLL_TFD, a, 8)));

	printf("type 8: %s\n", err(kcmp(me, me, 8, 0, 0)));
	printf("no such process: %s\n", err(kcmp(me, 4000000, KCMP_VM, 0, 0)));
	close(ep);
	close(p[0]);
	close(p[1]);
	close(p2);
	close(a);
	close(b);
	close(c);
	close(d);
}

static void unprivileged(void)
{
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		CHECK(setresgid(65534, 65534, 65534) == 0);
		CHECK(setresuid(65534, 65534, 65534) == 0);
		printf("unprivileged kcmp with root parent: %s\n",
		       err(kcmp(getpid(), getppid(), KCMP_VM, 0, 0)));
		char buf[4];
		struct iovec l = { buf, 4 }, r = { buf, 4 };
		printf("unprivileged process_vm_readv of root parent: %s\n",
		       err(process_vm_readv(getppid(), &l, 1, &r, 1, 0)));
		fflush(stdout);
		_exit(0);
	}
	CHECK(waitpid(child, NULL, 0) == child);
}

static char shared_buf[64] = "the child's original text";

static void vm_copies(void)
{
	int report[2];

	CHECK(pipe(gate) == 0 && pipe(report) == 0);
	/* Two pages, the second PROT_NONE: a fault in the middle. */
	char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(two, 'p', 8192);
	CHECK(mprotect(two + 4096, 4096, PROT_NONE) == 0);
	char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		char c;
		read(gate[0], &c, 1);
		write(report[1], shared_buf, sizeof(shared_buf));
		_exit(0);
	}
	strcpy(shared_buf, "the parent's changed text");
	char buf[64] = "", big[8192];
	struct iovec l = { buf, sizeof(buf) }, r = { shared_buf, sizeof(shared_buf) };
	printf("process_vm_readv: %s", err(process_vm_readv(child, &l, 1, &r, 1, 0)));
	printf(", read \"%s\"\n", buf);

	/* Scattered: remote 8 + 8 bytes into local 4 + 12. */
	char a[4], b[12];
	struct iovec ls[2] = { { a, 4 }, { b, 12 } };
	struct iovec rs[2] = { { shared_buf + 4, 8 }, { shared_buf + 16, 8 } };
	printf("scattered: %s", err(process_vm_readv(child, ls, 2, rs, 2, 0)));
	printf(", \"%.4s|%.12s\"\n", a, b);

	static const char msg[] = "written by the parent";
	struct iovec w = { (void *)msg, sizeof(msg) };
	printf("process_vm_writev: %s\n", err(process_vm_writev(child, &w, 1, &r, 1, 0)));

	/* Partial: a good element, then a bad one; a fault mid-element. */
	struct iovec bad[2] = { { shared_buf, 16 }, { (void *)8, 16 } };
	printf("good then bad remote element: %s\n", err(process_vm_readv(child, &l, 1, bad, 2, 0)));
	struct iovec bl = { big, sizeof(big) }, span = { two, 8192 };
	printf("remote range running into PROT_NONE: %s\n",
	       err(process_vm_readv(child, &bl, 1, &span, 1, 0)));
	printf("only a bad remote element: %s\n", err(process_vm_readv(child, &l, 1, &bad[1], 1, 0)));
	struct iovec badl = { (void *)8, 16 };
	printf("bad local buffer: %s\n", err(process_vm_readv(child, &badl, 1, &r, 1, 0)));
	struct iovec rov = { ro, 16 };
	printf("write into a read-only remote page: %s\n",
	       err(process_vm_writev(child, &w, 1, &rov, 1, 0)));
	printf("flags 1: %s\n", err(process_vm_readv(child, &l, 1, &r, 1, 1)));
	printf("1025 local elements: %s\n", err(process_vm_readv(child, &l, 1025, &r, 1, 0)));
	struct iovec none = { buf, 0 };
	printf("nothing to copy, no such process: %s\n",
	       err(process_vm_readv(4000000, &none, 1, &r, 1, 0)));
	printf("no such process: %s\n", err(process_vm_readv(4000000, &l, 1, &r, 1, 0)));

	CHECK(write(gate[1], "x", 1) == 1);
	char seen[64] = "";
	CHECK(read(report[0], seen, sizeof(seen)) == sizeof(seen));
	printf("the child's buffer now: \"%s\"\n", seen);
	CHECK(waitpid(child, NULL, 0) == child);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	sharing();
	files();
	unprivileged();
	vm_copies();
	if (failures) {
		printf("%d failures\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
