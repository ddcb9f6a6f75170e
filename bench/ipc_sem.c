/* bench/ipc: two processes hand a turn back and forth through a SysV
 * semaphore set of two (one per direction), N times. Prints the mean
 * round trip. Usage: ipc_sem N */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int op(int id, unsigned short num, short delta)
{
	struct sembuf b = { .sem_num = num, .sem_op = delta };

	return semop(id, &b, 1);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	struct timespec t0, t1;

	if (id < 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		for (long i = 0; i < n; i++)
			if (op(id, 0, -1) || op(id, 1, 1))
				_exit(1);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++)
		if (op(id, 0, 1) || op(id, 1, -1))
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int st;
	int bad = waitpid(pid, &st, 0) != pid || st != 0;
	semctl(id, 0, IPC_RMID);
	if (bad)
		return 1;
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("SysV semaphore ping-pong: %.1f ns/round trip\n", ns / n);
	return 0;
}
