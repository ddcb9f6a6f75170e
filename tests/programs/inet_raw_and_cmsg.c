/*
 * Raw ICMP sockets and the IP-level ancillary data of datagram sockets,
 * over loopback only (natively this runs in the host's namespace, so
 * other traffic may cross a raw socket: packets that are not this
 * program's, by ICMP identifier, are skipped).
 *
 * raw4 / raw6: socket(2)'s rules for SOCK_RAW, getsockname's protocol
 * "port", the echo request as it arrives and the kernel's reply (an IPv4
 * socket reads the IP header; the kernel sums an ICMPv6 message),
 * ICMP_FILTER and ICMP6_FILTER, bound and connected sockets, the TTL
 * from IP_TTL, IPV6_UNICAST_HOPS and a sendmsg control message, and the
 * errnos of misuse. nonroot: EPERM without CAP_NET_RAW.
 * udp4 / udp6: IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, IPV6_RECVPKTINFO,
 * IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS and the RFC 2292 forms, with their
 * order, sizes and truncation (MSG_CTRUNC, cmsg_len), IP_TTL,
 * IPV6_HOPLIMIT and *_PKTINFO on sendmsg, SO_TIMESTAMP and
 * SO_TIMESTAMPNS, and a v4 datagram on a dual-stack socket.
 * udplite: UDP-Lite's own ports, control messages and coverage options.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <linux/icmp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); \
	printf("%s: %ld %s\n", label, r_, r_ < 0 ? strerrorname_np(errno) : "-"); } while (0)

typedef union {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
} addr_t;

static socklen_t v4addr(addr_t *a, const char *ip, int port)
{
	memset(a, 0, sizeof *a);
	a->in.sin_family = AF_INET;
	a->in.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a->in.sin_addr);
	return sizeof a->in;
}

static socklen_t v6addr(addr_t *a, const char *ip, int port)
{
	memset(a, 0, sizeof *a);
	a->in6.sin6_family = AF_INET6;
	a->in6.sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &a->in6.sin6_addr);
	return sizeof a->in6;
}

static const char *show(const addr_t *a)
{
	static char buf[80];
	char ip[INET6_ADDRSTRLEN];
	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof ip);
		snprintf(buf, sizeof buf, "%s:%d", ip, ntohs(a->in.sin_port));
	} else {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof ip);
		snprintf(buf, sizeof buf, "[%s]:%d", ip, ntohs(a->in6.sin6_port));
	}
	return buf;
}

static const char *name_of(int fd, int peer)
{
	addr_t a;
	socklen_t len = sizeof a;
	memset(&a, 0, sizeof a);
	int r = peer ? getpeername(fd, &a.sa, &len) : getsockname(fd, &a.sa, &len);
	if (r < 0)
		return strerrorname_np(errno);
	return show(&a);
}

static int get_int(int fd, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof v;
	if (getsockopt(fd, level, name, &v, &len) < 0)
		return -errno;
	return v;
}

static int set_int(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof v);
}

static int port_of(int fd)
{
	addr_t a;
	socklen_t len = sizeof a;
	CHECK(getsockname(fd, &a.sa, &len) == 0);
	return ntohs(a.sa.sa_family == AF_INET ? a.in.sin_port : a.in6.sin6_port);
}

/* RFC 1071's sum over `len` bytes, folded in with `start`. */
static uint16_t cksum(const void *p, size_t len, uint32_t start)
{
	const uint8_t *b = p;
	uint32_t acc = start;
	for (size_t i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		acc += (uint32_t)b[len - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

/* An ICMPv6 message's sum with its pseudo-header: 0 when it is right. */
static uint16_t cksum6(const struct in6_addr *src, const struct in6_addr *dst, const uint8_t *m, size_t len)
{
	uint8_t pseudo[40];
	memcpy(pseudo, src, 16);
	memcpy(pseudo + 16, dst, 16);
	uint32_t l = htonl(len);
	memcpy(pseudo + 32, &l, 4);
	memset(pseudo + 36, 0, 3);
	pseudo[39] = IPPROTO_ICMPV6;
	uint32_t acc = (uint16_t)~cksum(pseudo, sizeof pseudo, 0);
	return cksum(m, len, acc);
}

static uint16_t ident;

/* An echo request of ours: type, identifier, sequence, 16 bytes of data;
 * an IPv4 one carries its sum, an ICMPv6 one leaves it to the kernel. */
static size_t echo_request(uint8_t *m, int v6, int seq)
{
	memset(m, 0, 24);
	m[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
	m[4] = ident >> 8;
	m[5] = ident & 0xff;
	m[6] = seq >> 8;
	m[7] = seq & 0xff;
	memcpy(m + 8, "raw-socket-test!", 16);
	if (!v6) {
		uint16_t s = cksum(m, 24, 0);
		m[2] = s >> 8;
		m[3] = s & 0xff;
	}
	return 24;
}

struct got {
	uint8_t buf[4096];
	ssize_t len;
	/* Where the ICMP message starts (after an IPv4 header). */
	int icmp;
	addr_t from;
	uint8_t ctl[512];
	size_t ctllen;
	int flags;
};

/* The next packet of ours (by identifier) on `fd`, within 2 s; its
 * length, or 0 when none came. */
static ssize_t next_mine(int fd, int v6, struct got *g)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 2000) != 1)
			return 0;
		struct iovec iov = { g->buf, sizeof g->buf };
		struct msghdr m = { .msg_name = &g->from, .msg_namelen = sizeof g->from, .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = g->ctl, .msg_controllen = sizeof g->ctl };
		g->len = recvmsg(fd, &m, 0);
		if (g->len < 0)
			return -1;
		g->ctllen = m.msg_controllen;
		g->flags = m.msg_flags;
		g->icmp = v6 ? 0 : (g->buf[0] & 0xf) * 4;
		if (g->len < g->icmp + 8)
			continue;
		const uint8_t *icmp = g->buf + g->icmp;
		if ((icmp[4] << 8 | icmp[5]) == ident)
			return g->len;
	}
}

