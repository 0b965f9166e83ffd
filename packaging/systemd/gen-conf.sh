#!/bin/sh
# Write the default tenantd.conf: a short header, then what the built
# tenantd prints with -D for the packaged values (every key, documented,
# with the value in effect). tenantd -D needs no root and touches nothing.
#
# usage: gen-conf.sh TENANTD INPUT OUTPUT
set -eu
tenantd=$1
input=$2
output=$3
tmp=$output.tmp
{
	cat <<'HEADER'
# /etc/tenantd/tenantd.conf, as installed. See tenantd.conf(5).
#
# Set [hosts] suffix (and admin) to your domain before serving tenants.
# "systemctl reload tenantd" applies what can change while running and logs
# the keys that need "systemctl restart tenantd"; "tenantd -n" checks a file.
#
# Under socket activation (tenantd.socket, the default) the proxy socket's
# path, group and mode come from that unit; [proxy] socket, socket_group and
# socket_mode apply when tenantd runs without it and binds the socket itself.
# The proxy's user must be in the group: usermod -aG tenantd-proxy www-data
#
HEADER
	"$tenantd" -c "$input" -D
} >"$tmp"
mv "$tmp" "$output"
