/* Sends one UDP datagram of SIZE bytes to HOST:PORT and waits for one back,
 * over an interface whose MTU both need fragments for: prints each size
 * and whether every byte is the test's pattern (byte i is (i*31+7) % 251).
 *
 * HOST is an IPv4 or an IPv6 address.
 *
 * usage: udp_fragments HOST PORT SIZE */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int pattern_ok(const unsigned char *b, long n) {
    for (long i = 0; i < n; i++)
        if (b[i] != (unsigned char)((i * 31 + 7) % 251))
            return 0;
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s HOST PORT SIZE\n", argv[0]);
        return 2;
    }
    long size = atol(argv[3]);
    struct sockaddr_in to4 = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    struct sockaddr_in6 to6 = {.sin6_family = AF_INET6, .sin6_port = htons(atoi(argv[2]))};
    int v6 = inet_pton(AF_INET, argv[1], &to4.sin_addr) != 1;
    if ((v6 && inet_pton(AF_INET6, argv[1], &to6.sin6_addr) != 1) || size <= 0 ||
        size > (v6 ? 65527 : 65507)) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    struct sockaddr *to = v6 ? (struct sockaddr *)&to6 : (struct sockaddr *)&to4;
    socklen_t to_len = v6 ? sizeof to6 : sizeof to4;
    int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    struct timeval tv = {.tv_sec = 20};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    unsigned char *buf = malloc(65536);
    for (long i = 0; i < size; i++)
        buf[i] = (unsigned char)((i * 31 + 7) % 251);
    long sent = sendto(s, buf, size, 0, to, to_len);
    if (sent < 0) {
        perror("sendto");
        return 1;
    }
    printf("sent %ld\n", sent);
    fflush(stdout);
    memset(buf, 0, 65536);
    long got = recv(s, buf, 65536, 0);
    if (got < 0) {
        perror("recv");
        return 1;
    }
    printf("received %ld, pattern %s\n", got, pattern_ok(buf, got) ? "intact" : "broken");
    return 0;
}
