#!/bin/sh
# ceph.sh: the project's own Ceph cluster on this host (docs/storage.md): one monitor, one
# manager, one OSD on BlueStore over a sparse file, the project's pools and users.
#
#   scripts/ceph.sh [OPTIONS] up       create on a fresh data dir, else start what is down;
#                                      ensure pools, users and keyrings; wait for active PGs
#   scripts/ceph.sh [OPTIONS] down     stop this cluster's daemons (nothing else)
#   scripts/ceph.sh [OPTIONS] status   `ceph -s` of this cluster
#   scripts/ceph.sh [OPTIONS] destroy  down, then remove its data, run and log dirs
#
# Every option is also a key of the [ceph] section of the config file (default
# /etc/ecs/ceph.ini; --config or ECS_CEPH_CONFIG) and an ECS_CEPH_<KEY> variable; an option
# beats the variable, the variable beats the file. Several clusters run on one host when each
# has its own data dir, fsid and monitor ports (the tests do: tests/e2e/cephenv.py).
set -eu

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/daemon.sh
. "$SCRIPT_DIR/lib/daemon.sh"
# shellcheck source=scripts/lib/ceph.sh
. "$SCRIPT_DIR/lib/ceph.sh"

GIB=1073741824

usage() {
	cat <<'EOF'
usage: scripts/ceph.sh [OPTIONS] up|down|status|destroy
  --config FILE       INI file with a [ceph] section      (/etc/ecs/ceph.ini)
  --data-dir DIR      cluster data, keyrings, OSD file    ($ECS_DATA_DIR/ceph: /var/lib/ecs/ceph)
  --conf FILE         the ceph.conf written for clients   (DATA_DIR/ceph.conf)
  --run-dir DIR       pid files, admin sockets            ($ECS_RUN_DIR/ceph: /run/ecs/ceph)
  --log-dir DIR       daemon logs                         ($ECS_LOG_DIR/ceph: /var/log/ecs/ceph)
  --fsid UUID         the cluster's id                    (made at creation)
  --address IPV4      the monitor's and OSD's address     (127.0.0.1)
  --mon-port N        monitor, msgr2                      (3300)
  --mon-v1-port N     monitor, legacy msgr1               (6789)
  --osd-size SIZE     the OSD's sparse file: bytes or K/M/G/T, >= 4G; grows, never shrinks (20G)
  --replicas N        pool size, 1-3 (a single host: 1)   (1)
fsid, address and ports are fixed when the cluster is made; later runs must match or omit them.
EOF
}

die() {
	echo "ceph.sh: $*" >&2
	exit 1
}
bad() { # a bad parameter: exit 2
	echo "ceph.sh: $*" >&2
	exit 2
}

# ---------------------------------------------------------------- parameters

# ini_get FILE KEY: the value of KEY in FILE's [ceph] section (quotes stripped), if any.
ini_get() {
	[ -r "$1" ] || return 0
	awk -v want="$2" '
		/^[ \t]*[#;]/ || /^[ \t]*$/ { next }
		/^[ \t]*\[/ { sec = $0; gsub(/[ \t\[\]]/, "", sec); next }
		sec == "ceph" {
			k = $0; sub(/=.*/, "", k); gsub(/[ \t]/, "", k)
			if (k != want) next
			v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]*$/, "", v)
			if (v ~ /^".*"$/) v = substr(v, 2, length(v) - 2)
			print v; exit
		}' "$1"
}

OPT_KEYS="data_dir conf run_dir log_dir fsid address mon_port mon_v1_port osd_size replicas"
config=${ECS_CEPH_CONFIG:-/etc/ecs/ceph.ini}
cmd=""
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help)
		usage
		exit 0
		;;
	--config)
		[ $# -ge 2 ] || bad "--config needs a value"
		config=$2
		shift 2
		;;
	--*)
		key=$(echo "${1#--}" | tr - _)
		case " $OPT_KEYS " in
		*" $key "*) ;;
		*) bad "unknown option $1 (see --help)" ;;
		esac
		[ $# -ge 2 ] || bad "$1 needs a value"
		eval "opt_$key=\$2"
		shift 2
		;;
	up | down | status | destroy)
		[ -z "$cmd" ] || bad "one command only (got $cmd and $1)"
		cmd=$1
		shift
		;;
	*) bad "unknown argument '$1' (see --help)" ;;
	esac
