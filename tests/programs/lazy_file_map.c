/* Private file mappings read on first touch, as Linux does: bytes as in
 * the file, SIGBUS (and EFAULT for a system call) on a page wholly past the
 * end of the file, new bytes once the file has grown, private writes, fork,
 * MADV_DONTNEED reading the file again, mremap growing into more of the
 * file, and a mapping of a big file not read in whole.
 *
 * argv[1]: a file the test made on the host (BIG bytes, sparse, with marks)
 * argv[2]: a directory to make small files in. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096L

static sigjmp_buf env;
static volatile int got_sig, got_code;

static void on_fault(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    siglongjmp(env, 1);
}

/* Reads one byte at p; -1 and the signal noted if the touch faults. */
static int touch(volatile const char *p) {
    got_sig = 0;
    if (sigsetjmp(env, 1))
        return -1;
    return (unsigned char)*p;
}

static const char *signame(int s) {
    return s == SIGBUS ? "SIGBUS" : s == SIGSEGV ? "SIGSEGV" : s ? "other" : "none";
}

static char pattern(long off) { return (char)('a' + (off * 7 + off / PAGE) % 26); }

static int make_file(const char *path, long size) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror("open");
        exit(1);
    }
    char *buf = malloc(size);
    for (long i = 0; i < size; i++)
        buf[i] = pattern(i);
    if (write(fd, buf, size) != size) {
        perror("write");
        exit(1);
    }
    free(buf);
    return fd;
}

static long rss_pages(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, rss = 0;
    if (!f || fscanf(f, "%ld %ld", &size, &rss) != 2) {
        printf("statm unreadable\n");
        exit(1);
    }
    fclose(f);
    return rss;
}

static int check_bytes(const char *m, long from, long to, const char *what) {
    for (long i = from; i < to; i += 997)
        if (m[i] != pattern(i)) {
            printf("%s: byte %ld is %d, want %d\n", what, i, m[i], pattern(i));
            return 1;
        }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s BIGFILE DIR\n", argv[0]);
        return 2;
    }
    struct sigaction sa = {0};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    int bad = 0;

    /* A small file (3 pages and a bit) mapped over 6 pages. */
    char path[4096];
    snprintf(path, sizeof path, "%s/lazy_small.%d", argv[2], getpid());
    long size = 3 * PAGE + 100;
    int fd = make_file(path, size);
    char *m = mmap(NULL, 6 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    bad |= check_bytes(m, 0, size, "small");
    printf("tail of last page: %d %d\n", touch(m + size), touch(m + 4 * PAGE - 1));
    int v = touch(m + 4 * PAGE);
    printf("page past EOF: %d %s code %d\n", v, signame(got_sig), got_code);
    v = touch(m + 5 * PAGE + 10);
    printf("second page past EOF: %d %s code %d\n", v, signame(got_sig), got_code);
    /* A pipe, since /dev/null never reads the buffer. */
    int pfd[2];
    pipe(pfd);
    int null = pfd[1];
    errno = 0;
    long w = write(null, m + 4 * PAGE, 10);
    printf("write from past EOF: %ld %s\n", w, strerror(errno));
    errno = 0;
    w = write(null, m + 4 * PAGE - 10, 20);
    printf("write across EOF page: %s\n", w == 10 || (w < 0 && errno == EFAULT) ? "short or EFAULT" : "full");

    /* The file grows: the page that was past EOF now reads its bytes. */
    char grow[PAGE];
    memset(grow, 'Z', sizeof grow);
    if (pwrite(fd, grow, sizeof grow, 4 * PAGE) != PAGE)
        perror("pwrite");
    v = touch(m + 4 * PAGE + 5);
    printf("after growth: %c %s\n", v > 0 ? v : '?', signame(got_sig));

    /* A private store stays private; the file keeps its byte. */
    m[PAGE + 1] = '#';
    char c;
    pread(fd, &c, 1, PAGE + 1);
    printf("private store: map %c file %s\n", m[PAGE + 1], c == pattern(PAGE + 1) ? "unchanged" : "changed");

    /* MADV_DONTNEED: the private copy goes, the file's byte comes back. */
    madvise(m + PAGE, PAGE, MADV_DONTNEED);
    printf("after DONTNEED: %s\n", m[PAGE + 1] == pattern(PAGE + 1) ? "file byte" : "other");

    /* fork: the child reads untouched pages from the file and its stores
     * stay its own. */
    char *m2 = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    m2[0] = '1';
    pid_t pid = fork();
    if (pid == 0) {
        int ok = m2[0] == '1' && m2[2 * PAGE + 3] == pattern(2 * PAGE + 3);
        m2[2 * PAGE + 3] = '!';
        m2[0] = '2';
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("fork: child %s, parent sees %c and %s\n",
           WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "wrong", m2[0],
           m2[2 * PAGE + 3] == pattern(2 * PAGE + 3) ? "file byte" : "child's byte");

    /* mremap growing the mapping reads more of the file. */
    char *m3 = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    char *m4 = mremap(m3, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
    if (m4 == MAP_FAILED) {
        perror("mremap");
        return 1;
    }
    printf("mremap grown: %s\n", m4[2 * PAGE + 9] == pattern(2 * PAGE + 9) ? "file bytes" : "other");

    /* mprotect of untouched pages, then a store. */
    char *m5 = mmap(NULL, 3 * PAGE, PROT_NONE, MAP_PRIVATE, fd, 0);
    v = touch(m5 + 5);
    printf("PROT_NONE touch: %s\n", signame(got_sig));
    mprotect(m5, 3 * PAGE, PROT_READ | PROT_WRITE);
    m5[PAGE] = 'x';
    printf("after mprotect: %c %s\n", m5[PAGE], m5[PAGE + 1] == pattern(PAGE + 1) ? "file byte" : "other");
    unlink(path);

    /* A big sparse file mapped whole: touching a few pages does not read
     * it all. */
    int bfd = open(argv[1], O_RDONLY);
    struct stat bs;
    if (bfd < 0 || fstat(bfd, &bs) < 0) {
        perror(argv[1]);
        return 1;
    }
    long before = rss_pages();
    char *b = mmap(NULL, bs.st_size, PROT_READ, MAP_PRIVATE | MAP_NORESERVE, bfd, 0);
    if (b == MAP_FAILED) {
        perror("mmap big");
        return 1;
    }
    long marks[] = {0, bs.st_size / 2, bs.st_size - 1};
    for (int i = 0; i < 3; i++)
        printf("big mark %d: %c\n", i, b[marks[i]]);
    printf("big hole: %d\n", b[bs.st_size / 4]);
    long grew = rss_pages() - before;
    printf("big mapping read in: %s\n", grew * PAGE < 64L << 20 ? "a little" : "all of it");
    munmap(b, bs.st_size);
    printf(bad ? "FAIL\n" : "PASS\n");
    return bad;
}
