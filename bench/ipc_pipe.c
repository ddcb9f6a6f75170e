/* bench/ipc: one byte back and forth between two processes over two
 * pipes, N times. Prints the mean round trip. Usage: ipc_pipe N */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	int ping[2], pong[2];
	char c = 'x';
	struct timespec t0, t1;

	if (pipe(ping) || pipe(pong))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		for (long i = 0; i < n; i++)
			if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++)
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int st;
	if (waitpid(pid, &st, 0) != pid || st != 0)
		return 1;
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("pipe ping-pong: %.1f ns/round trip\n", ns / n);
	return 0;
}