done
[ -n "$cmd" ] || bad "no command given (up, down, status, destroy; see --help)"
if [ "$config" != /etc/ecs/ceph.ini ] && [ ! -r "$config" ]; then
	bad "config file $config cannot be read"
fi

# Resolve each key: option, then ECS_CEPH_<KEY>, then the file. given_<key>=1 when set.
for key in $OPT_KEYS; do
	envname=ECS_CEPH_$(echo "$key" | tr '[:lower:]' '[:upper:]')
	eval "v=\${opt_$key-}"
	# shellcheck disable=SC2154 # v is set by the eval
	[ -n "$v" ] || eval "v=\${$envname-}"
	[ -n "$v" ] || v=$(ini_get "$config" "$key")
	eval "val_$key=\$v"
	if [ -n "$v" ]; then eval "given_$key=1"; else eval "given_$key=0"; fi
done
# shellcheck disable=SC2154 # every val_* and given_* is set by the loop above
{
	DATA_DIR=${val_data_dir:-${ECS_DATA_DIR:-/var/lib/ecs}/ceph}
	RUN_DIR=${val_run_dir:-${ECS_RUN_DIR:-/run/ecs}/ceph}
	LOG_DIR=${val_log_dir:-${ECS_LOG_DIR:-/var/log/ecs}/ceph}
	CONF=${val_conf:-$DATA_DIR/ceph.conf}
	FSID=$val_fsid
	ADDRESS=${val_address:-127.0.0.1}
	MON_PORT=${val_mon_port:-3300}
	MON_V1_PORT=${val_mon_v1_port:-6789}
	OSD_SIZE=${val_osd_size:-20G}
	REPLICAS=${val_replicas:-1}
}

# size_bytes SIZE: bytes for N or N[KMGT] (binary), or nothing.
size_bytes() {
	case "$1" in
	'' | *[!0-9KMGT]* | [KMGT]* | *[KMGT]?*) return 0 ;;
	esac
	n=${1%[KMGT]}
	[ ${#n} -le 15 ] || return 0
	case "$1" in
	*K) echo $((n * 1024)) ;;
	*M) echo $((n * 1048576)) ;;
	*G) echo $((n * GIB)) ;;
	*T) echo $((n * GIB * 1024)) ;;
	*) echo "$n" ;;
	esac
}

is_port() {
	case "$1" in '' | *[!0-9]* | 0*) return 1 ;; esac
	[ "${#1}" -le 5 ] && [ "$1" -le 65535 ]
}

is_ipv4() {
	echo "$1" | awk -F. 'NF != 4 { exit 1 }
		{ for (i = 1; i <= 4; i++) if ($i !~ /^(0|[1-9][0-9]?[0-9]?)$/ || $i > 255) exit 1 }'
}

