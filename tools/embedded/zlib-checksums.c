// zlib's crc32() and adler32() for the Embedded build, small instead of table-driven.
//
// The server only makes raw deflate streams (negative windowBits), which carry no checksum, but
// deflate.o and inflate.o still reference both functions for the zlib and gzip wrappers; linked
// first, these keep libz.a's crc32.o (13 KB of tables) and adler32.o out of the binary. Same
// results as zlib's, just slower, on a path this server never takes.
#include <zlib.h>

uLong crc32(uLong crc, const Bytef *buf, uInt len) {
    if (buf == Z_NULL) return 0;
    crc = ~crc & 0xffffffffUL;
    while (len--) {
        crc ^= *buf++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320UL & (0UL - (crc & 1)));
    }
    return ~crc & 0xffffffffUL;
}

uLong adler32(uLong adler, const Bytef *buf, uInt len) {
    if (buf == Z_NULL) return 1;
    uLong a = adler & 0xffff, b = (adler >> 16) & 0xffff;
    while (len--) {
        a = (a + *buf++) % 65521;
        b = (b + a) % 65521;
    }
    return (b << 16) | a;
}
