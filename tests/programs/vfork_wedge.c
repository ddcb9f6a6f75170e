/*
 * A process whose only thread sleeps where no signal but a kill ends the
 * sleep: a vfork parent waits for a child that neither execs nor exits.
 * Linux ends it all the same when a signal whose default action is to
 * terminate arrives (complete_signal turns it into a group kill at once);
 * tests/tests/signal_forwarding.rs sends SIGTERM to `runsc-rs do`.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("ready\n");
	fflush(stdout);
	if (vfork() == 0) {
		/* The parent stays in vfork until this child execs or exits. */
		for (;;)
			pause();
	}
	printf("the vfork parent ran on\n");
	return 0;
}
