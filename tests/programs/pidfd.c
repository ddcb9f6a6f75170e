/*
 * Process descriptors: pidfd_open (flags, errors, what the file looks
 * like: O_RDWR, close-on-exec, anon_inode:[pidfd], fdinfo's Pid and
 * NSpid), readable (poll, epoll) once the process exits and hung up once
 * reaped; waitid(P_PIDFD) blocking, non-blocking (EAGAIN) and its errors;
 * pidfd_send_signal with and without a siginfo and Linux's checks;
 * pidfd_getfd and its access check; clone's CLONE_PIDFD. Prints no pid:
 * pids are compared, so the output is the same on Linux and in the
 * sandbox.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int pidfd_open(pid_t pid, unsigned flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags)
{
	return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}

static int pidfd_getfd(int fd, int target, unsigned flags)
{
	return syscall(SYS_pidfd_getfd, fd, target, flags);
}

static const char *ok(long r)
{
	return r >= 0 ? "succeeds" : err(r);
}

/* A child that waits for a byte on `gate` and then exits with `code`. */
static pid_t gated_child(int gate[2], int code)
{
	CHECK(pipe(gate) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(gate[1]);
		read(gate[0], &c, 1);
		_exit(code);
	}
	close(gate[0]);
	return pid;
}

static int revents(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	CHECK(poll(&p, 1, 0) >= 0);
	return p.revents;
}

static void fdinfo_pid(int fd, pid_t want)
{
	char path[64], line[128];
	int pid = -2, nspid = -2;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "Pid: %d", &pid);
		sscanf(line, "NSpid: %d", &nspid);
	}
	if (f)
		fclose(f);
	if (want > 0)
		printf("fdinfo Pid and NSpid are the child's: %d %d\n", pid == want, nspid == want);
	else
		printf("fdinfo Pid %d\n", pid);
}

static void open_and_wait(void)
{
	int gate[2];
	pid_t child = gated_child(gate, 5);
	int fd = pidfd_open(child, 0);

	CHECK(fd >= 0);
	printf("F_GETFL is O_RDWR: %d\n", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
	printf("close-on-exec: %d\n", fcntl(fd, F_GETFD) == FD_CLOEXEC);
	char path[64], link[64] = "";
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	CHECK(readlink(path, link, sizeof(link) - 1) > 0);
	printf("link: %s\n", link);
	fdinfo_pid(fd, child);
	printf("running child: revents 0x%x\n", revents(fd));
	printf("signal 0: %s\n", err(pidfd_send_signal(fd, 0, NULL, 0)));

	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 77 };
	printf("epoll_ctl ADD: %s\n", err(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)));

	int nb = pidfd_open(child, PIDFD_NONBLOCK);
	CHECK(nb >= 0);
	printf("PIDFD_NONBLOCK sets O_NONBLOCK: %d\n", (fcntl(nb, F_GETFL) & O_NONBLOCK) != 0);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	printf("waitid on a non-blocking pidfd, running child: %s\n",
	       err(waitid(P_PIDFD, nb, &si, WEXITED)));
	printf("the same with WNOHANG: %s, si_pid %d\n",
	       err(waitid(P_PIDFD, nb, &si, WEXITED | WNOHANG)), si.si_pid);

	CHECK(write(gate[1], "x", 1) == 1);
	struct pollfd p = { fd, POLLIN, 0 };
	CHECK(poll(&p, 1, -1) == 1);
	printf("exited child: revents 0x%x\n", p.revents);
	struct epoll_event got;
	printf("epoll_wait: %d", epoll_wait(ep, &got, 1, -1));
	printf(" events 0x%x data %u\n", got.events, got.data.u32);
	printf("signal to a zombie: %s\n", err(pidfd_send_signal(fd, SIGUSR1, NULL, 0)));

	memset(&si, 0, sizeof(si));
	printf("waitid P_PIDFD: %s", err(waitid(P_PIDFD, fd, &si, WEXITED)));
	printf(", si_pid is the child's %d, code %s %d, status %d\n", si.si_pid == child,
	       si.si_code == CLD_EXITED ? "CLD_EXITED" : "?", si.si_code, si.si_status);
	printf("reaped child: revents 0x%x\n", revents(fd));
	fdinfo_pid(fd, -1);
	printf("signal to a reaped child: %s\n", err(pidfd_send_signal(fd, SIGUSR1, NULL, 0)));
	printf("waitid again: %s\n", err(waitid(P_PIDFD, fd, &si, WEXITED)));
	printf("pidfd_getfd of a reaped child: %s\n", err(pidfd_getfd(fd, 0, 0)));
	close(fd);
	close(nb);
	close(ep);
	close(gate[1]);
}

