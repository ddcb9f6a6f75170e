/*
 * Each resource limit hit, as Linux enforces it: RLIMIT_FSIZE (short
 * writes at the limit, EFBIG and SIGXFSZ past it, truncate and fallocate),
 * RLIMIT_DATA and RLIMIT_AS (mmap, brk, mremap), RLIMIT_MEMLOCK (mlock,
 * mlockall, MAP_LOCKED without CAP_IPC_LOCK), RLIMIT_CPU (SIGXCPU at the
 * soft limit, SIGKILL at the hard one), RLIMIT_NPROC (fork's EAGAIN for
 * an ordinary user), RLIMIT_NOFILE (EMFILE at 64 and at 10,000), limits
 * inherited by fork, and prlimit64 on another process. Run as root; each
 * part in its own child. Files live in a fresh directory under /tmp.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static void res(const char *what, long r)
{
	printf("  %s: %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

static void val(const char *what, long r)
{
	if (r < 0)
		printf("  %s: %s\n", what, strerrorname_np(errno));
	else
		printf("  %s: %ld\n", what, r);
}

static void limit(int res_, rlim_t soft, rlim_t hard)
{
	struct rlimit r = { soft, hard };

	if (setrlimit(res_, &r)) {
		perror("setrlimit");
		exit(1);
	}
}

static void status(const char *what, int st)
{
	if (WIFEXITED(st))
		printf("  %s: exit %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("  %s: killed by %s\n", what, sigabbrev_np(WTERMSIG(st)));
	else
		printf("  %s: status %#x\n", what, st);
}

/* Runs `fn` in a child and prints how it ended. */
static void part(const char *title, void (*fn)(void))
{
	int st;
	pid_t p;

	printf("%s\n", title);
	fflush(stdout);
	p = fork();
	if (p == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	waitpid(p, &st, 0);
	status("child", st);
}

static volatile sig_atomic_t xfsz, xcpu;

static void on_xfsz(int s)
{
	(void)s;
	xfsz++;
}

static void fsize(void)
{
	char buf[1500], path[128];
	int fd;

	memset(buf, 'x', sizeof buf);
	signal(SIGXFSZ, on_xfsz);
	limit(RLIMIT_FSIZE, 1000, RLIM_INFINITY);
	snprintf(path, sizeof path, "%s/fsize", dir);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	val("write 1500 at 0", write(fd, buf, sizeof buf));
	val("write 10 at 1000", write(fd, buf, 10));
	printf("  SIGXFSZ so far: %d\n", xfsz);
	val("pwrite 10 at 995", pwrite(fd, buf, 10, 995));
	val("pwrite 0 at 5000", pwrite(fd, buf, 0, 5000));
	printf("  SIGXFSZ so far: %d\n", xfsz);
	res("ftruncate 1000", ftruncate(fd, 1000));
	res("ftruncate 1001", ftruncate(fd, 1001));
	res("truncate 2000", truncate(path, 2000));
	res("fallocate 0..5000", fallocate(fd, 0, 0, 5000));
	res("fallocate KEEP_SIZE 0..5000", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 5000));
	printf("  SIGXFSZ so far: %d\n", xfsz);
	{
		struct iovec iov[2] = { { buf, 600 }, { buf, 600 } };

		lseek(fd, 0, SEEK_SET);
		val("writev 1200 at 0", writev(fd, iov, 2));
	}
	close(fd);
	fd = open(path, O_WRONLY | O_APPEND);
	val("append 1", write(fd, buf, 1));
	printf("  SIGXFSZ: %d\n", xfsz);
	/* With the default action the process dies. */
	signal(SIGXFSZ, SIG_DFL);
	fflush(stdout);
	write(fd, buf, 1);
	printf("  still alive\n");
}

