#!/bin/sh
# Build the Turkish locales test_host runs its table under (docs/security.md,
# item 79) into the build directory, found there through LOCPATH: nothing is
# installed on the machine. localedef needs the locale sources of Debian's
# "locales" package; without them the locale check is skipped (with a note),
# not failed, so this script never fails the build.
#
# usage: mklocale.sh <locale-dir> <stamp-file>
set -eu

dir=$1
stamp=$2
mkdir -p "$dir"
status=""
for spec in tr_TR.UTF-8:UTF-8 tr_TR.ISO-8859-9:ISO-8859-9; do
	name=${spec%%:*}
	charmap=${spec#*:}
	# localedef exits 1 on mere warnings, so judge by what it wrote.
	localedef -i tr_TR -f "$charmap" "$dir/$name" >/dev/null 2>&1 || true
	if [ -f "$dir/$name/LC_CTYPE" ]; then
		status="$status $name:built"
	else
		status="$status $name:unavailable"
	fi
done
echo "$status" >"$stamp"
