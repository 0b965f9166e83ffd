#!/bin/sh
# meson install script: put the default tenantd.conf in place unless one is
# already there, so that reinstalling over a live system never overwrites
# the operator's configuration (a package manages it as a conffile instead).
# On a live install (no DESTDIR) also create the tenantd-proxy group, the
# tenantd-front user and the directories, as the package's postinst does,
# because the default configuration names that group (and [front] user
# that user).
#
# usage: install-conf.sh CONF SYSCONFDIR SYSUSERSDIR TMPFILESDIR
set -eu
conf=$1
etc=${DESTDIR:-}$2/tenantd
sysusers=$3
tmpfiles=$4

if [ "${MESON_INSTALL_DRY_RUN:-}" ]; then
	exit 0
fi
mkdir -p "$etc"
if [ -e "$etc/tenantd.conf" ]; then
	echo "Keeping $etc/tenantd.conf (the new default is $conf)"
else
	install -m 0644 "$conf" "$etc/tenantd.conf"
	echo "Installing $conf to $etc"
fi
if [ -z "${DESTDIR:-}" ]; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers "$sysusers/tenantd.conf"
	else
		getent group tenantd-proxy >/dev/null ||
		    groupadd --system tenantd-proxy
		getent passwd tenantd-front >/dev/null ||
		    useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin tenantd-front
	fi
	if command -v systemd-tmpfiles >/dev/null 2>&1; then
		systemd-tmpfiles --create "$tmpfiles/tenantd.conf"
	fi
fi
