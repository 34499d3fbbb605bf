/*
 * namespace: dynamic PMNS, PMIDs, help text and labels - see namespace.h.
 *
 * The tree, the metric table and the instance domain table are rebuilt as
 * a whole when the registry changes (libpcp_pmda has no delete, and
 * pmdaTreeRebuildHash must not be run twice on one tree).
 *
 * The saved map, one line per named script:
 *	CLUSTER NAME LASTUSED VAR=ITEM:TYPE:SEM:KEYED ...
 * and the cluster a new name gets next:
 *	next CLUSTER
 * Scripts named by a random id are not saved: their names never recur.
 *
 * A PMID never names two different metrics if it can be helped: pmlogger
 * writes a PMID's descriptor once per archive and logs later values under
 * it, and clients (pmproxy's contexts among them) cache what a PMID is.
 * So a new name takes the next free cluster after the last one given, in
 * turn through all 3,996 of them (and across restarts: "next" is saved),
 * and a variable whose type, semantics or keyed-ness changed under the
 * same name gets a new item.  A cluster comes round again only when every
 * other has been given since.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pcp/pmapi.h>
#include <pcp/pmda.h>
#include "namespace.h"
#include "script.h"

static const pmUnits ns_none = PMDA_PMUNITS(0, 0, 0, 0, 0, 0);
static const pmUnits ns_bytes = PMDA_PMUNITS(1, 0, 0, PM_SPACE_BYTE, 0, 0);
static const pmUnits ns_count = PMDA_PMUNITS(0, 0, 1, 0, 0, PM_COUNT_ONE);

typedef struct ns_catalogue {
    const char	*name;		/* below "bpftrace." or "bpftrace.scripts.NAME." */
    int		cluster;	/* -1 for per-script metrics */
    int		item;
    int		type;
    int		sem;
    const pmUnits *units;
    const char	*oneline;
    const char	*help;
} ns_catalogue_t;

/* the agent's own metrics */
static const ns_catalogue_t ns_global[] = {
/* bpftrace.control.register */
    { "control.register", NS_CLUSTER_CONTROL, NS_CONTROL_REGISTER, PM_TYPE_STRING, PM_SEM_INSTANT, &ns_none,
      "register a new bpftrace script",
      "Store bpftrace script text here to run it (needs [dynamic_scripts] enabled).\n"
      "A fetch in the same context then returns the new script as JSON once\n"
      "(script_id, metadata, variables, state), and {} after that." },
/* bpftrace.control.deregister */
    { "control.deregister", NS_CLUSTER_CONTROL, NS_CONTROL_DEREGISTER, PM_TYPE_STRING, PM_SEM_INSTANT, &ns_none,
      "deregister a bpftrace script",
      "Store a script id or name, or a comma separated list of them, to stop the\n"
      "scripts and remove their metrics.  A fetch in the same context returns\n"
      "{\"success\": \"true\"} or {\"error\": \"...\"}." },
/* bpftrace.control.start */
    { "control.start", NS_CLUSTER_CONTROL, NS_CONTROL_START, PM_TYPE_STRING, PM_SEM_INSTANT, &ns_none,
      "start a stopped bpftrace script",
      "Store a script id or name to start it again after bpftrace.control.stop." },
/* bpftrace.control.stop */
    { "control.stop", NS_CLUSTER_CONTROL, NS_CONTROL_STOP, PM_TYPE_STRING, PM_SEM_INSTANT, &ns_none,
      "stop a running bpftrace script",
      "Store a script id or name to stop its bpftrace process; its metrics stay." },
/* bpftrace.info.scripts */
    { "info.scripts", NS_CLUSTER_INFO, NS_INFO_SCRIPTS, PM_TYPE_STRING, PM_SEM_INSTANT, &ns_none,
      "list all registered bpftrace scripts",
      "One instance per script, named by the script's metric name; the value\n"
      "is the script's code." },
/* bpftrace.info.scripts_json */
    { "info.scripts_json", NS_CLUSTER_INFO, NS_INFO_SCRIPTS_JSON, PM_TYPE_STRING, PM_SEM_INSTANT, &ns_none,
      "expose all scripts in JSON format",
      "A JSON array with one object per script (as bpftrace.control.register\n"
      "answers), always valid JSON, [] when there are no scripts." },
/* bpftrace.info.tracepoints */
    { "info.tracepoints", NS_CLUSTER_INFO, NS_INFO_TRACEPOINTS, PM_TYPE_STRING, PM_SEM_INSTANT, &ns_none,
      "list all available tracepoints",
      "Comma separated list of the probes bpftrace -l reports when the agent\n"
      "starts.  The agent tells pmcd it is ready once the list is in, or after\n"
      "10 s if bpftrace -l takes longer (the list is empty until it is in)." },
};

