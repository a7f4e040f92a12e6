#!/usr/bin/env bash
# A release: the static binaries, then archives and Debian packages of them, into dist/.
#
#   tools/package.sh              runs tools/release.sh --all, then writes:
#     dist/lantern-VERSION-linux-ARCH.tar.gz   ARCH: x86_64, aarch64, armv7, armv6; each holds the
#                                              binary, lantern.service, lantern.default (the
#                                              settings file), README.md and the licence
#     dist/lantern_VERSION_amd64.deb           the x86_64 build
#     dist/lantern_VERSION_arm64.deb           the aarch64 build
#     dist/lantern_VERSION_armhf.deb           the ARMV6 build: Raspberry Pi OS's 32-bit "armhf"
#                                              is ARMv6 + VFP (Pi Zero, Pi 1), Debian's is ARMv7;
#                                              the armv6 binary (soft float, static) runs on both
#     dist/SHA256SUMS                          every file above and the binaries
#   --no-build        reuse dist/lantern-linux-{x86_64,aarch64,armv7,armv6} as they are
#   --version V       package as version V instead of the file VERSION (CI builds a higher one
#                     to test upgrades; the binaries still say their own version)
#   --out DIR         write there instead of dist/ (the binaries are still read from dist/)
#
# VERSION is the one version; CHANGELOG.md becomes the packages' changelog. Needs dpkg-deb (and
# runs the x86_64 binary: `lantern --settings-file` writes the settings file from the same table
# as --help). Maintainer scripts: tools/debian/. Checked by tools/package-test.sh (lintian,
# install, upgrade, purge, the ARM packages under qemu).
# Set MAINTAINER="Name <mail>" to sign the packages with a real address.
#
# lintian (Debian 12, 2.116) on each .deb: no errors, no warnings. Kept, on purpose:
#   O: statically-linked-binary, O: embedded-library zlib   error-severity tags, overridden in
#      tools/debian/lintian-overrides: the static binary (zlib inside) IS the product, the same
#      file as the archives, so the package depends on nothing; a zlib fix needs a new release
#   I: package-supports-alternative-init-but-no-init.d-script   systemd only (a unit, no
#      /etc/init.d script): sysvinit users have the binary and /etc/default/lantern
#   I: binary-has-unneeded-section .comment (amd64)   the x86_64 binary is stripped with GNU
#      strip, which keeps .comment (a few hundred bytes); it is the same file as in dist/
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD=1
VERSION=$(tr -d ' \n' < VERSION)
OUT=dist
while (($#)); do
    case $1 in
        --no-build) BUILD=0 ;;
        --version) VERSION=${2:?--version needs a value}; shift ;;
        --out) OUT=${2:?--out needs a folder}; shift ;;
        -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "package.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
