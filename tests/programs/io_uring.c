/* io_uring through liburing: setup and its errnos, reads and writes
 * (plain, vectored, fixed buffers, registered files), links and link
 * timeouts, drain, timeouts and their removal, poll add/remove, cancel,
 * openat/statx/close, eventfd registration, a poll+accept+recv+send echo
 * over TCP, CQ overflow without loss, and a ring scribbled on by the
 * application. Build: gcc io_uring.c -luring. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); \
	printf("%s: %ld %s\n", label, r_, r_ < 0 ? strerrorname_np(errno) : "-"); } while (0)

/* liburing's calls return -errno. */
#define TRYR(label, expr) do { int r_ = (expr); \
	printf("%s: %d %s\n", label, r_, r_ < 0 ? strerrorname_np(-r_) : "-"); } while (0)

static const char *err(int res)
{
	return res < 0 ? strerrorname_np(-res) : "ok";
}

/* Waits for n CQEs and prints them sorted by user_data. */
static void reap(struct io_uring *ring, int n, const char *what)
{
	struct { unsigned long long ud; int res; } got[64];
	int k = 0;
	for (int i = 0; i < n; i++) {
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe(ring, &cqe);
		if (r < 0) {
			printf("%s: wait_cqe %s\n", what, strerrorname_np(-r));
			return;
		}
		got[k].ud = cqe->user_data;
		got[k].res = cqe->res;
		k++;
		io_uring_cqe_seen(ring, cqe);
	}
	for (int i = 0; i < k; i++)
		for (int j = i + 1; j < k; j++)
			if (got[j].ud < got[i].ud) {
				__typeof__(got[0]) x = got[i];
				got[i] = got[j];
				got[j] = x;
			}
	printf("%s:", what);
	for (int i = 0; i < k; i++)
		printf(" [%llu %d %s]", got[i].ud, got[i].res, err(got[i].res));
	printf("\n");
}

static struct io_uring_sqe *sqe_of(struct io_uring *ring, unsigned long long ud)
{
	struct io_uring_sqe *s = io_uring_get_sqe(ring);
	io_uring_sqe_set_data64(s, ud);
	return s;
}

static void setup_errors(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	TRY("setup of 0 entries", syscall(__NR_io_uring_setup, 0, &p));
	TRY("setup of 65536 entries", syscall(__NR_io_uring_setup, 65536, &p));
	p.flags = IORING_SETUP_CLAMP;
	int fd = syscall(__NR_io_uring_setup, 65536, &p);
	printf("setup of 65536 with CLAMP: %s sq %u cq %u\n", fd >= 0 ? "ok" : strerrorname_np(errno), p.sq_entries, p.cq_entries);
	close(fd);
	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = 100;
	fd = syscall(__NR_io_uring_setup, 10, &p);
	printf("setup 10 with CQSIZE 100: sq %u cq %u\n", p.sq_entries, p.cq_entries);
	close(fd);
	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = 4;
	TRY("setup 16 with CQSIZE 4", syscall(__NR_io_uring_setup, 16, &p));
	memset(&p, 0, sizeof p);
	p.resv[0] = 1;
	TRY("setup with resv set", syscall(__NR_io_uring_setup, 8, &p));
	memset(&p, 0, sizeof p);
	p.flags = 1u << 30;
	TRY("setup with an unknown flag", syscall(__NR_io_uring_setup, 8, &p));
	TRY("setup with a bad params pointer", syscall(__NR_io_uring_setup, 8, (void *)8));
	memset(&p, 0, sizeof p);
	fd = syscall(__NR_io_uring_setup, 8, &p);
	printf("single mmap feature: %d, sq_array after cqes: %d\n", !!(p.features & IORING_FEAT_SINGLE_MMAP),
	       p.sq_off.array >= p.cq_off.cqes);
	TRY("enter with an unknown flag", syscall(__NR_io_uring_enter, fd, 0, 0, 1u << 20, NULL, 0));
	TRY("enter on a pipe", syscall(__NR_io_uring_enter, 0, 0, 0, 0, NULL, 0));
	TRY("register an unknown opcode", syscall(__NR_io_uring_register, fd, 999, NULL, 0));
	TRY("unregister buffers never registered", syscall(__NR_io_uring_register, fd, IORING_UNREGISTER_BUFFERS, NULL, 0));
	TRY("unregister an eventfd never registered", syscall(__NR_io_uring_register, fd, IORING_UNREGISTER_EVENTFD, NULL, 0));
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	TRY("register a pipe as the eventfd", syscall(__NR_io_uring_register, fd, IORING_REGISTER_EVENTFD, &pfd[0], 1));
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
}

