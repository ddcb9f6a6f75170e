/*
 * POSIX message queues belong to an IPC namespace, as on Linux:
 *  - a queue made in one namespace is not found (ENOENT) after
 *    unshare(CLONE_NEWIPC), and a queue of the same name made there is
 *    another queue;
 *  - an mqueue filesystem mounted in the new namespace lists its queues
 *    only, and one mounted by a task of the first namespace lists the
 *    first namespace's queue with its message count;
 *  - the first namespace's queue keeps its messages throughout.
 * Runs as root (natively too). Prints one line per fact and PASS.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NAME "/kmisc_mq_ns_test"

static char dir[] = "/tmp/mqnsXXXXXX";
static int failed;

static void check(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "yes" : "NO");
	if (!ok)
		failed = 1;
}

/* Mounts mqueue on `dir` in a mount namespace of this process's own. */
static int mount_queues(void)
{
	return unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	       mount("mqueue", dir, "mqueue", 0, NULL) == 0;
}

/* Whether `dir` lists a file named `name` and how many entries it has. */
static int listed(const char *name, int *entries)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	*entries = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		++*entries;
		found |= strcmp(e->d_name, name) == 0;
	}
	closedir(d);
	return found;
}

/* The QSIZE the queue's file shows. */
static long qsize(const char *name)
{
	char path[128], line[160];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	long n = -1;
	if (!f)
		return -1;
	if (fgets(line, sizeof line, f))
		sscanf(line, "QSIZE:%ld", &n);
	fclose(f);
	return n;
}

static int in_child(int (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn());
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int new_namespace(void)
{
	check("unshare(CLONE_NEWIPC)", unshare(CLONE_NEWIPC) == 0);
	errno = 0;
	mqd_t q = mq_open(NAME, O_RDONLY);
	check("the first namespace's queue is not found (ENOENT)", q == (mqd_t)-1 && errno == ENOENT);
	struct mq_attr a = { .mq_maxmsg = 4, .mq_msgsize = 16 };
	q = mq_open(NAME, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	check("a queue of the same name is made here", q != (mqd_t)-1);
	struct mq_attr got;
	check("it is empty and has its own size",
	      mq_getattr(q, &got) == 0 && got.mq_curmsgs == 0 && got.mq_maxmsg == 4);
	check("mqueue mounted in the new namespace", mount_queues());
	int entries;
	check("it lists this namespace's queue", listed(NAME + 1, &entries));
	printf("entries listed in the new namespace: %d\n", entries);
	printf("QSIZE there: %ld\n", qsize(NAME + 1));
	mq_unlink(NAME);
	return failed;
}

static int same_namespace_mount(void)
{
	int entries;
	check("mqueue mounted from the first namespace", mount_queues());
	check("it lists the first namespace's queue", listed(NAME + 1, &entries));
	printf("QSIZE in the first namespace: %ld\n", qsize(NAME + 1));
	return failed;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!mkdtemp(dir))
		return 2;
	mq_unlink(NAME);
	struct mq_attr a = { .mq_maxmsg = 8, .mq_msgsize = 32 };
	mqd_t q = mq_open(NAME, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
	check("a queue in the first namespace", q != (mqd_t)-1);
	check("two messages sent", mq_send(q, "one", 3, 1) == 0 && mq_send(q, "two", 3, 2) == 0);
	check("the new namespace's child passes", in_child(new_namespace) == 0);
	check("a mount from the first namespace passes", in_child(same_namespace_mount) == 0);
	struct mq_attr got;
	check("the first queue still holds two messages",
	      mq_getattr(q, &got) == 0 && got.mq_curmsgs == 2 && got.mq_maxmsg == 8);
	mq_close(q);
	check("unlinked", mq_unlink(NAME) == 0);
	rmdir(dir);
	if (failed)
		return 1;
	printf("PASS\n");
	return 0;
}
