/*
 * PID namespaces (pid_namespaces(7)), as root:
 *   - unshare(CLONE_NEWPID) changes pid_for_children, not the caller; a
 *     second unshare before a child is EINVAL; the first child is PID 1
 *     there, with getppid 0, and the parent sees it by its outer pid;
 *   - /proc/self/status NSpid/NStgid list a pid per level, outermost
 *     (the looker's procfs) first;
 *   - inside: the next process is 2 with parent 1; a signal's si_pid is
 *     the sender's pid in the receiver's namespace; init ignores a
 *     SIGTERM and even a SIGKILL it has no handler for from inside;
 *     orphans reparent to the namespace's init; kill(-1) spares init;
 *   - a procfs mounted inside lists only the namespace's processes, with
 *     its pids (/proc/self, /proc/1/status);
 *   - clone(CLONE_NEWPID) makes an init directly; setns into a child's
 *     namespace sends the next child there (with getppid 0), setns to
 *     an ancestor's is EINVAL;
 *   - SIGKILL of init from outside kills every task of the namespace,
 *     and a namespace whose init died refuses forks (ENOMEM).
 * Prints no outer pid (they differ between runs), only comparisons.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void ns_link(const char *path, char *buf, size_t n)
{
	ssize_t r = readlink(path, buf, n - 1);
	buf[r < 0 ? 0 : r] = 0;
}

/* The value of a "Key:\t..." line of a status file. */
static void status_line(const char *path, const char *key, char *out,
			size_t n)
{
	out[0] = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[256];
	size_t k = strlen(key);
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, key, k) == 0 && line[k] == ':') {
			char *v = line + k + 1;
			while (*v == '\t' || *v == ' ')
				v++;
			v[strcspn(v, "\n")] = 0;
			snprintf(out, n, "%s", v);
		}
	}
	fclose(f);
}

static volatile sig_atomic_t got_pid = -1;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	got_pid = si->si_pid;
}

static int wait_status(pid_t p)
{
	int st;
	if (waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* Init of a new namespace: what it and its children see. */
static int init_body(int outer_fd)
{
	int bad = 0;
	printf("init: getpid %d getppid %d\n", getpid(), getppid());
	/* Its outer pid, which the parent wrote before it started. */
	pid_t outer;
	if (read(outer_fd, &outer, sizeof outer) != sizeof outer)
		bad++;
	char v[128], want[128];
	status_line("/proc/self/status", "NSpid", v, sizeof v);
	snprintf(want, sizeof want, "%d\t1", outer);
	printf("init: NSpid through the outer /proc is outer then 1: %s\n",
	       strcmp(v, want) == 0 ? "yes" : v);
	status_line("/proc/self/status", "Pid", v, sizeof v);
	printf("init: outer /proc Pid is the outer pid: %s\n",
	       atoi(v) == outer ? "yes" : "no");

	/* The next process is 2, its parent 1; its signal carries si_pid 2. */
	struct sigaction sa = { 0 };
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		printf("child: getpid %d getppid %d\n", getpid(), getppid());
		printf("child: kill(1, SIGTERM): %s\n", ok_or_errname(kill(1, SIGTERM)));
		printf("child: kill(1, SIGKILL): %s\n", ok_or_errname(kill(1, SIGKILL)));
		printf("child: kill(-1, 0) spares init: %s\n",
		       ok_or_errname(kill(-1, 0)));
		kill(1, SIGUSR1);
		fflush(stdout);
		_exit(0);
	}
	bad += wait_status(c) != 0;
	printf("init: fork returned %d\n", c);
	while (got_pid < 0)
		usleep(1000);
	printf("init: still alive, SIGUSR1 si_pid %d\n", (int)got_pid);

	/* An orphan goes to init. */
	int p[2];
	CHECK(pipe(p) == 0);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		if (fork() == 0) {
			close(p[0]);
			while (getppid() != 1)
				usleep(1000);
			printf("orphan: adopted by %d\n", getppid());
			fflush(stdout);
			write(p[1], "x", 1);
			_exit(0);
		}
		_exit(0);
	}
	close(p[1]);
	bad += wait_status(c) != 0;
	char x;
	CHECK(read(p[0], &x, 1) == 1);
	while (waitpid(-1, NULL, 0) > 0)
		;

	/* A procfs of its own shows the namespace. */
	CHECK(unshare(CLONE_NEWNS) == 0);
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	CHECK(mount("proc", "/proc", "proc", 0, NULL) == 0);
	DIR *d = opendir("/proc");
	struct dirent *e;
	printf("proc: processes:");
	while (d && (e = readdir(d)))
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
			printf(" %s", e->d_name);
	printf("\n");
	if (d)
		closedir(d);
	ns_link("/proc/self", v, sizeof v);
	printf("proc: /proc/self -> %s\n", v);
	status_line("/proc/1/status", "Pid", v, sizeof v);
	printf("proc: /proc/1/status Pid %s", v);
	status_line("/proc/1/status", "PPid", v, sizeof v);
	printf(" PPid %s", v);
	status_line("/proc/1/status", "NSpid", v, sizeof v);
	printf(" NSpid %s\n", v);
	fflush(stdout);
	return bad;
}

