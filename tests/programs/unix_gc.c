/*
 * AF_UNIX sockets that only SCM_RIGHTS messages in flight keep alive, and
 * the limit on descriptors in flight.
 *
 * Cycles (a socket queued in itself, two sockets queued in each other, a
 * listener queued in its own unaccepted connection), closed by the
 * program, are collected as Linux's unix_gc collects them: what they carry
 * is released (the reader of a pipe whose writer rides in the cycle reads
 * end of file; a peer reads end of file), while a socket a live socket's
 * queue holds, or one a peeked copy holds, stays. 10,000 such cycles
 * under RLIMIT_NOFILE 64 never run into the limit.
 *
 * Linux runs its collector when a socket is released while sockets are
 * in flight (on a worker, later): each check closes a socket, then waits
 * for the effect with a blocking read, so that the output is the same
 * however late the collector runs.
 *
 * The limit (Linux's too_many_unix_fds): a user whose descriptors in
 * flight already exceed its RLIMIT_NOFILE soft limit sends no more
 * (ETOOMANYREFS), whatever the socket type; receiving or closing the
 * queue gives them back, peeking does not; the count is the user's, not
 * the process's; CAP_SYS_RESOURCE lifts it. Each part runs as a user of
 * its own, whose count starts at zero.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <stddef.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); \
	printf("%s: %ld %s\n", label, r_, r_ < 0 ? strerrorname_np(errno) : "-"); } while (0)

/* One byte and `n` descriptors. */
static ssize_t send_fds(int sock, const int *fds, int n, int flags)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 64)];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = { "x", 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n > 0) {
		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	return sendmsg(sock, &m, flags | MSG_NOSIGNAL);
}

/* [`send_fds`] to the abstract name `name`. */
static ssize_t sendto_fds(int sock, const struct sockaddr_un *to, socklen_t len, const int *fds, int n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = { "x", 1 };
	struct msghdr m = { .msg_name = (void *)to, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf, .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(sock, &m, MSG_NOSIGNAL);
}

/* Receives one message; its descriptors into `fds`; returns how many. */
static int recv_fds(int sock, int *fds, int max, int flags)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 64)];
	char byte;
	struct iovec iov = { &byte, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	if (recvmsg(sock, &m, flags) < 0)
		return -1;
	int n = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (int i = 0; i < k && n < max; i++)
			memcpy(&fds[n++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	return n;
}

static socklen_t abstract(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "unix_gc-%d-%s", getpid(), name);
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

/* Releases a socket: Linux's trigger for its collector. */
static void release_a_socket(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	close(sv[0]);
	close(sv[1]);
}

/* Blocks until `fd` reads end of file; prints what it read. */
static void until_eof(const char *what, int fd)
{
	char buf[16];
	ssize_t n;
	long bytes = 0;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		bytes += n;
	printf("%s: end of file %d after %ld bytes\n", what, n == 0, bytes);
}

/* Whether the reader of a pipe sees its writer (still there: 0). */
static int hung_up(int rfd)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };
	CHECK(poll(&p, 1, 0) >= 0);
	return !!(p.revents & POLLHUP);
}

static const char *type_name(int type)
{
	return type == SOCK_STREAM ? "stream" : type == SOCK_SEQPACKET ? "seqpacket" : "dgram";
}

/* a's queue holds a (sent by its peer) and a pipe's writer. */
static void queued_in_itself(int type)
{
	int sv[2], p[2];
	char what[64];
	CHECK(pipe(p) == 0);
	CHECK(socketpair(AF_UNIX, type, 0, sv) == 0);
	int carried[2] = { sv[0], p[1] };
	CHECK(send_fds(sv[1], carried, 2, 0) == 1);
	close(sv[0]);
	close(p[1]);
	close(sv[1]);
	snprintf(what, sizeof what, "%s queued in itself: pipe", type_name(type));
	until_eof(what, p[0]);
	close(p[0]);
}

/* A datagram socket sends itself to its own name. */
static void dgram_sent_to_itself(void)
{
	int p[2];
	struct sockaddr_un a;
	socklen_t len = abstract(&a, "dgram");
	CHECK(pipe(p) == 0);
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(bind(d, (struct sockaddr *)&a, len) == 0);
	int carried[2] = { d, p[1] };
	TRY("dgram to its own name", sendto_fds(d, &a, len, carried, 2));
	close(d);
	close(p[1]);
	release_a_socket();
	until_eof("dgram sent to itself: pipe", p[0]);
	close(p[0]);
}

/* Two pairs: a1 in a2's queue, a2 (and a pipe's writer) in a1's; b2,
 * a2's peer, stays open and reads end of file once a2 is collected. */
