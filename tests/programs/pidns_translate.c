/*
 * Pids crossing PID namespaces where Linux translates them, with
 * unshare(CLONE_NEWPID) and a child that is init of the new namespace:
 *   - SCM_CREDENTIALS: the inner sender's pid (given explicitly as its own
 *     number, 1) reaches the outer receiver as its outer pid; the outer
 *     sender's reaches the inner receiver as 0; a pid that does not exist
 *     in the sender's namespace is ESRCH;
 *   - mq_notify's si_pid is the sender as the receiver's namespace
 *     numbers it;
 *   - a terminal's TIOCGPGRP/TIOCGSID are 1 inside and the outer pid
 *     through the master outside; TIOCSPGRP takes the inner number, ESRCH
 *     for an unknown one.
 * Prints only comparisons (outer pids differ between runs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "common.h"

static long send_creds(int fd, pid_t pid)
{
	struct ucred c = {pid, getuid(), getgid()};
	char cbuf[CMSG_SPACE(sizeof c)];
	memset(cbuf, 0, sizeof cbuf);
	char byte = 'x';
	struct iovec iov = {&byte, 1};
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof cbuf;
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_CREDENTIALS;
	h->cmsg_len = CMSG_LEN(sizeof c);
	memcpy(CMSG_DATA(h), &c, sizeof c);
	return sendmsg(fd, &m, 0);
}

/* The pid of the next message's credentials (-1: none). */
static pid_t recv_pid(int fd)
{
	char byte;
	struct iovec iov = {&byte, 1};
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof cbuf;
	if (recvmsg(fd, &m, 0) < 0)
		return -1;
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_type != SCM_CREDENTIALS)
		return -1;
	struct ucred c;
	memcpy(&c, CMSG_DATA(h), sizeof c);
	return c.pid;
}

static int one = 1;
static int sv[2];
static int master = -1;
static char slave[64];
static const char *mqname = "/pidns_translate";

static int inner(void)
{
	/* SCM_CREDENTIALS. */
	printf("inner: getpid %d\n", getpid());
	printf("send own number: %s\n", ok_or_errname(send_creds(sv[1], getpid())));
	printf("send unknown pid: %s\n", ok_or_errname(send_creds(sv[1], 99999)));
	pid_t p = recv_pid(sv[1]);
	printf("outer sender seen as %d\n", p);

	/* mq_notify: the outer process's message. */
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	mqd_t q = mq_open(mqname, O_RDWR);
	struct sigevent ev = {0};
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	CHECK(mq_notify(q, &ev) == 0);
	char go = 'n';
	CHECK(write(sv[1], &go, 1) == 1);
	siginfo_t si;
	CHECK(sigwaitinfo(&s, &si) == SIGUSR1);
	printf("mq notify from outside: si_pid %d\n", si.si_pid);
	char msg[64];
	mq_receive(q, msg, sizeof msg, NULL);
	/* Now the outer process listens; this one sends. */
	CHECK(read(sv[1], &go, 1) == 1);
	CHECK(mq_send(q, "in", 2, 0) == 0);

	/* A terminal whose session this is. */
	CHECK(setsid() == 1);
	int fd = open(slave, O_RDWR);
	CHECK(fd >= 0);
	pid_t pg = -1, sid = -1;
	CHECK(ioctl(fd, TIOCGPGRP, &pg) == 0);
	CHECK(ioctl(fd, TIOCGSID, &sid) == 0);
	printf("inside: TIOCGPGRP %d TIOCGSID %d\n", pg, sid);
	pid_t want = 1;
	printf("TIOCSPGRP 1: %s\n", ok_or_errname(ioctl(fd, TIOCSPGRP, &want)));
	want = 99999;
	printf("TIOCSPGRP 99999: %s\n", ok_or_errname(ioctl(fd, TIOCSPGRP, &want)));
	CHECK(write(sv[1], &go, 1) == 1);
	/* Hold the terminal until the outer side has looked. */
	CHECK(read(sv[1], &go, 1) == 1);
	fflush(stdout);
	return failures;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) ==
	      0);
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) ==
	      0);
	master = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
	snprintf(slave, sizeof slave, "%s", ptsname(master));
	mq_unlink(mqname);
	struct mq_attr attr = {0, 4, 16, 0};
	mqd_t q = mq_open(mqname, O_RDWR | O_CREAT, 0600, &attr);
	CHECK(q != (mqd_t)-1);

	CHECK(unshare(CLONE_NEWPID) == 0);
	pid_t c = fork();
	if (c == 0)
		_exit(inner());

	/* Printed after the child's lines, which come first. */
	int scm_outer = recv_pid(sv[0]) == c;
	/* The outer process's own credentials, implicitly. */
	char b = 'o';
	CHECK(send(sv[0], &b, 1, 0) == 1);

	char go;
	CHECK(read(sv[0], &go, 1) == 1);
	CHECK(mq_send(q, "out", 3, 0) == 0);

	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	struct sigevent ev = {0};
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	CHECK(mq_notify(q, &ev) == 0);
	CHECK(write(sv[0], &go, 1) == 1);
	siginfo_t si;
	CHECK(sigwaitinfo(&s, &si) == SIGUSR1);
	int mq_outer = si.si_pid == c;

	CHECK(read(sv[0], &go, 1) == 1);
	pid_t pg = -1, sid = -1;
	CHECK(ioctl(master, TIOCGPGRP, &pg) == 0);
	CHECK(ioctl(master, TIOCGSID, &sid) == 0);
	CHECK(write(sv[0], &go, 1) == 1);

	int st;
	CHECK(waitpid(c, &st, 0) == c);
	printf("inner sender seen as its outer pid: %d\n", scm_outer);
	printf("mq notify from inside: si_pid is its outer pid %d\n",
	       mq_outer);
	printf("outside through the master: pgrp is the outer pid %d, sid %d\n",
	       pg == c, sid == c);
	mq_unlink(mqname);
	if (failures || !WIFEXITED(st) || WEXITSTATUS(st))
		return 1;
	printf("PASS\n");
	return 0;
}
