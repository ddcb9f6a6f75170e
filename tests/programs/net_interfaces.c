/*
 * The interfaces as a program sees them: getifaddrs(3) (netlink underneath),
 * if_nameindex(3), and the SIOCGIF* ioctls on a socket of any family, with
 * the errnos of unknown names. Run in a network namespace with only lo up.
 *
 * argv[1] "--no-inet": skip the address ioctls, which need an AF_INET
 * socket (Linux answers them only there); "--probe-inet": say whether
 * AF_INET sockets exist here, and stop.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %s)\n", __LINE__, #c, strerrorname_np(errno)); fails++; } } while (0)

static const char *addr_str(const struct sockaddr *sa)
{
	static char buf[INET6_ADDRSTRLEN + 64];
	if (!sa)
		return "none";
	switch (sa->sa_family) {
	case AF_INET:
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, sizeof buf);
		break;
	case AF_INET6: {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		snprintf(buf, sizeof buf, "%s%%%u", a, s6->sin6_scope_id);
		break;
	}
	case AF_PACKET: {
		const struct sockaddr_ll *ll = (const void *)sa;
		int n = snprintf(buf, sizeof buf, "ifindex %d hatype %d halen %d addr", ll->sll_ifindex,
				 ll->sll_hatype, ll->sll_halen);
		for (int i = 0; i < ll->sll_halen && i < 8; i++)
			n += snprintf(buf + n, sizeof buf - n, "%s%02x", i ? ":" : " ", ll->sll_addr[i]);
		break;
	}
	default:
		snprintf(buf, sizeof buf, "family %d", sa->sa_family);
	}
	return buf;
}

static void show_getifaddrs(void)
{
	struct ifaddrs *all;
	CHECK(getifaddrs(&all) == 0);
	for (struct ifaddrs *i = all; i; i = i->ifa_next) {
		int fam = i->ifa_addr ? i->ifa_addr->sa_family : -1;
		printf("getifaddrs: %s family %d flags %#x addr %s", i->ifa_name, fam, i->ifa_flags,
		       addr_str(i->ifa_addr));
		printf(" netmask %s", addr_str(i->ifa_netmask));
		if (i->ifa_flags & IFF_BROADCAST)
			printf(" broadcast %s", addr_str(i->ifa_broadaddr));
		if (fam == AF_PACKET && i->ifa_data) {
			const struct rtnl_link_stats *s = i->ifa_data;
			printf(" stats rx %u/%u tx %u/%u", s->rx_packets, s->rx_bytes, s->tx_packets,
			       s->tx_bytes);
		}
		printf("\n");
	}
	freeifaddrs(all);
}

static void req(struct ifreq *r, const char *name)
{
	memset(r, 0, sizeof *r);
	snprintf(r->ifr_name, sizeof r->ifr_name, "%s", name);
}

#define IOCTL(fd, cmd, r) (errno = 0, ioctl(fd, cmd, r) < 0 ? strerrorname_np(errno) : "ok")

/* The ioctls every family answers (net/core/dev_ioctl.c). */
static void device_ioctls(int fd, const char *name)
{
	struct ifreq r;
	req(&r, name);
	const char *e = IOCTL(fd, SIOCGIFFLAGS, &r);
	printf("%s SIOCGIFFLAGS %s %#x\n", name, e, (unsigned short)r.ifr_flags);
	req(&r, name);
	e = IOCTL(fd, SIOCGIFINDEX, &r);
	printf("%s SIOCGIFINDEX %s %d\n", name, e, r.ifr_ifindex);
	int index = r.ifr_ifindex;
	req(&r, name);
	e = IOCTL(fd, SIOCGIFMTU, &r);
	printf("%s SIOCGIFMTU %s %d\n", name, e, r.ifr_mtu);
	req(&r, name);
	e = IOCTL(fd, SIOCGIFTXQLEN, &r);
	printf("%s SIOCGIFTXQLEN %s %d\n", name, e, r.ifr_qlen);
	req(&r, name);
	e = IOCTL(fd, SIOCGIFMETRIC, &r);
	printf("%s SIOCGIFMETRIC %s %d\n", name, e, r.ifr_metric);
	req(&r, name);
	e = IOCTL(fd, SIOCGIFHWADDR, &r);
	unsigned char *m = (unsigned char *)r.ifr_hwaddr.sa_data;
	printf("%s SIOCGIFHWADDR %s family %d %02x:%02x:%02x:%02x:%02x:%02x\n", name, e,
	       r.ifr_hwaddr.sa_family, m[0], m[1], m[2], m[3], m[4], m[5]);
	memset(&r, 0, sizeof r);
	r.ifr_ifindex = index;
	e = IOCTL(fd, SIOCGIFNAME, &r);
	printf("index %d SIOCGIFNAME %s %s\n", index, e, r.ifr_name);
}

