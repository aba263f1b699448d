#!/bin/sh
# make down: stop what `make up` started (recorded under $ECS_RUN_DIR/started) and
# nothing else. Guests keep running: qemu outlives libvirtd, which re-attaches on start,
# and the agent's bridge (ecsbr0) stays for them.
set -eu
cd "$(dirname "$0")/.."
. scripts/lib/daemon.sh

RUN_DIR=${ECS_RUN_DIR:-/run/ecs}
STARTED="$RUN_DIR/started"

stopped=0
# Reverse start order: our daemons first, then Ceph, libvirt last.
for d in ecs-otsd ecs-ossd ecs-agent ecs-controller; do
	[ -e "$STARTED/$d" ] || continue
	stop_counted "$RUN_DIR/$d.pid" "$d" "$d" "stopped $d"
	rm -f "$STARTED/$d" "$RUN_DIR/$d.pid"
done
# The storage cluster after its clients (scripts/ceph.sh stops only its own daemons).
ceph_out=$(scripts/ceph.sh down)
echo "$ceph_out"
case "$ceph_out" in *"stopped "*) stopped=$((stopped + 1)) ;; esac
for d in libvirtd virtlogd; do
	[ -e "$STARTED/$d" ] || continue
	stop_counted "/run/$d.pid" "$d" "$d" "stopped $d"
	rm -f "$STARTED/$d"
done
[ "$stopped" -gt 0 ] || echo "make down: nothing that make up started is running"
