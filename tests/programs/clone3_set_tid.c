/*
 * clone3(2)'s set_tid and set_tid_size, as root, only in PID namespaces
 * the program makes (the outermost one is the host's natively):
 *   - the argument rules: set_tid without a size, a size without set_tid,
 *     more than 32 ids, more ids than the namespace has levels: EINVAL;
 *   - the task gets exactly the id asked for (getpid and clone3's answer),
 *     the ordinary ids go on from where they were (a chosen id does not
 *     move the cursor);
 *   - an id in use (another task's, init's 1) is EEXIST; 0, negative and
 *     past PID_MAX_LIMIT are EINVAL;
 *   - CLONE_NEWPID with set_tid {1, N}: init of the new namespace, N in
 *     the caller's; an id other than 1 for a new namespace is EINVAL; an
 *     id in a namespace with an init, from inside it, for two levels;
 *   - EPERM for a level whose PID namespace's owner the caller has no
 *     CAP_SYS_ADMIN over (after unshare(CLONE_NEWUSER)), checked level by
 *     level from the innermost.
 * Prints only ids inside those namespaces, which are the same each run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef CLONE_ARGS_SIZE_VER1
#define CLONE_ARGS_SIZE_VER1 80
#endif

/* clone3 with `flags` and `n` ids from `tids` (NULL allowed); the child
 * runs `child` and exits with what it returns. */
static long clone_tids(uint64_t flags, pid_t *tids, size_t n,
		       int (*child)(void))
{
	struct clone_args a;
	memset(&a, 0, sizeof a);
	a.flags = flags;
	a.exit_signal = SIGCHLD;
	a.set_tid = (uintptr_t)tids;
	a.set_tid_size = n;
	long r = syscall(SYS_clone3, &a, CLONE_ARGS_SIZE_VER1);
	if (r == 0) {
		fflush(stdout);
		_exit(child ? child() : 0);
	}
	return r;
}

static int reap(long pid)
{
	int st = 0;
	if (pid <= 0)
		return -1;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The child's own pid as its exit status (all ids here are small). */
static int own_pid(void)
{
	return getpid();
}

static int hold_fd = -1, hold_wfd = -1;

/* Waits until the parent closes the pipe's write end. */
static int hold(void)
{
	char c;
	close(hold_wfd);
	while (read(hold_fd, &c, 1) > 0)
		;
	return 0;
}

/* The init of a namespace made with set_tid {1, ..}: one more child
 * with a chosen id in its namespace and in the one above. */
static int nested_init(void)
{
	printf("nested init: getpid %d getppid %d\n", getpid(), getppid());
	pid_t two[] = {9, 72};
	long r = clone_tids(0, two, 2, own_pid);
	printf("nested {9,72}: %s %ld, child exit %d\n", ok_or_errname(r), r, reap(r));
	pid_t one[] = {9};
	r = clone_tids(0, one, 1, own_pid);
	printf("nested {9} again: %s %ld, child exit %d\n", ok_or_errname(r), r,
	       reap(r));
	return 0;
}

/* A process that left the init user namespace: it has no capability
 * over the PID namespaces made before. */
static int unprivileged(void)
{
	CHECK(unshare(CLONE_NEWUSER) == 0);
	pid_t id[] = {80};
	long r = clone_tids(0, id, 1, own_pid);
	printf("userns {80}: %s\n", ok_or_errname(r));
	reap(r);
	CHECK(unshare(CLONE_NEWPID) == 0);
	pid_t deep[] = {1, 81};
	r = clone_tids(0, deep, 2, own_pid);
	printf("userns new pidns {1,81}: %s\n", ok_or_errname(r));
	reap(r);
	pid_t first[] = {1};
	r = clone_tids(0, first, 1, own_pid);
	printf("userns new pidns {1}: %s %ld, child exit %d\n", ok_or_errname(r), r,
	       reap(r));
	return 0;
}

/* The levels of PID namespaces this process is in (NSpid's fields). */
static int levels(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = 0;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "NSpid:", 6) == 0)
			for (char *p = strtok(line + 6, " \t\n"); p;
			     p = strtok(NULL, " \t\n"))
				n++;
	if (f)
		fclose(f);
	return n;
}

/* PID 1 of a fresh namespace. */
static int inside(void)
{
	int depth = levels();
	printf("init: getpid %d\n", getpid());

	int p[2];
	CHECK(pipe(p) == 0);
	hold_fd = p[0];
	hold_wfd = p[1];
	pid_t fifty[] = {50};
	long held = clone_tids(0, fifty, 1, hold);
	printf("{50}: %s %ld\n", ok_or_errname(held), held);
	long r = clone_tids(0, fifty, 1, own_pid);
	printf("{50} while taken: %s\n", ok_or_errname(r));
	reap(r);
	pid_t one[] = {1};
	r = clone_tids(0, one, 1, own_pid);
	printf("{1} with an init: %s\n", ok_or_errname(r));
	reap(r);
	pid_t bad[] = {0, -5, 5000000};
	for (int i = 0; i < 3; i++) {
		r = clone_tids(0, &bad[i], 1, own_pid);
		printf("{%d}: %s\n", bad[i], ok_or_errname(r));
		reap(r);
	}
	pid_t many[40] = {51};
	r = clone_tids(0, many, depth + 1, own_pid);
	printf("one id more than the levels: %s\n", ok_or_errname(r));
	reap(r);
	close(p[1]);
	close(p[0]);
	printf("held child exit %d\n", reap(held));

	r = clone_tids(0, NULL, 0, own_pid);
	printf("next ordinary id %ld (exit %d)\n", r, reap(r));

	pid_t init_and_outer[] = {1, 70};
	r = clone_tids(CLONE_NEWPID, init_and_outer, 2, nested_init);
	printf("CLONE_NEWPID {1,70}: %s %ld, exit %d\n", ok_or_errname(r), r, reap(r));
	pid_t no_init[] = {2, 73};
	r = clone_tids(CLONE_NEWPID, no_init, 2, own_pid);
	printf("CLONE_NEWPID {2,73}: %s\n", ok_or_errname(r));
	reap(r);
	r = clone_tids(CLONE_NEWPID, one, 1, own_pid);
	printf("CLONE_NEWPID {1}: %s, child exit %d\n", ok_or_errname(r), reap(r));

	r = clone_tids(0, NULL, 0, unprivileged);
	printf("unprivileged exit %d\n", reap(r));
	fflush(stdout);
	return failures;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pid_t one[] = {1};
	long r = clone_tids(0, NULL, 1, own_pid);
	printf("set_tid NULL, size 1: %s\n", ok_or_errname(r));
	r = clone_tids(0, one, 0, own_pid);
	printf("set_tid, size 0: %s\n", ok_or_errname(r));
	pid_t many[40] = {1};
	r = clone_tids(0, many, 33, own_pid);
	printf("33 ids: %s\n", ok_or_errname(r));

	CHECK(unshare(CLONE_NEWPID) == 0);
	r = clone_tids(0, NULL, 0, inside);
	int st = reap(r);
	printf("inside exit %d\n", st);
	if (st != 0 || failures)
		return 1;
	printf("PASS\n");
	return 0;
}
