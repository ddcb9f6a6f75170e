/*
 * AF_INET and AF_INET6 sockets over loopback: TCP and UDP echo on
 * 127.0.0.1 and ::1, a v4 client of a dual-stack v6 listener, blocking
 * and non-blocking connect with epoll, a refused connection, a peer
 * reset, shutdown and EOF, EPIPE, address reuse, socket options, and the
 * errnos of misuse. Port numbers differ between runs, so only facts
 * about them are printed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/sockios.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); \
	printf("%s: %ld %s\n", label, r_, r_ < 0 ? strerrorname_np(errno) : "-"); } while (0)

static const char *events(short e)
{
	static char buf[128];
	buf[0] = 0;
	if (e & POLLIN) strcat(buf, "IN ");
	if (e & POLLOUT) strcat(buf, "OUT ");
	if (e & POLLHUP) strcat(buf, "HUP ");
	if (e & POLLRDHUP) strcat(buf, "RDHUP ");
	if (e & POLLERR) strcat(buf, "ERR ");
	if (!buf[0]) strcat(buf, "none ");
	return buf;
}

static short poll_for(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP };
	CHECK(poll(&p, 1, ms) >= 0);
	return p.revents;
}

/* Waits (up to 5 s) until fd shows `want`. */
static short wait_for(int fd, short want)
{
	struct pollfd p = { .fd = fd, .events = want };
	CHECK(poll(&p, 1, 5000) == 1);
	return p.revents;
}

typedef union {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
} addr_t;

static socklen_t loopback(addr_t *a, int family, int port)
{
	memset(a, 0, sizeof *a);
	if (family == AF_INET) {
		a->in.sin_family = AF_INET;
		a->in.sin_port = htons(port);
		a->in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof a->in;
	}
	a->in6.sin6_family = AF_INET6;
	a->in6.sin6_port = htons(port);
	a->in6.sin6_addr = in6addr_loopback;
	return sizeof a->in6;
}

static int port_of(int fd)
{
	addr_t a;
	socklen_t len = sizeof a;
	CHECK(getsockname(fd, &a.sa, &len) == 0);
	return ntohs(a.sa.sa_family == AF_INET ? a.in.sin_port : a.in6.sin6_port);
}

static const char *show(const addr_t *a, int port_known)
{
	static char buf[96];
	char ip[64];
	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof ip);
		snprintf(buf, sizeof buf, "AF_INET %s port %s", ip,
			 ntohs(a->in.sin_port) == 0 ? "0" : port_known ? "as expected" : "set");
	} else {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof ip);
		snprintf(buf, sizeof buf, "AF_INET6 %s port %s", ip,
			 ntohs(a->in6.sin6_port) == 0 ? "0" : port_known ? "as expected" : "set");
	}
	return buf;
}

/* A listener on loopback of `family`, port chosen by the stack. */
static int listener(int family, int backlog)
{
	int s = socket(family, SOCK_STREAM, 0);
	CHECK(s >= 0);
	addr_t a;
	socklen_t len = loopback(&a, family, 0);
	CHECK(bind(s, &a.sa, len) == 0);
	CHECK(listen(s, backlog) == 0);
	return s;
}

static int connect_to(int family, int port)
{
	int c = socket(family, SOCK_STREAM, 0);
	addr_t a;
	socklen_t len = loopback(&a, family, port);
	CHECK(connect(c, &a.sa, len) == 0);
	return c;
}

