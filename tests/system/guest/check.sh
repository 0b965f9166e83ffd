#!/bin/bash
# The checks, run inside the booted test container by tenantd-test.service.
# /tenantd-test/phase says which boot this is:
#   install  dpkg -i the package under the running systemd (its postinst
#            starts the units), check what the postinst made
#   main     a second boot: the units come up enabled; every other check
#   cgroup2  a virtual machine on cgroup v2: install, then tenant code's
#            cgroups under the unit's delegation (phase_cgroups)
#   cgroup1  the same on cgroup v1 (systemd.unified_cgroup_hierarchy=0)
# Results go to /tenantd-test/out/<phase>.results, one "PASS name" or
# "FAIL name: why" a line, then "END"; diagnostics (unit status, journal)
# to /tenantd-test/out/<phase>.diag when anything failed. The unit powers
# the container off afterwards, whatever happened.
set -u

T=/tenantd-test
phase=$(cat $T/phase)
out=$T/out/$phase.results
diag=$T/out/$phase.diag
sock=/run/tenantd/http.sock
state=/var/lib/tenantd
key=$state/keys/master-1.key
failed=0
: >"$out"

# The capability bounding set tenantd.service documents, by name and bit.
CAPS_DOC="CAP_CHOWN CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_SYS_CHROOT
    CAP_SYS_ADMIN"
declare -A CAPBIT=([CAP_CHOWN]=0 [CAP_DAC_OVERRIDE]=1 [CAP_DAC_READ_SEARCH]=2
    [CAP_FOWNER]=3 [CAP_KILL]=5 [CAP_SETGID]=6 [CAP_SETUID]=7 [CAP_SETPCAP]=8
    [CAP_NET_BIND_SERVICE]=10 [CAP_SYS_CHROOT]=18 [CAP_SYS_ADMIN]=21
    [CAP_SYS_RESOURCE]=24)

log() { printf '%s %s\n' "$(date +%T.%N | cut -c1-12)" "$*" >&2; }
pass() { echo "PASS $1" >>"$out"; log "PASS $1"; }
fail() {
	echo "FAIL $1: $2" >>"$out"
	log "FAIL $1: $2"
	failed=$((failed + 1))
}
# check NAME COMMAND...: PASS if COMMAND succeeds, else FAIL with its output.
check() {
	local name=$1 msg
	shift
	if msg=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "[$*] $(echo "$msg" | tail -5 | tr '\n' ' ')"
	fi
}
# expect NAME GOT WANT: PASS if the two strings are equal.
expect() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "got '$2', want '$3'"
	fi
}
prop() { systemctl show -p "$2" --value "$1"; }
mainpid() { prop tenantd.service MainPID; }
keyhash() { sha256sum $key 2>&1 | cut -d' ' -f1; }
# wait_body NAME SLUG PATH WANT: PASS once SLUG's PATH answers WANT, within
# 10 s (a worker looks at app/routes at most once a second).
wait_body() {
	local i got
	for i in $(seq 50); do
		got=$(curl -sS --max-time 20 --unix-socket $sock \
		    -H "Host: $2.localhost" "http://tenant$3" 2>&1)
		[ "$got" = "$4" ] && break
		sleep 0.2
	done
	expect "$1" "$got" "$4"
}
get() {	# get SLUG: the body tenantd serves for SLUG.localhost
	curl -sS --max-time 10 --unix-socket $sock -H "Host: $1.localhost" \
	    http://tenant/
}
status_of() {
	curl -sS -o /dev/null -w '%{http_code}' --max-time 10 \
	    --unix-socket $sock -H "Host: $1.localhost" http://tenant/
}
wait_active() {	# wait_active UNIT: up to 20 s
	local i
	for i in $(seq 200); do
		[ "$(systemctl is-active "$1")" = active ] && return 0
		sleep 0.1
	done
	echo "$1 is $(systemctl is-active "$1")"
	return 1
}
# load SECONDS: run load.py in the background; its JSON goes to $T/load.json
load_start() {
	python3 $T/load.py $sock "$1" 8 acme.localhost="tenant acme page" \
	    globex.localhost="tenant globex page" >$T/load.json 2>$T/load.err &
	load_pid=$!
}
load_result() {	# load_result KEY: a number from the last load's JSON
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
k=sys.argv[2]
print(d["failures"].get(k[2:], 0) if k.startswith("f:") else d[k])' \
	    $T/load.json "$1"
}
capmask() {	# capmask NAME...: the hex mask of those capabilities
	local m=0 c
	for c in "$@"; do m=$((m | (1 << ${CAPBIT[$c]}))); done
	printf '%016x' $m
}
capfield() {	# capfield PID FIELD: e.g. CapBnd, as hex
	printf '%016x' $((16#$(awk -v f="$2:" '$1 == f { print $2 }' \
	    /proc/"$1"/status)))
}

