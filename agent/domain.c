#include "domain.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <libxml/tree.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "id.h"
#include "log.h"
#include "util.h"

const char *agent_domain_detect_type(void)
{
	_cleanup_free_ char *cpuinfo = NULL;
	char *save = NULL;

	if (access("/dev/kvm", R_OK | W_OK) != 0)
		return "qemu";
	if (ecs_read_file("/proc/cpuinfo", 8 * 1024 * 1024, &cpuinfo, NULL) < 0)
		return "qemu";
	for (char *line = strtok_r(cpuinfo, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!str_has_prefix(line, "flags"))
			continue;
		if (strstr(line, " vmx") || strstr(line, " svm"))
			return "kvm";
		break;
	}
	return "qemu";
}

static const char *const state_names[_AGENT_DOMAIN_STATE_MAX] = {
	[AGENT_DOMAIN_MISSING] = "missing", [AGENT_DOMAIN_SHUTOFF] = "shutoff", [AGENT_DOMAIN_RUNNING] = "running",
	[AGENT_DOMAIN_PAUSED] = "paused",   [AGENT_DOMAIN_SHUTDOWN] = "shutdown", [AGENT_DOMAIN_CRASHED] = "crashed",
	[AGENT_DOMAIN_OTHER] = "other",
};

const char *agent_domain_state_to_string(enum agent_domain_state s)
{
	return s < _AGENT_DOMAIN_STATE_MAX ? state_names[s] : "?";
}

