#!/usr/bin/env bash
# Install what tenantd needs to build, run and be tested on Debian 12, from
# Debian's own packages. Idempotent: does nothing when all are present.
set -euo pipefail

packages=(
	# build
	build-essential meson ninja-build pkg-config
	libev-dev libseccomp-dev libcap-dev libsqlite3-dev libsodium-dev
	libhttp-parser-dev libinih-dev libjansson-dev libsystemd-dev
	libarchive-dev
	# tests: unit framework, pytest on Debian's python3, fuzzing, tracing
	libcmocka-dev python3 python3-pytest clang libclang-rt-14-dev
	strace curl procps util-linux mandoc binutils
	valgrind  # callgrind counts instructions: the constant-time check
	nginx haproxy caddy openssl  # real proxies for test_proxies.py
	# the package and the real-systemd test (tests/system)
	debhelper lintian debootstrap systemd-container
	# the Host classifier is tested under a Turkish locale too (localedef)
	locales
)

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: run as root (it installs Debian packages)" >&2
	exit 1
fi
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The tests start their own nginx, HAProxy and Caddy on loopback ports:
# the packages' default services (all wanting port 80) must not start.
# Container images usually deny service starts already; if not, we do,
# for this install only.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
