#!/bin/sh
# Time-boxed libFuzzer run of every fuzz target (docs/security.md,
# items 60, 71, 84).
#
#   tests/fuzz/run.sh [builddir]        default builddir: build-fuzz
#   FUZZ_SECONDS=N                      seconds per target, default 30
#
# Sets up a separate clang build with -Dfuzzing=true (ASan + UBSan +
# libFuzzer), builds only the fuzz targets, and fuzzes each one starting from
# a scratch copy of its seed corpus, so the seeds in the tree never change.
# Exits non-zero if any target crashes, leaks, times out or trips a
# sanitizer; the input that did it is kept under <builddir>/fuzz-artifacts/
# and can be replayed with the ordinary build's <target>_replay binary.
set -eu

# A build directory given relative to where we were called from.
case ${1:-} in
"")	builddir=build-fuzz ;;
/*)	builddir=$1 ;;
*)	builddir=$PWD/$1 ;;
esac
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
seconds=${FUZZ_SECONDS:-30}
targets="host proto httphead policy kvpath cgipure archive"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/tenantd-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 1' INT TERM

if [ ! -f "$builddir/build.ninja" ]; then
	if ! CC=clang meson setup "$builddir" -Dfuzzing=true \
	    -Db_lundef=false >"$scratch/setup.log" 2>&1; then
		cat "$scratch/setup.log" >&2
		exit 1
	fi
else
	# An existing directory must be a clang one; meson.build says so if not.
	meson configure "$builddir" -Dfuzzing=true -Db_lundef=false
fi
# Only the fuzz targets: the rest of the tree is the gcc build's business.
ninja -C "$builddir" $(for t in $targets; do
	printf 'tests/fuzz/%s_fuzz ' "$t"
done)

failed=""
for t in $targets; do
	# Inputs a little past each parser's own limit.
	case $t in
	host)		maxlen=300 ;;	# names end at 253 bytes
	proto)		maxlen=16400 ;;	# PROTO_MSG_MAX is 16384
	httphead)	maxlen=1100 ;;	# the target uses head_max 1024
	policy)		maxlen=4096 ;;
	kvpath)		maxlen=600 ;;	# keys of 64 bytes, escaped three times
	cgipure)	maxlen=8192 ;;	# routes, a 4096-byte head, output
	archive)	maxlen=8192 ;;	# metadata, or a tree of some links
	esac
	dict=""
	if [ -f "tests/fuzz/$t.dict" ]; then
		dict="-dict=tests/fuzz/$t.dict"
	fi
	mkdir -p "$scratch/$t" "$builddir/fuzz-artifacts/$t"
	cp tests/fuzz/corpus/"$t"/* "$scratch/$t/"
	log="$builddir/fuzz-$t.log"
	echo "fuzz: $t for ${seconds}s (-max_len=$maxlen)"
	# shellcheck disable=SC2086	# $dict is empty or one word
	if "$builddir/tests/fuzz/${t}_fuzz" -max_total_time="$seconds" \
	    -max_len="$maxlen" -timeout=10 -rss_limit_mb=2048 \
	    -error_exitcode=1 -print_final_stats=1 $dict \
	    -artifact_prefix="$builddir/fuzz-artifacts/$t/" \
	    "$scratch/$t" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz: $t ok, ${runs:-?} runs"
	else
		echo "fuzz: $t FAILED; log: $log" >&2
		tail -n 40 "$log" >&2
		failed="$failed $t"
	fi
done

if [ -n "$failed" ]; then
	echo "fuzz: crashes in:$failed" \
	    "(inputs in $builddir/fuzz-artifacts/)" >&2
	exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a crash"
