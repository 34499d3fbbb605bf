/*
 * control: pmstore API, per-context answers, authorisation, drop-in
 * events and the JSON form of scripts - see control.h.
 *
 * Wording of answers and log lines follows PCP's Python agent where
 * PCP's QA tests and grafana-pcp look for it.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include <pcp/pmapi.h>
#include <pcp/pmda.h>
#include "control.h"
#include "namespace.h"
#include "script.h"
#include "utf8.h"

#define CONTROL_NITEMS	4	/* register, deregister, start, stop */

typedef struct control_ctx {
    int		active;
    char	*username;
    char	*answer[CONTROL_NITEMS];
} control_ctx_t;

static const config_t	*control_cfg;
static control_ctx_t	*control_ctxs;
static int		control_nctxs;
static char		*control_json;		/* last scripts_json answer */

void
control_init(const config_t *cfg)
{
    control_cfg = cfg;
}

static control_ctx_t *
control_ctx(int ctx)
{
    control_ctx_t	*p;

    if (ctx < 0)
	return NULL;
    if (ctx >= control_nctxs) {
	int n = ctx + 16;
	if ((p = realloc(control_ctxs, n * sizeof(*p))) == NULL)
	    return NULL;
	memset(p + control_nctxs, 0, (n - control_nctxs) * sizeof(*p));
	control_ctxs = p;
	control_nctxs = n;
    }
    control_ctxs[ctx].active = 1;
    return &control_ctxs[ctx];
}

static void
control_set_answer(int ctx, int item, char *answer)
{
    control_ctx_t	*c = control_ctx(ctx);

    if (c == NULL || item < 0 || item >= CONTROL_NITEMS) {
	free(answer);
	return;
    }
    free(c->answer[item]);
    c->answer[item] = answer;
}

const char *
control_answer(int ctx, int item)
{
    static char		*last;		/* kept until the next call: a fetch copies it */
    control_ctx_t	*c;

    free(last);
    last = NULL;
    if (ctx >= 0 && ctx < control_nctxs && item >= 0 && item < CONTROL_NITEMS) {
	c = &control_ctxs[ctx];
	last = c->answer[item];
	c->answer[item] = NULL;
    }
    return last ? last : "{}";
}

int
control_attribute(int ctx, int attr, const char *value, int length, pmdaExt *pmda)
{
    control_ctx_t	*c;
    struct passwd	*pw;
    char		*user = NULL;

    if (attr == PMDA_ATTR_USERNAME) {
	user = strndup(value, length > 0 ? (size_t)length : strlen(value));
    } else if (attr == PMDA_ATTR_USERID) {
	uid_t uid = (uid_t)strtoul(value, NULL, 10);
	if ((pw = getpwuid(uid)) != NULL)
	    user = strdup(pw->pw_name);
	else
	    pmNotifyErr(LOG_ERR, "Cannot resolve uid %s to a valid user account", value);
    }
    if (user && (c = control_ctx(ctx)) != NULL) {
	free(c->username);
	c->username = user;
    } else {
	free(user);
    }
    return pmdaAttribute(ctx, attr, value, length, pmda);
}

void
control_end_context(int ctx)
{
    control_ctx_t	*c;
    int			i;

    if (ctx < 0 || ctx >= control_nctxs)
	return;
    c = &control_ctxs[ctx];
    free(c->username);
    for (i = 0; i < CONTROL_NITEMS; i++)
	free(c->answer[i]);
    memset(c, 0, sizeof(*c));
}

/* ---- JSON ---- */

static json_object *
control_timestamp(double t)
{
    char	buf[64];
    time_t	sec = (time_t)t;
    struct tm	tm;
    size_t	n;

    localtime_r(&sec, &tm);
    n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    pmsprintf(buf + n, sizeof(buf) - n, ".%06d", (int)((t - sec) * 1e6));
    return json_object_new_string(buf);
}

static json_object *
control_string_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* length of the valid UTF-8 character at p (ASCII included), 0 if none */
static size_t
control_utf8_char(const unsigned char *p, const unsigned char *end)
{
    return p[0] < 0x80 ? 1 : utf8_seq(p, end - p);
}

