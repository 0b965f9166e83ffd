#!/usr/bin/env bash
# Build the tenantd .deb from a scratch copy of the work tree, with
# packaging/debian copied to ./debian there, so the repository root is never
# touched. Then run lintian on the result: any error fails the build.
#
# usage: tests/system/build-deb.sh OUTDIR
#   Leaves OUTDIR/tenantd_<version>_<arch>.deb, the .changes and
#   OUTDIR/lintian.txt. Needs root only to install missing build tools.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)

say() { printf 'build-deb: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# The tools this script itself runs; the build dependencies come after.
need=()
for p in dpkg-dev debhelper lintian fakeroot; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends "${need[@]}" >/dev/null
fi

# The scratch copy: what git tracks plus new files it does not ignore, as
# they are in the work tree now (uncommitted changes included). Build
# directories and demo state are ignored, so they stay out.
git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    die "$src is not a git work tree (the copy takes what git tracks)"
scratch=$out/src
rm -rf "$scratch"
mkdir -p "$scratch/tenantd"
tree=$scratch/tenantd
(cd "$src" && git ls-files -z -c -o --exclude-standard --deduplicate |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null --verbatim-files-from -T - -cf - | tar -C "$tree" -xf -)
cp -a "$tree/packaging/debian" "$tree/debian"

# debian/changelog and meson.build must agree on the version.
deb_version=$(cd "$tree" && dpkg-parsechangelog -S Version)
meson_version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" \
    "$tree/meson.build" | head -1)
[ "${deb_version%%-*}" = "$meson_version" ] ||
    die "debian/changelog says $deb_version, meson.build says $meson_version"

if ! (cd "$tree" && dpkg-checkbuilddeps) 2>/dev/null; then
	say "installing the build dependencies from debian/control"
	apt-get update -qq
	(cd "$tree" && DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq \
	    --no-install-recommends ./ >/dev/null)
	(cd "$tree" && dpkg-checkbuilddeps) || die "build dependencies missing"
fi

say "dpkg-buildpackage -b -us -uc in $tree"
if ! (cd "$tree" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1; then
	tail -60 "$out/build.log" >&2
	die "dpkg-buildpackage (full log: $out/build.log)"
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$scratch/tenantd_${deb_version}_${arch}.deb
changes=$scratch/tenantd_${deb_version}_${arch}.changes
[ -f "$deb" ] || die "no $deb"
# The .changes names every file of the build (the -dbgsym package too).
for f in $(sed -n '/^Files:/,/^[^ ]/s/^ [0-9a-f]* [0-9]* [^ ]* [^ ]* //p' \
    "$changes") "$(basename "$changes")"; do
	cp "$scratch/$f" "$out/"
done

# lintian: no error, ever. Warnings are printed; each one the package keeps
# is overridden with its reason in packaging/debian/tenantd.lintian-overrides.
lintian --allow-root --fail-on error --display-info --tag-display-limit 0 \
    "$out/$(basename "$changes")" >"$out/lintian.txt" 2>&1 || {
	cat "$out/lintian.txt" >&2
	die "lintian reports errors"
}
say "lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors," \
    "$(grep -c '^W:' "$out/lintian.txt" || true) warnings," \
    "$(grep -c '^I:' "$out/lintian.txt" || true) info"
sed 's/^/build-deb: lintian: /' "$out/lintian.txt" >&2
echo "$out/$(basename "$deb")"
