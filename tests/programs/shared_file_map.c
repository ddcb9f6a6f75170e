// MAP_SHARED mappings of a regular file in directory argv[1]: every
// mapping, read(2) and write(2) see the same bytes, across processes too;
// msync and the last munmap put the stores in the file. Prints what each
// step sees, to compare with Linux; the caller compares the files left.

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define LEN (3 * PAGE)

static void check(int ok, const char *what) {
    if (!ok) {
        perror(what);
        exit(1);
    }
}

static char *map(int fd, int prot, size_t len) {
    char *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
    check(p != MAP_FAILED, "mmap");
    return p;
}

static void show(const char *what, const char *p, size_t n) {
    printf("%s: '", what);
    for (size_t i = 0; i < n; i++)
        putchar(p[i] ? p[i] : '.');
    printf("'\n");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    char path[4096], path2[4096];
    snprintf(path, sizeof path, "%s/mapped", argv[1]);
    snprintf(path2, sizeof path2, "%s/kept", argv[1]);

    // Two mappings of one file, and the descriptor.
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    check(fd >= 0, "open");
    check(write(fd, "0123456789", 10) == 10, "write");
    check(ftruncate(fd, LEN) == 0, "ftruncate");
    char *a = map(fd, PROT_READ | PROT_WRITE, LEN);
    char *b = map(fd, PROT_READ, LEN);
    show("b before", b, 10);
    memcpy(a, "hello", 5);
    show("b after a store", b, 10);
    char buf[16] = {0};
    check(pread(fd, buf, 10, 0) == 10, "pread");
    show("pread after a store", buf, 10);
    check(pwrite(fd, "WORLD", 5, PAGE) == 5, "pwrite");
    show("a after pwrite", a + PAGE, 5);

    // A child maps the file on its own and stores; the parent's mappings
    // and reads see it.
    pid_t pid = fork();
    check(pid >= 0, "fork");
    if (pid == 0) {
        int cfd = open(path, O_RDWR);
        check(cfd >= 0, "child open");
        char *c = map(cfd, PROT_READ | PROT_WRITE, LEN);
        memcpy(c + 2 * PAGE, "child", 5);
        check(msync(c, LEN, MS_SYNC) == 0, "msync");
        _exit(0);
    }
    int st;
    check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child");
    show("b after the child", b + 2 * PAGE, 5);
    check(pread(fd, buf, 5, 2 * PAGE) == 5, "pread");
    show("pread after the child", buf, 5);

    // A fork shares the mapping itself.
    pid = fork();
    check(pid >= 0, "fork");
    if (pid == 0) {
        memcpy(a + 100, "forked", 6);
        _exit(0);
    }
    check(waitpid(pid, &st, 0) == pid, "wait");
    show("b after the forked store", b + 100, 6);

    // Truncate cuts what mappings see; growing again reads zeros.
    check(ftruncate(fd, 3) == 0, "truncate");
    check(ftruncate(fd, LEN) == 0, "grow");
    show("b after truncate and grow", b, 10);
    memcpy(a + 5, "again", 5);
    check(msync(a, LEN, MS_SYNC) == 0, "msync");
    check(munmap(a, LEN) == 0 && munmap(b, LEN) == 0, "munmap");
    check(close(fd) == 0, "close");

    // What reached the file.
    fd = open(path, O_RDONLY);
    check(fd >= 0, "reopen");
    memset(buf, 0, sizeof buf);
    check(read(fd, buf, 10) == 10, "read");
    show("file after unmap", buf, 10);
    close(fd);

    // A store through a mapping reaches the file at the last munmap,
    // without msync.
    fd = open(path2, O_RDWR | O_CREAT | O_TRUNC, 0644);
    check(fd >= 0, "open kept");
    check(ftruncate(fd, PAGE) == 0, "ftruncate kept");
    a = map(fd, PROT_READ | PROT_WRITE, PAGE);
    close(fd);
    strcpy(a, "stored without msync");
    check(munmap(a, PAGE) == 0, "munmap kept");
    fd = open(path2, O_RDONLY);
    memset(buf, 0, sizeof buf);
    check(read(fd, buf, 15) == 15, "read kept");
    show("kept after unmap", buf, 15);
    close(fd);

    // A mapping of a read-only descriptor cannot be made writable.
    fd = open(path, O_RDONLY);
    b = map(fd, PROT_READ, PAGE);
    printf("mprotect write on read-only: %s\n",
           mprotect(b, PAGE, PROT_READ | PROT_WRITE) == 0 ? "ok" : "refused");
    close(fd);
    return 0;
}
