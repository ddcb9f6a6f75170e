/*
 * mmap/munmap/mprotect/mremap/madvise semantics:
 *  - anonymous memory is zero-filled, readable and writable;
 *  - PROT_NONE makes accesses fault (caught by a SIGSEGV handler), and
 *    mprotect back to read/write keeps the contents;
 *  - MAP_SHARED anonymous memory is shared with a forked child, MAP_PRIVATE
 *    memory is copied on write in both directions;
 *  - after munmap (whole or a middle page) an access faults, the rest stays;
 *  - mremap grows a mapping (moving it if needed) and keeps the contents;
 *  - MAP_FIXED replaces pages, MAP_FIXED_NOREPLACE fails with EEXIST;
 *  - madvise(MADV_DONTNEED) on private anonymous memory zero-fills it;
 *  - a MAP_SHARED mapping of a file in /tmp writes through to the file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static sigjmp_buf env;
static volatile sig_atomic_t fault_code;
static long page;

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
	(void)sig;
	(void)uctx;
	fault_code = info->si_code;
	siglongjmp(env, 1);
}

/* "ok", or the SIGSEGV si_code the access caused. */
static const char *try_access(volatile char *p, int write)
{
	fault_code = 0;
	if (sigsetjmp(env, 1) == 0) {
		if (write)
			*p = 'w';
		else
			(void)*p;
		return "ok";
	}
	return fault_code == SEGV_MAPERR ? "SIGSEGV/SEGV_MAPERR"
	       : fault_code == SEGV_ACCERR ? "SIGSEGV/SEGV_ACCERR"
	       : "SIGSEGV/other";
}

static char *map_anon(size_t len, int flags)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		printf("FAIL: mmap: %s\n", strerror(errno));
		exit(1);
	}
	return p;
}

static int all_bytes(const char *p, size_t len, char c)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

static void anonymous(void)
{
	char *p = map_anon(4 * page, MAP_PRIVATE);

	printf("fresh anonymous memory is zero: %s\n", all_bytes(p, 4 * page, 0) ? "yes" : "no");
	CHECK(all_bytes(p, 4 * page, 0));
	memset(p, 'a', 4 * page);
	CHECK(all_bytes(p, 4 * page, 'a'));
	CHECK(munmap(p, 4 * page) == 0);
}

static void protection(void)
{
	char *p = map_anon(2 * page, MAP_PRIVATE);
	const char *r;

	memset(p, 'p', 2 * page);
	CHECK(mprotect(p, page, PROT_NONE) == 0);
	r = try_access(p + 10, 0);
	printf("read of PROT_NONE: %s\n", r);
	CHECK(strcmp(r, "SIGSEGV/SEGV_ACCERR") == 0);
	r = try_access(p + 10, 1);
	printf("write to PROT_NONE: %s\n", r);
	CHECK(strcmp(r, "SIGSEGV/SEGV_ACCERR") == 0);
	r = try_access(p + page, 1);
	printf("write to the next page, still read/write: %s\n", r);
	CHECK(strcmp(r, "ok") == 0);
	CHECK(mprotect(p, page, PROT_READ) == 0);
	r = try_access(p, 0);
	printf("read of PROT_READ: %s\n", r);
	CHECK(strcmp(r, "ok") == 0);
	r = try_access(p, 1);
	printf("write to PROT_READ: %s\n", r);
	CHECK(strcmp(r, "SIGSEGV/SEGV_ACCERR") == 0);
	CHECK(mprotect(p, page, PROT_READ | PROT_WRITE) == 0);
	printf("contents kept across mprotect: %s\n", all_bytes(p, page, 'p') ? "yes" : "no");
	CHECK(all_bytes(p, page, 'p'));
	errno = 0;
	CHECK(mprotect(p + 1, page, PROT_READ) == -1 && errno == EINVAL);
	printf("mprotect of an unaligned address: %s\n", errno == EINVAL ? "EINVAL" : strerror(errno));
	CHECK(munmap(p, 2 * page) == 0);
}

static void across_fork(void)
{
	char *shared = map_anon(page, MAP_SHARED);
	char *private = map_anon(page, MAP_PRIVATE);
	int to_child[2], to_parent[2], status;
	char c;

	strcpy(shared, "parent");
	strcpy(private, "parent");
	CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* The child sees what the parent wrote before fork. */
		int ok = strcmp(shared, "parent") == 0 && strcmp(private, "parent") == 0;
		strcpy(shared, "child");
		strcpy(private, "child");
		(void)!write(to_parent[1], "1", 1);
		/* The parent writes its private copy; ours must not change. */
		if (read(to_child[0], &c, 1) != 1)
			_exit(2);
		ok = ok && strcmp(private, "child") == 0 && strcmp(shared, "parent2") == 0;
		_exit(ok ? 0 : 1);
	}
	CHECK(read(to_parent[0], &c, 1) == 1);
	printf("MAP_SHARED after the child wrote: \"%s\"\n", shared);
	printf("MAP_PRIVATE after the child wrote: \"%s\"\n", private);
	CHECK(strcmp(shared, "child") == 0);
	CHECK(strcmp(private, "parent") == 0);
	strcpy(private, "parent2");
	strcpy(shared, "parent2");
	CHECK(write(to_child[1], "1", 1) == 1);
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("child saw the parent's shared write and kept its private copy: %s\n",
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
	CHECK(munmap(shared, page) == 0 && munmap(private, page) == 0);
}