static void tcp_echo(int family)
{
	const char *f = family == AF_INET ? "tcp4" : "tcp6";
	int s = listener(family, 8);
	int port = port_of(s);
	printf("%s: listener poll %s\n", f, events(poll_for(s, 0)));
	int c = connect_to(family, port);
	printf("%s: listener after connect poll %s\n", f, events(wait_for(s, POLLIN)));
	addr_t peer;
	socklen_t plen = sizeof peer;
	int a = accept(s, &peer.sa, &plen);
	CHECK(a >= 0);
	printf("%s: accepted from %s, len %u\n", f, show(&peer, 0), plen);
	CHECK(ntohs(family == AF_INET ? peer.in.sin_port : peer.in6.sin6_port) == port_of(c));
	addr_t name;
	socklen_t nlen = sizeof name;
	CHECK(getpeername(c, &name.sa, &nlen) == 0);
	printf("%s: client's peer %s\n", f, show(&name, port == ntohs(family == AF_INET ? name.in.sin_port : name.in6.sin6_port)));
	printf("%s: connected poll %s\n", f, events(poll_for(c, 0)));
	struct stat st;
	CHECK(fstat(c, &st) == 0);
	printf("%s: S_ISSOCK %d\n", f, S_ISSOCK(st.st_mode));

	/* 1 MiB each way, a child echoing, in odd-sized pieces. */
	pid_t child = fork();
	if (child == 0) {
		char buf[7001];
		ssize_t n;
		while ((n = read(a, buf, sizeof buf)) > 0)
			for (ssize_t off = 0; off < n;) {
				ssize_t w = write(a, buf + off, n - off);
				if (w <= 0) _exit(2);
				off += w;
			}
		_exit(n == 0 ? 0 : 1);
	}
	close(a);
	static char out[1 << 20], in[1 << 20];
	for (size_t i = 0; i < sizeof out; i++) out[i] = (char)(i * 7 + i / 251);
	size_t sent = 0, got = 0;
	int flags = fcntl(c, F_GETFL);
	fcntl(c, F_SETFL, flags | O_NONBLOCK);
	while (got < sizeof in) {
		struct pollfd p = { .fd = c, .events = POLLIN | (sent < sizeof out ? POLLOUT : 0) };
		CHECK(poll(&p, 1, 10000) == 1);
		if (p.revents & POLLOUT) {
			ssize_t w = write(c, out + sent, (sizeof out - sent) < 65537 ? sizeof out - sent : 65537);
			CHECK(w > 0 || errno == EAGAIN);
			if (w > 0) sent += w;
		}
		if (p.revents & POLLIN) {
			ssize_t r = read(c, in + got, sizeof in - got);
			CHECK(r > 0 || errno == EAGAIN);
			if (r > 0) got += r;
			if (r == 0) break;
		}
	}
	fcntl(c, F_SETFL, flags);
	printf("%s: echoed %zu bytes, same %d\n", f, got, memcmp(in, out, sizeof in) == 0);
	CHECK(shutdown(c, SHUT_WR) == 0);
	char b[8];
	TRY("  EOF after the echo ends", read(c, b, sizeof b));
	int status;
	CHECK(waitpid(child, &status, 0) == child);
	printf("%s: echo child exit %d\n", f, WEXITSTATUS(status));
	close(c);
	close(s);
}

static void dual_stack(void)
{
	int s = listener(AF_INET6, 4);
	close(s);
	s = socket(AF_INET6, SOCK_STREAM, 0);
	addr_t a;
	memset(&a, 0, sizeof a);
	a.in6.sin6_family = AF_INET6;
	a.in6.sin6_addr = in6addr_any;
	CHECK(bind(s, &a.sa, sizeof a.in6) == 0);
	CHECK(listen(s, 4) == 0);
	int c = connect_to(AF_INET, port_of(s));
	addr_t peer;
	socklen_t plen = sizeof peer;
	int x = accept(s, &peer.sa, &plen);
	CHECK(x >= 0);
	printf("dual: v4 client seen as %s\n", show(&peer, 0));
	socklen_t nlen = sizeof a;
	CHECK(getsockname(x, &a.sa, &nlen) == 0);
	printf("dual: accepted socket's name %s\n", show(&a, 1));
	close(x);
	close(c);
	close(s);
}

static void nonblocking_connect(void)
{
	int s = listener(AF_INET, 4);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	addr_t a;
	socklen_t len = loopback(&a, AF_INET, port_of(s));
	TRY("nbconnect: first", connect(c, &a.sa, len));
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLOUT, .data.fd = c };
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) == 0);
	TRY("nbconnect: epoll_wait", epoll_wait(ep, &ev, 1, 5000));
	printf("nbconnect: events %s\n", events(ev.events));
	int err = -1;
	socklen_t elen = sizeof err;
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &elen) == 0);
	printf("nbconnect: SO_ERROR %d\n", err);
	TRY("nbconnect: connect after it completed", connect(c, &a.sa, len));
	TRY("nbconnect: and again", connect(c, &a.sa, len));
	close(ep);
	close(c);
	close(s);
}

