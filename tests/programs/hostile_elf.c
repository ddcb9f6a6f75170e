/*
 * execve of hostile files: malformed ELF headers and program headers,
 * PT_INTERP pointing nowhere or at too much, bad #! lines and #! chains.
 * Each file is made here, in a fresh directory under /tmp, and run in a
 * child; what happened is printed: execve's errno (refused before the
 * point of no return, the caller runs on), the exit status, or the signal
 * that killed it (refused after). Whatever the kernel does, the caller
 * and its parent live on. Then PASS.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/hostile_elf.XXXXXX";

/* The image: header, program headers, the interpreter's name, code. */
#define VBASE 0x400000ULL
#define IMG_LEN 0x2000
#define INTERP_OFF 0x1e00
#define CODE_OFF 0x1f00

static unsigned char img[IMG_LEN];
static Elf64_Ehdr *const eh = (Elf64_Ehdr *)img;
static Elf64_Phdr *const ph = (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr));

/* A valid static ELF of one PT_LOAD covering the file, whose code is
 * exit(code). */
static void base(int type, int code)
{
	memset(img, 0, sizeof(img));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = type;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	uint64_t va = type == ET_EXEC ? VBASE : 0;
	eh->e_entry = va + CODE_OFF;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 1;
	ph[0].p_type = PT_LOAD;
	ph[0].p_flags = PF_R | PF_X;
	ph[0].p_offset = 0;
	ph[0].p_vaddr = ph[0].p_paddr = va;
	ph[0].p_filesz = ph[0].p_memsz = IMG_LEN;
	ph[0].p_align = 0x1000;
	/* mov edi, code; mov eax, SYS_exit; syscall */
	unsigned char exit_code[] = {0xbf, 0, 0, 0, 0, 0xb8, 60, 0, 0, 0, 0x0f, 0x05};
	memcpy(exit_code + 1, &code, 4);
	memcpy(img + CODE_OFF, exit_code, sizeof(exit_code));
}

/* Names are relative to the directory (the current one), so what the
 * programs print is the same on every run. */
static void path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "./%s", name);
}

static void write_file(const char *name, const void *data, size_t len, int mode)
{
	char path[256];
	path_of(path, sizeof(path), name);
	FILE *f = fopen(path, "w");
	if (!f || (len && fwrite(data, len, 1, f) != 1) || fclose(f)) {
		perror(path);
		exit(1);
	}
	chmod(path, mode);
}

static void save(const char *name)
{
	write_file(name, img, IMG_LEN, 0755);
}

/* Adds a PT_INTERP of `len` bytes at file offset `off` holding `name`. */
static void interp(const char *name, uint64_t off, uint64_t len)
{
	int i = eh->e_phnum++;
	ph[i].p_type = PT_INTERP;
	ph[i].p_flags = PF_R;
	ph[i].p_offset = off;
	ph[i].p_filesz = ph[i].p_memsz = len;
	ph[i].p_align = 1;
	if (off + strlen(name) + 1 <= IMG_LEN)
		memcpy(img + off, name, strlen(name) + 1);
}

static void script(const char *name, const char *text)
{
	write_file(name, text, strlen(text), 0755);
}