static void two_queued_in_each_other(void)
{
	int s1[2], s2[2], p[2];
	CHECK(pipe(p) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s1) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s2) == 0);
	CHECK(send_fds(s2[1], &s1[0], 1, 0) == 1);
	int carried[2] = { s2[0], p[1] };
	CHECK(send_fds(s1[1], carried, 2, 0) == 1);
	close(s1[0]);
	close(s2[0]);
	close(p[1]);
	close(s1[1]);
	until_eof("two in each other: pipe", p[0]);
	until_eof("two in each other: the open peer", s2[1]);
	close(p[0]);
	close(s2[1]);
}

/* A client sends the listener into the connection not yet accepted. */
static void listener_in_its_backlog(void)
{
	int p[2];
	struct sockaddr_un a;
	socklen_t len = abstract(&a, "listener");
	CHECK(pipe(p) == 0);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(l, (struct sockaddr *)&a, len) == 0);
	CHECK(listen(l, 4) == 0);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, len) == 0);
	int carried[2] = { l, p[1] };
	CHECK(send_fds(c, carried, 2, 0) == 1);
	close(l);
	close(p[1]);
	close(c);
	until_eof("listener in its own backlog: pipe", p[0]);
	close(p[0]);
}

/* a1 (and a pipe's writer) in the queue of a2, whose descriptor is
 * open: nothing is collected, and receiving gives a working a1 back. */
static void held_by_a_live_socket(void)
{
	int s1[2], s2[2], p[2], got[4];
	char buf[8] = { 0 };
	CHECK(pipe(p) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s1) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s2) == 0);
	int carried[2] = { s1[0], p[1] };
	CHECK(send_fds(s2[1], carried, 2, 0) == 1);
	close(s1[0]);
	close(p[1]);
	release_a_socket();
	printf("held by a live socket: pipe hung up %d\n", hung_up(p[0]));
	int n = recv_fds(s2[0], got, 4, 0);
	printf("held by a live socket: received %d\n", n);
	CHECK(n == 2);
	if (n == 2) {
		CHECK(write(s1[1], "hi", 2) == 2);
		TRY("held by a live socket: read through the received socket", read(got[0], buf, sizeof buf));
		close(got[0]);
		close(got[1]);
	}
	close(s1[1]);
	close(s2[0]);
	close(s2[1]);
	until_eof("held by a live socket: pipe after closing", p[0]);
	close(p[0]);
}

/* A cycle whose message was peeked at: the peeked copies hold it. */
static void peeked_cycle(void)
{
	int sv[2], p[2], got[4];
	CHECK(pipe(p) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int carried[2] = { sv[0], p[1] };
	CHECK(send_fds(sv[1], carried, 2, 0) == 1);
	int n = recv_fds(sv[0], got, 4, MSG_PEEK);
	printf("peeked cycle: peeked %d\n", n);
	CHECK(n == 2);
	close(sv[0]);
	close(p[1]);
	close(sv[1]);
	release_a_socket();
	printf("peeked cycle: pipe hung up %d\n", hung_up(p[0]));
	if (n == 2) {
		close(got[0]);
		close(got[1]);
	}
	release_a_socket();
	until_eof("peeked cycle: pipe after closing the copies", p[0]);
	close(p[0]);
}

/* 10,000 cycles under RLIMIT_NOFILE 64, in batches of 50: each cycle
 * holds itself, the last of a batch a pipe's writer too, and the batch's
 * end waits for that writer to go. Without a collector the 66th cycle
 * would be refused. */
static void many_cycles(void)
{
	enum { CYCLES = 10000, BATCH = 50 };
	struct rlimit rl = { 64, 64 };
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	int failed = 0, first_errno = 0, p[2] = { -1, -1 };
	for (int i = 0; i < CYCLES; i++) {
		int sv[2];
		char buf[4];
		int last = i % BATCH == BATCH - 1;
		if ((last && pipe(p) != 0) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
			failed++;
			first_errno = first_errno ? first_errno : errno;
			break;
		}
		int carried[2] = { sv[0], p[1] };
		if (send_fds(sv[1], carried, last ? 2 : 1, 0) != 1) {
			failed++;
			first_errno = first_errno ? first_errno : errno;
		}
		close(sv[0]);
		close(sv[1]);
		if (last) {
			close(p[1]);
			if (read(p[0], buf, sizeof buf) != 0)
				failed++;
			close(p[0]);
		}
	}
	printf("%d cycles under RLIMIT_NOFILE 64: %d failed (%s)\n", CYCLES, failed,
	       first_errno ? strerrorname_np(first_errno) : "-");
}

/* Becomes `uid`, without capabilities, in a child; runs `part`. */
static void as_user(uid_t uid, void (*part)(void))
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		CHECK(setgroups(0, NULL) == 0);
		CHECK(setresgid(uid, uid, uid) == 0);
		CHECK(setresuid(uid, uid, uid) == 0);
		part();
		fflush(stdout);
		_exit(fails ? 1 : 0);
	}
	int status;
	CHECK(waitpid(c, &status, 0) == c);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void cycles(void)
{
	queued_in_itself(SOCK_STREAM);
	queued_in_itself(SOCK_SEQPACKET);
	queued_in_itself(SOCK_DGRAM);
	dgram_sent_to_itself();
	two_queued_in_each_other();
	listener_in_its_backlog();
	held_by_a_live_socket();
	peeked_cycle();
	many_cycles();
}

