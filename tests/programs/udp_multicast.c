/* Multicast as Linux does it: the IP_MULTICAST_* and IPV6_MULTICAST_*
 * options, joining and leaving groups (ip_mreq, ip_mreqn,
 * IPV6_JOIN_GROUP) with their errors, and delivery to every socket
 * bound to the port (SO_REUSEADDR) once the group is joined on the
 * interface: datagrams the host sends itself (IP_MULTICAST_LOOP) and
 * datagrams from the other end of eth0.
 *
 * Run in a network namespace whose eth0 is 10.213.0.2/24 (default route
 * via 10.213.0.1), where a peer at 10.213.0.1 has joined 239.1.2.3 and
 * keeps sending "from-peer" to 239.1.2.3:PORT until the run ends.
 *
 * usage: udp_multicast PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GROUP "239.1.2.3"

static const char *ename(int e) {
    switch (e) {
    case EINVAL: return "EINVAL";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENODEV: return "ENODEV";
    case EAGAIN: return "EAGAIN";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case ENETUNREACH: return "ENETUNREACH";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno %d", e);
        return buf;
    }
    }
}

static void show(const char *what, int r) {
    printf("%s: %s\n", what, r ? ename(errno) : "OK");
}

static int geti(int s, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(s, level, name, &v, &len))
        return -errno;
    return v;
}

static int seti(int s, int level, int name, int v) {
    return setsockopt(s, level, name, &v, sizeof v);
}

static int member(int port) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    seti(s, SOL_SOCKET, SO_REUSEADDR, 1);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (bind(s, (struct sockaddr *)&a, sizeof a))
        printf("bind: %s\n", ename(errno));
    return s;
}

static struct ip_mreq mreq(const char *group, const char *iface) {
    struct ip_mreq m;
    inet_pton(AF_INET, group, &m.imr_multiaddr);
    inet_pton(AF_INET, iface, &m.imr_interface);
    return m;
}

/* The next datagram with text `want` on s (others are skipped), waiting
 * up to 10 s; or what else happened. */
static void expect(const char *who, int s, const char *want) {
    char b[64];
    for (;;) {
        struct pollfd p = {.fd = s, .events = POLLIN};
        if (poll(&p, 1, 10000) != 1) {
            printf("%s: nothing\n", who);
            return;
        }
        ssize_t n = recv(s, b, sizeof b - 1, 0);
        if (n < 0) {
            printf("%s: %s\n", who, ename(errno));
            return;
        }
        b[n] = 0;
        if (!strcmp(b, want)) {
            printf("%s got %s\n", who, b);
            return;
        }
    }
}

/* Reads what is queued now, skipping the peer's stream. */
static void queued(const char *who, int s) {
    char b[64];
    for (;;) {
        ssize_t n = recv(s, b, sizeof b - 1, MSG_DONTWAIT);
        if (n < 0) {
            printf("%s queued: nothing more\n", who);
            return;
        }
        b[n] = 0;
        if (strcmp(b, "from-peer"))
            printf("%s queued: %s\n", who, b);
    }
}