static void file_ops(struct io_uring *ring, const char *dir)
{
	char path[256];
	snprintf(path, sizeof path, "%s/uring-file", dir);
	/* openat, write, fsync, statx, read, readv, close through the ring. */
	struct io_uring_sqe *s = sqe_of(ring, 1);
	io_uring_prep_openat(s, AT_FDCWD, path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	io_uring_submit(ring);
	struct io_uring_cqe *cqe;
	CHECK(io_uring_wait_cqe(ring, &cqe) == 0);
	int fd = cqe->res;
	printf("openat through the ring: %s\n", fd >= 0 ? "ok" : err(fd));
	io_uring_cqe_seen(ring, cqe);

	char data[8192];
	for (int i = 0; i < (int)sizeof data; i++)
		data[i] = 'a' + i % 26;
	s = sqe_of(ring, 2);
	io_uring_prep_write(s, fd, data, sizeof data, 0);
	s->flags |= IOSQE_IO_LINK;
	s = sqe_of(ring, 3);
	io_uring_prep_fsync(s, fd, 0);
	s->flags |= IOSQE_IO_LINK;
	struct statx stx;
	s = sqe_of(ring, 4);
	io_uring_prep_statx(s, AT_FDCWD, path, 0, STATX_SIZE, &stx);
	io_uring_submit(ring);
	reap(ring, 3, "write->fsync->statx linked");
	printf("statx size: %llu\n", (unsigned long long)stx.stx_size);

	char a[10] = {0}, b[10] = {0}, c[27] = {0};
	struct iovec iov[2] = {{a, 9}, {b, 9}};
	s = sqe_of(ring, 5);
	io_uring_prep_readv(s, fd, iov, 2, 26);
	s = sqe_of(ring, 6);
	io_uring_prep_read(s, fd, c, 26, 8192 - 26);
	s = sqe_of(ring, 7);
	io_uring_prep_read(s, fd, c, 26, 1 << 20);
	io_uring_submit(ring);
	reap(ring, 3, "readv, read, read past the end");
	printf("readv: %s|%s read: %s\n", a, b, c);

	/* Registered buffers and files. */
	static char fixed[2][4096];
	struct iovec bufs[2] = {{fixed[0], 4096}, {fixed[1], 4096}};
	TRYR("register buffers", io_uring_register_buffers(ring, bufs, 2));
	TRYR("register buffers again", io_uring_register_buffers(ring, bufs, 2));
	int files[2] = {-1, fd};
	TRYR("register files", io_uring_register_files(ring, files, 2));
	s = sqe_of(ring, 8);
	io_uring_prep_read_fixed(s, 1, fixed[1], 100, 0, 1);
	s->flags |= IOSQE_FIXED_FILE;
	s = sqe_of(ring, 9);
	io_uring_prep_read_fixed(s, fd, fixed[0] + 4000, 200, 0, 0);
	s = sqe_of(ring, 10);
	io_uring_prep_write_fixed(s, fd, fixed[1], 5, 8192, 1);
	s = sqe_of(ring, 11);
	io_uring_prep_read(s, 0, c, 4, 0);
	s->flags |= IOSQE_FIXED_FILE;
	io_uring_submit(ring);
	reap(ring, 4, "fixed: read, read outside the buffer, write, empty file slot");
	printf("fixed buffer: %.5s\n", fixed[1]);
	TRYR("unregister buffers", io_uring_unregister_buffers(ring));
	TRYR("unregister files", io_uring_unregister_files(ring));

	/* A failing link cancels the rest; a hard link does not. */
	s = sqe_of(ring, 12);
	io_uring_prep_read(s, 999, c, 4, 0);
	s->flags |= IOSQE_IO_LINK;
	s = sqe_of(ring, 13);
	io_uring_prep_nop(s);
	s->flags |= IOSQE_IO_LINK;
	s = sqe_of(ring, 14);
	io_uring_prep_nop(s);
	s = sqe_of(ring, 15);
	io_uring_prep_read(s, 999, c, 4, 0);
	s->flags |= IOSQE_IO_HARDLINK;
	s = sqe_of(ring, 16);
	io_uring_prep_nop(s);
	io_uring_submit(ring);
	reap(ring, 5, "broken link, hard link");

	/* unlinkat and close through the ring. */
	s = sqe_of(ring, 17);
	io_uring_prep_close(s, fd);
	s->flags |= IOSQE_IO_LINK;
	s = sqe_of(ring, 18);
	io_uring_prep_unlinkat(s, AT_FDCWD, path, 0);
	s = sqe_of(ring, 19);
	io_uring_prep_close(s, ring->ring_fd);
	io_uring_submit(ring);
	reap(ring, 3, "close, unlinkat, close of the ring itself");
	printf("file gone: %d\n", access(path, F_OK) != 0);
}

static void timeouts_and_polls(struct io_uring *ring)
{
	struct __kernel_timespec ms20 = {0, 20000000}, long_ts = {100, 0};
	int p[2];
	CHECK(pipe(p) == 0);
	char c[8];

	/* A timeout passes with -ETIME; one with a count ends after it. */
	struct io_uring_sqe *s = sqe_of(ring, 20);
	io_uring_prep_timeout(s, &ms20, 0, 0);
	s = sqe_of(ring, 21);
	io_uring_prep_timeout(s, &long_ts, 1, 0);
	s = sqe_of(ring, 22);
	io_uring_prep_nop(s);
	io_uring_submit(ring);
	reap(ring, 3, "timeout 20ms, timeout for 1 completion, nop");

	/* TIMEOUT_REMOVE, POLL_REMOVE, ASYNC_CANCEL. */
	s = sqe_of(ring, 23);
	io_uring_prep_timeout(s, &long_ts, 0, 0);
	s = sqe_of(ring, 24);
	io_uring_prep_poll_add(s, p[0], POLLIN);
	s = sqe_of(ring, 25);
	io_uring_prep_read(s, p[0], c, 1, 0);
	io_uring_submit(ring);
	s = sqe_of(ring, 26);
	io_uring_prep_timeout_remove(s, 23, 0);
	s = sqe_of(ring, 27);
	io_uring_prep_poll_remove(s, 24);
	s = sqe_of(ring, 28);
	io_uring_prep_cancel64(s, 25, 0);
	s = sqe_of(ring, 29);
	io_uring_prep_cancel64(s, 12345, 0);
	io_uring_submit(ring);
	reap(ring, 7, "timeout, poll and read removed, cancel of nothing");

	/* A poll and a read complete when a child writes the pipe. */
	s = sqe_of(ring, 30);
	io_uring_prep_poll_add(s, p[0], POLLIN);
	s = sqe_of(ring, 31);
	io_uring_prep_read(s, p[0], c, 5, 0);
	io_uring_submit(ring);
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		usleep(20000);
		_exit(write(p[1], "hello", 5) == 5 ? 0 : 1);
	}
	reap(ring, 2, "poll and read of a pipe a child writes");
	printf("read: %.5s\n", c);
	waitpid(child, NULL, 0);

	/* A link timeout cancels a read that never completes. */
	s = sqe_of(ring, 32);
	io_uring_prep_read(s, p[0], c, 1, 0);
	s->flags |= IOSQE_IO_LINK;
	s = sqe_of(ring, 33);
	io_uring_prep_link_timeout(s, &ms20, 0);
	/* ... and is cancelled when its operation completes first. */
	s = sqe_of(ring, 34);
	io_uring_prep_nop(s);
	s->flags |= IOSQE_IO_LINK;
	s = sqe_of(ring, 35);
	io_uring_prep_link_timeout(s, &long_ts, 0);
	io_uring_submit(ring);
	reap(ring, 4, "link timeouts");

	/* A drained NOP waits for the timeout before it. */
	s = sqe_of(ring, 36);
	io_uring_prep_timeout(s, &ms20, 0, 0);
	s = sqe_of(ring, 37);
	io_uring_prep_nop(s);
	s->flags |= IOSQE_IO_DRAIN;
	io_uring_submit(ring);
	struct io_uring_cqe *cqe;
	CHECK(io_uring_wait_cqe(ring, &cqe) == 0);
	printf("first completion with a drain: %llu\n", (unsigned long long)cqe->user_data);
	io_uring_cqe_seen(ring, cqe);
	reap(ring, 1, "then");

	/* io_uring_wait_cqe_timeout with nothing to come. */
	TRYR("wait_cqe_timeout with nothing to come", io_uring_wait_cqe_timeout(ring, &cqe, &ms20));

	/* eventfd registration. */
	int efd = eventfd(0, EFD_NONBLOCK);
	TRYR("register eventfd", io_uring_register_eventfd(ring, efd));
	TRYR("register eventfd again", io_uring_register_eventfd(ring, efd));
	s = sqe_of(ring, 38);
	io_uring_prep_nop(s);
	s = sqe_of(ring, 39);
	io_uring_prep_nop(s);
	io_uring_submit(ring);
	reap(ring, 2, "two nops");
	uint64_t count = 0;
	CHECK(read(efd, &count, 8) == 8);
	printf("eventfd count: %llu\n", (unsigned long long)count);
	TRYR("unregister eventfd", io_uring_unregister_eventfd(ring));
	close(efd);
	close(p[0]);
	close(p[1]);
}