abs_path() { # NAME VALUE
	case "$2" in /*) ;; *) bad "$1 must be an absolute path, not '$2'" ;; esac
	case "$2" in *[[:space:]]* | *[\'\"\\\$\`]*) bad "$1 must not hold blanks, quotes or \$: '$2'" ;; esac
}

validate() {
	abs_path --data-dir "$DATA_DIR"
	abs_path --run-dir "$RUN_DIR"
	abs_path --log-dir "$LOG_DIR"
	abs_path --conf "$CONF"
	# Admin sockets live in the run dir; a Unix socket path is at most 107 bytes.
	[ ${#RUN_DIR} -le 60 ] || bad "--run-dir is too long for admin sockets (at most 60 characters): $RUN_DIR"
	if [ -n "$FSID" ] && ! echo "$FSID" | grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'; then
		bad "--fsid must be a lower-case UUID (like $(cat /proc/sys/kernel/random/uuid)), not '$FSID'"
	fi
	is_ipv4 "$ADDRESS" || bad "--address must be an IPv4 address, not '$ADDRESS'"
	is_port "$MON_PORT" || bad "--mon-port must be 1-65535, not '$MON_PORT'"
	is_port "$MON_V1_PORT" || bad "--mon-v1-port must be 1-65535, not '$MON_V1_PORT'"
	[ "$MON_PORT" != "$MON_V1_PORT" ] || bad "--mon-port and --mon-v1-port must differ (both $MON_PORT)"
	OSD_BYTES=$(size_bytes "$OSD_SIZE")
	[ -n "$OSD_BYTES" ] || bad "--osd-size must be bytes or a number with K, M, G or T, not '$OSD_SIZE'"
	[ "$OSD_BYTES" -ge $((4 * GIB)) ] || bad "--osd-size must be at least 4G (BlueStore's own metadata needs it), not '$OSD_SIZE'"
	case "$REPLICAS" in 1 | 2 | 3) ;; *) bad "--replicas must be 1, 2 or 3, not '$REPLICAS'" ;; esac
}
validate

KEYS="$DATA_DIR/keys"
STATE="$DATA_DIR/cluster.env"
ADMIN_KEYRING="$KEYS/ceph.client.admin.keyring"
OSD_DIR="$DATA_DIR/osd/ceph-0"
ceph_cli() { ceph -c "$CONF" --connect-timeout 10 "$@"; }
# ---------------------------------------------------------------- the cluster's files

# The fsid, address and ports are the cluster's identity: kept in cluster.env when it is made,
# checked against what a later run is given.
load_state() {
	[ -r "$STATE" ] || return 1
	s_fsid=$(sed -n 's/^fsid=//p' "$STATE")
	s_address=$(sed -n 's/^address=//p' "$STATE")
	s_mon_port=$(sed -n 's/^mon_port=//p' "$STATE")
	s_mon_v1_port=$(sed -n 's/^mon_v1_port=//p' "$STATE")
	for pair in "fsid:$s_fsid:$FSID" "address:$s_address:$ADDRESS" "mon_port:$s_mon_port:$MON_PORT" \
		"mon_v1_port:$s_mon_v1_port:$MON_V1_PORT"; do
		key=${pair%%:*}
		rest=${pair#*:}
		have=${rest%%:*}
		want=${rest#*:}
		eval "g=\$given_$key"
		# shellcheck disable=SC2154 # g is set by the eval
		if [ "$g" = 1 ] && [ "$have" != "$want" ]; then
			bad "$DATA_DIR holds a cluster made with $key $have, not $want (omit it, or destroy that cluster first)"
		fi
	done
	FSID=$s_fsid ADDRESS=$s_address MON_PORT=$s_mon_port MON_V1_PORT=$s_mon_v1_port
}

write_conf() {
	mkdir -p "$(dirname "$CONF")"
	cat >"$CONF.tmp" <<EOF
# Written by scripts/ceph.sh from $STATE on every \`up\`; edits are lost (docs/storage.md).
[global]
fsid = $FSID
mon_host = [v2:$ADDRESS:$MON_PORT,v1:$ADDRESS:$MON_V1_PORT]
mon_initial_members = a
public_addr = $ADDRESS
ms_bind_ipv6 = false
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
keyring = $KEYS/\$cluster.\$name.keyring
run_dir = $RUN_DIR
crash_dir = $DATA_DIR/crash
mon_data = $DATA_DIR/mon/\$cluster-\$id
mgr_data = $DATA_DIR/mgr/\$cluster-\$id
osd_data = $DATA_DIR/osd/\$cluster-\$id
osd_pool_default_size = $REPLICAS
osd_pool_default_min_size = $((REPLICAS - REPLICAS / 2))
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = false
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 5
mon_data_avail_crit = 2
mon_cluster_log_file = $LOG_DIR/\$cluster.log
mgr_initial_modules = iostat

[mon]
keyring = \$mon_data/keyring
# A snapshot's id comes from an OSD map change: 0.1 s, not 1 s, between proposals (docs/storage.md).
paxos_propose_interval = 0.1
log_file = $LOG_DIR/\$cluster-\$name.log
pid_file = \$run_dir/\$cluster-\$name.pid

[mgr]
keyring = \$mgr_data/keyring
log_file = $LOG_DIR/\$cluster-\$name.log
pid_file = \$run_dir/\$cluster-\$name.pid

[osd]
keyring = \$osd_data/keyring
log_file = $LOG_DIR/\$cluster-\$name.log
pid_file = \$run_dir/\$cluster-\$name.pid
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = $OSD_BYTES
osd_memory_target = 1073741824
osd_recovery_sleep_hdd = 0
osd_recovery_max_active_hdd = 8
osd_max_backfills = 4
EOF
	if cmp -s "$CONF.tmp" "$CONF"; then rm -f "$CONF.tmp"; else mv "$CONF.tmp" "$CONF"; fi
}

# A fresh data dir: identity, keys, the monitor's store.
create_cluster() {
	[ -n "$FSID" ] || FSID=$(cat /proc/sys/kernel/random/uuid)
	echo "ceph: making cluster $FSID in $DATA_DIR"
	mkdir -p "$KEYS" "$DATA_DIR/mon" "$DATA_DIR/mgr" "$DATA_DIR/osd" "$DATA_DIR/crash"
	chmod 700 "$DATA_DIR" "$KEYS"
	write_conf
	tmp="$DATA_DIR/mkfs.tmp"
	rm -rf "$tmp" "$DATA_DIR/mon/ceph-a"
	mkdir -m 700 "$tmp"
	(
		umask 077
		ceph-authtool --create-keyring "$tmp/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
		ceph-authtool --create-keyring "$ADMIN_KEYRING" --gen-key -n client.admin \
			--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
		ceph-authtool "$tmp/mon.keyring" --import-keyring "$ADMIN_KEYRING" >/dev/null
		monmaptool --create --fsid "$FSID" --addv a "[v2:$ADDRESS:$MON_PORT,v1:$ADDRESS:$MON_V1_PORT]" \
			"$tmp/monmap" >/dev/null
	)
	ceph-mon -c "$CONF" --mkfs -i a --monmap "$tmp/monmap" --keyring "$tmp/mon.keyring"
	rm -rf "$tmp"
	# Written last: a data dir with cluster.env holds a whole monitor.
	printf 'fsid=%s\naddress=%s\nmon_port=%s\nmon_v1_port=%s\n' "$FSID" "$ADDRESS" "$MON_PORT" \
		"$MON_V1_PORT" >"$STATE.tmp"
	mv "$STATE.tmp" "$STATE"
}

# ---------------------------------------------------------------- daemons

STARTED_ANY=0
POOLS_MADE=0

# start NAME ID CMD...: start daemon ceph-NAME.ID unless its pid file names it running.
start() {
	name=$1 id=$2
	shift 2
	if daemon_pid "$RUN_DIR/ceph-$name.$id.pid" "ceph-$name" >/dev/null; then
		return 0
	fi
	"$@" -c "$CONF" -i "$id" </dev/null >>"$LOG_DIR/daemons.out" 2>&1 9>&- || die "ceph-$name.$id did not start; see $LOG_DIR/ceph-$name.$id.log"
	echo "ceph: started $name.$id"
	STARTED_ANY=1
}

wait_mon() {
	wait_until 30 ceph_cli mon stat || die "the monitor did not answer within 30 s; see $LOG_DIR/ceph-mon.a.log"
}

ensure_mgr() {
	mkdir -p "$DATA_DIR/mgr/ceph-x"
	if [ ! -s "$DATA_DIR/mgr/ceph-x/keyring" ]; then
		(umask 077 && ceph_cli auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' \
			mds 'allow *' -o "$DATA_DIR/mgr/ceph-x/keyring.tmp")
		mv "$DATA_DIR/mgr/ceph-x/keyring.tmp" "$DATA_DIR/mgr/ceph-x/keyring"
	fi
	start mgr x ceph-mgr
}

# The OSD: id 0, made once (lib/ceph.sh, new_osd).
ensure_osd() {
	new_osd 0 "$OSD_DIR" "$LOG_DIR/osd-mkfs.log" || return 0
	echo "ceph: made osd.0 ($(du -h --apparent-size "$OSD_DIR/block" | cut -f1) sparse file $OSD_DIR/block)"
}

# Grow the OSD's file to --osd-size (BlueStore grows with the OSD stopped; it cannot shrink).
grow_osd() {
	have=$(stat -c %s "$OSD_DIR/block")
	if [ "$OSD_BYTES" -lt "$have" ]; then
		echo "ceph: osd.0's file is $((have / 1048576)) MiB, more than --osd-size $OSD_SIZE; BlueStore cannot shrink, keeping it" >&2
		return 0
	fi
	[ "$OSD_BYTES" -gt "$have" ] || return 0
	if pid=$(daemon_pid "$RUN_DIR/ceph-osd.0.pid" ceph-osd); then
		stop_pid "$pid" ceph-osd.0
	fi
	truncate -s "$OSD_BYTES" "$OSD_DIR/block"
	ceph-bluestore-tool bluefs-bdev-expand --path "$OSD_DIR" >>"$LOG_DIR/osd-expand.log" 2>&1 ||
		die "growing osd.0 failed; see $LOG_DIR/osd-expand.log"
	echo "ceph: grew osd.0 from $((have / 1048576)) MiB to $((OSD_BYTES / 1048576)) MiB"
}

wait_clean() {
	wait_until 90 pgs_clean || die "PGs not active+clean within 90 s: $(ceph_cli pg stat 2>&1)"
}

cmd_up() {
	command -v ceph-mon >/dev/null || die "ceph-mon is not installed (scripts/install-deps.sh installs it)"
	mkdir -p "$DATA_DIR" "$RUN_DIR" "$LOG_DIR"
	chmod 700 "$DATA_DIR"
	exec 9>"$DATA_DIR/lock"
	flock -n 9 || {
		echo "ceph: another ceph.sh runs on $DATA_DIR; waiting" >&2
		flock 9
	}
	if ! load_state; then
		if [ -e "$DATA_DIR/mon/ceph-a" ] || [ -e "$OSD_DIR/ready" ]; then
			die "$DATA_DIR holds a monitor or an OSD but no cluster.env: not ours to overwrite (destroy it first)"
		fi
		create_cluster
	fi
	write_conf
	start mon a ceph-mon
	wait_mon
	ensure_mgr
	ensure_osd
	grow_osd
	osd_starter=""
	if ! daemon_pid "$RUN_DIR/ceph-osd.0.pid" ceph-osd >/dev/null; then
		# ceph-osd mounts BlueStore (seconds) before it daemonizes: meanwhile make pools and users.
		ceph-osd -c "$CONF" -i 0 </dev/null >>"$LOG_DIR/daemons.out" 2>&1 9>&- &
		osd_starter=$!
	fi
	ensure_pools
	ensure_users
	if [ -n "$osd_starter" ]; then
		wait "$osd_starter" || die "ceph-osd.0 did not start; see $LOG_DIR/ceph-osd.0.log"
		echo "ceph: started osd.0"
		STARTED_ANY=1
	fi
	init_rbd_pools
	wait_clean
	[ "$STARTED_ANY" = 1 ] || echo "ceph: cluster $FSID already running"
	chmod 600 "$ADMIN_KEYRING"
}

cmd_down() {
	stopped=0
	for d in osd.0 mgr.x mon.a; do
		stop_counted "$RUN_DIR/ceph-$d.pid" "ceph-${d%%.*}" "ceph-$d" "ceph: stopped $d"
		rm -f "$RUN_DIR/ceph-$d.pid"
	done
	[ "$stopped" -gt 0 ] || echo "ceph: nothing of the cluster in $DATA_DIR is running"
}

case "$cmd" in
up) cmd_up ;;
down) cmd_down ;;
status)
	load_state || die "no cluster in $DATA_DIR"
	ceph_cli -s
	;;
destroy)
	cmd_down
	if [ -e "$DATA_DIR" ] && [ ! -e "$STATE" ] && [ -n "$(ls -A "$DATA_DIR")" ]; then
		die "$DATA_DIR holds no cluster.env: not removing what may not be ours"
	fi
	rm -rf "$DATA_DIR" "$RUN_DIR" "$LOG_DIR"
	[ "$CONF" = "$DATA_DIR/ceph.conf" ] || rm -f "$CONF"
	echo "ceph: removed $DATA_DIR, $RUN_DIR and $LOG_DIR"
	;;
esac