diagnose() {
	{
		echo "=== systemctl status"
		systemctl status --no-pager -l tenantd.service tenantd.socket
		echo "=== systemctl show tenantd.service (selected)"
		systemctl show tenantd.service -p MainPID -p NRestarts \
		    -p Result -p StatusText -p WatchdogUSec \
		    -p CapabilityBoundingSet -p ExecMainStatus
		echo "=== processes"
		ps -eo pid,ppid,uid,stat,etimes,cmd
		echo "=== journal of this boot: tenantd units"
		journalctl -b --no-pager -o short-monotonic -u tenantd.service \
		    -u tenantd.socket | tail -300
		echo "=== journal of this boot: warnings and worse"
		journalctl -b --no-pager -o short-monotonic -p warning | tail -100
		echo "=== last load"
		cat $T/load.json $T/load.err 2>/dev/null
	} >"$diag" 2>&1
}

finish() {
	[ $failed -eq 0 ] || diagnose
	echo END >>"$out"
	sync
	exit 0
}

phase_install() {
	if ! dpkg -i $T/tenantd.deb >$T/out/dpkg-install.log 2>&1; then
		fail install "dpkg -i: $(tail -5 $T/out/dpkg-install.log | tr '\n' ' ')"
		finish
	fi
	pass install
	check group_created getent group tenantd-proxy
	expect dirs_modes "$(stat -c '%a %U' $state $state/tenants \
	    $state/keys | tr '\n' ' ')" "755 root 711 root 700 root "
	expect master_key_created "$(stat -c '%a %U %s' $key 2>&1)" "400 root 32"
	expect registry_created "$(stat -c '%a %U' $state/registry.db 2>&1)" \
	    "600 root"
	check default_config_valid tenantd -n
	expect units_verify "$(systemd-analyze verify --man=no \
	    tenantd.socket tenantd.service 2>&1)" ""
	check socket_active_after_install wait_active tenantd.socket
	check service_active_after_install wait_active tenantd.service
	keyhash >$T/out/key.sha256
	finish
}