/* the state metrics of every script, bpftrace.scripts.NAME.* */
static const ns_catalogue_t ns_per_script[] = {
    { "status", -1, NS_SCRIPT_STATUS, PM_TYPE_STRING, PM_SEM_INSTANT, &ns_none,
      "status of bpftrace script",
      "stopped, starting (waiting for its turn under max_starting, or bpftrace\n"
      "compiles and attaches), started, stopping or error (see\n"
      "bpftrace.scripts.NAME.error)." },
    { "pid", -1, NS_SCRIPT_PID, PM_TYPE_U32, PM_SEM_INSTANT, &ns_none,
      "pid of bpftrace process",
      "Process id of the script's newest bpftrace process; 0 while the script\n"
      "waits for its turn to start (max_starting in bpftrace.conf)." },
    { "exit_code", -1, NS_SCRIPT_EXIT_CODE, PM_TYPE_32, PM_SEM_INSTANT, &ns_none,
      "exit code of bpftrace process",
      "Exit code of the last bpftrace process, 128+N when killed by signal N." },
    { "error", -1, NS_SCRIPT_ERROR, PM_TYPE_STRING, PM_SEM_INSTANT, &ns_none,
      "errors of the bpftrace script",
      "bpftrace's error messages, or why the agent refused or stopped the script.\n"
      "Warnings are not errors and are not shown here." },
    { "probes", -1, NS_SCRIPT_PROBES, PM_TYPE_U32, PM_SEM_INSTANT, &ns_none,
      "number of attached probes",
      "Number of probes bpftrace attached." },
    { "code", -1, NS_SCRIPT_CODE, PM_TYPE_STRING, PM_SEM_INSTANT, &ns_none,
      "bpftrace script",
      "The script's text, as given (without the print block the agent appends)." },
    { "data_bytes", -1, NS_SCRIPT_DATA_BYTES, PM_TYPE_U32, PM_SEM_COUNTER, &ns_bytes,
      "count of bytes read from bpftrace script",
      "Bytes of JSON output read from bpftrace since the script last started." },
    { "restarts", -1, NS_SCRIPT_RESTARTS, PM_TYPE_U32, PM_SEM_COUNTER, &ns_count,
      "restarts of a drop-in script after its bpftrace exited",
      "Drop-in scripts are restarted with exponential backoff (up to\n"
      "restart_max_backoff seconds) when bpftrace exits or is killed, and\n"
      "when it could not be started (the agent was short of descriptors,\n"
      "processes or memory)." },
    { "last_exit", -1, NS_SCRIPT_LAST_EXIT, PM_TYPE_STRING, PM_SEM_INSTANT, &ns_none,
      "how the last bpftrace process ended",
      "\"exit code N\", \"killed by signal N (NAME)\", why the agent stopped it,\n"
      "or \"not started: REASON\" when it could not be started; empty while\n"
      "the first process runs." },
    { "dropped_keys", -1, NS_SCRIPT_DROPPED_KEYS, PM_TYPE_U64, PM_SEM_COUNTER, &ns_count,
      "map keys dropped because a variable reached max_instances",
      "New keys beyond the per-variable instance limit (max_instances) are not\n"
      "exported; this counts them, for all variables of the script.  The limit\n"
      "counts every key a variable has had: when at most half of it are still\n"
      "live, the next print gives the variable's keys new instance ids, above\n"
      "all the old ones, and they are exported again." },
    { "parse_errors", -1, NS_SCRIPT_PARSE_ERRORS, PM_TYPE_U64, PM_SEM_COUNTER, &ns_count,
      "bpftrace output lines that could not be parsed",
      "Lines of bpftrace output that were not valid JSON or were longer than\n"
      "max_line; they are skipped." },
    { "lost_events", -1, NS_SCRIPT_LOST_EVENTS, PM_TYPE_U64, PM_SEM_COUNTER, &ns_count,
      "events bpftrace reported lost",
      "Sum of bpftrace's lost_events records." },
    { "runtime_errors", -1, NS_SCRIPT_RUNTIME_ERRORS, PM_TYPE_U64, PM_SEM_COUNTER, &ns_count,
      "runtime errors bpftrace reported",
      "helper_error, runtime_error and errorf records from bpftrace." },
};

