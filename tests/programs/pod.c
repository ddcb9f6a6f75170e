// What the containers of one pod share: its loopback (a TCP server in
// one container, its client in another) and its IPC namespace (a SysV
// message queue one container fills and another drains).
//
//   pod serve PORT TEXT    accept one connection on 127.0.0.1:PORT,
//                          send TEXT, print what came back
//   pod connect PORT       connect (retrying until the server listens),
//                          send "hello", print what the server sent
//   pod msgput KEY TEXT    put TEXT on the SysV queue of KEY
//   pod msgget KEY         take one message from it (IPC_NOWAIT) and print it

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <unistd.h>

struct msg {
    long mtype;
    char text[64];
};

static struct sockaddr_in loopback(const char *port) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static void fail(const char *what) {
    printf("%s: %s\n", what, strerrorname_np(errno));
    exit(1);
}

static int serve(const char *port, const char *text) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = loopback(port);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
        fail("bind");
    if (listen(s, 1) < 0)
        fail("listen");
    int c = accept(s, NULL, NULL);
    if (c < 0)
        fail("accept");
    char buf[64] = {0};
    if (read(c, buf, sizeof buf - 1) < 0)
        fail("read");
    if (write(c, text, strlen(text)) < 0)
        fail("write");
    printf("server got: %s\n", buf);
    close(c);
    return 0;
}

static int connect_to(const char *port) {
    struct sockaddr_in a = loopback(port);
    // The server is another container's process, started at about the
    // same time: it may not listen yet.
    for (int i = 0; i < 3000; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
            if (write(s, "hello", 5) < 0)
                fail("write");
            char buf[64] = {0};
            if (read(s, buf, sizeof buf - 1) < 0)
                fail("read");
            printf("client got: %s\n", buf);
            return 0;
        }
        if (errno != ECONNREFUSED)
            fail("connect");
        close(s);
        usleep(10000);
    }
    fail("connect (never listened)");
    return 1;
}

static int msgput(const char *key, const char *text) {
    int q = msgget(atoi(key), IPC_CREAT | 0600);
    if (q < 0)
        fail("msgget");
    struct msg m = {1, {0}};
    snprintf(m.text, sizeof m.text, "%s", text);
    if (msgsnd(q, &m, sizeof m.text, 0) < 0)
        fail("msgsnd");
    printf("put: %s\n", text);
    return 0;
}

static int msgtake(const char *key) {
    int q = msgget(atoi(key), 0);
    if (q < 0)
        fail("msgget");
    struct msg m;
    if (msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT) < 0)
        fail("msgrcv");
    printf("took: %s\n", m.text);
    msgctl(q, IPC_RMID, NULL);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 4 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "connect") == 0)
        return connect_to(argv[2]);
    if (argc == 4 && strcmp(argv[1], "msgput") == 0)
        return msgput(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "msgget") == 0)
        return msgtake(argv[2]);
    fprintf(stderr, "usage: pod serve PORT TEXT | connect PORT | msgput KEY TEXT | msgget KEY\n");
    return 2;
}
