#!/usr/bin/env bash
# CI for the release packages (.ci/run, section "packages"): on a Debian 12 machine as root, with
# dist/lantern-linux-{x86_64,aarch64,armv7,armv6} from tools/release.sh --all.
#   1. tools/package.sh --no-build: VERSION into .build-pkg/VERSION, and the same binaries as
#      VERSION+ci1 into .build-pkg/upgrade (a higher version, to test an upgrade)
#   2. lintian on every .deb: no errors; its warnings are printed (tools/debian/lintian-overrides
#      says why the one override is there)
#   3. the amd64 package: dpkg -i (no systemd runs here: postinst must cope), /usr/bin/lantern
#      serves /client and echoes; an edit to /etc/default/lantern takes effect and survives an
#      upgrade to VERSION+ci1; dpkg -r leaves only the conffile; dpkg -P leaves nothing
#   4. the maintainer scripts where systemd "runs": systemctl, deb-systemd-helper and
#      deb-systemd-invoke stubbed, /run/systemd/system made for the moment; which calls install,
#      upgrade, remove and purge make
#   5. the arm64 and armhf packages unpacked (dpkg-deb -x), their binaries under qemu-user
#      (armhf as the Pi Zero's ARM1176): /client and an echo
#   6. the archives: each holds what it should and its binary is the one in dist/
#   7. OpenWrt: sh -n on the init script, and tools/openwrt/test.sh (procd stubbed)
# Exits 1 on any failure. About a minute, plus apt for lintian.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export DEBIAN_FRONTEND=noninteractive
VERSION=$(tr -d ' \n' < VERSION)
UPGRADE=$VERSION+ci1
OUT=.build-pkg
SMOKE=(python3 "$ROOT/tools/debian/smoke.py")
step() { echo; echo "=== package-test: $*"; }
fail() { echo "package-test: FAILED: $*" >&2; exit 1; }

need=()
command -v lintian >/dev/null || need+=(lintian)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
    echo "package-test: installing ${need[*]}"
    apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# It installs and purges the package: never over someone's own installation.
if dpkg-query -W -f='${Status}' lantern 2>/dev/null | grep -q "ok installed\|config-files"; then
    fail "a lantern package is installed here; this test would purge it (dpkg -P lantern first)"
fi

step "1. tools/package.sh --no-build: $VERSION and $UPGRADE"
rm -rf "$OUT"
bash tools/package.sh --no-build --out "$OUT/$VERSION"
bash tools/package.sh --no-build --version "$UPGRADE" --out "$OUT/upgrade"
(cd "$OUT/$VERSION" && sha256sum -c --quiet SHA256SUMS) || fail "SHA256SUMS"
DEB=$OUT/$VERSION/lantern_${VERSION}_amd64.deb

step "2. lintian"
# As nobody (lintian warns against root), from a folder nobody can read (the clone may be under
# /root). An error fails the test; a warning is printed, not fatal (there are none today). I:
# lines are information; O: lines are the two overridden error tags, statically-linked-binary
# and embedded-library zlib, printed with why (tools/debian/lintian-overrides).
lint_dir=$(mktemp -d)
chmod 755 "$lint_dir"
cp "$OUT/$VERSION"/*.deb "$lint_dir/"
for deb in "$lint_dir"/*.deb; do
    echo "--- lintian ${deb##*/}"
    # --show-overrides makes lintian count the overridden errors in its exit status: so
    # --fail-on none (still non-zero if lintian itself fails), and an E: line fails the test.
    report=$(cd "$lint_dir" && runuser -u nobody -- lintian --fail-on none --display-info --show-overrides --tag-display-limit 0 "$deb") \
        || fail "lintian did not run on ${deb##*/}"
    echo "$report"
    ! grep -q '^E: ' <<<"$report" || fail "lintian: errors in ${deb##*/}"
done
rm -rf "$lint_dir"
dpkg-deb --contents "$DEB"

