/*
 * script: one bpftrace script and the registry of all scripts - see script.h.
 *
 * Debug options: appl0 - script lifecycle, appl1 - every stdout line.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <pcp/pmapi.h>
#include <pcp/pmda.h>
#include "script.h"

#define SCRIPT_IO_BUDGET	(1 << 20)	/* bytes read per child per poll round */
#define SCRIPT_OUT_HOLD		0.01	/* s a busy stdout rests once emptied (runner.c) */
#define SCRIPT_TP_WINDOW	1.0		/* seconds of the throughput window */
/*
 * A bpftrace that has not attached this long after it was started stops
 * holding one of the max_starting places (it may be attaching thousands
 * of uprobes, or stuck): it runs on, and the next script waiting starts.
 */
#define SCRIPT_START_SLOT_SECS	10.0

/* stderr message classes */
enum { ERRCLASS_ERROR = 0, ERRCLASS_WARNING, ERRCLASS_IGNORE };

static const config_t	*script_cfg;
static script_t		*script_list;	/* the registry */
static script_t		*script_dying;	/* removed, child still running */
static int		script_nlist;
static int		script_ndying;	/* length of script_dying */
static unsigned		script_gen = 1;
static int		script_max_starting;	/* max_starting, 0 resolved to the CPUs */
static unsigned		script_queue_seq;	/* order of scripts waiting to start */

static const char *script_status_names[] = {
    "stopped", "starting", "started", "stopping", "error",
};

