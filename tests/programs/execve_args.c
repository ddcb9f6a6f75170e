/*
 * execve() of this same program with a chosen argv and envp; the new image
 * prints what it received. Also checked across the exec: the pid stays the
 * same, close-on-exec descriptors are closed and others kept, a caught
 * signal is reset to SIG_DFL while an ignored one stays ignored.
 *
 * Run it with an absolute path (argv[0] is the file it re-executes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static void on_usr2(int sig)
{
	(void)sig;
}

static unsigned long checksum(const char *s)
{
	unsigned long h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static int child(int argc, char **argv)
{
	int failures = 0;
	struct sigaction sa;

	printf("argc %d\n", argc);
	for (int i = 1; i < argc; i++) {
		if (i == 2)
			printf("argv[2] (the pid before execve)\n");
		else if (strlen(argv[i]) > 64)
			printf("argv[%d] %zu bytes, checksum %lu\n", i, strlen(argv[i]), checksum(argv[i]));
		else
			printf("argv[%d] \"%s\"\n", i, argv[i]);
	}
	printf("argv[argc] is NULL: %s\n", argv[argc] == NULL ? "yes" : "no");
	int n = 0;
	for (char **e = environ; *e; e++, n++) {
		if (strlen(*e) > 64)
			printf("envp[%d] %zu bytes, checksum %lu\n", n, strlen(*e), checksum(*e));
		else
			printf("envp[%d] \"%s\"\n", n, *e);
	}
	printf("envc %d\n", n);
	const char *v = getenv("TEST_SPACES");
	printf("getenv(TEST_SPACES) \"%s\"\n", v ? v : "(null)");

	/* argv[1] is "child", argv[2] the pid before exec. */
	int same_pid = atoi(argv[2]) == (int)getpid();
	printf("same pid after execve: %s\n", same_pid ? "yes" : "no");
	failures += !same_pid;

	int kept = fcntl(10, F_GETFD) == 0;
	errno = 0;
	int closed = fcntl(11, F_GETFD) == -1 && errno == EBADF;
	printf("fd without FD_CLOEXEC kept: %s, fd with FD_CLOEXEC closed: %s\n",
	       kept ? "yes" : "no", closed ? "yes" : "no");
	failures += !kept + !closed;

	sigaction(SIGUSR1, NULL, &sa);
	int ignored = sa.sa_handler == SIG_IGN;
	sigaction(SIGUSR2, NULL, &sa);
	int reset = sa.sa_handler == SIG_DFL;
	printf("ignored signal stays ignored: %s, caught signal reset to default: %s\n",
	       ignored ? "yes" : "no", reset ? "yes" : "no");
	failures += !ignored + !reset;

	printf(failures ? "FAIL\n" : "PASS\n");
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	static char big_arg[20001], big_env[10001];
	char pid[32];

	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return child(argc, argv);

	memset(big_arg, 'A', sizeof(big_arg) - 1);
	for (size_t i = 0; i < sizeof(big_arg) - 1; i += 7)
		big_arg[i] = 'a' + i % 26;
	strcpy(big_env, "TEST_BIG=");
	memset(big_env + 9, 'e', sizeof(big_env) - 10);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());

	char *args[] = { argv[0], "child", pid, "", "two words", "quote\"d",
			 "tab\there", "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93", big_arg, "last", NULL };
	char *envp[] = { "TEST_A=1", "TEST_EMPTY=", "TEST_SPACES=a b  c",
			 "NOEQUALS", "TEST_A=duplicate", big_env, NULL };

	/* fd 10 survives exec, fd 11 is close-on-exec. */
	int fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, 10) != 10 || dup3(fd, 11, O_CLOEXEC) != 11) {
		printf("FAIL: setting up descriptors: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, on_usr2);

	fflush(stdout);
	execve(argv[0], args, envp);
	printf("FAIL: execve %s: %s\n", argv[0], strerror(errno));
	return 1;
}