/* Control messages, one per line: level, type, length and an int or
 * address where there is one. */
static void show_cmsgs(const char *label, const uint8_t *ctl, size_t len, int flags)
{
	struct msghdr m = { .msg_control = (void *)ctl, .msg_controllen = len };
	printf("%s: controllen %zu%s\n", label, len, flags & MSG_CTRUNC ? " CTRUNC" : "");
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		size_t n = c->cmsg_len - CMSG_LEN(0);
		const uint8_t *d = CMSG_DATA(c);
		char what[120] = "";
		char ip[INET6_ADDRSTRLEN];
		int v;
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && n >= sizeof(struct in_pktinfo)) {
			struct in_pktinfo pi;
			memcpy(&pi, d, sizeof pi);
			char spec[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &pi.ipi_spec_dst, spec, sizeof spec);
			inet_ntop(AF_INET, &pi.ipi_addr, ip, sizeof ip);
			snprintf(what, sizeof what, "ifindex %d spec_dst %s addr %s", pi.ipi_ifindex, spec, ip);
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   (c->cmsg_type == IPV6_PKTINFO || c->cmsg_type == IPV6_2292PKTINFO) &&
			   n >= sizeof(struct in6_pktinfo)) {
			struct in6_pktinfo pi;
			memcpy(&pi, d, sizeof pi);
			inet_ntop(AF_INET6, &pi.ipi6_addr, ip, sizeof ip);
			snprintf(what, sizeof what, "addr %s ifindex %d", ip, pi.ipi6_ifindex);
		} else if (c->cmsg_level == SOL_SOCKET && (c->cmsg_type == SO_TIMESTAMP || c->cmsg_type == SO_TIMESTAMPNS)) {
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			int64_t sec, frac;
			memcpy(&sec, d, 8);
			memcpy(&frac, d + 8, 8);
			int64_t lim = c->cmsg_type == SO_TIMESTAMP ? 1000000 : 1000000000;
			snprintf(what, sizeof what, "%s", sec <= now.tv_sec && sec > now.tv_sec - 10 && frac >= 0 && frac < lim
				 ? "within the last 10 s" : "WRONG TIME");
		} else if (n == 1) {
			snprintf(what, sizeof what, "byte %d", d[0]);
		} else if (n == sizeof v) {
			memcpy(&v, d, sizeof v);
			snprintf(what, sizeof what, "int %d", v);
		}
		printf("  level %d type %d len %zu %s\n", c->cmsg_level, c->cmsg_type, (size_t)c->cmsg_len, what);
	}
}