double
script_now(void)
{
    struct timespec	ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

double
script_wallclock(void)
{
    struct timespec	ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

void
script_registry_init(const config_t *cfg)
{
    long	ncpu;

    script_cfg = cfg;
    script_max_starting = cfg->max_starting;
    if (script_max_starting <= 0) {
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	script_max_starting = ncpu > 0 ? (int)ncpu : 1;
    }
}

script_t *
script_first(void)
{
    return script_list;
}

int
script_runners(void)
{
    return script_nlist + script_ndying;
}

unsigned
script_generation(void)
{
    return script_gen;
}

script_t *
script_find(const char *id_or_name)
{
    script_t	*s;

    for (s = script_list; s; s = s->next)
	if (strcmp(s->id, id_or_name) == 0 || strcmp(s->name, id_or_name) == 0)
	    return s;
    return NULL;
}

const char *
script_status_name(script_status_t status)
{
    if ((unsigned)status < sizeof(script_status_names) / sizeof(script_status_names[0]))
	return script_status_names[status];
    return "unknown";
}

const char *
script_describe(const script_t *s, char *buf, size_t buflen)
{
    size_t	n;

    n = pmsprintf(buf, buflen, "script %s (", s->id);
    if (s->meta.meta_name || s->path)
	n += pmsprintf(buf + n, buflen - n, "name=%s, ", s->name);
    n += pmsprintf(buf + n, buflen - n, "user=%s",
		    s->username ? s->username : "anonymous");
    if (s->pid > 0 && runner_active(&s->runner))
	n += pmsprintf(buf + n, buflen - n, ", PID=%d", s->pid);
    pmsprintf(buf + n, buflen - n, ")");
    return buf;
}

static void
script_new_id(char *id)
{
    unsigned char	raw[16];
    size_t		i;

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
	/* no entropy available: time and pid still make ids unique here */
	double	t = script_wallclock();
	for (i = 0; i < sizeof(raw); i++)
	    raw[i] = (unsigned char)(((unsigned long)(t * 1e6) >> (i % 8)) ^ getpid() ^ (i * 131) ^ rand());
    }
    id[0] = 's';
    for (i = 0; i < sizeof(raw); i++)
	sprintf(id + 1 + 2 * i, "%02x", raw[i]);
}

/*
 * Most scripts never have an error, so its text is allocated when there
 * is one (to its length), not carried in every script.
 */
const char *
script_error(const script_t *s)
{
    return s->error ? s->error : "";
}

static void
script_clear_error(script_t *s)
{
    free(s->error);
    s->error = NULL;
    s->errlen = 0;
}

void
script_set_error(script_t *s, const char *fmt, ...)
{
    char	buf[SCRIPT_MAX_ERROR];
    va_list	ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    script_clear_error(s);
    /* without memory the message is lost, the error status is not */
    if ((s->error = strdup(buf)) != NULL)
	s->errlen = strlen(buf);
}

/* a line of bpftrace's message: "\n" and the line, within the limit */
static void
script_append_error(script_t *s, const char *line, size_t len)
{
    size_t	sep = s->errlen ? 1 : 0;
    char	*p;

    len = strnlen(line, len);	/* a NUL inside ends the text, as it would */
    if (s->errlen + sep + 1 >= SCRIPT_MAX_ERROR)
	return;
    if (len > SCRIPT_MAX_ERROR - 1 - s->errlen - sep)
	len = SCRIPT_MAX_ERROR - 1 - s->errlen - sep;
    if ((p = realloc(s->error, s->errlen + sep + len + 1)) == NULL)
	return;
    if (sep)
	p[s->errlen] = '\n';
    memcpy(p + s->errlen + sep, line, len);
    s->errlen += sep + len;
    p[s->errlen] = '\0';
    s->error = p;
}

/* build the exported variables from what the tokenizer found */
static int
script_make_variables(script_t *s)
{
    const tok_result_t	*m = &s->meta;
    int			n = m->nvars + (m->has_output ? 1 : 0);
    int			i, sts;

    if (n == 0)
	return 0;
    if ((s->pt.vars = calloc(n, sizeof(variable_t))) == NULL)
	return -ENOMEM;
    for (i = 0; i < m->nvars; i++) {
	const tok_var_t	*tv = &m->vars[i];

	if ((sts = var_init(&s->pt.vars[i], tv->name, tv->func, tv->keyed,
				tv->is_string, tv->stacks)) < 0)
	    return sts;
	s->pt.nvars++;
	s->pt.vars[i].max_inst = script_cfg->max_instances;
    }
    if (m->has_output) {
	variable_t	*out = &s->pt.vars[i];

	if ((sts = var_init(out, "@output", VAR_FUNC_OUTPUT, 0, 1, 0)) < 0)
	    return sts;
	s->pt.nvars++;
	out->max_output = script_cfg->max_output;
	out->retain_lines = m->table_retain_lines;
	s->pt.output = out;
    }
    return 0;
}

script_t *
script_create(const char *code, size_t len, const char *name,
		const char *username, const char *path)
{
    script_t	*s;
    char	errbuf[512];
    int		sts, refused = 1;

    if ((s = calloc(1, sizeof(*s))) == NULL)
	return NULL;
    script_new_id(s->id);
    s->cluster = -1;
    s->want_running = 1;
    s->created_at = s->last_accessed_at = script_wallclock();
    s->last_access = script_now();
    runner_init(&s->runner, script_cfg->max_line);
    s->runner.hold_secs = SCRIPT_OUT_HOLD;
    /* unparsed prints waiting for a fetch: at most one longest line's worth */
    s->pt.max_pending = script_cfg->max_line;
    s->meta.table_retain_lines = -1;
    if ((s->code = malloc(len + 1)) == NULL)
	goto oom;
    memcpy(s->code, code, len);
    s->code[len] = '\0';
    s->codelen = len;
    if (username && (s->username = strdup(username)) == NULL)
	goto oom;
    if (path && (s->path = strdup(path)) == NULL)
	goto oom;

    if (len == 0) {		/* refused: the error says why */
	script_set_error(s, "empty script: no bpftrace code was given");
    } else if ((long)len > script_cfg->max_script_size) {
	script_set_error(s, "script is %zu bytes long, longer than the limit of %ld bytes (max_script_size)",
			len, script_cfg->max_script_size);
    } else if ((sts = tok_script(code, len, &s->meta, errbuf, sizeof(errbuf))) < 0) {
	script_set_error(s, "%s", errbuf);
	s->meta.table_retain_lines = -1;
    } else if ((sts = script_make_variables(s)) < 0) {
	goto oom;
    } else {
	refused = 0;
    }
    if (refused && s->error == NULL)	/* no memory to say why */
	goto oom;

    /*
     * the name: the "// name:" annotation, else the one given (a drop-in
     * file's stem), else the id.  The annotation wins over the stem as in
     * the Python agent, so "foo.bt" saying "// name: biolatency" is
     * bpftrace.scripts.biolatency.
     */
    if (s->meta.meta_name)
	s->name = strdup(s->meta.meta_name);
    else if (name)
	s->name = strdup(name);
    else
	s->name = strdup(s->id);
    if (s->name == NULL)
	goto oom;
    s->persistent = (path != NULL || s->meta.meta_name != NULL);
    s->status = refused ? SCRIPT_ERROR : SCRIPT_STOPPED;
    if (refused)
	s->want_running = 0;
    return s;

oom:
    script_destroy(s);
    return NULL;
}

int
script_adopt(script_t *to, script_t *from)
{
    int		i, j, n = 0;

    for (i = 0; i < to->pt.nvars; i++)
	for (j = 0; j < from->pt.nvars; j++)
	    if (strcmp(to->pt.vars[i].metric, from->pt.vars[j].metric) == 0) {
		n += var_adopt(&to->pt.vars[i], &from->pt.vars[j]);
		break;
	    }
    return n;
}

void
script_destroy(script_t *s)
{
    int		i;

    if (s == NULL)
	return;
    if (runner_active(&s->runner))
	runner_kill(&s->runner);
    runner_free(&s->runner);
    parse_pending_free(&s->pt);
    for (i = 0; i < s->pt.nvars; i++)
	var_free(&s->pt.vars[i]);
    free(s->pt.vars);
    tok_free(&s->meta);
    free(s->name);
    free(s->code);
    free(s->username);
    free(s->path);
    free(s->error);
    free(s);
}

int
script_add(script_t *s)
{
    script_t	*other, **tail;

    if ((other = script_find(s->name)) != NULL) {
	script_set_error(s, "Script name %s is already in use by another script.", s->name);
	s->status = SCRIPT_ERROR;
	return PM_ERR_BADSTORE;
    }
    if (script_nlist >= script_cfg->max_scripts) {
	script_set_error(s, "too many scripts: the limit is %d (max_scripts)", script_cfg->max_scripts);
	s->status = SCRIPT_ERROR;
	return PM_ERR_TOOBIG;
    }
    for (tail = &script_list; *tail; tail = &(*tail)->next)
	;
    s->next = NULL;
    *tail = s;
    script_nlist++;
    script_gen++;
    return 0;
}

void
script_remove(script_t *s)
{
    script_t	**pp;

    for (pp = &script_list; *pp; pp = &(*pp)->next) {
	if (*pp == s) {
	    *pp = s->next;
	    script_nlist--;
	    script_gen++;
	    break;
	}
    }
    s->dying = 1;
    s->want_running = 0;
    s->restart_at = 0;
    if (runner_active(&s->runner)) {
	runner_stop(&s->runner, script_now(), script_cfg->stop_grace);
	s->next = script_dying;
	script_dying = s;
	script_ndying++;
    } else {
	script_destroy(s);
    }
}

/*
 * The print block fires every SCRIPT_PRINT_STEP_MS and prints on the first
 * step and every SCRIPT_PRINT_STEPS-th after it: values reach the first
 * fetch 0.2 s after bpftrace attached rather than 1 s, while the prints
 * stay one a second (so does the output rate, which max_throughput
 * judges) and the script keeps the one probe upstream's block adds.
 */
#define SCRIPT_PRINT_STEP_MS	"200"
#define SCRIPT_PRINT_STEPS	"5"
#define SCRIPT_STEP_VAR		"@__pmda_step"
#define SCRIPT_PRINT_HEAD \
    "\ninterval:ms:" SCRIPT_PRINT_STEP_MS " { " \
    SCRIPT_STEP_VAR " = " SCRIPT_STEP_VAR " + 1; " \
    "if (" SCRIPT_STEP_VAR " % " SCRIPT_PRINT_STEPS " == 1) { " \
    PARSE_TICK_VAR " = count(); print(" PARSE_TICK_VAR ");"
#define SCRIPT_PRINT_TAIL	" } }"

/* the text bpftrace gets: the script and the block that prints its variables */
static char *
script_program(const script_t *s, size_t *lenp)
{
    size_t	size = s->codelen + sizeof(SCRIPT_PRINT_HEAD) + sizeof(SCRIPT_PRINT_TAIL) + 2, len;
    char	*prog;
    int		i, nprint = 0;

    for (i = 0; i < s->pt.nvars; i++)
	size += strlen(s->pt.vars[i].name) + 16;
    if ((prog = malloc(size)) == NULL)
	return NULL;
    memcpy(prog, s->code, s->codelen);
    len = s->codelen;
    if (!s->meta.custom_output_block) {
	for (i = 0; i < s->pt.nvars; i++) {
	    if (s->pt.vars[i].func == VAR_FUNC_OUTPUT)
		continue;
	    len += pmsprintf(prog + len, size - len, "%s print(%s);",
			    nprint++ ? "" : SCRIPT_PRINT_HEAD,
			    s->pt.vars[i].name);
	}
	if (nprint)
	    len += pmsprintf(prog + len, size - len, SCRIPT_PRINT_TAIL);
    }
    len += pmsprintf(prog + len, size - len, "\n");
    *lenp = len;
    return prog;
}

static void script_schedule_restart(script_t *, const char *);

/*
 * bpftrace could not even be started (no pipe, no fork, no memory: the
 * agent is short of descriptors, processes or memory for now).  A
 * drop-in script tries again with the same backoff as after an exit, so
 * it starts once the shortage is over; a registered one reports the
 * error to the client that registered it.
 */
static int
script_start_failed(script_t *s, int sts)
{
    char	desc[256];

    script_set_error(s, "cannot start %s: %s", script_cfg->bpftrace_path, pmErrStr(sts));
    s->status = SCRIPT_ERROR;
    pmNotifyErr(LOG_ERR, "script: failed to start %s due to error: %s",
		    script_describe(s, desc, sizeof(desc)), script_error(s));
    if (s->path && s->want_running && !s->dying) {
	pmsprintf(s->last_exit, sizeof(s->last_exit), "not started: %s", pmErrStr(sts));
	s->restarts++;
	script_schedule_restart(s, "could not start");
    }
    return sts;
}

/* a bpftrace still compiling or attaching, holding one of the max_starting places */
static int
script_holds_start_slot(const script_t *s, double now)
{
    return s->status == SCRIPT_STARTING && runner_active(&s->runner) &&
	   !s->runner.stopping && now - s->run_start < SCRIPT_START_SLOT_SECS;
}

static int
script_starting_count(double now)
{
    script_t	*s;
    int		n = 0;

    for (s = script_list; s; s = s->next)
	n += script_holds_start_slot(s, now);
    return n;
}

/* run bpftrace on the script's program: the run's fresh state is already set */
static int
script_launch(script_t *s)
{
    char	*argv[5], *prog, desc[256];
    size_t	len;
    int		sts;

    s->queued = 0;
    if ((prog = script_program(s, &len)) == NULL)
	return script_start_failed(s, -ENOMEM);
    s->tp_start = s->run_start = script_now();
    s->tp_bytes = 0;
    argv[0] = (char *)script_cfg->bpftrace_path;
    argv[1] = "-f";
    argv[2] = "json";
    argv[3] = "-";
    argv[4] = NULL;
    sts = runner_start(&s->runner, argv, prog, len);
    free(prog);
    if (sts < 0)
	return script_start_failed(s, sts);
    s->pid = s->runner.pid;
    s->status = SCRIPT_STARTING;
    pmNotifyErr(LOG_INFO, "script: started %s", script_describe(s, desc, sizeof(desc)));
    return 0;
}

/*
 * Start a run, or queue it: every bpftrace loads LLVM (about 90 MB
 * resident) and compiles its script before it attaches, so at most
 * max_starting do that at once and the others wait their turn in status
 * "starting" with no pid.  Fifty drop-in scripts at pmcd's start then
 * neither flood the host's memory nor starve pmcd and its clients.
 */
int
script_start(script_t *s)
{
    char	desc[256];
    int		i, n;

    s->want_running = 1;
    s->restart_at = 0;
    if (s->dying || s->queued || runner_active(&s->runner) || s->pt.nvars == 0)
	return 0;
    /* a new run: fresh state, instance ids kept */
    parse_drop(&s->pt);
    for (i = 0; i < s->pt.nvars; i++)
	var_reset(&s->pt.vars[i]);
    s->pt.probes = 0;
    script_clear_error(s);
    s->err_class = ERRCLASS_ERROR;
    s->exit_code = 0;
    s->data_bytes = 0;
    s->over_limit = 0;

    /* the run's clocks (run_start, the throughput window) start in script_launch */
    if ((n = script_starting_count(script_now())) < script_max_starting)
	return script_launch(s);
    s->queued = ++script_queue_seq;
    s->pid = 0;
    s->status = SCRIPT_STARTING;
    pmNotifyErr(LOG_INFO, "script: %s waits to start: %d bpftrace already starting (max_starting %d)",
		    script_describe(s, desc, sizeof(desc)), n, script_max_starting);
    return 0;
}

static script_t *
script_first_queued(void)
{
    script_t	*s, *first = NULL;

    for (s = script_list; s; s = s->next)
	if (s->queued && (first == NULL || s->queued < first->queued))
	    first = s;
    return first;
}

/* start the scripts waiting longest, while places are free */
static void
script_start_queued(double now)
{
    script_t	*s;

    while ((s = script_first_queued()) != NULL &&
	   script_starting_count(now) < script_max_starting)
	script_launch(s);	/* clears s->queued, started or not */
}

void
script_stop(script_t *s)
{
    char	desc[256];

    s->want_running = 0;
    s->restart_at = 0;
    if (s->queued) {		/* never started: nothing to stop */
	s->queued = 0;
	s->status = SCRIPT_STOPPED;
	pmNotifyErr(LOG_INFO, "script: stopped %s before it started", script_describe(s, desc, sizeof(desc)));
	return;
    }
    if (runner_active(&s->runner)) {
	pmNotifyErr(LOG_INFO, "script: stopping %s...", script_describe(s, desc, sizeof(desc)));
	s->status = SCRIPT_STOPPING;
	runner_stop(&s->runner, script_now(), script_cfg->stop_grace);
    }
}

/* bytes per second over the window: a script over max_throughput is stopped */
static void
script_throughput(script_t *s, size_t bytes)
{
    double	now, elapsed;
    char	desc[256];
    long	limit = script_cfg->max_throughput;

    s->tp_bytes += bytes;
    if (s->over_limit || limit <= 0)
	return;
    now = script_now();
    elapsed = now - s->tp_start;
    /* a whole window's worth early is already over; else judge each window */
    if (s->tp_bytes > (uint64_t)limit * SCRIPT_TP_WINDOW * 2 ||
	(elapsed >= SCRIPT_TP_WINDOW && s->tp_bytes / elapsed > limit)) {
	s->over_limit = 1;
	s->want_running = 0;
	/* upstream's words exactly: PCP QA 1705 compares them */
	script_set_error(s, "BPFtrace output exceeds limit of %ld bytes per second", limit);
	pmNotifyErr(LOG_ERR, "script: stopping %s: %s (max_throughput)", script_describe(s, desc, sizeof(desc)), script_error(s));
	runner_stop(&s->runner, now, script_cfg->stop_grace);
	return;
    }
    if (elapsed >= SCRIPT_TP_WINDOW) {
	s->tp_start = now;
	s->tp_bytes = 0;
    }
}

static void
script_out_line(void *arg, char *line, size_t len)
{
    script_t	*s = arg;

    s->data_bytes += len + 1;
    if (s->dying || s->over_limit)
	return;
    if (pmDebugOptions.appl1)
	pmNotifyErr(LOG_DEBUG, "%s: %.*s", s->name, (int)(len > 200 ? 200 : len), line);
    parse_offer(&s->pt, line, len);
    if (s->status == SCRIPT_STARTING && (s->pt.probes > 0 || s->data_bytes > 0))
	s->status = SCRIPT_STARTED;
    script_throughput(s, len + 1);
}

static void
script_too_long(void *arg, size_t len)
{
    script_t	*s = arg;

    s->data_bytes += len + 1;
    s->pt.parse_errors++;
    pmNotifyErr(LOG_WARNING, "%s: dropped a bpftrace output line of %zu bytes, longer than max_line %ld",
		    s->name, len, script_cfg->max_line);
    script_throughput(s, len + 1);
}

/*
 * stderr: bpftrace's messages start "ERROR:" or "WARNING:", optionally
 * after a "stdin:L:C: " location, and may go on over following lines
 * (the source line and a marker).  Warnings and the RLIMIT_MEMLOCK notice
 * every run prints here are not errors.
 */
static int
script_err_class(const char *line)
{
    const char	*p = line;

    if (strncmp(p, "stdin:", 6) == 0) {
	const char *sp = strstr(p, ": ");
	if (sp)
	    p = sp + 2;
    }
    if (strncmp(p, "ERROR:", 6) == 0) {
	if (strstr(p, "RLIMIT_MEMLOCK"))
	    return ERRCLASS_IGNORE;
	return ERRCLASS_ERROR;
    }
    if (strncmp(p, "WARNING:", 8) == 0 || strncmp(p, "Warning:", 8) == 0)
	return ERRCLASS_WARNING;
    return -1;		/* a continuation line */
}

static void
script_err_line(void *arg, char *line, size_t len)
{
    script_t	*s = arg;
    int		cls = script_err_class(line);

    if (cls >= 0)
	s->err_class = cls;
    if (s->err_class != ERRCLASS_ERROR || s->dying)
	return;
    script_append_error(s, line, len);
}

static const runner_ops_t script_ops = {
    .out_line = script_out_line,
    .err_line = script_err_line,
    .too_long = script_too_long,
};

int
script_pollfds(struct pollfd *pfd, int max, script_t **owner)
{
    script_t	*lists[2] = { script_list, script_dying };
    script_t	*s;
    int		n = 0, i, k, l;

    for (l = 0; l < 2; l++) {
	for (s = lists[l]; s; s = s->next) {
	    if (n + RUNNER_MAX_POLLFDS > max)
		return n;
	    k = runner_pollfds(&s->runner, pfd + n);
	    for (i = 0; i < k; i++)
		owner[n + i] = s;
	    n += k;
	}
    }
    return n;
}

void
script_io(struct pollfd *pfd, int n, script_t **owner, double now)
{
    int		i, j;

    for (i = 0; i < n; i = j) {
	for (j = i; j < n && owner[j] == owner[i]; j++)
	    ;
	runner_io(&owner[i]->runner, pfd + i, j - i, SCRIPT_IO_BUDGET, now,
		  &script_ops, owner[i]);
    }
}

static script_t *
script_by_pid(pid_t pid, script_t *list)
{
    for (; list; list = list->next)
	if (list->runner.pid == pid)
	    return list;
    return NULL;
}

/* what: "exited" or "could not start", logged with s->last_exit */
static void
script_schedule_restart(script_t *s, const char *what)
{
    int		cap = script_cfg->restart_max_backoff;
    char	desc[256];

    if (s->backoff <= 0)
	s->backoff = 1;
    s->restart_at = script_now() + s->backoff;
    pmNotifyErr(LOG_INFO, "script: %s %s (%s), restarting in %d s",
		    script_describe(s, desc, sizeof(desc)), what, s->last_exit, s->backoff);
    s->backoff = s->backoff * 2 > cap ? cap : s->backoff * 2;
}

void
script_reaped(pid_t pid, int wstatus)
{
    script_t	*s, **pp;
    char	desc[256];
    int		requested;

    if ((s = script_by_pid(pid, script_dying)) != NULL) {
	runner_exited(&s->runner, wstatus, &script_ops, s);
	for (pp = &script_dying; *pp; pp = &(*pp)->next)
	    if (*pp == s) {
		*pp = s->next;
		script_ndying--;
		break;
	    }
	pmNotifyErr(LOG_INFO, "script: deregistered %s", script_describe(s, desc, sizeof(desc)));
	script_destroy(s);
	return;
    }
    if ((s = script_by_pid(pid, script_list)) == NULL)
	return;

    requested = s->runner.stopping && !s->over_limit;
    runner_exited(&s->runner, wstatus, &script_ops, s);
    runner_describe_exit(wstatus, s->last_exit, sizeof(s->last_exit));
    if (s->over_limit)
	pmsprintf(s->last_exit, sizeof(s->last_exit), "stopped: output over max_throughput");
    s->exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) :
		   WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus) : -1;

    if (s->over_limit) {
	s->status = SCRIPT_ERROR;
    } else if (requested) {
	s->status = SCRIPT_STOPPED;
    } else if (s->exit_code == 0) {
	s->status = SCRIPT_STOPPED;
    } else {
	s->status = SCRIPT_ERROR;
	if (s->errlen == 0)
	    script_set_error(s, "bpftrace %s", s->last_exit);
    }
    if (s->status == SCRIPT_ERROR)
	pmNotifyErr(LOG_INFO, "script: stopped %s due to error: %s",
			script_describe(s, desc, sizeof(desc)), script_error(s));
    else
	pmNotifyErr(LOG_INFO, "script: stopped %s", script_describe(s, desc, sizeof(desc)));

    /*
     * control.start came while bpftrace was still stopping (script_start
     * could only note the wish then): start the new run now.
     */
    if (requested && s->want_running) {
	script_start(s);
	return;
    }
    /* drop-in scripts run for as long as their file is there */
    if (s->path && s->want_running && !requested) {
	s->restarts++;
	script_schedule_restart(s, "exited");
    }
}