step "3. dpkg -i $DEB (no systemd running: postinst does nothing and succeeds)"
dpkg -i "$DEB" </dev/null
dpkg-query -W -f='${Package} ${Version} ${Status}\n' lantern | grep -qx "lantern $VERSION install ok installed" || fail "not installed"
mapfile -t FILES < <(dpkg -L lantern | while read -r f; do [[ -f $f ]] && echo "$f"; done)
printf '  %s\n' "${FILES[@]}"
[[ -x /usr/bin/lantern ]] && /usr/bin/lantern --version
grep -qx 'ExecStart=/usr/bin/lantern' /lib/systemd/system/lantern.service || fail "unit's ExecStart"
grep -qx 'EnvironmentFile=-/etc/default/lantern' /lib/systemd/system/lantern.service || fail "unit's EnvironmentFile"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /lib/systemd/system/lantern.service && echo "systemd-analyze verify: clean"
fi
# Every --help setting is in the settings file, commented out.
diff <(/usr/bin/lantern --help | grep -o 'LANTERN_[A-Z_0-9]*') <(sed -n 's/^#\(LANTERN_[A-Z_0-9]*\)=.*/\1/p' /etc/default/lantern) \
    || fail "/etc/default/lantern and --help list different settings"
"${SMOKE[@]}" --env-file /etc/default/lantern /usr/bin/lantern

step "3b. an edit to /etc/default/lantern takes effect, then survives an upgrade to $UPGRADE"
sed -i 's/^#LANTERN_GREETING=.*/LANTERN_GREETING="edited by the package test"/' /etc/default/lantern
"${SMOKE[@]}" --env-file /etc/default/lantern /usr/bin/lantern | tee "$OUT/smoke.log"
grep -q "greeting 'edited by the package test'" "$OUT/smoke.log" || fail "the edit did not take effect"
dpkg -i "$OUT/upgrade/lantern_${UPGRADE}_amd64.deb" </dev/null
dpkg-query -W -f='${Version}' lantern | grep -qx "$UPGRADE" || fail "not upgraded"
grep -qx 'LANTERN_GREETING="edited by the package test"' /etc/default/lantern || fail "the edit was lost in the upgrade"
"${SMOKE[@]}" --env-file /etc/default/lantern /usr/bin/lantern | tee "$OUT/smoke.log"
grep -q "greeting 'edited by the package test'" "$OUT/smoke.log" || fail "the edit does not take effect after the upgrade"
echo "upgrade $VERSION -> $UPGRADE: the edit survived"