/*
 * A JSON string of text: JSON is UTF-8, so bytes that are not (a refused
 * script's text, say) become U+FFFD rather than making the answer invalid.
 */
static json_object *
control_json_text(const char *text, size_t len)
{
    const unsigned char	*p = (const unsigned char *)text, *end = p + len;
    json_object		*o;
    char		*clean;
    size_t		n, k = 0;

    while (p < end && (n = control_utf8_char(p, end)) > 0)
	p += n;
    if (p == end || (clean = malloc(3 * len + 1)) == NULL)
	return json_object_new_string_len(text, (int)len);
    for (p = (const unsigned char *)text; p < end; p += n) {
	if ((n = control_utf8_char(p, end)) > 0) {
	    memcpy(clean + k, p, n);
	    k += n;
	} else {
	    memcpy(clean + k, "\xef\xbf\xbd", 3);
	    k += 3;
	    n = 1;
	}
    }
    o = json_object_new_string_len(clean, (int)k);
    free(clean);
    return o;
}

static json_object *
control_script_object(const script_t *s)
{
    static const char	*mt[] = { NULL, "histogram", "stacks", "output" };
    json_object		*o, *meta, *vars, *state, *inc, *v;
    const char		*meta_name = s->meta.meta_name ? s->meta.meta_name :
					s->path ? s->name : NULL;
    int			i;

    o = json_object_new_object();
    json_object_object_add(o, "script_id", json_object_new_string(s->id));
    json_object_object_add(o, "username", control_string_or_null(s->username));
    json_object_object_add(o, "persistent", json_object_new_boolean(s->persistent));
    json_object_object_add(o, "created_at", control_timestamp(s->created_at));
    json_object_object_add(o, "last_accessed_at", control_timestamp(s->last_accessed_at));
    json_object_object_add(o, "code", control_json_text(s->code, s->codelen));

    meta = json_object_new_object();
    json_object_object_add(meta, "name", control_string_or_null(meta_name));
    inc = NULL;
    if (s->meta.include) {
	inc = json_object_new_array();
	for (i = 0; i < s->meta.ninclude; i++)
	    json_object_array_add(inc, json_object_new_string(s->meta.include[i]));
    }
    json_object_object_add(meta, "include", inc);
    json_object_object_add(meta, "table_retain_lines", s->meta.table_retain_lines >= 0 ?
		json_object_new_int(s->meta.table_retain_lines) : NULL);
    json_object_object_add(meta, "custom_output_block", json_object_new_boolean(s->meta.custom_output_block));
    json_object_object_add(o, "metadata", meta);

    vars = json_object_new_object();
    for (i = 0; i < s->pt.nvars; i++) {
	const variable_t *var = &s->pt.vars[i];
	v = json_object_new_object();
	json_object_object_add(v, "single", json_object_new_boolean(var->single));
	json_object_object_add(v, "semantics", json_object_new_int(var->sem));
	json_object_object_add(v, "datatype", json_object_new_int(var->type));
	json_object_object_add(v, "metrictype", control_string_or_null(mt[var->metrictype]));
	json_object_object_add(vars, var->name, v);
    }
    json_object_object_add(o, "variables", vars);

    state = json_object_new_object();
    json_object_object_add(state, "status", json_object_new_string(script_status_name(s->status)));
    json_object_object_add(state, "pid", json_object_new_int(s->pid > 0 ? s->pid : -1));
    json_object_object_add(state, "exit_code", json_object_new_int(s->exit_code));
    json_object_object_add(state, "error", control_json_text(script_error(s), s->errlen));
    json_object_object_add(state, "probes", json_object_new_int64(s->pt.probes));
    json_object_object_add(state, "data_bytes", json_object_new_int64((int64_t)s->data_bytes));
    /*
     * No more fields than upstream's: PCP QA 1700 compares this JSON line
     * by line.  restarts and last_exit are metrics of their own.
     */
    json_object_object_add(o, "state", state);
    return o;
}

