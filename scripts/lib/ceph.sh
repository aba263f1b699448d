# ceph.sh (lib): the pieces of a Ceph bring-up shared by scripts/ceph.sh (one host) and
# scripts/cluster (several simulated hosts). The caller defines die(), ceph_cli(), CONF,
# KEYS (where user keyrings go) and REPLICAS (pool size; min_size is its majority), and
# sets POOLS_MADE=0 before ensure_pools.

POOL_RBD=ecs-rbd
POOLS="$POOL_RBD:32:rbd ecs-oss:16:ecs ecs-ots:16:ecs ecs-ctl:8:ecs" # NAME:PG_NUM:APPLICATION

# wait_until SECONDS CMD...: run CMD until it succeeds or SECONDS of wall time pass (each
# ceph call takes most of a second, so counting tries would not bound the time).
wait_until() {
	deadline=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# quiet CMD...: run CMD, showing its output only when it fails.
quiet() {
	out=$("$@" 2>&1) || die "$* failed: $out"
}

# new_osd ID DIR MKFS_LOG: register osd.ID with the monitors and make its BlueStore in DIR,
# unless DIR already holds a made OSD (status 1 then). Its uuid is kept first, so a run cut
# short retries the same one.
new_osd() {
	mkdir -p "$2"
	chmod 700 "$2"
	[ -s "$2/ready" ] && return 1
	[ -s "$2/ecs-uuid" ] || cat /proc/sys/kernel/random/uuid >"$2/ecs-uuid"
	uuid=$(cat "$2/ecs-uuid")
	key=$(ceph-authtool --gen-print-key)
	id=$(printf '{"cephx_secret": "%s"}' "$key" | ceph_cli osd new "$uuid" "$1" -i -) ||
		die "ceph osd new failed"
	[ "$id" = "$1" ] || die "the monitor gave the OSD id $id, not $1"
	(umask 077 && printf '[osd.%s]\n\tkey = %s\n' "$1" "$key" >"$2/keyring")
	ceph-osd -c "$CONF" -i "$1" --mkfs --osd-uuid "$uuid" >"$3" 2>&1 ||
		die "ceph-osd --mkfs of osd.$1 failed; see $3"
	return 0
}

# wait_all WHAT PID...: wait for background jobs; fail if any failed.
wait_all() {
	what=$1
	shift
	failed=0
	for pid in "$@"; do wait "$pid" || failed=1; done
	[ "$failed" = 0 ] || die "making $what failed (see above)"
}

# ensure_pool NAME PG_NUM APP LINE: make the pool or bring it to what it should be. LINE is
# its line of `ceph osd pool ls detail` (empty: no such pool).
ensure_pool() {
	minsize=$((REPLICAS - REPLICAS / 2))
	if [ -z "$4" ]; then
		quiet ceph_cli osd pool create "$1" "$2" "$2" replicated
		echo "ceph: made pool $1 ($2 PGs, size $REPLICAS)"
	else
		case "$4" in
		*" size $REPLICAS min_size $minsize "*) ;;
		*)
			quiet ceph_cli osd pool set "$1" size "$REPLICAS" --yes-i-really-mean-it
			quiet ceph_cli osd pool set "$1" min_size "$minsize"
			echo "ceph: pool $1 now size $REPLICAS"
			;;
		esac
	fi
	case "$4" in
	*" application $3"*) ;;
	*) quiet ceph_cli osd pool application enable "$1" "$3" ;;
	esac
}

