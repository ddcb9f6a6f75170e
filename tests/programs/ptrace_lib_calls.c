/* A few library calls through the PLT, for ltrace(1) to show. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    char *p = malloc(16);
    strcpy(p, "hi");
    puts(p);
    free(p);
    return atoi("0");
}