#define NS_NGLOBAL	(int)(sizeof(ns_global) / sizeof(ns_global[0]))
#define NS_NPERSCRIPT	(int)(sizeof(ns_per_script) / sizeof(ns_per_script[0]))

/* one saved name -> cluster assignment */
typedef struct ns_varitem {
    char	*var;
    int		item;
    int		type;		/* the variable's descriptor: PM_TYPE_*, -1 unknown */
    int		sem;		/* PM_SEM_* */
    int		keyed;		/* has an instance domain */
} ns_varitem_t;

typedef struct ns_entry {
    char	*name;
    time_t	used;
    int		saved;		/* kept in the map file */
    ns_varitem_t *vars;
    int		nvars;
} ns_entry_t;

static ns_entry_t	*ns_map[NS_CLUSTER_MAX + 1];	/* by cluster */
static script_t		*ns_owner[NS_CLUSTER_MAX + 1];	/* live script per cluster */
static int		ns_next = NS_CLUSTER_FIRST_SCRIPT;	/* where a new name's search starts */
static char		*ns_mapfile;
static int		ns_domain;
static unsigned		ns_gen;

static pmdaNameSpace	*ns_tree;
static pmdaMetric	*ns_table;
static int		ns_ntable;
static pmdaIndom	*ns_indomtab;
static int		ns_nindoms;
static pmdaInstid	*ns_script_insts;
static variable_t	**ns_indom_vars;	/* variable behind each ns_indomtab[i], i > 0 */

/* ---- the saved map ---- */

static void
ns_entry_free(ns_entry_t *e)
{
    int		i;

    if (e == NULL)
	return;
    for (i = 0; i < e->nvars; i++)
	free(e->vars[i].var);
    free(e->vars);
    free(e->name);
    free(e);
}

/*
 * The item of variable v under this name: one given to a variable of the
 * same name and descriptor (one saved without its descriptor, by an older
 * agent, is taken as it is, and learns v's).  -1 for none.
 */
static int
ns_entry_item(ns_entry_t *e, const variable_t *v, int *dirty)
{
    ns_varitem_t *p;
    int		i;

    for (i = 0; i < e->nvars; i++) {
	p = &e->vars[i];
	if (strcmp(p->var, v->name) != 0)
	    continue;
	if (p->type < 0) {
	    p->type = v->type;
	    p->sem = v->sem;
	    p->keyed = !v->single;
	    if (e->saved)
		*dirty = 1;
	}
	if (p->type == v->type && p->sem == v->sem && p->keyed == !v->single)
	    return p->item;
    }
    return -1;
}

/* type -1: the descriptor is not known (a map line of an older agent) */
static int
ns_entry_add_item(ns_entry_t *e, const char *var, int item, int type, int sem, int keyed)
{
    ns_varitem_t *p;

    if ((p = realloc(e->vars, (e->nvars + 1) * sizeof(*p))) == NULL)
	return -ENOMEM;
    e->vars = p;
    p += e->nvars;
    if ((p->var = strdup(var)) == NULL)
	return -ENOMEM;
    p->item = item;
    p->type = type;
    p->sem = sem;
    p->keyed = keyed;
    e->nvars++;
    return 0;
}

