/* instance.h: instances on this host. Each operation records the desired state in the
 * store first (durably), then converges the host to it step by step; every step is
 * idempotent, so the reconciler can finish whatever a crash interrupted.
 *
 * The instance document (kind "instance"):
 *   {"spec": {...as created...}, "power": "running"|"stopped", "deleting": bool,
 *    "error": "last failure", "created_at": unix}
 * The spec is the agent API's create body, decoded by spec.h. */
#ifndef AGENT_INSTANCE_H
#define AGENT_INSTANCE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "errors.h"
#include "instance_prep.h"
#include "spec.h"

struct agent;

int agent_instance_create(struct agent *a, struct json_object *spec, struct json_object **ret, struct agent_err *err);
int agent_instance_start(struct agent *a, const char *id, struct agent_err *err);
int agent_instance_stop(struct agent *a, const char *id, bool force, int timeout_s, struct agent_err *err);
int agent_instance_reboot(struct agent *a, const char *id, bool force, struct agent_err *err);
int agent_instance_delete(struct agent *a, const char *id, struct agent_err *err);
/* Recreate the system disk from its image (instance stopped). */
int agent_instance_reinit(struct agent *a, const char *id, const char *image_id, struct agent_err *err);
/* Change hostname, password_hash, public_keys, user_data: effective at the next start. */
int agent_instance_modify(struct agent *a, const char *id, struct json_object *changes, struct agent_err *err);
int agent_instance_describe(struct agent *a, const char *id, struct json_object **ret, struct agent_err *err);
int agent_instance_list(struct agent *a, struct json_object **ret);
/* The last max bytes of the serial console. */
int agent_instance_console(struct agent *a, const char *id, size_t max, char **ret, size_t *ret_len,
			   struct agent_err *err);

/* Converge one instance to its document (takes the instance's lock). */
int agent_instance_converge(struct agent *a, const char *id);
/* Finish a delete the document says is under way (takes the lock). */
int agent_instance_finish_delete(struct agent *a, const char *id);
/* A libvirt lifecycle event for domain name. */
void agent_instance_on_event(struct agent *a, const char *domain, int event, int detail);

/* The last of an instance here: its folder (config drive), metrics and document. */
int agent_instance_forget(struct agent *a, const char *id);
/* Remove the first n taps of instance id. */
void agent_instance_remove_taps(struct agent *a, const char *id, size_t n);
/* Instances of this host's documents that the controller says run on another host now are
 * removed here: domain, taps, config drive, documents; their disks are shared (RBD) and stay
 * untouched. ids: an object keyed by instance id; the evicted ones are taken out of it.
 * Returns how many were evicted, or < 0 when the controller could not be asked. */
int agent_instance_evict_moved(struct agent *a, struct json_object *ids);

/* Converge one instance to its document, its lock held (explicit_start: a start asked for
 * now). A document marked "incoming" is a live migration's target (migrate.h): everything
 * but the domain is made. */
int agent_instance_converge_locked(struct agent *a, const char *id, struct json_object *doc, bool explicit_start,
				   struct agent_err *err);
/* The domain XML of the instance as its documents say now (disks: its disks' documents). */
char *agent_instance_domain_xml(struct agent *a, const struct agent_instance_spec *spec, struct json_object *disks);
/* Its document: 404 InvalidInstanceId.NotFound when not here or being deleted. */
int agent_instance_load(struct agent *a, const char *id, struct json_object **ret, struct agent_err *err);
/* The converge of an incoming instance (migrate.c), its lock held: its rules and config drive. */
int agent_instance_incoming_locked(struct agent *a, const struct agent_instance_spec *spec, struct json_object *disks,
				   struct json_object *doc, struct agent_err *err);
/* A new instance's document (its spec, the power wanted). */
struct json_object *agent_instance_new_doc(struct json_object *spec, bool start);
/* Record the documents of a new instance's disks (each must be new here: 409 otherwise). */
int agent_instance_record_disks(struct agent *a, const struct agent_instance_spec *spec, struct agent_err *err);
/* Remove an instance that runs on another host now (domain, taps, folder, documents; never
 * its shared disks). Its lock held. */
int agent_instance_evict_locked(struct agent *a, const char *id);

/* agent_instance_refresh_guard (the metadata guard rules) and the config drive: instance_prep.h. */

#endif