static void open_errors(void)
{
	printf("pidfd_open(0): %s\n", err(pidfd_open(0, 0)));
	printf("pidfd_open(-1): %s\n", err(pidfd_open(-1, 0)));
	printf("pidfd_open of no process: %s\n", err(pidfd_open(4000000, 0)));
	printf("pidfd_open with flag 1: %s\n", err(pidfd_open(getpid(), 1)));
	int self = pidfd_open(getpid(), 0);
	printf("pidfd_open(self): %s\n", ok(self));
	siginfo_t si;
	printf("waitid on oneself: %s\n", err(waitid(P_PIDFD, self, &si, WEXITED | WNOHANG)));
	printf("waitid P_PIDFD of fd -1: %s\n", err(waitid(P_PIDFD, -1, &si, WEXITED)));
	printf("waitid P_PIDFD of a closed fd: %s\n", err(waitid(P_PIDFD, 900, &si, WEXITED)));
	printf("waitid P_PIDFD of stdin: %s\n", err(waitid(P_PIDFD, 0, &si, WEXITED)));
	printf("waitid P_PIDFD without options: %s\n", err(waitid(P_PIDFD, 900, &si, 0)));
	printf("send_signal on stdin: %s\n", err(pidfd_send_signal(0, SIGUSR1, NULL, 0)));
	printf("send_signal on a closed fd: %s\n", err(pidfd_send_signal(900, SIGUSR1, NULL, 0)));
	printf("send_signal flag 8: %s\n", err(pidfd_send_signal(self, 0, NULL, 8)));
	printf("send_signal two scopes: %s\n", err(pidfd_send_signal(self, 0, NULL, 3)));
	printf("send_signal 100: %s\n", err(pidfd_send_signal(self, 100, NULL, 0)));
	printf("send_signal with a bad siginfo: %s\n",
	       err(pidfd_send_signal(self, SIGUSR1, (void *)8, 0)));
	printf("pidfd_getfd flags 1: %s\n", err(pidfd_getfd(self, 0, 1)));
	printf("pidfd_getfd of a closed fd: %s\n", err(pidfd_getfd(self, 900, 0)));
	printf("pidfd_getfd on stdin: %s\n", err(pidfd_getfd(0, 0, 0)));
	close(self);
}

static volatile sig_atomic_t got_code, got_value, got_pid_ok;

static void on_usr(int sig, siginfo_t *si, void *uc)
{
	got_code = si->si_code;
	got_value = si->si_value.sival_int;
	got_pid_ok = si->si_pid == getpid() || si->si_pid == getppid();
}

static void signals(void)
{
	struct sigaction sa = { 0 };
	sa.sa_sigaction = on_usr;
	sa.sa_flags = SA_SIGINFO;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);

	/* To oneself, any code is allowed. */
	int self = pidfd_open(getpid(), 0);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGUSR1;
	si.si_code = SI_USER;
	si.si_value.sival_int = 11;
	printf("to oneself with SI_USER: %s", err(pidfd_send_signal(self, SIGUSR1, &si, 0)));
	printf(", handler saw code %d value %d\n", got_code, got_value);
	printf("to oneself without siginfo: %s", err(pidfd_send_signal(self, SIGUSR1, NULL, 0)));
	printf(", handler saw code %d (SI_USER) from us: %d\n", got_code, got_pid_ok);
	si.si_signo = SIGUSR2;
	printf("si_signo differs: %s\n", err(pidfd_send_signal(self, SIGUSR1, &si, 0)));
	close(self);

	/* To a child: only negative codes other than SI_TKILL. */
	int report[2];
	CHECK(pipe(report) == 0);
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		sigset_t none;
		sigemptyset(&none);
		while (!got_code)
			sigsuspend(&none);
		int v[2] = { got_code, got_value };
		write(report[1], v, sizeof(v));
		_exit(0);
	}
	int fd = pidfd_open(child, 0);
	si.si_signo = SIGUSR1;
	si.si_code = SI_USER;
	printf("to a child with SI_USER: %s\n", err(pidfd_send_signal(fd, SIGUSR1, &si, 0)));
	si.si_code = SI_TKILL;
	printf("to a child with SI_TKILL: %s\n", err(pidfd_send_signal(fd, SIGUSR1, &si, 0)));
	si.si_code = SI_QUEUE;
	si.si_value.sival_int = 99;
	printf("to a child with SI_QUEUE: %s\n", err(pidfd_send_signal(fd, SIGUSR1, &si, 0)));
	int v[2];
	CHECK(read(report[0], v, sizeof(v)) == sizeof(v));
	printf("the child saw code %d (SI_QUEUE %d) value %d\n", v[0], SI_QUEUE, v[1]);
	siginfo_t wi;
	CHECK(waitid(P_PIDFD, fd, &wi, WEXITED) == 0);
	close(fd);

	/* SIGTERM kills; waitid reports it. */
	int gate[2];
	child = gated_child(gate, 0);
	fd = pidfd_open(child, 0);
	printf("SIGTERM: %s\n", err(pidfd_send_signal(fd, SIGTERM, NULL, 0)));
	memset(&wi, 0, sizeof(wi));
	CHECK(waitid(P_PIDFD, fd, &wi, WEXITED) == 0);
	printf("waitid: code %s signal %d\n", wi.si_code == CLD_KILLED ? "CLD_KILLED" : "?",
	       wi.si_status);
	close(fd);
	close(gate[1]);
}