static void
ns_load(void)
{
    FILE	*f;
    char	*tok, *save, *eq;
    int		lineno = 0, cluster, item, type, sem, keyed, n;
    ns_entry_t	*e;
    char	*line = NULL;
    size_t	size = 0;

    if (ns_mapfile == NULL || (f = fopen(ns_mapfile, "r")) == NULL)
	return;
    /* getline: a script with hundreds of variables makes a long line */
    while (getline(&line, &size, f) > 0) {
	lineno++;
	if (line[0] == '#' || line[0] == '\n')
	    continue;
	if ((tok = strtok_r(line, " \t\n", &save)) == NULL)
	    continue;
	if (strcmp(tok, "next") == 0) {
	    if ((tok = strtok_r(NULL, " \t\n", &save)) != NULL &&
		(cluster = atoi(tok)) >= NS_CLUSTER_FIRST_SCRIPT && cluster <= NS_CLUSTER_MAX)
		ns_next = cluster;
	    else
		pmNotifyErr(LOG_WARNING, "%s:%d: bad next cluster, line ignored", ns_mapfile, lineno);
	    continue;
	}
	cluster = atoi(tok);
	if (cluster < NS_CLUSTER_FIRST_SCRIPT || cluster > NS_CLUSTER_MAX || ns_map[cluster]) {
	    pmNotifyErr(LOG_WARNING, "%s:%d: bad cluster, line ignored", ns_mapfile, lineno);
	    continue;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
	    break;
	if ((tok = strtok_r(NULL, " \t\n", &save)) == NULL || (e->name = strdup(tok)) == NULL) {
	    ns_entry_free(e);
	    continue;
	}
	if ((tok = strtok_r(NULL, " \t\n", &save)) != NULL)
	    e->used = (time_t)strtoll(tok, NULL, 10);
	while ((tok = strtok_r(NULL, " \t\n", &save)) != NULL) {
	    if ((eq = strchr(tok, '=')) == NULL)
		continue;
	    *eq = '\0';
	    /* ITEM:TYPE:SEM:KEYED, or ITEM alone from an older agent */
	    n = sscanf(eq + 1, "%d:%d:%d:%d", &item, &type, &sem, &keyed);
	    if (n != 4)
		type = sem = keyed = -1;
	    if (n >= 1 && item >= NS_SCRIPT_FIRST_VAR && item <= NS_SCRIPT_MAX_VAR)
		ns_entry_add_item(e, tok, item, type, sem, keyed);
	    else
		pmNotifyErr(LOG_WARNING, "%s:%d: bad item \"%s=%s\" ignored", ns_mapfile, lineno, tok, eq + 1);
	}
	e->saved = 1;
	ns_map[cluster] = e;
    }
    free(line);
    fclose(f);
}

static void
ns_save(void)
{
    FILE	*f;
    char	tmp[MAXPATHLEN];
    int		c, i;

    if (ns_mapfile == NULL)
	return;
    pmsprintf(tmp, sizeof(tmp), "%s.tmp", ns_mapfile);
    if ((f = fopen(tmp, "w")) == NULL) {
	pmNotifyErr(LOG_WARNING, "cannot save %s: %s", tmp, pmErrStr(-oserror()));
	return;
    }
    fprintf(f, "# pmdabpftrace: script name -> PMID cluster, variable -> item:type:sem:keyed.\n"
	       "# Keeps metric identifiers stable across agent restarts.\n"
	       "next %d\n", ns_next);
    for (c = NS_CLUSTER_FIRST_SCRIPT; c <= NS_CLUSTER_MAX; c++) {
	ns_entry_t *e = ns_map[c];
	if (e == NULL || !e->saved)
	    continue;
	fprintf(f, "%d %s %lld", c, e->name, (long long)e->used);
	for (i = 0; i < e->nvars; i++) {
	    const ns_varitem_t *p = &e->vars[i];

	    if (p->type < 0)
		fprintf(f, " %s=%d", p->var, p->item);
	    else
		fprintf(f, " %s=%d:%d:%d:%d", p->var, p->item, p->type, p->sem, p->keyed);
	}
	fputc('\n', f);
    }
    if (fclose(f) != 0 || rename(tmp, ns_mapfile) < 0)
	pmNotifyErr(LOG_WARNING, "cannot save %s: %s", ns_mapfile, pmErrStr(-oserror()));
}

#define NS_NCLUSTERS	(NS_CLUSTER_MAX - NS_CLUSTER_FIRST_SCRIPT + 1)

/*
 * A cluster for this script: its saved one; else the first free one from
 * ns_next on, round the whole space; else the least recently used.
 */
static int
ns_pick_cluster(const script_t *s)
{
    int		c, k, best = -1;

    for (c = NS_CLUSTER_FIRST_SCRIPT; c <= NS_CLUSTER_MAX; c++)
	if (ns_map[c] && strcmp(ns_map[c]->name, s->name) == 0 && ns_owner[c] == NULL)
	    return c;
    for (k = 0; k < NS_NCLUSTERS; k++) {
	c = NS_CLUSTER_FIRST_SCRIPT + (ns_next - NS_CLUSTER_FIRST_SCRIPT + k) % NS_NCLUSTERS;
	if (ns_map[c] == NULL && ns_owner[c] == NULL)
	    return c;
    }
    for (c = NS_CLUSTER_FIRST_SCRIPT; c <= NS_CLUSTER_MAX; c++)
	if (ns_owner[c] == NULL && (best < 0 || ns_map[c]->used < ns_map[best]->used))
	    best = c;
    return best;
}

/* give s a cluster and each variable an item and instance domain */
static int
ns_assign(script_t *s, int *dirty)
{
    ns_entry_t	*e;
    int		c, i, item, sts;

    if ((c = ns_pick_cluster(s)) < 0) {
	pmNotifyErr(LOG_ERR, "no free PMID cluster for script %s", s->name);
	return -ENOSPC;
    }
    if ((e = ns_map[c]) != NULL && strcmp(e->name, s->name) != 0) {
	if (e->saved)
	    *dirty = 1;
	ns_entry_free(e);
	e = ns_map[c] = NULL;
    }
    if (e == NULL) {
	/* a cluster for a new name: the next new name looks beyond it */
	ns_next = c == NS_CLUSTER_MAX ? NS_CLUSTER_FIRST_SCRIPT : c + 1;
	*dirty = 1;
	if ((e = calloc(1, sizeof(*e))) == NULL || (e->name = strdup(s->name)) == NULL) {
	    ns_entry_free(e);
	    return -ENOMEM;
	}
	ns_map[c] = e;
    }
    e->used = time(NULL);
    if (s->persistent && !e->saved) {
	e->saved = 1;
	*dirty = 1;
    }
    for (i = 0; i < s->pt.nvars; i++) {
	variable_t *v = &s->pt.vars[i];

	if ((item = ns_entry_item(e, v, dirty)) < 0) {
	    /* the lowest item no variable of this script ever had */
	    for (item = NS_SCRIPT_FIRST_VAR; item <= NS_SCRIPT_MAX_VAR; item++) {
		int j, used = 0;
		for (j = 0; j < e->nvars && !used; j++)
		    used = (e->vars[j].item == item);
		if (!used)
		    break;
	    }
	    if (item > NS_SCRIPT_MAX_VAR)
		return -ENOSPC;
	    if ((sts = ns_entry_add_item(e, v->name, item, v->type, v->sem, !v->single)) < 0)
		return sts;
	    if (e->saved)
		*dirty = 1;
	}
	v->item = item;
	v->indom = v->single ? PM_INDOM_NULL : pmInDom_build(ns_domain, c * 1000 + item);
    }
    s->cluster = c;
    ns_owner[c] = s;
    return 0;
}

/* ---- building the tables ---- */

static void
ns_fill(pmdaMetric *m, void *user, pmID pmid, int type, pmInDom indom, int sem, const pmUnits *units)
{
    m->m_user = user;
    m->m_desc.pmid = pmid;
    m->m_desc.type = type;
    m->m_desc.indom = indom;
    m->m_desc.sem = sem;
    m->m_desc.units = *units;
}

static int
ns_insert(pmdaNameSpace *tree, pmID pmid, const char *fmt, ...) __PM_PRINTFLIKE(3,4);

static int
ns_insert(pmdaNameSpace *tree, pmID pmid, const char *fmt, ...)
{
    char	name[512];
    va_list	ap;
    int		sts;

    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    /* names are unique by construction (the tokenizer refuses @ with @root): say so if not */
    if ((sts = pmdaTreeInsert(tree, pmid, name)) < 0)
	pmNotifyErr(LOG_ERR, "namespace: cannot add %s (%s): %s",
		    name, pmIDStr(pmid), pmErrStr(sts));
    return sts;
}

static int
ns_build(pmdaExt *pmda)
{
    pmdaNameSpace *tree = NULL;
    pmdaMetric	*table;
    pmdaIndom	*indoms;
    pmdaInstid	*insts;
    variable_t	**ivars;
    script_t	*s;
    int		n = NS_NGLOBAL, ni = 1, ns = 0, i, j, k = 0, ki = 1, dirty = 0, sts;

    /* clusters: keep those in use, assign the new scripts */
    memset(ns_owner, 0, sizeof(ns_owner));
    for (s = script_first(); s; s = s->next)
	if (s->cluster >= 0)
	    ns_owner[s->cluster] = s;
    /* clusters of gone unnamed scripts are free again at once */
    for (i = NS_CLUSTER_FIRST_SCRIPT; i <= NS_CLUSTER_MAX; i++)
	if (ns_map[i] && !ns_map[i]->saved && ns_owner[i] == NULL) {
	    ns_entry_free(ns_map[i]);
	    ns_map[i] = NULL;
	}
    for (s = script_first(); s; s = s->next) {
	if (s->cluster < 0 && (sts = ns_assign(s, &dirty)) < 0)
	    pmNotifyErr(LOG_ERR, "script %s has no metrics: %s", s->name, pmErrStr(sts));
	if (s->cluster < 0)
	    continue;
	ns++;
	n += NS_NPERSCRIPT + s->pt.nvars;
	for (i = 0; i < s->pt.nvars; i++)
	    if (!s->pt.vars[i].single)
		ni++;
    }
    if (dirty)
	ns_save();

    table = calloc(n, sizeof(*table));
    indoms = calloc(ni, sizeof(*indoms));
    insts = calloc(ns ? ns : 1, sizeof(*insts));
    ivars = calloc(ni, sizeof(*ivars));
    if (table == NULL || indoms == NULL || insts == NULL || ivars == NULL ||
	(sts = pmdaTreeCreate(&tree)) < 0) {
	free(table); free(indoms); free(insts); free(ivars);
	return -ENOMEM;
    }

    for (i = 0; i < NS_NGLOBAL; i++, k++) {
	const ns_catalogue_t *c = &ns_global[i];
	pmID pmid = pmID_build(ns_domain, c->cluster, c->item);
	pmInDom indom = (c->cluster == NS_CLUSTER_INFO && c->item == NS_INFO_SCRIPTS) ?
			pmInDom_build(ns_domain, NS_INDOM_SCRIPTS) : PM_INDOM_NULL;
	ns_fill(&table[k], NULL, pmid, c->type, indom, c->sem, c->units);
	ns_insert(tree, pmid, "bpftrace.%s", c->name);
    }
    indoms[0].it_indom = pmInDom_build(ns_domain, NS_INDOM_SCRIPTS);
    indoms[0].it_set = insts;
    ns = 0;
    for (s = script_first(); s; s = s->next) {
	if (s->cluster < 0)
	    continue;
	insts[ns].i_inst = s->cluster;
	insts[ns++].i_name = s->name;
	for (i = 0; i < NS_NPERSCRIPT; i++, k++) {
	    const ns_catalogue_t *c = &ns_per_script[i];
	    pmID pmid = pmID_build(ns_domain, s->cluster, c->item);
	    ns_fill(&table[k], s, pmid, c->type, PM_INDOM_NULL, c->sem, c->units);
	    ns_insert(tree, pmid, "bpftrace.scripts.%s.%s", s->name, c->name);
	}
	for (j = 0; j < s->pt.nvars; j++, k++) {
	    variable_t *v = &s->pt.vars[j];
	    pmID pmid = pmID_build(ns_domain, s->cluster, v->item);
	    ns_fill(&table[k], v, pmid, v->type, v->indom, v->sem, &ns_none);
	    ns_insert(tree, pmid, "bpftrace.scripts.%s.data.%s", s->name, v->metric);
	    if (!v->single) {
		indoms[ki].it_indom = v->indom;
		ivars[ki++] = v;
	    }
	}
    }
    indoms[0].it_numinst = ns;
    pmdaTreeRebuildHash(tree, k);

    pmda->e_indoms = indoms;
    pmda->e_nindoms = ki;
    /*
     * Not pmdaRehash(): in libpcp 6.0.x its hash never forgets how many
     * nodes it held (__pmHashClear leaves the count), so every rebuild
     * grows the bucket array by about 2 bytes per metric, without bound
     * as scripts come and go (fixed upstream after 6.0.3, commit
     * 737a18aca2).  libpcp_pmda looks PMIDs up by a linear scan instead;
     * data fetches of keyed variables do not look at this table at all
     * (fetch.c), and a scan of a thousand metrics takes about a
     * microsecond.
     */
    pmda->e_metrics = table;
    pmda->e_nmetrics = k;
    pmda->e_direct = 0;
    pmda->e_flags &= ~PMDA_EXT_FLAG_HASHED;

    if (ns_tree)
	pmdaTreeRelease(ns_tree);
    free(ns_table);
    free(ns_indomtab);
    free(ns_script_insts);
    free(ns_indom_vars);
    ns_tree = tree;
    ns_table = table;
    ns_ntable = k;
    ns_indomtab = indoms;
    ns_nindoms = ki;
    ns_script_insts = insts;
    ns_indom_vars = ivars;
    ns_refresh_indoms(pmda);
    return 0;
}

void
ns_refresh_indoms(pmdaExt *pmda)
{
    int		i;

    for (i = 1; i < ns_nindoms; i++) {
	ns_indomtab[i].it_numinst = ns_indom_vars[i]->nset;
	ns_indomtab[i].it_set = ns_indom_vars[i]->set;
    }
}

int
ns_init(pmdaInterface *dp, const char *mapfile)
{
    ns_domain = dp->domain;
    if (mapfile && (ns_mapfile = strdup(mapfile)) == NULL)
	return -ENOMEM;
    ns_load();
    return 0;
}

pmdaMetric *
ns_metrics(int *n)
{
    static pmdaMetric	table[NS_NGLOBAL];
    int			i;

    for (i = 0; i < NS_NGLOBAL; i++) {
	const ns_catalogue_t *c = &ns_global[i];
	pmInDom indom = (c->cluster == NS_CLUSTER_INFO && c->item == NS_INFO_SCRIPTS) ?
			pmInDom_build(ns_domain, NS_INDOM_SCRIPTS) : PM_INDOM_NULL;
	ns_fill(&table[i], NULL, pmID_build(ns_domain, c->cluster, c->item),
		c->type, indom, c->sem, c->units);
    }
    *n = NS_NGLOBAL;
    return table;
}

pmdaIndom *
ns_indoms(int *n)
{
    static pmdaIndom	indoms[1];

    indoms[0].it_indom = pmInDom_build(ns_domain, NS_INDOM_SCRIPTS);
    *n = 1;
    return indoms;
}

int
ns_sync(pmdaExt *pmda)
{
    int		sts;

    if (ns_tree && ns_gen == script_generation()) {
	ns_refresh_indoms(pmda);
	return 0;
    }
    if ((sts = ns_build(pmda)) < 0) {
	pmNotifyErr(LOG_ERR, "namespace rebuild failed: %s", pmErrStr(sts));
	return 0;
    }
    ns_gen = script_generation();
    return 1;
}

script_t *
ns_script(unsigned int cluster)
{
    return cluster <= NS_CLUSTER_MAX ? ns_owner[cluster] : NULL;
}

/* ---- PMNS callbacks ---- */

int
ns_pmid(const char *name, pmID *pmid, pmdaExt *pmda)
{
    ns_sync(pmda);
    return pmdaTreePMID(ns_tree, name, pmid);
}

int
ns_name(pmID pmid, char ***nameset, pmdaExt *pmda)
{
    ns_sync(pmda);
    return pmdaTreeName(ns_tree, pmid, nameset);
}

int
ns_children(const char *name, int traverse, char ***kids, int **sts, pmdaExt *pmda)
{
    ns_sync(pmda);
    return pmdaTreeChildren(ns_tree, name, traverse, kids, sts);
}

/* ---- help text and labels ---- */

static const ns_catalogue_t *
ns_catalogue(pmID pmid)
{
    unsigned	cluster = pmID_cluster(pmid), item = pmID_item(pmid);
    int		i;

    if (cluster < NS_CLUSTER_FIRST_SCRIPT) {
	for (i = 0; i < NS_NGLOBAL; i++)
	    if (ns_global[i].cluster == (int)cluster && ns_global[i].item == (int)item)
		return &ns_global[i];
	return NULL;
    }
    for (i = 0; i < NS_NPERSCRIPT; i++)
	if (ns_per_script[i].item == (int)item)
	    return &ns_per_script[i];
    return NULL;
}

variable_t *
ns_variable(pmID pmid)
{
    script_t	*s = ns_script(pmID_cluster(pmid));
    int		i;

    if (s == NULL)
	return NULL;
    for (i = 0; i < s->pt.nvars; i++)
	if (s->pt.vars[i].item == (int)pmID_item(pmid))
	    return &s->pt.vars[i];
    return NULL;
}

static const char *
ns_var_kind(const variable_t *v)
{
    switch (v->func) {
    case VAR_FUNC_COUNT:	return v->keyed ? "count() map, one instance per key" : "count()";
    case VAR_FUNC_SUM:		return v->keyed ? "sum() map, one instance per key" : "sum()";
    case VAR_FUNC_MIN:		return v->keyed ? "min() map, one instance per key" : "min()";
    case VAR_FUNC_MAX:		return v->keyed ? "max() map, one instance per key" : "max()";
    case VAR_FUNC_AVG:		return v->keyed ? "avg() map, one instance per key" : "avg()";
    case VAR_FUNC_STATS:	return v->keyed ? "stats() map, instances KEY:count, KEY:average, KEY:total" :
					"stats(), instances count, average and total";
    case VAR_FUNC_HIST:
    case VAR_FUNC_LHIST:	return v->keyed ? "histogram map, one instance per key and bucket, named KEY:MIN-MAX" :
					"histogram, one instance per bucket, named MIN-MAX (-inf and inf for open bounds)";
    case VAR_FUNC_OUTPUT:	return "text printed by printf(), time(), cat(), join() and system() (bounded)";
    default:			return v->keyed ? "map, one instance per key" : "value";
    }
}

int
ns_text(int ident, int type, char **buffer, pmdaExt *pmda)
{
    static char			buf[1024];
    const ns_catalogue_t	*c;
    variable_t			*v;

    ns_sync(pmda);
    /*
     * Text only for what exists now: a client holding a PMID or an indom
     * from before (pmlogger, pmproxy) must not be told of a metric gone.
     */
    if (type & PM_TEXT_INDOM) {
	unsigned int	serial = pmInDom_serial((pmInDom)ident);

	if (serial == NS_INDOM_SCRIPTS)
	    pmsprintf(buf, sizeof(buf), "%s", (type & PM_TEXT_ONELINE) ?
		"bpftrace scripts" : "One instance per registered or drop-in bpftrace script.");
	else if ((v = ns_variable(pmID_build(ns_domain, serial / 1000, serial % 1000))) != NULL &&
		 v->indom == (pmInDom)ident)
	    pmsprintf(buf, sizeof(buf), "%s", (type & PM_TEXT_ONELINE) ?
		"keys of a bpftrace map" : "One instance per key (or histogram bucket) of a bpftrace map.");
	else
	    return PM_ERR_TEXT;
	*buffer = buf;
	return 0;
    }
    if (pmID_cluster((pmID)ident) >= NS_CLUSTER_FIRST_SCRIPT &&
	ns_script(pmID_cluster((pmID)ident)) == NULL)
	return PM_ERR_TEXT;
    if ((v = ns_variable((pmID)ident)) != NULL) {
	if (type & PM_TEXT_ONELINE)
	    pmsprintf(buf, sizeof(buf), "%s variable of bpftrace script", v->name);
	else
	    pmsprintf(buf, sizeof(buf), "%s variable of bpftrace script: %s.", v->name, ns_var_kind(v));
	*buffer = buf;
	return 0;
    }
    if ((c = ns_catalogue((pmID)ident)) == NULL)
	return PM_ERR_TEXT;
    *buffer = (char *)((type & PM_TEXT_ONELINE) ? c->oneline : c->help);
    return 0;
}

int
ns_label(int ident, int type, pmLabelSet **lpp, pmdaExt *pmda)
{
    static const char *mt[] = { NULL, "histogram", "stacks", "output" };
    variable_t	*v;
    unsigned	cluster, item;

    ns_sync(pmda);
    if (type == PM_LABEL_CLUSTER) {
	if (pmID_cluster((pmID)ident) == NS_CLUSTER_INFO)
	    pmdaAddLabels(lpp, "{\"metrictype\":\"control\"}");
    } else if (type == PM_LABEL_ITEM) {
	cluster = pmID_cluster((pmID)ident);
	item = pmID_item((pmID)ident);
	if (cluster >= NS_CLUSTER_FIRST_SCRIPT) {
	    if (item <= NS_SCRIPT_CODE)
		pmdaAddLabels(lpp, "{\"metrictype\":\"control\"}");
	    else if ((v = ns_variable((pmID)ident)) != NULL && v->metrictype != VAR_MT_NONE)
		pmdaAddLabels(lpp, "{\"metrictype\":\"%s\"}", mt[v->metrictype]);
	}
    }
    return pmdaLabel(ident, type, lpp, pmda);
}

void
ns_free(void)
{
    int		c;

    if (ns_tree)
	pmdaTreeRelease(ns_tree);
    ns_tree = NULL;
    free(ns_table);
    free(ns_indomtab);
    free(ns_script_insts);
    free(ns_indom_vars);
    ns_table = NULL;
    ns_indomtab = NULL;
    ns_script_insts = NULL;
    ns_indom_vars = NULL;
    for (c = 0; c <= NS_CLUSTER_MAX; c++) {
	ns_entry_free(ns_map[c]);
	ns_map[c] = NULL;
    }
    free(ns_mapfile);
    ns_mapfile = NULL;
    ns_next = NS_CLUSTER_FIRST_SCRIPT;
}
