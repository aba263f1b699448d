#include "caps.h"

#include <cap-ng.h>
#include <errno.h>
#include <linux/capability.h>

#include "log.h"

int agent_caps_drop(void)
{
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET, CAP_NET_ADMIN,
			  CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
			  CAP_CHOWN, CAP_KILL, -1) < 0)
		return -EINVAL;
	if (capng_apply(CAPNG_SELECT_BOTH) < 0) {
		log_error("cannot drop capabilities", NULL);
		return -EPERM;
	}
	log_info("capabilities dropped", "kept=net_admin,net_raw,net_bind_service,dac_override,dac_read_search,"
					  "fowner,chown,kill");
	return 0;
}

int agent_caps_have(unsigned cap)
{
	capng_get_caps_process();
	return capng_have_capability(CAPNG_EFFECTIVE, cap);
}
