// For the --musl build only. arc4random_buf: the Embedded Swift runtime needs it (the seed of
// Hasher and SystemRandomNumberGenerator) and musl 1.2.3 (Debian's musl-dev) lacks it; here from
// getrandom(2). inet_ntop, below: a smaller one than musl's.
#include <stddef.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

void arc4random_buf(void *buffer, size_t count) {
    unsigned char *p = buffer;
    while (count > 0) {
        ssize_t n = getrandom(p, count, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            abort();
        }
        p += n;
        count -= (size_t)n;
    }
}

// inet_ntop without snprintf: musl's formats with snprintf, which links its whole printf
// (~13 KB with the floating-point formatter and strerror's table) for the one call that names
// a peer in the log. Same output as musl's: dotted quad; lowercase hex groups with the longest
// run (of two or more) of zero groups as "::"; ::ffff:a.b.c.d for IPv4-mapped addresses.
#include <arpa/inet.h>
#include <string.h>

static char *put_decimal(char *p, unsigned v) {
    if (v >= 100) *p++ = (char)('0' + v / 100);
    if (v >= 10) *p++ = (char)('0' + v / 10 % 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

static char *put_quad(char *p, const unsigned char *a) {
    for (int i = 0; i < 4; i++) {
        if (i) *p++ = '.';
        p = put_decimal(p, a[i]);
    }
    return p;
}

const char *inet_ntop(int af, const void *restrict source, char *restrict out, socklen_t size) {
    const unsigned char *a = source;
    char buffer[INET6_ADDRSTRLEN], *p = buffer;
    if (af == AF_INET) {
        p = put_quad(p, a);
    } else if (af == AF_INET6) {
        int mapped = !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\377\377", 12);
        int groups = mapped ? 6 : 8, best = -1, bestLength = 1;
        for (int i = 0; i < groups;) {
            int j = i;
            while (j < groups && !a[2 * j] && !a[2 * j + 1]) j++;
            if (j - i > bestLength) { best = i; bestLength = j - i; }
            i = j > i ? j : i + 1;
        }
        for (int i = 0; i < groups; i++) {
            if (i == best) {
                *p++ = ':';
                if (i == 0) *p++ = ':';
                i += bestLength - 1;
                continue;
            }
            unsigned v = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
            int started = 0;
            for (int shift = 12; shift >= 0; shift -= 4) {
                unsigned d = v >> shift & 15;
                if (d || started || shift == 0) { *p++ = "0123456789abcdef"[d]; started = 1; }
            }
            if (i < groups - 1 || mapped) *p++ = ':';
        }
        if (mapped) p = put_quad(p, a + 12);
    } else {
        errno = EAFNOSUPPORT;
        return 0;
    }
    *p = 0;
    if ((socklen_t)(p - buffer) >= size) { errno = ENOSPC; return 0; }
    memcpy(out, buffer, (size_t)(p - buffer) + 1);
    return out;
}
