/*
 * TCP urgent data over loopback (v4 and v6): send(MSG_OOB) marks its
 * last byte; reads stop before it and skip it; recv(MSG_OOB) returns it
 * once (MSG_OOB in msg_flags), EINVAL when there is none, it was taken
 * or passed, or SO_OOBINLINE is on; SIOCATMARK; POLLPRI and select's
 * exceptional set; SIGURG to the F_SETOWN owner; a newer mark replacing
 * one the reader sits at; the errnos of MSG_OOB elsewhere (listener,
 * unconnected, UDP).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)

static volatile sig_atomic_t urgs;
static void on_urg(int sig) { (void)sig; urgs++; }

static const char *events(short e)
{
	static char buf[64];
	buf[0] = 0;
	if (e & POLLIN) strcat(buf, "IN ");
	if (e & POLLPRI) strcat(buf, "PRI ");
	if (e & POLLOUT) strcat(buf, "OUT ");
	if (e & POLLHUP) strcat(buf, "HUP ");
	if (e & POLLRDHUP) strcat(buf, "RDHUP ");
	if (!buf[0]) strcat(buf, "none ");
	return buf;
}

static short ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLPRI | POLLRDHUP };
	CHECK(poll(&p, 1, 0) >= 0);
	return p.revents;
}

/* Waits (up to 5 s) for urgent data to show. */
static void wait_pri(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLPRI };
	CHECK(poll(&p, 1, 5000) == 1);
}

static int inq(int fd)
{
	int q = -1;
	CHECK(ioctl(fd, FIONREAD, &q) == 0);
	return q;
}

static int atmark(int fd)
{
	int v = -1;
	errno = 0;
	if (ioctl(fd, SIOCATMARK, &v) < 0)
		return -errno;
	return v;
}

/* One recv, shown as "label: n 'bytes' flags" or "label: -1 ERRNO". */
static void rd(const char *label, int fd, int flags)
{
	char buf[32];
	struct iovec iov = { buf, sizeof buf };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	errno = 0;
	ssize_t n = recvmsg(fd, &m, flags);
	if (n < 0) {
		printf("%s: -1 %s\n", label, strerrorname_np(errno));
		return;
	}
	printf("%s: %zd '%.*s'%s%s\n", label, n, (int)n, buf,
	       m.msg_flags & MSG_OOB ? " OOB" : "", m.msg_flags & MSG_TRUNC ? " TRUNC" : "");
}

static void sendx(int fd, const char *s, int flags)
{
	CHECK(send(fd, s, strlen(s), flags) == (ssize_t)strlen(s));
}

/* A connected pair over loopback: *c the client, *s the accepted end. */
static void pair(int v6, int *c, int *s, int *l)
{
	int fam = v6 ? AF_INET6 : AF_INET;
	struct sockaddr_storage a = { 0 };
	socklen_t len;
	if (v6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a;
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_loopback;
		len = sizeof *a6;
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
		a4->sin_family = AF_INET;
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *a4;
	}
	*l = socket(fam, SOCK_STREAM, 0);
	CHECK(*l >= 0);
	CHECK(bind(*l, (struct sockaddr *)&a, len) == 0);
	CHECK(listen(*l, 4) == 0);
	CHECK(getsockname(*l, (struct sockaddr *)&a, &len) == 0);
	*c = socket(fam, SOCK_STREAM, 0);
	CHECK(connect(*c, (struct sockaddr *)&a, len) == 0);
	*s = accept(*l, NULL, NULL);
	CHECK(*s >= 0);
}

