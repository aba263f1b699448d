#!/bin/sh
# Install every Debian package the project needs: build, run time and tests.
# Idempotent: when everything is present it only runs dpkg-query and exits.
# Runs `apt-get update` at most once, and only when something is missing.
set -eu

# Build: compiler, pkg-config and the -dev package of each library we link.
BUILD="build-essential pkg-config
libvirt-dev libnl-3-dev libnl-route-3-dev libcap-ng-dev libjson-c-dev libssh-dev
libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev libxml2-dev libcmocka-dev"

# Run time: libvirt (sysv flavour: these hosts have no systemd), qemu, disk and ISO tools,
# the kernel's network tools.
RUNTIME="libvirt-daemon-system libvirt-daemon-system-sysv libvirt-daemon-driver-qemu
libvirt-clients qemu-system-x86 qemu-utils genisoimage iptables ipset conntrack iproute2
e2fsprogs openssh-client ca-certificates"

# Storage: the project's Ceph cluster (scripts/ceph.sh, docs/storage.md): its daemons and
# command line, the RADOS and RBD libraries for the daemons and tests, QEMU's rbd driver;
# protobuf-c for ecs-otsd's wire format (storage/ots/ots.proto); radosgw, Ceph's own S3
# gateway, is ecs-ossd's peer in bench_oss.py.
STORAGE="ceph-mon ceph-osd ceph-mgr ceph-common python3-rados python3-rbd librados-dev librbd-dev
qemu-block-extra libprotobuf-c-dev protobuf-c-compiler radosgw"

# Guest image: busybox and dropbear are copied into the image; cpio packs the initramfs.
IMAGE="busybox-static dropbear-bin cpio kmod"

# Tests: pytest drives the binaries, cron runs the snapshot schedule test, clang builds
# the libFuzzer targets, valgrind checks the unit tests for leaks, wrk loads benchmarks,
# node runs Alibaba Cloud's own SDKs (from npm) against the API, faketime moves the
# controller's clock past the signature window; haproxy is the peer of the SLB health-check
# benchmark (bench_slb_failover.py); boto3, the AWS CLI and s3cmd are the S3 clients of ecs-ossd's tests;
# chromium is the web console's browser in its tests (driven by playwright-core from npm,
# tests/e2e/console/package-lock.json), prometheus-client parses /metrics; iputils' ping (-D,
# 20 ms intervals) measures a live migration's downtime (test_migrate.py).
TEST="python3 python3-pytest python3-requests cron clang libclang-rt-14-dev valgrind wrk iperf3 nodejs
faketime haproxy python3-boto3 awscli s3cmd chromium python3-prometheus-client iputils-ping"

missing=""
for p in $BUILD $RUNTIME $STORAGE $IMAGE $TEST; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done

# Debian packages npm apart from nodejs (nodesource's nodejs carries it).
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing:$missing; run as root to install them" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# No init system runs here: keep package scripts from starting daemons (we start our own).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT

apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

# libvirt's packaged "default" NAT network would create virbr0 and run dnsmasq on every
# libvirtd start; the project owns its own bridge and never uses it.
rm -f /etc/libvirt/qemu/networks/autostart/default.xml
echo "install-deps: done"
