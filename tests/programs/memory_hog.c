/*
 * Touches 1 MiB after 1 MiB of fresh memory until something stops it
 * (under a memory limit: the OOM killer, exit 137), printing every 16 MiB.
 * Bounded at 16 GiB, so a run without a limit ends by itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int mib = 1; mib <= 16 << 10; mib++) {
		char *p = malloc(1 << 20);
		if (!p) {
			printf("malloc failed at %d MiB\n", mib);
			return 1;
		}
		memset(p, mib, 1 << 20);
		if (mib % 16 == 0)
			printf("%d MiB\n", mib);
	}
	printf("not stopped\n");
	return 0;
}
