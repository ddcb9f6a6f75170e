/*
 * NETLINK_ROUTE sockets as Linux serves them: socket kinds and protocols,
 * port ids (bind, autobind, getsockname), dumps read with MSG_PEEK and
 * MSG_TRUNC as glibc and iproute2 read them, one link by index or name,
 * acknowledgements and errors, strict checking with extended acks,
 * options, poll, read(2)/write(2); and hostile messages (short headers,
 * lengths past the buffer, bad attribute lengths), which get an error or
 * nothing, never a crash. Run in a network namespace with only lo up.
 *
 * Sizes of link messages are not printed: Linux adds attributes the
 * sandbox leaves out (sysctl arrays, IPv6 statistics).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); \
	printf("%s: %ld %s\n", label, r_ < 0 ? -1 : r_, r_ < 0 ? strerrorname_np(errno) : "-"); } while (0)
#define ERRNO(label, expr) do { errno = 0; long r_ = (long)(expr); \
	printf("%s: %s\n", label, r_ < 0 ? strerrorname_np(errno) : "ok"); } while (0)

static unsigned seq = 100;
static char buf[65536];

static int route_socket(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	CHECK(fd >= 0);
	return fd;
}

/* A request: header, a family header of `hlen` bytes, then `extra`. */
static int send_req(int fd, int type, int flags, const void *hdr, size_t hlen, const void *extra, size_t elen)
{
	char m[512] = { 0 };
	struct nlmsghdr *h = (void *)m;
	h->nlmsg_len = NLMSG_LENGTH(NLMSG_ALIGN(hlen) + elen);
	h->nlmsg_type = type;
	h->nlmsg_flags = flags;
	h->nlmsg_seq = ++seq;
	memcpy(NLMSG_DATA(h), hdr, hlen);
	if (elen)
		memcpy((char *)NLMSG_DATA(h) + NLMSG_ALIGN(hlen), extra, elen);
	struct sockaddr_nl k = { .nl_family = AF_NETLINK };
	return sendto(fd, m, h->nlmsg_len, 0, (struct sockaddr *)&k, sizeof k);
}

static const char *type_name(int t)
{
	switch (t) {
	case NLMSG_DONE: return "DONE";
	case NLMSG_ERROR: return "ERROR";
	case RTM_NEWLINK: return "NEWLINK";
	case RTM_NEWADDR: return "NEWADDR";
	case RTM_NEWROUTE: return "NEWROUTE";
	default: return "?";
	}
}

/* Reads every datagram waiting and prints its messages: type, flags,
 * whether seq and pid are ours, and the payload of DONE and ERROR. */
static int drain(int fd, unsigned pid, const char *what)
{
	int grams = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0) {
			printf("%s: %d datagrams, then %s\n", what, grams, strerrorname_np(errno));
			return grams;
		}
		grams++;
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			printf("%s: datagram %d: %s flags %#x ours %d", what, grams, type_name(h->nlmsg_type),
			       h->nlmsg_flags, h->nlmsg_seq == seq && h->nlmsg_pid == pid);
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				printf(" error %s len %u", e->error ? strerrorname_np(-e->error) : "0", h->nlmsg_len);
			} else if (h->nlmsg_type == NLMSG_DONE) {
				int st = *(int *)NLMSG_DATA(h);
				printf(" status %s", st ? strerrorname_np(-st) : "0");
				if (h->nlmsg_flags & NLM_F_ACK_TLVS) {
					struct nlattr *a = (void *)((char *)NLMSG_DATA(h) + 4);
					if (a->nla_type == NLMSGERR_ATTR_MSG)
						printf(" \"%s\"", (char *)(a + 1));
				}
			} else if (h->nlmsg_type == RTM_NEWLINK) {
				struct ifinfomsg *i = NLMSG_DATA(h);
				printf(" family %d index %d flags %#x", i->ifi_family, i->ifi_index, i->ifi_flags);
			}
			printf("\n");
		}
	}
}

static unsigned port_of(int fd)
{
	struct sockaddr_nl a;
	socklen_t len = sizeof a;
	CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	CHECK(len == sizeof a && a.nl_family == AF_NETLINK);
	return a.nl_pid;
}

