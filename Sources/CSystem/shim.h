#ifndef LANTERN_CSYSTEM_SHIM_H
#define LANTERN_CSYSTEM_SHIM_H
// System calls that Swift's Glibc module does not export.
#include <malloc.h>

// glibc gives each thread that allocates its own arena (up to 8 per core), and keeps their
// memory after connections end; a thread-per-connection server on a small box wants few.
// musl (the Embedded --musl build) has one allocator with neither knob: these are no-ops there.
#ifdef __GLIBC__
static inline void lantern_limit_malloc_arenas(int count) { mallopt(M_ARENA_MAX, count); }
static inline void lantern_malloc_trim(void) { malloc_trim(0); }
#else
static inline void lantern_limit_malloc_arenas(int count) { (void)count; }
static inline void lantern_malloc_trim(void) {}
#endif

// Linux calls both C libraries have, but declare only for _GNU_SOURCE, which Swift's system
// module is not built with: declared here so pipes are close-on-exec from the start (a
// program spawned meanwhile by another thread must not inherit them).
#include <sys/socket.h>
int pipe2(int fds[2], int flags);
int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
// fcntl is variadic, which Swift cannot import everywhere (the Embedded musl build).
#include <fcntl.h>
static inline int lantern_set_nonblocking(int fd) { return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }
static inline int lantern_is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }
// Marks every descriptor from `low` up close-on-exec: ones Lantern inherited from whatever
// started it (a shell, a supervisor, a test runner) must not pass on to the programs it runs.
#include <dirent.h>
#include <stdlib.h>
static inline void lantern_cloexec_from(int low) {
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) return;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        int fd = atoi(entry->d_name);
        if (fd >= low && fd != dirfd(dir)) fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
    }
    closedir(dir);
}
static inline int lantern_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
static inline int lantern_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}
#endif