void agent_domain_uuid(const char *instance_id, char buf[37])
{
	uint8_t h[ECS_SHA256_LEN];

	ecs_sha256(instance_id, strlen(instance_id), h);
	h[6] = (uint8_t)((h[6] & 0x0f) | 0x80); /* version 8: custom */
	h[8] = (uint8_t)((h[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2],
		 h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
}

/* ---- XML ---- */

static xmlNodePtr child(xmlNodePtr parent, const char *name, const char *text)
{
	return xmlNewTextChild(parent, NULL, BAD_CAST name, text ? BAD_CAST text : NULL);
}

static void attr(xmlNodePtr n, const char *name, const char *value)
{
	xmlNewProp(n, BAD_CAST name, BAD_CAST value);
}

/* <source protocol='rbd' name='POOL/NAME'><host name= port=/>…</source>
 * <auth username=><secret type='ceph' uuid=/></auth> */
static void add_rbd_source(xmlNodePtr disk, const struct agent_domain_disk *d)
{
	xmlNodePtr src = child(disk, "source", NULL), n;
	_cleanup_free_ char *hosts = strdup(d->rbd_hosts);
	char *save = NULL;

	attr(src, "protocol", "rbd");
	attr(src, "name", d->path);
	for (char *h = hosts ? strtok_r(hosts, ",", &save) : NULL; h; h = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(h, ':');

		n = child(src, "host", NULL);
		if (colon)
			*colon = 0;
		attr(n, "name", h);
		if (colon)
			attr(n, "port", colon + 1);
	}
	n = child(disk, "auth", NULL);
	attr(n, "username", d->rbd_user);
	n = child(n, "secret", NULL);
	attr(n, "type", "ceph");
	attr(n, "uuid", d->rbd_secret);
}

static void add_disk(xmlNodePtr devices, const struct agent_domain_disk *d)
{
	xmlNodePtr disk = child(devices, "disk", NULL), n;

	attr(disk, "type", d->rbd_hosts ? "network" : "file");
	attr(disk, "device", "disk");
	n = child(disk, "driver", NULL);
	attr(n, "name", "qemu");
	attr(n, "type", d->rbd_hosts ? "raw" : "qcow2");
	if (d->rbd_hosts)
		attr(n, "cache", "writeback");
	attr(n, "discard", "unmap");
	if (d->rbd_hosts)
		add_rbd_source(disk, d);
	else
		attr(child(disk, "source", NULL), "file", d->path);
	n = child(disk, "target", NULL);
	attr(n, "dev", d->target);
	attr(n, "bus", "virtio");
	if (d->serial)
		child(disk, "serial", d->serial);
}

static char *doc_to_string(xmlDocPtr doc, xmlNodePtr root)
{
	xmlBufferPtr buf = xmlBufferCreate();
	char *out = NULL;

	if (!buf)
		return NULL;
	if (xmlNodeDump(buf, doc, root, 0, 1) >= 0)
		out = strdup((const char *)xmlBufferContent(buf));
	xmlBufferFree(buf);
	return out;
}

static bool disk_ok(const struct agent_domain_disk *d)
{
	if (d->rbd_hosts && (!d->path || !strchr(d->path, '/') || d->path[0] == '/' || !*d->rbd_hosts ||
			     !d->rbd_user || !d->rbd_secret))
		return false;
	return d->path && (d->path[0] == '/' || d->rbd_hosts) && d->target && str_has_prefix(d->target, "vd") &&
	       strlen(d->target) == 3 && (!d->serial || strlen(d->serial) <= 20);
}

char *agent_domain_disk_xml(const struct agent_domain_disk *disk)
{
	xmlDocPtr doc;
	xmlNodePtr root;
	char *out;

	if (!disk_ok(disk))
		return NULL;
	doc = xmlNewDoc(BAD_CAST "1.0");
	root = xmlNewNode(NULL, BAD_CAST "devices");
	xmlDocSetRootElement(doc, root);
	add_disk(root, disk);
	out = doc_to_string(doc, root->children);
	xmlFreeDoc(doc);
	return out;
}

char *agent_domain_xml(const struct agent_domain_spec *s)
{
	xmlDocPtr doc;
	xmlNodePtr dom, os, n, devices, inst = NULL;
	char buf[32];
	char *out = NULL;

	if (!s->name || !s->type || s->vcpus < 1 || s->memory_mib < 16 || !s->console_log)
		return NULL;
	for (size_t i = 0; i < s->n_disks; i++)
		if (!disk_ok(&s->disks[i]))
			return NULL;
	doc = xmlNewDoc(BAD_CAST "1.0");
	if (!doc)
		return NULL;
	dom = xmlNewNode(NULL, BAD_CAST "domain");
	xmlDocSetRootElement(doc, dom);
	attr(dom, "type", s->type);
	child(dom, "name", s->name);
	if (s->instance_id) {
		char uuid[37];

		agent_domain_uuid(s->instance_id, uuid);
		child(dom, "uuid", uuid);
	}
	if (s->instance_id) {
		xmlNodePtr md = child(dom, "metadata", NULL);
		xmlNsPtr ns = xmlNewNs(NULL, BAD_CAST AGENT_DOMAIN_XMLNS, BAD_CAST "ecs");

		inst = xmlNewChild(md, NULL, BAD_CAST "instance", NULL);
		xmlSetNs(inst, ns);
		inst->nsDef = ns;
		attr(inst, "id", s->instance_id);
	}
	snprintf(buf, sizeof(buf), "%d", s->memory_mib);
	attr(child(dom, "memory", buf), "unit", "MiB");
	snprintf(buf, sizeof(buf), "%d", s->vcpus);
	child(dom, "vcpu", buf);

	os = child(dom, "os", NULL);
	n = child(os, "type", "hvm");
	attr(n, "arch", "x86_64");
	attr(n, "machine", "pc");
	if (s->kernel) {
		child(os, "kernel", s->kernel);
		if (s->initrd)
			child(os, "initrd", s->initrd);
		if (s->cmdline)
			child(os, "cmdline", s->cmdline);
	} else {
		attr(child(os, "boot", NULL), "dev", "hd");
	}
	/* ACPI: libvirt's shutdown and reboot press the power button. No <cpu>: TCG's default
	 * model is fine and kvm picks its own. */
	child(child(dom, "features", NULL), "acpi", NULL);
	child(dom, "on_poweroff", "destroy");
	child(dom, "on_reboot", "restart");
	child(dom, "on_crash", "destroy");

	devices = child(dom, "devices", NULL);
	for (size_t i = 0; i < s->n_disks; i++)
		add_disk(devices, &s->disks[i]);
	if (s->cdrom) {
		n = child(devices, "disk", NULL);
		attr(n, "type", "file");
		attr(n, "device", "cdrom");
		xmlNodePtr d = child(n, "driver", NULL);
		attr(d, "name", "qemu");
		attr(d, "type", "raw");
		attr(child(n, "source", NULL), "file", s->cdrom);
		d = child(n, "target", NULL);
		attr(d, "dev", "hdc");
		attr(d, "bus", "ide");
		child(n, "readonly", NULL);
	}
	for (size_t i = 0; i < s->n_nics; i++) {
		xmlNodePtr t;

		n = child(devices, "interface", NULL);
		attr(n, "type", "ethernet");
		attr(child(n, "mac", NULL), "address", s->nics[i].mac);
		t = child(n, "target", NULL);
		attr(t, "dev", s->nics[i].tap);
		attr(t, "managed", "no");
		attr(child(n, "model", NULL), "type", "virtio");
	}
	n = child(devices, "serial", NULL);
	attr(n, "type", "file");
	attr(child(n, "source", NULL), "path", s->console_log);
	attr(child(n, "target", NULL), "port", "0");
	n = child(devices, "console", NULL);
	attr(n, "type", "file");
	attr(child(n, "source", NULL), "path", s->console_log);
	xmlNodePtr t = child(n, "target", NULL);
	attr(t, "type", "serial");
	attr(t, "port", "0");
	/* The screen: QEMU's VNC server on a unix socket libvirt places in its own directory for
	 * the domain, no TCP port; only the agent's API reaches it (agent/vnc.h). */
	n = child(devices, "graphics", NULL);
	attr(n, "type", "vnc");
	attr(child(n, "listen", NULL), "type", "socket");
	/* Entropy for the guest's first-boot SSH host key. */
	n = child(devices, "rng", NULL);
	attr(n, "model", "virtio");
	attr(child(n, "backend", "/dev/urandom"), "model", "random");
	/* Balloon statistics every 10 s give the guest's own memory figures for metrics. */
	n = child(devices, "memballoon", NULL);
	attr(n, "model", "virtio");
	attr(child(n, "stats", NULL), "period", "10");

	out = doc_to_string(doc, dom);
	if (out && inst) {
		/* The digest of the XML without it, kept in the domain's own metadata: what
		 * libvirt holds is current when it carries the digest of what we would define. */
		uint8_t h[ECS_SHA256_LEN];
		char hex[2 * ECS_SHA256_LEN + 1];

		ecs_sha256(out, strlen(out), h);
		ecs_hex_encode(h, sizeof(h), hex);
		attr(inst, "digest", hex);
		free(out);
		out = doc_to_string(doc, dom);
	}
	xmlFreeDoc(doc);
	return out;
}

/* ---- lifecycle ---- */

static const char *virt_error(void)
{
	virErrorPtr e = virGetLastError();

	return e && e->message ? e->message : "unknown libvirt error";
}

static int lookup(virConnectPtr conn, const char *name, virDomainPtr *ret)
{
	virDomainPtr d = virDomainLookupByName(conn, name);

	if (!d) {
		virErrorPtr e = virGetLastError();

		if (e && e->code == VIR_ERR_NO_DOMAIN)
			return -ENOENT;
		log_error("libvirt lookup failed", "domain=%s error=\"%s\"", name, virt_error());
		return -EIO;
	}
	*ret = d;
	return 0;
}

/* As lookup, for callers to whom a missing domain is done: 0 with *ret NULL. */
static int lookup_present(virConnectPtr conn, const char *name, virDomainPtr *ret)
{
	int r = lookup(conn, name, ret);

	if (r == -ENOENT)
		*ret = NULL;
	return r == -ENOENT ? 0 : r;
}

int agent_domain_get_state(virConnectPtr conn, const char *name, enum agent_domain_state *ret, int *ret_reason)
{
	virDomainPtr d;
	int state = 0, reason = 0, r;

	r = lookup(conn, name, &d);
	if (r == -ENOENT) {
		*ret = AGENT_DOMAIN_MISSING;
		if (ret_reason)
			*ret_reason = 0;
		return 0;
	}
	if (r < 0)
		return r;
	r = virDomainGetState(d, &state, &reason, 0);
	virDomainFree(d);
	if (r < 0) {
		/* Undefined between lookup and query. */
		*ret = AGENT_DOMAIN_MISSING;
		return 0;
	}
	switch (state) {
	case VIR_DOMAIN_RUNNING:
		*ret = AGENT_DOMAIN_RUNNING;
		break;
	case VIR_DOMAIN_SHUTOFF:
		*ret = AGENT_DOMAIN_SHUTOFF;
		break;
	case VIR_DOMAIN_PAUSED:
	case VIR_DOMAIN_PMSUSPENDED:
		*ret = AGENT_DOMAIN_PAUSED;
		break;
	case VIR_DOMAIN_SHUTDOWN:
		*ret = AGENT_DOMAIN_SHUTDOWN;
		break;
	case VIR_DOMAIN_CRASHED:
		*ret = AGENT_DOMAIN_CRASHED;
		break;
	default:
		*ret = AGENT_DOMAIN_OTHER;
	}
	if (ret_reason)
		*ret_reason = reason;
	return 0;
}

/* The digest agent_domain_xml wrote into xml: digest="<64 hex>". */
static bool xml_digest(const char *xml, char hex[2 * ECS_SHA256_LEN + 1])
{
	const char *p = xml ? strstr(xml, "digest=\"") : NULL;

	if (!p)
		return false;
	p += strlen("digest=\"");
	if (strspn(p, "0123456789abcdef") != 2 * ECS_SHA256_LEN || p[2 * ECS_SHA256_LEN] != '"')
		return false;
	memcpy(hex, p, 2 * ECS_SHA256_LEN);
	hex[2 * ECS_SHA256_LEN] = '\0';
	return true;
}

int agent_domain_is_current(virConnectPtr conn, const char *name, const char *xml, bool *ret)
{
	char want[2 * ECS_SHA256_LEN + 1];
	virDomainPtr d;
	char *meta;
	int r;

	if (!xml_digest(xml, want)) {
		*ret = false;
		return 0;
	}
	r = lookup(conn, name, &d);
	if (r == -ENOENT) {
		*ret = false;
		return 0;
	}
	if (r < 0)
		return r;
	/* The persistent definition's metadata (absent: an older agent's, or not ours). */
	meta = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, AGENT_DOMAIN_XMLNS, VIR_DOMAIN_AFFECT_CONFIG);
	virResetLastError();
	virDomainFree(d);
	*ret = meta && strstr(meta, want);
	free(meta);
	return 0;
}

int agent_domain_define(virConnectPtr conn, const char *xml)
{
	virDomainPtr d = virDomainDefineXML(conn, xml);

	if (!d) {
		log_error("libvirt define failed", "error=\"%s\"", virt_error());
		return -EIO;
	}
	virDomainFree(d);
	return 0;
}

int agent_domain_start(virConnectPtr conn, const char *name)
{
	virDomainPtr d;
	int r = lookup(conn, name, &d);

	if (r < 0)
		return r;
	if (virDomainIsActive(d) == 1) {
		r = 0;
	} else if (virDomainCreate(d) < 0) {
		/* Started by someone else in between is fine. */
		r = virDomainIsActive(d) == 1 ? 0 : -EIO;
		if (r < 0)
			log_error("libvirt start failed", "domain=%s error=\"%s\"", name, virt_error());
	}
	virDomainFree(d);
	return r;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int destroy(virDomainPtr d, const char *name)
{
	if (virDomainIsActive(d) != 1)
		return 0;
	if (virDomainDestroy(d) < 0 && virDomainIsActive(d) == 1) {
		log_error("libvirt destroy failed", "domain=%s error=\"%s\"", name, virt_error());
		return -EIO;
	}
	return 0;
}

int agent_domain_stop(virConnectPtr conn, const char *name, bool force, int timeout_ms)
{
	virDomainPtr d;
	int r = lookup_present(conn, name, &d);

	if (r < 0 || !d)
		return r;
	if (virDomainIsActive(d) != 1 || force) {
		r = destroy(d, name);
		goto out;
	}
	if (virDomainShutdown(d) < 0 && virDomainIsActive(d) == 1)
		log_warn("ACPI shutdown refused; powering off", "domain=%s error=\"%s\"", name, virt_error());
	for (int waited = 0; waited < timeout_ms && virDomainIsActive(d) == 1; waited += 200)
		sleep_ms(200);
	if (virDomainIsActive(d) == 1)
		log_info("guest did not shut down in time; powering off", "domain=%s timeout_ms=%d", name, timeout_ms);
	r = destroy(d, name);
out:
	virDomainFree(d);
	return r;
}

int agent_domain_reboot(virConnectPtr conn, const char *name, bool force)
{
	virDomainPtr d;
	int r = lookup(conn, name, &d);

	if (r < 0)
		return r;
	if (virDomainIsActive(d) != 1) {
		r = -ESRCH; /* a stopped instance cannot reboot */
	} else if (force ? virDomainReset(d, 0) : virDomainReboot(d, VIR_DOMAIN_REBOOT_ACPI_POWER_BTN)) {
		log_error("libvirt reboot failed", "domain=%s force=%d error=\"%s\"", name, force, virt_error());
		r = -EIO;
	}
	virDomainFree(d);
	return r;
}

int agent_domain_remove(virConnectPtr conn, const char *name)
{
	virDomainPtr d;
	int r = lookup_present(conn, name, &d);

	if (r < 0 || !d)
		return r;
	r = destroy(d, name);
	/* Drivers without NVRAM support (libvirt's test driver) refuse the flag: plain undefine. */
	if (r == 0 && virDomainUndefineFlags(d, VIR_DOMAIN_UNDEFINE_NVRAM) < 0 &&
	    (!virGetLastError() || virGetLastError()->code != VIR_ERR_NO_DOMAIN) && virDomainUndefine(d) < 0) {
		virErrorPtr e = virGetLastError();

		if (!e || e->code != VIR_ERR_NO_DOMAIN) {
			log_error("libvirt undefine failed", "domain=%s error=\"%s\"", name, virt_error());
			r = -EIO;
		}
	}
	virDomainFree(d);
	return r;
}

int agent_domain_has_disk(virConnectPtr conn, const char *name, const char *target, bool *ret)
{
	virDomainPtr d;
	_cleanup_free_ char *needle = ecs_strdup_printf("<target dev='%s'", target);
	char *xml;
	int r = lookup(conn, name, &d);

	if (r < 0)
		return r;
	xml = virDomainGetXMLDesc(d, 0);
	virDomainFree(d);
	if (!xml)
		return -EIO;
	*ret = needle && strstr(xml, needle);
	free(xml);
	return 0;
}

static unsigned disk_flags(virDomainPtr d)
{
	return virDomainIsActive(d) == 1 ? VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG : VIR_DOMAIN_AFFECT_CONFIG;
}

int agent_domain_attach_disk(virConnectPtr conn, const char *name, const struct agent_domain_disk *disk)
{
	_cleanup_free_ char *xml = agent_domain_disk_xml(disk);
	virDomainPtr d;
	bool present = false;
	int r;

	if (!xml)
		return -EINVAL;
	r = agent_domain_has_disk(conn, name, disk->target, &present);
	if (r < 0)
		return r;
	if (present)
		return 0;
	r = lookup(conn, name, &d);
	if (r < 0)
		return r;
	if (virDomainAttachDeviceFlags(d, xml, disk_flags(d)) < 0) {
		log_error("libvirt attach failed", "domain=%s target=%s error=\"%s\"", name, disk->target, virt_error());
		r = -EIO;
	}
	virDomainFree(d);
	return r;
}

int agent_domain_detach_disk(virConnectPtr conn, const char *name, const struct agent_domain_disk *disk,
			     int timeout_ms)
{
	_cleanup_free_ char *xml = agent_domain_disk_xml(disk);
	virDomainPtr d;
	bool present = true, live;
	int r;

	if (!xml)
		return -EINVAL;
	r = lookup_present(conn, name, &d);
	if (r < 0 || !d)
		return r;
	live = virDomainIsActive(d) == 1;
	r = agent_domain_has_disk(conn, name, disk->target, &present);
	if (r < 0 || !present)
		goto persistent;
	if (virDomainDetachDeviceFlags(d, xml, disk_flags(d)) < 0) {
		log_error("libvirt detach failed", "domain=%s target=%s error=\"%s\"", name, disk->target, virt_error());
		r = -EIO;
		goto out;
	}
	/* Unplugging from a running guest completes when the guest lets go of the device. */
	for (int waited = 0; live && present && waited < timeout_ms; waited += 200) {
		sleep_ms(200);
		if (agent_domain_has_disk(conn, name, disk->target, &present) < 0)
			break;
	}
	if (present) {
		log_error("guest did not release the disk", "domain=%s target=%s", name, disk->target);
		r = -ETIMEDOUT;
		goto out;
	}
persistent:
	/* The live device may be gone while the persistent definition still has it. */
	if (live) {
		virDomainDetachDeviceFlags(d, xml, VIR_DOMAIN_AFFECT_CONFIG);
		virResetLastError();
	}
	r = 0;
out:
	virDomainFree(d);
	return r;
}

int agent_domain_resize_disk(virConnectPtr conn, const char *name, const char *target, unsigned long long bytes)
{
	virDomainPtr d;
	int r = lookup(conn, name, &d);

	if (r < 0)
		return r;
	if (virDomainBlockResize(d, target, bytes, VIR_DOMAIN_BLOCK_RESIZE_BYTES) < 0) {
		log_error("libvirt block resize failed", "domain=%s target=%s error=\"%s\"", name, target, virt_error());
		r = -EIO;
	}
	virDomainFree(d);
	return r;
}

int agent_domain_list(virConnectPtr conn, char ***ret_names, size_t *ret_n)
{
	virDomainPtr *doms = NULL;
	char **names = NULL;
	size_t n = 0;
	int count = virConnectListAllDomains(conn, &doms, 0);

	if (count < 0) {
		log_error("libvirt list failed", "error=\"%s\"", virt_error());
		return -EIO;
	}
	names = calloc((size_t)count + 1, sizeof(*names));
	for (int i = 0; i < count; i++) {
		const char *nm = virDomainGetName(doms[i]);

		/* Only "ecs-" + an instance id: another domain that happens to start with
		 * "ecs-" is not ours to judge. */
		if (names && nm && str_has_prefix(nm, AGENT_DOMAIN_PREFIX) &&
		    ecs_id_valid(ECS_ID_INSTANCE, nm + strlen(AGENT_DOMAIN_PREFIX)))
			names[n++] = strdup(nm);
		virDomainFree(doms[i]);
	}
	free(doms);
	if (!names)
		return -ENOMEM;
	*ret_names = names;
	*ret_n = n;
	return 0;
}