static void kinds_and_ports(void)
{
	TRY("socket SOCK_RAW", socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) >= 0);
	TRY("socket SOCK_DGRAM", socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE) >= 0);
	TRY("socket SOCK_STREAM", socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE));
	TRY("socket protocol 100", socket(AF_NETLINK, SOCK_RAW, 100));
	int sv[2];
	TRY("socketpair", socketpair(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, sv));
	TRY("socketpair SOCK_STREAM", socketpair(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE, sv));

	int a = route_socket(), b = route_socket();
	printf("unbound port: %u\n", port_of(a));
	struct sockaddr_nl me = { .nl_family = AF_NETLINK };
	ERRNO("bind pid 0", bind(a, (struct sockaddr *)&me, sizeof me));
	printf("autobound to getpid(): %d\n", port_of(a) == (unsigned)getpid());
	ERRNO("second socket bind pid 0", bind(b, (struct sockaddr *)&me, sizeof me));
	printf("second socket's port is negative: %d\n", (int)port_of(b) < 0);
	ERRNO("rebind to another port", bind(b, (struct sockaddr *)&me, sizeof me));
	int c = route_socket();
	me.nl_pid = getpid();
	ERRNO("bind a taken port", bind(c, (struct sockaddr *)&me, sizeof me));
	me.nl_pid = 12345;
	me.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR;
	ERRNO("bind a free port with groups", bind(c, (struct sockaddr *)&me, sizeof me));
	struct sockaddr_nl got;
	socklen_t len = sizeof got;
	getsockname(c, (struct sockaddr *)&got, &len);
	printf("getsockname: pid %u groups %#x\n", got.nl_pid, got.nl_groups);
	ERRNO("bind short address", bind(c, (struct sockaddr *)&me, 8));
	struct sockaddr_nl unix_family = { .nl_family = AF_UNIX };
	ERRNO("bind another family", bind(route_socket(), (struct sockaddr *)&unix_family, sizeof unix_family));
	close(a);
	int d = route_socket();
	me.nl_pid = getpid();
	me.nl_groups = 0;
	ERRNO("bind a port its closed owner held", bind(d, (struct sockaddr *)&me, sizeof me));
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int e = route_socket();
	ERRNO("connect to the kernel", connect(e, (struct sockaddr *)&kernel, sizeof kernel));
	printf("connect autobinds: %d\n", port_of(e) != 0);
	len = sizeof got;
	ERRNO("getpeername", getpeername(e, (struct sockaddr *)&got, &len));
	printf("peer pid %u groups %u len %u\n", got.nl_pid, got.nl_groups, len);
	ERRNO("listen", listen(e, 1));
	ERRNO("shutdown", shutdown(e, SHUT_RD));
	close(b);
	close(c);
	close(d);
	close(e);
}

static void options(void)
{
	int fd = route_socket();
	int v, len = sizeof v;
	socklen_t l = sizeof v;
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l);
	printf("SO_TYPE %d", v);
	getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &l);
	printf(" SO_PROTOCOL %d", v);
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l);
	printf(" SO_DOMAIN %d\n", v);
	v = 32768;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
	getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l);
	printf("SO_SNDBUF 32768 -> %d\n", v);
	v = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l);
	printf("SO_RCVBUF 1MiB -> %d\n", v);
	v = 1;
	ERRNO("NETLINK_EXT_ACK", setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, len));
	ERRNO("NETLINK_GET_STRICT_CHK", setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &v, len));
	ERRNO("NETLINK_CAP_ACK", setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &v, len));
	ERRNO("NETLINK_NO_ENOBUFS", setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &v, len));
	v = 0;
	l = sizeof v;
	getsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &v, &l);
	printf("NETLINK_EXT_ACK reads %d\n", v);
	v = RTNLGRP_IPV4_IFADDR;
	ERRNO("NETLINK_ADD_MEMBERSHIP", setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &v, len));
	v = 0;
	ERRNO("NETLINK_ADD_MEMBERSHIP 0", setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &v, len));
	v = 1000;
	ERRNO("NETLINK_ADD_MEMBERSHIP 1000", setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &v, len));
	unsigned groups[4] = { 0 };
	l = sizeof groups;
	ERRNO("NETLINK_LIST_MEMBERSHIPS", getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups, &l));
	printf("memberships %#x %#x\n", groups[0], groups[1]);
	ERRNO("unknown SOL_NETLINK option", setsockopt(fd, SOL_NETLINK, 200, &v, len));
	ERRNO("SOL_IP option", setsockopt(fd, SOL_IP, 1, &v, len));
	close(fd);
}

