/*
 * fork() + wait: exit codes, deaths by signal (WIFSIGNALED/WTERMSIG), stop
 * and continue (WUNTRACED/WCONTINUED), WNOHANG, ECHILD, getppid in the child
 * and a grandchild reaped by its own parent. Prints one line per status;
 * never prints a pid, so native and sandboxed output are identical.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void describe(const char *what, int status)
{
	printf("%-22s ", what);
	if (WIFEXITED(status))
		printf("exited, status %d\n", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("killed by signal %d (%s)\n", WTERMSIG(status),
		       strsignal(WTERMSIG(status)));
	else if (WIFSTOPPED(status))
		printf("stopped by signal %d (%s)\n", WSTOPSIG(status),
		       strsignal(WSTOPSIG(status)));
	else if (WIFCONTINUED(status))
		printf("continued\n");
	else
		printf("unknown status 0x%x\n", status);
}

/* No core files on the host when a child dies of SIGSEGV or SIGABRT. */
static void no_core_dumps(void)
{
	struct rlimit zero = { 0, 0 };

	setrlimit(RLIMIT_CORE, &zero);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

enum action { EXIT_0, EXIT_1, EXIT_42, EXIT_255, RETURN_FROM_MAIN_7,
	      SIGKILL_SELF, SIGTERM_SELF, SIGUSR1_SELF, NULL_DEREF, ABORT };

static const char *names[] = {
	"exit(0)", "exit(1)", "exit(42)", "exit(255)", "_exit(7)",
	"kill(self, SIGKILL)", "kill(self, SIGTERM)", "kill(self, SIGUSR1)",
	"NULL dereference", "abort()",
};

static void child_body(enum action a)
{
	switch (a) {
	case EXIT_0: exit(0);
	case EXIT_1: exit(1);
	case EXIT_42: exit(42);
	case EXIT_255: exit(255);
	case RETURN_FROM_MAIN_7: _exit(7);
	case SIGKILL_SELF: kill(getpid(), SIGKILL); break;
	case SIGTERM_SELF: kill(getpid(), SIGTERM); break;
	case SIGUSR1_SELF: kill(getpid(), SIGUSR1); break;
	case NULL_DEREF: {
		volatile int *p = NULL;
		no_core_dumps();
		*p = 1;
		break;
	}
	case ABORT:
		no_core_dumps();
		abort();
	}
	_exit(99); /* not reached */
}

static void statuses(void)
{
	static const int want_exit[] = { 0, 1, 42, 255, 7 };
	static const int want_sig[] = { SIGKILL, SIGTERM, SIGUSR1, SIGSEGV, SIGABRT };

	for (int a = EXIT_0; a <= ABORT; a++) {
		int status;
		pid_t pid = fork();

		CHECK(pid >= 0);
		if (pid == 0)
			child_body(a);
		CHECK(waitpid(pid, &status, 0) == pid);
		describe(names[a], status);
		if (a <= RETURN_FROM_MAIN_7) {
			CHECK(WIFEXITED(status));
			CHECK(WEXITSTATUS(status) == want_exit[a]);
		} else {
			CHECK(WIFSIGNALED(status));
			CHECK(WTERMSIG(status) == want_sig[a - SIGKILL_SELF]);
		}
	}
}

/* Children reaped in any order with wait(); the sum of codes is fixed. */
static void wait_any(void)
{
	int sum = 0, n = 0, status;
	pid_t pid;

	for (int i = 1; i <= 5; i++) {
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			_exit(i * 10);
	}
	while ((pid = wait(&status)) > 0) {
		CHECK(WIFEXITED(status));
		sum += WEXITSTATUS(status);
		n++;
	}
	CHECK(errno == ECHILD);
	printf("wait() reaped %d children, exit codes sum %d, then %s\n", n, sum,
	       errno == ECHILD ? "ECHILD" : strerror(errno));
	CHECK(n == 5 && sum == 150);
}

/* WNOHANG before the child exits returns 0; the child's getppid is us. */
static void nohang_and_ppid(void)
{
	int go[2], status;
	char c = 0;
	pid_t parent = getpid(), pid;

	CHECK(pipe(go) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(98);
		_exit(getppid() == parent ? 0 : 97);
	}
	close(go[0]);
	pid_t r = waitpid(pid, &status, WNOHANG);
	printf("waitpid(WNOHANG) on a running child returns %d\n", (int)r);
	CHECK(r == 0);
	CHECK(write(go[1], &c, 1) == 1);
	close(go[1]);
	CHECK(waitpid(pid, &status, 0) == pid);
	describe("child checks getppid()", status);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* SIGSTOP is reported with WUNTRACED, SIGCONT with WCONTINUED. */
static void stop_continue(void)
{
	int status;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	CHECK(kill(pid, SIGSTOP) == 0);
	CHECK(waitpid(pid, &status, WUNTRACED) == pid);
	describe("SIGSTOP", status);
	CHECK(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP);
	CHECK(kill(pid, SIGCONT) == 0);
	CHECK(waitpid(pid, &status, WCONTINUED) == pid);
	describe("SIGCONT", status);
	CHECK(WIFCONTINUED(status));
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	describe("SIGKILL", status);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* A child forks a grandchild and reports the grandchild's status as its own. */
static void grandchild(void)
{
	int status;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		int st;
		pid_t g = fork();
		if (g < 0)
			_exit(96);
		if (g == 0)
			_exit(33);
		if (waitpid(g, &st, 0) != g || !WIFEXITED(st))
			_exit(95);
		_exit(WEXITSTATUS(st) + 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	describe("grandchild 33, +1", status);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 34);
}

int main(void)
{
	int status;

	setvbuf(stdout, NULL, _IONBF, 0); /* children must not repeat buffered output */
	statuses();
	wait_any();
	nohang_and_ppid();
	stop_continue();
	grandchild();
	errno = 0;
	CHECK(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD);
	printf("waitpid with no children: %s\n", errno == ECHILD ? "ECHILD" : strerror(errno));
	printf(failures ? "FAIL\n" : "PASS\n");
	return failures ? 1 : 0;
}