phase_main() {
	local pid pid2 ts0 ts1 i uid wpid

	# --- boot: both units come up enabled, tenantd holds systemd's socket
	check socket_active_after_boot wait_active tenantd.socket
	check service_active_after_boot wait_active tenantd.service
	expect socket_owner_mode "$(stat -c '%a %U %G' $sock 2>&1)" \
	    "660 root tenantd-proxy"
	check socket_passed_by_systemd sh -c "ss -xlpn | grep -F '$sock' |
	    grep -q 'systemd' && ss -xlpn | grep -F '$sock' | grep -q tenantd"
	check status_text test -n "$(prop tenantd.service StatusText)"

	# --- tenants: each gets its own page through the socket
	for t in acme globex; do
		check "create_$t" tenantctl create $t
		printf 'tenant %s page\n' $t >$state/tenants/$t/public/index.html
		# The load checks below send far more than the default 1000
		# requests a minute: they are about dropping, not the rate.
		check "rate_$t" tenantctl limits set $t requests_per_minute 10000000
	done
	expect serves_acme "$(get acme 2>&1)" "tenant acme page"

	# --- the data plane as packaged: limits file, ledger, KV API
	check tenant_limits_installed test -f /etc/tenantd/policy/tenant.limits
	expect ledger_root_only "$(stat -c '%a %U' $state/tenants/acme/billing.db 2>&1)" \
	    "600 root"
	expect initial_credits "$(tenantctl credits show acme --json 2>&1 |
	    sed -n 's/.*"balance": *\([0-9]*\).*/\1/p')" 1000
	tok=$(tenantctl key show acme api)
	expect kv_put "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 \
	    --unix-socket $sock -H 'Host: acme.localhost' -X PUT \
	    -H "Authorization: Bearer $tok" --data-binary '{"a":1}' \
	    http://tenant/.tenantd/kv/k 2>&1)" 201
	expect kv_get "$(curl -sS --max-time 10 --unix-socket $sock \
	    -H 'Host: acme.localhost' -H "Authorization: Bearer $tok" \
	    http://tenant/.tenantd/kv/k 2>&1)" '{"key":"k","value":{"a":1}}'
	expect kv_other_token "$(curl -sS -o /dev/null -w '%{http_code}' \
	    --max-time 10 --unix-socket $sock -H 'Host: globex.localhost' \
	    -H "Authorization: Bearer $tok" http://tenant/.tenantd/kv/k 2>&1)" 401

	# --- tenant code: a handler in app/, run by tenantd-run under the unit
	auid=$(stat -c %u $state/tenants/acme/public)
	agid=$(stat -c %g $state/tenants/acme/public)
	printf '/hello hello.sh\n' >$state/tenants/acme/app/routes
	cat >$state/tenants/acme/app/hello.sh <<'SH'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
