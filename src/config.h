/*
 * config: bpftrace.conf (INI) -> one struct.  Everybody reads it, nobody
 * writes it.  Unknown keys and malformed lines are logged with their line
 * number and the defaults stay in force.
 */
#ifndef BPFTRACE_CONFIG_H
#define BPFTRACE_CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_USERS	64

typedef struct config {
    /* [bpftrace] */
    char	bpftrace_path[256];	/* default "bpftrace" */
    int		script_expiry_time;	/* seconds, default 60 */
    long	max_throughput;		/* bytes/s per script, default 2097152 */

    /* [dynamic_scripts] (and legacy [authentication]) */
    int		dynamic_enabled;	/* default 0 */
    int		auth_enabled;		/* default 1 */
    char	*allowed_users[CONFIG_MAX_USERS];	/* owned */
    int		nallowed_users;

    /* [limits] - ours, not upstream's */
    long	max_line;		/* longest JSON line, default 16 MiB */
    long	max_output;		/* bytes kept in data.output, default 64 KiB */
    int		max_instances;		/* per variable, default 100000 */
    int		max_scripts;		/* default 256 */
    long	max_script_size;	/* bytes of script text, default 32768 */
    int		restart_max_backoff;	/* seconds, default 60 */
    int		stop_grace;		/* seconds before SIGKILL, default 5 */
    int		max_starting;		/* bpftrace compiling at once, 0 (default): one per CPU */
} config_t;

/* defaults only */
void config_defaults(config_t *c);

/*
 * Read path into c (defaults first).  A missing file is not an error.
 * Every problem is logged through pmNotifyErr as "path:LINE: reason" and
 * counted; returns that count (>= 0), or a negative error when the file
 * exists but cannot be read.
 */
int config_load(config_t *c, const char *path);

/*
 * The same for text already in memory (defaults first); label names it
 * in log lines ("label:LINE: reason").  Returns the problem count.
 * Both overwrite c without freeing it: config_free() a loaded c first.
 */
int config_parse_text(config_t *c, const char *text, const char *label);

/* 1 if user may register scripts under c's [dynamic_scripts] rules */
int config_user_allowed(const config_t *c, const char *user);

void config_free(config_t *c);

#endif /* BPFTRACE_CONFIG_H */
