#!/usr/bin/env bash
# Build tenantd and start it on built-in defaults, with a state directory
# inside the checkout (demo-state/) and two demo tenants. Prints what to try.
#   ./packaging/demo.sh          install, build, (re)start the demo
#   ./packaging/demo.sh stop     stop it
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
state=$top/demo-state
conf=$state/tenantd.conf
pidfile=$state/tenantd.pid
sock=$state/run/http.sock
suffix=demo.localhost
# The loopback listener for /metrics and /ask, served by the front.
http=127.0.0.1:${TENANTD_DEMO_HTTP_PORT:-9465}

stop() {
	if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		kill "$(cat "$pidfile")"
		for _ in $(seq 50); do
			kill -0 "$(cat "$pidfile")" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$pidfile"
}

if [ "${1:-}" = stop ]; then
	stop
	echo "demo stopped"
	exit 0
fi

./packaging/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

# The front's system user ([front] user), as the package creates it.
getent passwd tenantd-front >/dev/null ||
    useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin tenantd-front

# Everything else keeps its built-in default (tenantd -D prints them all).
mkdir -p "$state"
chmod 0755 "$state"
cat > "$conf" <<CONF
[paths]
state_dir = $state
run_dir = $state/run
worker = $top/build/worker/tenantd-worker
runner = $top/build/runner/tenantd-run
front = $top/build/front/tenantd-front
policy_dir = $top/policy

[hosts]
suffix = $suffix
admin = admin.$suffix

[admin]
http_listen = $http
CONF

ctl() { build/tenantctl/tenantctl -c "$conf" "$@"; }
ctl init >/dev/null
for t in acme globex; do
	ctl show "$t" >/dev/null 2>&1 || ctl create "$t" >/dev/null
	# A demo tenant made before the credit ledger existed has an empty
	# one: give it what a new tenant gets, so the API examples work.
	if ctl credits show "$t" --json | grep -q '"transactions": 0'; then
		ctl credits add "$t" 1000 --note "demo: initial credits" >/dev/null
	fi
done

# A request handler of acme's, run in its sandbox (docs/tenant-code.md):
# app/ and what is in it belong to the tenant's uid, as a deploy would.
app=$state/tenants/acme/app
cat >"$app/hello.sh" <<'SH'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
printf 'hello from %s, uid %s, in %s\n' "$TENANT" "$(id -u)" "$(pwd)"
ls / | tr '\n' ' '
echo
SH
printf '/hello hello.sh\n' >"$app/routes"
chown "$(stat -c %u:%g "$app")" "$app/hello.sh" "$app/routes"
chmod 0755 "$app/hello.sh"
chmod 0644 "$app/routes"

stop
setsid build/supervisor/tenantd -c "$conf" >>"$state/tenantd.log" 2>&1 \
    </dev/null &
echo $! >"$pidfile"
for _ in $(seq 100); do
	[ -S "$sock" ] && break
	sleep 0.05
done
if ! [ -S "$sock" ]; then
	echo "tenantd did not start; see $state/tenantd.log" >&2
	tail -5 "$state/tenantd.log" >&2
	exit 1
fi

tok=$(ctl key show acme api)
cat <<MSG
tenantd is running (pid $(cat "$pidfile")), log: demo-state/tenantd.log
Tenants acme and globex are served as <slug>.$suffix. Try:

  curl --unix-socket $sock -H 'Host: acme.$suffix' http://x/
  curl --unix-socket $sock -H 'Host: globex.$suffix' http://x/
  curl -i --unix-socket $sock -H 'Host: nobody.$suffix' http://x/     # 404
  curl -i --unix-socket $sock -H 'Host: admin.$suffix' http://x/      # 421

  # acme's key-value API (its token: tenantctl key show acme api)
  curl -X PUT --unix-socket $sock -H 'Host: acme.$suffix' \\
      -H 'Authorization: Bearer $tok' --data '{"hello": "world"}' \\
      http://x/.tenantd/kv/greeting
  curl --unix-socket $sock -H 'Host: acme.$suffix' \\
      -H 'Authorization: Bearer $tok' http://x/.tenantd/kv/greeting
  curl -i --unix-socket $sock -H 'Host: globex.$suffix' \\
      -H 'Authorization: Bearer $tok' http://x/.tenantd/kv/greeting  # 401
  build/tenantctl/tenantctl -c $conf credits show acme  # one credit a call
  build/tenantctl/tenantctl -c $conf limits show acme

  # acme's handler, app/hello.sh, in acme's sandbox: its uid, no /proc
  curl --unix-socket $sock -H 'Host: acme.$suffix' http://x/hello

  build/tenantctl/tenantctl -c $conf list
  build/tenantctl/tenantctl -c $conf suspend acme    # next request: 503
  build/tenantctl/tenantctl -c $conf resume acme
  ps -o pid,uid,gid,cmd -C tenantd-worker             # one uid per tenant

  # The loopback listener, read by the unprivileged front, not by root
  curl http://$http/metrics
  curl -i 'http://$http/ask?domain=acme.$suffix'       # 200: Caddy may
  ps -o pid,user,cmd -C tenantd-front

Stop it with: ./packaging/demo.sh stop
MSG
echo
echo "\$ curl --unix-socket $sock -H 'Host: acme.$suffix' http://x/"
curl -sS --unix-socket "$sock" -H "Host: acme.$suffix" http://x/
