// SysV message queues compared with Linux: msgget's errnos, msgsnd and
// msgrcv by type (0, >0, <0, MSG_EXCEPT), MSG_NOERROR and E2BIG, a full
// queue and IPC_NOWAIT, a receive another process ends, msgctl's
// IPC_STAT, IPC_SET and IPC_RMID, and a removal waking a sleeper with
// EIDRM.

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

struct msg {
    long mtype;
    char text[64];
};

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %ld\n", what, r);
}

static int snd(int id, long type, const char *text, int flags) {
    struct msg m = {type, {0}};
    strncpy(m.text, text, sizeof m.text - 1);
    return msgsnd(id, &m, strlen(text), flags);
}

static void rcv(const char *what, int id, size_t max, long type, int flags) {
    struct msg m;
    memset(&m, 0, sizeof m);
    ssize_t n = msgrcv(id, &m, max, type, flags);
    if (n < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %zd type %ld '%.*s'\n", what, n, m.mtype, (int)n, m.text);
}

// Whether process `pid` sleeps (its msgrcv blocked).
static int sleeping(pid_t pid) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] == 'S';
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int id = msgget(IPC_PRIVATE, 0600);
    printf("msgget: %s\n", id >= 0 ? "ok" : strerrorname_np(errno));
    show("msgget missing key", msgget(0x6d730000 + (getpid() & 0xffff), 0600));

    show("send type 0", snd(id, 0, "x", 0));
    struct msg big = {1, {0}};
    show("send 8193 bytes", msgsnd(id, &big, 8193, 0));
    show("send c", snd(id, 3, "ccc", 0));
    show("send a", snd(id, 1, "a", 0));
    show("send b", snd(id, 2, "bb", 0));
    show("send a2", snd(id, 1, "a2", 0));

    struct msqid_ds ds;
    show("IPC_STAT", msgctl(id, IPC_STAT, &ds));
    printf("qnum %lu cbytes %lu qbytes %lu lspid is me %d\n", (unsigned long)ds.msg_qnum,
           (unsigned long)ds.__msg_cbytes, (unsigned long)ds.msg_qbytes, ds.msg_lspid == getpid());

    rcv("type 2", id, 64, 2, 0);
    rcv("type -3", id, 64, -3, 0);
    rcv("not type 1", id, 64, 1, MSG_EXCEPT);
    rcv("too small", id, 1, 0, 0);
    rcv("too small, noerror", id, 1, 0, MSG_NOERROR);
    rcv("empty, nowait", id, 64, 0, IPC_NOWAIT);
    show("msgrcv negative size", msgrcv(id, &big, (size_t)-1, 0, IPC_NOWAIT));

    // A full queue.
    ds.msg_qbytes = 10;
    show("IPC_SET qbytes 10", msgctl(id, IPC_SET, &ds));
    show("send 8 bytes", snd(id, 1, "12345678", 0));
    show("send 4 more, nowait", snd(id, 1, "abcd", IPC_NOWAIT));
    rcv("take the 8", id, 64, 0, 0);

    // A receive a child ends.
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50000);
        snd(id, 7, "from child", 0);
        _exit(0);
    }
    rcv("wait for type 7", id, 64, 7, 0);
    waitpid(pid, NULL, 0);

    // A removal wakes a sleeper.
    pid = fork();
    if (pid == 0) {
        struct msg m;
        ssize_t n = msgrcv(id, &m, sizeof m.text, 0, 0);
        printf("child woken: %zd %s\n", n, n < 0 ? strerrorname_np(errno) : "");
        _exit(0);
    }
    while (!sleeping(pid))
        usleep(1000);
    int removed = msgctl(id, IPC_RMID, NULL);
    waitpid(pid, NULL, 0);
    show("IPC_RMID", removed);
    show("send after removal", snd(id, 1, "x", 0));
    printf("PASS\n");
    return 0;
}
