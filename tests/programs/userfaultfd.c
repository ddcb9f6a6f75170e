/*
 * userfaultfd(2) in MISSING mode, as Linux gives it: who may create one
 * (CAP_SYS_PTRACE or UFFD_USER_MODE_ONLY under vm.unprivileged_userfaultfd
 * = 0), the UFFDIO_API handshake, UFFDIO_REGISTER's errors (EINVAL,
 * EBUSY), a handler thread serving faults of an anonymous region with
 * UFFDIO_COPY and UFFDIO_ZEROPAGE (messages with address, flags and
 * thread id), EEXIST and ENOENT, COPY with DONTWAKE then UFFDIO_WAKE,
 * read(2) into a registered buffer (the call waits for the page; with
 * UFFD_USER_MODE_ONLY it is EFAULT), poll and EAGAIN, MADV_DONTNEED making
 * a page missing again, UFFD_FEATURE_SIGBUS, a fork child's copy not
 * registered, unregister and close ending the tracking, and
 * /dev/userfaultfd.
 *
 * Application faults here are reads: the WRITE flag of a store is not
 * reported by the sandbox (the platform does not tell the access type).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long page;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			printf("FAIL %s:%d: %s (errno %s)\n", __FILE__,      \
			       __LINE__, #cond, strerrorname_np(errno));     \
			exit(1);                                             \
		}                                                            \
	} while (0)

static int uffd_new(int flags)
{
	return syscall(SYS_userfaultfd, flags);
}

static const char *err(long r)
{
	return r == 0 ? "0" : r > 0 ? "positive" : strerrorname_np(errno);
}

/* A handshaken userfaultfd, or dies. */
static int uffd_ready(int flags, unsigned long long features)
{
	int fd = uffd_new(flags);
	CHECK(fd >= 0);
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	CHECK(ioctl(fd, UFFDIO_API, &api) == 0);
	return fd;
}

