/*
 * Path MTU options on TCP and UDP sockets over v4 and v6 loopback:
 * IP_MTU_DISCOVER and IPV6_MTU_DISCOVER (defaults, every IP_PMTUDISC_*
 * value, out-of-range values, short lengths), IP_MTU and IPV6_MTU (ENOTCONN
 * unconnected, the route's MTU once connected; IPV6_MTU's own setting).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)

static void get(const char *label, int fd, int level, int name)
{
	int v = -7;
	socklen_t l = sizeof v;
	errno = 0;
	int r = getsockopt(fd, level, name, &v, &l);
	if (r < 0)
		printf("%s: -1 %s\n", label, strerrorname_np(errno));
	else
		printf("%s: %d (len %u)\n", label, v, l);
}

static void set(const char *label, int fd, int level, int name, int v, socklen_t len)
{
	errno = 0;
	int r = setsockopt(fd, level, name, &v, len);
	printf("%s=%d/%u: %d %s\n", label, v, len, r, r < 0 ? strerrorname_np(errno) : "-");
}

static socklen_t loopback(int v6, struct sockaddr_storage *a)
{
	memset(a, 0, sizeof *a);
	if (v6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)a;
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_loopback;
		return sizeof *a6;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)a;
	a4->sin_family = AF_INET;
	a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof *a4;
}

static void discover(int fd, int v6)
{
	int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
	int name = v6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER;
	const char *n = v6 ? "IPV6_MTU_DISCOVER" : "IP_MTU_DISCOVER";
	get(n, fd, level, name);
	for (int v = -1; v <= 6; v++) {
		set(n, fd, level, name, v, sizeof(int));
		get(n, fd, level, name);
	}
	set(n, fd, level, name, IP_PMTUDISC_DO, 1);
	get(n, fd, level, name);
	set(n, fd, level, name, IP_PMTUDISC_WANT, sizeof(int));
}

static void run(int v6, int type)
{
	int fam = v6 ? AF_INET6 : AF_INET;
	printf("== %s %s\n", v6 ? "ipv6" : "ipv4", type == SOCK_STREAM ? "tcp" : "udp");
	int s = socket(fam, type, 0);
	CHECK(s >= 0);
	discover(s, 0);
	if (v6)
		discover(s, 1);
	get("IP_MTU unconnected", s, IPPROTO_IP, IP_MTU);
	set("IP_MTU", s, IPPROTO_IP, IP_MTU, 1400, sizeof(int));
	if (v6) {
		get("IPV6_MTU unconnected", s, IPPROTO_IPV6, IPV6_MTU);
		set("IPV6_MTU", s, IPPROTO_IPV6, IPV6_MTU, 1279, sizeof(int));
		set("IPV6_MTU", s, IPPROTO_IPV6, IPV6_MTU, -1, sizeof(int));
		set("IPV6_MTU", s, IPPROTO_IPV6, IPV6_MTU, 1280, sizeof(int));
		get("IPV6_MTU after set", s, IPPROTO_IPV6, IPV6_MTU);
		set("IPV6_MTU", s, IPPROTO_IPV6, IPV6_MTU, 0, sizeof(int));
	}

	struct sockaddr_storage a;
	socklen_t len = loopback(v6, &a);
	int l = -1, c = -1;
	if (type == SOCK_STREAM) {
		l = socket(fam, type, 0);
		CHECK(bind(l, (struct sockaddr *)&a, len) == 0);
		CHECK(listen(l, 1) == 0);
		CHECK(getsockname(l, (struct sockaddr *)&a, &len) == 0);
		CHECK(connect(s, (struct sockaddr *)&a, len) == 0);
		c = accept(l, NULL, NULL);
		CHECK(c >= 0);
		get("IP_MTU accepted", c, IPPROTO_IP, IP_MTU);
		get("IP_MTU_DISCOVER accepted", c, IPPROTO_IP, IP_MTU_DISCOVER);
	} else {
		((struct sockaddr_in *)&a)->sin_port = htons(9);
		CHECK(connect(s, (struct sockaddr *)&a, len) == 0);
	}
	get("IP_MTU connected", s, IPPROTO_IP, IP_MTU);
	if (v6)
		get("IPV6_MTU connected", s, IPPROTO_IPV6, IPV6_MTU);
	if (type == SOCK_DGRAM) {
		struct sockaddr un = { .sa_family = AF_UNSPEC };
		CHECK(connect(s, &un, sizeof un) == 0);
		get("IP_MTU disconnected", s, IPPROTO_IP, IP_MTU);
	}
	close(s);
	if (c >= 0)
		close(c);
	if (l >= 0)
		close(l);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int v6 = 0; v6 <= 1; v6++) {
		run(v6, SOCK_STREAM);
		run(v6, SOCK_DGRAM);
	}
	if (fails)
		printf("FAILED %d\n", fails);
	else
		printf("PASS\n");
	return fails != 0;
}
