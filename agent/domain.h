/* domain.h: libvirt domains for instances: the domain XML generated from a spec, and the
 * lifecycle calls, each idempotent (starting a running domain, stopping a stopped one,
 * removing a missing one all succeed).
 *
 * Domains are named "ecs-<instance-id>"; nothing else is touched. The XML follows what the
 * tiny image needs (see images/README.md): ACPI for shutdown and reboot, the config drive
 * as an IDE CD-ROM (hdc) on machine "pc", virtio disks and NICs, the serial console to a
 * file, a virtio RNG. NICs are taps the agent made (type ethernet, managed='no'). */
#ifndef AGENT_DOMAIN_H
#define AGENT_DOMAIN_H

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stddef.h>

#define AGENT_DOMAIN_PREFIX "ecs-"
/* The namespace of the domain's <metadata>: <ecs:instance id= digest=>. */
#define AGENT_DOMAIN_XMLNS "https://ecs.local/xmlns/instance/1"

struct agent_domain_disk {
	const char *path;   /* qcow2 file; with rbd_hosts, the RBD image "POOL/NAME" */
	const char *target; /* vda, vdb, … */
	const char *serial; /* visible in the guest as /dev/disk/by-id/virtio-<serial> (≤ 20) */
	/* An RBD disk (<disk type='network'>): the monitors "ip:port,…", the cephx user and
	 * the UUID of the libvirt ceph secret holding its key. NULL hosts: a qcow2 file. */
	const char *rbd_hosts, *rbd_user, *rbd_secret;
};

struct agent_domain_nic {
	const char *tap;
	const char *mac;
};

struct agent_domain_spec {
	const char *name;
	const char *instance_id; /* also gives the domain a stable UUID, so a redefine updates it */
	const char *type; /* "kvm" or "qemu" */
	int vcpus;
	int memory_mib;
	const char *kernel, *initrd, *cmdline; /* direct kernel boot; NULL kernel: boot the disk */
	const struct agent_domain_disk *disks;
	size_t n_disks;
	const char *cdrom; /* config drive ISO; may be NULL */
	const struct agent_domain_nic *nics;
	size_t n_nics;
	const char *console_log;
};

/* "kvm" when the CPU has vmx or svm and /dev/kvm exists, else "qemu" (TCG). A /dev/kvm
 * without them (PVM here) cannot boot a stock kernel, whatever libvirt advertises. */
const char *agent_domain_detect_type(void);

/* A UUID derived from the instance id (SHA-256, RFC 4122 variant, version 8): the same
 * id always gives the same domain UUID. buf holds 37 bytes. */
void agent_domain_uuid(const char *instance_id, char buf[37]);

/* The domain XML (caller frees), or NULL on bad spec / no memory. With an instance id it
 * carries, in its metadata, the SHA-256 of itself without it (digest="..."). */
char *agent_domain_xml(const struct agent_domain_spec *spec);
/* The XML of one disk for attach/detach. */
char *agent_domain_disk_xml(const struct agent_domain_disk *disk);

enum agent_domain_state {
	AGENT_DOMAIN_MISSING,
	AGENT_DOMAIN_SHUTOFF,
	AGENT_DOMAIN_RUNNING,
	AGENT_DOMAIN_PAUSED,
	AGENT_DOMAIN_SHUTDOWN, /* shutting down */
	AGENT_DOMAIN_CRASHED,
	AGENT_DOMAIN_OTHER,
	_AGENT_DOMAIN_STATE_MAX,
};

const char *agent_domain_state_to_string(enum agent_domain_state s);

/* State and libvirt's reason code (virDomainShutoffReason etc.). */
int agent_domain_get_state(virConnectPtr conn, const char *name, enum agent_domain_state *ret, int *ret_reason);

/* Does libvirt's persistent definition of name carry the digest of xml? Then defining xml
 * again would change nothing (and only make libvirt fire a DEFINED event). */
int agent_domain_is_current(virConnectPtr conn, const char *name, const char *xml, bool *ret);
int agent_domain_define(virConnectPtr conn, const char *xml);
int agent_domain_start(virConnectPtr conn, const char *name);
/* ACPI shutdown, waiting up to timeout_ms, then power off; force: power off at once. */
int agent_domain_stop(virConnectPtr conn, const char *name, bool force, int timeout_ms);
/* Soft: ACPI reboot (libvirt restarts the domain when the guest powers off); force: reset. */
int agent_domain_reboot(virConnectPtr conn, const char *name, bool force);
/* Power off and undefine. */
int agent_domain_remove(virConnectPtr conn, const char *name);
/* Attach/detach one disk: live and persistent when running, persistent only otherwise.
 * Detaching live waits (up to timeout_ms) for the guest to release the device. */
int agent_domain_attach_disk(virConnectPtr conn, const char *name, const struct agent_domain_disk *disk);
int agent_domain_detach_disk(virConnectPtr conn, const char *name, const struct agent_domain_disk *disk,
			     int timeout_ms);
/* Grow a disk of a running domain (bytes). */
int agent_domain_resize_disk(virConnectPtr conn, const char *name, const char *target, unsigned long long bytes);
/* Names of all domains (defined or running) named AGENT_DOMAIN_PREFIX + an instance id. */
int agent_domain_list(virConnectPtr conn, char ***ret_names, size_t *ret_n);
/* Is target (vdb…) present in the live domain? */
int agent_domain_has_disk(virConnectPtr conn, const char *name, const char *target, bool *ret);

#endif