/*
 * Python's json.dumps() layout: {"a": 1, "b": [1, 2]}, [] and {} when
 * empty.  json-c's SPACED mode writes { "a": 1 } and [ ], and PCP's QA
 * compares answers such as {"success": "true"} byte for byte.
 */
typedef struct control_buf {
    char	*text;
    size_t	len, size;
    int		failed;		/* out of memory: text is NULL */
} control_buf_t;

static void
control_put(control_buf_t *b, const char *s)
{
    size_t	n = strlen(s);
    char	*p;

    if (b->failed)
	return;
    if (b->len + n + 1 > b->size) {
	size_t size = (b->len + n + 1) * 2;
	if ((p = realloc(b->text, size)) == NULL) {
	    free(b->text);
	    b->text = NULL;
	    b->failed = 1;
	    return;
	}
	b->text = p;
	b->size = size;
    }
    memcpy(b->text + b->len, s, n + 1);
    b->len += n;
}

static void
control_dump(control_buf_t *b, json_object *o)
{
    json_object	*k;
    const char	*sep = "";
    int		i, count;

    switch (json_object_get_type(o)) {
    case json_type_object:
	control_put(b, "{");
	json_object_object_foreach(o, key, val) {
	    control_put(b, sep);
	    k = json_object_new_string(key);
	    control_dump(b, k);
	    json_object_put(k);
	    control_put(b, ": ");
	    control_dump(b, val);
	    sep = ", ";
	}
	control_put(b, "}");
	break;
    case json_type_array:
	control_put(b, "[");
	count = (int)json_object_array_length(o);
	for (i = 0; i < count; i++) {
	    control_put(b, i ? ", " : "");
	    control_dump(b, json_object_array_get_idx(o, i));
	}
	control_put(b, "]");
	break;
    default:	/* scalars and null: json-c's own text */
	control_put(b, json_object_to_json_string_ext(o,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	break;
    }
}

static char *
control_to_string(json_object *o)
{
    control_buf_t	b = { NULL, 0, 0, 0 };

    control_dump(&b, o);
    json_object_put(o);
    return b.text;
}

const char *
control_scripts_json(void)
{
    json_object	*a = json_object_new_array();
    script_t	*s;

    for (s = script_first(); s; s = s->next)
	json_object_array_add(a, control_script_object(s));
    free(control_json);
    control_json = control_to_string(a);
    return control_json ? control_json : "[]";
}

static char *
control_result(const char *key, const char *value)
{
    json_object	*o = json_object_new_object();

    json_object_object_add(o, key, json_object_new_string(value));
    return control_to_string(o);
}

/* ---- the store API ---- */

static int
control_permitted(int ctx)
{
    control_ctx_t	*c = (ctx >= 0 && ctx < control_nctxs) ? &control_ctxs[ctx] : NULL;
    const char		*user = c ? c->username : NULL;

    if (!control_cfg->dynamic_enabled) {
	pmNotifyErr(LOG_ERR, "dynamic scripts are disabled in configuration");
	return PM_ERR_PERMISSION;
    }
    if (!control_cfg->auth_enabled)
	return 0;
    if (user == NULL) {
	pmNotifyErr(LOG_INFO, "permission denied for unauthenticated user");
	return PM_ERR_PERMISSION;
    }
    if (!config_user_allowed(control_cfg, user)) {
	pmNotifyErr(LOG_INFO, "permission denied for user %s", user);
	return PM_ERR_PERMISSION;
    }
    return 0;
}

static int
control_register(int ctx, const char *code, size_t len)
{
    control_ctx_t	*c = control_ctx(ctx);
    script_t		*s;
    char		desc[256];
    int			sts;

    if ((s = script_create(code, len, NULL, c ? c->username : NULL, NULL)) == NULL)
	return -ENOMEM;
    if (memchr(code, '\0', len) != NULL) {	/* bpftrace would see less than we did */
	script_set_error(s, "script text contains a NUL byte");
	s->status = SCRIPT_ERROR;
    }
    if (s->status != SCRIPT_ERROR && (sts = script_add(s)) >= 0) {
	script_start(s);
	if (s->status != SCRIPT_ERROR)
	    s->status = SCRIPT_STARTING;	/* the answer says starting until bpftrace attached */
	pmNotifyErr(LOG_INFO, "script: registered %s", script_describe(s, desc, sizeof(desc)));
	control_set_answer(ctx, NS_CONTROL_REGISTER, control_to_string(control_script_object(s)));
	return 0;
    }
    s->status = SCRIPT_ERROR;
    pmNotifyErr(LOG_INFO, "script: failed to register %s due to error: %s",
		    script_describe(s, desc, sizeof(desc)), script_error(s));
    control_set_answer(ctx, NS_CONTROL_REGISTER, control_to_string(control_script_object(s)));
    script_destroy(s);
    return PM_ERR_BADSTORE;
}

static int
control_deregister(int ctx, char *list)
{
    char	*tok, *save, *end, desc[256];
    script_t	*s;
    int		missing = 0, found = 0;

    for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
	/* "a, b" as well as "a,b": names and ids never hold spaces */
	while (*tok == ' ')
	    tok++;
	end = tok + strlen(tok);
	while (end > tok && end[-1] == ' ')
	    *--end = '\0';
	if ((s = script_find(tok)) == NULL) {
	    pmNotifyErr(LOG_ERR, "deregister: script %s not found", tok);
	    missing++;
	    continue;
	}
	pmNotifyErr(LOG_INFO, "script: deregistering %s", script_describe(s, desc, sizeof(desc)));
	script_remove(s);
	found++;
    }
    if (missing || found == 0) {	/* an empty list names no script either */
	control_set_answer(ctx, NS_CONTROL_DEREGISTER,
			control_result("error", "one or more scripts were not found"));
	return PM_ERR_BADSTORE;
    }
    control_set_answer(ctx, NS_CONTROL_DEREGISTER, control_result("success", "true"));
    return 0;
}

static int
control_start_stop(int ctx, int item, const char *id)
{
    script_t	*s = script_find(id);

    if (s == NULL) {
	control_set_answer(ctx, item, control_result("error", "script not found"));
	return PM_ERR_BADSTORE;
    }
    if (item == NS_CONTROL_START) {
	if (s->pt.nvars == 0 || s->meta.nvars + s->meta.has_output == 0) {
	    control_set_answer(ctx, item, control_result("error", script_error(s)));
	    return PM_ERR_BADSTORE;
	}
	script_start(s);
    } else {
	script_stop(s);
    }
    control_set_answer(ctx, item, control_result("success", "true"));
    return 0;
}

int
control_store(pmdaResult *result, pmdaExt *pmda)
{
    int		i, sts = 0, ctx = pmda->e_context;

    for (i = 0; i < result->numpmid && sts == 0; i++) {
	pmValueSet	*vsp = result->vset[i];
	unsigned	cluster = pmID_cluster(vsp->pmid), item = pmID_item(vsp->pmid);
	char		*text, *raw;
	size_t		len;

	if (cluster != NS_CLUSTER_CONTROL || item >= CONTROL_NITEMS)
	    return (cluster == NS_CLUSTER_INFO || cluster >= NS_CLUSTER_FIRST_SCRIPT) ?
			PM_ERR_PERMISSION : PM_ERR_PMID;
	if (vsp->numval != 1 || vsp->valfmt == PM_VAL_INSITU)
	    return PM_ERR_BADSTORE;
	if ((sts = control_permitted(ctx)) < 0)
	    return sts;
	if (vsp->vlist[0].value.pval->vlen < PM_VAL_HDR_SIZE)
	    return PM_ERR_BADSTORE;
	len = vsp->vlist[0].value.pval->vlen - PM_VAL_HDR_SIZE;
	raw = text = vsp->vlist[0].value.pval->vbuf;
	while (len > 0 && text[len - 1] == '\0')
	    len--;
	if ((text = strndup(text, len)) == NULL)
	    return -ENOMEM;
	if (strlen(text) != len) {	/* an embedded NUL: refused with an answer */
	    free(text);
	    if (item == NS_CONTROL_REGISTER)
		return control_register(ctx, raw, len);
	    control_set_answer(ctx, item, control_result("error", "text contains a NUL byte"));
	    return PM_ERR_BADSTORE;
	}
	switch (item) {
	case NS_CONTROL_REGISTER:
	    sts = control_register(ctx, text, len);
	    break;
	case NS_CONTROL_DEREGISTER:
	    sts = control_deregister(ctx, text);
	    break;
	default:
	    sts = control_start_stop(ctx, item, text);
	    break;
	}
	free(text);
    }
    return sts;
}

/* ---- drop-in files ---- */

/*
 * Drop-in files the registry refused (name taken, too many scripts) are
 * offered again on every scan; the refusal is logged once per reason.
 */
typedef struct control_refusal {
    char			*path;
    char			*reason;
    struct control_refusal	*next;
} control_refusal_t;

static control_refusal_t	*control_refusals;

/* forget path's refusal; returns the reason it had, to compare (caller frees) */
static char *
control_refusal_take(const char *path)
{
    control_refusal_t	**pp, *r;
    char		*reason;

    for (pp = &control_refusals; (r = *pp) != NULL; pp = &r->next) {
	if (strcmp(r->path, path) == 0) {
	    *pp = r->next;
	    reason = r->reason;
	    free(r->path);
	    free(r);
	    return reason;
	}
    }
    return NULL;
}

static void
control_refusal_keep(const char *path, const char *reason)
{
    control_refusal_t	*r = calloc(1, sizeof(*r));

    if (r == NULL || (r->path = strdup(path)) == NULL ||
	(r->reason = strdup(reason)) == NULL) {
	if (r)
	    free(r->path);
	free(r);
	return;
    }
    r->next = control_refusals;
    control_refusals = r;
}

int
control_dropin(void *arg, watch_event_t ev, const char *path,
		const char *name, const char *text, size_t len)
{
    script_t	*s, *old = NULL;
    char	desc[256], *before = control_refusal_take(path);

    for (s = script_first(); s; s = s->next)
	if (s->path && strcmp(s->path, path) == 0)
	    old = s;
    if (ev == WATCH_REMOVED) {
	if (old) {
	    pmNotifyErr(LOG_INFO, "%s: removed, stopping %s", path,
			    script_describe(old, desc, sizeof(desc)));
	    script_remove(old);
	}
	free(before);
	return 0;
    }
    if (before == NULL)
	pmNotifyErr(LOG_INFO, "registering script from file %s...", path);
    s = script_create(text, len, name, "root", path);
    if (old) {
	/*
	 * made before the old one goes, to take over its instance ids;
	 * not when an edited "// name:" line renamed it (new metrics)
	 */
	if (s != NULL && strcmp(s->name, old->name) == 0)
	    script_adopt(s, old);
	pmNotifyErr(LOG_INFO, "%s: changed, stopping %s", path,
			script_describe(old, desc, sizeof(desc)));
	script_remove(old);
    }
    if (s == NULL) {
	pmNotifyErr(LOG_ERR, "%s: out of memory", path);
	free(before);
	return -ENOMEM;
    }
    if (script_add(s) < 0) {
	if (before == NULL || strcmp(before, script_error(s)) != 0)
	    pmNotifyErr(LOG_ERR, "Skipping autostart script %s: %s", path, script_error(s));
	control_refusal_keep(path, script_error(s));
	script_destroy(s);
	free(before);
	return PM_ERR_BADSTORE;
    }
    if (before)
	pmNotifyErr(LOG_INFO, "registering script from file %s (refused before: %s)", path, before);
    free(before);
    if (s->status == SCRIPT_ERROR)
	pmNotifyErr(LOG_ERR, "autostart script %s: %s", path, script_error(s));
    else
	script_start(s);
    return 0;
}

void
control_free(void)
{
    int		i;

    for (i = 0; i < control_nctxs; i++)
	control_end_context(i);
    free(control_ctxs);
    control_ctxs = NULL;
    control_nctxs = 0;
    free(control_json);
    control_json = NULL;
    control_answer(-1, 0);
    while (control_refusals)
	free(control_refusal_take(control_refusals->path));
}