static int unused_port(int family)
{
	int s = socket(family, SOCK_STREAM, 0);
	addr_t a;
	socklen_t len = loopback(&a, family, 0);
	CHECK(bind(s, &a.sa, len) == 0);
	int port = port_of(s);
	close(s);
	return port;
}

static void refused(int family)
{
	const char *f = family == AF_INET ? "refused4" : "refused6";
	int port = unused_port(family);
	addr_t a;
	socklen_t len = loopback(&a, family, port);
	int c = socket(family, SOCK_STREAM, 0);
	TRY(f, connect(c, &a.sa, len));
	TRY("  again", connect(c, &a.sa, len));
	close(c);
	c = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	TRY("  non-blocking", connect(c, &a.sa, len));
	printf("  poll %s\n", events(wait_for(c, POLLOUT)));
	int err = -1;
	socklen_t elen = sizeof err;
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &elen) == 0);
	printf("  SO_ERROR %s\n", err ? strerrorname_np(err) : "0");
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &elen) == 0);
	printf("  SO_ERROR again %d\n", err);
	close(c);
}

static void reset_and_shutdown(void)
{
	int s = listener(AF_INET, 4);
	int c = connect_to(AF_INET, port_of(s));
	int a = accept(s, NULL, NULL);
	struct linger l = { 1, 0 };
	CHECK(setsockopt(a, SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0);
	close(a);
	printf("reset: client poll %s\n", events(wait_for(c, POLLIN)));
	char b[16];
	TRY("reset: read", read(c, b, sizeof b));
	TRY("reset: read again", read(c, b, sizeof b));
	close(c);

	c = connect_to(AF_INET, port_of(s));
	a = accept(s, NULL, NULL);
	CHECK(write(c, "abc", 3) == 3);
	CHECK(shutdown(c, SHUT_WR) == 0);
	printf("shutdown: server poll %s\n", events(wait_for(a, POLLRDHUP)));
	int n = -1;
	CHECK(ioctl(a, FIONREAD, &n) == 0);
	printf("shutdown: FIONREAD %d\n", n);
	TRY("shutdown: server reads", read(a, b, sizeof b));
	TRY("shutdown: then EOF", read(a, b, sizeof b));
	TRY("shutdown: server still writes", write(a, "xy", 2));
	/* Zero bytes to a peer that sent its FIN: 0 at once, never a wait. */
	TRY("shutdown: server sends nothing", send(a, "", 0, 0));
	wait_for(c, POLLIN);
	TRY("shutdown: client reads", read(c, b, sizeof b));
	signal(SIGPIPE, SIG_IGN);
	TRY("shutdown: client writes after SHUT_WR", write(c, "z", 1));
	CHECK(shutdown(a, SHUT_RDWR) == 0);
	wait_for(c, POLLIN);
	TRY("shutdown: client at EOF", read(c, b, sizeof b));
	close(a);
	close(c);

	/* Closing with unread data resets the connection (RFC 2525). */
	c = connect_to(AF_INET, port_of(s));
	a = accept(s, NULL, NULL);
	CHECK(write(c, "unread", 6) == 6);
	wait_for(a, POLLIN);
	close(a);
	wait_for(c, POLLIN);
	TRY("unread close: client read", read(c, b, sizeof b));
	close(c);
	close(s);
}

static void udp(int family)
{
	const char *f = family == AF_INET ? "udp4" : "udp6";
	int s = socket(family, SOCK_DGRAM, 0);
	int c = socket(family, SOCK_DGRAM, 0);
	addr_t a;
	socklen_t len = loopback(&a, family, 0);
	CHECK(bind(s, &a.sa, len) == 0);
	len = loopback(&a, family, port_of(s));
	printf("%s: fresh poll %s\n", f, events(poll_for(s, 0)));
	TRY("  sendto", sendto(c, "datagram-one", 12, 0, &a.sa, len));
	TRY("  sendto", sendto(c, "two", 3, 0, &a.sa, len));
	printf("  server poll %s\n", events(wait_for(s, POLLIN)));
	int n = -1;
	CHECK(ioctl(s, FIONREAD, &n) == 0);
	printf("  FIONREAD %d\n", n);
	char b[64] = { 0 };
	addr_t from;
	socklen_t flen = sizeof from;
	TRY("  peek", recvfrom(s, b, 4, MSG_PEEK, &from.sa, &flen));
	struct iovec iov = { b, 4 };
	struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1 };
	TRY("  recvmsg cut", recvmsg(s, &m, 0));
	printf("  MSG_TRUNC %d, from %s\n", !!(m.msg_flags & MSG_TRUNC), show(&from, ntohs(from.sa.sa_family == AF_INET ? from.in.sin_port : from.in6.sin6_port) == port_of(c)));
	TRY("  recv with MSG_TRUNC", recv(s, b, 1, MSG_TRUNC));
	TRY("  nothing left", recv(s, b, sizeof b, MSG_DONTWAIT));
	TRY("  send unconnected", send(c, "x", 1, 0));
	CHECK(connect(c, &a.sa, len) == 0);
	TRY("  send connected", send(c, "connected", 9, 0));
	wait_for(s, POLLIN);
	flen = sizeof from;
	TRY("  recvfrom", recvfrom(s, b, sizeof b, 0, &from.sa, &flen));
	/* Reply to the sender's address. */
	TRY("  reply", sendto(s, "reply", 5, 0, &from.sa, flen));
	wait_for(c, POLLIN);
	TRY("  client reads reply", recv(c, b, sizeof b, 0));
	static char big[70000];
	TRY("  too big", sendto(c, big, family == AF_INET ? 65508 : 65528, 0, &a.sa, len));
	TRY("  largest", sendto(c, big, family == AF_INET ? 65507 : 65527, 0, &a.sa, len));
	wait_for(s, POLLIN);
	TRY("  largest arrives", recv(s, big, sizeof big, 0));
	addr_t unspec = { .sa.sa_family = AF_UNSPEC };
	TRY("  disconnect", connect(c, &unspec.sa, sizeof unspec.sa));
	TRY("  send after disconnect", send(c, "x", 1, 0));
	close(c);
	close(s);
}