static int run_init(void *arg)
{
	int fd = *(int *)arg;
	int r = init_body(fd);
	fflush(stdout);
	return r;
}

/* unshare(CLONE_NEWPID) in a child of its own: afterwards its forks go
 * to a namespace whose init is dead. */
static int part_unshare(void)
{
	char own[64], kids[64], v[64];
	pid_t me = getpid();

	CHECK(unshare(CLONE_NEWPID) == 0);
	printf("unshare: getpid unchanged: %s\n",
	       getpid() == me ? "yes" : "no");
	ns_link("/proc/self/ns/pid", own, sizeof own);
	/* No namespace to show until its init exists. */
	errno = 0;
	ns_link("/proc/self/ns/pid_for_children", kids, sizeof kids);
	printf("unshare: pid_for_children before a child: %s\n",
	       kids[0] ? "a link" : strerrorname_np(errno));
	printf("unshare: again before a child: %s\n",
	       ok_or_errname(unshare(CLONE_NEWPID)));

	int p[2];
	CHECK(pipe(p) == 0);
	pid_t c = fork();
	if (c == 0) {
		close(p[1]);
		_exit(init_body(p[0]));
	}
	close(p[0]);
	write(p[1], &c, sizeof c);
	siginfo_t si = { 0 };
	CHECK(waitid(P_PID, c, &si, WEXITED) == 0);
	printf("parent: child's pid is an outer one: %s\n",
	       c > 1 ? "yes" : "no");
	printf("parent: waitid si_pid is the outer pid: %s, status %d\n",
	       si.si_pid == c ? "yes" : "no", si.si_status);
	ns_link("/proc/self/ns/pid_for_children", kids, sizeof kids);
	ns_link("/proc/self/ns/pid", v, sizeof v);
	printf("parent: pid_for_children now differs from pid: %s\n",
	       strcmp(own, kids) != 0 && strcmp(own, v) == 0 ? "yes" : "no");

	/* The namespace is dead: joining it and forking is ENOMEM. */
	printf("dead ns: fork: ");
	fflush(stdout);
	c = fork();
	if (c == 0) {
		printf("%s\n", "child ran");
		_exit(1);
	}
	printf("%s\n", c < 0 ? strerrorname_np(errno) : "ok");
	if (c > 0)
		waitpid(c, NULL, 0);
	fflush(stdout);
	return failures;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char own[64];
	ns_link("/proc/self/ns/pid", own, sizeof own);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(part_unshare());
	failures += wait_status(c) != 0;

	/* clone(CLONE_NEWPID): an init at once; SIGKILL from outside ends
	 * its namespace. */
	fflush(stdout);
	int q[2];
	CHECK(pipe(q) == 0);
	c = fork();
	if (c == 0) {
		/* A fresh process whose pid_for_children is its own. */
		static char stack[1 << 16];
		int fd = q[0];
		pid_t i = clone(run_init, stack + sizeof stack,
				CLONE_NEWPID | SIGCHLD, &fd);
		write(q[1], &i, sizeof i);
		_exit(wait_status(i));
	}
	failures += wait_status(c) != 0;
	close(q[0]);
	close(q[1]);

	/* setns into a live child's namespace, and SIGKILL of its init. */
	int r[2];
	CHECK(pipe(r) == 0);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		CHECK(unshare(CLONE_NEWPID) == 0);
		pid_t init = fork();
		if (init == 0) {
			/* init: make one child that sleeps, then sleep. */
			if (fork() == 0) {
				pause();
				_exit(0);
			}
			write(r[1], "r", 1);
			for (;;)
				pause();
		}
		char x;
		read(r[0], &x, 1);
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/pid", init);
		int nsfd = open(path, O_RDONLY);
		char victim[64];
		ns_link(path, victim, sizeof victim);
		/* A second process joins through setns; its child is there. */
		fflush(stdout);
		pid_t j = fork();
		if (j == 0) {
			printf("setns: into the child's namespace: %s\n",
			       ok_or_errname(setns(nsfd, CLONE_NEWPID)));
			fflush(stdout);
			pid_t k = fork();
			if (k == 0) {
				printf("setns child: getpid %d getppid %d\n",
				       getpid(), getppid());
				fflush(stdout);
				_exit(0);
			}
			wait_status(k);
			_exit(0);
		}
		wait_status(j);
		/* The grandchild's outer pid: the one after init's. */
		DIR *d = opendir("/proc");
		struct dirent *e;
		int members = 0;
		while (d && (e = readdir(d))) {
			int n = atoi(e->d_name);
			if (n <= 0)
				continue;
			char st[64], ns[64];
			snprintf(st, sizeof st, "/proc/%d/ns/pid", n);
			ns_link(st, ns, sizeof ns);
			if (strcmp(ns, victim) == 0)
				members++;
		}
		if (d)
			closedir(d);
		printf("kill: tasks in the namespace before: %d\n", members);
		CHECK(kill(init, SIGKILL) == 0);
		printf("kill: init status %d\n", wait_status(init));
		/* Its other task goes too. */
		for (int tries = 0; tries < 5000; tries++) {
			members = 0;
			d = opendir("/proc");
			while (d && (e = readdir(d))) {
				int n = atoi(e->d_name);
				if (n <= 0)
					continue;
				char st[64], ns[64];
				snprintf(st, sizeof st, "/proc/%d/ns/pid", n);
				ns_link(st, ns, sizeof ns);
				if (strcmp(ns, victim) == 0)
					members++;
			}
			if (d)
				closedir(d);
			if (members == 0)
				break;
			usleep(1000);
		}
		printf("kill: tasks in the namespace after: %d\n", members);
		/* setns back up to an ancestor's namespace: EINVAL from inside
		 * one; here, into its own dead one: fork is ENOMEM. */
		CHECK(setns(nsfd, CLONE_NEWPID) == 0);
		pid_t k = fork();
		if (k == 0)
			_exit(0);
		printf("kill: fork into the dead namespace: %s\n",
		       k < 0 ? strerrorname_np(errno) : "ok");
		fflush(stdout);
		_exit(0);
	}
	wait_status(c);

	/* setns from inside a namespace to its parent's: EINVAL. */
	int outer_ns = open("/proc/self/ns/pid", O_RDONLY);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		if (unshare(CLONE_NEWPID) == 0 && fork() == 0) {
			printf("setns: to the parent's namespace from inside: %s\n",
			       ok_or_errname(setns(outer_ns, CLONE_NEWPID)));
			fflush(stdout);
			_exit(0);
		}
		wait(NULL);
		_exit(0);
	}
	wait_status(c);

	if (failures) {
		printf("%d failures\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