printf 'hello from %s uid %s\n' "$TENANT" "$(id -u)"
SH
	chown "$auid:$agid" $state/tenants/acme/app/routes \
	    $state/tenants/acme/app/hello.sh
	chmod 0755 $state/tenants/acme/app/hello.sh
	wait_body handler_runs acme /hello "hello from acme uid $auid"
	expect serves_globex "$(get globex 2>&1)" "tenant globex page"
	expect unknown_tenant_404 "$(status_of nobody 2>&1)" 404

	# --- privileges and sandbox of the running unit
	pid=$(mainpid)
	local want have pid1
	want=$(capmask $CAPS_DOC)
	pid1=$(capfield 1 CapBnd)
	have=$(capfield "$pid" CapBnd)
	expect unit_capability_set "$(prop tenantd.service \
	    CapabilityBoundingSet | tr 'a-z ' 'A-Z\n' | sort | tr '\n' ' ')" \
	    "$(echo $CAPS_DOC | tr ' ' '\n' | sort | tr '\n' ' ')"
	expect capbnd_exact "$have" "$(printf '%016x' $((16#$want & 16#$pid1)))"
	if [ "$(printf '%016x' $((16#$want & ~16#$pid1)))" != 0000000000000000 ]; then
		log "note: the container's bounding set $pid1 lacks part of $want"
	fi
	check no_new_privs grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/$pid/status
	check seccomp_filter grep -q '^Seccomp:[[:space:]]*2$' /proc/$pid/status
	check etc_read_only nsenter -t "$pid" -m sh -c '! test -w /etc'
	check state_dir_writable nsenter -t "$pid" -m test -w $state
	check home_hidden nsenter -t "$pid" -m sh -c '! test -w /root'
	check proc_sys_read_only nsenter -t "$pid" -m sh -c \
	    '! test -w /proc/sys/kernel/hostname'
	check run_dir_noexec sh -c "awk '\$5 == \"/run/tenantd\" { print \$6 }' \
	    /proc/$pid/mountinfo | grep -qw noexec"
	uid=$(stat -c %u $state/tenants/acme/public)
	wpid=$(pgrep -u "$uid" -x tenantd-worker | head -1)
	expect worker_no_caps "${wpid:+$(capfield "$wpid" CapEff)/$(capfield \
	    "$wpid" CapBnd)}" 0000000000000000/0000000000000000
	# OOMScoreAdjust=-900 is applied by systemd, where it holds
	# CAP_SYS_RESOURCE (run.sh asks nspawn for it; a sandbox without it
	# makes systemd skip the setting, as it does in containers). The worker
	# raises its own score to 500.
	if (( 16#$pid1 & (1 << 24) )); then
		expect oom_score_adj "$(cat /proc/$pid/oom_score_adj) $(cat \
		    /proc/${wpid:-0}/oom_score_adj 2>&1)" "-900 500"
	else
		log "note: no CAP_SYS_RESOURCE in this container: OOMScoreAdjust not checked"
		expect oom_score_adj_worker "$(cat /proc/${wpid:-0}/oom_score_adj \
		    2>&1)" 500
	fi

	# --- watchdog: set by the drop-in, pinged, never fired
	expect watchdog_set "$(prop tenantd.service WatchdogUSec)" 4s
	ts0=$(prop tenantd.service WatchdogTimestampMonotonic)
	sleep 9
	ts1=$(prop tenantd.service WatchdogTimestampMonotonic)
	expect watchdog_kept "$(systemctl is-active tenantd.service) $(mainpid) $(
	    prop tenantd.service NRestarts)" "active $pid 0"
	check watchdog_pinged test "$ts1" -gt "$ts0"

	# --- reload under load: nothing dropped, same process
	load_start 8
	sleep 2
	for i in 1 2 3; do
		check "reload_$i" systemctl reload tenantd
		sleep 1.5
	done
	wait $load_pid
	log "reload load: $(cat $T/load.json)"
	check reload_load_ran test "$(load_result ok)" -gt 100
	expect reload_drops_nothing "$(load_result failed)" 0
	expect reload_same_process "$(mainpid)" "$pid"

	# a reload with a broken file is refused, and tenantd keeps serving
	cp /etc/tenantd/tenantd.conf $T/tenantd.conf.good
	printf '[workers]\nno_such_key = 1\n' >>/etc/tenantd/tenantd.conf
	check reload_bad_config_refused sh -c '! systemctl reload tenantd'
	cp $T/tenantd.conf.good /etc/tenantd/tenantd.conf
	expect bad_reload_keeps_serving "$(mainpid) $(get acme 2>&1)" \
	    "$pid tenant acme page"

	# a reload applies the new policy to workers bound after it
	cp /etc/tenantd/policy/worker.limits $T/worker.limits.good
	sed -i 's/^nofile[[:space:]].*/nofile 200 # lowered by the system test/' \
	    /etc/tenantd/policy/worker.limits
	check reload_policy systemctl reload tenantd
	sleep 1
	tenantctl create beta >/dev/null
	printf 'tenant beta page\n' >$state/tenants/beta/public/index.html
	expect serves_beta "$(get beta 2>&1)" "tenant beta page"
	uid=$(stat -c %u $state/tenants/beta/public)
	wpid=$(pgrep -u "$uid" -x tenantd-worker | head -1)
	check new_worker_new_policy sh -c "test -n '$wpid' &&
	    grep -q '^Max open files *200 *200' /proc/$wpid/limits"
	cp $T/worker.limits.good /etc/tenantd/policy/worker.limits
	systemctl reload tenantd

	# --- restart under load: the socket stays, no connection refused
	load_start 12
	sleep 2
	check restart_1 systemctl restart tenantd.service
	sleep 4
	check restart_2 systemctl restart tenantd.service
	wait $load_pid
	log "restart load: $(cat $T/load.json)"
	check restart_load_ran test "$(load_result ok)" -gt 100
	expect restart_refuses_nothing \
	    "$(load_result f:refused)/$(load_result f:no_socket)" 0/0
	expect restart_drops_nothing "$(load_result failed)" 0
	pid2=$(mainpid)
	check restart_new_process test "$pid2" != "$pid" -a "$pid2" != 0

	# --- package upgrade (same version again) under load: the postinst
	# restarts the service but not the socket
	local sock_ts
	sock_ts=$(prop tenantd.socket ActiveEnterTimestampMonotonic)
	load_start 10
	sleep 2
	check upgrade_dpkg dpkg -i $T/tenantd.deb
	wait $load_pid
	log "upgrade load: $(cat $T/load.json)"
	expect upgrade_refuses_nothing \
	    "$(load_result f:refused)/$(load_result f:no_socket)" 0/0
	expect upgrade_drops_nothing "$(load_result failed)" 0
	check upgrade_restarted_service test "$(mainpid)" != "$pid2"
	expect upgrade_kept_socket \
	    "$(prop tenantd.socket ActiveEnterTimestampMonotonic)" "$sock_ts"
	expect upgrade_kept_key "$(keyhash)" "$(cat $T/out/key.sha256)"

	# --- tenantctl init again: the master key's bytes do not change
	check init_again tenantctl init
	expect init_kept_key "$(keyhash)" "$(cat $T/out/key.sha256)"
	check init_kept_tenants sh -c 'tenantctl list | grep -q acme &&
	    tenantctl list | grep -q globex'

	# --- the admin socket and [admin] http_listen, through the sandbox
	check admin_status tenantctl status
	check admin_status_tenant sh -c 'tenantctl status acme | grep -q acme'
	check admin_reload tenantctl reload
	# tenantd reads its workers' memory from /proc; they run as other uids
	expect admin_status_memory "$(tenantctl status acme --json 2>&1 |
	    python3 -c 'import json, sys
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "rss_kb":
                yield v
            else:
                yield from walk(v)
    elif isinstance(o, list):
        for v in o:
            yield from walk(v)
try:
    print("nonzero" if max(walk(json.load(sys.stdin)), default=0) > 0
          else "zero")
except ValueError as e:
    print("bad json: %s" % e)')" nonzero
	cp /etc/tenantd/tenantd.conf $T/tenantd.conf.good
	sed -i 's/^http_listen *=.*/http_listen = 127.0.0.1:9465/' \
	    /etc/tenantd/tenantd.conf
	check restart_with_http_listen systemctl restart tenantd.service
	expect metrics_over_loopback "$(curl -sS -o /dev/null -w '%{http_code}' \
	    --max-time 10 http://127.0.0.1:9465/metrics 2>&1)" 200
	cp $T/tenantd.conf.good /etc/tenantd/tenantd.conf

	# --- stop: no worker left behind
	check workers_running_before_stop pgrep -x tenantd-worker
	local t0 t1
	t0=$(date +%s%N)
	check stop systemctl stop tenantd.service tenantd.socket
	t1=$(date +%s%N)
	log "stop took $(((t1 - t0) / 1000000)) ms"
	check stop_leaves_no_worker sh -c '! pgrep -x tenantd-worker'
	check stop_leaves_no_tenantd sh -c '! pgrep -x tenantd'
	check stop_removes_socket test ! -e $sock

	# --- without tenantd.socket, tenantd binds the socket itself and gives
	# it to [proxy] socket_group (this is what needs CAP_CHOWN)
	systemctl mask --runtime tenantd.socket >/dev/null 2>&1
	check start_without_socket_unit systemctl start tenantd.service
	expect own_socket_owner_mode "$(stat -c '%a %U %G' $sock 2>&1)" \
	    "660 root tenantd-proxy"
	expect own_socket_serves "$(get acme 2>&1)" "tenant acme page"
	systemctl stop tenantd.service
	systemctl unmask --runtime tenantd.socket >/dev/null 2>&1
	check start_with_socket_unit systemctl start tenantd.socket \
	    tenantd.service

	# --- stop with a hung worker: tenantd kills it after drain_timeout
	# through its pidfd (this is what needs CAP_KILL: the worker runs as
	# the tenant's uid); without that, stop would hang to TimeoutStopSec.
	sed -i 's/^drain_timeout *=.*/drain_timeout = 1s/' /etc/tenantd/tenantd.conf
	check restart_short_drain systemctl restart tenantd.service
	get acme >/dev/null 2>&1
	uid=$(stat -c %u $state/tenants/acme/public)
	wpid=$(pgrep -u "$uid" -x tenantd-worker | head -1)
	check hung_worker sh -c "test -n '$wpid' && kill -STOP $wpid"
	t0=$(date +%s%N)
	check stop_hung systemctl stop tenantd.service tenantd.socket
	t1=$(date +%s%N)
	log "stop with a hung worker took $(((t1 - t0) / 1000000)) ms"
	check stop_hung_within_drain_timeout test $(((t1 - t0) / 1000000)) -lt 5000
	check stop_hung_leaves_no_worker sh -c '! pgrep -x tenantd-worker'
	cp $T/tenantd.conf.good /etc/tenantd/tenantd.conf

	# --- purge keeps tenant data
	check purge dpkg --purge tenantd
	expect purge_kept_tenants \
	    "$(cat $state/tenants/acme/public/index.html 2>&1)" "tenant acme page"
	expect purge_kept_key "$(keyhash)" "$(cat $T/out/key.sha256)"
	check purge_kept_registry test -s $state/registry.db
	check purge_removed_config test ! -e /etc/tenantd/tenantd.conf
	check purge_removed_units sh -c '! systemctl cat tenantd.service'

	# --- and a reinstall picks it all up again
	check reinstall dpkg -i $T/tenantd.deb
	check reinstall_active wait_active tenantd.service
	expect reinstall_kept_key "$(keyhash)" "$(cat $T/out/key.sha256)"
	expect reinstall_serves_acme "$(get acme 2>&1)" "tenant acme page"
	finish
}

