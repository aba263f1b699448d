/* region.h: the region, its zones and the instance types, from the configuration. */
#ifndef CTL_REGION_H
#define CTL_REGION_H

#include "ctl.h"

int ctl_region_describe_regions(struct ctl_call *call, struct json_object *out);
int ctl_region_describe_zones(struct ctl_call *call, struct json_object *out);
int ctl_region_describe_instance_types(struct ctl_call *call, struct json_object *out);

#endif
