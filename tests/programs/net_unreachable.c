/* What a socket hears when the network does not answer, as Linux
 * reports it: a neighbour nobody answers ARP for (EHOSTUNREACH after
 * ~3 s), SYNs dropped without a word (ETIMEDOUT after TCP_SYNCNT or
 * net.ipv4.tcp_syn_retries retries), a router's ICMP errors (refused,
 * host unreachable, administratively prohibited), and an established
 * connection whose peer vanishes (ETIMEDOUT after TCP_USER_TIMEOUT).
 *
 * Run in a network namespace whose eth0 is 10.213.0.2/24 with a default
 * route via 10.213.0.1, a Linux router there that blackholes
 * 10.214.0.0/24, prohibits 10.215.0.0/24, has no route
 * ("unreachable") for 10.217.0.0/24, and listens on 10.216.0.1:PORT;
 * once it has read 64 KiB of a connection it blackholes 10.216.0.1.
 *
 * usage: net_unreachable PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case 0: return "OK";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case EAGAIN: return "EAGAIN";
    case EPIPE: return "EPIPE";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case ENOTCONN: return "ENOTCONN";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno %d", e);
        return buf;
    }
    }
}

static struct sockaddr_in addr(const char *ip, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static int tcp_connect(const char *what, const char *ip, int port, int syncnt) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (syncnt > 0 && setsockopt(s, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof syncnt))
        printf("%s: TCP_SYNCNT %s\n", what, ename(errno));
    struct sockaddr_in a = addr(ip, port);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    printf("%s: connect %s\n", what, r ? ename(errno) : "OK");
    if (r) {
        /* A connect that failed is disconnected: not readable. (SO_ERROR
         * is left out: whether Linux also keeps the error as a soft one
         * depends on whether an ICMP error beat connect's release of the
         * socket lock.) */
        struct pollfd p = {.fd = s, .events = POLLIN | POLLOUT};
        poll(&p, 1, 0);
        printf("%s: poll %s%s%s\n", what, p.revents & POLLIN ? "IN " : "",
               p.revents & POLLOUT ? "OUT " : "", p.revents & POLLHUP ? "HUP" : "");
    }
    return s;
}

static int udp_connected(const char *ip, int recverr) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (recverr)
        setsockopt(s, IPPROTO_IP, IP_RECVERR, &recverr, sizeof recverr);
    struct sockaddr_in a = addr(ip, 9);
    connect(s, (struct sockaddr *)&a, sizeof a);
    return s;
}

/* Sends one datagram, waits (10 s at most) for an error or a reply,
 * then reports what recv says. */
static void udp_probe(const char *what, int s, int wait) {
    int r = send(s, "x", 1, 0);
    printf("%s: send %s\n", what, r == 1 ? "OK" : ename(errno));
    if (wait) {
        struct pollfd p = {.fd = s, .events = POLLIN};
        poll(&p, 1, 10000);
    }
    char b[8];
    r = recv(s, b, sizeof b, MSG_DONTWAIT);
    printf("%s: recv %s\n", what, r >= 0 ? "data" : ename(errno));
}

static void sysctl_write(const char *v) {
    int fd = open("/proc/sys/net/ipv4/tcp_syn_retries", O_WRONLY);
    ssize_t r = write(fd, v, strlen(v));
    printf("tcp_syn_retries <- %.*s: %s\n", (int)strcspn(v, "\n"), v,
           r >= 0 ? "OK" : ename(errno));
    close(fd);
}

static void sysctl_read(void) {
    char b[16] = {0};
    int fd = open("/proc/sys/net/ipv4/tcp_syn_retries", O_RDONLY);
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    printf("tcp_syn_retries = %s", n > 0 ? b : "?\n");
}

