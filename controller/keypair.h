/* keypair.h: SSH key pairs: CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPairs,
 * AttachKeyPair, DetachKeyPair.
 *
 * Only the public half is kept, one line in OpenSSH format ("ssh-rsa AAAA… comment"), per
 * account: another account's names do not exist. CreateKeyPair makes an RSA 2048 key and
 * answers its private half (PEM, PKCS#1 "RSA PRIVATE KEY") once; it is never stored. The
 * fingerprint is what ECS documents: the MD5 of the key blob as RFC 4716 section 4 prints
 * it (16 lower-case hex pairs joined by ':').
 *
 * Binding (AttachKeyPair, DetachKeyPair) changes instances.key_pair_name and queues a
 * "modify" job that sends the agent the new public_keys, effective at the instance's next
 * start, as in ECS. A key pair bound to an instance cannot be deleted (ECS). */
#ifndef CTL_KEYPAIR_H
#define CTL_KEYPAIR_H

#include <json-c/json.h>

#include "ctl.h"

#define CTL_KEYPAIR_MAX 500		/* per account (ECS: per region) */
#define CTL_KEYPAIR_FINGERPRINT_LEN 47	/* "xx:" * 16 - 1 */
#define CTL_KEYPAIR_MAX_LINE 8192	/* one public key line, as the agent takes it */

int ctl_keypair_create(struct ctl_call *call, struct json_object *out);	  /* CreateKeyPair */
int ctl_keypair_import(struct ctl_call *call, struct json_object *out);	  /* ImportKeyPair */
int ctl_keypair_describe(struct ctl_call *call, struct json_object *out); /* DescribeKeyPairs */
int ctl_keypair_delete(struct ctl_call *call, struct json_object *out);	  /* DeleteKeyPairs */
int ctl_keypair_attach(struct ctl_call *call, struct json_object *out);	  /* AttachKeyPair */
int ctl_keypair_detach(struct ctl_call *call, struct json_object *out);	  /* DetachKeyPair */

/* Check one OpenSSH public key line ("TYPE BASE64 [COMMENT]"; ssh-rsa, ssh-dss,
 * ssh-ed25519, ecdsa-sha2-nistp256/384/521): the blob must decode and carry the same type
 * and a well-formed key of it. Gives the line as stored (single spaces, no line break)
 * and its fingerprint. -EINVAL when it is not such a line. */
int ctl_keypair_parse_public(const char *line, char **ret_line, char ret_fingerprint[CTL_KEYPAIR_FINGERPRINT_LEN + 1]);

#endif
