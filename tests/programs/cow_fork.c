/*
 * fork() shares private memory copy-on-write: facts about Linux that hold
 * whatever the mechanism.
 *
 *   - a store by the child is not seen by the parent, and the reverse, in
 *     globals, the heap (brk and malloc), anonymous mappings and the stack;
 *   - stores the kernel makes for a process (read(2) into a buffer) after
 *     the fork stay in that process;
 *   - MAP_SHARED memory (anonymous, memfd) stays shared across the fork;
 *   - threads of the parent keep running (and locking a mutex) while it
 *     forks, and the child sees memory as it was at the fork;
 *   - madvise(MADV_DONTNEED), mprotect, mremap, munmap and brk in one
 *     process leave the other's copy alone, and a grandchild's stores stay
 *     its own;
 *   - memory is not duplicated until written: the proportional set size
 *     (smaps Pss) of a 32 MiB region is half of it in each process while
 *     both share it, 3/4 after the child rewrote half of it. Printed in
 *     MiB: a copy-on-write fault may copy a few neighbouring pages too.
 *
 * Prints one line per fact; no pids or addresses, so native and sandboxed
 * output are identical.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("FAIL line %d: %s\n", __LINE__, #cond);         \
			fflush(stdout);                                        \
			failures++;                                            \
		}                                                              \
	} while (0)

static char global_buf[3 * 4096] = {1};

/* Waits for a child and returns its exit status (or 100 + signal). */
static int reap(pid_t p)
{
	int st;
	if (waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void fill(volatile char *p, size_t n, char c)
{
	for (size_t i = 0; i < n; i += 512)
		p[i] = c;
}

static int all(volatile char *p, size_t n, char c)
{
	for (size_t i = 0; i < n; i += 512)
		if (p[i] != c)
			return 0;
	return 1;
}

/* Child and parent each store into every kind of private memory; each
 * must see only its own stores. */
static void private_stores(void)
{
	size_t big = 4 << 20;
	char *heap = malloc(big);
	char *anon = mmap(NULL, big, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *brk0 = sbrk(64 * 1024);
	/* Small enough for a fork to copy it at once rather than share it. */
	char *small = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile char stack[8192];
	fill(heap, big, 'p');
	fill(anon, big, 'p');
	fill(brk0, 64 * 1024, 'p');
	fill(small, 8192, 'p');
	fill(stack, sizeof stack, 'p');
	fill(global_buf, sizeof global_buf, 'p');

	int to_parent[2], to_child[2];
	CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0);
	pid_t p = fork();
	if (p == 0) {
		fill(heap, big, 'c');
		fill(anon, big, 'c');
		fill(brk0, 64 * 1024, 'c');
		fill(small, 8192, 'c');
		fill(stack, sizeof stack, 'c');
		fill(global_buf, sizeof global_buf, 'c');
		char x = 1;
		write(to_parent[1], &x, 1);
		read(to_child[0], &x, 1);
		/* The parent has stored 'P' everywhere by now. */
		int ok = all(heap, big, 'c') && all(anon, big, 'c') &&
			 all(brk0, 64 * 1024, 'c') && all(small, 8192, 'c') &&
			 all(stack, sizeof stack, 'c') &&
			 all(global_buf, sizeof global_buf, 'c');
		_exit(ok ? 0 : 1);
	}
	char x;
	read(to_parent[0], &x, 1);
	int ok = all(heap, big, 'p') && all(anon, big, 'p') &&
		 all(brk0, 64 * 1024, 'p') && all(small, 8192, 'p') &&
		 all(stack, sizeof stack, 'p') &&
		 all(global_buf, sizeof global_buf, 'p');
	printf("parent does not see the child's stores: %s\n", ok ? "yes" : "no");
	fill(heap, big, 'P');
	fill(anon, big, 'P');
	fill(brk0, 64 * 1024, 'P');
	fill(small, 8192, 'P');
	fill(stack, sizeof stack, 'P');
	fill(global_buf, sizeof global_buf, 'P');
	write(to_child[1], &x, 1);
	printf("child does not see the parent's stores: %s\n",
	       reap(p) == 0 ? "yes" : "no");
	CHECK(all(heap, big, 'P') && all(small, 8192, 'P') &&
	      all(global_buf, sizeof global_buf, 'P'));
	munmap(anon, big);
	munmap(small, 8192);
	free(heap);
	close(to_parent[0]);
	close(to_parent[1]);
	close(to_child[0]);
	close(to_child[1]);
}

/* read(2) stores into the caller's pages: after a fork, into its own. */
static void kernel_stores(void)
{
	static char buf[8192];
	memset(buf, 'p', sizeof buf);
	int fds[2];
	CHECK(pipe(fds) == 0);
	pid_t p = fork();
	if (p == 0) {
		char msg[sizeof buf];
		memset(msg, 'k', sizeof msg);
		CHECK(write(fds[1], msg, sizeof msg) == sizeof msg);
		CHECK(read(fds[0], buf, sizeof buf) == sizeof buf);
		_exit(all(buf, sizeof buf, 'k') ? 0 : 1);
	}
	int child = reap(p);
	printf("read(2) in the child fills the child's buffer: %s\n",
	       child == 0 ? "yes" : "no");
	printf("and leaves the parent's alone: %s\n",
	       all(buf, sizeof buf, 'p') ? "yes" : "no");
	/* The other way round: the parent reads while the child lives. */
	int go[2];
	CHECK(pipe(go) == 0);
	p = fork();
	if (p == 0) {
		char x;
		read(go[0], &x, 1);
		_exit(all(buf, sizeof buf, 'p') ? 0 : 1);
	}
	char msg[sizeof buf];
	memset(msg, 'r', sizeof msg);
	CHECK(write(fds[1], msg, sizeof msg) == sizeof msg);
	CHECK(read(fds[0], buf, sizeof buf) == sizeof buf);
	write(go[1], "x", 1);
	printf("read(2) in the parent leaves the child's buffer alone: %s\n",
	       reap(p) == 0 ? "yes" : "no");
	CHECK(all(buf, sizeof buf, 'r'));
	/* A host file read straight into the child's pages (the Sentry's
	 * fast path for files the Gofer serves) copies them first too. */
	memset(buf, 'p', sizeof buf);
	p = fork();
	if (p == 0) {
		int f = open("/proc/self/exe", O_RDONLY);
		struct iovec iov[2] = { { buf, 4096 }, { buf + 4096, 4096 } };
		ssize_t n = readv(f, iov, 2);
		ssize_t m = pread(f, buf + 100, 4, 0);
		_exit(n == sizeof buf && m == 4 && memcmp(buf, "\177ELF", 4) == 0 && memcmp(buf + 100, "\177ELF", 4) == 0 ? 0 : 1);
	}
	printf("a host file read in the child fills the child's buffer: %s\n",
	       reap(p) == 0 ? "yes" : "no");
	printf("and leaves the parent's alone: %s\n", all(buf, sizeof buf, 'p') ? "yes" : "no");
	close(fds[0]);
	close(fds[1]);
	close(go[0]);
	close(go[1]);
}

static void shared_stays_shared(void)
{
	char *anon = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int mfd = memfd_create("cow", 0);
	CHECK(ftruncate(mfd, 65536) == 0);
	char *mem = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	fill(anon, 65536, 'p');
	fill(mem, 65536, 'p');
	pid_t p = fork();
	if (p == 0) {
		fill(anon, 65536, 'c');
		fill(mem, 65536, 'c');
		_exit(0);
	}
	reap(p);
	printf("MAP_SHARED anonymous memory stays shared: %s\n",
	       all(anon, 65536, 'c') ? "yes" : "no");
	printf("MAP_SHARED memfd memory stays shared: %s\n",
	       all(mem, 65536, 'c') ? "yes" : "no");
	munmap(anon, 65536);
	munmap(mem, 65536);
	close(mfd);
}

static volatile int stop_threads;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile long counter;
static char thread_page[2][4096];

static void *worker(void *arg)
{
	long id = (long)arg;
	while (!stop_threads) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
		thread_page[id][counter % 4096] = (char)counter;
	}
	return NULL;
}

static void threads_keep_running(void)
{
	pthread_t t[2];
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	int frozen = 1, progress = 1;
	for (int i = 0; i < 50; i++) {
		long before = counter;
		pid_t p = fork();
		if (p == 0) {
			/* No threads here; the parent's must not reach us. */
			long c1 = counter;
			usleep(2000);
			_exit(counter == c1 ? 0 : 1);
		}
		if (reap(p) != 0)
			frozen = 0;
		/* The parent's threads went on during and after the fork. */
		struct timespec ts = {0, 1000000};
		for (int spin = 0; counter == before && spin < 5000; spin++)
			nanosleep(&ts, NULL);
		if (counter == before)
			progress = 0;
	}
	stop_threads = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("the child sees memory as at the fork: %s\n", frozen ? "yes" : "no");
	printf("the parent's threads keep running and locking: %s\n",
	       progress ? "yes" : "no");
}

static void changes_stay_in_one_process(void)
{
	size_t n = 1 << 20;
	char *a = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(a, n, 'p');
	pid_t p = fork();
	if (p == 0) {
		int ok = 1;
		madvise(a, n / 2, MADV_DONTNEED);
		ok &= all(a, n / 2, 0) && all(a + n / 2, n / 2, 'p');
		mprotect(a, n, PROT_READ);
		mprotect(a, n, PROT_READ | PROT_WRITE);
		fill(a + n / 2, n / 2, 'c');
		char *b = mremap(a, n, 4 * n, MREMAP_MAYMOVE);
		ok &= b != MAP_FAILED && all(b + n / 2, n / 2, 'c') &&
		      all(b + n, 3 * n, 0);
		fill(b, 4 * n, 'm');
		munmap(b, 4 * n);
		_exit(ok ? 0 : 1);
	}
	int child = reap(p);
	printf("the child's madvise/mprotect/mremap/munmap work on its copy: %s\n",
	       child == 0 ? "yes" : "no");
	printf("and leave the parent's alone: %s\n", all(a, n, 'p') ? "yes" : "no");
	/* The parent drops pages the child still shares. */
	int go[2];
	CHECK(pipe(go) == 0);
	p = fork();
	if (p == 0) {
		char x;
		read(go[0], &x, 1);
		_exit(all(a, n, 'p') ? 0 : 1);
	}
	madvise(a, n, MADV_DONTNEED);
	int zero = all(a, n, 0);
	fill(a, n, 'q');
	write(go[1], "x", 1);
	printf("MADV_DONTNEED in the parent zeroes only the parent's: %s\n",
	       zero && reap(p) == 0 ? "yes" : "no");
	/* A grandchild's stores stay its own. */
	p = fork();
	if (p == 0) {
		pid_t g = fork();
		if (g == 0) {
			fill(a, n, 'g');
			_exit(0);
		}
		reap(g);
		_exit(all(a, n, 'q') ? 0 : 1);
	}
	printf("a grandchild's stores stay its own: %s\n",
	       reap(p) == 0 && all(a, n, 'q') ? "yes" : "no");
	/* mprotect in the parent while the child shares the pages, and a
	 * heap shrunk and grown again over pages the child shares. */
	size_t hn = 256 * 1024;
	char *h = sbrk(hn);
	fill(h, hn, 'b');
	int go2[2];
	CHECK(pipe(go2) == 0);
	p = fork();
	if (p == 0) {
		char x;
		read(go2[0], &x, 1);
		_exit(all(a, n, 'q') && all(h, hn, 'b') ? 0 : 1);
	}
	mprotect(a, n, PROT_READ);
	mprotect(a, n, PROT_READ | PROT_WRITE);
	fill(a, n, 'z');
	sbrk(-(long)hn);
	char *h2 = sbrk(hn);
	int regrown_zero = h2 == h && all(h2, hn, 0);
	fill(h2, hn, 'n');
	write(go2[1], "x", 1);
	printf("mprotect and a regrown heap in the parent leave the child's: %s\n",
	       reap(p) == 0 ? "yes" : "no");
	printf("the regrown heap reads zero: %s\n", regrown_zero ? "yes" : "no");
	close(go2[0]);
	close(go2[1]);
	munmap(a, n);
	close(go[0]);
	close(go[1]);
}

/* Rss and Pss (kB) of the mapping starting at `at`, from smaps. */
static void smaps_of(void *at, long *rss, long *pss)
{
	char line[256];
	FILE *f = fopen("/proc/self/smaps", "r");
	*rss = *pss = -1;
	int in = 0;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2) {
			in = s == (unsigned long)at;
			continue;
		}
		if (in && strncmp(line, "Rss:", 4) == 0)
			*rss = atol(line + 4);
		if (in && strncmp(line, "Pss:", 4) == 0)
			*pss = atol(line + 4);
	}
	if (f)
		fclose(f);
}

