// SysV semaphores compared with Linux: semget's errnos, semop's
// all-or-nothing operations, IPC_NOWAIT, a wait another process ends,
// semtimedop's timeout, SEM_UNDO at exit, the GET/SET commands, IPC_STAT
// and IPC_SET, a removal waking a sleeper with EIDRM, and EINTR after a
// handler even with SA_RESTART.

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static void show(const char *what, int r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %d\n", what, r);
}

static int op(int id, unsigned short num, short delta, short flags) {
    struct sembuf b = {num, delta, flags};
    return semop(id, &b, 1);
}

static void on_alarm(int sig) { (void)sig; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    // semget.
    show("semget nsems 0 create", semget(IPC_PRIVATE, 0, 0600));
    show("semget nsems -1", semget(IPC_PRIVATE, -1, 0600));
    show("semget nsems 32001", semget(IPC_PRIVATE, 32001, 0600));
    int id = semget(IPC_PRIVATE, 3, 0600);
    printf("semget: %s\n", id >= 0 ? "ok" : strerrorname_np(errno));

    // Values start at 0; all or nothing.
    show("GETVAL 0", semctl(id, 0, GETVAL));
    show("V sem 0", op(id, 0, 2, 0));
    struct sembuf two[2] = {{0, -1, IPC_NOWAIT}, {1, -1, IPC_NOWAIT}};
    show("P sem 0 and sem 1 nowait", semop(id, two, 2));
    show("GETVAL 0 after", semctl(id, 0, GETVAL));
    show("wait-for-zero nowait", op(id, 0, 0, IPC_NOWAIT));
    show("over SEMVMX", op(id, 0, 32767, 0));
    show("sem_num 3", op(id, 3, 1, 0));
    show("nsops 0", semop(id, two, 0));
    struct sembuf many[501];
    memset(many, 0, sizeof many);
    show("nsops 501", semop(id, many, 501));
    show("GETPID is me", semctl(id, 0, GETPID) == getpid());
    show("GETVAL 5", semctl(id, 5, GETVAL));

    // SETALL / GETALL.
    unsigned short vals[3] = {1, 2, 3}, got[3] = {0};
    show("SETALL", semctl(id, 0, SETALL, (union semun){.array = vals}));
    show("GETALL", semctl(id, 0, GETALL, (union semun){.array = got}));
    printf("values: %u %u %u\n", got[0], got[1], got[2]);
    show("SETVAL 40000", semctl(id, 1, SETVAL, (union semun){.val = 40000}));
    show("SETVAL 0", semctl(id, 1, SETVAL, (union semun){.val = 0}));

    // A child's V ends the parent's wait; meanwhile GETNCNT counts it.
    pid_t pid = fork();
    if (pid == 0) {
        while (semctl(id, 1, GETNCNT) != 1)
            usleep(1000);
        printf("child sees ncnt 1\n");
        fflush(stdout);
        op(id, 1, 1, 0);
        _exit(0);
    }
    show("P sem 1, woken by the child", op(id, 1, -1, 0));
    waitpid(pid, NULL, 0);
    show("GETNCNT after", semctl(id, 1, GETNCNT));

    // semtimedop's timeout.
    struct timespec ts = {0, 50 * 1000 * 1000};
    struct sembuf p1 = {1, -1, 0};
    show("semtimedop times out", semtimedop(id, &p1, 1, &ts));
    ts.tv_nsec = 2000000000;
    show("semtimedop bad timeout", semtimedop(id, &p1, 1, &ts));

    // SEM_UNDO: a child's V is undone when it exits.
    pid = fork();
    if (pid == 0) {
        op(id, 2, 5, SEM_UNDO);
        printf("child sees %d\n", semctl(id, 2, GETVAL));
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    show("GETVAL 2 after the child's exit", semctl(id, 2, GETVAL));

    // IPC_STAT and IPC_SET.
    struct semid_ds ds;
    show("IPC_STAT", semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}));
    printf("nsems %lu mode %o\n", (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777);
    ds.sem_perm.mode = 0640;
    show("IPC_SET", semctl(id, 0, IPC_SET, (union semun){.buf = &ds}));
    semctl(id, 0, IPC_STAT, (union semun){.buf = &ds});
    printf("mode now %o\n", ds.sem_perm.mode & 0777);

    // EINTR after a handler, even with SA_RESTART.
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    ualarm(50000, 0);
    show("P interrupted by a signal", op(id, 1, -1, 0));

    // A removal wakes a sleeper with EIDRM.
    pid = fork();
    if (pid == 0) {
        int r = op(id, 1, -1, 0);
        printf("child woken: %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
        fflush(stdout);
        _exit(0);
    }
    while (semctl(id, 1, GETNCNT) != 1)
        usleep(1000);
    int removed = semctl(id, 0, IPC_RMID);
    waitpid(pid, NULL, 0);
    show("IPC_RMID", removed);
    show("GETVAL after removal", semctl(id, 0, GETVAL));

    // A key: IPC_EXCL and a larger nsems.
    key_t key = 0x5e4a0000 + (getpid() & 0xffff);
    int k = semget(key, 2, IPC_CREAT | IPC_EXCL | 0600);
    show("semget key excl again", semget(key, 2, IPC_CREAT | IPC_EXCL | 0600));
    show("semget key more nsems", semget(key, 3, 0));
    show("semget key same", semget(key, 1, 0) == k);
    semctl(k, 0, IPC_RMID);
    printf("PASS\n");
    return 0;
}