/* Sends messages of `per` descriptors until one fails. */
static void send_until_refused(const char *what, int sock, int fd, int per)
{
	int fds[64];
	for (int i = 0; i < per; i++)
		fds[i] = fd;
	int sent = 0;
	while (sent < 100 && send_fds(sock, fds, per, MSG_DONTWAIT) == 1)
		sent++;
	printf("%s: %d messages of %d sent, then %s\n", what, sent, per, strerrorname_np(errno));
}

static void limit(void)
{
	struct rlimit rl = { 16, 64 };
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	int sv[2], p[2], got[64];
	CHECK(pipe(p) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	send_until_refused("stream, one at a time", sv[0], p[0], 1);
	TRY("limit: a message without descriptors", send_fds(sv[0], NULL, 0, 0));
	int n = recv_fds(sv[1], got, 64, MSG_PEEK);
	printf("limit: peeked %d\n", n);
	for (int i = 0; i < n; i++)
		close(got[i]);
	TRY("limit: after a peek", send_fds(sv[0], p, 1, 0));
	n = recv_fds(sv[1], got, 64, 0);
	printf("limit: received %d\n", n);
	for (int i = 0; i < n; i++)
		close(got[i]);
	TRY("limit: after a receive", send_fds(sv[0], p, 1, 0));
	TRY("limit: and again", send_fds(sv[0], p, 1, 0));

	/* Another process of the user shares the count; a higher limit of
	 * its own lets it send. */
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		TRY("limit: another process", send_fds(sv[0], p, 1, 0));
		struct rlimit more = { 64, 64 };
		CHECK(setrlimit(RLIMIT_NOFILE, &more) == 0);
		TRY("limit: another process with RLIMIT_NOFILE 64", send_fds(sv[0], p, 1, 0));
		fflush(stdout);
		_exit(0);
	}
	CHECK(waitpid(c, NULL, 0) == c);

	/* The other types, and the order of the checks. */
	int d[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, d) == 0);
	TRY("limit: dgram", send_fds(d[0], p, 1, 0));
	close(d[0]);
	close(d[1]);
	int lone = socket(AF_UNIX, SOCK_DGRAM, 0);
	TRY("limit: dgram without a destination", send_fds(lone, p, 1, 0));
	struct sockaddr_un a;
	socklen_t len = abstract(&a, "nobody");
	TRY("limit: dgram to a name nobody has", sendto_fds(lone, &a, len, p, 1));
	close(lone);
	int q[2];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q) == 0);
	TRY("limit: seqpacket", send_fds(q[0], p, 1, 0));
	close(q[1]);
	TRY("limit: seqpacket, peer closed", send_fds(q[0], p, 1, 0));
	close(q[0]);
	int s[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	close(s[1]);
	TRY("limit: stream, peer closed", send_fds(s[0], p, 1, 0));
	close(s[0]);

	/* Closing the receiver gives everything back. */
	close(sv[0]);
	close(sv[1]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	send_until_refused("stream, three at a time", sv[0], p[0], 3);
	close(sv[0]);
	close(sv[1]);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	send_until_refused("seqpacket, 40 at once", sv[0], p[0], 40);
	close(sv[0]);
	close(sv[1]);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	send_until_refused("dgram, three at a time", sv[0], p[0], 3);
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

/* Root keeps CAP_SYS_RESOURCE: no limit. */
static void unlimited(void)
{
	struct rlimit old;
	CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
	struct rlimit rl = { 10, old.rlim_max };
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	int sv[2], p[2];
	CHECK(pipe(p) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int sent = 0;
	while (sent < 40 && send_fds(sv[0], p, 1, MSG_DONTWAIT) == 1)
		sent++;
	printf("root with RLIMIT_NOFILE 10: %d of 40 sent\n", sent);
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (getuid() != 0) {
		printf("needs root\n");
		return 1;
	}
	as_user(54321, cycles);
	as_user(54322, limit);
	unlimited();
	if (fails)
		return 1;
	printf("PASS\n");
	return 0;
}
