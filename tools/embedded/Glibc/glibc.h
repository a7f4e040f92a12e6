#ifndef LANTERN_EMBEDDED_GLIBC_H
#define LANTERN_EMBEDDED_GLIBC_H
// The parts of the C library the sources use (see module.modulemap).
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sys/uio.h>

// argv.c: the process arguments, kept before main (Embedded Swift has no CommandLine).
int lantern_argc(void);
char **lantern_argv(void);

// errno is a macro over thread-local storage, which Swift cannot import.
static inline int lantern_errno(void) { return errno; }
static inline void lantern_set_errno(int value) { errno = value; }

// open() is variadic, which Swift cannot import.
static inline int lantern_open(const char *path, int flags) { return open(path, flags); }
#endif
