/*
 * Wake-ups that must never be lost, all at once: threads and processes mix
 * futex waits, signals with and without SA_RESTART, wait4/waitid on
 * exiting children, pipe reads and an epoll_wait whose interest list
 * another thread changes while it sleeps. Every part runs a fixed number of
 * rounds; a lost wake-up shows as a hang (the test's timeout) or a wrong
 * count, never as a flaky pass.
 *
 *   epoll    a thread sleeps in epoll_wait(-1) on a set that holds only an
 *            idle eventfd; meanwhile another thread adds a pipe whose writer
 *            is a child that writes and exits (Go's netpoller and os/exec:
 *            the hang of issue 17);
 *   ring     4 threads pass a token through one futex word while a
 *            signaller thread hits them with SIGUSR1 (SA_RESTART) and
 *            SIGUSR2 (no SA_RESTART);
 *   children 3 threads each fork children that exit with a known code and
 *            reap them: waitid(WNOWAIT) then wait4, as Go does, with a
 *            SIGCHLD handler installed;
 *   pipe     a child writes a pipe in small pieces while the reader is
 *            interrupted by SIGUSR2 (read gives EINTR, and is retried).
 *
 * Usage: wakeups [ROUNDS]   (default 200)
 * Prints one line per part and PASS; exits 1 on a wrong result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int rounds = 200;
static int failed;
static atomic_int stop_signaller;
static atomic_int handled;
/* Each part's result line, printed by main in a fixed order. */
static char lines[4][160];

#define RING 4
static pid_t ring_tids[RING + 1];
static atomic_int ring_ready;

static void fail(const char *what)
{
	printf("FAIL: %s (errno %s)\n", what, strerror(errno));
	fflush(stdout);
	failed = 1;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

static void on_sigchld(int sig)
{
	(void)sig;
}

static void install(int sig, void (*h)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0)
		fail("sigaction");
}

static long futex(atomic_int *word, int op, int val)
{
	return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

/* ---- epoll: a descriptor added while another thread sleeps ------------- */

struct epoll_part {
	int epfd;
	int idle;               /* an eventfd nobody writes */
	atomic_int woken;       /* rounds in which the waiter saw the pipe */
};

static void *epoll_waiter(void *arg)
{
	struct epoll_part *p = arg;
	for (;;) {
		struct epoll_event ev[4];
		int n = epoll_wait(p->epfd, ev, 4, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail("epoll_wait");
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == 0)
				return NULL; /* the idle eventfd: told to finish */
			/* Out of the set before the round is counted (and so
			 * before the pipe is closed): each pipe is reported once. */
			if (epoll_ctl(p->epfd, EPOLL_CTL_DEL, (int)ev[i].data.u64, NULL) != 0)
				fail("epoll_ctl DEL");
			atomic_fetch_add(&p->woken, 1);
		}
	}
}

static void *epoll_part(void *arg)
{
	(void)arg;
	struct epoll_part p = {0};
	p.epfd = epoll_create1(EPOLL_CLOEXEC);
	p.idle = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
	if (p.epfd < 0 || p.idle < 0 || epoll_ctl(p.epfd, EPOLL_CTL_ADD, p.idle, &ev) != 0)
		fail("epoll set-up");
	pthread_t w;
	pthread_create(&w, NULL, epoll_waiter, &p);
	for (int r = 0; r < rounds; r++) {
		/* Let the waiter go to sleep first on most rounds. */
		if (r % 4)
			usleep(200);
		int fds[2];
		if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
			fail("pipe2");
			break;
		}
		pid_t c = fork();
		if (c == 0) {
			if (r % 2)
				usleep(300);
			_exit(write(fds[1], "x", 1) == 1 ? 0 : 1);
		}
		close(fds[1]);
		int before = atomic_load(&p.woken);
		struct epoll_event pe = {.events = EPOLLIN | EPOLLET, .data.u64 = (unsigned)fds[0]};
		if (epoll_ctl(p.epfd, EPOLL_CTL_ADD, fds[0], &pe) != 0)
			fail("epoll_ctl ADD");
		/* The waiter must report this pipe: wait for it with a futex-free
		 * poll of the counter, bounded. */
		for (int i = 0; i < 200000 && atomic_load(&p.woken) == before; i++)
			usleep(50);
		if (atomic_load(&p.woken) == before) {
			printf("FAIL: epoll round %d: the waiter never saw the pipe\n", r);
			failed = 1;
		}
		int st;
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail("epoll child");
		close(fds[0]);
	}
	uint64_t one = 1;
	if (write(p.idle, &one, sizeof(one)) != sizeof(one))
		fail("eventfd write");
	pthread_join(w, NULL);
	snprintf(lines[0], sizeof(lines[0]),
		 "epoll: %d descriptors added during epoll_wait, %d reported", rounds,
		 atomic_load(&p.woken));
	close(p.epfd);
	close(p.idle);
	return NULL;
}

/* ---- ring: a futex token and signals ------------------------------------ */

