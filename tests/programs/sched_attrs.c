// Nice values and CPU affinity as the application sets them: kept per
// thread, inherited by a child, checked as Linux checks them. Prints one
// line per step; the test compares it with the same run on Linux.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void prio(const char *what, int which, id_t who)
{
	errno = 0;
	int p = getpriority(which, who);
	printf("%s: getpriority %d errno %s\n", what, p, errno ? strerror(errno) : "0");
}

static void set(const char *what, int which, id_t who, int nice)
{
	int r = setpriority(which, who, nice);
	printf("%s: setpriority(%d) %d %s\n", what, nice, r, r ? strerror(errno) : "");
}

static void affinity(const char *what, pid_t pid)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	if (sched_getaffinity(pid, sizeof s, &s) != 0) {
		printf("%s: sched_getaffinity %s\n", what, strerror(errno));
		return;
	}
	printf("%s: cpu0 %d, %d cpus\n", what, CPU_ISSET(0, &s), CPU_COUNT(&s));
}

static int run(void)
{
	prio("start", PRIO_PROCESS, 0);
	set("self", PRIO_PROCESS, 0, 5);
	prio("self", PRIO_PROCESS, 0);
	set("clamped", PRIO_PROCESS, 0, 40);
	prio("clamped", PRIO_PROCESS, 0);
	set("back", PRIO_PROCESS, 0, 3);
	// Alone in its process group (see main): the group's best is ours.
	prio("pgrp", PRIO_PGRP, 0);
	set("pgrp", PRIO_PGRP, 0, 4);
	prio("pgrp", PRIO_PGRP, getpgrp());
	prio("no such pid", PRIO_PROCESS, 999999);
	prio("bad which", 7, 0);

	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	affinity("all", 0);
	int r = sched_setaffinity(0, sizeof one, &one);
	printf("set cpu0: %d\n", r);
	affinity("cpu0", 0);
	cpu_set_t none;
	CPU_ZERO(&none);
	r = sched_setaffinity(0, sizeof none, &none);
	printf("set none: %d %s\n", r, strerror(errno));
	affinity("no such pid", 999999);
	r = sched_getaffinity(0, 1, &one);
	printf("short mask: %d %s\n", r, strerror(errno));
	r = sched_getscheduler(-1);
	printf("getscheduler(-1): %d %s\n", r, strerror(errno));
	fflush(stdout);

	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		prio("child", PRIO_PROCESS, 0);
		affinity("child", 0);
		// An unprivileged user may lower its priority, not raise it, and
		// may not touch another user's process.
		if (setuid(1000) != 0)
			return 1;
		set("unprivileged lower", PRIO_PROCESS, 0, 10);
		set("unprivileged raise", PRIO_PROCESS, 0, 0);
		set("other user's", PRIO_PROCESS, parent, 10);
		r = sched_setaffinity(parent, sizeof one, &one);
		printf("other user's affinity: %d %s\n", r, strerror(errno));
		prio("unprivileged", PRIO_PROCESS, 0);
		fflush(stdout);
		return 0;
	}
	int st;
	waitpid(c, &st, 0);
	printf("child status %d\n", WEXITSTATUS(st));
	prio("parent after", PRIO_PROCESS, 0);
	return 0;
}

int main(void)
{
	// In a new session: the process group holds only this test's
	// processes, natively as in the sandbox.
	pid_t c = fork();
	if (c == 0) {
		if (setsid() < 0)
			return 1;
		return run();
	}
	int st;
	waitpid(c, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 1;
	printf("PASS\n");
	return 0;
}
