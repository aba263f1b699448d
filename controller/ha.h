/* ha.h: active and standby controllers over the change journal (journal.h;
 * docs/architecture.md, "The controller survives its host"). With [ha] enabled = true:
 *
 *   ctl_ha_prepare   before the database opens: the local copy is checked against the
 *                    journal (its id, and the epoch of its last entry there); a copy that
 *                    is missing, of another journal or diverged is replaced by the latest
 *                    snapshot (NAME.snap.SEQ) and the journal after it.
 *   ctl_ha_start     after it opened: the first controller of a journal makes it (a snapshot
 *                    of its database as entry 0) and is active at epoch 1; the others are
 *                    standbys: a thread tails the journal into the local copy and watches the
 *                    lease; when it was not renewed for lease_ms it blocklists the old
 *                    active's client, takes epoch + 1, applies the tail and calls promote
 *                    (jobs, heal, policies start) with the database writable.
 *   the active       renews the lease (lease_ms / 4); a renewal or an append refused
 *                    (another epoch, blocklisted) makes it step down: writes are refused at
 *                    once and, a second later, the process executes itself again and starts
 *                    as a standby (its copy, with changes that never reached the journal,
 *                    is replaced by the snapshot plus the journal). */
#ifndef CTL_HA_H
#define CTL_HA_H

#include <stdbool.h>

#include "ctl.h"

int ctl_ha_prepare(struct ctl *c, char **argv);
int ctl_ha_start(struct ctl *c, void (*promote)(struct ctl *c));
void ctl_ha_stop(struct ctl *c);

/* "active", "standby" or "" (no [ha]); writes are refused unless active. */
const char *ctl_ha_role(void);
bool ctl_ha_refuses_writes(void);
/* The active controller's endpoint as the journal tells it ("" when unknown). */
void ctl_ha_active_endpoint(char *out, size_t size);

#endif