static void dumps(void)
{
	int fd = route_socket();
	struct sockaddr_nl me = { .nl_family = AF_NETLINK };
	bind(fd, (struct sockaddr *)&me, sizeof me);
	unsigned pid = port_of(fd);

	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	poll(&p, 1, 0);
	printf("poll before a request: %s%s\n", p.revents & POLLIN ? "IN " : "", p.revents & POLLOUT ? "OUT" : "");
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	TRY("send RTM_GETLINK dump", send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK, &ifi, sizeof ifi, NULL, 0) > 0);
	poll(&p, 1, 0);
	printf("poll after: %s%s\n", p.revents & POLLIN ? "IN " : "", p.revents & POLLOUT ? "OUT" : "");
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, got;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	printf("epoll_wait with a reply waiting: %d\n", epoll_wait(ep, &got, 1, 0));

	/* iproute2's way: peek with no buffer for the size, then read it. */
	struct iovec iov = { buf, 0 };
	struct sockaddr_nl from;
	struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t want = recvmsg(fd, &mh, MSG_PEEK | MSG_TRUNC);
	printf("peek: length > 0 %d, MSG_TRUNC %d, from pid %u namelen %u\n", want > 0,
	       !!(mh.msg_flags & MSG_TRUNC), from.nl_pid, mh.msg_namelen);
	iov.iov_len = 16;
	ssize_t n = recvmsg(fd, &mh, MSG_PEEK);
	printf("peek 16: %zd, MSG_TRUNC %d\n", n, !!(mh.msg_flags & MSG_TRUNC));
	n = recv(fd, buf, 16, MSG_TRUNC);
	printf("recv 16 with MSG_TRUNC returns the whole length: %d\n", n == want);
	drain(fd, pid, "link dump after the cut datagram");
	printf("epoll_wait with none: %d\n", epoll_wait(ep, &got, 1, 0));
	close(ep);

	/* SO_PASSCRED: each datagram carries the kernel's credentials. */
	int on = 1;
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
	ifi.ifi_index = 1;
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi, NULL, 0);
	ifi.ifi_index = 0;
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	iov.iov_len = sizeof buf;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	CHECK(recvmsg(fd, &mh, 0) > 0);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int creds = cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS;
	printf("SO_PASSCRED: credentials %d, pid %d\n", creds, creds ? ((struct ucred *)CMSG_DATA(cm))->pid : -1);
	mh.msg_control = NULL;
	mh.msg_controllen = 0;
	on = 0;
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);

	TRY("send RTM_GETLINK dump", send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifi, sizeof ifi, NULL, 0) > 0);
	drain(fd, pid, "link dump");
	ifi.ifi_family = AF_INET6;
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifi, sizeof ifi, NULL, 0);
	drain(fd, pid, "AF_INET6 link dump");
	/* glibc's request: a bare rtgenmsg. */
	struct rtgenmsg g = { .rtgen_family = AF_PACKET };
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &g, sizeof g, NULL, 0);
	drain(fd, pid, "AF_PACKET link dump");
	send_req(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &g, sizeof g, NULL, 0);
	drain(fd, pid, "AF_PACKET address dump");
	struct ifaddrmsg ifa = { .ifa_family = AF_INET };
	send_req(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &ifa, sizeof ifa, NULL, 0);
	drain(fd, pid, "AF_INET address dump");
	ifa.ifa_family = AF_INET6;
	send_req(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &ifa, sizeof ifa, NULL, 0);
	drain(fd, pid, "AF_INET6 address dump");
	struct rtmsg rt = { .rtm_family = AF_UNSPEC };
	send_req(fd, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, &rt, sizeof rt, NULL, 0);
	drain(fd, pid, "route dump");
	rt.rtm_family = AF_INET6;
	send_req(fd, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, &rt, sizeof rt, NULL, 0);
	drain(fd, pid, "AF_INET6 route dump");

	/* One link, by index and by name. */
	ifi.ifi_family = AF_UNSPEC;
	ifi.ifi_index = 1;
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi, NULL, 0);
	drain(fd, pid, "link 1 with an ack");
	ifi.ifi_index = 0;
	char name[8] = { 7, 0, IFLA_IFNAME, 0, 'l', 'o', 0 };
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi, name, 8);
	drain(fd, pid, "link named lo");
	char nosuch[12] = { 12, 0, IFLA_IFNAME, 0, 'n', 'o', 's', 'u', 'c', 'h', '0', 0 };
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi, nosuch, 12);
	drain(fd, pid, "link named nosuch0");
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi, NULL, 0);
	drain(fd, pid, "link with neither index nor name");
	ifi.ifi_index = 99;
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi, NULL, 0);
	drain(fd, pid, "link 99");
	ifi.ifi_index = 0;

	/* Not requests, control messages, unknown types. */
	send_req(fd, RTM_GETLINK, NLM_F_ACK, &ifi, sizeof ifi, NULL, 0);
	drain(fd, pid, "no NLM_F_REQUEST, with an ack");
	send_req(fd, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi, NULL, 0);
	drain(fd, pid, "NLMSG_NOOP with an ack");
	send_req(fd, 0x7fff, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof ifi, NULL, 0);
	drain(fd, pid, "type 0x7fff");

	/* Two requests in one send: two answers. */
	char two[2 * NLMSG_SPACE(sizeof ifi)];
	memset(two, 0, sizeof two);
	for (int i = 0; i < 2; i++) {
		struct nlmsghdr *h = (void *)(two + i * NLMSG_SPACE(sizeof ifi));
		h->nlmsg_len = NLMSG_LENGTH(sizeof ifi);
		h->nlmsg_type = RTM_GETLINK;
		h->nlmsg_flags = NLM_F_REQUEST;
		h->nlmsg_seq = seq;
		((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index = 1;
	}
	TRY("write two requests", write(fd, two, sizeof two));
	TRY("read the first answer", read(fd, buf, sizeof buf) > 0);
	drain(fd, pid, "the second answer");
	close(fd);
}

static void strict(void)
{
	int fd = route_socket();
	int one = 1;
	setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
	unsigned pid = 0;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = 1 };
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifi, sizeof ifi, NULL, 0);
	pid = port_of(fd);
	drain(fd, pid, "strict link dump with flags set");
	ifi.ifi_flags = 0;
	ifi.ifi_index = 1;
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, &ifi, sizeof ifi, NULL, 0);
	drain(fd, pid, "strict link dump by index");
	struct rtmsg rt = { .rtm_family = AF_INET };
	char table[8] = { 8, 0, RTA_TABLE, 0, 100, 0, 0, 0 };
	send_req(fd, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, &rt, sizeof rt, table, 8);
	drain(fd, pid, "strict route dump of table 100");
	table[4] = RT_TABLE_MAIN;
	send_req(fd, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, &rt, sizeof rt, table, 8);
	drain(fd, pid, "strict route dump of the main table");
	table[4] = RT_TABLE_LOCAL;
	send_req(fd, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, &rt, sizeof rt, table, 8);
	drain(fd, pid, "strict route dump of the local table");
	struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_prefixlen = 8 };
	send_req(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &ifa, sizeof ifa, NULL, 0);
	drain(fd, pid, "strict address dump with a prefix length");
	close(fd);
}

