/*
 * script: one bpftrace script - its text, annotations, exported variables,
 * generated print block and state - and the registry of all scripts.
 *
 * A script is created from text (a drop-in file or a pmstore), checked by
 * the tokenizer, and run by its runner.  Deregistered scripts leave the
 * registry at once (their names go away) but are kept on a "dying" list
 * until their bpftrace has exited, so nothing ever waits on a child.
 */
#ifndef BPFTRACE_SCRIPT_H
#define BPFTRACE_SCRIPT_H

#include <stdint.h>
#include <poll.h>
#include "config.h"
#include "parser.h"
#include "runner.h"
#include "tokenizer.h"

typedef enum {
    SCRIPT_STOPPED = 0,
    SCRIPT_STARTING,
    SCRIPT_STARTED,
    SCRIPT_STOPPING,
    SCRIPT_ERROR,
} script_status_t;

#define SCRIPT_ID_LEN		33	/* "s" + 32 hex digits */
#define SCRIPT_MAX_NAME		64
#define SCRIPT_MAX_ERROR	4096

typedef struct script {
    char		id[SCRIPT_ID_LEN + 1];
    char		*name;		/* metric name component: annotation, file stem or id */
    char		*code;		/* as given, NUL terminated */
    size_t		codelen;
    char		*username;	/* NULL: anonymous */
    char		*path;		/* drop-in file, NULL when registered by pmstore */
    int			persistent;	/* never expires */
    double		created_at;	/* wall clock */
    double		last_accessed_at;	/* wall clock, for JSON */
    double		last_access;	/* monotonic, for expiry */

    tok_result_t	meta;		/* annotations (and the tokenizer's variables) */
    parse_target_t	pt;		/* exported variables and parser counters */

    /* state */
    script_status_t	status;
    int			pid;
    int			exit_code;
    char		*error;		/* NULL, or bpftrace's message (script_error) */
    size_t		errlen;		/* below SCRIPT_MAX_ERROR */
    int			err_class;	/* class of the current stderr message */
    uint64_t		data_bytes;
    unsigned		restarts;
    char		last_exit[128];
    int			want_running;	/* 0 after control.stop */
    unsigned		queued;		/* waiting for a max_starting place: its turn, else 0 */
    double		restart_at;	/* monotonic, 0 if no restart is due */
    int			backoff;	/* seconds of the next restart delay */
    double		run_start;	/* monotonic start of the current run */
    double		tp_start;	/* throughput window */
    uint64_t		tp_bytes;
    int			over_limit;	/* stopped for max_throughput */

    int			cluster;	/* PMID cluster, -1 until the namespace assigns one */
    runner_t		runner;
    int			dying;		/* deregistered, waiting for its child */
    struct script	*next;
} script_t;

/* the registry */
void script_registry_init(const config_t *cfg);
script_t *script_first(void);
/* scripts whose runner may hold descriptors: registered, and deregistered but still stopping */
int script_runners(void);
script_t *script_find(const char *id_or_name);
/* bumped whenever scripts or their variables come or go */
unsigned script_generation(void);

/*
 * Make a script from text.  Returns NULL only when out of memory; a script
 * that cannot run comes back with status SCRIPT_ERROR and its error text.
 * name: the metric name when the text has no "// name:" annotation (a
 * drop-in file's stem), or NULL (annotation, else the id).
 */
script_t *script_create(const char *code, size_t len, const char *name,
		const char *username, const char *path);
void script_destroy(script_t *s);
/*
 * A script made anew from an edited file takes over the instance ids of
 * the variables the old one had by the same name (var_adopt), as the
 * namespace gives it the same metric and indom identifiers.  Returns the
 * instances taken.
 */
int script_adopt(script_t *to, script_t *from);

/* add to the registry: 0, or negative with s->error set (name taken, limits) */
int script_add(script_t *s);
/* take out of the registry, stop its child and free it once it exited */
void script_remove(script_t *s);

int script_start(script_t *s);
void script_stop(script_t *s);

const char *script_status_name(script_status_t status);
/* script stats for log lines: "script ID (name=N, user=U, PID=P)" */
const char *script_describe(const script_t *s, char *buf, size_t buflen);
/* the error metric's text: "" when there is none */
const char *script_error(const script_t *s);
/* set it, truncated to SCRIPT_MAX_ERROR - 1 bytes */
void script_set_error(script_t *s, const char *fmt, ...) __PM_PRINTFLIKE(2,3);

/* the poll loop's part */
int script_pollfds(struct pollfd *pfd, int max, script_t **owner);
/* poll results, at monotonic time now (script_now) */
void script_io(struct pollfd *pfd, int n, script_t **owner, double now);
/* a child was reaped by waitpid */
void script_reaped(pid_t pid, int wstatus);
/* expiry, restart backoff, stop timeouts; returns ms until the next deadline */
int script_housekeeping(double now);
/*
 * Parse the prints still waiting (see parse_offer): before anything reads
 * the script's variables, or any script's (instance and label requests).
 */
void script_flush(script_t *s);
void script_flush_all(void);
/* a fetch of the script's data metrics keeps it alive */
void script_touch(script_t *s);
/* kill every child, free everything (agent exit) */
void script_shutdown(void);

double script_now(void);	/* monotonic seconds */
double script_wallclock(void);	/* wall clock seconds */

#endif /* BPFTRACE_SCRIPT_H */
