#!/bin/sh
# make up: install, build, build the guest image, start libvirt and the project's daemons
# on this host with embedded defaults. Idempotent: only what is not running is started, so
# running it again brings back a daemon that died. `make down` stops what this started.
set -eu
cd "$(dirname "$0")/.."
. scripts/lib/daemon.sh

DATA_DIR=${ECS_DATA_DIR:-/var/lib/ecs}
LOG_DIR=${ECS_LOG_DIR:-/var/log/ecs}
RUN_DIR=${ECS_RUN_DIR:-/run/ecs}
# What `make up` started, so `make down` stops that and nothing else.
STARTED="$RUN_DIR/started"

if [ "$(id -u)" -ne 0 ]; then
	echo "make up: run as root (it starts libvirtd and manages host networking)" >&2
	exit 1
fi

scripts/install-deps.sh
make -s all
make -s image
mkdir -p "$DATA_DIR/images" "$LOG_DIR" "$STARTED"

# The tiny image, where the agent looks for images it may import.
img_src=build/images/tiny
img_dst="$DATA_DIR/images/tiny"
if ! cmp -s "$img_src/manifest.json" "$img_dst/manifest.json" 2>/dev/null; then
	mkdir -p "$img_dst"
	for f in disk.qcow2 vmlinuz initrd.img manifest.json; do
		cp "$img_src/$f" "$img_dst/$f.tmp"
		mv "$img_dst/$f.tmp" "$img_dst/$f"
	done
	echo "installed image tiny into $img_dst"
fi

# Without udev /dev/kvm is root-only (0600). libvirt's qemu user then cannot open it and
# libvirt, finding KVM "enabled when probing but not available now", throws its
# capabilities cache away on every call (a define takes a minute). Do what udev's rule does.
# Guests still use TCG unless the CPU has vmx/svm: the agent decides, not libvirt.
if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
	chgrp kvm /dev/kvm && chmod 660 /dev/kvm
fi

# libvirt, unless something else already runs it. Debian's daemons write /run/*.pid.
start_libvirt_daemon() { # NAME
	if daemon_pid "/run/$1.pid" "$1" >/dev/null; then
		return 0
	fi
	"/usr/sbin/$1" -d
	touch "$STARTED/$1"
	echo "started $1"
}
start_libvirt_daemon virtlogd
start_libvirt_daemon libvirtd
if ! wait_for 30 virsh -c qemu:///system version; then
	echo "make up: libvirtd did not answer on qemu:///system within 30 s" >&2
	exit 1
fi

# The storage cluster (docs/storage.md): made on a fresh machine, else only what is down is
# started. Its settings: /etc/ecs/ceph.ini and ECS_CEPH_* (docs/configuration.md).
scripts/ceph.sh up

# The host key signs every call between the controller and this host's agent.
KEY=${ECS_HOST_KEY_FILE:-/etc/ecs/host.key}
if [ ! -s "$KEY" ]; then
	mkdir -p "$(dirname "$KEY")"
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$KEY")
	echo "made host key $KEY"
fi

# start_daemon NAME READY_PATTERN CMD...: start unless running; wait for the ready line.
start_daemon() {
	name=$1 ready=$2
	shift 2
	pidfile="$RUN_DIR/$name.pid"
	log="$LOG_DIR/$name.log"
	if daemon_pid "$pidfile" "$name" >/dev/null; then
		return 0
	fi
	offset=$(stat -c %s "$log" 2>/dev/null || echo 0)
	setsid "$@" >>"$log" 2>&1 </dev/null &
	echo $! >"$pidfile"
	touch "$STARTED/$name"
	if ! wait_for 30 sh -c "tail -c +$((offset + 1)) '$log' | grep -q '$ready'"; then
		echo "make up: $name did not start; the end of $log:" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
	echo "started $name"
}

# The controller watches the cluster as client.ecs-controller (docs/storage.md, "The
# controller's view"); the default account may call the admin actions (ecsctl host ls).
CEPH_DIR=${ECS_CEPH_DATA_DIR:-$DATA_DIR/ceph}
start_daemon ecs-controller 'msg="controller ready"' env ECS_CONTROLLER_HOST_KEY_FILE="$KEY" \
	ECS_CONTROLLER_DATA_DIR="$DATA_DIR/controller" ECS_CONTROLLER_ADMIN_ACCOUNTS=default \
	ECS_OSS_ENDPOINT=http://127.0.0.1:8775 \
	ECS_CEPH_CONF="${ECS_CEPH_CONF:-$CEPH_DIR/ceph.conf}" \
	ECS_CEPH_KEYRING="$CEPH_DIR/keys/ceph.client.ecs-controller.keyring" build/bin/ecs-controller
