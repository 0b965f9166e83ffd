#!/usr/bin/env bash
# tenantd under a real systemd: build the .deb from a scratch copy of the
# tree, install it into a minimal Debian root and boot that root with
# systemd-nspawn twice, then twice as a virtual machine (cgroup v2, then
# v1); guest/check.sh runs the checks inside (see there).
#
#   tests/system/run.sh            (meson test --suite system runs this)
#
# Environment:
#   TENANTD_TEST_CACHE  where the Debian root is cached as a tarball
#                       (default /var/cache/tenantd-test)
#   TENANTD_SYSTEM_WORK scratch directory, emptied at start
#                       (default /var/tmp/tenantd-system-test)
#   TENANTD_KEEP_ROOT=1 keep the booted root after a passing run
#   TENANTD_SYSTEM_PHASES  which boots, of "install cgroup2 cgroup1" (the
#                       default, all): install is the container's two
#                       boots (install, then main), cgroup2 and cgroup1
#                       the virtual machine's
#   TENANTD_SYSTEM_DROPIN  a file installed as a drop-in for tenantd.service
#                       in the container, for experiments (a different
#                       CapabilityBoundingSet=, say); checks still expect
#                       the shipped unit
#
# Needs root, debootstrap, systemd-nspawn and qemu (installed from Debian's
# packages if missing), and the Debian mirror apt uses here for the first
# run; later runs use the cached root and need no network.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TENANTD_TEST_CACHE:-/var/cache/tenantd-test}
work=${TENANTD_SYSTEM_WORK:-/var/tmp/tenantd-system-test}
suite=bookworm
# Bump to rebuild every cached root (a change to how it is made).
root_format=1
# The kernel (and its initramfs) is for the virtual machine of step 5; a
# container ignores it.
base_packages=systemd,systemd-sysv,dbus,curl,procps,iproute2,python3,linux-image-amd64

phases=${TENANTD_SYSTEM_PHASES:-install cgroup2 cgroup1}
want() { case " $phases " in *" $1 "*) return 0 ;; esac; return 1; }
t0=$(date +%s)
say() { printf 'system: [%3ds] %s\n' $(($(date +%s) - t0)) "$*"; }
die() { say "FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, systemd-nspawn)"

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v zstd >/dev/null || need+=(zstd)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v debugfs >/dev/null || need+=(e2fsprogs)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] ||
    need+=(debian-archive-keyring)
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends "${need[@]}" >/dev/null
fi

# The mirror apt uses on this machine for $suite (deb822 .sources files
# first, then one-line lists), so debootstrap goes where apt goes.
mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$suite" '
		    /^[ \t]*$/ { if (ok && uri != "") { print uri; exit }
				 ok = 0; uri = ""; deb = 0; next }
		    tolower($1) == "types:" { for (i = 2; i <= NF; i++)
				 if ($i == "deb") deb = 1 }
		    tolower($1) == "uris:" { uri = $2 }
		    tolower($1) == "suites:" { for (i = 2; i <= NF; i++)
				 if ($i == suite) ok = 1 }
		    END { if (ok && deb && uri != "") print uri }' "$f" |
		    head -1
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
	    awk -v suite="$suite" '$1 == "deb" {
		for (i = 2; i <= NF; i++) if ($i !~ /^\[/) break
		if ($(i + 1) == suite) print $i }' || true
}

case $work in
/ | /var/tmp | /tmp | "") die "TENANTD_SYSTEM_WORK=$work: not a scratch directory" ;;
esac
rm -rf "$work"
mkdir -p "$work" "$cache"

# --- 1. the package
say "building the .deb"
deb=$("$here/build-deb.sh" "$work/deb") || die "package build (see above)"
say "built $(basename "$deb")"

# --- 2. the Debian root, cached by what goes into it
mirror=$(mirror | head -1) || true
[ -n "$mirror" ] || die "no $suite mirror in /etc/apt/sources.list{,.d}"
# tenantd's run-time dependencies go into the root too, so that dpkg -i
# inside needs no network.
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//' |
    tr -d ' ' | grep -v '^$' | sort -u | paste -sd, -)
include=$base_packages,$deps
id=$(printf '%s\n' "$root_format" "$suite" "$mirror" "$include" |
    sha256sum | cut -c1-16)