static atomic_int token;
static atomic_long passes;

static void *ring_worker(void *arg)
{
	int me = (int)(long)arg;
	ring_tids[me] = (pid_t)syscall(SYS_gettid);
	atomic_fetch_add(&ring_ready, 1);
	for (int k = 0; k < rounds * 10; k++) {
		int cur;
		while ((cur = atomic_load(&token)) != me) {
			long r = futex(&token, FUTEX_WAIT_PRIVATE, cur);
			if (r != 0 && errno != EAGAIN && errno != EINTR) {
				fail("futex wait");
				return NULL;
			}
		}
		atomic_fetch_add(&passes, 1);
		atomic_store(&token, (me + 1) % RING);
		futex(&token, FUTEX_WAKE_PRIVATE, RING);
	}
	return NULL;
}

/* Sends SIGUSR1 and SIGUSR2 round-robin to the ring's threads and to the
 * pipe reader until told to stop. */
static void *signaller(void *arg)
{
	(void)arg;
	while (atomic_load(&ring_ready) < RING + 1)
		usleep(100);
	pid_t pid = getpid();
	for (unsigned i = 0; !atomic_load(&stop_signaller); i++) {
		int sig = i % 2 ? SIGUSR1 : SIGUSR2;
		syscall(SYS_tgkill, pid, ring_tids[i % (RING + 1)], sig);
		usleep(150);
	}
	return NULL;
}

static void *ring_part(void *arg)
{
	(void)arg;
	pthread_t t[RING];
	for (long i = 0; i < RING; i++)
		pthread_create(&t[i], NULL, ring_worker, (void *)i);
	for (int i = 0; i < RING; i++)
		pthread_join(t[i], NULL);
	snprintf(lines[1], sizeof(lines[1]), "ring: %ld token passes between %d threads under signals",
		 atomic_load(&passes), RING);
	return NULL;
}

/* ---- children: waitid(WNOWAIT) then wait4, with SIGCHLD caught ---------- */

static atomic_int reaped;

static void *children_worker(void *arg)
{
	long me = (long)arg;
	for (int r = 0; r < rounds / 2; r++) {
		int code = (int)((me * 31 + r) % 200);
		pid_t c = fork();
		if (c == 0) {
			if (r % 3 == 0)
				usleep(200);
			_exit(code);
		}
		if (c < 0) {
			fail("fork");
			return NULL;
		}
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		int w;
		do
			w = waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT);
		while (w != 0 && errno == EINTR);
		if (w != 0 || si.si_pid != c || si.si_status != code) {
			fail("waitid WNOWAIT");
			continue;
		}
		int st;
		pid_t got;
		do
			got = wait4(c, &st, 0, NULL);
		while (got < 0 && errno == EINTR);
		if (got != c || !WIFEXITED(st) || WEXITSTATUS(st) != code)
			fail("wait4");
		else
			atomic_fetch_add(&reaped, 1);
	}
	return NULL;
}

static void *children_part(void *arg)
{
	(void)arg;
	pthread_t t[3];
	for (long i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, children_worker, (void *)i);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	snprintf(lines[2], sizeof(lines[2]), "children: %d reaped with their exit codes",
		 atomic_load(&reaped));
	return NULL;
}

/* ---- pipe: reads interrupted by signals --------------------------------- */

static void *pipe_part(void *arg)
{
	(void)arg;
	ring_tids[RING] = (pid_t)syscall(SYS_gettid);
	atomic_fetch_add(&ring_ready, 1);
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		fail("pipe2");
		return NULL;
	}
	int pieces = rounds * 2;
	pid_t c = fork();
	if (c == 0) {
		close(fds[0]);
		char b[7] = "abcdefg";
		for (int i = 0; i < pieces; i++) {
			if (write(fds[1], b, sizeof(b)) != sizeof(b))
				_exit(1);
			if (i % 8 == 0)
				usleep(300);
		}
		_exit(0);
	}
	close(fds[1]);
	long total = 0;
	for (;;) {
		char b[64];
		ssize_t n = read(fds[0], b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail("pipe read");
			break;
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fds[0]);
	int st;
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	snprintf(lines[3], sizeof(lines[3]), "pipe: %ld bytes read through signals, writer exited %d",
		 total, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		rounds = atoi(argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	install(SIGUSR1, on_signal, SA_RESTART);
	install(SIGUSR2, on_signal, 0);
	install(SIGCHLD, on_sigchld, SA_RESTART);

	pthread_t sig;
	pthread_create(&sig, NULL, signaller, NULL);
	void *(*parts[])(void *) = {epoll_part, ring_part, children_part, pipe_part};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, parts[i], NULL);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		printf("%s\n", lines[i]);
	}
	atomic_store(&stop_signaller, 1);
	pthread_join(sig, NULL);
	if (atomic_load(&handled) == 0)
		fail("no signal was handled");
	if (failed)
		return 1;
	printf("PASS\n");
	return 0;
}
