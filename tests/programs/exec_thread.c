/*
 * execve from a thread that is not the thread-group leader. Linux kills
 * every other thread, gives the caller the leader's pid, and the new image
 * runs as a single-threaded process: getpid() == gettid() == the old pid,
 * /proc/self/status shows "Threads: 1", /proc/self/task one entry, the
 * parent unchanged, and a parent waiting on the pid sees the new image's
 * exit status and nothing else.
 *
 * Cases: the other threads (the leader among them) asleep in pthread_join
 * (a futex), in FUTEX_WAIT on a word nobody wakes, in read() on a pipe
 * nobody writes, in nanosleep, and spinning; an execve that fails leaves
 * every thread running.
 *
 * Run it with an absolute path (argv[0] is the file it re-executes).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *self;
static int failures;

#define CHECK(cond, what)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("FAIL %s\n", what);                             \
			failures++;                                            \
		}                                                              \
	} while (0)

static int status_field(const char *name)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	int v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, strlen(name)) && line[strlen(name)] == ':')
			v = atoi(line + strlen(name) + 1);
	fclose(f);
	return v;
}

static int task_entries(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The new image: argv = self, "after", case, old pid, old ppid, old tid. */
static int after(char **argv)
{
	pid_t oldpid = atoi(argv[3]), oldppid = atoi(argv[4]), oldtid = atoi(argv[5]);

	printf("%s: new image runs\n", argv[2]);
	CHECK(getpid() == oldpid, "getpid is the old pid");
	CHECK(syscall(SYS_gettid) == oldpid, "gettid is the old pid");
	CHECK(getppid() == oldppid, "getppid unchanged");
	CHECK(oldtid != oldpid, "the exec came from a thread that was not the leader");
	CHECK(status_field("Threads") == 1, "Threads: 1");
	CHECK(status_field("Pid") == oldpid, "Pid: old pid");
	CHECK(status_field("Tgid") == oldpid, "Tgid: old pid");
	CHECK(task_entries() == 1, "one entry in /proc/self/task");
	/* The thread's old id is gone with it. */
	errno = 0;
	CHECK(syscall(SYS_tgkill, oldpid, oldtid, 0) == -1 && errno == ESRCH,
	      "tgkill of the exec'ing thread's old tid is ESRCH");
	fflush(stdout);
	return failures ? 1 : 42;
}

enum block { JOIN, FUTEX, PIPE, SLEEP, SPIN, NBLOCK };
static const char *block_names[] = { "join", "futex", "pipe", "sleep", "spin" };

static enum block how;
static int pipefd[2];
static unsigned futex_word;
static volatile int spin;
static pthread_t leader;

static void *blocker(void *arg)
{
	(void)arg;
	switch (how) {
	case FUTEX:
		syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
		break;
	case PIPE: {
		char c;
		if (read(pipefd[0], &c, 1) < 0)
			perror("read");
		break;
	}
	case SLEEP:
		sleep(100);
		break;
	case SPIN:
		while (!spin)
			;
		break;
	default:
		pause();
	}
	return NULL;
}

static void *exec_from_thread(void *arg)
{
	char pid[16], ppid[16], tid[16];
	char *argv[] = { self, "after", (char *)arg, pid, ppid, tid, NULL };

	/* Let the others fall asleep first. */
	usleep(100 * 1000);
	snprintf(pid, sizeof(pid), "%d", getpid());
	snprintf(ppid, sizeof(ppid), "%d", getppid());
	snprintf(tid, sizeof(tid), "%ld", syscall(SYS_gettid));
	execv(self, argv);
	perror("execv");
	_exit(3);
}

/* In a child: threads asleep as `how` says (the leader in the same way, or
 * joining), then a thread execs. */
static void child(void)
{
	pthread_t t[3], e;

	leader = pthread_self();
	if (pipe(pipefd) < 0)
		_exit(4);
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, blocker, NULL);
	pthread_create(&e, NULL, exec_from_thread, (void *)block_names[how]);
	if (how == JOIN)
		pthread_join(e, NULL);
	else
		blocker(NULL);
	_exit(5);
}

static void *failing_exec(void *arg)
{
	char *argv[] = { "/nonexistent/x", NULL };

	(void)arg;
	execv(argv[0], argv);
	return (void *)(long)errno;
}

static void *counter(void *arg)
{
	for (int i = 0; i < 1000; i++)
		__atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc > 5 && !strcmp(argv[1], "after"))
		return after(argv);
	setvbuf(stdout, NULL, _IONBF, 0);

	for (how = JOIN; how < NBLOCK; how++) {
		pid_t pid = fork();
		int st;

		if (pid == 0)
			child();
		pid_t w = waitpid(pid, &st, 0);
		printf("%s: waitpid %s, exited %d code %d\n", block_names[how],
		       w == pid ? "got the child" : "other", WIFEXITED(st),
		       WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
		/* Nothing else to report: the exec did not look like an exit. */
		errno = 0;
		CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD, "no other child");
	}

	/* A failed execve from a thread changes nothing. */
	pthread_t t, c;
	void *r;
	int count = 0;
	pthread_create(&t, NULL, failing_exec, NULL);
	pthread_join(t, &r);
	printf("failed execve from a thread: %s\n", strerror((int)(long)r));
	pthread_create(&c, NULL, counter, &count);
	pthread_join(c, NULL);
	printf("threads still run: %d\n", count);

	printf(failures ? "FAILED\n" : "PASS\n");
	return failures != 0;
}