void
script_flush(script_t *s)
{
    parse_flush(&s->pt);
}

void
script_flush_all(void)
{
    script_t	*s;

    for (s = script_list; s; s = s->next)
	parse_flush(&s->pt);
}

void
script_touch(script_t *s)
{
    s->last_access = script_now();
    s->last_accessed_at = script_wallclock();
}

int
script_housekeeping(double now)
{
    script_t	*s, *next;
    double	next_due = 1.0, d;
    char	desc[256];

    for (s = script_list; s; s = next) {
	next = s->next;
	if (!s->persistent && script_cfg->script_expiry_time > 0 &&
	    now - s->last_access > script_cfg->script_expiry_time) {
	    pmNotifyErr(LOG_INFO, "script: deregistering %s (wasn't requested in the last %d seconds)",
			    script_describe(s, desc, sizeof(desc)), script_cfg->script_expiry_time);
	    script_remove(s);
	    continue;
	}
	if (s->restart_at > 0) {
	    if (now >= s->restart_at) {
		s->restart_at = 0;
		script_start(s);
	    } else if (s->restart_at - now < next_due) {
		next_due = s->restart_at - now;
	    }
	}
	/* a run that lasted a while earns a fresh backoff (tp_start moves) */
	if (s->status == SCRIPT_STARTED && s->backoff > 1 &&
	    now - s->run_start > script_cfg->restart_max_backoff)
	    s->backoff = 1;
	if ((d = runner_timers(&s->runner, now)) >= 0 && d < next_due)
	    next_due = d;
    }
    for (s = script_dying; s; s = s->next)
	if ((d = runner_timers(&s->runner, now)) >= 0 && d < next_due)
	    next_due = d;
    /* places freed since: by an attach, an exit, or SCRIPT_START_SLOT_SECS (within next_due <= 1 s) */
    script_start_queued(now);
    return (int)ceil(next_due * 1000);
}

void
script_shutdown(void)
{
    script_t	*s, *next;
    int		status;

    for (s = script_list; s; s = s->next)
	runner_kill(&s->runner);
    for (s = script_dying; s; s = s->next)
	runner_kill(&s->runner);
    for (s = script_list; s; s = next) {
	next = s->next;
	if (s->runner.pid > 0)
	    waitpid(s->runner.pid, &status, 0);	/* SIGKILLed: immediate */
	s->runner.pid = -1;
	script_destroy(s);
    }
    for (s = script_dying; s; s = next) {
	next = s->next;
	if (s->runner.pid > 0)
	    waitpid(s->runner.pid, &status, 0);
	s->runner.pid = -1;
	script_destroy(s);
    }
    script_list = script_dying = NULL;
    script_nlist = script_ndying = 0;
    script_gen++;
}
