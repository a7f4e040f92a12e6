# Sourced by tools/release.sh and tools/release-embedded.sh: one place that strips a built binary
# into dist/lantern and fails unless it is fully static.
#   install_static_dist TAG SRC DESCRIPTION
install_static_dist() {
    local tag=$1 src=$2 description=$3
    mkdir -p dist
    rm -f dist/lantern
    strip -o dist/lantern "$src"
    chmod 755 dist/lantern

    local unstripped size file_out ldd_out ok=1
    unstripped=$(stat -c %s "$src")
    size=$(stat -c %s dist/lantern)
    file_out=$(file -b dist/lantern)
    ldd_out=$(ldd dist/lantern 2>&1 || true)   # ldd exits 1 for a static executable

    echo "$tag: dist/lantern: $size bytes ($(awk -v b="$size" 'BEGIN { printf "%.2f MB", b / 1e6 }'), unstripped $unstripped bytes)"
    echo "$tag: file: $file_out"
    echo "$tag: ldd: $(echo "$ldd_out" | tr '\n' ' ')"
    if [[ $file_out != *"statically linked"* ]]; then
        echo "$tag: FAILED: file does not say 'statically linked'" >&2
        ok=0
    fi
    if [[ $ldd_out != *"not a dynamic executable"* ]]; then
        echo "$tag: FAILED: ldd does not say 'not a dynamic executable'" >&2
        ok=0
    fi
    [[ $ok == 1 ]] || exit 1
    echo "$tag: OK: dist/lantern is statically linked$description"
}