/* A TCP echo: POLL_ADD on the listener, ACCEPT, RECV, SEND, SENDMSG,
 * RECVMSG, CONNECT, the client in a child. */
static void echo(struct io_uring *ring)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	CHECK(bind(l, (void *)&sa, sizeof sa) == 0);
	CHECK(listen(l, 4) == 0);
	CHECK(getsockname(l, (void *)&sa, &sl) == 0);

	struct io_uring_sqe *s = sqe_of(ring, 40);
	io_uring_prep_poll_add(s, l, POLLIN);
	io_uring_submit(ring);
	struct io_uring_cqe *cqe;
	TRYR("peek before a client", io_uring_peek_cqe(ring, &cqe));

	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		struct io_uring cr;
		if (io_uring_queue_init(8, &cr, 0) < 0)
			_exit(2);
		int c = socket(AF_INET, SOCK_STREAM, 0);
		struct io_uring_sqe *cs = io_uring_get_sqe(&cr);
		io_uring_prep_connect(cs, c, (void *)&sa, sizeof sa);
		io_uring_submit(&cr);
		if (io_uring_wait_cqe(&cr, &cqe) < 0 || cqe->res < 0)
			_exit(3);
		io_uring_cqe_seen(&cr, cqe);
		char msg[] = "ping over io_uring", back[64] = {0};
		struct iovec iov = {msg, sizeof msg - 1};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		cs = io_uring_get_sqe(&cr);
		io_uring_prep_sendmsg(cs, c, &mh, 0);
		cs->flags |= IOSQE_IO_LINK;
		cs = io_uring_get_sqe(&cr);
		io_uring_prep_recv(cs, c, back, sizeof msg - 1, MSG_WAITALL);
		io_uring_submit(&cr);
		for (int i = 0; i < 2; i++) {
			if (io_uring_wait_cqe(&cr, &cqe) < 0 || cqe->res < 0)
				_exit(4);
			io_uring_cqe_seen(&cr, cqe);
		}
		printf("client got back: %s\n", back);
		fflush(stdout);
		_exit(0);
	}
	reap(ring, 1, "poll on the listener");
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	s = sqe_of(ring, 41);
	io_uring_prep_accept(s, l, (void *)&peer, &pl, 0);
	io_uring_submit(ring);
	CHECK(io_uring_wait_cqe(ring, &cqe) == 0);
	int conn = cqe->res;
	printf("accept: %s, peer is loopback: %d\n", err(conn), peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	io_uring_cqe_seen(ring, cqe);

	char buf[64] = {0};
	struct iovec iov = {buf, sizeof buf};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	s = sqe_of(ring, 42);
	io_uring_prep_recvmsg(s, conn, &mh, 0);
	io_uring_submit(ring);
	CHECK(io_uring_wait_cqe(ring, &cqe) == 0);
	int n = cqe->res;
	printf("recvmsg: %d %s\n", n, buf);
	io_uring_cqe_seen(ring, cqe);
	s = sqe_of(ring, 43);
	io_uring_prep_send(s, conn, buf, n > 0 ? n : 0, 0);
	io_uring_submit(ring);
	reap(ring, 1, "send back");
	int st;
	waitpid(child, &st, 0);
	printf("client exit: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	close(conn);
	close(l);
}

/* More completions than the CQ holds: none is lost (IORING_FEAT_NODROP). */
static void overflow(void)
{
	struct io_uring ring;
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = 4;
	CHECK(io_uring_queue_init_params(4, &ring, &p) == 0);
	int posted = 0;
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 4; i++)
			io_uring_prep_nop(sqe_of(&ring, round * 4 + i));
		posted += io_uring_submit(&ring);
	}
	int seen = 0;
	unsigned long long sum = 0;
	struct io_uring_cqe *cqe;
	while (seen < posted && io_uring_wait_cqe(&ring, &cqe) == 0) {
		sum += cqe->user_data;
		seen++;
		io_uring_cqe_seen(&ring, cqe);
	}
	printf("overflow: posted %d, seen %d, sum %llu\n", posted, seen, sum);
	io_uring_queue_exit(&ring);
}