static void raw4(void)
{
	addr_t a, lo;
	socklen_t lolen = v4addr(&lo, "127.0.0.1", 0);
	TRY("raw4: protocol 0", socket(AF_INET, SOCK_RAW, 0));
	int r = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	CHECK(r >= 0);
	printf("raw4: SO_TYPE %d SO_PROTOCOL %d name %s\n", get_int(r, SOL_SOCKET, SO_TYPE),
	       get_int(r, SOL_SOCKET, SO_PROTOCOL), name_of(r, 0));
	printf("raw4: peer %s\n", name_of(r, 1));
	struct icmp_filter f = { 0 };
	socklen_t flen = sizeof f;
	CHECK(getsockopt(r, SOL_RAW, ICMP_FILTER, &f, &flen) == 0);
	printf("raw4: ICMP_FILTER %#x len %d, IP_HDRINCL %d, ICMP6_FILTER %d\n", f.data, (int)flen,
	       get_int(r, IPPROTO_IP, IP_HDRINCL), get_int(r, SOL_ICMPV6, ICMP6_FILTER));
	TRY("raw4: set ICMP6_FILTER", set_int(r, SOL_ICMPV6, ICMP6_FILTER, 0));
	TRY("raw4: set IPV6_CHECKSUM", set_int(r, SOL_RAW, IPV6_CHECKSUM, 2));
	TRY("raw4: set IP_HDRINCL 0", set_int(r, IPPROTO_IP, IP_HDRINCL, 0));
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	printf("raw4: udp IP_HDRINCL %d ICMP_FILTER %d\n", get_int(u, IPPROTO_IP, IP_HDRINCL),
	       get_int(u, SOL_RAW, ICMP_FILTER));
	close(u);

	uint8_t req[64];
	struct got g;
	size_t n = echo_request(req, 0, 1);
	TRY("raw4: sendto 127.0.0.1", sendto(r, req, n, 0, &lo.sa, lolen));
	for (int i = 0; i < 2; i++) {
		CHECK(next_mine(r, 0, &g) > 0);
		struct iphdr ip;
		memcpy(&ip, g.buf, sizeof ip);
		char src[16], dst[16];
		inet_ntop(AF_INET, &ip.saddr, src, sizeof src);
		inet_ntop(AF_INET, &ip.daddr, dst, sizeof dst);
		printf("raw4: got %zd bytes from %s: v%d ihl %d tot_len %d ttl %d proto %d %s -> %s, "
		       "ip sum ok %d, icmp type %d sum ok %d seq %d\n",
		       g.len, show(&g.from), ip.version, ip.ihl, ntohs(ip.tot_len), ip.ttl, ip.protocol, src, dst,
		       cksum(g.buf, 20, 0) == 0, g.buf[20], cksum(g.buf + 20, g.len - 20, 0) == 0, g.buf[27]);
	}

	/* Only replies, then the TTL of our requests as the raw socket sees
	 * them arrive. */
	f.data = ~(1u << ICMP_ECHOREPLY);
	CHECK(setsockopt(r, SOL_RAW, ICMP_FILTER, &f, sizeof f) == 0);
	n = echo_request(req, 0, 2);
	CHECK(sendto(r, req, n, 0, &lo.sa, lolen) == (ssize_t)n);
	CHECK(next_mine(r, 0, &g) > 0);
	printf("raw4: filtered: first of ours is type %d seq %d\n", g.buf[20], g.buf[27]);
	f.data = 1u << ICMP_ECHOREPLY;
	CHECK(setsockopt(r, SOL_RAW, ICMP_FILTER, &f, sizeof f) == 0);
	CHECK(set_int(r, IPPROTO_IP, IP_TTL, 7) == 0);
	CHECK(set_int(r, IPPROTO_IP, IP_RECVTTL, 1) == 0);
	CHECK(set_int(r, IPPROTO_IP, IP_PKTINFO, 1) == 0);
	n = echo_request(req, 0, 3);
	CHECK(sendto(r, req, n, 0, &lo.sa, lolen) == (ssize_t)n);
	CHECK(next_mine(r, 0, &g) > 0);
	printf("raw4: with IP_TTL 7: type %d header ttl %d\n", g.buf[20], g.buf[8]);
	show_cmsgs("raw4: cmsgs", g.ctl, g.ctllen, g.flags);

	/* A TTL for one packet through sendmsg. */
	n = echo_request(req, 0, 4);
	struct iovec iov = { req, n };
	union { struct cmsghdr c; uint8_t b[CMSG_SPACE(sizeof(int))]; } ctl;
	memset(&ctl, 0, sizeof ctl);
	ctl.c.cmsg_len = CMSG_LEN(sizeof(int));
	ctl.c.cmsg_level = IPPROTO_IP;
	ctl.c.cmsg_type = IP_TTL;
	int three = 3;
	memcpy(CMSG_DATA(&ctl.c), &three, sizeof three);
	struct msghdr m = { .msg_name = &lo, .msg_namelen = lolen, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = &ctl, .msg_controllen = sizeof ctl };
	TRY("raw4: sendmsg IP_TTL 3", sendmsg(r, &m, 0));
	CHECK(next_mine(r, 0, &g) > 0);
	printf("raw4: header ttl %d\n", g.buf[8]);

	/* A socket bound elsewhere in 127/8 hears none of this; a connected
	 * one only its peer. */
	int b = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	TRY("raw4: bind 127.1.2.3", bind(b, &a.sa, v4addr(&a, "127.1.2.3", 99)));
	printf("raw4: bound name %s\n", name_of(b, 0));
	TRY("raw4: bind again 127.1.2.4", bind(b, &a.sa, v4addr(&a, "127.1.2.4", 0)));
	TRY("raw4: bind 192.0.2.1", bind(b, &a.sa, v4addr(&a, "192.0.2.1", 0)));
	int c = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	TRY("raw4: connect 127.0.0.1", connect(c, &lo.sa, lolen));
	printf("raw4: connected name %s\n", name_of(c, 0));
	printf("raw4: connected peer %s\n", name_of(c, 1));
	int c9 = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	TRY("raw4: connect 127.0.0.1:9", connect(c9, &a.sa, v4addr(&a, "127.0.0.1", 9)));
	printf("raw4: connected peer %s\n", name_of(c9, 1));
	close(c9);
	TRY("raw4: bind after connect", bind(c, &a.sa, v4addr(&a, "127.0.0.1", 0)));
	n = echo_request(req, 0, 5);
	TRY("raw4: send connected", send(c, req, n, 0));
	CHECK(next_mine(c, 0, &g) > 0);
	printf("raw4: connected hears type %d\n", g.buf[20]);
	CHECK(next_mine(c, 0, &g) > 0);
	printf("raw4: connected hears type %d\n", g.buf[20]);
	printf("raw4: bound to 127.1.2.4 heard %zd\n", next_mine(b, 0, &g));
	n = echo_request(req, 0, 6);
	CHECK(sendto(r, req, n, 0, &a.sa, v4addr(&a, "127.1.2.4", 0)) == (ssize_t)n);
	CHECK(next_mine(b, 0, &g) > 0);
	printf("raw4: bound to 127.1.2.4 now hears type %d\n", g.buf[20]);

	static uint8_t big[65536];
	TRY("raw4: 65516 bytes", sendto(r, big, 65516, 0, &lo.sa, lolen));
	TRY("raw4: send unconnected", send(r, req, n, 0));
	close(b);
	close(c);
	close(r);
}

