/* nonce.h: a set of nonces remembered until they expire, for replay protection (agent and
 * controller signatures). Bounded in entries; thread-safe. Lookups and inserts are O(1):
 * a hash of chains, plus a queue in insertion order from which expired entries are dropped
 * as new ones arrive, so memory follows the nonces alive in the window. */
#ifndef ECS_NONCE_H
#define ECS_NONCE_H

#include <stddef.h>
#include <time.h>

struct ecs_nonce_set;

int ecs_nonce_set_new(size_t max_entries, struct ecs_nonce_set **ret);
void ecs_nonce_set_free(struct ecs_nonce_set *s);

/* Remember key until expires. 0: new; -EEXIST: seen and not yet expired; -ENOSPC: the set
 * holds max_entries live nonces (refuse the request rather than forget one). */
int ecs_nonce_set_add(struct ecs_nonce_set *s, const char *key, time_t now, time_t expires);

/* Live entries (for tests and metrics). */
size_t ecs_nonce_set_size(struct ecs_nonce_set *s);

#endif