/* The IPv4 address requests only AF_INET sockets answer (devinet_ioctl). */
static void address_ioctls(int fd, const char *name)
{
	static const struct { unsigned long cmd; const char *what; } reqs[] = {
		{ SIOCGIFADDR, "SIOCGIFADDR" },
		{ SIOCGIFNETMASK, "SIOCGIFNETMASK" },
		{ SIOCGIFBRDADDR, "SIOCGIFBRDADDR" },
		{ SIOCGIFDSTADDR, "SIOCGIFDSTADDR" },
	};
	for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
		struct ifreq r;
		req(&r, name);
		const char *e = IOCTL(fd, reqs[i].cmd, &r);
		printf("%s %s %s %s\n", name, reqs[i].what, e, addr_str(&r.ifr_addr));
	}
}

static void ifconf(int fd)
{
	struct ifconf c = { 0 };
	CHECK(ioctl(fd, SIOCGIFCONF, &c) == 0);
	printf("SIOCGIFCONF without a buffer: %d bytes (%zu per ifreq)\n", c.ifc_len, sizeof(struct ifreq));
	struct ifreq rs[8];
	c.ifc_len = sizeof rs;
	c.ifc_req = rs;
	CHECK(ioctl(fd, SIOCGIFCONF, &c) == 0);
	for (int i = 0; i < c.ifc_len / (int)sizeof(struct ifreq); i++)
		printf("SIOCGIFCONF: %s %s\n", rs[i].ifr_name, addr_str(&rs[i].ifr_addr));
	c.ifc_len = sizeof(struct ifreq) - 1;
	CHECK(ioctl(fd, SIOCGIFCONF, &c) == 0);
	printf("SIOCGIFCONF with room for none: %d bytes\n", c.ifc_len);
}

int main(int argc, char **argv)
{
	int inet = socket(AF_INET, SOCK_DGRAM, 0);
	if (argc > 1 && !strcmp(argv[1], "--probe-inet")) {
		printf("%s\n", inet >= 0 ? "inet" : "no-inet");
		return 0;
	}
	int no_inet = argc > 1 && !strcmp(argv[1], "--no-inet");

	show_getifaddrs();

	struct if_nameindex *ni = if_nameindex();
	CHECK(ni != NULL);
	for (struct if_nameindex *p = ni; p && p->if_index; p++)
		printf("if_nameindex: %u %s\n", p->if_index, p->if_name);
	printf("if_nametoindex(lo) %u, (nosuch0) %u\n", if_nametoindex("lo"), if_nametoindex("nosuch0"));

	/* Every socket family answers the device requests. */
	int families[] = { AF_UNIX, AF_NETLINK };
	for (size_t f = 0; f < 2; f++) {
		int fd = socket(families[f], SOCK_DGRAM, 0);
		CHECK(fd >= 0);
		printf("-- family %d\n", families[f]);
		for (struct if_nameindex *p = ni; p && p->if_index; p++)
			device_ioctls(fd, p->if_name);
		device_ioctls(fd, "lo:1");
		device_ioctls(fd, "nosuch0");
		struct ifreq r;
		memset(&r, 0, sizeof r);
		r.ifr_ifindex = 999;
		printf("index 999 SIOCGIFNAME %s\n", IOCTL(fd, SIOCGIFNAME, &r));
		req(&r, "lo");
		printf("lo SIOCGIFADDR on family %d: %s\n", families[f], IOCTL(fd, SIOCGIFADDR, &r));
		ifconf(fd);
		close(fd);
	}

	if (!no_inet) {
		CHECK(inet >= 0);
		printf("-- family %d\n", AF_INET);
		for (struct if_nameindex *p = ni; p && p->if_index; p++)
			address_ioctls(inet, p->if_name);
		address_ioctls(inet, "nosuch0");
		ifconf(inet);
	}
	if_freenameindex(ni);
	if (fails)
		return 1;
	printf("PASS\n");
	return 0;
}