static void hostile(void)
{
	int fd = route_socket();
	struct sockaddr_nl me = { .nl_family = AF_NETLINK };
	bind(fd, (struct sockaddr *)&me, sizeof me);
	unsigned pid = port_of(fd);
	char m[64];
	memset(m, 0, sizeof m);
	TRY("send 0 bytes", send(fd, m, 0, 0));
	TRY("send a 10-byte header", send(fd, m, 10, 0));
	drain(fd, pid, "after the short header");
	struct nlmsghdr *h = (void *)m;
	h->nlmsg_type = RTM_GETLINK;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK;
	h->nlmsg_len = 1000;
	TRY("send nlmsg_len past the buffer", send(fd, m, 32, 0));
	drain(fd, pid, "after the overlong length");
	h->nlmsg_len = 8;
	TRY("send nlmsg_len under a header", send(fd, m, 32, 0));
	drain(fd, pid, "after the short length");
	h->nlmsg_len = 16;
	TRY("send a request with no family byte", send(fd, m, 16, 0));
	drain(fd, pid, "after no family");

	/* A bad attribute length: Linux stops parsing, the index still
	 * names lo; without one the request is EINVAL. */
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = 1 };
	char bad[8] = { 200, 0, IFLA_IFNAME, 0, 'l', 'o', 0, 0 };
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi, bad, 8);
	drain(fd, pid, "bad attribute length, index 1");
	ifi.ifi_index = 0;
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi, bad, 8);
	drain(fd, pid, "bad attribute length, no index");
	char tiny[4] = { 2, 0, IFLA_IFNAME, 0 };
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi, tiny, 4);
	drain(fd, pid, "attribute shorter than its header");
	char long_name[24] = { 24, 0, IFLA_IFNAME, 0 };
	memset(long_name + 4, 'x', 19);
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi, long_name, 24);
	drain(fd, pid, "name longer than IFNAMSIZ");
	/* A dump whose attributes are junk is still a dump. */
	send_req(fd, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &ifi, sizeof ifi, bad, 8);
	drain(fd, pid, "address dump with junk attributes");
	/* Junk everywhere: whatever comes back, the socket still works. */
	srand(7);
	for (int i = 0; i < 2000; i++) {
		for (size_t j = 0; j < sizeof m; j++)
			m[j] = rand();
		h->nlmsg_len = rand() % 80;
		h->nlmsg_type = rand() % 130;
		h->nlmsg_flags |= NLM_F_REQUEST;
		send(fd, m, 1 + rand() % (sizeof m - 1), 0);
		while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
			;
	}
	ifi.ifi_index = 1;
	send_req(fd, RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi, NULL, 0);
	drain(fd, pid, "link 1 after the junk");
	close(fd);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	kinds_and_ports();
	options();
	dumps();
	strict();
	hostile();
	if (fails)
		return 1;
	printf("PASS\n");
	return 0;
}