# The agent keeps disks on RBD in pool ecs-rbd as client.ecs-agent (docs/storage.md), unless
# it already holds local qcow2 disks from before (their instances stay where they are:
# ECS_STORAGE_BACKEND=rbd switches once they are gone).
BACKEND=${ECS_STORAGE_BACKEND:-rbd}
if [ -z "${ECS_STORAGE_BACKEND:-}" ] && ls "$DATA_DIR/agent/disks/"*.qcow2 >/dev/null 2>&1; then
	BACKEND=qcow2
	echo "make up: the agent keeps qcow2 disks ($DATA_DIR/agent/disks holds some); see docs/storage.md"
fi
start_daemon ecs-agent 'msg="agent ready"' env ECS_AGENT_HOST_KEY_FILE="$KEY" \
	ECS_AGENT_DATA_DIR="$DATA_DIR/agent" ECS_AGENT_CONTROLLER_URL=http://127.0.0.1:8773 \
	ECS_STORAGE_BACKEND="$BACKEND" ECS_CEPH_CONF="${ECS_CEPH_CONF:-$CEPH_DIR/ceph.conf}" \
	ECS_CEPH_KEYRING="$CEPH_DIR/keys/ceph.client.ecs-agent.keyring" ECS_CEPH_USER=ecs-agent \
	ECS_CEPH_POOL=ecs-rbd build/bin/ecs-agent
# The object service (docs/oss-api.md) on the cluster above, as client.ecs-ossd (its keyring
# is keys/ceph.client.ecs-ossd.keyring beside ceph.conf, made by scripts/ceph.sh).
start_daemon ecs-ossd 'msg="ossd ready"' env ECS_OSS_HOST_KEY_FILE="$KEY" \
	ECS_OSS_CEPH_CONF="${ECS_CEPH_DATA_DIR:-/var/lib/ecs/ceph}/ceph.conf" \
	ECS_OSS_CONTROLLER_URL=http://127.0.0.1:8773 build/bin/ecs-ossd
# The table service (docs/ots-api.md) on port 8776, as client.ecs-otsd on pool ecs-ots.
start_daemon ecs-otsd 'msg="otsd ready"' env ECS_OTS_HOST_KEY_FILE="$KEY" \
	ECS_OTS_CEPH_CONF="${ECS_CEPH_DATA_DIR:-/var/lib/ecs/ceph}/ceph.conf" \
	ECS_OTS_CONTROLLER_URL=http://127.0.0.1:8773 build/bin/ecs-otsd

# The default account, made once, and ecsctl's profile for it.
ctl() { env ECS_CONTROLLER_HOST_KEY_FILE="$KEY" ECS_CONTROLLER_DATA_DIR="$DATA_DIR/controller" \
	build/bin/ecs-controller "$@"; }
ECSCTL_DIR=${HOME:-/root}/.ecsctl
if ! ctl account list | grep -q '^default	'; then
	keys=$(ctl account create default)
	ak=$(echo "$keys" | sed -n 's/^AccessKeyId: //p')
	sk=$(echo "$keys" | sed -n 's/^AccessKeySecret: //p')
	mkdir -p "$ECSCTL_DIR"
	chmod 700 "$ECSCTL_DIR"
	(umask 077 && printf '[default]\nendpoint = http://127.0.0.1:8773/\naccess_key_id = %s\naccess_key_secret = %s\nregion = cn-local\n' \
		"$ak" "$sk" >"$ECSCTL_DIR/config")
	echo "made the default account; ecsctl's profile is $ECSCTL_DIR/config"
fi
ln -sf "$(pwd)/build/bin/ecsctl" /usr/local/bin/ecsctl

echo
echo "Running:"
for d in virtlogd libvirtd; do
	if pid=$(daemon_pid "/run/$d.pid" "$d"); then
		how="already running"
		[ -e "$STARTED/$d" ] && how="started by make up"
		echo "  $d (pid $pid, $how)"
	fi
done
for d in ecs-controller ecs-agent ecs-ossd ecs-otsd; do
	if pid=$(daemon_pid "$RUN_DIR/$d.pid" "$d"); then
		echo "  $d (pid $pid, log $LOG_DIR/$d.log)"
	fi
done
echo "  ceph: one mon, mgr and OSD (scripts/ceph.sh status; docs/storage.md); agent disks: $BACKEND"
echo "  image tiny: $img_dst"
echo "  ECS API: http://127.0.0.1:8773 (account default, profile $ECSCTL_DIR/config)"
echo "  OSS API: http://127.0.0.1:8775 (the same AccessKey pair)"
echo "  OTS API: http://127.0.0.1:8776 (Tablestore; instance name default, the same AccessKey pair)"
echo
echo "Next:"
echo "  ecsctl keypair create k"
echo "  ecsctl run --image tiny --type ecs.t1.small --keypair k --wait"
echo "  ecsctl ssh <instance-id> -- uname -a"
echo "  make test                       run every test"
echo "  ecsctl host ls                  hosts, their OSDs, Ceph health and pools"
echo "  virsh -c qemu:///system list    libvirt guests on this host"
echo "  make down                       stop what make up started"
