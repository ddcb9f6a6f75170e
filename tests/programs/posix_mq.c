// POSIX message queues compared with Linux: mq_open's errnos and limits
// (/proc/sys/fs/mqueue), send and receive by priority, EMSGSIZE, a full
// queue with O_NONBLOCK (mq_setattr) and with timeouts, a receiver asleep
// in another process woken by a send, mq_notify with a signal (once, from
// the sender, with its value) and its EBUSY, poll and epoll on a queue
// descriptor, the mqueue filesystem (a queue file's QSIZE line, listing,
// open(O_CREAT) and unlink there), and mq_unlink.
//
// Natively it first moves into IPC and mount namespaces of its own, so it
// sees no host queue and mounts nothing on the host (it must run as
// root); in the sandbox unshare is ENOSYS and both are the sandbox's own.

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %ld\n", what, r);
}

static void attr(const char *what, mqd_t q) {
    struct mq_attr a;
    if (mq_getattr(q, &a) < 0) {
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
        return;
    }
    printf("%s: flags %s maxmsg %ld msgsize %ld curmsgs %ld\n", what,
           a.mq_flags & O_NONBLOCK ? "O_NONBLOCK" : "0", a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs);
}

static void receive(const char *what, mqd_t q, size_t len) {
    char buf[16384];
    unsigned prio = 99;
    ssize_t n = mq_receive(q, buf, len, &prio);
    if (n < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: '%.*s' prio %u\n", what, (int)n, buf, prio);
}

static void cat(const char *what, const char *path) {
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = 0;
    // The registered process's pid differs between runs.
    char *pid = strstr(buf, "NOTIFY_PID:");
    if (pid && atoi(pid + 11) != 0) {
        char mine[32], parent[32];
        snprintf(mine, sizeof mine, "NOTIFY_PID:%-6d", getpid());
        snprintf(parent, sizeof parent, "NOTIFY_PID:%-6d", getppid());
        if (strncmp(pid, mine, strlen(mine)) == 0)
            memcpy(pid + 11, "self  ", 6);
        else if (strncmp(pid, parent, strlen(parent)) == 0)
            memcpy(pid + 11, "parent", 6);
    }
    printf("%s: %s", what, buf);
}

static struct timespec in_ms(long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    return ts;
}

static void limits(void) {
    const char *names[] = {"msg_default", "msg_max", "msgsize_default", "msgsize_max", "queues_max"};
    for (int i = 0; i < 5; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", names[i]);
        cat(names[i], path);
    }
}

static void open_errors(void) {
    struct mq_attr a = {0, 4, 64, 0};
    show("open a missing queue", mq_open("/missing", O_RDONLY));
    show("open without a slash", mq_open("noslash", O_RDONLY | O_CREAT, 0600, NULL));
    show("open a/b", mq_open("/a/b", O_RDONLY | O_CREAT, 0600, NULL));
    char longname[300] = "/";
    memset(longname + 1, 'x', 256);
    show("open a 256-byte name", mq_open(longname, O_RDONLY | O_CREAT, 0600, NULL));
    a.mq_maxmsg = 0;
    show("create with maxmsg 0", mq_open("/bad", O_RDONLY | O_CREAT, 0600, &a));
    a.mq_maxmsg = 4;
    a.mq_msgsize = -1;
    show("create with msgsize -1", mq_open("/bad", O_RDONLY | O_CREAT, 0600, &a));
    a.mq_msgsize = (16 << 20) + 1;
    show("create with msgsize past the hard limit", mq_open("/bad", O_RDONLY | O_CREAT, 0600, &a));
    a.mq_msgsize = 64;
    a.mq_maxmsg = 65537;
    show("create with maxmsg past the hard limit", mq_open("/bad", O_RDONLY | O_CREAT, 0600, &a));
}

static const char *longtext(void);

static void by_priority(mqd_t q) {
    const char *texts[] = {"low", "high", "mid", "high2", "zero"};
    unsigned prios[] = {1, 10, 5, 10, 0};
    for (int i = 0; i < 4; i++)
        show(texts[i], mq_send(q, texts[i], strlen(texts[i]), prios[i]));
    show("a fifth message into four places (O_NONBLOCK)", mq_send(q, "x", 1, 0));
    attr("attributes when full", q);
    for (int i = 0; i < 4; i++)
        receive("receive", q, 64);
    receive("receive from empty (O_NONBLOCK)", q, 64);
    show("send 65 bytes", mq_send(q, longtext(), 65, 0));
    show("send with priority 32768", mq_send(q, "p", 1, 32768));
    show("send with priority 32767", mq_send(q, "p", 1, 32767));
    receive("receive into 63 bytes", q, 63);
    receive("receive it", q, 64);
    show("empty send", mq_send(q, "", 0, 3));
    receive("receive it", q, 64);
}

static void timeouts(mqd_t q) {
    struct timespec ts = in_ms(50);
    char buf[64];
    show("timed receive from empty", mq_timedreceive(q, buf, 64, NULL, &ts));
    struct timespec bad = {0, 1000000000};
    show("timed receive with bad nanoseconds", mq_timedreceive(q, buf, 64, NULL, &bad));
    struct timespec past = {1, 0};
    show("timed receive, deadline past", mq_timedreceive(q, buf, 64, NULL, &past));
    for (int i = 0; i < 4; i++)
        mq_send(q, "f", 1, 0);
    ts = in_ms(50);
    show("timed send into full", mq_timedsend(q, "f", 1, 0, &ts));
    show("timed send into full, deadline past", mq_timedsend(q, "f", 1, 0, &past));
    bad.tv_nsec = -1;
    show("timed send with negative nanoseconds", mq_timedsend(q, "f", 1, 0, &bad));
    for (int i = 0; i < 4; i++)
        mq_receive(q, buf, 64, NULL);
}

static void pollable(mqd_t q) {
    struct pollfd p = {q, POLLIN | POLLOUT, 0};
    show("poll empty", poll(&p, 1, 0));
    printf("revents: %s%s\n", p.revents & POLLIN ? "IN " : "", p.revents & POLLOUT ? "OUT" : "");
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
    show("epoll add", epoll_ctl(ep, EPOLL_CTL_ADD, q, &ev));
    show("epoll wait, empty", epoll_wait(ep, &out, 1, 0));
    pid_t pid = fork();
    if (pid == 0) {
        usleep(100000);
        mqd_t c = mq_open("/q", O_WRONLY);
        mq_send(c, "from the child", 14, 2);
        _exit(0);
    }
    int n = epoll_wait(ep, &out, 1, 10000);
    printf("epoll wait woken: %d data %u\n", n, out.data.u32);
    p.revents = 0;
    show("poll with a message", poll(&p, 1, 0));
    printf("revents: %s%s\n", p.revents & POLLIN ? "IN " : "", p.revents & POLLOUT ? "OUT" : "");
    receive("receive", q, 64);
    waitpid(pid, NULL, 0);
    close(ep);
}

static void blocked_receiver(void) {
    mqd_t q = mq_open("/q", O_RDWR);
    pid_t pid = fork();
    if (pid == 0) {
        // Blocks until the parent sends.
        receive("child's receive", q, 64);
        _exit(0);
    }
    usleep(100000);
    long r = mq_send(q, "wake", 4, 1);
    int st;
    waitpid(pid, &st, 0);
    show("send to the sleeping child", r);
    printf("child exited %d\n", WEXITSTATUS(st));
    mq_close(q);
}

static void notifications(mqd_t q) {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    struct sigevent ev = {0};
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = 42;
    show("notify", mq_notify(q, &ev));
    show("notify while registered", mq_notify(q, &ev));
    pid_t pid = fork();
    if (pid == 0) {
        // A child's close of the file leaves the parent's registration.
        cat("queue file, from a child", "M/q");
        show("child's notify", mq_notify(q, &ev));
        show("child's notify removal", mq_notify(q, NULL));
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    show("send", mq_send(q, "n1", 2, 0));
    siginfo_t si;
    struct timespec wait = {5, 0};
    int sig = sigtimedwait(&usr1, &si, &wait);
    printf("signal %d code %s value %d from self %d\n", sig,
           si.si_code == SI_MESGQ ? "SI_MESGQ" : "?", si.si_value.sival_int, si.si_pid == getpid());
    cat("queue file", "M/q");
    show("send into a non-empty queue", mq_send(q, "n2", 2, 0));
    struct timespec none = {0, 0};
    show("no second signal", sigtimedwait(&usr1, &si, &none));
    receive("receive", q, 64);
    receive("receive", q, 64);
    show("notify again", mq_notify(q, &ev));
    // Closing any descriptor of the queue ends the process's registration.
    close(dup(q));
    show("notify after a close", mq_notify(q, &ev));
    show("notify removal", mq_notify(q, NULL));
    ev.sigev_notify = SIGEV_NONE;
    show("notify SIGEV_NONE", mq_notify(q, &ev));
    show("send", mq_send(q, "n3", 2, 0));
    show("no signal", sigtimedwait(&usr1, &si, &none));
    show("notify after SIGEV_NONE fired", mq_notify(q, &ev));
    cat("queue file", "M/q");
    receive("receive", q, 64);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = 0;
    show("notify with signal 0", mq_notify(q, &ev));
    show("send", mq_send(q, "n4", 2, 0));
    receive("receive", q, 64);
    ev.sigev_signo = 65;
    show("notify with signal 65", mq_notify(q, &ev));
    ev.sigev_notify = 99;
    show("notify with sigev_notify 99", mq_notify(q, &ev));
    show("notify on a pipe", mq_notify(0, NULL));
}

static void filesystem(void) {
    mkdir("M", 0755);
    show("mount mqueue", mount("mqueue", "M", "mqueue", 0, NULL));
    struct stat st;
    stat("M", &st);
    printf("root mode %o\n", st.st_mode);
    stat("M/q", &st);
    printf("queue mode %o size %lld\n", st.st_mode, (long long)st.st_size);
    int fd = open("M/made", O_CREAT | O_RDWR, 0640);
    show("open(O_CREAT) in the mount", fd);
    close(fd);
    mqd_t m = mq_open("/made", O_RDWR);
    show("mq_open finds it", m < 0 ? -1 : 0);
    attr("its attributes", m);
    mq_send(m, "hello", 5, 0);
    mq_send(m, "world!", 6, 0);
    cat("its file", "M/made");
    mq_close(m);
    DIR *d = opendir("M");
    struct dirent *e;
    char names[256] = "";
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            strcat(names, " ");
            strcat(names, e->d_name);
        }
    closedir(d);
    printf("listing:%s\n", names);
    show("mkdir in the mount", mkdir("M/dir", 0755));
    show("write to a queue file", (fd = open("M/made", O_WRONLY)) < 0 ? -1 : write(fd, "x", 1));
    close(fd);
    show("unlink in the mount", unlink("M/made"));
    show("mq_open after unlink", mq_open("/made", O_RDWR));
}

static char longbuf[100];
static const char *longtext(void) {
    memset(longbuf, 'l', sizeof longbuf);
    return longbuf;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (unshare(CLONE_NEWNS | CLONE_NEWIPC) == 0) {
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
            printf("private /: %s\n", strerror(errno));
            return 1;
        }
    } else if (errno != ENOSYS) {
        printf("unshare: %s (run natively as root)\n", strerror(errno));
        return 1;
    }
    char dir[] = "/tmp/posix_mq.XXXXXX";
    if (!mkdtemp(dir) || chdir(dir) != 0)
        return 1;
    umask(022);
    limits();
    open_errors();

    struct mq_attr a = {0, 4, 64, 0};
    mqd_t q = mq_open("/q", O_RDWR | O_CREAT | O_EXCL, 0666, &a);
    show("create /q", q < 0 ? -1 : 0);
    show("create /q again, O_EXCL", mq_open("/q", O_RDWR | O_CREAT | O_EXCL, 0666, &a));
    attr("attributes", q);
    struct mq_attr nb = {O_NONBLOCK, 0, 0, 0}, old;
    show("set O_NONBLOCK", mq_setattr(q, &nb, &old));
    printf("old flags %ld\n", old.mq_flags);
    struct mq_attr badflags = {O_APPEND, 0, 0, 0};
    show("set O_APPEND", mq_setattr(q, &badflags, NULL));
    attr("attributes", q);
    by_priority(q);
    nb.mq_flags = 0;
    mq_setattr(q, &nb, NULL);
    timeouts(q);
    pollable(q);
    blocked_receiver();

    filesystem();
    notifications(q);

    mqd_t ro = mq_open("/q", O_RDONLY);
    show("send on a read-only descriptor", mq_send(ro, "r", 1, 0));
    mqd_t wo = mq_open("/q", O_WRONLY);
    receive("receive on a write-only descriptor", wo, 64);
    show("send on a pipe descriptor", mq_send(0, "r", 1, 0));
    show("open with O_ACCMODE", mq_open("/q", O_ACCMODE));

    show("unlink /q", mq_unlink("/q"));
    show("unlink /q again", mq_unlink("/q"));
    show("open /q after unlink", mq_open("/q", O_RDWR));
    show("the open descriptor still sends", mq_send(q, "still", 5, 0));
    receive("and receives", q, 64);
    cat("queue file after unlink", "M/q");
    umount("M");
    rmdir("M");
    chdir("/");
    rmdir(dir);
    printf("PASS\n");
    return 0;
}