static void raw6(void)
{
	addr_t lo;
	socklen_t lolen = v6addr(&lo, "::1", 0);
	TRY("raw6: protocol 0", socket(AF_INET6, SOCK_RAW, 0));
	int r = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	CHECK(r >= 0);
	printf("raw6: SO_TYPE %d SO_PROTOCOL %d name %s\n", get_int(r, SOL_SOCKET, SO_TYPE),
	       get_int(r, SOL_SOCKET, SO_PROTOCOL), name_of(r, 0));
	printf("raw6: IPV6_CHECKSUM %d (SOL_RAW), %d (IPPROTO_IPV6), ICMP_FILTER %d\n",
	       get_int(r, SOL_RAW, IPV6_CHECKSUM), get_int(r, IPPROTO_IPV6, IPV6_CHECKSUM),
	       get_int(r, SOL_RAW, ICMP_FILTER));
	TRY("raw6: IPV6_CHECKSUM at IPPROTO_IPV6", set_int(r, IPPROTO_IPV6, IPV6_CHECKSUM, 2));
	TRY("raw6: IPV6_CHECKSUM 3", set_int(r, SOL_RAW, IPV6_CHECKSUM, 3));
	TRY("raw6: IPV6_CHECKSUM 2", set_int(r, SOL_RAW, IPV6_CHECKSUM, 2));
	TRY("raw6: IP_TTL", set_int(r, IPPROTO_IP, IP_TTL, 5));
	struct icmp6_filter f;
	socklen_t flen = sizeof f;
	CHECK(getsockopt(r, IPPROTO_ICMPV6, ICMP6_FILTER, &f, &flen) == 0);
	int blocked = 0;
	for (int t = 0; t < 256; t++)
		blocked += ICMP6_FILTER_WILLBLOCK(t, &f);
	printf("raw6: ICMP6_FILTER len %d blocks %d types\n", (int)flen, blocked);

	ICMP6_FILTER_SETBLOCKALL(&f);
	ICMP6_FILTER_SETPASS(ICMP6_ECHO_REQUEST, &f);
	ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
	CHECK(setsockopt(r, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f) == 0);
	CHECK(set_int(r, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1) == 0);
	CHECK(set_int(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) == 0);
	CHECK(set_int(r, IPPROTO_IPV6, IPV6_RECVTCLASS, 1) == 0);
	uint8_t req[64];
	struct got g;
	size_t n = echo_request(req, 1, 1);
	TRY("raw6: sendto [::1]:58", sendto(r, req, n, 0, &lo.sa, v6addr(&lo, "::1", IPPROTO_ICMPV6)));
	for (int i = 0; i < 2; i++) {
		CHECK(next_mine(r, 1, &g) > 0);
		printf("raw6: got %zd bytes from %s: type %d seq %d sum ok %d\n", g.len, show(&g.from), g.buf[0],
		       g.buf[7], cksum6(&in6addr_loopback, &in6addr_loopback, g.buf, g.len) == 0);
		show_cmsgs("raw6: cmsgs", g.ctl, g.ctllen, g.flags);
	}
	CHECK(set_int(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, 0) == 0);
	CHECK(set_int(r, IPPROTO_IPV6, IPV6_RECVTCLASS, 0) == 0);
	ICMP6_FILTER_SETBLOCK(ICMP6_ECHO_REPLY, &f);
	CHECK(setsockopt(r, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f) == 0);
	CHECK(set_int(r, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9) == 0);
	n = echo_request(req, 1, 2);
	CHECK(sendto(r, req, n, 0, &lo.sa, lolen) == (ssize_t)n);
	CHECK(next_mine(r, 1, &g) > 0);
	printf("raw6: IPV6_UNICAST_HOPS 9: type %d\n", g.buf[0]);
	show_cmsgs("raw6: cmsgs", g.ctl, g.ctllen, g.flags);

	n = echo_request(req, 1, 3);
	struct iovec iov = { req, n };
	union { struct cmsghdr c; uint8_t b[CMSG_SPACE(sizeof(int))]; } ctl;
	memset(&ctl, 0, sizeof ctl);
	ctl.c.cmsg_len = CMSG_LEN(sizeof(int));
	ctl.c.cmsg_level = IPPROTO_IPV6;
	ctl.c.cmsg_type = IPV6_HOPLIMIT;
	int five = 5;
	memcpy(CMSG_DATA(&ctl.c), &five, sizeof five);
	struct msghdr m = { .msg_name = &lo, .msg_namelen = lolen, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = &ctl, .msg_controllen = sizeof ctl };
	TRY("raw6: sendmsg IPV6_HOPLIMIT 5", sendmsg(r, &m, 0));
	CHECK(next_mine(r, 1, &g) > 0);
	show_cmsgs("raw6: cmsgs", g.ctl, g.ctllen, g.flags);

	TRY("raw6: 3 bytes", sendto(r, req, 3, 0, &lo.sa, lolen));
	TRY("raw6: to port 7", sendto(r, req, n, 0, &lo.sa, v6addr(&lo, "::1", 7)));
	TRY("raw6: send unconnected", send(r, req, n, 0));
	close(r);
}

