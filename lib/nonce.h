/* nonce.h: a set of nonces remembered until they expire, for replay protection (agent and
 * controller signatures). Thread-safe. Each nonce belongs to an owner (an account; "" for a
 * set with one user) and is bounded per owner, so one owner filling its share refuses only
 * its own requests. Lookups and inserts are O(1) (a hash of chains) and expiry O(log n) (a
 * heap ordered by expiry), so an entry leaves at its own time whatever order they came in
 * and memory follows the nonces alive in the window. */
#ifndef ECS_NONCE_H
#define ECS_NONCE_H

#include <stddef.h>
#include <time.h>

struct ecs_nonce_set;

/* max_per_owner: live nonces one owner may hold (0: 65536). */
int ecs_nonce_set_new(size_t max_per_owner, struct ecs_nonce_set **ret);
void ecs_nonce_set_free(struct ecs_nonce_set *s);

/* Remember owner's nonce until expires. 0: new (or already expired: nothing to remember);
 * -EEXIST: seen and not yet expired; -ENOSPC: owner holds max_per_owner live nonces
 * (refuse the request rather than forget one). */
int ecs_nonce_set_add_owned(struct ecs_nonce_set *s, const char *owner, const char *nonce, time_t now,
			    time_t expires);
/* ecs_nonce_set_add_owned() with the owner "". */
int ecs_nonce_set_add(struct ecs_nonce_set *s, const char *key, time_t now, time_t expires);

/* Claim a nonce of a request dated stamp, accepted while |stamp - now| <= window: it is
 * kept until the stamp itself leaves the window (stamp + window + 1), not for a window
 * from its arrival, so a request dated ahead cannot come back once its arrival's window
 * has passed. -ERANGE when stamp is outside the window; else as ecs_nonce_set_add_owned(). */
int ecs_nonce_set_claim(struct ecs_nonce_set *s, const char *owner, const char *nonce, time_t stamp, time_t now,
			time_t window);

/* Live entries, all owners and one owner's (for tests and metrics). */
size_t ecs_nonce_set_size(struct ecs_nonce_set *s);
size_t ecs_nonce_set_owner_size(struct ecs_nonce_set *s, const char *owner);

#endif
