/*
 * A seqpacket sender whose third 100 KB record does not fit in its peer's
 * queue waits one second for the reader. The test measures the CPU time
 * of the whole sandbox meanwhile: a sender must sleep, not spin.
 */
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char rec[100000];

int main(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
		return 1;
	if (fork() == 0) {
		usleep(1000000);
		for (int i = 0; i < 3; i++)
			if (recv(sv[1], rec, sizeof rec, 0) != sizeof rec)
				_exit(1);
		_exit(0);
	}
	int sent = 0;
	for (int i = 0; i < 3; i++)
		sent += send(sv[0], rec, sizeof rec, 0) == sizeof rec;
	int st;
	wait(&st);
	printf("sent %d records, reader %s\n", sent, WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "failed");
	return 0;
}
