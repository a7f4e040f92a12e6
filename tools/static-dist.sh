# Sourced by tools/release.sh and tools/release-embedded.sh: one place that strips a built binary
# into dist/ and fails unless it is fully static and built for the CPU it was meant for.
#   install_static_dist TAG SRC [DEST [ELF_MACHINE [DESCRIPTION]]]
#   DEST defaults to dist/lantern, ELF_MACHINE (what `file` must name) to x86-64.
install_static_dist() {
    local tag=$1 src=$2 dest=${3:-dist/lantern} machine=${4:-x86-64} description=${5:-}
    mkdir -p "$(dirname "$dest")"
    rm -f "$dest"
    # GNU strip knows only the host's ELF; llvm-objcopy (in the Swift toolchain) knows every CPU.
    if [[ $machine == x86-64 ]] && command -v strip >/dev/null; then
        strip -o "$dest" "$src"
    else
        llvm-objcopy --strip-all "$src" "$dest"
    fi
    chmod 755 "$dest"

    local unstripped size file_out ldd_out ok=1
    unstripped=$(stat -c %s "$src")
    size=$(stat -c %s "$dest")
    file_out=$(file -b "$dest")
    ldd_out=$(ldd "$dest" 2>&1 || true)   # ldd exits 1 for a static executable

    echo "$tag: $dest: $size bytes ($(awk -v b="$size" 'BEGIN { printf "%.2f MB", b / 1e6 }'), unstripped $unstripped bytes)"
    echo "$tag: file: $file_out"
    echo "$tag: ldd: $(echo "$ldd_out" | tr '\n' ' ')"
    if [[ $file_out != *"statically linked"* ]]; then
        echo "$tag: FAILED: file does not say 'statically linked'" >&2
        ok=0
    fi
    if [[ $file_out != *", $machine"* ]]; then
        echo "$tag: FAILED: file does not name the CPU ($machine)" >&2
        ok=0
    fi
    # ldd runs the host's loader: for another CPU's static file it may say "not a dynamic
    # executable" or nothing useful; `file` has checked those.
    if [[ $machine == x86-64 && $ldd_out != *"not a dynamic executable"* ]]; then
        echo "$tag: FAILED: ldd does not say 'not a dynamic executable'" >&2
        ok=0
    fi
    [[ $ok == 1 ]] || exit 1
    echo "$tag: OK: $dest is statically linked$description"
}