tarball=$cache/$suite-minbase-$id.tar.zst
(
	flock 9
	if [ -f "$tarball" ]; then
		say "cached root $tarball"
	else
		say "debootstrap $suite (minbase + $include) from $mirror"
		rm -rf "$work/bootstrap"
		if ! debootstrap --variant=minbase --include="$include" \
		    "$suite" "$work/bootstrap" "$mirror" \
		    >"$work/debootstrap.log" 2>&1; then
			tail -30 "$work/debootstrap.log"
			die "debootstrap (log: $work/debootstrap.log)"
		fi
		rm -rf "$work"/bootstrap/var/cache/apt/archives/*.deb \
		    "$work"/bootstrap/var/lib/apt/lists/*
		tar -C "$work/bootstrap" --numeric-owner -cf - . |
		    zstd -q -T0 -o "$tarball.tmp"
		mv "$tarball.tmp" "$tarball"
		rm -rf "$work/bootstrap"
		say "cached root $tarball ($(du -h "$tarball" | cut -f1))"
	fi
) 9>"$cache/.lock"
# Old roots of other package sets are of no further use.
find "$cache" -maxdepth 1 -name "$suite-minbase-*.tar.zst" ! -name \
    "$(basename "$tarball")" -mtime +7 -delete

# --- 3. a fresh copy of it, with the test inside
# unpack DIR: the cached root into DIR, with the checks, the package and
# the test unit inside.
unpack() {
	local r=$1
	mkdir "$r"
	zstd -q -dc "$tarball" | tar -C "$r" --numeric-owner -xpf -
	mkdir -p "$r/tenantd-test/out"
	cp "$here/guest/check.sh" "$here/guest/load.py" "$here/../bombs/fork.py" \
	    "$here/../bombs/mem.py" "$r/tenantd-test/"
	cp "$deb" "$r/tenantd-test/tenantd.deb"
	cp "$here/guest/tenantd-test.service" "$r/etc/systemd/system/"
	ln -s /etc/systemd/system/tenantd-test.service \
	    "$r/etc/systemd/system/multi-user.target.wants/tenantd-test.service"
	mkdir -p "$r/etc/systemd/system/tenantd.service.d"
	cp "$here/guest/watchdog.conf" "$r/etc/systemd/system/tenantd.service.d/"
	if [ -n "${TENANTD_SYSTEM_DROPIN:-}" ]; then
		cp "$TENANTD_SYSTEM_DROPIN" \
		    "$r/etc/systemd/system/tenantd.service.d/zz-experiment.conf"
	fi
	# A persistent journal, readable from here with journalctl -D, under
	# a machine id that stays the same across boots.
	mkdir -p "$r/var/log/journal"
	od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$r/etc/machine-id"
	echo >>"$r/etc/machine-id"
}
root=$work/root
g=$root/tenantd-test
unpack "$root"

# --- 4. boot it: once to install, once to run the checks
total_pass=0
total_fail=0
# verdict PHASE RC BOOTLOG RESDIR JOURNALDIR: count and print the results
# of one boot; on a failure, everything there is to see, then die.
verdict() {
	local phase=$1 rc=$2 blog=$3 rdir=$4 jdir=$5 res=$4/$1.results p f
	p=$(grep -c '^PASS' "$res" 2>/dev/null || true)
	f=$(grep -c '^FAIL' "$res" 2>/dev/null || true)
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	grep -E '^(PASS|FAIL)' "$res" 2>/dev/null | sed 's/^/system:   /' || true
	if [ "$rc" -ne 0 ] || ! grep -qx END "$res" 2>/dev/null || [ "$f" -gt 0 ]; then
		say "phase $phase: $p passed, $f failed, exit $rc" \
		    "$(grep -qx END "$res" 2>/dev/null || echo '(checks did not finish)')"
		echo "===== failed checks ($phase)"
		grep '^FAIL' "$res" 2>/dev/null || true
		echo "===== diagnostics from inside the guest ($phase)"
		cat "$rdir/$phase.diag" 2>/dev/null || true
		echo "===== guest journal: tenantd units and the test, last 300 lines"
		journalctl -D "$jdir" --no-pager -o short-monotonic \
		    -u tenantd.service -u tenantd.socket -u tenantd-test.service \
		    2>/dev/null | tail -300 || true
		echo "===== guest journal: warnings and worse, last 100 lines"
		journalctl -D "$jdir" --no-pager -o short-monotonic \
		    -p warning 2>/dev/null | tail -100 || true
		echo "===== console, last 60 lines"
		tail -60 "$blog" | sed 's/\x1b\[[0-9;]*m//g'
		echo "====="
		echo "system: $total_pass passed, $((total_fail > 0 ? total_fail : 1)) failed"
		die "phase $phase (work dir kept: $work)"
	fi
	say "phase $phase: $p passed"
}
boot() {
	local phase=$1 limit=$2 rc=0
	echo "$phase" >"$g/phase"
	say "booting the container: phase $phase"
	# --keep-unit --register=no: needed here, where pid 1 is not systemd
	# and there is no machined. --private-network: the container has its
	# own loopback and nothing else. CAP_SYS_RESOURCE, which nspawn drops
	# by default, lets its systemd apply OOMScoreAdjust=-900 as on a host.
	timeout --kill-after=10 "$limit" systemd-nspawn -q -D "$root" -b \
	    --keep-unit --register=no --private-network \
	    --capability=CAP_SYS_RESOURCE \
	    --machine=tenantd-test </dev/null >"$work/boot-$phase.log" 2>&1 ||
	    rc=$?
	verdict "$phase" $rc "$work/boot-$phase.log" "$g/out" \
	    "$root/var/log/journal"
}
if want install; then
	boot install 300
	boot main 600
fi
[ "${TENANTD_KEEP_ROOT:-}" = 1 ] || rm -rf "$root"

# --- 5. the same root as a virtual machine, for what a container cannot
# show: cgroup v2 with its controllers, which systemd delegates to
# tenantd.service (a container here gets the host's hierarchy, whose
# controllers are v1 and read-only inside). Debian's kernel boots the root
# under qemu with its software CPU: these machines' KVM accepts a guest and
# then never runs it, and emulation boots in about 20 s. Phases cgroup2
# and cgroup1 install the package and check tenant code's cgroups
# (guest/check.sh), the second on a kernel command line that makes
# systemd mount cgroup v1.
vm() {
	local phase=$1 limit=$2 append=${3:-} rc=0 vroot=$work/vmroot
	local img=$work/vm.img
	local kernel initrd size
	unpack "$vroot"
	echo "$phase" >"$vroot/tenantd-test/phase"
	echo '/dev/vda / ext4 rw 0 1' >"$vroot/etc/fstab"
	kernel=$(find "$vroot/boot" -name 'vmlinuz-*' | sort -V | tail -1)
	initrd=$(find "$vroot/boot" -name 'initrd.img-*' | sort -V | tail -1)
	[ -n "$kernel" ] && [ -n "$initrd" ] || die "no kernel in the root"
	size=$(($(du -sm "$vroot" | cut -f1) + 1024))
	truncate -s "${size}M" "$img"
	mkfs.ext4 -q -F -d "$vroot" -L tenantd-test "$img" ||
	    die "mkfs.ext4 -d $vroot"
	cp "$kernel" "$initrd" "$work/"
	rm -rf "$vroot"
	say "booting the virtual machine: phase $phase"
	timeout --kill-after=10 "$limit" qemu-system-x86_64 \
	    -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
	    -nographic -no-reboot -nic none \
	    -kernel "$work/$(basename "$kernel")" \
	    -initrd "$work/$(basename "$initrd")" \
	    -append "root=/dev/vda rw console=ttyS0 panic=-1 $append" \
	    -drive "file=$img,format=raw,if=virtio" \
	    </dev/null >"$work/boot-$phase.log" 2>&1 || rc=$?
	# The results, diagnostics and journal, out of the image unmounted
	# (into an empty directory: rdump does not replace an earlier boot's).
	rm -rf "$work/vm-out"
	mkdir -p "$work/vm-out"
	debugfs -R "rdump /tenantd-test/out /var/log/journal $work/vm-out" \
	    "$img" >/dev/null 2>&1 || true
	verdict "$phase" $rc "$work/boot-$phase.log" "$work/vm-out/out" \
	    "$work/vm-out/journal"
	[ "${TENANTD_KEEP_ROOT:-}" = 1 ] || rm -f "$img"
}
if want cgroup2; then
	vm cgroup2 900
fi
# The same on cgroup v1, which Debian 12's systemd still boots when asked:
# the unit's delegation there is per controller hierarchy.
if want cgroup1; then
	vm cgroup1 900 systemd.unified_cgroup_hierarchy=0
fi

say "all checks passed in $(($(date +%s) - t0)) s"
echo "$total_pass passed, 0 failed"