step "3c. dpkg -r, then dpkg -P"
dpkg -r lantern
left=(); for f in "${FILES[@]}"; do [[ -e $f ]] && left+=("$f"); done
[[ "${left[*]}" == /etc/default/lantern ]] || fail "after dpkg -r, left: ${left[*]:-nothing} (expected only the conffile)"
echo "after dpkg -r: only /etc/default/lantern is left (a conffile), with the edit: $(grep -c '^LANTERN_GREETING=' /etc/default/lantern)"
dpkg -P lantern
left=(); for f in "${FILES[@]}" /usr/share/doc/lantern /etc/default/lantern.dpkg-old; do [[ -e $f ]] && left+=("$f"); done
((${#left[@]} == 0)) || fail "after dpkg -P, left: ${left[*]}"
dpkg-query -W lantern >/dev/null 2>&1 && fail "dpkg still knows lantern"
echo "after dpkg -P: no file of the package is left, and dpkg has forgotten it"

step "4. maintainer scripts where systemd runs (its commands stubbed, /run/systemd/system made for this step)"
if [[ -d /run/systemd/system ]]; then
    echo "systemd runs here: skipped (the stub would hide the real one)"
else
    stub=$(mktemp -d)
    for command in systemctl deb-systemd-helper deb-systemd-invoke; do
        printf '#!/bin/sh\necho "${0##*/} $*" >> %s/calls\nexit 0\n' "$stub" > "$stub/$command"
        chmod 755 "$stub/$command"
    done
    mkdir -p /run/systemd/system
    trap 'rmdir /run/systemd/system 2>/dev/null || true' EXIT   # even when a step below fails
    calls() { # what the last dpkg step called, on one line
        local c; c=$(paste -sd, "$stub/calls" 2>/dev/null); rm -f "$stub/calls"; echo "${c:-none}"
    }
    expect() { # label expected actual
        echo "  $1: $3"
        [[ $2 == "$3" ]] || fail "$1: expected $2"
    }
    PATH=$stub:$PATH dpkg -i "$DEB" </dev/null >/dev/null
    reload="systemctl --system daemon-reload" enabled="deb-systemd-helper --quiet is-enabled lantern.service"
    expect install "$reload,deb-systemd-helper enable lantern.service,$enabled,deb-systemd-invoke restart lantern.service" "$(calls)"
    PATH=$stub:$PATH dpkg -i "$OUT/upgrade/lantern_${UPGRADE}_amd64.deb" </dev/null >/dev/null
    expect upgrade "$reload,$enabled,deb-systemd-invoke restart lantern.service" "$(calls)"
    PATH=$stub:$PATH dpkg -r lantern >/dev/null
    expect remove "deb-systemd-invoke stop lantern.service,$reload" "$(calls)"
    PATH=$stub:$PATH dpkg -P lantern >/dev/null
    expect purge "deb-systemd-helper purge lantern.service,$reload" "$(calls)"
    rmdir /run/systemd/system
    trap - EXIT
    rm -rf "$stub"
fi

step "5. the arm64 and armhf packages' binaries under qemu-user"
for deb_arch in arm64 armhf; do
    dir=$OUT/unpacked-$deb_arch
    rm -rf "$dir"
    dpkg-deb -x "$OUT/$VERSION/lantern_${VERSION}_$deb_arch.deb" "$dir"
    file -b "$dir/usr/bin/lantern"
    if [[ $deb_arch == arm64 ]]; then
        qemu=(qemu-aarch64-static); want=aarch64
    else
        qemu=(qemu-arm-static -cpu arm1176); want=armv6   # the Pi Zero's and Pi 1's CPU
    fi
    version=$("${qemu[@]}" "$dir/usr/bin/lantern" --version)
    echo "$deb_arch: $version"
    [[ $version == *"($want, Embedded Swift, musl)"* ]] || fail "$deb_arch package holds the wrong build"
    "${SMOKE[@]}" --env-file "$dir/etc/default/lantern" "${qemu[@]}" "$dir/usr/bin/lantern"
done

step "6. the archives"
for arch in x86_64 aarch64 armv7 armv6; do
    name=lantern-$VERSION-linux-$arch
    listing=$(tar -tzf "$OUT/$VERSION/$name.tar.gz" | LC_ALL=C sort | tr '\n' ' ')
    echo "$name.tar.gz: $listing"
    for member in lantern lantern.service lantern.default README.md; do
        [[ " $listing " == *" $name/$member "* ]] || fail "$name.tar.gz lacks $member"
    done
    tar -xzOf "$OUT/$VERSION/$name.tar.gz" "$name/lantern" | cmp - "dist/lantern-linux-$arch" || fail "$name.tar.gz: another binary"
done

step "7. OpenWrt: sh -n and the init script against stubbed procd"
if [[ -f tools/openwrt/test.sh ]]; then
    sh -n tools/openwrt/lantern.init
    sh tools/openwrt/test.sh
else
    echo "no tools/openwrt/ yet"
fi

echo
echo "package-test: sizes:"
(cd "$OUT/$VERSION" && ls -l ./*.deb ./*.tar.gz | awk '{ printf "  %9d  %s\n", $5, substr($9, 3) }')
echo "package-test: all passed"