static void run(const char *name)
{
	char path[256];
	path_of(path, sizeof(path), name);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		char *argv[] = {path, "arg1", NULL};
		execve(path, argv, environ);
		printf("%-18s execve: %s\n", name, strerror(errno));
		fflush(stdout);
		_exit(100);
	}
	int st;
	if (waitpid(c, &st, 0) != c) {
		perror("waitpid");
		exit(1);
	}
	if (WIFSIGNALED(st))
		printf("%-18s killed by signal %d\n", name, WTERMSIG(st));
	else if (WEXITSTATUS(st) != 100)
		printf("%-18s exited %d\n", name, WEXITSTATUS(st));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	if (chdir(dir)) {
		perror("chdir");
		return 1;
	}
	char p[512], text[1024];

	/* Valid, as references. */
	base(ET_EXEC, 42);
	save("valid_exec");
	base(ET_DYN, 43);
	save("valid_dyn");

	/* Headers. */
	base(ET_EXEC, 42);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	save("class32");
	base(ET_EXEC, 42);
	eh->e_ident[EI_DATA] = ELFDATA2MSB;
	save("big_endian");
	base(ET_EXEC, 42);
	eh->e_machine = EM_AARCH64;
	save("machine");
	base(ET_EXEC, 42);
	eh->e_type = ET_REL;
	save("type_rel");
	base(ET_EXEC, 42);
	write_file("truncated", img, 40, 0755);
	write_file("magic_only", ELFMAG, SELFMAG, 0755);
	write_file("empty", "", 0, 0755);

	/* The program header table. */
	base(ET_EXEC, 42);
	eh->e_phnum = 0;
	save("phnum_zero");
	base(ET_EXEC, 42);
	eh->e_phnum = 80; /* 4,480 bytes: more than Linux reads */
	save("phnum_80");
	base(ET_EXEC, 42);
	eh->e_phnum = 65535;
	save("phnum_65535");
	base(ET_EXEC, 42);
	eh->e_phentsize = 32;
	save("phentsize_32");
	base(ET_EXEC, 42);
	eh->e_phoff = 1 << 20;
	save("phoff_past_eof");
	base(ET_EXEC, 42);
	eh->e_phoff = 0xffffffffffffff00ULL;
	save("phoff_huge");
	base(ET_EXEC, 42);
	ph[0].p_type = PT_NOTE;
	save("no_load");

	/* Segments. */
	base(ET_EXEC, 42);
	ph[1] = ph[0];
	eh->e_phnum = 2;
	save("overlap_same");
	base(ET_EXEC, 42);
	ph[1] = ph[0];
	ph[1].p_flags = PF_R | PF_W;
	ph[1].p_memsz = 0x3000;
	eh->e_phnum = 2;
	save("overlap_rw_bss");
	base(ET_EXEC, 42);
	ph[0].p_memsz = 0x100;
	save("filesz_gt_memsz");
	base(ET_EXEC, 42);
	ph[0].p_memsz = 1ULL << 47;
	save("memsz_huge");
	base(ET_EXEC, 42);
	ph[0].p_memsz = 0xffffffffffff0000ULL;
	save("memsz_wraps");
	base(ET_EXEC, 42);
	ph[0].p_offset = 0x1001;
	save("offset_incongruent");
	base(ET_EXEC, 42);
	ph[1] = ph[0];
	ph[1].p_vaddr = ph[1].p_paddr = 0x600000;
	ph[1].p_offset = 1 << 20;
	ph[1].p_filesz = ph[1].p_memsz = 0x1000;
	eh->e_phnum = 2;
	save("offset_past_eof");
	base(ET_EXEC, 42);
	ph[1] = ph[0];
	ph[1].p_vaddr = ph[1].p_paddr = 0x600000;
	ph[1].p_offset = 0xfffffffffffff000ULL;
	ph[1].p_filesz = ph[1].p_memsz = 0x1000;
	eh->e_phnum = 2;
	save("offset_huge");
	base(ET_DYN, 43);
	ph[0].p_align = 1ULL << 40;
	save("align_huge_dyn");
	base(ET_DYN, 43);
	ph[0].p_align = 3;
	save("align_odd_dyn");
	base(ET_EXEC, 42);
	ph[0].p_align = 1ULL << 63;
	save("align_huge_exec");

	/* The entry point. */
	base(ET_EXEC, 42);
	eh->e_entry = 0;
	save("entry_zero");
	base(ET_EXEC, 42);
	eh->e_entry = 0xffff800000000000ULL;
	save("entry_kernel");
	base(ET_EXEC, 42);
	eh->e_entry = 0x8000000000000000ULL;
	save("entry_noncanonical");

	/* PT_INTERP. */
	base(ET_DYN, 44);
	save("interp_dyn");
	base(ET_EXEC, 42);
	path_of(p, sizeof(p), "interp_dyn");
	interp(p, INTERP_OFF, strlen(p) + 1);
	save("interp_ok");
	base(ET_EXEC, 42);
	interp("/nonexistent/ld.so", INTERP_OFF, 19);
	save("interp_missing");
	base(ET_EXEC, 42);
	interp("/lib64/ld-linux-x86-64.so.2", INTERP_OFF, 5000);
	save("interp_huge");
	base(ET_EXEC, 42);
	interp(p, INTERP_OFF, strlen(p));
	save("interp_unterminated");
	base(ET_EXEC, 42);
	interp("", INTERP_OFF, 1);
	save("interp_one_byte");
	base(ET_EXEC, 42);
	interp("/lib64/ld-linux-x86-64.so.2", 1 << 20, 28);
	save("interp_past_eof");
	base(ET_EXEC, 42);
	path_of(p, sizeof(p), "machine");
	interp(p, INTERP_OFF, strlen(p) + 1);
	save("interp_bad_machine");
	base(ET_EXEC, 42);
	path_of(p, sizeof(p), "truncated");
	interp(p, INTERP_OFF, strlen(p) + 1);
	save("interp_truncated");
	base(ET_EXEC, 42);
	path_of(p, sizeof(p), "s_echo");
	interp(p, INTERP_OFF, strlen(p) + 1);
	save("interp_script");
	base(ET_DYN, 44);
	write_file("interp_noexec_so", img, IMG_LEN, 0644);
	base(ET_EXEC, 42);
	path_of(p, sizeof(p), "interp_noexec_so");
	interp(p, INTERP_OFF, strlen(p) + 1);
	save("interp_noexec");
	base(ET_EXEC, 42);
	path_of(p, sizeof(p), "interp_dyn");
	interp(p, INTERP_OFF, strlen(p) + 1);
	interp("/nonexistent/second", INTERP_OFF + 0x80, 20);
	save("interp_twice");

	/* #! lines. */
	script("s_echo", "#!/bin/echo\n");
	script("s_args", "#!  /bin/echo   one two\t \n");
	script("s_noeol", "#!/bin/echo x");
	write_file("s_nul", "#!/bin/echo\0 hidden\n", 20, 0755);
	write_file("s_nul_arg", "#!/bin/echo \0hidden\n", 20, 0755);
	script("s_empty", "#!\n");
	script("s_spaces", "#!   \t \n");
	script("s_missing", "#!/nonexistent/interp\n");
	memset(text, 0, sizeof(text));
	strcpy(text, "#!/");
	memset(text + 3, 'a', 300);
	strcat(text, "\n");
	script("s_long_name", text);
	memset(text, 0, sizeof(text));
	strcpy(text, "#!/bin/echo ");
	memset(text + strlen(text), 'x', 300);
	strcat(text, "\n");
	script("s_long_arg", text);
	memset(text, 0, sizeof(text));
	strcpy(text, "#!/bin/echo");
	memset(text + strlen(text), ' ', 300);
	strcat(text, "\n");
	script("s_long_spaces", text);
	path_of(p, sizeof(p), "machine");
	snprintf(text, sizeof(text), "#!%s\n", p);
	script("s_bad_elf", text);
	write_file("plain", "#!/bin/echo\n", 12, 0644);
	path_of(p, sizeof(p), "plain");
	snprintf(text, sizeof(text), "#!%s\n", p);
	script("s_noexec_interp", text);
	path_of(p, sizeof(p), "s_self");
	snprintf(text, sizeof(text), "#!%s\n", p);
	script("s_self", text);
	/* chain_N: N scripts in a row before /bin/echo. */
	script("chain_1", "#!/bin/echo\n");
	for (int i = 2; i <= 7; i++) {
		char name[32];
		snprintf(name, sizeof(name), "chain_%d", i - 1);
		path_of(p, sizeof(p), name);
		snprintf(text, sizeof(text), "#!%s\n", p);
		snprintf(name, sizeof(name), "chain_%d", i);
		script(name, text);
	}

	const char *names[] = {
		"valid_exec", "valid_dyn", "class32", "big_endian", "machine",
		"type_rel", "truncated", "magic_only", "empty", "phnum_zero",
		"phnum_80", "phnum_65535", "phentsize_32", "phoff_past_eof",
		"phoff_huge", "no_load", "overlap_same", "overlap_rw_bss",
		"filesz_gt_memsz", "memsz_huge", "memsz_wraps",
		"offset_incongruent", "offset_past_eof", "offset_huge",
		"align_huge_dyn", "align_odd_dyn", "align_huge_exec",
		"entry_zero", "entry_kernel", "entry_noncanonical", "interp_ok",
		"interp_missing", "interp_huge", "interp_unterminated",
		"interp_one_byte", "interp_past_eof", "interp_bad_machine",
		"interp_truncated", "interp_script", "interp_noexec",
		"interp_twice", "s_echo", "s_args", "s_noeol", "s_nul",
		"s_nul_arg", "s_empty", "s_spaces", "s_missing", "s_long_name", "s_long_arg",
		"s_long_spaces", "s_bad_elf", "s_noexec_interp", "s_self",
		"chain_1", "chain_2", "chain_3", "chain_4", "chain_5",
		"chain_6", "chain_7",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		run(names[i]);
	if (chdir("/")) {
		perror("chdir /");
		return 1;
	}
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("cleanup failed\n");
	printf("PASS\n");
	return 0;
}
