/*
 * A SIGSEGV handler installed with SA_SIGINFO sees the faulting address in
 * si_addr and the reason in si_code (SEGV_MAPERR: nothing mapped there,
 * SEGV_ACCERR: mapped without the needed permission), then leaves the handler
 * with siglongjmp. The handler runs on an alternate signal stack. Each case is
 * run twice to check that the signal mask is restored by siglongjmp.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

static sigjmp_buf env;
static volatile sig_atomic_t got_signo, got_code;
static void *volatile got_addr;
static volatile int on_altstack;
static char *altstack;
static size_t altstack_size;

static void handler(int sig, siginfo_t *info, void *uctx)
{
	char local;

	(void)uctx;
	got_signo = sig;
	got_code = info->si_code;
	got_addr = info->si_addr;
	on_altstack = &local >= altstack && &local < altstack + altstack_size;
	siglongjmp(env, 1);
}

static const char *code_name(int code)
{
	switch (code) {
	case SEGV_MAPERR: return "SEGV_MAPERR";
	case SEGV_ACCERR: return "SEGV_ACCERR";
	default: return "other";
	}
}

/* Touch addr (read or write); report what the handler saw. */
static void expect_fault(const char *what, volatile char *addr, int write, int want_code)
{
	for (int round = 0; round < 2; round++) {
		got_signo = 0;
		got_code = 0;
		got_addr = NULL;
		on_altstack = 0;
		if (sigsetjmp(env, 1) == 0) {
			if (write)
				*addr = 1;
			else
				(void)*addr;
			printf("%s: no fault\n", what);
			failures++;
			return;
		}
		if (round == 1)
			printf("%s: signal %s, si_code %s, si_addr %s, on altstack %s\n",
			       what, got_signo == SIGSEGV ? "SIGSEGV" : "other",
			       code_name(got_code),
			       got_addr == (void *)addr ? "matches" : "WRONG",
			       on_altstack ? "yes" : "no");
		CHECK(got_signo == SIGSEGV);
		CHECK(got_code == want_code);
		CHECK(got_addr == (void *)addr);
		CHECK(on_altstack);
	}
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	struct sigaction sa;
	stack_t ss;
	sigset_t mask;

	altstack_size = 64 * 1024;
	altstack = malloc(altstack_size);
	ss.ss_sp = altstack;
	ss.ss_size = altstack_size;
	ss.ss_flags = 0;
	CHECK(sigaltstack(&ss, NULL) == 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);

	/* Three pages: unmapped, read-only, no access. */
	char *base = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(base != MAP_FAILED);
	CHECK(munmap(base, page) == 0);
	CHECK(mprotect(base + page, page, PROT_READ) == 0);
	CHECK(mprotect(base + 2 * page, page, PROT_NONE) == 0);

	expect_fault("read of an unmapped page", base + 123, 0, SEGV_MAPERR);
	expect_fault("write to an unmapped page", base + page - 1, 1, SEGV_MAPERR);
	expect_fault("write to a read-only page", base + page + 7, 1, SEGV_ACCERR);
	expect_fault("read of a PROT_NONE page", base + 2 * page + 9, 0, SEGV_ACCERR);
	expect_fault("write to a PROT_NONE page", base + 2 * page, 1, SEGV_ACCERR);
	expect_fault("read near NULL", (volatile char *)16, 0, SEGV_MAPERR);
	/* The read-only page is still readable. */
	CHECK(((volatile char *)base)[page] == 0);

	/* SIGSEGV is not left blocked after siglongjmp. */
	CHECK(sigprocmask(SIG_BLOCK, NULL, &mask) == 0);
	printf("SIGSEGV blocked after handlers: %s\n",
	       sigismember(&mask, SIGSEGV) ? "yes" : "no");
	CHECK(!sigismember(&mask, SIGSEGV));

	printf(failures ? "FAIL\n" : "PASS\n");
	return failures ? 1 : 0;
}