static int get_int(int fd, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof v;
	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -errno;
	return v;
}

static void options(void)
{
	int t = socket(AF_INET, SOCK_STREAM, 0);
	int u = socket(AF_INET6, SOCK_DGRAM, 0);
	printf("opt: tcp SO_TYPE %d SO_PROTOCOL %d SO_DOMAIN %d\n", get_int(t, SOL_SOCKET, SO_TYPE),
	       get_int(t, SOL_SOCKET, SO_PROTOCOL), get_int(t, SOL_SOCKET, SO_DOMAIN));
	printf("opt: udp6 SO_TYPE %d SO_PROTOCOL %d SO_DOMAIN %d\n", get_int(u, SOL_SOCKET, SO_TYPE),
	       get_int(u, SOL_SOCKET, SO_PROTOCOL), get_int(u, SOL_SOCKET, SO_DOMAIN));
	printf("opt: tcp SO_RCVBUF %d SO_SNDBUF %d\n", get_int(t, SOL_SOCKET, SO_RCVBUF), get_int(t, SOL_SOCKET, SO_SNDBUF));
	int v = 4096;
	CHECK(setsockopt(t, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) == 0);
	printf("opt: SO_RCVBUF after 4096: %d\n", get_int(t, SOL_SOCKET, SO_RCVBUF));
	printf("opt: TCP_NODELAY %d SO_KEEPALIVE %d SO_REUSEADDR %d\n", get_int(t, IPPROTO_TCP, TCP_NODELAY),
	       get_int(t, SOL_SOCKET, SO_KEEPALIVE), get_int(t, SOL_SOCKET, SO_REUSEADDR));
	v = 1;
	CHECK(setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) == 0);
	CHECK(setsockopt(t, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) == 0);
	v = 30;
	CHECK(setsockopt(t, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v) == 0);
	printf("opt: now TCP_NODELAY %d SO_KEEPALIVE %d TCP_KEEPIDLE %d TCP_KEEPINTVL %d TCP_KEEPCNT %d\n",
	       get_int(t, IPPROTO_TCP, TCP_NODELAY), get_int(t, SOL_SOCKET, SO_KEEPALIVE),
	       get_int(t, IPPROTO_TCP, TCP_KEEPIDLE), get_int(t, IPPROTO_TCP, TCP_KEEPINTVL),
	       get_int(t, IPPROTO_TCP, TCP_KEEPCNT));
	v = 0;
	TRY("opt: TCP_KEEPIDLE 0", setsockopt(t, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v));
	printf("opt: IP_TTL %d, IPV6_V6ONLY %d, udp6 IPV6_UNICAST_HOPS %d\n", get_int(t, IPPROTO_IP, IP_TTL),
	       get_int(u, IPPROTO_IPV6, IPV6_V6ONLY), get_int(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS));
	v = 7;
	CHECK(setsockopt(t, IPPROTO_IP, IP_TTL, &v, sizeof v) == 0);
	printf("opt: IP_TTL after 7: %d\n", get_int(t, IPPROTO_IP, IP_TTL));
	printf("opt: TCP_NODELAY on udp %d, unknown TCP option %d\n", get_int(u, IPPROTO_TCP, TCP_NODELAY),
	       get_int(t, IPPROTO_TCP, 9999));
	struct tcp_info ti;
	socklen_t tl = sizeof ti;
	CHECK(getsockopt(t, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0);
	printf("opt: TCP_INFO state %d\n", ti.tcpi_state);
	int s = listener(AF_INET, 1);
	printf("opt: SO_ACCEPTCONN listener %d, fresh %d\n", get_int(s, SOL_SOCKET, SO_ACCEPTCONN),
	       get_int(t, SOL_SOCKET, SO_ACCEPTCONN));
	tl = sizeof ti;
	CHECK(getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0);
	printf("opt: TCP_INFO listener state %d\n", ti.tcpi_state);
	close(s);
	close(t);
	close(u);
}