static void options(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    printf("IP_MULTICAST_TTL %d LOOP %d ALL %d\n", geti(s, IPPROTO_IP, IP_MULTICAST_TTL),
           geti(s, IPPROTO_IP, IP_MULTICAST_LOOP), geti(s, IPPROTO_IP, IP_MULTICAST_ALL));
    show("IP_MULTICAST_TTL 256", seti(s, IPPROTO_IP, IP_MULTICAST_TTL, 256));
    show("IP_MULTICAST_TTL 7", seti(s, IPPROTO_IP, IP_MULTICAST_TTL, 7));
    printf("IP_MULTICAST_TTL now %d\n", geti(s, IPPROTO_IP, IP_MULTICAST_TTL));
    show("IP_MULTICAST_TTL -1", seti(s, IPPROTO_IP, IP_MULTICAST_TTL, -1));
    printf("IP_MULTICAST_TTL now %d\n", geti(s, IPPROTO_IP, IP_MULTICAST_TTL));
    show("IP_MULTICAST_LOOP 0", seti(s, IPPROTO_IP, IP_MULTICAST_LOOP, 0));
    printf("IP_MULTICAST_LOOP now %d\n", geti(s, IPPROTO_IP, IP_MULTICAST_LOOP));
    struct in_addr ifa;
    socklen_t len = sizeof ifa;
    getsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &ifa, &len);
    printf("IP_MULTICAST_IF %s (%u bytes)\n", inet_ntoa(ifa), len);
    inet_pton(AF_INET, "10.213.0.2", &ifa);
    show("IP_MULTICAST_IF 10.213.0.2", setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa));
    len = sizeof ifa;
    getsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &ifa, &len);
    printf("IP_MULTICAST_IF now %s\n", inet_ntoa(ifa));
    inet_pton(AF_INET, "10.9.9.9", &ifa);
    show("IP_MULTICAST_IF 10.9.9.9", setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa));
    struct ip_mreqn mn = {.imr_ifindex = (int)if_nametoindex("eth0")};
    show("IP_MULTICAST_IF ip_mreqn eth0", setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &mn, sizeof mn));
    len = sizeof ifa;
    getsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &ifa, &len);
    printf("IP_MULTICAST_IF now %s\n", inet_ntoa(ifa));

    struct ip_mreq m = mreq("10.0.0.1", "0.0.0.0");
    show("join a unicast address", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
    m = mreq(GROUP, "10.9.9.9");
    show("join on a foreign address", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
    struct ip_mreqn n = {.imr_ifindex = 999};
    inet_pton(AF_INET, GROUP, &n.imr_multiaddr);
    show("join on ifindex 999", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &n, sizeof n));
    m = mreq(GROUP, "0.0.0.0");
    show("drop before joining", setsockopt(s, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
    show("join", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
    show("join again", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
    n.imr_ifindex = (int)if_nametoindex("eth0");
    show("join again by ifindex", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &n, sizeof n));
    show("join short", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, 4));
    show("drop", setsockopt(s, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
    show("drop again", setsockopt(s, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
    close(s);

    int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    printf("IPV6_MULTICAST_HOPS %d LOOP %d IF %d\n", geti(s6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS),
           geti(s6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP), geti(s6, IPPROTO_IPV6, IPV6_MULTICAST_IF));
    show("IPV6_MULTICAST_HOPS -2", seti(s6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, -2));
    show("IPV6_MULTICAST_HOPS 5", seti(s6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 5));
    show("IPV6_MULTICAST_LOOP 2", seti(s6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 2));
    show("IPV6_MULTICAST_LOOP 0", seti(s6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0));
    show("IPV6_MULTICAST_IF 999", seti(s6, IPPROTO_IPV6, IPV6_MULTICAST_IF, 999));
    show("IPV6_MULTICAST_IF eth0", seti(s6, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)if_nametoindex("eth0")));
    printf("IPV6_MULTICAST_HOPS %d LOOP %d IF is eth0 %d\n", geti(s6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS),
           geti(s6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP),
           geti(s6, IPPROTO_IPV6, IPV6_MULTICAST_IF) == (int)if_nametoindex("eth0"));
    struct ipv6_mreq m6 = {.ipv6mr_interface = if_nametoindex("eth0")};
    inet_pton(AF_INET6, "2001:db8::1", &m6.ipv6mr_multiaddr);
    show("IPV6_JOIN_GROUP a unicast address", setsockopt(s6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof m6));
    inet_pton(AF_INET6, "ff02::1:3", &m6.ipv6mr_multiaddr);
    show("IPV6_LEAVE_GROUP before joining", setsockopt(s6, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &m6, sizeof m6));
    show("IPV6_JOIN_GROUP", setsockopt(s6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof m6));
    show("IPV6_JOIN_GROUP again", setsockopt(s6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof m6));
    m6.ipv6mr_interface = 999;
    show("IPV6_JOIN_GROUP on ifindex 999", setsockopt(s6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof m6));
    m6.ipv6mr_interface = if_nametoindex("eth0");
    show("IPV6_LEAVE_GROUP", setsockopt(s6, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &m6, sizeof m6));
    close(s6);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int port = atoi(argv[1]);
    options();

    /* A and B join; C only shares the port (IP_MULTICAST_ALL is on). */
    int a = member(port), b = member(port), c = member(port);
    struct ip_mreq m = mreq(GROUP, "0.0.0.0");
    show("A joins", setsockopt(a, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
    show("B joins", setsockopt(b, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
    expect("A", a, "from-peer");
    expect("B", b, "from-peer");
    expect("C", c, "from-peer");

    /* The host's own datagram loops back to every socket on the port. */
    int d = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in g = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, GROUP, &g.sin_addr);
    ssize_t r = sendto(d, "one", 3, 0, (struct sockaddr *)&g, sizeof g);
    printf("send one: %s\n", r == 3 ? "OK" : ename(errno));
    expect("A", a, "one");
    expect("B", b, "one");
    expect("C", c, "one");
    /* Without IP_MULTICAST_LOOP it does not: "three" comes first. */
    seti(d, IPPROTO_IP, IP_MULTICAST_LOOP, 0);
    sendto(d, "two", 3, 0, (struct sockaddr *)&g, sizeof g);
    seti(d, IPPROTO_IP, IP_MULTICAST_LOOP, 1);
    sendto(d, "three", 5, 0, (struct sockaddr *)&g, sizeof g);
    expect("A", a, "three");
    queued("A", a);
    /* A socket bound to another port hears nothing of it. */
    int other = member(port + 1);
    setsockopt(other, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
    sendto(d, "four", 4, 0, (struct sockaddr *)&g, sizeof g);
    expect("B", b, "four");
    queued("other port", other);

    /* A connected socket hears only its peer. */
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(9)};
    inet_pton(AF_INET, "10.213.0.1", &peer.sin_addr);
    connect(c, (struct sockaddr *)&peer, sizeof peer);
    sendto(d, "five", 4, 0, (struct sockaddr *)&g, sizeof g);
    expect("B", b, "five");
    queued("C connected elsewhere", c);

    /* Leaving: A still hears what B's membership lets in. */
    show("A leaves", setsockopt(a, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
    sendto(d, "six", 3, 0, (struct sockaddr *)&g, sizeof g);
    expect("A", a, "six");
    /* A socket's memberships go with it. */
    close(b);
    show("A joins again", setsockopt(a, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
    return 0;
}