# The virtual machine's boots (run.sh, step 5): a fresh root on cgroup v2
# with its controllers, as Debian 12 boots by default (phase cgroup2), and
# on cgroup v1 (phase cgroup1: systemd.unified_cgroup_hierarchy=0). The
# package as shipped, then tenant code's cgroups under its unit: where
# tenantd, each tenant's code and its workers are, their limits from
# policy/tenant-code.cgroup and policy/worker.cgroup, and a fork bomb and
# a memory bomb stopped inside their tenant's cgroup while the other
# tenant is served.

# The directory of acme's code cgroup for controller $1 (v1: one per
# hierarchy; v2: one for all), and of the cgroup above all tenants'.
acme_cg() {
	if [ "$v" = 2 ]; then
		echo "$unit/tenantd-code/acme"
	else
		echo "/sys/fs/cgroup/$1$cg/tenantd-code/acme"
	fi
}
code_cg() { dirname "$(acme_cg "$1")"; }
# acme's worker cgroup, beside its code's.
worker_cg() { echo "$(dirname "$(code_cg "$1")")/tenantd-workers/acme"; }
# The cgroup of process $1 in controller $2's hierarchy (v2: the one).
proc_cg() {
	if [ "$v" = 2 ]; then
		sed -n 's/^0:://p' /proc/$1/cgroup 2>&1
	else
		awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n;
		    i++) if (a[i] == c) print $3 }' /proc/$1/cgroup 2>&1
	fi
}
# A count from a "key value" cgroup file: $1 file, $2 key.
cg_count() { awk -v k="$2" '$1 == k { print $2 }' "$1" 2>/dev/null; }