# Pools are made in parallel: the monitor then commits them in fewer map updates.
ensure_pools() {
	have=$(ceph_cli osd pool ls detail)
	set --
	for p in $POOLS; do
		name=${p%%:*}
		rest=${p#*:}
		line=$(echo "$have" | grep "^pool [0-9]* '$name' " || true)
		[ -n "$line" ] || POOLS_MADE=1
		ensure_pool "$name" "${rest%%:*}" "${rest#*:}" "$line" &
		set -- "$@" $!
	done
	wait_all pools "$@"
}

# RBD's own set-up of its pools (it needs a running OSD); done once (the pool's
# selfmanaged_snaps flag tells).
init_rbd_pools() {
	[ "$POOLS_MADE" = 0 ] || have=$(ceph_cli osd pool ls detail)
	for p in $POOLS; do
		name=${p%%:*}
		case "$p" in *:rbd) ;; *) continue ;; esac
		case "$(echo "$have" | grep "^pool [0-9]* '$name' ")" in
		*selfmanaged_snaps*) ;;
		*) quiet rbd -c "$CONF" pool init "$name" ;;
		esac
	done
}

# Our daemons' users (docs/storage.md, "Users"): USER|MON|OSD|MGR caps.
USERS="client.ecs-agent|profile rbd|profile rbd pool=$POOL_RBD|profile rbd pool=$POOL_RBD
client.ecs-ossd|allow r|allow rwx pool=ecs-oss|
client.ecs-otsd|allow r|allow rwx pool=ecs-ots|
client.ecs-controller|allow r, allow command \"osd blocklist\"|allow rwx pool=ecs-ctl, profile rbd-read-only pool=$POOL_RBD|"

# The caps of USER as `ceph auth ls` prints them, one "[svc] caps" a line, sorted.
auth_caps() { # USER AUTH_LS_TEXT
	echo "$2" | awk -v u="$1" '/^[^ \t]/ { on = ($0 == u); next } on && /caps:/ { sub(/^[ \t]*caps: /, ""); print }' | sort
}

# ensure_user USER MON OSD MGR AUTH_LS_TEXT: the user with exactly these caps, and its keyring.
ensure_user() {
	user=$1 all=$5
	want=$(
		printf '[mon] %s\n[osd] %s\n' "$2" "$3"
		[ -z "$4" ] || printf '[mgr] %s\n' "$4"
	)
	want=$(echo "$want" | sort)
	if [ -n "$4" ]; then set -- mon "$2" osd "$3" mgr "$4"; else set -- mon "$2" osd "$3"; fi
	if ! echo "$all" | grep -qx "$user"; then
		quiet ceph_cli auth get-or-create "$user" "$@"
		echo "ceph: made user $user"
	elif [ "$(auth_caps "$user" "$all")" != "$want" ]; then
		quiet ceph_cli auth caps "$user" "$@"
		echo "ceph: reset the caps of $user"
	fi
	keyring="$KEYS/ceph.$user.keyring"
	key=$(echo "$all" | awk -v u="$user" '/^[^ \t]/ { on = ($0 == u); next } on && /key:/ { print $2 }')
	[ -n "$key" ] || key=$(ceph_cli auth print-key "$user")
	content=$(printf '[%s]\n\tkey = %s' "$user" "$key")
	if [ "$(cat "$keyring" 2>/dev/null)" != "$content" ]; then
		(umask 077 && echo "$content" >"$keyring.tmp")
		mv "$keyring.tmp" "$keyring"
	fi
	chmod 600 "$keyring"
}

# Users are made in parallel, as pools are.
ensure_users() {
	all=$(ceph_cli auth ls 2>/dev/null)
	pids=""
	while IFS='|' read -r user mon osd mgr; do
		ensure_user "$user" "$mon" "$osd" "$mgr" "$all" &
		pids="$pids $!"
	done <<EOF
$USERS
EOF
	# shellcheck disable=SC2086 # a list of pids
	wait_all users $pids
}

# Every PG active+clean. The manager answers `pg stat`; until it is available the call would
# hang, hence the timeout.
pgs_clean() {
	timeout 10 ceph -c "$CONF" --connect-timeout 5 pg stat 2>/dev/null | awk '{ n = $1 } $0 ~ ("^" n " pgs: " n " active\\+clean;") { ok = 1 } END { exit !ok }'
}