static void getfd(void)
{
	int data[2], gate[2];

	CHECK(pipe(data) == 0);
	CHECK(pipe(gate) == 0);
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		char c;
		close(gate[1]);
		CHECK(dup2(data[1], 42) == 42);
		close(data[1]);
		read(gate[0], &c, 1);
		_exit(0);
	}
	close(gate[0]);
	close(data[1]);
	int fd = pidfd_open(child, 0);
	/* Wait until the child has its descriptor 42. */
	int got = -1;
	for (int i = 0; i < 10000 && got < 0; i++) {
		got = pidfd_getfd(fd, 42, 0);
		if (got < 0)
			usleep(1000);
	}
	printf("pidfd_getfd: %s, close-on-exec %d\n", ok(got), fcntl(got, F_GETFD) == FD_CLOEXEC);
	CHECK(write(got, "hi", 2) == 2);
	close(got);
	char buf[3] = "";
	CHECK(write(gate[1], "x", 1) == 1);
	CHECK(read(data[0], buf, 2) == 2);
	printf("read back what went through the child's descriptor: %s\n", buf);
	siginfo_t wi;
	CHECK(waitid(P_PIDFD, fd, &wi, WEXITED) == 0);
	close(fd);

	/* An ordinary user may neither take a root process's descriptors nor
	 * signal it. */
	fflush(stdout);
	child = fork();
	if (child == 0) {
		CHECK(setresgid(65534, 65534, 65534) == 0);
		CHECK(setresuid(65534, 65534, 65534) == 0);
		int p = pidfd_open(getppid(), 0);
		printf("unprivileged: pidfd_open of root parent %s\n", ok(p));
		printf("unprivileged: pidfd_getfd %s\n", err(pidfd_getfd(p, 0, 0)));
		printf("unprivileged: send_signal %s\n", err(pidfd_send_signal(p, 0, NULL, 0)));
		fflush(stdout);
		_exit(0);
	}
	CHECK(waitpid(child, NULL, 0) == child);
}

static void clone_pidfd(void)
{
	int pidfd = -1;

	fflush(stdout);
	long pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, NULL, 0);
	if (pid == 0)
		_exit(pidfd == -1 ? 7 : 8);
	CHECK(pid > 0);
	printf("CLONE_PIDFD gives a descriptor: %d, close-on-exec %d\n", pidfd >= 0,
	       fcntl(pidfd, F_GETFD) == FD_CLOEXEC);
	fdinfo_pid(pidfd, pid);
	siginfo_t wi;
	memset(&wi, 0, sizeof(wi));
	CHECK(waitid(P_PIDFD, pidfd, &wi, WEXITED) == 0);
	printf("the child did not see it (exit 7): status %d, si_pid matches %d\n", wi.si_status,
	       wi.si_pid == pid);
	close(pidfd);
	int tid = 0;
	printf("CLONE_PIDFD with CLONE_PARENT_SETTID: %s\n",
	       err(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &tid, NULL, 0)));
	printf("CLONE_PIDFD with CLONE_DETACHED: %s\n",
	       err(syscall(SYS_clone, CLONE_PIDFD | CLONE_DETACHED | SIGCHLD, 0, &pidfd, NULL, 0)));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	open_and_wait();
	open_errors();
	signals();
	getfd();
	clone_pidfd();
	if (failures) {
		printf("%d failures\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
