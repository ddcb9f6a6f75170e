/* bench/ipc: a parent and a child send each other SIGUSR1 with kill(2),
 * each waiting in sigsuspend(2) for its handler to run, N times. Prints
 * the mean round trip. Usage: ipc_signal N */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	(void)sig;
	got = 1;
}

/* Waits, SIGUSR1 unblocked, until the handler has run. */
static void await(const sigset_t *open)
{
	while (!got)
		sigsuspend(open);
	got = 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	sigset_t usr1, open;
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct timespec t0, t1;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &open);
	sigdelset(&open, SIGUSR1);
	sigaction(SIGUSR1, &sa, NULL);
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
		for (long i = 0; i < n; i++) {
			await(&open);
			if (kill(parent, SIGUSR1))
				_exit(1);
		}
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		if (kill(pid, SIGUSR1))
			return 1;
		await(&open);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int st;
	if (waitpid(pid, &st, 0) != pid || st != 0)
		return 1;
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("signal round trip: %.1f ns/round trip\n", ns / n);
	return 0;
}