[[ $VERSION =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || { echo "package.sh: not a Debian native version: $VERSION" >&2; exit 2; }
command -v dpkg-deb >/dev/null || { echo "package.sh: dpkg-deb not found (apt-get install dpkg)" >&2; exit 1; }
MAINTAINER=${MAINTAINER:-Lantern maintainers <lantern@users.noreply.github.com>}

ARCHS=(x86_64 aarch64 armv7 armv6)
declare -A DEB_ARCH=([x86_64]=amd64 [aarch64]=arm64 [armv6]=armhf)   # armv7: archive only

if ((BUILD)); then
    # A release is built from a commit: say so when the tree has changes git would see.
    if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
        echo "package.sh: WARNING: the tree has uncommitted changes; a release is built from a clean tree" >&2
    fi
    bash tools/release.sh --all
fi
for arch in "${ARCHS[@]}"; do
    [[ -x dist/lantern-linux-$arch ]] || { echo "package.sh: no dist/lantern-linux-$arch (run without --no-build)" >&2; exit 1; }
done
# The binary must be the version it is packaged as (unless --version asks for another).
said=$(dist/lantern-linux-x86_64 --version)
if [[ $said != "lantern $VERSION "* ]]; then
    [[ $VERSION == "$(tr -d ' \n' < VERSION)" ]] && { echo "package.sh: dist/lantern-linux-x86_64 says '$said', VERSION is $VERSION: rebuild" >&2; exit 1; }
    echo "package.sh: note: packaging as $VERSION a binary that says '$said'"
fi

mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Reproducible: file times from the last commit, owners root, sorted tar members.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

# 1. What every package and archive holds besides the binary.
#    The settings file, from the binary's own option table (so it matches --help).
#    After its header (up to the first blank line), what the unit itself sets: a line of the file
#    wins over those, and the defaults shown are the binary's.
dist/lantern-linux-x86_64 --settings-file | awk '
    !done && /^$/ {
        print "#"
        print "# lantern.service itself sets these (a line below wins over them):"
        while ((getline line < "tools/lantern.service") > 0)
            if (line ~ /^Environment=/) { sub(/^Environment=/, "", line); print "#   " line }
        done = 1
    }
    { print }' > "$WORK/lantern.default"
grep -q '^#LANTERN_PORT=' "$WORK/lantern.default" || { echo "package.sh: lantern --settings-file printed no settings" >&2; exit 1; }
#    The unit as installed by the package: the binary in /usr/bin, and a header about the package.
{
    echo "# systemd unit of the lantern package. Settings: /etc/default/lantern (every LANTERN_*"
    echo "# setting, at its default), then \`sudo systemctl restart lantern\`. A drop-in from"
    echo "# \`systemctl edit lantern\` is kept over upgrades too; this file is replaced by them."
    sed -n '/^\[Unit\]/,$p' tools/lantern.service | sed 's|^ExecStart=/usr/local/bin/lantern$|ExecStart=/usr/bin/lantern|
        /^Description=/a Documentation=man:lantern(1)'
} > "$WORK/lantern.service"
grep -q '^ExecStart=/usr/bin/lantern$' "$WORK/lantern.service" && grep -q '^EnvironmentFile=-/etc/default/lantern$' "$WORK/lantern.service" \
    || { echo "package.sh: tools/lantern.service lacks ExecStart=/usr/local/bin/lantern or EnvironmentFile=-/etc/default/lantern" >&2; exit 1; }

#    The licence: LICENSE with an "SPDX-License-Identifier: X" line, when the repository has one.
if [[ -f LICENSE ]]; then
    LICENSE_NAME=$(sed -n 's/.*SPDX-License-Identifier: *\([^ ]*\).*/\1/p' LICENSE | head -n 1)
    LICENSE_NAME=${LICENSE_NAME:-see-below}
    LICENSE_TEXT=$(sed 's/^$/./; s/^/ /' LICENSE)
else
    echo "package.sh: WARNING: the repository has no LICENSE file; the packages say so" >&2
    LICENSE_NAME=none-chosen
    LICENSE_TEXT=" Lantern's repository does not name a licence yet: add a LICENSE file (with an
 \"SPDX-License-Identifier: NAME\" line) and tools/package.sh puts it here."
fi
# DEP-5 (https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/).
cat > "$WORK/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: lantern
Upstream-Contact: $MAINTAINER

Files: *
Copyright: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y) Lantern authors
License: $LICENSE_NAME

License: $LICENSE_NAME
$LICENSE_TEXT
EOF

#    The changelog, in Debian's form, from CHANGELOG.md ("## VERSION (YYYY-MM-DD)", "- item").
#    A --version that CHANGELOG.md lacks gets an entry of its own on top.
changelog() {
    if ! grep -q "^## $VERSION (" CHANGELOG.md; then
        printf 'lantern (%s) unstable; urgency=medium\n\n  * Package of version %s for testing.\n\n -- %s  %s\n\n' \
            "$VERSION" "$VERSION" "$MAINTAINER" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
    fi
    awk -v maint="$MAINTAINER" '
        function close_entry() { if (open) { printf "\n -- %s  %s\n\n", maint, date; open = 0 } }
        /^## [0-9]/ {
            close_entry()
            version = $2; day = $3; gsub(/[()]/, "", day)
            cmd = "date -u -R -d " day; cmd | getline date; close(cmd)
            printf "lantern (%s) unstable; urgency=medium\n\n", version; open = 1; next
        }
        open && /^- / { sub(/^- /, ""); printf "  * %s\n", $0; next }
        open && /^  +[^ ]/ { sub(/^ +/, ""); printf "    %s\n", $0; next }
        END { close_entry() }' CHANGELOG.md
}
changelog | sed '$d' | gzip -9n > "$WORK/changelog.gz"   # sed: no blank line at the end