# The processes in acme's code cgroup other than one waiting spare run.
leftovers() {
	local p n=0
	for p in $(cat "$(acme_cg pids)/cgroup.procs" 2>&1); do
		if [ "$(cat /proc/$p/comm 2>/dev/null)" = tenantd-run ] &&
		    [ -z "$(cat /proc/$p/task/*/children 2>/dev/null)" ] &&
		    [ $n -eq 0 ]; then
			n=1
			continue
		fi
		echo "$p"
	done
}

phase_cgroups() {
	local v=$1 cg unit pid auid guid i spid bomb c wpid

	if ! dpkg -i $T/tenantd.deb >$T/out/dpkg-install.log 2>&1; then
		fail install "dpkg -i: $(tail -5 $T/out/dpkg-install.log | tr '\n' ' ')"
		finish
	fi
	check service_active wait_active tenantd.service
	cg=$(prop tenantd.service ControlGroup)
	unit=/sys/fs/cgroup$cg
	pid=$(mainpid)
	if [ "$v" = 2 ]; then
		expect cgroup2_mounted "$(stat -fc %T /sys/fs/cgroup)" cgroup2fs
		expect supervisor_in_leaf "$(proc_cg $pid)" "$cg/supervisor"
	else
		expect cgroup1_mounted "$(stat -fc %T /sys/fs/cgroup/pids)" \
		    cgroupfs
		# v1 has no rule against processes beside child cgroups.
		for c in cpu memory pids; do
			expect "supervisor_in_unit_$c" "$(proc_cg $pid $c)" "$cg"
		done
	fi
	# Smaller than nproc (64) in tenant-code.limits, so that the kernel's
	# pids controller is what stops the fork bomb; small enough for the
	# memory bomb to meet its limit quickly under emulation. A reload
	# applies both on the next run.
	sed -i 's/^pids *[0-9]*/pids 24/; s/^memory *[0-9A-Z]*/memory 48M/' \
	    /etc/tenantd/policy/tenant-code.cgroup
	check reload_cgroup_policy systemctl reload tenantd

	for t in acme globex; do
		check "create_$t" tenantctl create $t
		check "rate_$t" tenantctl limits set $t requests_per_minute 10000000
	done
	auid=$(stat -c %u $state/tenants/acme/public)
	guid=$(stat -c %u $state/tenants/globex/public)
	cat >$state/tenants/globex/app/hello.sh <<'SH'
#!/bin/sh
printf 'Content-Type: text/plain\n\nhello from %s\n' "$TENANT"
SH
	printf '/hello hello.sh\n' >$state/tenants/globex/app/routes
	cat >$state/tenants/acme/app/nap.sh <<'SH'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
exec sleep 3
SH
	cp $T/fork.py $T/mem.py $state/tenants/acme/app/
	printf '/nap nap.sh\n/fork fork.py\n/mem mem.py\n' \
	    >$state/tenants/acme/app/routes
	chown -R "$guid:$guid" $state/tenants/globex/app
	chown -R "$auid:$auid" $state/tenants/acme/app
	chmod 0755 $state/tenants/*/app/*.sh $state/tenants/acme/app/*.py
	wait_body handler_runs globex /hello "hello from globex"

	# Where a run of acme's is, seen from outside while it sleeps.
	curl -sS -o /dev/null --max-time 20 --unix-socket $sock \
	    -H 'Host: acme.localhost' http://tenant/nap &
	spid=
	for i in $(seq 100); do
		spid=$(pgrep -u "$auid" -x sleep | head -1)
		[ -n "$spid" ] && break
		sleep 0.1
	done
	for c in cpu memory pids; do
		expect "handler_cgroup_$c" "$(proc_cg ${spid:-0} $c)" \
		    "$cg/tenantd-code/acme"
		[ "$v" = 2 ] && break
	done
	wait
	if [ "$v" = 2 ]; then
		expect handler_limits "$(cat $(acme_cg cpu)/cpu.weight \
		    $(acme_cg memory)/memory.max $(acme_cg pids)/pids.max 2>&1 |
		    tr '\n' ' ')" "100 50331648 24 "
	else
		expect handler_limits "$(cat $(acme_cg cpu)/cpu.shares \
		    $(acme_cg memory)/memory.limit_in_bytes \
		    $(acme_cg pids)/pids.max 2>&1 | tr '\n' ' ')" \
		    "1024 50331648 24 "
	fi
	# cpu_idle yes (the default): all tenant code yields to tenantd.
	expect code_cpu_idle "$(cat $(code_cg cpu)/cpu.idle 2>&1)" 1

	# acme's workers, in tenantd-workers/acme beside its code, with the
	# limits of policy/worker.cgroup as shipped (docs/security.md, 41).
	wpid=$(pgrep -u "$auid" -x tenantd-worker | head -1)
	for c in cpu memory pids; do
		expect "worker_cgroup_$c" "$(proc_cg ${wpid:-0} $c)" \
		    "$cg/tenantd-workers/acme"
		[ "$v" = 2 ] && break
	done
	if [ "$v" = 2 ]; then
		expect worker_limits "$(cat $(worker_cg cpu)/cpu.weight \
		    $(worker_cg memory)/memory.max $(worker_cg pids)/pids.max \
		    2>&1 | tr '\n' ' ')" "100 268435456 16 "
	else
		expect worker_limits "$(cat $(worker_cg cpu)/cpu.shares \
		    $(worker_cg memory)/memory.limit_in_bytes \
		    $(worker_cg pids)/pids.max 2>&1 | tr '\n' ' ')" \
		    "1024 268435456 16 "
	fi

	# A fork bomb: held at pids.max inside acme; globex still answers.
	curl -sS -o /dev/null --max-time 30 --unix-socket $sock \
	    -H 'Host: acme.localhost' http://tenant/fork &
	bomb=$!
	for i in $(seq 100); do
		[ "$(cat $(acme_cg pids)/pids.current 2>/dev/null ||
		    echo 0)" -ge 24 ] && break
		sleep 0.1
	done
	expect fork_bomb_held "$(cat $(acme_cg pids)/pids.current 2>&1)" 24
	expect neighbour_served "$(curl -sS --max-time 20 --unix-socket $sock \
	    -H 'Host: globex.localhost' http://tenant/hello 2>&1)" \
	    "hello from globex"
	wait $bomb
	check fork_bomb_counted sh -c "grep -q '^max [1-9]' \
	    $(acme_cg pids)/pids.events"

	# A memory bomb: the OOM killer acts inside acme's cgroup.
	curl -sS -o /dev/null --max-time 30 --unix-socket $sock \
	    -H 'Host: acme.localhost' http://tenant/mem
	if [ "$v" = 2 ]; then
		expect memory_bomb_oom_in_tenant "$(cg_count \
		    $(acme_cg memory)/memory.events oom_kill | awk \
		    '{ print ($1 > 0) }')" 1
		expect memory_bomb_held "$(awk '{ print ($1 <= 50331648) }' \
		    $(acme_cg memory)/memory.peak 2>&1)" 1
	else
		expect memory_bomb_oom_in_tenant "$(cg_count \
		    $(acme_cg memory)/memory.oom_control oom_kill | awk \
		    '{ print ($1 > 0) }')" 1
		expect memory_bomb_held "$(awk '{ print ($1 <= 50331648) }' \
		    $(acme_cg memory)/memory.max_usage_in_bytes 2>&1)" 1
	fi
	expect tenant_served_after_bombs "$(curl -sS --max-time 20 \
	    --unix-socket $sock -H 'Host: globex.localhost' \
	    http://tenant/hello 2>&1)" "hello from globex"

	# Nothing of acme's outlives its runs but its spare run (one process
	# that never exec'd and has no child: waiting for the next request);
	# tenantd never said it ran tenant code without its cgroup.
	for i in $(seq 100); do
		[ "$(leftovers)" = "" ] && break
		sleep 0.1
	done
	expect tenant_cgroup_only_spare "$(leftovers)" ""
	check no_cgroup_warning sh -c "! journalctl -b -u tenantd.service |
	    grep -Eq 'without (its|their) cgroup'"

	# On v2, once the unit's cgroup hands controllers down, it may hold
	# no process of its own: systemd's reload (tenantd -n, tenantctl reload) and
	# a restart must still find their place.
	check reload_after_runs systemctl reload tenantd
	check restart_after_runs systemctl restart tenantd.service
	if [ "$v" = 2 ]; then
		expect restarted_in_leaf "$(proc_cg $(mainpid))" \
		    "$cg/supervisor"
	else
		expect restarted_in_unit "$(proc_cg $(mainpid) pids)" "$cg"
	fi
	wait_body handler_after_restart globex /hello "hello from globex"
	check stop systemctl stop tenantd.service tenantd.socket
	check stop_leaves_nothing sh -c "! pgrep -u $auid && ! pgrep -u $guid"
	finish
}

# No "is-system-running --wait": boot is not over until this unit is.
log "phase $phase"
case $phase in
install) phase_install ;;
main) phase_main ;;
cgroup2) phase_cgroups 2 ;;
cgroup1) phase_cgroups 1 ;;
*) fail phase "unknown phase $phase"; finish ;;
esac