static void unmapping(void)
{
	char *p = map_anon(3 * page, MAP_PRIVATE);
	const char *r;

	memset(p, 'u', 3 * page);
	CHECK(munmap(p + page, page) == 0);
	r = try_access(p + page, 0);
	printf("read of an unmapped middle page: %s\n", r);
	CHECK(strcmp(r, "SIGSEGV/SEGV_MAPERR") == 0);
	printf("pages around it intact: %s\n",
	       p[0] == 'u' && p[2 * page] == 'u' ? "yes" : "no");
	CHECK(p[0] == 'u' && p[page - 1] == 'u' && p[2 * page] == 'u');
	CHECK(munmap(p, 3 * page) == 0); /* unmapping a hole is fine */
	r = try_access(p, 1);
	printf("write after munmap: %s\n", r);
	CHECK(strcmp(r, "SIGSEGV/SEGV_MAPERR") == 0);
	errno = 0;
	CHECK(munmap(p + 1, page) == -1 && errno == EINVAL);
	printf("munmap of an unaligned address: %s\n", errno == EINVAL ? "EINVAL" : strerror(errno));
}

static void remapping(void)
{
	char *p = map_anon(page, MAP_PRIVATE);
	char *q;

	memset(p, 'r', page);
	q = mremap(p, page, 8 * page, MREMAP_MAYMOVE);
	CHECK(q != MAP_FAILED);
	if (q == MAP_FAILED)
		return;
	printf("mremap grow keeps the first page: %s\n", all_bytes(q, page, 'r') ? "yes" : "no");
	printf("mremap grow adds zero pages: %s\n", all_bytes(q + page, 7 * page, 0) ? "yes" : "no");
	CHECK(all_bytes(q, page, 'r') && all_bytes(q + page, 7 * page, 0));
	memset(q + 7 * page, 'e', page);
	q = mremap(q, 8 * page, 2 * page, 0);
	CHECK(q != MAP_FAILED);
	printf("mremap shrink in place keeps the start: %s\n",
	       q != MAP_FAILED && all_bytes(q, page, 'r') ? "yes" : "no");
	CHECK(strcmp(try_access(q + 2 * page, 0), "SIGSEGV/SEGV_MAPERR") == 0);
	CHECK(munmap(q, 2 * page) == 0);
}

static void fixed(void)
{
	char *p = map_anon(3 * page, MAP_PRIVATE);
	char *q;

	memset(p, 'f', 3 * page);
	q = mmap(p + page, page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK(q == p + page);
	printf("MAP_FIXED over the middle page: new page zero %s, neighbours kept %s\n",
	       all_bytes(p + page, page, 0) ? "yes" : "no",
	       all_bytes(p, page, 'f') && all_bytes(p + 2 * page, page, 'f') ? "yes" : "no");
	CHECK(all_bytes(p + page, page, 0));
	CHECK(all_bytes(p, page, 'f') && all_bytes(p + 2 * page, page, 'f'));
	errno = 0;
	q = mmap(p + page, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	printf("MAP_FIXED_NOREPLACE over a mapping: %s\n",
	       q == MAP_FAILED ? (errno == EEXIST ? "EEXIST" : strerror(errno)) : "mapped");
	CHECK(q == MAP_FAILED && errno == EEXIST);
	CHECK(munmap(p + page, page) == 0);
	q = mmap(p + page, page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	printf("MAP_FIXED_NOREPLACE into a hole: %s\n", q == p + page ? "mapped at the address" : "failed");
	CHECK(q == p + page);
	CHECK(munmap(p, 3 * page) == 0);
}

static void dontneed(void)
{
	char *p = map_anon(2 * page, MAP_PRIVATE);

	memset(p, 'd', 2 * page);
	CHECK(madvise(p, page, MADV_DONTNEED) == 0);
	printf("MADV_DONTNEED zero-fills private memory: %s, other page kept: %s\n",
	       all_bytes(p, page, 0) ? "yes" : "no", all_bytes(p + page, page, 'd') ? "yes" : "no");
	CHECK(all_bytes(p, page, 0) && all_bytes(p + page, page, 'd'));
	CHECK(munmap(p, 2 * page) == 0);
}

static void shared_file(void)
{
	char path[64], buf[16] = { 0 };
	int fd;
	char *p;

	snprintf(path, sizeof(path), "/tmp/mmap_semantics.%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	unlink(path);
	CHECK(ftruncate(fd, page) == 0);
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	if (p != MAP_FAILED) {
		memcpy(p + 100, "through", 7);
		CHECK(msync(p, page, MS_SYNC) == 0);
		CHECK(pread(fd, buf, 7, 100) == 7);
		printf("write through a MAP_SHARED file mapping, read back with pread: \"%s\"\n", buf);
		CHECK(strcmp(buf, "through") == 0);
		CHECK(pwrite(fd, "back", 4, 200) == 4);
		printf("pwrite seen through the mapping: %s\n", memcmp(p + 200, "back", 4) == 0 ? "yes" : "no");
		CHECK(memcmp(p + 200, "back", 4) == 0);
		CHECK(munmap(p, page) == 0);
	}
	close(fd);
}

int main(void)
{
	struct sigaction sa;

	setvbuf(stdout, NULL, _IONBF, 0);
	page = sysconf(_SC_PAGESIZE);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);

	anonymous();
	protection();
	across_fork();
	unmapping();
	remapping();
	fixed();
	dontneed();
	shared_file();

	printf(failures ? "FAIL\n" : "PASS\n");
	return failures ? 1 : 0;
}
