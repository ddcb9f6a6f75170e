/*
 * execve of ELF files whose segments cannot be loaded: a header that is
 * wrong is refused (execve fails, the caller runs on), a PT_LOAD at an
 * address near 2^64 kills the process with SIGSEGV (Linux's point of no
 * return has passed), and the caller, its parent, lives on. The files are
 * made here, in a fresh directory under /tmp.
 * Prints, per file, how its child ended; then PASS.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/exec_bad_elf.XXXXXX";

/* One ELF64 header and one PT_LOAD, nothing else. */
static void make(const char *name, int type, uint64_t vaddr, uint64_t memsz, int bad_machine)
{
	Elf64_Ehdr e;
	memset(&e, 0, sizeof(e));
	memcpy(e.e_ident, ELFMAG, SELFMAG);
	e.e_ident[EI_CLASS] = ELFCLASS64;
	e.e_ident[EI_DATA] = ELFDATA2LSB;
	e.e_ident[EI_VERSION] = EV_CURRENT;
	e.e_type = type;
	e.e_machine = bad_machine ? EM_AARCH64 : EM_X86_64;
	e.e_version = EV_CURRENT;
	e.e_entry = vaddr;
	e.e_phoff = sizeof(e);
	e.e_ehsize = sizeof(e);
	e.e_phentsize = sizeof(Elf64_Phdr);
	e.e_phnum = 1;
	Elf64_Phdr p;
	memset(&p, 0, sizeof(p));
	p.p_type = PT_LOAD;
	p.p_flags = PF_R | PF_X;
	p.p_vaddr = p.p_paddr = vaddr;
	p.p_memsz = memsz;
	p.p_align = 0x1000;
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fwrite(&e, sizeof(e), 1, f) != 1 || fwrite(&p, sizeof(p), 1, f) != 1) {
		perror(path);
		exit(1);
	}
	fclose(f);
	chmod(path, 0755);
}

static void run(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		char *argv[] = {path, NULL};
		execve(path, argv, environ);
		printf("%-10s execve failed: %s\n", name, strerror(errno));
		fflush(stdout);
		_exit(100);
	}
	int st;
	waitpid(c, &st, 0);
	if (WIFSIGNALED(st))
		printf("%-10s killed by signal %d\n", name, WTERMSIG(st));
	else if (WEXITSTATUS(st) != 100)
		printf("%-10s exited %d\n", name, WEXITSTATUS(st));
	unlink(path);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	make("machine", ET_EXEC, 0x400000, 0x1000, 1);
	make("exec_high", ET_EXEC, 0xfffffffffffff000ULL, 0x1000, 0);
	make("exec_wrap", ET_EXEC, 0xffffffffffffe000ULL, 0x10000, 0);
	make("exec_kernel", ET_EXEC, 0xffff800000000000ULL, 0x1000, 0);
	const char *names[] = {"machine", "exec_high", "exec_wrap", "exec_kernel"};
	for (int i = 0; i < 4; i++)
		run(names[i]);
	rmdir(dir);
	printf("PASS\n");
	return 0;
}