static void not_duplicated_until_written(void)
{
	size_t n = 32 << 20;
	char *a = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(a, n, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < n; i += 4096)
		a[i] = 1;
	long rss, pss;
	smaps_of(a, &rss, &pss);
	printf("before fork: Rss %ld MiB, Pss %ld MiB\n", rss >> 10, pss >> 10);
	int to_parent[2], to_child[2];
	CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0);
	pid_t p = fork();
	if (p == 0) {
		char x;
		smaps_of(a, &rss, &pss);
		printf("child after fork: Rss %ld MiB, Pss %ld MiB\n", rss >> 10,
		       pss >> 10);
		fflush(stdout);
		for (size_t i = 0; i < n / 2; i += 4096)
			a[i] = 2;
		smaps_of(a, &rss, &pss);
		printf("child after writing half: Rss %ld MiB, Pss %ld MiB\n",
		       rss >> 10, pss >> 10);
		fflush(stdout);
		write(to_parent[1], "x", 1);
		read(to_child[0], &x, 1);
		_exit(0);
	}
	char x;
	read(to_parent[0], &x, 1);
	smaps_of(a, &rss, &pss);
	printf("parent while the child lives: Rss %ld MiB, Pss %ld MiB\n",
	       rss >> 10, pss >> 10);
	write(to_child[1], "x", 1);
	reap(p);
	smaps_of(a, &rss, &pss);
	printf("parent after the child exited: Rss %ld MiB, Pss %ld MiB\n",
	       rss >> 10, pss >> 10);
	int ok = 1;
	for (size_t i = 0; i < n; i += 4096)
		ok &= a[i] == 1;
	printf("parent's bytes unchanged: %s\n", ok ? "yes" : "no");
	munmap(a, n);
	close(to_parent[0]);
	close(to_parent[1]);
	close(to_child[0]);
	close(to_child[1]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	private_stores();
	kernel_stores();
	shared_stays_shared();
	changes_stay_in_one_process();
	not_duplicated_until_written();
	threads_keep_running();
	if (failures)
		return 1;
	printf("PASS\n");
	return 0;
}
