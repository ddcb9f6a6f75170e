/* Dies of SIGSEGV three calls deep, in functions with names, for a
 * debugger's backtrace: main -> middle -> crash_here. */
#include <stdio.h>

__attribute__((noinline)) void crash_here(volatile int *p) {
    *p = 42;
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void middle(volatile int *p) {
    crash_here(p);
    /* Not a tail call: middle keeps its frame. */
    __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv) {
    (void)argv;
    middle(argc > 5 ? (int *)&argc : (int *)0);
    puts("not reached");
    return 0;
}
