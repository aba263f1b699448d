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

echo
echo "Running:"
for d in virtlogd libvirtd; do
	if pid=$(daemon_pid "/run/$d.pid" "$d"); then
		how="already running"
		[ -e "$STARTED/$d" ] && how="started by make up"
		echo "  $d (pid $pid, $how)"
	fi
done
echo "  image tiny: $img_dst"
echo
echo "Next:"
echo "  make test                       run every test"
echo "  virsh -c qemu:///system list    libvirt guests on this host"
echo "  make down                       stop what make up started"
