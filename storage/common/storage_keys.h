/* storage_keys.h: AccessKey pairs, asked of the controller (GET /storage/v1/keys/AK, signed with
 * the host key) and kept for ttl_s seconds (an unknown key for 5 s), so the pair an
 * account uses for ECS works here too, and a deleted key stops working within ttl_s. */
#ifndef STORAGE_KEYS_H
#define STORAGE_KEYS_H

#define STORAGE_KEYS_CACHE_MAX 4096

struct storage_key {
	char account_id[64];
	char secret[128];
};

struct storage_keys;

/* user_agent names the gateway in the controller's logs ("ecs-ossd"). */
int storage_keys_new(const char *controller_url, const char *host_key, unsigned ttl_s, const char *user_agent,
		     struct storage_keys **ret);
void storage_keys_free(struct storage_keys *k);
/* 0 with *ret; -ENOENT for a key the controller does not know; -EIO when it cannot be asked. */
int storage_keys_get(struct storage_keys *k, const char *access_key_id, struct storage_key *ret);

#endif
