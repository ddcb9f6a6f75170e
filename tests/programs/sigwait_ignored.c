/*
 * A blocked signal whose default action is to ignore it (SIGCHLD,
 * SIGURG, SIGWINCH) is still queued, so sigtimedwait takes it, even
 * though the wait itself unblocks what it waits for (trinity's main loop
 * reaps its children this way; a sandbox that dropped the SIGCHLD left
 * them zombies). Then PASS.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int wait_for(int sig, pid_t from)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	struct timespec ts = {5, 0};
	siginfo_t si;
	int r = sigtimedwait(&set, &si, &ts);
	printf("%-16s sigtimedwait %s, from the sender %s\n", strsignal(sig),
	       r == sig ? "took it" : "did not", r == sig && si.si_pid == from ? "yes" : "no");
	return r == sig;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGURG);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int ok = 1;

	/* The child exits while the parent already waits. */
	pid_t c = fork();
	if (c == 0) {
		usleep(100000);
		_exit(3);
	}
	ok &= wait_for(SIGCHLD, c);
	int st;
	waitpid(c, &st, 0);
	printf("child exit status %d\n", WEXITSTATUS(st));

	/* Sent before the wait: pending, then taken. */
	kill(getpid(), SIGURG);
	sigset_t pend;
	sigpending(&pend);
	printf("SIGURG pending while blocked: %s\n", sigismember(&pend, SIGURG) ? "yes" : "no");
	ok &= wait_for(SIGURG, getpid());

	/* Sent by another process during the wait. */
	pid_t parent = getpid();
	c = fork();
	if (c == 0) {
		usleep(100000);
		kill(parent, SIGWINCH);
		_exit(0);
	}
	ok &= wait_for(SIGWINCH, c);
	waitpid(c, &st, 0);
	if (ok)
		printf("PASS\n");
	return !ok;
}
