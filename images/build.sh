#!/bin/sh
# images/build.sh OUTDIR - build the "tiny" guest image into OUTDIR:
#   disk.qcow2   ext4 root filesystem (busybox, dropbear, config-drive init)
#   vmlinuz      Debian's kernel, from the linux-image package (not installed)
#   initrd.img   a small busybox initramfs that mounts root= and switch_roots
#   manifest.json, SHA256SUMS
#
# No loop devices and no mounts: the filesystem is made with "mke2fs -d".
# Downloads are cached in $ECS_CACHE_DIR (default: OUTDIR/../../cache, that is
# build/cache for build/images/tiny).
# A rebuild whose inputs (these scripts, the guest files, the host binaries
# copied in, the kernel package version, the tools) did not change is skipped.
# Outputs are reproducible: fixed mtimes, owners, UUID and hash seed.
set -eu
umask 022
export LC_ALL=C
PATH=$PATH:/usr/sbin:/sbin
export PATH

die() { echo "images/build.sh: $*" >&2; exit 1; }
log() { echo "images/build.sh: $*" >&2; }

[ $# -eq 1 ] || die "usage: images/build.sh OUTDIR"
# Owners in the image come from the files in the staging tree (mke2fs -d).
[ "$(id -u)" = 0 ] || die "must run as root (file owners in the image are copied from the build tree)"

HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
CACHE=${ECS_CACHE_DIR:-$(dirname "$OUT")/../cache}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

# Fixed for reproducible output; a caller may pin another one.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export SOURCE_DATE_EPOCH
# Every image has the same filesystem UUID, like any cloud image.
FS_UUID=5e0c5e0c-7a1e-4e1c-9e55-000000000001
DISK_SIZE=64M
CMDLINE="root=/dev/vda rw console=ttyS0 quiet"

# Modules the initramfs loads to reach the root disk, and those the running
# guest loads: network, ACPI power button, the config drive on a CD-ROM
# (IDE on i440fx, AHCI on q35, or virtio-scsi) or on a virtio disk.
INITRD_MODULES="virtio_pci virtio_blk ext4"
GUEST_MODULES="$INITRD_MODULES virtio_net virtio_rng virtio_scsi button evdev
ata_piix ahci sr_mod isofs"

# Host binaries copied into the root filesystem (their libraries via ldd).
DYN_BINS="/usr/sbin/dropbear /usr/bin/dropbearkey /usr/sbin/resize2fs"

for t in flock busybox mke2fs debugfs qemu-img cpio gzip depmod modprobe dpkg dpkg-deb apt-get apt-cache sha256sum ldd $DYN_BINS; do
	command -v "$t" >/dev/null 2>&1 || die "missing tool $t (run scripts/install-deps.sh)"
done

# One build of an OUTDIR at a time (make and the e2e fixture may race).
exec 9>"$OUT/.lock"
flock 9

# ---- kernel package: which one, and the .deb in the cache ----

KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
if [ -n "$KPKG" ]; then
	KPKG_VER=$(apt-cache policy "$KPKG" | awk '$1 == "Candidate:" { print $2 }')
	KDEB=$CACHE/${KPKG}_$(echo "$KPKG_VER" | sed 's/:/%3a/')_amd64.deb
else
	# No apt lists (apt-get update never ran): fall back on the newest cached one.
	KDEB=$(find "$CACHE" -maxdepth 1 -name "linux-image-*-amd64_*.deb" | sort -V | tail -n 1)
	[ -n "$KDEB" ] || die "cannot resolve linux-image-amd64: run apt-get update"
	KPKG=$(dpkg-deb -f "$KDEB" Package)
	KPKG_VER=$(dpkg-deb -f "$KDEB" Version)
	log "apt knows no linux-image-amd64; using cached $KPKG $KPKG_VER"
fi

# ---- inputs hash: skip the build when nothing changed ----

# The dynamic libraries a binary needs, and its loader.
libs_of() {
	ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*[^:]$/ { print $1 }' | sort -u
}

inputs() {
	echo "epoch $SOURCE_DATE_EPOCH uuid $FS_UUID size $DISK_SIZE cmdline $CMDLINE"
	echo "kernel $KPKG $KPKG_VER"
	(cd "$HERE" && find build.sh rootfs initramfs \( -type f -o -type l \) -printf '%m %p %l\n' | sort)
	(cd "$HERE" && find build.sh rootfs initramfs -type f -print0 | sort -z | xargs -0 sha256sum)
	# shellcheck disable=SC2046,SC2086 # word lists of paths without spaces
	sha256sum "$(command -v busybox)" $DYN_BINS $(libs_of $DYN_BINS)
	mke2fs -V 2>&1 | head -n 1
	qemu-img --version | head -n 1
	cpio --version | head -n 1
	gzip --version | head -n 1
	depmod --version | head -n 1
}
HASH=$(inputs | sha256sum | cut -d' ' -f1)

if [ -f "$OUT/.inputs-hash" ] && [ "$(cat "$OUT/.inputs-hash")" = "$HASH" ] &&
	[ -f "$OUT/manifest.json" ] && (cd "$OUT" && sha256sum -c --status SHA256SUMS 2>/dev/null); then
	log "$OUT is up to date ($KPKG $KPKG_VER)"
	exit 0
fi
log "building $OUT ($KPKG $KPKG_VER)"
rm -f "$OUT/.inputs-hash"

W=$(mktemp -d "$(dirname "$OUT")/.tiny-build.XXXXXX")
trap 'rm -rf "$W"' EXIT
trap 'exit 1' INT TERM HUP

if [ ! -s "$KDEB" ]; then
	log "downloading $KPKG=$KPKG_VER"
	mkdir "$W/dl"
	# apt-get verifies the package against the signed index while it downloads.
	(cd "$W/dl" && apt-get -q -o APT::Sandbox::User=root download "$KPKG=$KPKG_VER" >/dev/null)
	mv "$W/dl"/*.deb "$KDEB.part"
	mv "$KDEB.part" "$KDEB"
	# Keep one kernel in the cache: drop those of older ABIs or versions.
	find "$CACHE" -maxdepth 1 -name "linux-image-*-amd64_*.deb" ! -path "$KDEB" -delete
fi

# ---- the kernel: unpack, index its modules, resolve what we load ----

K=$W/kernel
dpkg -x "$KDEB" "$K"
KVER=$(ls "$K/lib/modules")
[ -f "$K/boot/vmlinuz-$KVER" ] || die "$KDEB has no /boot/vmlinuz-$KVER"
# The package ships no modules.dep (its postinst makes it): make it here.
depmod -b "$K" "$KVER"

# Module files (relative to lib/modules/KVER), dependencies and soft
# dependencies first, each once. Built-in ones (modules.builtin) print
# "builtin NAME" and need no file.
resolve_modules() {
	for m in "$@"; do
		modprobe -d "$K" -S "$KVER" --show-depends "$m" >"$W/dep" || die "module $m not in $KPKG"
		cat "$W/dep"
	done | awk -v p="$K/lib/modules/$KVER/" '$1 == "insmod" { sub(p, "", $2); if (!seen[$2]++) print $2 }'
}

# copy_modules ROOT LIST: install the listed modules and a module index.
copy_modules() {
	root=$1 list=$2
	mkdir -p "$root/lib/modules/$KVER" "$root/etc/ecs"
	while read -r ko; do
		mkdir -p "$root/lib/modules/$KVER/$(dirname "$ko")"
		cp "$K/lib/modules/$KVER/$ko" "$root/lib/modules/$KVER/$ko"
	done <"$list"
	cp "$K/lib/modules/$KVER/modules.order" "$K/lib/modules/$KVER/modules.builtin" \
		"$K/lib/modules/$KVER/modules.builtin.modinfo" "$root/lib/modules/$KVER/"
	depmod -b "$root" "$KVER"
	cp "$list" "$root/etc/ecs/modules.list"
}

# install_busybox ROOT: the static busybox and a link for every applet.
install_busybox() {
	root=$1
	mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin"
	cp "$(command -v busybox)" "$root/bin/busybox"
	busybox --list-full | while read -r applet; do
		case $applet in bin/busybox | linuxrc | linuxrc/) continue ;; esac
		[ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
	done
}

# finish_tree ROOT: same modes and mtimes on every build.
finish_tree() {
	root=$1
	find "$root" -type d -exec chmod 755 {} +
	find "$root" -type f -perm -u+x -exec chmod 755 {} +
	find "$root" -type f ! -perm -u+x -exec chmod 644 {} +
	find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# ---- initramfs ----

I=$W/initrd
mkdir -p "$I/dev" "$I/proc" "$I/sys" "$I/newroot"
install_busybox "$I"
cp "$HERE/initramfs/init" "$I/init"
chmod 755 "$I/init"
# shellcheck disable=SC2086 # a word list
resolve_modules $INITRD_MODULES >"$W/initrd.list"
copy_modules "$I" "$W/initrd.list"
# The kernel opens /dev/console for /init before anything mounts devtmpfs.
mknod -m 600 "$I/dev/console" c 5 1
finish_tree "$I"
(cd "$I" && find . -print0 | sort -z |
	cpio --null --quiet -o -H newc --reproducible -R 0:0) | gzip -9 -n >"$W/initrd.img"

# ---- root filesystem ----

R=$W/root
for d in bin sbin usr/bin usr/sbin lib lib64 etc/dropbear dev proc sys run tmp root \
	var/log var/lib/cloud var/tmp mnt srv/www home; do
	mkdir -p "$R/$d"
done
cp -R "$HERE/rootfs/." "$R/"
install_busybox "$R"
# shellcheck disable=SC2046,SC2086 # word lists of paths without spaces
for f in $DYN_BINS $(libs_of $DYN_BINS); do
	mkdir -p "$R$(dirname "$f")"
	cp -L "$f" "$R$f"
done
# shellcheck disable=SC2086 # a word list
resolve_modules $GUEST_MODULES >"$W/guest.list"
copy_modules "$R" "$W/guest.list"
ln -s ../run "$R/var/run"
ln -s /proc/self/mounts "$R/etc/mtab"
ln -s /usr/sbin/ecs-httpd "$R/etc/init.d/httpd"
ln -s /usr/sbin/ecs-sshd "$R/etc/init.d/sshd"
cat >"$R/etc/os-release" <<EOF
PRETTY_NAME="Debian tiny (busybox)"
NAME="Debian tiny"
ID=ecs-tiny
ID_LIKE=debian
VERSION_ID="1"
EOF
finish_tree "$R"
chmod 700 "$R/root"
chmod 1777 "$R/tmp" "$R/var/tmp"
chmod 600 "$R/etc/shadow"
touch -h -d "@$SOURCE_DATE_EPOCH" "$R/root" "$R/tmp" "$R/var/tmp" "$R/etc/shadow"

# mke2fs -d copies the tree without mounting it; the fake time pins the
# superblock's and the root inode's timestamps, -U and hash_seed the rest.
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mke2fs -q -F -t ext4 -b 4096 -I 256 -i 16384 -m 1 \
	-L root -U "$FS_UUID" -E "root_owner=0:0,hash_seed=$FS_UUID" \
	-d "$R" "$W/disk.raw" "$DISK_SIZE" >/dev/null
# mke2fs 1.47.0 copies each file's ctime, the staging tree's real change time
# that touch cannot set: pin it to the epoch too, in one debugfs session.
(cd "$R" && find . -mindepth 1) | sed 's|^\.||' |
	awk -v t="@$SOURCE_DATE_EPOCH" 'BEGIN { print "sif / ctime " t; print "sif /lost+found ctime " t }
		{ print "sif " $0 " ctime " t }' >"$W/ctime.cmd"
# debugfs exits 0 whatever fails: any stderr line past its banner is an error.
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH debugfs -w -f "$W/ctime.cmd" "$W/disk.raw" >/dev/null 2>"$W/debugfs.err"
if grep -v '^debugfs [0-9]' "$W/debugfs.err" >&2; then
	die "debugfs could not pin the ctimes"
fi
qemu-img convert -f raw -O qcow2 "$W/disk.raw" "$W/disk.qcow2"
cp "$K/boot/vmlinuz-$KVER" "$W/vmlinuz"
touch -d "@$SOURCE_DATE_EPOCH" "$W/disk.qcow2" "$W/vmlinuz" "$W/initrd.img"

# ---- manifest and install ----

sum() { sha256sum "$W/$1" | cut -d' ' -f1; }
cat >"$W/manifest.json" <<EOF
{
  "name": "tiny",
  "os": "linux",
  "os_name": "Debian tiny (busybox)",
  "arch": "x86_64",
  "boot": "direct-kernel",
  "disk": "disk.qcow2",
  "kernel": "vmlinuz",
  "initrd": "initrd.img",
  "cmdline": "$CMDLINE",
  "min_disk_gib": 1,
  "kernel_package": "$KPKG",
  "kernel_package_version": "$KPKG_VER",
  "kernel_release": "$KVER",
  "sha256": {
    "disk.qcow2": "$(sum disk.qcow2)",
    "vmlinuz": "$(sum vmlinuz)",
    "initrd.img": "$(sum initrd.img)"
  }
}
EOF
(cd "$W" && sha256sum disk.qcow2 vmlinuz initrd.img manifest.json >SHA256SUMS)

for f in disk.qcow2 vmlinuz initrd.img manifest.json SHA256SUMS; do
	mv -f "$W/$f" "$OUT/$f"
done
echo "$HASH" >"$OUT/.inputs-hash"
log "done: $(du -h "$OUT/disk.qcow2" | cut -f1) disk, kernel $KVER"