static void nonroot(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (setuid(65534) != 0)
			_exit(2);
		TRY("nonroot: raw4", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
		TRY("nonroot: raw6", socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
		TRY("nonroot: raw4 protocol 0", socket(AF_INET, SOCK_RAW, 0));
		fflush(stdout);
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A datagram socket bound to `ip` on an ephemeral port. */
static int udp_at(int family, const char *ip, addr_t *a, socklen_t *len)
{
	int s = socket(family, SOCK_DGRAM, 0);
	*len = family == AF_INET ? v4addr(a, ip, 0) : v6addr(a, ip, 0);
	CHECK(bind(s, &a->sa, *len) == 0);
	*len = family == AF_INET ? v4addr(a, ip, port_of(s)) : v6addr(a, ip, port_of(s));
	return s;
}

/* One datagram through sendmsg with a control buffer of `clen` bytes. */
static ssize_t send_cmsg(int s, const addr_t *to, socklen_t tolen, const void *c, size_t clen)
{
	struct iovec iov = { "dgram", 5 };
	struct msghdr m = { .msg_name = (void *)to, .msg_namelen = tolen, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = (void *)c, .msg_controllen = clen };
	return sendmsg(s, &m, 0);
}

/* One control message of `len` data bytes (a multiple of 8 in all). */
static size_t cmsg(uint8_t *buf, int level, int type, const void *data, size_t len)
{
	struct cmsghdr *c = (struct cmsghdr *)buf;
	memset(buf, 0, CMSG_SPACE(len));
	c->cmsg_len = CMSG_LEN(len);
	c->cmsg_level = level;
	c->cmsg_type = type;
	memcpy(CMSG_DATA(c), data, len);
	return CMSG_SPACE(len);
}

/* Receives one datagram with `cap` bytes of control buffer (NULL when
 * cap < 0) and shows what came. */
static void recv_show(int s, const char *label, int cap, int flags)
{
	struct pollfd p = { .fd = s, .events = POLLIN };
	if (poll(&p, 1, 2000) != 1) {
		printf("%s: nothing came\n", label);
		return;
	}
	uint8_t ctl[512];
	memset(ctl, 0, sizeof ctl);
	char b[16];
	addr_t from;
	struct iovec iov = { b, sizeof b };
	struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cap < 0 ? NULL : ctl, .msg_controllen = cap < 0 ? 0 : cap };
	ssize_t n = recvmsg(s, &m, flags);
	CHECK(n == 5);
	from.in.sin_port = 0;
	printf("%s: from %s\n", label, show(&from));
	show_cmsgs(label, ctl, m.msg_controllen, m.msg_flags);
}

static void udp4(void)
{
	addr_t sa, ca;
	socklen_t slen, clen;
	int s = udp_at(AF_INET, "127.0.0.1", &sa, &slen);
	int c = udp_at(AF_INET, "127.0.0.1", &ca, &clen);
	printf("udp4: IP_PKTINFO %d IP_RECVTTL %d IP_RECVTOS %d IPV6_RECVPKTINFO %d\n",
	       get_int(s, IPPROTO_IP, IP_PKTINFO), get_int(s, IPPROTO_IP, IP_RECVTTL),
	       get_int(s, IPPROTO_IP, IP_RECVTOS), get_int(s, IPPROTO_IPV6, IPV6_RECVPKTINFO));
	CHECK(set_int(s, IPPROTO_IP, IP_PKTINFO, 1) == 0);
	CHECK(set_int(s, IPPROTO_IP, IP_RECVTTL, 1) == 0);
	CHECK(set_int(s, IPPROTO_IP, IP_RECVTOS, 1) == 0);
	printf("udp4: now IP_PKTINFO %d IP_RECVTTL %d IP_RECVTOS %d\n", get_int(s, IPPROTO_IP, IP_PKTINFO),
	       get_int(s, IPPROTO_IP, IP_RECVTTL), get_int(s, IPPROTO_IP, IP_RECVTOS));

	CHECK(sendto(c, "dgram", 5, 0, &sa.sa, slen) == 5);
	recv_show(s, "udp4: plain", 512, MSG_PEEK);
	recv_show(s, "udp4: plain again", 512, 0);

	uint8_t ctl[64];
	int v = 5;
	size_t n = cmsg(ctl, IPPROTO_IP, IP_TTL, &v, sizeof v);
	TRY("udp4: sendmsg IP_TTL 5", send_cmsg(c, &sa, slen, ctl, n));
	recv_show(s, "udp4: TTL 5", 512, 0);
	v = 0;
	n = cmsg(ctl, IPPROTO_IP, IP_TTL, &v, sizeof v);
	TRY("udp4: sendmsg IP_TTL 0", send_cmsg(c, &sa, slen, ctl, n));
	uint8_t one = 9;
	n = cmsg(ctl, IPPROTO_IP, IP_TTL, &one, 1);
	TRY("udp4: sendmsg one-byte IP_TTL", send_cmsg(c, &sa, slen, ctl, n));
	n = cmsg(ctl, IPPROTO_IP, 200, &v, sizeof v);
	TRY("udp4: sendmsg unknown IP type", send_cmsg(c, &sa, slen, ctl, n));
	n = cmsg(ctl, IPPROTO_IPV6, IPV6_HOPLIMIT, &v, sizeof v);
	TRY("udp4: sendmsg IPV6 level skipped", send_cmsg(c, &sa, slen, ctl, n));
	recv_show(s, "udp4: after skipped", 512, 0);
	n = cmsg(ctl, SOL_SOCKET, SCM_RIGHTS, &s, sizeof s);
	TRY("udp4: sendmsg SCM_RIGHTS, ignored", send_cmsg(c, &sa, slen, ctl, n));
	recv_show(s, "udp4: after SCM_RIGHTS", 512, 0);

	struct in_pktinfo pi = { 0 };
	inet_pton(AF_INET, "127.0.0.5", &pi.ipi_spec_dst);
	n = cmsg(ctl, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
	TRY("udp4: sendmsg IP_PKTINFO from 127.0.0.5", send_cmsg(c, &sa, slen, ctl, n));
	recv_show(s, "udp4: from 127.0.0.5", 512, 0);
	inet_pton(AF_INET, "192.0.2.1", &pi.ipi_spec_dst);
	n = cmsg(ctl, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
	TRY("udp4: sendmsg IP_PKTINFO from 192.0.2.1", send_cmsg(c, &sa, slen, ctl, n));
	memset(&pi, 0, sizeof pi);
	pi.ipi_ifindex = 9999;
	n = cmsg(ctl, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
	TRY("udp4: sendmsg IP_PKTINFO ifindex 9999", send_cmsg(c, &sa, slen, ctl, n));

	CHECK(set_int(c, IPPROTO_IP, IP_TTL, 9) == 0);
	/* Truncation: no buffer, too short for a header, room for some of
	 * the messages and part of the next. */
	int caps[] = { -1, 0, 10, 16, 20, 32, 40, 51, 56, 72, 80 };
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		CHECK(sendto(c, "dgram", 5, 0, &sa.sa, slen) == 5);
		char label[40];
		snprintf(label, sizeof label, "udp4: room %d", caps[i]);
		recv_show(s, label, caps[i], 0);
	}

	CHECK(set_int(s, IPPROTO_IP, IP_PKTINFO, 0) == 0);
	CHECK(set_int(s, IPPROTO_IP, IP_RECVTOS, 0) == 0);
	CHECK(set_int(s, SOL_SOCKET, SO_TIMESTAMP, 1) == 0);
	printf("udp4: SO_TIMESTAMP %d SO_TIMESTAMPNS %d\n", get_int(s, SOL_SOCKET, SO_TIMESTAMP),
	       get_int(s, SOL_SOCKET, SO_TIMESTAMPNS));
	CHECK(sendto(c, "dgram", 5, 0, &sa.sa, slen) == 5);
	recv_show(s, "udp4: SO_TIMESTAMP", 512, 0);
	CHECK(set_int(s, SOL_SOCKET, SO_TIMESTAMPNS, 1) == 0);
	printf("udp4: SO_TIMESTAMP %d SO_TIMESTAMPNS %d\n", get_int(s, SOL_SOCKET, SO_TIMESTAMP),
	       get_int(s, SOL_SOCKET, SO_TIMESTAMPNS));
	CHECK(sendto(c, "dgram", 5, 0, &sa.sa, slen) == 5);
	recv_show(s, "udp4: SO_TIMESTAMPNS", 512, 0);
	CHECK(set_int(s, SOL_SOCKET, SO_TIMESTAMP, 0) == 0);
	printf("udp4: SO_TIMESTAMP off: %d SO_TIMESTAMPNS %d\n", get_int(s, SOL_SOCKET, SO_TIMESTAMP),
	       get_int(s, SOL_SOCKET, SO_TIMESTAMPNS));
	close(c);
	close(s);
}

static void udp6(void)
{
	addr_t sa, ca;
	socklen_t slen, clen;
	int s = udp_at(AF_INET6, "::1", &sa, &slen);
	int c = udp_at(AF_INET6, "::1", &ca, &clen);
	CHECK(set_int(s, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) == 0);
	CHECK(set_int(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1) == 0);
	CHECK(set_int(s, IPPROTO_IPV6, IPV6_RECVTCLASS, 1) == 0);
	printf("udp6: IPV6_RECVPKTINFO %d IPV6_RECVHOPLIMIT %d IPV6_RECVTCLASS %d IPV6_2292HOPLIMIT %d\n",
	       get_int(s, IPPROTO_IPV6, IPV6_RECVPKTINFO), get_int(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT),
	       get_int(s, IPPROTO_IPV6, IPV6_RECVTCLASS), get_int(s, IPPROTO_IPV6, IPV6_2292HOPLIMIT));
	CHECK(sendto(c, "dgram", 5, 0, &sa.sa, slen) == 5);
	recv_show(s, "udp6: plain", 512, 0);

	uint8_t ctl[128];
	int v = 2;
	size_t n = cmsg(ctl, IPPROTO_IPV6, IPV6_HOPLIMIT, &v, sizeof v);
	TRY("udp6: sendmsg IPV6_HOPLIMIT 2", send_cmsg(c, &sa, slen, ctl, n));
	recv_show(s, "udp6: hop limit 2", 512, 0);
	v = -1;
	n = cmsg(ctl, IPPROTO_IPV6, IPV6_HOPLIMIT, &v, sizeof v);
	v = 0;
	n += cmsg(ctl + n, IPPROTO_IPV6, IPV6_TCLASS, &v, sizeof v);
	TRY("udp6: sendmsg IPV6_HOPLIMIT -1, IPV6_TCLASS 0", send_cmsg(c, &sa, slen, ctl, n));
	recv_show(s, "udp6: defaults", 512, 0);
	v = 256;
	n = cmsg(ctl, IPPROTO_IPV6, IPV6_HOPLIMIT, &v, sizeof v);
	TRY("udp6: sendmsg IPV6_HOPLIMIT 256", send_cmsg(c, &sa, slen, ctl, n));
	uint8_t five[8] = { 0 };
	n = cmsg(ctl, IPPROTO_IPV6, IPV6_TCLASS, five, 5);
	TRY("udp6: sendmsg 5-byte IPV6_TCLASS", send_cmsg(c, &sa, slen, ctl, n));
	n = cmsg(ctl, IPPROTO_IP, IP_TTL, &v, sizeof v);
	TRY("udp6: sendmsg IP level skipped", send_cmsg(c, &sa, slen, ctl, n));
	recv_show(s, "udp6: after skipped", 512, 0);

	struct in6_pktinfo pi = { .ipi6_addr = in6addr_loopback };
	n = cmsg(ctl, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
	TRY("udp6: sendmsg IPV6_PKTINFO ::1", send_cmsg(c, &sa, slen, ctl, n));
	recv_show(s, "udp6: pktinfo ::1", 512, 0);
	pi.ipi6_ifindex = 9999;
	n = cmsg(ctl, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
	TRY("udp6: sendmsg IPV6_PKTINFO ifindex 9999", send_cmsg(c, &sa, slen, ctl, n));
	pi.ipi6_ifindex = 0;
	inet_pton(AF_INET6, "2001:db8::1", &pi.ipi6_addr);
	n = cmsg(ctl, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
	TRY("udp6: sendmsg IPV6_PKTINFO from 2001:db8::1", send_cmsg(c, &sa, slen, ctl, n));

	CHECK(set_int(c, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 11) == 0);
	int caps[] = { 0, 1, CMSG_SPACE(sizeof(int)), CMSG_SPACE(20) + 1, CMSG_SPACE(20) + CMSG_LEN(sizeof(int)) - 1,
		       CMSG_SPACE(20) + CMSG_SPACE(sizeof(int)) + 16 };
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		CHECK(sendto(c, "dgram", 5, 0, &sa.sa, slen) == 5);
		char label[40];
		snprintf(label, sizeof label, "udp6: room %d", caps[i]);
		recv_show(s, label, caps[i], 0);
	}

	CHECK(set_int(s, IPPROTO_IPV6, IPV6_RECVPKTINFO, 0) == 0);
	CHECK(set_int(s, IPPROTO_IPV6, IPV6_RECVTCLASS, 0) == 0);
	CHECK(set_int(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 0) == 0);
	CHECK(set_int(s, IPPROTO_IPV6, IPV6_2292HOPLIMIT, 1) == 0);
	CHECK(set_int(s, IPPROTO_IPV6, IPV6_2292PKTINFO, 1) == 0);
	CHECK(sendto(c, "dgram", 5, 0, &sa.sa, slen) == 5);
	recv_show(s, "udp6: RFC 2292", 512, 0);
	close(s);

	/* An IPv4 datagram on a dual-stack socket. */
	s = udp_at(AF_INET6, "::", &sa, &slen);
	CHECK(set_int(s, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) == 0);
	CHECK(set_int(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1) == 0);
	CHECK(set_int(s, IPPROTO_IP, IP_RECVTTL, 1) == 0);
	CHECK(set_int(s, IPPROTO_IP, IP_PKTINFO, 1) == 0);
	int c4 = socket(AF_INET, SOCK_DGRAM, 0);
	addr_t to;
	CHECK(sendto(c4, "dgram", 5, 0, &to.sa, v4addr(&to, "127.0.0.1", port_of(s))) == 5);
	recv_show(s, "udp6: v4 datagram", 512, 0);
	/* A v4-mapped destination takes IP_TTL and a mapped IPV6_PKTINFO,
	 * but not from a socket bound to an IPv6 address. */
	int c6 = socket(AF_INET6, SOCK_DGRAM, 0);
	v = 4;
	n = cmsg(ctl, IPPROTO_IP, IP_TTL, &v, sizeof v);
	struct in6_pktinfo mapped = { 0 };
	inet_pton(AF_INET6, "::ffff:127.0.0.6", &mapped.ipi6_addr);
	n += cmsg(ctl + n, IPPROTO_IPV6, IPV6_PKTINFO, &mapped, sizeof mapped);
	TRY("udp6: sendmsg to mapped from ::1", send_cmsg(c, &to, v6addr(&to, "::ffff:127.0.0.1", port_of(s)), ctl, n));
	TRY("udp6: sendmsg to mapped with IP_TTL 4", send_cmsg(c6, &to, v6addr(&to, "::ffff:127.0.0.1", port_of(s)), ctl, n));
	recv_show(s, "udp6: mapped with TTL 4", 512, 0);
	v = 3;
	n = cmsg(ctl, IPPROTO_IPV6, IPV6_HOPLIMIT, &v, sizeof v);
	TRY("udp6: sendmsg IPV6_HOPLIMIT to mapped, skipped", send_cmsg(c6, &to, sizeof to.in6, ctl, n));
	recv_show(s, "udp6: mapped without TTL", 512, 0);
	close(c6);
	close(c4);
	close(c);
	close(s);
}

/* UDP-Lite: UDP's calls under protocol 136, with a port table of its
 * own, the same control messages, and its coverage options. */
static void udplite(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
	int c = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDPLITE);
	addr_t a;
	socklen_t len = v4addr(&a, "127.0.0.1", 0);
	CHECK(bind(s, &a.sa, len) == 0);
	int port = port_of(s);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	TRY("udplite: UDP binds the same port", bind(u, &a.sa, v4addr(&a, "127.0.0.1", port)));
	printf("udplite: SO_PROTOCOL %d UDPLITE_SEND_CSCOV %d on udp %d, SOL_UDPLITE on udp %d\n",
	       get_int(s, SOL_SOCKET, SO_PROTOCOL), get_int(s, IPPROTO_UDPLITE, 10),
	       get_int(u, IPPROTO_UDPLITE, 10), get_int(u, IPPROTO_UDPLITE, 99));
	TRY("udplite: UDPLITE_SEND_CSCOV 4", set_int(c, IPPROTO_UDPLITE, 10, 4));
	TRY("udplite: UDPLITE_RECV_CSCOV 70000", set_int(s, IPPROTO_UDPLITE, 11, 70000));
	printf("udplite: now %d and %d\n", get_int(c, IPPROTO_UDPLITE, 10), get_int(s, IPPROTO_UDPLITE, 11));
	TRY("udplite: set UDPLITE_SEND_CSCOV on udp", set_int(u, IPPROTO_UDPLITE, 10, 8));
	CHECK(set_int(s, IPPROTO_IP, IP_RECVTTL, 1) == 0);
	/* A v6 socket's IPv4 datagrams take IP_TTL, not IPV6_UNICAST_HOPS. */
	CHECK(set_int(c, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 3) == 0);
	printf("udplite: v6 socket IP_TTL %d\n", get_int(c, IPPROTO_IP, IP_TTL));
	/* Coverage 8 of 13 bytes: less than the receiver asks, then enough. */
	TRY("udplite: sendto mapped", sendto(c, "dgram", 5, 0, &a.sa, v6addr(&a, "::ffff:127.0.0.1", port)));
	recv_show(s, "udplite: covered 8, 65535 wanted", 512, 0);
	TRY("udplite: UDPLITE_RECV_CSCOV 8", set_int(s, IPPROTO_UDPLITE, 11, 8));
	TRY("udplite: sendto mapped", sendto(c, "dgram", 5, 0, &a.sa, v6addr(&a, "::ffff:127.0.0.1", port)));
	recv_show(s, "udplite: covered 8, 8 wanted", 512, 0);
	TRY("udplite: UDPLITE_RECV_CSCOV 0", set_int(s, IPPROTO_UDPLITE, 11, 0));
	TRY("udplite: sendto mapped", sendto(c, "dgram", 5, 0, &a.sa, v6addr(&a, "::ffff:127.0.0.1", port)));
	recv_show(s, "udplite: covered 8, all wanted", 512, 0);
	TRY("udplite: UDPLITE_SEND_CSCOV 0", set_int(c, IPPROTO_UDPLITE, 10, 0));
	TRY("udplite: IP_TTL 6 on the v6 socket", set_int(c, IPPROTO_IP, IP_TTL, 6));
	TRY("udplite: sendto mapped", sendto(c, "dgram", 5, 0, &a.sa, v6addr(&a, "::ffff:127.0.0.1", port)));
	recv_show(s, "udplite: covered all, all wanted", 512, 0);
	TRY("udplite: UDP socket heard", recv(u, &a, sizeof a, MSG_DONTWAIT));
	close(u);
	close(c);
	close(s);
}

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
	ident = (uint16_t)(getpid() ^ time(NULL)) | 0x8000;
	PART("raw4", raw4());
	PART("raw6", raw6());
	PART("nonroot", nonroot());
	PART("udp4", udp4());
	PART("udp6", udp6());
	PART("udplite", udplite());
	if (fails) {
		printf("%d FAILED\n", fails);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
