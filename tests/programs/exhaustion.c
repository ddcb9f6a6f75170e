/*
 * Running out, as Linux answers it: descriptors up to RLIMIT_NOFILE
 * (10,000) then EMFILE, and one more once one is closed; processes up to
 * RLIMIT_NPROC then EAGAIN (as a non-root user: argv[1] is the uid to
 * become; the count is bounded, whatever the limit does). Then PASS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOFILE 10000
#define NPROC 40
/* Stop forking here even if the limit does not (a bounded bomb). */
#define MAX_CHILDREN 400

static int files(void)
{
	struct rlimit rl = {NOFILE, NOFILE};
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		perror("setrlimit NOFILE");
		return 0;
	}
	int last = -1, err = 0;
	for (;;) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) {
			err = errno;
			break;
		}
		last = fd;
	}
	printf("open stopped at fd %d with %s\n", last, strerrorname_np(err));
	close(last);
	int again = open("/dev/null", O_RDONLY);
	printf("after a close, open gives fd %d\n", again);
	for (int fd = 3; fd <= last; fd++)
		close(fd);
	return err == EMFILE && last == NOFILE - 1 && again == last;
}

static int processes(uid_t uid)
{
	if (setgid(uid) || setuid(uid)) {
		perror("setuid");
		return 0;
	}
	struct rlimit rl = {NPROC, NPROC};
	if (setrlimit(RLIMIT_NPROC, &rl)) {
		perror("setrlimit NPROC");
		return 0;
	}
	pid_t kids[MAX_CHILDREN];
	int n = 0, err = 0;
	while (n < MAX_CHILDREN) {
		pid_t c = fork();
		if (c < 0) {
			err = errno;
			break;
		}
		if (c == 0) {
			pause();
			_exit(0);
		}
		kids[n++] = c;
	}
	printf("fork stopped %s the limit with %s\n", n < NPROC ? "at" : "past",
	       err ? strerrorname_np(err) : "no error");
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	pid_t c = fork();
	if (c == 0)
		_exit(7);
	int st = 0;
	waitpid(c, &st, 0);
	printf("after the children are gone, fork works: %s\n",
	       c > 0 && WEXITSTATUS(st) == 7 ? "yes" : "no");
	return err == EAGAIN && n < NPROC && c > 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int ok = files();
	ok &= processes(argc > 1 ? (uid_t)atoi(argv[1]) : 65534);
	if (ok)
		printf("PASS\n");
	return !ok;
}
