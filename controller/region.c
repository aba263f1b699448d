/* region.c: DescribeRegions, DescribeZones, DescribeInstanceTypes (from the configuration). */
#include <json-c/json.h>

#include "ctl.h"
#include "json.h"
#include "params.h"
#include "region.h"

int ctl_region_describe_regions(struct ctl_call *call, struct json_object *out)
{
	struct json_object *list = ecs_jb_list(out, "Regions", "Region"), *r = json_object_new_object();

	ecs_jb_str(r, "RegionId", call->c->cfg.region_id);
	ecs_jb_str(r, "LocalName", call->c->cfg.region_name);
	ecs_jb_str(r, "RegionEndpoint", call->c->cfg.endpoint);
	ecs_jb_str(r, "Status", "available");
	json_object_array_add(list, r);
	return 0;
}

int ctl_region_describe_zones(struct ctl_call *call, struct json_object *out)
{
	struct json_object *list = ecs_jb_list(out, "Zones", "Zone");
	const struct ctl_config *cfg = &call->c->cfg;

	for (size_t i = 0; i < cfg->n_zones; i++) {
		struct json_object *z = json_object_new_object(), *a;

		ecs_jb_str(z, "ZoneId", cfg->zones[i]);
		ecs_jb_str(z, "LocalName", cfg->zones[i]);
		a = ecs_jb_list(z, "AvailableResourceCreation", "ResourceTypes");
		json_object_array_add(a, json_object_new_string("Instance"));
		json_object_array_add(a, json_object_new_string("Disk"));
		a = ecs_jb_list(z, "AvailableDiskCategories", "DiskCategories");
		json_object_array_add(a, json_object_new_string("cloud_efficiency"));
		a = ecs_jb_list(z, "AvailableInstanceTypes", "InstanceTypes");
		for (size_t t = 0; t < cfg->n_types; t++)
			json_object_array_add(a, json_object_new_string(cfg->types[t].id));
		json_object_array_add(list, z);
	}
	return 0;
}

int ctl_region_describe_instance_types(struct ctl_call *call, struct json_object *out)
{
	struct json_object *list = ecs_jb_list(out, "InstanceTypes", "InstanceType");
	const struct ctl_config *cfg = &call->c->cfg;

	for (size_t t = 0; t < cfg->n_types; t++) {
		struct json_object *o = json_object_new_object();

		ecs_jb_str(o, "InstanceTypeId", cfg->types[t].id);
		ecs_jb_int(o, "CpuCoreCount", cfg->types[t].vcpus);
		/* ECS gives GiB as a number (0.25 for 256 MiB). */
		ecs_jb_double(o, "MemorySize", cfg->types[t].memory_mib / 1024.0);
		ecs_jb_str(o, "InstanceTypeFamily", cfg->types[t].family);
		ecs_jb_int(o, "GPUAmount", 0);
		ecs_jb_int(o, "EniQuantity", 1);
		json_object_array_add(list, o);
	}
	return 0;
}
