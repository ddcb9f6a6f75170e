/*
 * The preamble test programs share; include it after the system headers.
 *   - failures and CHECK(cond): a failed check prints its line, the
 *     condition and errno, flushes (a forked child may _exit next, which
 *     would drop what stdio still holds) and counts it; a program ends
 *     with a non-zero status when any failed.
 *   - with _GNU_SOURCE (strerrorname_np): err(r), a call's outcome as
 *     "returns R" or "fails with ENAME", and ok_or_errname(r), "ok" or
 *     "ENAME". Both read errno, so call them right after the call.
 */
#ifndef RUNSC_TEST_COMMON_H
#define RUNSC_TEST_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("FAIL line %d: %s (errno %s)\n", __LINE__,      \
			       #cond, strerror(errno));                        \
			fflush(stdout);                                        \
			failures++;                                            \
		}                                                              \
	} while (0)

#ifdef _GNU_SOURCE
static inline const char *err(long r)
{
	static char buf[64];

	if (r >= 0)
		snprintf(buf, sizeof(buf), "returns %ld", r);
	else
		snprintf(buf, sizeof(buf), "fails with %s", strerrorname_np(errno));
	return buf;
}

static inline const char *ok_or_errname(long r)
{
	static char buf[64];

	if (r >= 0)
		snprintf(buf, sizeof(buf), "ok");
	else
		snprintf(buf, sizeof(buf), "%s", strerrorname_np(errno));
	return buf;
}
#endif

#endif