#    A manual page around `lantern --help` (the packages' /usr/share/man/man1/lantern.1.gz).
{
    printf '.TH LANTERN 1 "%s" "lantern %s" "User Commands"\n' "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)" "$VERSION"
    printf '.SH NAME\nlantern \\- small WebSocket echo and broadcast server\n'
    printf '.SH SYNOPSIS\n.B lantern\n[\\fIoptions\\fR]\n.SH DESCRIPTION\n'
    printf 'Lantern serves a WebSocket at /ws (RFC 6455, with permessage-deflate) and a test page at /client.\n'
    printf 'As a service it reads its settings from\n.IR /etc/default/lantern .\n'
    printf '.SH OPTIONS\n.nf\n'
    dist/lantern-linux-x86_64 --help | sed 's/\\/\\e/g; s/^\./\\\&./'
    printf '.fi\n.SH FILES\n.TP\n.I /etc/default/lantern\nevery LANTERN_* setting, commented out at its default\n'
    printf '.TP\n.I /lib/systemd/system/lantern.service\nthe systemd unit\n'
} | gzip -9n > "$WORK/lantern.1.gz"

WRITTEN=()

# 2. One archive per CPU.
for arch in "${ARCHS[@]}"; do
    name=lantern-$VERSION-linux-$arch
    dir=$WORK/archive/$name
    mkdir -p "$dir"
    install -m 0755 "dist/lantern-linux-$arch" "$dir/lantern"
    install -m 0644 tools/lantern.service "$WORK/lantern.default" README.md "$dir/"
    if [[ -f LICENSE ]]; then install -m 0644 LICENSE "$dir/"; else install -m 0644 "$WORK/copyright" "$dir/COPYRIGHT"; fi
    tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
        -C "$WORK/archive" -cf - "$name" | gzip -9n > "$OUT/$name.tar.gz"
    WRITTEN+=("$name.tar.gz")
done

# 3. One Debian package per Debian architecture.
for arch in x86_64 aarch64 armv6; do
    deb_arch=${DEB_ARCH[$arch]}
    root=$WORK/deb-$deb_arch
    install -D -m 0755 "dist/lantern-linux-$arch" "$root/usr/bin/lantern"
    install -D -m 0644 "$WORK/lantern.service" "$root/lib/systemd/system/lantern.service"
    install -D -m 0644 "$WORK/lantern.default" "$root/etc/default/lantern"
    install -D -m 0644 "$WORK/copyright" "$root/usr/share/doc/lantern/copyright"
    install -D -m 0644 "$WORK/changelog.gz" "$root/usr/share/doc/lantern/changelog.gz"
    install -D -m 0644 "$WORK/lantern.1.gz" "$root/usr/share/man/man1/lantern.1.gz"
    install -D -m 0644 tools/debian/lintian-overrides "$root/usr/share/lintian/overrides/lantern"
    mkdir -p "$root/DEBIAN"
    for script in postinst prerm postrm; do install -m 0755 "tools/debian/$script" "$root/DEBIAN/$script"; done
    echo /etc/default/lantern > "$root/DEBIAN/conffiles"
    built_for="the x86_64 build."
    [[ $arch == aarch64 ]] && built_for="the aarch64 build (Raspberry Pi 3/4/5 and Zero 2 W with
 a 64-bit OS, other 64-bit ARM boards)."
    [[ $arch == armv6 ]] && built_for="the ARMv6 build: Raspberry Pi OS's 32-bit armhf is
 ARMv6 with VFP (Pi Zero, Pi 1), Debian's is ARMv7, and this static binary
 runs on both."
    cat > "$root/DEBIAN/control" <<EOF
Package: lantern
Version: $VERSION
Architecture: $deb_arch
Maintainer: $MAINTAINER
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Section: net
Priority: optional
Description: small WebSocket echo and broadcast server
 Lantern is an RFC 6455 WebSocket server with permessage-deflate (RFC 7692)
 in one static binary, with a test page at /client. It echoes each message
 to its sender, or sends it to every client (broadcast mode).
 .
 It runs as the systemd service lantern.service, with its settings in
 /etc/default/lantern.
 This package holds $built_for
EOF
    (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum > DEBIAN/md5sums)
    find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    deb=lantern_${VERSION}_$deb_arch.deb
    dpkg-deb --root-owner-group -Zxz --build "$root" "$OUT/$deb" >/dev/null
    WRITTEN+=("$deb")
done

# 4. Checksums over everything the release wrote (the binaries only where they are beside them).
SUMMED=("${WRITTEN[@]}")
[[ $OUT == dist ]] && SUMMED+=("${ARCHS[@]/#/lantern-linux-}")
(cd "$OUT" && sha256sum "${SUMMED[@]}" > SHA256SUMS)
echo "package.sh: version $VERSION, in $OUT/:"
(cd "$OUT" && ls -l "${SUMMED[@]}" SHA256SUMS | awk '{ printf "  %9d  %s\n", $5, $9 }')