static void data(void)
{
	void *p;

	limit(RLIMIT_DATA, 64 << 20, RLIM_INFINITY);
	p = mmap(NULL, 128 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	res("mmap 128M private writable", p == MAP_FAILED ? -1 : 0);
	p = mmap(NULL, 128 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	res("mmap 128M private read-only", p == MAP_FAILED ? -1 : 0);
	p = mmap(NULL, 128 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	res("mmap 128M shared writable", p == MAP_FAILED ? -1 : 0);
	p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	res("mmap 16M private writable", p == MAP_FAILED ? -1 : 0);
	res("mremap it to 128M", mremap(p, 16 << 20, 128 << 20, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0);
	res("mremap it to 32M", mremap(p, 16 << 20, 32 << 20, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0);
	res("sbrk 128M", sbrk(128 << 20) == (void *)-1 ? -1 : 0);
	res("sbrk 1M", sbrk(1 << 20) == (void *)-1 ? -1 : 0);
}

static void address_space(void)
{
	void *p;

	limit(RLIMIT_AS, 512 << 20, RLIM_INFINITY);
	p = mmap(NULL, 1 << 30, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	res("mmap 1G PROT_NONE", p == MAP_FAILED ? -1 : 0);
	p = mmap(NULL, 1 << 30, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	res("mmap 1G shared", p == MAP_FAILED ? -1 : 0);
	p = mmap(NULL, 64 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	res("mmap 64M", p == MAP_FAILED ? -1 : 0);
	res("sbrk 1G", sbrk(1 << 30) == (void *)-1 ? -1 : 0);
}

/* Drops CAP_IPC_LOCK, which root holds and which lifts the limit. */
static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	syscall(SYS_capget, &h, d);
	d[0].effective &= ~(1u << CAP_IPC_LOCK);
	d[0].permitted &= ~(1u << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &h, d)) {
		perror("capset");
		exit(1);
	}
}

static void memlock(void)
{
	char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	limit(RLIMIT_MEMLOCK, 64 << 10, 64 << 10);
	res("mlock 1M as root (CAP_IPC_LOCK)", mlock(p, 1 << 20));
	munlock(p, 1 << 20);
	drop_ipc_lock();
	res("mlock 16K", mlock(p, 16 << 10));
	res("munlock 16K", munlock(p, 16 << 10));
	res("mlock 128K", mlock(p, 128 << 10));
	res("mlockall MCL_CURRENT", mlockall(MCL_CURRENT));
	res("mmap MAP_LOCKED 128K",
	    mmap(NULL, 128 << 10, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0) ==
			    MAP_FAILED ?
		    -1 :
		    0);
	limit(RLIMIT_MEMLOCK, 0, 0);
	res("mlock 4K with a zero limit", mlock(p, 4096));
	res("mmap MAP_LOCKED with a zero limit",
	    mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0) == MAP_FAILED ?
		    -1 :
		    0);
}

static void on_xcpu(int s)
{
	(void)s;
	xcpu++;
	write(1, "  SIGXCPU\n", 10);
}

static void spin(void)
{
	for (;;)
		__asm__ volatile("" ::: "memory");
}

static void cpu_soft_and_hard(void)
{
	signal(SIGXCPU, on_xcpu);
	limit(RLIMIT_CPU, 1, 2);
	spin();
}

static void cpu_default(void)
{
	limit(RLIMIT_CPU, 1, RLIM_INFINITY);
	spin();
}

static void nproc(void)
{
	int i, n = 0;
	pid_t kids[8];

	limit(RLIMIT_NPROC, 3, 3);
	/* An ordinary user, with no capabilities left; a uid no one else
	 * on the machine runs as. */
	if (setresuid(54321, 54321, 54321)) {
		perror("setresuid");
		exit(1);
	}
	for (i = 0; i < 6; i++) {
		pid_t p = fork();

		if (p == 0) {
			pause();
			_exit(0);
		}
		if (p < 0) {
			printf("  fork %d: %s\n", i + 1, strerrorname_np(errno));
			break;
		}
		kids[n++] = p;
	}
	printf("  forks that worked: %d\n", n);
	for (i = 0; i < n; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
}

static int open_until_emfile(void)
{
	int fd, top = -1;

	while ((fd = open("/dev/null", O_RDONLY)) >= 0)
		top = fd;
	printf("  open: %s, highest fd %d\n", strerrorname_np(errno), top);
	return top;
}

static void nofile(void)
{
	int top, i;

	limit(RLIMIT_NOFILE, 10000, 10000);
	top = open_until_emfile();
	for (i = 3; i <= top; i++)
		close(i);
	limit(RLIMIT_NOFILE, 64, 64);
	top = open_until_emfile();
	for (i = 3; i <= top; i++)
		close(i);
	val("dup2 to 64", dup2(0, 64));
	val("fcntl F_DUPFD 70", fcntl(0, F_DUPFD, 70));
}

static void inherited(void)
{
	struct rlimit r;
	pid_t p;

	limit(RLIMIT_NOFILE, 100, 200);
	limit(RLIMIT_FSIZE, 12345, RLIM_INFINITY);
	p = fork();
	if (p == 0) {
		getrlimit(RLIMIT_NOFILE, &r);
		printf("  child NOFILE %lu/%lu\n", (unsigned long)r.rlim_cur, (unsigned long)r.rlim_max);
		getrlimit(RLIMIT_FSIZE, &r);
		printf("  child FSIZE %lu\n", (unsigned long)r.rlim_cur);
		fflush(stdout);
		_exit(0);
	}
	waitpid(p, NULL, 0);
}

static void other_process(void)
{
	struct rlimit r, old;
	int ready[2], go[2];
	char c;
	pid_t p;

	if (pipe(ready) || pipe(go))
		exit(1);
	p = fork();
	if (p == 0) {
		limit(RLIMIT_NOFILE, 50, 60);
		write(ready[1], "r", 1);
		read(go[0], &c, 1);
		getrlimit(RLIMIT_NOFILE, &r);
		printf("  child sees NOFILE %lu/%lu\n", (unsigned long)r.rlim_cur,
		       (unsigned long)r.rlim_max);
		open_until_emfile();
		fflush(stdout);
		_exit(0);
	}
	read(ready[0], &c, 1);
	res("prlimit read", prlimit(p, RLIMIT_NOFILE, NULL, &old));
	printf("  child's NOFILE %lu/%lu\n", (unsigned long)old.rlim_cur, (unsigned long)old.rlim_max);
	r.rlim_cur = 20;
	r.rlim_max = 40;
	res("prlimit set 20/40", prlimit(p, RLIMIT_NOFILE, &r, &old));
	res("prlimit of no process", prlimit(999999, RLIMIT_NOFILE, NULL, &old));
	res("prlimit bad resource", prlimit(p, 99, NULL, &old));
	fflush(stdout);
	write(go[1], "g", 1);
	waitpid(p, NULL, 0);
	/* An ordinary user may not touch root's limits. */
	p = fork();
	if (p == 0) {
		setresuid(1000, 1000, 1000);
		res("prlimit of root's process as uid 1000", prlimit(getppid(), RLIMIT_NOFILE, NULL, &old));
		fflush(stdout);
		_exit(0);
	}
	waitpid(p, NULL, 0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("must run as root\n");
		return 1;
	}
	strcpy(dir, "/tmp/rlimitsXXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	part("RLIMIT_FSIZE", fsize);
	part("RLIMIT_DATA", data);
	part("RLIMIT_AS", address_space);
	part("RLIMIT_MEMLOCK", memlock);
	part("RLIMIT_CPU 1/2 with a SIGXCPU handler", cpu_soft_and_hard);
	part("RLIMIT_CPU 1 without a handler", cpu_default);
	part("RLIMIT_NPROC", nproc);
	part("RLIMIT_NOFILE", nofile);
	part("limits are inherited", inherited);
	part("prlimit64 of another process", other_process);
	{
		char cmd[128];

		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("cleanup failed\n");
	}
	printf("PASS\n");
	return 0;
}