static void run(int v6)
{
	int c, s, l;
	printf("== %s\n", v6 ? "ipv6" : "ipv4");
	pair(v6, &c, &s, &l);
	const int dw = MSG_DONTWAIT;

	rd("oob before any", s, MSG_OOB | dw);
	rd("oob on listener", l, MSG_OOB | dw);
	printf("atmark before any: %d\n", atmark(s));

	/* The basic case: "abc" with c urgent. */
	sendx(c, "abc", MSG_OOB);
	wait_pri(s);
	printf("ready: %s\n", events(ready(s)));
	printf("atmark: %d\n", atmark(s));
	rd("read", s, dw);
	printf("atmark at c: %d\n", atmark(s));
	printf("ready at c: %s\n", events(ready(s)));
	rd("oob peek", s, MSG_OOB | MSG_PEEK | dw);
	rd("oob", s, MSG_OOB | dw);
	printf("ready after oob: %s\n", events(ready(s)));
	rd("oob again", s, MSG_OOB | dw);
	printf("atmark after oob: %d\n", atmark(s));
	rd("read past c", s, dw);
	printf("atmark past c: %d\n", atmark(s));
	rd("oob past c", s, MSG_OOB | dw);

	/* Data after the mark comes in the same read as the skip. */
	sendx(c, "xy", 0);
	sendx(c, "z", MSG_OOB);
	sendx(c, "tail", 0);
	wait_pri(s);
	printf("inq before z: %d\n", inq(s));
	rd("read to z", s, dw);
	printf("inq at z: %d\n", inq(s));
	rd("oob z", s, MSG_OOB | dw);
	printf("inq at taken z: %d\n", inq(s));
	rd("read after z", s, dw);

	/* An urgent byte nobody takes is lost once the reader passes it. */
	sendx(c, "12", MSG_OOB);
	sendx(c, "34", 0);
	wait_pri(s);
	rd("read 1", s, dw);
	rd("read past 2", s, dw);
	rd("oob 2 passed", s, MSG_OOB | dw);

	/* A zero-length buffer: MSG_TRUNC, nothing taken. */
	sendx(c, "k", MSG_OOB);
	wait_pri(s);
	{
		struct msghdr m = { 0 };
		errno = 0;
		ssize_t n = recvmsg(s, &m, MSG_OOB | dw);
		printf("oob empty buffer: %zd%s%s\n", n, m.msg_flags & MSG_OOB ? " OOB" : "",
		       m.msg_flags & MSG_TRUNC ? " TRUNC" : "");
	}
	rd("oob k", s, MSG_OOB | MSG_TRUNC | dw);
	rd("read after k", s, dw);

	/* A second mark while the reader sits at the first: the first byte
	 * is stepped over. */
	sendx(c, "p", MSG_OOB);
	wait_pri(s);
	sendx(c, "q", MSG_OOB);
	for (int i = 0; i < 500; i++) {
		char b = 0;
		if (recv(s, &b, 1, MSG_OOB | MSG_PEEK | dw) == 1 && b == 'q')
			break;
		struct pollfd p = { .fd = s, .events = POLLPRI };
		poll(&p, 1, 10);
	}
	printf("atmark at q: %d\n", atmark(s));
	printf("inq at q: %d\n", inq(s));
	rd("read at p,q", s, dw);
	rd("oob q", s, MSG_OOB | dw);

	/* select's exceptional set, and SIGURG to the F_SETOWN owner. */
	struct sigaction sa = { .sa_handler = on_urg };
	sigaction(SIGURG, &sa, NULL);
	printf("getown before: %d\n", fcntl(s, F_GETOWN));
	CHECK(fcntl(s, F_SETOWN, getpid()) == 0);
	printf("getown is pid: %d\n", fcntl(s, F_GETOWN) == getpid());
	urgs = 0;
	sendx(c, "u", MSG_OOB);
	wait_pri(s);
	printf("sigurg: %d\n", (int)urgs);
	fd_set rs, es;
	FD_ZERO(&rs);
	FD_ZERO(&es);
	FD_SET(s, &rs);
	FD_SET(s, &es);
	struct timeval tv = { 0, 0 };
	int n = select(s + 1, &rs, NULL, &es, &tv);
	printf("select: %d read %d except %d\n", n, FD_ISSET(s, &rs), FD_ISSET(s, &es));
	rd("oob u", s, MSG_OOB | dw);
	FD_ZERO(&es);
	FD_SET(s, &es);
	printf("select after: %d\n", select(s + 1, NULL, NULL, &es, &tv));
	rd("read after u", s, dw);
	CHECK(fcntl(s, F_SETOWN, 0) == 0);
	urgs = 0;
	sendx(c, "w", MSG_OOB);
	wait_pri(s);
	printf("sigurg without owner: %d\n", (int)urgs);
	rd("oob w", s, MSG_OOB | dw);
	signal(SIGURG, SIG_DFL);

	/* SO_OOBINLINE: the byte stays in the stream; reads still stop at
	 * the mark. */
	int one = 1, v = -1;
	socklen_t vl = sizeof v;
	CHECK(setsockopt(s, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one) == 0);
	CHECK(getsockopt(s, SOL_SOCKET, SO_OOBINLINE, &v, &vl) == 0);
	printf("oobinline: %d\n", v);
	sendx(c, "gh", MSG_OOB);
	sendx(c, "ij", 0);
	wait_pri(s);
	printf("ready inline: %s\n", events(ready(s)));
	printf("inq inline: %d\n", inq(s));
	rd("inline read", s, dw);
	printf("inline atmark: %d\n", atmark(s));
	printf("inline ready at mark: %s\n", events(ready(s)));
	printf("inq inline at mark: %d\n", inq(s));
	rd("inline oob", s, MSG_OOB | dw);
	rd("inline read mark", s, dw);
	int zero = 0;
	CHECK(setsockopt(s, SOL_SOCKET, SO_OOBINLINE, &zero, sizeof zero) == 0);

	/* Urgent data, then the peer closes. */
	sendx(c, "end", MSG_OOB);
	close(c);
	wait_pri(s);
	rd("read before end", s, dw);
	rd("oob end", s, MSG_OOB | dw);
	rd("eof", s, dw);
	rd("oob at eof", s, MSG_OOB | dw);
	close(s);
	close(l);

	/* The errnos of MSG_OOB where TCP's urgent data is not. */
	int u = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_storage to;
	socklen_t tl = sizeof to;
	CHECK(bind(u, (struct sockaddr *)&(struct sockaddr_storage){ .ss_family = v6 ? AF_INET6 : AF_INET },
		   v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) == 0);
	CHECK(getsockname(u, (struct sockaddr *)&to, &tl) == 0);
	errno = 0;
	ssize_t r = sendto(u, "x", 1, MSG_OOB, (struct sockaddr *)&to, tl);
	printf("udp send oob: %zd %s\n", r, strerrorname_np(errno));
	int t = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	rd("unconnected oob", t, MSG_OOB | dw);
	printf("unconnected atmark: %d\n", atmark(t));
	close(t);
	close(u);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	run(0);
	run(1);
	if (fails)
		printf("FAILED %d\n", fails);
	else
		printf("PASS\n");
	return fails != 0;
}
