/* profile.h: where ecsctl finds its endpoint and credentials.
 *
 * The file is ECSCTL_CONFIG (or --config), else ~/.ecsctl/config, where ~ is HOME or, when
 * HOME is unset or empty (a bare cron or systemd environment), the password database's
 * home of the running user. It is INI with one section per profile, named by the profile:
 *
 *	[default]
 *	endpoint = http://127.0.0.1:8773/
 *	access_key_id = LTAI…
 *	access_key_secret = …
 *	region = cn-local
 *
 * Keys: endpoint, access_key_id, access_key_secret, region, zone (the default ZoneId of
 * `disk create`), request_timeout (seconds), oss_endpoint (ecs-ossd, for `ecsctl oss`;
 * default http://127.0.0.1:8775/). '#' and ';' start comment lines; a value may
 * be double-quoted. An unknown key, a line that is not "key = value" and a key outside a
 * section are errors naming the file and line. The file is read up to 64 KiB.
 *
 * The profile is --profile, else ECSCTL_PROFILE, else "default". Each value comes from, in
 * order: its flag, the variable ECSCTL_<KEY> (ECSCTL_ENDPOINT, ECSCTL_ACCESS_KEY_ID, …),
 * the profile, the built-in default (endpoint http://127.0.0.1:8773/, region cn-local,
 * request_timeout 60). A missing file is fine for the default file and the default
 * profile (the values may all come from flags and variables); an explicit file that is
 * missing, or a named profile the file lacks, is an error. */
#ifndef ECSCTL_PROFILE_H
#define ECSCTL_PROFILE_H

#include <stdbool.h>

#define ECSCTL_DEFAULT_ENDPOINT "http://127.0.0.1:8773/"
#define ECSCTL_DEFAULT_OSS_ENDPOINT "http://127.0.0.1:8775/"
#define ECSCTL_DEFAULT_REGION "cn-local"
#define ECSCTL_DEFAULT_REQUEST_TIMEOUT_S 60
#define ECSCTL_CONFIG_MAX (64 * 1024)

/* What the command line gave (NULL: not given). */
struct ecsctl_overrides {
	const char *config_path;
	const char *profile;
	const char *endpoint;
	const char *access_key_id;
	const char *access_key_secret;
	const char *region;
	const char *request_timeout;
};

struct ecsctl_profile {
	char *name;
	char *path;		/* the file read, or that would have been */
	bool file_found;
	char *endpoint;		/* normalised: scheme, host, and a trailing '/' */
	char *oss_endpoint;	/* ecs-ossd (`ecsctl oss`), normalised as endpoint */
	char *access_key_id;	/* NULL when none was configured */
	char *access_key_secret;
	char *region;
	char *zone;		/* NULL when none was configured */
	long request_timeout_s;
};

/* The user's home: HOME when set and absolute, else the password database. */
int ecsctl_home_dir(char **ret);
/* ~/.ecsctl/NAME (NAME NULL: the directory itself). */
int ecsctl_state_path(const char *name, char **ret);
/* Create ~/.ecsctl/NAME as a directory of mode 0700 (and ~/.ecsctl itself), if missing. */
int ecsctl_state_mkdir(const char *name, char **ret_path);

/* Resolve the profile. On error returns a negative errno with a sentence naming the file
 * (and line) in *ret_error (caller frees). */
int ecsctl_profile_load(const struct ecsctl_overrides *o, struct ecsctl_profile *ret, char **ret_error);
void ecsctl_profile_clear(struct ecsctl_profile *p);

/* The profile names in the file (for completion); *ret is a NULL-terminated array. */
int ecsctl_profile_names(const struct ecsctl_overrides *o, char ***ret);
void ecsctl_strv_free(char **v);

#endif
