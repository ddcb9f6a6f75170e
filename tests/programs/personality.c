/*
 * personality(2): the query value, any persona kept and returned as the
 * old one, PER_LINUX32 (uname's machine i686), UNAME26 (a 2.6 release),
 * READ_IMPLIES_EXEC (anonymous PROT_READ memory is executable, as
 * /proc/self/maps shows), inheritance by fork, and what exec keeps
 * (READ_IMPLIES_EXEC dropped for a 64-bit program, ADDR_NO_RANDOMIZE
 * kept), as /proc/self/personality of the new program shows.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static void maps_perms(void *addr, char *out)
{
	strcpy(out, "none");
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    (unsigned long)addr >= lo && (unsigned long)addr < hi)
			strcpy(out, perms);
	}
	if (f)
		fclose(f);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int base = personality(0xffffffff);
	printf("query: %#x\n", base);
	printf("set PER_LINUX32 returns the old: %#x\n", personality(PER_LINUX32));
	struct utsname u;
	uname(&u);
	printf("PER_LINUX32: machine %s, query %#x\n", u.machine,
	       personality(0xffffffff));
	personality(PER_LINUX | UNAME26);
	uname(&u);
	printf("UNAME26: release starts with 2.6.: %s\n",
	       strncmp(u.release, "2.6.", 4) == 0 ? "yes" : u.release);
	personality(PER_LINUX);
	uname(&u);
	printf("PER_LINUX: machine %s, release 2.6: %s\n", u.machine,
	       strncmp(u.release, "2.6.", 4) == 0 ? "yes" : "no");
	printf("an unknown persona is kept: %#x -> ",
	       personality(0x0010000 | PER_LINUX));
	printf("%#x\n", personality(PER_LINUX));

	char perms[8];
	void *a = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	maps_perms(a, perms);
	printf("PROT_READ without READ_IMPLIES_EXEC: %s\n", perms);
	personality(READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE);
	void *b = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	maps_perms(b, perms);
	printf("PROT_READ with READ_IMPLIES_EXEC: %s\n", perms);
	mprotect(a, 4096, PROT_READ);
	maps_perms(a, perms);
	printf("mprotect PROT_READ with READ_IMPLIES_EXEC: %s\n", perms);

	FILE *f = fopen("/proc/self/personality", "r");
	char line[64] = "";
	if (f && fgets(line, sizeof line, f))
		printf("/proc/self/personality: %s", line);
	if (f)
		fclose(f);

	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		printf("fork child: %#x\n", personality(0xffffffff));
		fflush(stdout);
		execl("/bin/cat", "cat", "/proc/self/personality", (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(c, &st, 0);
	printf("exec status %d\n", WEXITSTATUS(st));
	personality(base);
	printf("PASS\n");
	return 0;
}
