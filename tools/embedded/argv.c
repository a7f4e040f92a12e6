// Embedded Swift has no CommandLine. glibc calls every .init_array function with
// (argc, argv, envp) before main, so this one keeps them for GlibcOverlay.swift.
// musl calls them without arguments, so the --musl build renames the Swift entry point to
// lantern_swift_main (swiftc -entry-point-function-name) and main here keeps them instead.
#include "Glibc/glibc.h"

static int saved_argc;
static char **saved_argv;

#ifdef __GLIBC__
static void lantern_save_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    saved_argc = argc;
    saved_argv = argv;
}
__attribute__((section(".init_array"), used))
static void (*lantern_save_arguments_entry)(int, char **, char **) = lantern_save_arguments;
#else
int lantern_swift_main(int argc, char **argv);

int main(int argc, char **argv) {
    saved_argc = argc;
    saved_argv = argv;
    return lantern_swift_main(argc, argv);
}
#endif

int lantern_argc(void) { return saved_argc; }
char **lantern_argv(void) { return saved_argv; }