/* The application scribbles over its rings: bad SQ array indexes are
 * dropped, a tail far ahead submits at most the ring's size, and the
 * kernel survives. */
static void scribble(void)
{
	struct io_uring ring;
	CHECK(io_uring_queue_init(4, &ring, 0) == 0);
	unsigned *array = ring.sq.array;
	for (int i = 0; i < 4; i++)
		array[i] = 0xdeadbeef;
	io_uring_smp_store_release(ring.sq.ktail, *ring.sq.khead + 3);
	long r = syscall(__NR_io_uring_enter, ring.ring_fd, 3, 0, 0, NULL, 0);
	printf("scribbled array: enter %ld, dropped %u\n", r, *ring.sq.kdropped);
	memset(ring.sq.sqes, 0xff, 4 * sizeof(struct io_uring_sqe));
	for (int i = 0; i < 4; i++)
		array[i] = i;
	io_uring_smp_store_release(ring.sq.ktail, *ring.sq.khead + 1000000);
	r = syscall(__NR_io_uring_enter, ring.ring_fd, 1000000, 0, 0, NULL, 0);
	printf("tail far ahead: enter %ld\n", r);
	struct io_uring_cqe *cqe;
	int bad = 0;
	while (io_uring_peek_cqe(&ring, &cqe) == 0) {
		bad += cqe->res == -EINVAL;
		io_uring_cqe_seen(&ring, cqe);
	}
	printf("garbage SQEs completed with EINVAL: %d\n", bad);
	io_uring_queue_exit(&ring);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	setup_errors();
	struct io_uring ring;
	CHECK(io_uring_queue_init(16, &ring, 0) == 0);
	file_ops(&ring, dir);
	timeouts_and_polls(&ring);
	echo(&ring);
	io_uring_queue_exit(&ring);
	overflow();
	scribble();
	if (fails)
		return 1;
	printf("PASS\n");
	return 0;
}
