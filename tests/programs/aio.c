/* Linux AIO through raw system calls and through libaio (which reads the
 * completion ring in user memory): the ring's layout and mapping, reads,
 * writes, vectored forms, fsync, poll, cancel, eventfd notification,
 * aio-nr, and Linux's errnos. Build: gcc aio.c -laio. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); \
	printf("%s: %ld %s\n", label, r_, r_ < 0 ? strerrorname_np(errno) : "-"); } while (0)

/* The kernel's ABI (linux/aio_abi.h, whose names clash with libaio's). */
typedef unsigned long aio_context_t;
struct kiocb {
	uint64_t aio_data;
	uint32_t aio_key;
	int32_t aio_rw_flags;
	uint16_t aio_lio_opcode;
	int16_t aio_reqprio;
	uint32_t aio_fildes;
	uint64_t aio_buf, aio_nbytes;
	int64_t aio_offset;
	uint64_t aio_reserved2;
	uint32_t aio_flags, aio_resfd;
};
struct kevent {
	uint64_t data, obj;
	int64_t res, res2;
};
enum { IOCB_CMD_PREAD, IOCB_CMD_PWRITE, IOCB_CMD_FSYNC, IOCB_CMD_FDSYNC,
       IOCB_CMD_POLL = 5, IOCB_CMD_NOOP, IOCB_CMD_PREADV, IOCB_CMD_PWRITEV };
#define IOCB_FLAG_RESFD 1

/* The kernel's struct aio_ring, which libaio reads. */
struct ring {
	unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
	struct kevent events[];
};

static long setup(unsigned nr, aio_context_t *ctx) { return syscall(SYS_io_setup, nr, ctx); }
static long destroy(aio_context_t ctx) { return syscall(SYS_io_destroy, ctx); }
static long submit(aio_context_t ctx, long n, struct kiocb **cbs) { return syscall(SYS_io_submit, ctx, n, cbs); }
static long getevents(aio_context_t ctx, long min, long max, struct kevent *ev, struct timespec *ts)
{
	return syscall(SYS_io_getevents, ctx, min, max, ev, ts);
}
static long cancel(aio_context_t ctx, struct kiocb *cb, struct kevent *ev) { return syscall(SYS_io_cancel, ctx, cb, ev); }