static int reg(int fd, void *addr, unsigned long len, unsigned long long *ioctls)
{
	struct uffdio_register r = {
		.range = { .start = (unsigned long)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int ret = ioctl(fd, UFFDIO_REGISTER, &r);
	if (ioctls)
		*ioctls = r.ioctls;
	return ret;
}

static void *anon(int pages)
{
	void *p = mmap(NULL, pages * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	return p;
}

static pid_t gettid_(void)
{
	return syscall(SYS_gettid);
}

/* ---- the handler thread ---- */

enum serve { SERVE_COPY, SERVE_ZERO };

struct handler {
	int fd;
	enum serve how;
	int count; /* faults to serve */
	char *base;
	/* what it saw */
	int served;
	int in_order;
	int flags_seen;
	pid_t ptid;
	unsigned long first_addr;
};

static void *handle(void *arg)
{
	struct handler *h = arg;
	char *src = malloc(page);
	unsigned long expect = (unsigned long)h->base;

	h->in_order = 1;
	while (h->served < h->count) {
		struct pollfd p = { .fd = h->fd, .events = POLLIN };
		CHECK(poll(&p, 1, -1) == 1);
		CHECK(p.revents == POLLIN);
		struct uffd_msg m;
		ssize_t n = read(h->fd, &m, sizeof(m));
		if (n < 0 && errno == EAGAIN)
			continue;
		CHECK(n == sizeof(m));
		CHECK(m.event == UFFD_EVENT_PAGEFAULT);
		unsigned long a = m.arg.pagefault.address;
		if (h->served == 0)
			h->first_addr = a;
		if (a != expect)
			h->in_order = 0;
		expect = a + page;
		h->flags_seen |= m.arg.pagefault.flags;
		h->ptid = m.arg.pagefault.feat.ptid;
		if (h->how == SERVE_COPY) {
			memset(src, 'a' + (int)((a - (unsigned long)h->base) / page) % 26, page);
			struct uffdio_copy c = {
				.dst = a, .src = (unsigned long)src, .len = page,
			};
			CHECK(ioctl(h->fd, UFFDIO_COPY, &c) == 0);
			CHECK(c.copy == page);
		} else {
			struct uffdio_zeropage z = {
				.range = { .start = a, .len = page },
			};
			CHECK(ioctl(h->fd, UFFDIO_ZEROPAGE, &z) == 0);
			CHECK(z.zeropage == page);
		}
		h->served++;
	}
	free(src);
	return NULL;
}

/* ---- cases ---- */

static unsigned long long cap_bit(int c)
{
	return 1ULL << c;
}

static void who_may_create(void)
{
	char sysctl[16] = "";
	FILE *f = fopen("/proc/sys/vm/unprivileged_userfaultfd", "r");
	if (f) {
		if (!fgets(sysctl, sizeof(sysctl), f))
			sysctl[0] = 0;
		fclose(f);
	}
	printf("vm.unprivileged_userfaultfd: %s", sysctl[0] ? sysctl : "none\n");
	int fd = uffd_new(O_CLOEXEC | O_NONBLOCK);
	printf("root: userfaultfd(O_CLOEXEC|O_NONBLOCK) %s\n", fd >= 0 ? "ok" : err(-1));
	close(fd);
	errno = 0;
	printf("unknown flag: %s\n", err(uffd_new(0x10)));

	pid_t pid = fork();
	if (pid == 0) {
		struct __user_cap_header_struct hd = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2];
		CHECK(syscall(SYS_capget, &hd, d) == 0);
		d[0].effective &= ~cap_bit(CAP_SYS_PTRACE);
		CHECK(syscall(SYS_capset, &hd, d) == 0);
		printf("no CAP_SYS_PTRACE: plain %s\n", err(uffd_new(0)));
		int u = uffd_new(UFFD_USER_MODE_ONLY);
		printf("no CAP_SYS_PTRACE: UFFD_USER_MODE_ONLY %s\n", u >= 0 ? "ok" : err(-1));
		printf("no CAP_SYS_PTRACE: unknown flag %s\n", err(uffd_new(0x10)));
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
}

static void handshake(void)
{
	int fd = uffd_new(O_CLOEXEC | O_NONBLOCK);
	CHECK(fd >= 0);
	char *p = anon(1);
	struct uffd_msg m;
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	printf("before API: register %s, read %s", err(reg(fd, p, page, NULL)),
	       err(read(fd, &m, sizeof(m))));
	int np = poll(&pf, 1, 0);
	printf(", poll %d revents %#x\n", np, pf.revents);

	struct uffdio_api api = { .api = 0x55, .features = 0 };
	long r = ioctl(fd, UFFDIO_API, &api);
	printf("API with a bad version: %s, fields zeroed %d\n", err(r),
	       api.api == 0 && api.features == 0 && api.ioctls == 0);
	api = (struct uffdio_api){ .api = UFFD_API, .features = 1ULL << 62 };
	r = ioctl(fd, UFFDIO_API, &api);
	printf("API with an unknown feature: %s\n", err(r));
	api = (struct uffdio_api){ .api = UFFD_API, .features = UFFD_FEATURE_THREAD_ID };
	r = ioctl(fd, UFFDIO_API, &api);
	unsigned long long want_ioctls = 1ULL << _UFFDIO_REGISTER |
					 1ULL << _UFFDIO_UNREGISTER | 1ULL << _UFFDIO_API;
	printf("API: %s, api %#llx, THREAD_ID offered %d, ioctls %d\n", err(r),
	       (unsigned long long)api.api, !!(api.features & UFFD_FEATURE_THREAD_ID),
	       (api.ioctls & want_ioctls) == want_ioctls);
	api = (struct uffdio_api){ .api = UFFD_API };
	printf("API again: %s\n", err(ioctl(fd, UFFDIO_API, &api)));
	printf("read with nothing: %s\n", err(read(fd, &m, sizeof(m))));
	printf("read too small: %s\n", err(read(fd, &m, sizeof(m) - 1)));
	printf("poll with nothing: %d\n", poll(&pf, 1, 0));
	printf("unknown ioctl: %s\n", err(ioctl(fd, _IOR(UFFDIO, 0x30, __u64), &r)));
	close(fd);
	munmap(p, page);
}

static void register_errors(void)
{
	int fd = uffd_ready(O_CLOEXEC | O_NONBLOCK, 0);
	int other = uffd_ready(O_CLOEXEC | O_NONBLOCK, 0);
	char *p = anon(4);
	unsigned long long ioctls = 0;

	printf("register unaligned: %s\n", err(reg(fd, p + 1, page, NULL)));
	printf("register len 0: %s\n", err(reg(fd, p, 0, NULL)));
	printf("register len unaligned: %s\n", err(reg(fd, p, page + 1, NULL)));
	printf("register page 0: %s\n", err(reg(fd, 0, page, NULL)));
	struct uffdio_register r = {
		.range = { .start = (unsigned long)p, .len = page }, .mode = 0,
	};
	printf("register mode 0: %s\n", err(ioctl(fd, UFFDIO_REGISTER, &r)));
	r.mode = 1ULL << 20;
	printf("register unknown mode: %s\n", err(ioctl(fd, UFFDIO_REGISTER, &r)));

	/* A hole: no mapping in the range, one above it. */
	munmap(p + 3 * page, page);
	printf("register a hole: %s\n", err(reg(fd, p + 3 * page, page, NULL)));

	/* A private file mapping is not anonymous memory. */
	char path[] = "/tmp/uffd-XXXXXX";
	int ffd = mkstemp(path);
	CHECK(ffd >= 0);
	CHECK(ftruncate(ffd, page) == 0);
	void *fm = mmap(NULL, page, PROT_READ, MAP_PRIVATE, ffd, 0);
	CHECK(fm != MAP_FAILED);
	printf("register a file mapping: %s\n", err(reg(fd, fm, page, NULL)));
	munmap(fm, page);
	close(ffd);
	unlink(path);

	long ret = reg(fd, p, 2 * page, &ioctls);
	unsigned long long want = 1ULL << _UFFDIO_COPY | 1ULL << _UFFDIO_ZEROPAGE |
				  1ULL << _UFFDIO_WAKE;
	printf("register: %s, COPY/ZEROPAGE/WAKE offered %d\n", err(ret),
	       (ioctls & want) == want);
	printf("register again, same fd: %s\n", err(reg(fd, p, 2 * page, NULL)));
	printf("register by another fd: %s\n", err(reg(other, p + page, page, NULL)));
	printf("register next to it by another fd: %s\n",
	       err(reg(other, p + 2 * page, page, NULL)));

	/* COPY and ZEROPAGE errors. */
	char *src = malloc(2 * page);
	memset(src, 'x', 2 * page);
	struct uffdio_copy c = { .dst = (unsigned long)p, .src = (unsigned long)src, .len = page };
	c.dst = (unsigned long)p + 1;
	printf("copy unaligned dst: %s\n", err(ioctl(fd, UFFDIO_COPY, &c)));
	c.dst = (unsigned long)p;
	c.mode = 1ULL << 10;
	printf("copy unknown mode: %s\n", err(ioctl(fd, UFFDIO_COPY, &c)));
	c.mode = 0;
	c.dst = (unsigned long)src & ~(page - 1); /* not registered */
	c.copy = 0;
	ret = ioctl(fd, UFFDIO_COPY, &c);
	printf("copy to unregistered memory: %s, copy %lld\n", err(ret), (long long)c.copy);
	c.dst = (unsigned long)p + page;
	ret = ioctl(fd, UFFDIO_COPY, &c);
	printf("copy to a missing page: %s, copy %lld\n", err(ret), (long long)c.copy);
	ret = ioctl(fd, UFFDIO_COPY, &c);
	printf("copy to it again: %s, copy %lld\n", err(ret), (long long)c.copy);
	c.dst = (unsigned long)p;
	c.len = 2 * page;
	ret = ioctl(fd, UFFDIO_COPY, &c);
	printf("copy over a missing page and that one: %s, copy %lld\n", err(ret),
	       (long long)c.copy);
	printf("the pages: %c %c\n", p[0], p[page]);
	struct uffdio_zeropage z = { .range = { .start = (unsigned long)p, .len = page } };
	ret = ioctl(fd, UFFDIO_ZEROPAGE, &z);
	printf("zeropage a present page: %s, zeropage %lld\n", err(ret), (long long)z.zeropage);
	z.mode = 1ULL << 5;
	printf("zeropage unknown mode: %s\n", err(ioctl(fd, UFFDIO_ZEROPAGE, &z)));
	struct uffdio_range wr = { .start = (unsigned long)p + 1, .len = page };
	printf("wake unaligned: %s\n", err(ioctl(fd, UFFDIO_WAKE, &wr)));
	wr.start = (unsigned long)p;
	printf("wake with nothing waiting: %s\n", err(ioctl(fd, UFFDIO_WAKE, &wr)));

	struct uffdio_range ur = { .start = (unsigned long)p, .len = 2 * page };
	printf("unregister: %s\n", err(ioctl(fd, UFFDIO_UNREGISTER, &ur)));
	ur.start++;
	printf("unregister unaligned: %s\n", err(ioctl(fd, UFFDIO_UNREGISTER, &ur)));
	free(src);
	close(fd);
	close(other);
	munmap(p, 3 * page);
}

static void copy_handler(void)
{
	const int n = 16;
	int fd = uffd_ready(O_CLOEXEC | O_NONBLOCK, UFFD_FEATURE_THREAD_ID);
	char *p = anon(n);
	CHECK(reg(fd, p, n * page, NULL) == 0);
	struct handler h = { .fd = fd, .how = SERVE_COPY, .count = n, .base = p };
	pthread_t th;
	pthread_create(&th, NULL, handle, &h);
	int ok = 1;
	for (int i = 0; i < n; i++)
		for (long j = 0; j < page; j += 512)
			if (p[i * page + j] != 'a' + i % 26)
				ok = 0;
	pthread_join(th, NULL);
	printf("copy handler: %d faults served, in order %d, contents ok %d, flags %#x, "
	       "ptid is the toucher %d\n",
	       h.served, h.in_order, ok, h.flags_seen, h.ptid == gettid_());

	/* Present now: no more faults, stores stay. */
	p[5] = 'Z';
	printf("after: %c %c\n", p[5], p[page]);

	/* MADV_DONTNEED makes a page missing again. */
	CHECK(madvise(p + 3 * page, page, MADV_DONTNEED) == 0);
	h = (struct handler){ .fd = fd, .how = SERVE_COPY, .count = 1, .base = p + 3 * page };
	pthread_create(&th, NULL, handle, &h);
	char c = p[3 * page + 7];
	pthread_join(th, NULL);
	printf("after MADV_DONTNEED: %d fault, page %c\n", h.served, c);

	/* A fork child's copy is not registered: its missing pages are zeros. */
	CHECK(madvise(p + 4 * page, page, MADV_DONTNEED) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		printf("child reads a missing page: %d, a present one: %c\n", p[4 * page],
		       p[page]);
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	close(fd);
	/* Closed: the range is ordinary memory again. */
	printf("after close, the missing page reads %d\n", p[4 * page]);
	munmap(p, n * page);
}

static void zero_handler(void)
{
	const int n = 4;
	int fd = uffd_ready(O_CLOEXEC | O_NONBLOCK, 0);
	char *p = anon(n);
	CHECK(reg(fd, p, n * page, NULL) == 0);
	struct handler h = { .fd = fd, .how = SERVE_ZERO, .count = n, .base = p };
	pthread_t th;
	pthread_create(&th, NULL, handle, &h);
	int sum = 0;
	for (int i = 0; i < n; i++)
		sum += p[i * page + 100];
	pthread_join(th, NULL);
	printf("zeropage handler: %d faults, sum %d, ptid without THREAD_ID %d\n", h.served,
	       sum, h.ptid);
	p[page] = 'q';
	printf("zeroed page takes a store: %c\n", p[page]);
	close(fd);
	munmap(p, n * page);
}

/* ---- COPY with DONTWAKE, then WAKE ---- */

static volatile int touched;
static char *dw_page;

static void *toucher(void *arg)
{
	(void)arg;
	char c = dw_page[10];
	touched = c;
	return NULL;
}

static void dontwake(void)
{
	int fd = uffd_ready(O_CLOEXEC | O_NONBLOCK, UFFD_FEATURE_THREAD_ID);
	dw_page = anon(1);
	CHECK(reg(fd, dw_page, page, NULL) == 0);
	pthread_t th;
	pthread_create(&th, NULL, toucher, NULL);
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	CHECK(poll(&pf, 1, -1) == 1);
	struct uffd_msg m;
	CHECK(read(fd, &m, sizeof(m)) == sizeof(m));
	printf("poll after a fault: revents %#x; read again: %s\n", pf.revents,
	       err(read(fd, &m, sizeof(m))));
	char *src = malloc(page);
	memset(src, 'w', page);
	struct uffdio_copy c = { .dst = (unsigned long)dw_page, .src = (unsigned long)src,
				 .len = page, .mode = UFFDIO_COPY_MODE_DONTWAKE };
	CHECK(ioctl(fd, UFFDIO_COPY, &c) == 0);
	usleep(20000);
	printf("after COPY with DONTWAKE the toucher waits: %d\n", touched == 0);
	struct uffdio_range wr = { .start = (unsigned long)dw_page, .len = page };
	CHECK(ioctl(fd, UFFDIO_WAKE, &wr) == 0);
	pthread_join(th, NULL);
	printf("after WAKE it read %c\n", touched);
	free(src);
	close(fd);
	munmap(dw_page, page);
}

/* ---- read(2) into a registered buffer ---- */

static void syscall_into_registered(void)
{
	int fd = uffd_ready(O_CLOEXEC | O_NONBLOCK, UFFD_FEATURE_THREAD_ID);
	char *p = anon(2);
	CHECK(reg(fd, p, 2 * page, NULL) == 0);
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	CHECK(write(pfd[1], "hello, userfaultfd", 18) == 18);
	struct handler h = { .fd = fd, .how = SERVE_ZERO, .count = 1, .base = p + page };
	pthread_t th;
	pthread_create(&th, NULL, handle, &h);
	ssize_t n = read(pfd[0], p + page + 100, 64);
	pthread_join(th, NULL);
	printf("read(2) into a registered buffer: %zd bytes \"%.18s\", %d fault at the page %d, "
	       "WRITE flag %d, by the reader %d\n",
	       n, p + page + 100, h.served, h.first_addr == (unsigned long)p + page,
	       !!(h.flags_seen & UFFD_PAGEFAULT_FLAG_WRITE), h.ptid == gettid_());
	close(fd);

	/* UFFD_USER_MODE_ONLY: the kernel's own access is EFAULT. */
	fd = uffd_ready(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY, 0);
	CHECK(reg(fd, p, page, NULL) == 0);
	CHECK(write(pfd[1], "again", 5) == 5);
	printf("read(2) with UFFD_USER_MODE_ONLY: %s\n", err(read(pfd[0], p + 8, 5)));
	close(fd);
	close(pfd[0]);
	close(pfd[1]);
	munmap(p, 2 * page);
}

/* ---- UFFD_FEATURE_SIGBUS ---- */

static sigjmp_buf jb;
static volatile int bus_code;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	bus_code = si->si_code;
	siglongjmp(jb, 1);
}

static void sigbus_feature(void)
{
	int fd = uffd_ready(O_CLOEXEC | O_NONBLOCK, UFFD_FEATURE_SIGBUS);
	char *p = anon(1);
	CHECK(reg(fd, p, page, NULL) == 0);
	struct sigaction sa = { .sa_sigaction = on_bus, .sa_flags = SA_SIGINFO };
	sigaction(SIGBUS, &sa, NULL);
	volatile int got = 0;
	if (sigsetjmp(jb, 1) == 0) {
		got = p[1];
		printf("SIGBUS feature: no signal (read %d)\n", got);
	} else {
		printf("SIGBUS feature: SIGBUS code %d\n", bus_code);
	}
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	printf("SIGBUS feature: no message, poll %d\n", poll(&pf, 1, 0));
	signal(SIGBUS, SIG_DFL);
	close(fd);
	munmap(p, page);
}

static void dev_userfaultfd(void)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		printf("/dev/userfaultfd: %s\n", strerrorname_np(errno));
		return;
	}
	int fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	struct uffdio_api api = { .api = UFFD_API };
	printf("/dev/userfaultfd: new %s, API %s, bad flags %s, other ioctl %s\n",
	       fd >= 0 ? "ok" : err(-1), err(ioctl(fd, UFFDIO_API, &api)),
	       err(ioctl(dev, USERFAULTFD_IOC_NEW, 0x10)),
	       err(ioctl(dev, _IO(USERFAULTFD_IOC, 0x01), 0)));
	close(fd);
	close(dev);
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	who_may_create();
	handshake();
	register_errors();
	copy_handler();
	zero_handler();
	dontwake();
	syscall_into_registered();
	sigbus_feature();
	dev_userfaultfd();
	printf("PASS\n");
	return 0;
}