static void syncnt_of_new_socket(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0), v = -1;
    socklen_t len = sizeof v;
    getsockopt(s, IPPROTO_TCP, TCP_SYNCNT, &v, &len);
    printf("TCP_SYNCNT of a new socket: %d\n", v);
    int bad = 0;
    printf("TCP_SYNCNT 0: %s\n",
           setsockopt(s, IPPROTO_TCP, TCP_SYNCNT, &bad, sizeof bad) ? ename(errno) : "OK");
    bad = 128;
    printf("TCP_SYNCNT 128: %s\n",
           setsockopt(s, IPPROTO_TCP, TCP_SYNCNT, &bad, sizeof bad) ? ename(errno) : "OK");
    int ut = -1;
    printf("TCP_USER_TIMEOUT -1: %s\n",
           setsockopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut) ? ename(errno) : "OK");
    ut = 1500;
    setsockopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut);
    ut = -1;
    getsockopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, &len);
    printf("TCP_USER_TIMEOUT reads %d\n", ut);
    close(s);
}

/* Sends until the connection gives up: the peer stops answering once it
 * has read 64 KiB. */
static void vanishing_peer(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = addr("10.216.0.1", port);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    printf("vanishing peer: connect %s\n", r ? ename(errno) : "OK");
    if (r)
        return;
    int ut = 2000;
    setsockopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof ut);
    static char chunk[16384];
    memset(chunk, 'v', sizeof chunk);
    long total = 0;
    for (;;) {
        ssize_t n = send(s, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (n < 0) {
            printf("vanishing peer: send %s (after %s64 KiB)\n", ename(errno),
                   total >= 65536 ? "more than " : "less than ");
            break;
        }
        total += n;
    }
    char b[8];
    ssize_t n = recv(s, b, sizeof b, 0);
    printf("vanishing peer: recv then %s\n", n == 0 ? "0" : n > 0 ? "data" : ename(errno));
    n = send(s, "x", 1, MSG_NOSIGNAL);
    printf("vanishing peer: send then %s\n", n >= 0 ? "OK" : ename(errno));
    int err = -1;
    socklen_t len = sizeof err;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
    printf("vanishing peer: SO_ERROR %s\n", ename(err));
    close(s);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int port = atoi(argv[1]);

    /* The router itself: a closed port refuses (RST). */
    close(tcp_connect("closed port", "10.213.0.1", 1, 0));

    /* The router's ICMP errors (a few: Linux's router rate-limits them,
     * five in a burst): a connected UDP socket hears the hard one
     * (prohibited), a soft one (host unreachable) only under IP_RECVERR;
     * a SYN to a prohibited or unroutable network fails. */
    int u = udp_connected("10.215.0.1", 0);
    udp_probe("udp prohibited", u, 1);
    close(u);
    u = udp_connected("10.217.0.1", 1);
    udp_probe("udp no route, IP_RECVERR", u, 1);
    close(u);
    close(tcp_connect("prohibited", "10.215.0.1", 80, 0));
    close(tcp_connect("no route", "10.217.0.1", 80, 0));

    /* Nobody answers ARP for .77: the connect ends after ~3 s. */
    close(tcp_connect("silent neighbour", "10.213.0.77", 80, 0));
    /* The same for datagrams, reported only under IP_RECVERR: the
     * second socket's datagram was lost at the same moment. */
    int quiet = udp_connected("10.213.0.78", 0);
    u = udp_connected("10.213.0.78", 1);
    udp_probe("udp silent neighbour, plain", quiet, 0);
    udp_probe("udp silent neighbour, IP_RECVERR", u, 1);
    char b[8];
    int r = recv(quiet, b, sizeof b, MSG_DONTWAIT);
    printf("udp silent neighbour, plain, after: %s\n", r >= 0 ? "data" : ename(errno));
    close(u);
    close(quiet);

    /* SYNs dropped: ETIMEDOUT after the retries, one here (3 s). */
    syncnt_of_new_socket();
    close(tcp_connect("blackholed, TCP_SYNCNT 1", "10.214.0.1", 80, 1));
    sysctl_read();
    sysctl_write("0\n");
    sysctl_write("128\n");
    sysctl_write("1\n");
    sysctl_read();
    syncnt_of_new_socket();
    close(tcp_connect("blackholed, tcp_syn_retries 1", "10.214.0.1", 80, 0));
    sysctl_write("6\n");

    vanishing_peer(port);
    return 0;
}
