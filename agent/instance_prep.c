#include "instance_prep.h"

#include <stdlib.h>

#include "agent.h"
#include "configdrive.h"
#include "instance_names.h"
#include "json.h"
#include "metadata.h"
#include "spec.h"
#include "store.h"
#include "util.h"

#define jbool ecs_json_bool

int agent_instance_build_config_drive(struct agent *a, const struct agent_instance_spec *spec, const char *path)
{
	const struct agent_spec_nic *nic = &spec->nics[0];
	struct agent_configdrive cd = {
		.instance_id = spec->instance_id,
		.hostname = spec->hostname,
		.public_keys = spec->public_keys,
		.n_keys = spec->n_public_keys,
		.mac = nic->mac,
		.ip = nic->ip,
		.prefix_len = nic->prefix_len,
		.gateway = nic->gateway,
		.mtu = a->overlay_mtu,
		.dns = nic->dns,
		.n_dns = nic->n_dns,
		.user_data = spec->user_data,
		.user_data_len = spec->user_data_len,
		.password_hash = spec->password_hash,
	};

	return agent_configdrive_build(&cd, path);
}

int agent_instance_refresh_guard(struct agent *a)
{
	struct json_object *all = NULL;
	struct agent_metadata_nic nics[512];
	char *taps[512];
	size_t n = 0;
	int r;

	r = agent_store_list(a->store, "instance", &all);
	if (r < 0)
		return r;
	json_object_object_foreach(all, id, doc)
	{
		_cleanup_spec_ struct agent_instance_spec *spec = NULL;
		struct agent_err ignored = { 0 };

		/* The strings point into all, which outlives the loop. */
		if (jbool(doc, "deleting") || agent_instance_spec_of_doc(doc, &spec, &ignored) < 0)
			continue;
		for (size_t i = 0; i < spec->n_nics && n < ARRAY_SIZE(nics); i++) {
			taps[n] = agent_instance_tap_name(a, id, (unsigned)i);
			nics[n] = (struct agent_metadata_nic){ taps[n], spec->nics[i].ip, spec->nics[i].mac };
			n++;
		}
	}
	r = agent_metadata_guard_apply(a->cfg.chain_prefix, a->cfg.metadata_ip, nics, n);
	for (size_t i = 0; i < n; i++)
		free(taps[i]);
	json_object_put(all);
	return r;
}