static void reuse(void)
{
	int a = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET, SOCK_STREAM, 0);
	addr_t x;
	socklen_t len = loopback(&x, AF_INET, 0);
	CHECK(bind(a, &x.sa, len) == 0);
	len = loopback(&x, AF_INET, port_of(a));
	TRY("reuse: second bind", bind(b, &x.sa, len));
	close(b);
	int one = 1;
	b = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
	CHECK(setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
	TRY("reuse: both SO_REUSEADDR, neither listening", bind(b, &x.sa, len));
	close(b);
	CHECK(listen(a, 1) == 0);
	b = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
	TRY("reuse: while the first listens", bind(b, &x.sa, len));
	close(b);
	/* A connection closed by this side lingers in TIME_WAIT; SO_REUSEADDR binds over it. */
	int c = connect_to(AF_INET, port_of(a));
	int s = accept(a, NULL, NULL);
	close(s);
	char ch;
	wait_for(c, POLLIN);
	CHECK(read(c, &ch, 1) == 0);
	close(c);
	close(a);
	b = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
	TRY("reuse: over TIME_WAIT", bind(b, &x.sa, len));
	TRY("reuse: and listen", listen(b, 1));
	close(b);
}

static void misuse(void)
{
	int t = socket(AF_INET, SOCK_STREAM, 0);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	addr_t a;
	socklen_t len = loopback(&a, AF_INET, 0);
	TRY("misuse: bind short address", bind(t, &a.sa, len - 1));
	addr_t six;
	socklen_t len6 = loopback(&six, AF_INET6, 0);
	TRY("misuse: bind v6 address to v4 socket", bind(t, &six.sa, len6));
	addr_t far;
	memset(&far, 0, sizeof far);
	far.in.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.77", &far.in.sin_addr);
	TRY("misuse: bind a foreign address", bind(t, &far.sa, sizeof far.in));
	TRY("misuse: getpeername unconnected", getpeername(t, &a.sa, &len));
	char b[4];
	TRY("misuse: recv unconnected", recv(t, b, sizeof b, 0));
	signal(SIGPIPE, SIG_IGN);
	TRY("misuse: send unconnected", send(t, "x", 1, 0));
	TRY("misuse: shutdown unconnected", shutdown(t, SHUT_RDWR));
	TRY("misuse: accept unlistened", accept(t, NULL, NULL));
	TRY("misuse: listen on udp", listen(u, 1));
	TRY("misuse: accept on udp", accept(u, NULL, NULL));
	TRY("misuse: sendto udp without address", send(u, "x", 1, 0));
	len = loopback(&a, AF_INET, 0);
	CHECK(bind(t, &a.sa, len) == 0);
	TRY("misuse: bind twice", bind(t, &a.sa, len));
	socklen_t nl = sizeof a;
	CHECK(getsockname(t, &a.sa, &nl) == 0);
	printf("misuse: name after bind %s\n", show(&a, 1));
	int x = socket(AF_INET, SOCK_STREAM, 0);
	nl = sizeof a;
	CHECK(getsockname(x, &a.sa, &nl) == 0);
	printf("misuse: unbound name %s, len %u\n", show(&a, 0), nl);
	printf("misuse: fresh poll %s\n", events(poll_for(x, 0)));
	TRY("misuse: socket bad protocol", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
	TRY("misuse: socket bad type", socket(AF_INET, 9, 0));
	TRY("misuse: socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}));
	struct timeval tv = { 0, 100000 };
	int s = listener(AF_INET, 1);
	int c = connect_to(AF_INET, port_of(s));
	CHECK(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	TRY("misuse: recv times out", recv(c, b, sizeof b, 0));
	CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	int a1 = accept(s, NULL, NULL);
	CHECK(a1 >= 0);
	TRY("misuse: accept times out", accept(s, NULL, NULL));
	close(a1);
	close(c);
	close(s);
	close(x);
	close(t);
	close(u);
}

/* 4 processes each hold 250 connections open at once to one listener
 * (backlog 1024), each sending its number; the parent echoes every one. */
static void thousand(void)
{
	enum { PROCS = 4, EACH = 250 };
	int s = listener(AF_INET, 1024);
	int port = port_of(s);
	pid_t kids[PROCS];
	for (int k = 0; k < PROCS; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			int fds[EACH];
			for (int i = 0; i < EACH; i++) {
				fds[i] = connect_to(AF_INET, port);
				int id = k * EACH + i;
				if (write(fds[i], &id, sizeof id) != sizeof id) _exit(1);
			}
			for (int i = 0; i < EACH; i++) {
				int back = -1;
				if (read(fds[i], &back, sizeof back) != sizeof back || back != k * EACH + i)
					_exit(2);
			}
			_exit(0);
		}
	}
	static int seen[PROCS * EACH];
	int served = 0;
	for (int i = 0; i < PROCS * EACH; i++) {
		int a = accept(s, NULL, NULL);
		if (a < 0) { CHECK(a >= 0); break; }
		int id = -1;
		if (read(a, &id, sizeof id) == sizeof id && id >= 0 && id < PROCS * EACH && !seen[id]) {
			seen[id] = 1;
			served += write(a, &id, sizeof id) == sizeof id;
		}
		close(a);
	}
	int ok = 0;
	for (int k = 0; k < PROCS; k++) {
		int status;
		CHECK(waitpid(kids[k], &status, 0) == kids[k]);
		ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	printf("thousand: served %d, clients ok %d of %d\n", served, ok, PROCS);
	close(s);
}

/* With arguments, only the parts named run (for debugging one part). */
static int want(int argc, char **argv, const char *part)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], part))
			return 1;
	return 0;
}

#define PART(name, call) do { if (want(argc, argv, name)) call; } while (0)

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	PART("tcp4", tcp_echo(AF_INET));
	PART("tcp6", tcp_echo(AF_INET6));
	PART("dual", dual_stack());
	PART("nbconnect", nonblocking_connect());
	PART("refused4", refused(AF_INET));
	PART("refused6", refused(AF_INET6));
	PART("reset", reset_and_shutdown());
	PART("udp4", udp(AF_INET));
	PART("udp6", udp(AF_INET6));
	PART("options", options());
	PART("reuse", reuse());
	PART("misuse", misuse());
	PART("thousand", thousand());
	if (fails) {
		printf("%d FAILED\n", fails);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