static long aio_nr(void)
{
	FILE *f = fopen("/proc/sys/fs/aio-nr", "r");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static struct kiocb cb_of(int op, int fd, void *buf, size_t n, long long off)
{
	struct kiocb cb;
	memset(&cb, 0, sizeof cb);
	cb.aio_lio_opcode = op;
	cb.aio_fildes = fd;
	cb.aio_buf = (uintptr_t)buf;
	cb.aio_nbytes = n;
	cb.aio_offset = off;
	cb.aio_data = 0x1234500 + op;
	return cb;
}

static void raw_calls(void)
{
	aio_context_t ctx = 0, bad = 1;
	struct timespec zero = {0, 0};
	struct kevent ev[8];

	/* io_setup's errnos, in Linux's order. */
	TRY("io_setup with a non-zero context", setup(8, &bad));
	TRY("io_setup of 0 events", setup(0, &ctx));
	TRY("io_setup with a bad pointer", setup(8, (aio_context_t *)8));
	TRY("io_setup of 2^31 events", setup(0x80000000u, &ctx));
	TRY("io_setup over aio-max-nr", setup(65537, &ctx));

	long before = aio_nr();
	CHECK(setup(128, &ctx) == 0);
	printf("aio-nr grew by %ld\n", aio_nr() - before);
	struct ring *r = (struct ring *)ctx;
	printf("ring: magic %#x header_length %u compat %u incompat %u head %u tail %u nr>=256 %d\n",
	       r->magic, r->header_length, r->compat_features, r->incompat_features,
	       r->head, r->tail, r->nr >= 256);
	char line[256];
	int mapped = 0;
	FILE *maps = fopen("/proc/self/maps", "r");
	while (maps && fgets(line, sizeof line, maps))
		if (strtoul(line, NULL, 16) == ctx && strstr(line, "/[aio] (deleted)") && strstr(line, "rw-s"))
			mapped = 1;
	if (maps)
		fclose(maps);
	printf("ring mapped shared as /[aio] in /proc/self/maps: %d\n", mapped);

	/* Writes, reads and their vectored forms on a file. */
	char path[] = "/tmp/aio-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	char wbuf[] = "hello, asynchronous world";
	struct kiocb w = cb_of(IOCB_CMD_PWRITE, fd, wbuf, sizeof wbuf, 0);
	struct kiocb *list[4] = {&w};
	w.aio_key = 77;
	TRY("io_submit PWRITE", submit(ctx, 1, list));
	printf("aio_key after submission: %u\n", w.aio_key);
	/* Read the event straight from the ring, as libaio does. */
	printf("ring tail-head after the write: %u\n", (r->tail - r->head) % r->nr);
	struct kevent *e = &r->events[r->head];
	printf("ring event: data %#llx obj_is_iocb %d res %lld res2 %lld\n", (unsigned long long)e->data,
	       e->obj == (uintptr_t)&w, (long long)e->res, (long long)e->res2);
	__atomic_store_n(&r->head, (r->head + 1) % r->nr, __ATOMIC_RELEASE);
	TRY("io_getevents after the application took it from the ring", getevents(ctx, 0, 8, ev, &zero));

	char rbuf[64] = {0}, a[6] = {0}, b[8] = {0};
	struct kiocb rd = cb_of(IOCB_CMD_PREAD, fd, rbuf, sizeof rbuf, 7);
	struct iovec iov[2] = {{a, 5}, {b, 7}};
	struct kiocb rv = cb_of(IOCB_CMD_PREADV, fd, iov, 2, 0);
	struct iovec wv[2] = {{"AB", 2}, {"CD", 2}};
	struct kiocb wvc = cb_of(IOCB_CMD_PWRITEV, fd, wv, 2, 100);
	struct kiocb fs = cb_of(IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	struct kiocb *four[4] = {&rd, &rv, &wvc, &fs};
	TRY("io_submit of four", submit(ctx, 4, four));
	long n = getevents(ctx, 4, 8, ev, NULL);
	printf("io_getevents: %ld\n", n);
	for (long i = 0; i < n; i++)
		printf("  event data %#llx res %lld\n", (unsigned long long)ev[i].data, (long long)ev[i].res);
	printf("pread: %s; preadv: %s|%s\n", rbuf, a, b);
	char tail[5] = {0};
	CHECK(pread(fd, tail, 4, 100) == 4);
	printf("pwritev wrote: %s\n", tail);

	/* A failing read is an event, not an io_submit error. */
	struct kiocb fault = cb_of(IOCB_CMD_PREAD, fd, (void *)8, 16, 0);
	list[0] = &fault;
	TRY("io_submit PREAD into a bad buffer", submit(ctx, 1, list));
	CHECK(getevents(ctx, 1, 1, ev, NULL) == 1);
	printf("its event's res: %lld\n", (long long)ev[0].res);

	/* io_submit's errnos. */
	struct kiocb noop = cb_of(IOCB_CMD_NOOP, fd, NULL, 0, 0);
	list[0] = &noop;
	TRY("io_submit NOOP", submit(ctx, 1, list));
	TRY("io_submit on a bad context", submit(12345, 1, list));
	TRY("io_submit of -1", submit(ctx, -1, list));
	TRY("io_submit of 0", submit(ctx, 0, list));
	TRY("io_submit with a bad array", submit(ctx, 1, (struct kiocb **)8));
	struct kiocb *badp[1] = {(struct kiocb *)8};
	TRY("io_submit with a bad iocb", submit(ctx, 1, badp));
	struct kiocb badfd = cb_of(IOCB_CMD_PREAD, 999, rbuf, 4, 0);
	list[0] = &badfd;
	TRY("io_submit on a bad descriptor", submit(ctx, 1, list));
	int ro = open("/proc/self/stat", O_RDONLY);
	struct kiocb wro = cb_of(IOCB_CMD_PWRITE, ro, wbuf, 4, 0);
	list[0] = &wro;
	TRY("io_submit PWRITE to a read-only descriptor", submit(ctx, 1, list));
	struct kiocb res2 = cb_of(IOCB_CMD_PREAD, fd, rbuf, 4, 0);
	res2.aio_reserved2 = 1;
	list[0] = &res2;
	TRY("io_submit with aio_reserved2 set", submit(ctx, 1, list));
	struct kiocb fsb = cb_of(IOCB_CMD_FSYNC, fd, rbuf, 0, 0);
	list[0] = &fsb;
	TRY("io_submit FSYNC with a buffer", submit(ctx, 1, list));
	struct kiocb rfd = cb_of(IOCB_CMD_PREAD, fd, rbuf, 4, 0);
	rfd.aio_flags = IOCB_FLAG_RESFD;
	rfd.aio_resfd = fd;
	list[0] = &rfd;
	TRY("io_submit with a resfd that is no eventfd", submit(ctx, 1, list));
	/* Two good ones and a bad one: the count of the good. */
	struct kiocb g1 = cb_of(IOCB_CMD_PREAD, fd, rbuf, 4, 0), g2 = g1;
	struct kiocb *mixed[3] = {&g1, &g2, &noop};
	TRY("io_submit good, good, bad", submit(ctx, 3, mixed));
	TRY("io_getevents of them", getevents(ctx, 2, 8, ev, NULL));

	/* io_getevents' errnos and timeouts. */
	TRY("io_getevents min > nr", getevents(ctx, 2, 1, ev, &zero));
	TRY("io_getevents min < 0", getevents(ctx, -1, 1, ev, &zero));
	TRY("io_getevents on a bad context", getevents(7, 0, 1, ev, &zero));
	struct timespec ms10 = {0, 10000000};
	TRY("io_getevents with nothing to come (10 ms)", getevents(ctx, 1, 1, ev, &ms10));
	TRY("io_pgetevents with nothing to come (10 ms)",
	    syscall(333, ctx, 1, 1, ev, &ms10, NULL));

	/* Eventfd notification. */
	int efd = eventfd(0, EFD_NONBLOCK);
	struct kiocb notify = cb_of(IOCB_CMD_PREAD, fd, rbuf, 4, 0);
	notify.aio_flags = IOCB_FLAG_RESFD;
	notify.aio_resfd = efd;
	list[0] = &notify;
	TRY("io_submit with IOCB_FLAG_RESFD", submit(ctx, 1, list));
	uint64_t count = 0;
	TRY("eventfd read", read(efd, &count, 8));
	printf("eventfd count: %llu\n", (unsigned long long)count);
	CHECK(getevents(ctx, 1, 1, ev, NULL) == 1);

	/* Poll: waits for the file, cancellable. */
	int p[2];
	CHECK(pipe(p) == 0);
	struct kiocb pl = cb_of(IOCB_CMD_POLL, p[0], NULL, 0, 0);
	pl.aio_buf = POLLIN;
	pl.aio_flags = IOCB_FLAG_RESFD;
	pl.aio_resfd = efd;
	list[0] = &pl;
	TRY("io_submit POLL on an empty pipe", submit(ctx, 1, list));
	TRY("io_getevents before the pipe has data", getevents(ctx, 0, 1, ev, &zero));
	pid_t child = fork();
	if (child == 0) {
		usleep(20000);
		_exit(write(p[1], "x", 1) == 1 ? 0 : 1);
	}
	TRY("io_getevents waiting for the poll", getevents(ctx, 1, 1, ev, NULL));
	printf("poll event: res %#llx data %#llx\n", (unsigned long long)ev[0].res, (unsigned long long)ev[0].data);
	waitpid(child, NULL, 0);
	TRY("eventfd read after the poll", read(efd, &count, 8));
	char x;
	CHECK(read(p[0], &x, 1) == 1);
	struct kiocb pl2 = cb_of(IOCB_CMD_POLL, p[0], NULL, 0, 0);
	pl2.aio_buf = POLLIN;
	list[0] = &pl2;
	TRY("io_submit POLL again", submit(ctx, 1, list));
	TRY("io_cancel of a read that completed", cancel(ctx, &g1, ev));
	pl2.aio_key = 5;
	TRY("io_cancel with a wrong key", cancel(ctx, &pl2, ev));
	pl2.aio_key = 0;
	TRY("io_cancel of the pending poll", cancel(ctx, &pl2, ev));
	TRY("io_getevents after the cancel", getevents(ctx, 1, 1, ev, NULL));
	printf("cancelled poll's res: %lld\n", (long long)ev[0].res);
	struct kiocb badpoll = cb_of(IOCB_CMD_POLL, p[0], NULL, 1, 0);
	list[0] = &badpoll;
	TRY("io_submit POLL with aio_nbytes", submit(ctx, 1, list));

	/* A fork child has no contexts. */
	child = fork();
	if (child == 0) {
		list[0] = &g1;
		errno = 0;
		long c = submit(ctx, 1, list);
		_exit(c < 0 && errno == EINVAL ? 0 : 1);
	}
	int st;
	waitpid(child, &st, 0);
	printf("fork child's io_submit on the parent's context is EINVAL: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);

	TRY("io_destroy", destroy(ctx));
	printf("aio-nr back: %d\n", aio_nr() == before);
	TRY("io_destroy again", destroy(ctx));
	TRY("io_getevents after io_destroy", getevents(ctx, 0, 1, ev, &zero));
	close(fd);
}

/* libaio: io_queue_init, io_prep_*, io_submit, and io_getevents, which
 * takes events from the ring in user memory. */
static void with_libaio(void)
{
	io_context_t ctx = 0;
	CHECK(io_queue_init(32, &ctx) == 0);
	char path[] = "/tmp/libaio-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	static char blocks[16][512];
	struct iocb cbs[16], *ptrs[16];
	for (int i = 0; i < 16; i++) {
		memset(blocks[i], 'a' + i, 512);
		io_prep_pwrite(&cbs[i], fd, blocks[i], 512, i * 512);
		cbs[i].data = (void *)(uintptr_t)i;
		ptrs[i] = &cbs[i];
	}
	printf("libaio io_submit 16 writes: %d\n", io_submit(ctx, 16, ptrs));
	struct io_event ev[16];
	int got = 0;
	while (got < 16) {
		int n = io_getevents(ctx, 1, 16 - got, ev + got, NULL);
		if (n <= 0)
			break;
		got += n;
	}
	long sum = 0;
	for (int i = 0; i < got; i++)
		sum += ev[i].res + (long)(uintptr_t)ev[i].data;
	printf("libaio events: %d, sum of res+data %ld\n", got, sum);
	char back[512];
	io_prep_pread(&cbs[0], fd, back, 512, 5 * 512);
	printf("libaio io_submit read: %d\n", io_submit(ctx, 1, ptrs));
	struct timespec zero = {0, 0};
	/* Already in the ring: libaio takes it without a system call. */
	printf("libaio io_getevents with a zero timeout: %d\n", io_getevents(ctx, 1, 1, ev, &zero));
	printf("read back block 5: %c%c res %ld\n", back[0], back[511], (long)ev[0].res);
	printf("libaio io_queue_release: %d\n", io_queue_release(ctx));
	close(fd);
}

int main(void)
{
	raw_calls();
	with_libaio();
	if (fails)
		return 1;
	printf("PASS\n");
	return 0;
}
