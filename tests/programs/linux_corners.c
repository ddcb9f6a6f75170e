/* Corners issue 22 names, each as Linux answers it: O_TRUNC on a
 * directory, rename of a directory into itself or onto an ancestor,
 * anonymous MAP_SHARED_VALIDATE, lseek(SEEK_END) on seq_file and sysctl
 * files, kill() with a thread's id, a robust mutex whose owner thread
 * died, and a priority-inheritance mutex. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define T(l, e) do { errno = 0; long r_ = (long)(e); \
	printf("%s: %ld %s\n", l, r_ < 0 ? -1L : r_, r_ < 0 ? strerrorname_np(errno) : "-"); } while (0)

static pthread_mutex_t robust;
static volatile pid_t thread_tid;
static volatile int got_usr1, stop_thread;

static void *hold_and_die(void *a) { (void)a; pthread_mutex_lock(&robust); return NULL; }
static void *idle(void *a) { (void)a; thread_tid = gettid(); while (!stop_thread) usleep(1000); return NULL; }
static void on_usr1(int s) { (void)s; got_usr1 = 1; }

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	char dir[] = "/tmp/corners.XXXXXX";
	if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
	char d[4200], f[4200], sub[4200];
	snprintf(d, sizeof d, "%s/d", dir);
	snprintf(f, sizeof f, "%s/d/f", dir);
	snprintf(sub, sizeof sub, "%s/d/sub", dir);
	mkdir(d, 0755);
	mkdir(sub, 0755);
	close(open(f, O_CREAT | O_WRONLY, 0644));

	T("open(dir, O_RDONLY|O_TRUNC)", open(d, O_RDONLY | O_TRUNC));
	T("open(dir, O_RDONLY|O_CREAT)", open(d, O_RDONLY | O_CREAT, 0644));
	T("rename(d, d/f) onto a file inside it", rename(d, f));
	T("rename(d, d/new) into itself", rename(d, sub));
	T("rename(d/sub, d) onto its ancestor", rename(sub, d));
	T("anonymous MAP_SHARED_VALIDATE", (long)mmap(NULL, 4096, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0));
	int p[2];
	pipe(p);
	char b[8];
	T("pread on a pipe", pread(p[0], b, 1, 0));

	int st = open("/proc/self/status", O_RDONLY);
	T("lseek(/proc/self/status, 0, SEEK_END)", lseek(st, 0, SEEK_END));
	T("lseek(/proc/self/status, 5, SEEK_SET)", lseek(st, 5, SEEK_SET));
	T("lseek(/proc/self/status, 5, SEEK_CUR)", lseek(st, 5, SEEK_CUR));
	int sys = open("/proc/sys/kernel/ostype", O_RDONLY);
	T("lseek(/proc/sys/kernel/ostype, 0, SEEK_END)", lseek(sys, 0, SEEK_END));

	signal(SIGUSR1, on_usr1);
	pthread_t t;
	pthread_create(&t, NULL, idle, NULL);
	while (!thread_tid)
		usleep(1000);
	T("kill(a thread's id, SIGUSR1)", kill(thread_tid, SIGUSR1));
	while (!got_usr1)
		usleep(1000);
	printf("the process got SIGUSR1\n");
	stop_thread = 1;
	pthread_join(t, NULL);

	pthread_mutexattr_t ra;
	pthread_mutexattr_init(&ra);
	pthread_mutexattr_setrobust(&ra, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust, &ra);
	pthread_create(&t, NULL, hold_and_die, NULL);
	pthread_join(t, NULL);
	int r = pthread_mutex_lock(&robust);
	printf("robust mutex after its owner died: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : strerrorname_np(r));
	pthread_mutex_consistent(&robust);
	printf("unlock after consistent: %d\n", pthread_mutex_unlock(&robust));

	pthread_mutexattr_t pa;
	pthread_mutexattr_init(&pa);
	pthread_mutexattr_setprotocol(&pa, PTHREAD_PRIO_INHERIT);
	pthread_mutex_t pm;
	pthread_mutex_init(&pm, &pa);
	int locked = pthread_mutex_lock(&pm);
	int unlocked = pthread_mutex_unlock(&pm);
	printf("PI mutex lock %d unlock %d\n", locked, unlocked);

	unlink(f);
	rmdir(sub);
	rmdir(d);
	rmdir(dir);
	printf("PASS\n");
	return 0;
}
