/*
 * config: bpftrace.conf (INI, read the way Python's configparser reads
 * it for upstream's pmdabpftrace) -> config_t.
 *
 * A bad line never stops the agent: it is logged as "path:LINE: reason",
 * counted, and the value it tried to set keeps its previous value (the
 * default, unless an earlier line set it).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <pcp/pmapi.h>
#include <pcp/pmda.h>
#include "config.h"

/* a config file bigger than this is not a config file */
#define CONFIG_MAX_FILE		(1024 * 1024)

typedef enum {
    CONFIG_SEC_NONE,		/* before the first [section] */
    CONFIG_SEC_BPFTRACE,
    CONFIG_SEC_DYNAMIC,
    CONFIG_SEC_AUTH,		/* legacy [authentication], PCP < 5.1 */
    CONFIG_SEC_LIMITS,
    CONFIG_SEC_UNKNOWN		/* already reported; its keys are skipped */
} config_section_t;

typedef enum {
    CONFIG_INT,			/* int field, range checked */
    CONFIG_LONG,		/* long field, range checked */
    CONFIG_BOOL,		/* int field, 0 or 1 */
    CONFIG_PATH,		/* the bpftrace_path buffer */
    CONFIG_USERS		/* allowed_users list */
} config_kind_t;

/*
 * Settings that both [dynamic_scripts] and the legacy [authentication]
 * can set: upstream reads [dynamic_scripts] last, so it wins whatever
 * the order in the file.
 */
enum { CONFIG_GRP_NONE, CONFIG_GRP_AUTH, CONFIG_GRP_USERS, CONFIG_NGRP };

typedef struct config_key {
    config_section_t	section;
    const char		*name;
    config_kind_t	kind;
    size_t		offset;		/* into config_t */
    long		min, max;	/* CONFIG_INT, CONFIG_LONG */
    int			group;		/* CONFIG_GRP_* */
    int			legacy;		/* loses to [dynamic_scripts] */
} config_key_t;

#define KIB	1024L
#define MIB	(1024L * 1024L)
#define GIB	(1024L * 1024L * 1024L)
#define OFF(f)	offsetof(config_t, f)

static const config_key_t config_keys[] = {
    { CONFIG_SEC_BPFTRACE, "bpftrace_path", CONFIG_PATH, OFF(bpftrace_path) },
    { CONFIG_SEC_BPFTRACE, "script_expiry_time", CONFIG_INT,
	OFF(script_expiry_time), 1, 365L * 86400 },
    { CONFIG_SEC_BPFTRACE, "max_throughput", CONFIG_LONG,
	OFF(max_throughput), 1, 1024 * GIB },
    { CONFIG_SEC_BPFTRACE, "restart_max_backoff", CONFIG_INT,
	OFF(restart_max_backoff), 1, 86400 },
    { CONFIG_SEC_BPFTRACE, "stop_grace", CONFIG_INT, OFF(stop_grace), 1, 3600 },

    { CONFIG_SEC_DYNAMIC, "enabled", CONFIG_BOOL, OFF(dynamic_enabled) },
    { CONFIG_SEC_DYNAMIC, "auth_enabled", CONFIG_BOOL, OFF(auth_enabled),
	0, 0, CONFIG_GRP_AUTH, 0 },
    { CONFIG_SEC_DYNAMIC, "allowed_users", CONFIG_USERS, OFF(allowed_users),
	0, 0, CONFIG_GRP_USERS, 0 },

    { CONFIG_SEC_AUTH, "enabled", CONFIG_BOOL, OFF(auth_enabled),
	0, 0, CONFIG_GRP_AUTH, 1 },
    { CONFIG_SEC_AUTH, "allowed_users", CONFIG_USERS, OFF(allowed_users),
	0, 0, CONFIG_GRP_USERS, 1 },

    { CONFIG_SEC_LIMITS, "max_line", CONFIG_LONG, OFF(max_line), 1, GIB },
    { CONFIG_SEC_LIMITS, "max_output", CONFIG_LONG, OFF(max_output), 1, 64 * MIB },
    { CONFIG_SEC_LIMITS, "max_instances", CONFIG_INT, OFF(max_instances),
	1, 10000000 },
    { CONFIG_SEC_LIMITS, "max_scripts", CONFIG_INT, OFF(max_scripts), 1, 65536 },
    { CONFIG_SEC_LIMITS, "max_script_size", CONFIG_LONG, OFF(max_script_size),
	1, 16 * MIB },
    { CONFIG_SEC_LIMITS, "restart_max_backoff", CONFIG_INT,
	OFF(restart_max_backoff), 1, 86400 },
    { CONFIG_SEC_LIMITS, "stop_grace", CONFIG_INT, OFF(stop_grace), 1, 3600 },
    { CONFIG_SEC_LIMITS, "max_starting", CONFIG_INT, OFF(max_starting), 0, 65536 },
};
#define CONFIG_NKEYS	(int)(sizeof(config_keys) / sizeof(config_keys[0]))

static const struct {
    const char		*name;
    config_section_t	section;
} config_sections[] = {
    { "bpftrace", CONFIG_SEC_BPFTRACE },
    { "dynamic_scripts", CONFIG_SEC_DYNAMIC },
    { "authentication", CONFIG_SEC_AUTH },
    { "limits", CONFIG_SEC_LIMITS },
};

typedef struct config_state {
    config_t		*c;
    const char		*label;
    int			lineno;
    int			problems;
    config_section_t	section;
    char		secname[64];	/* for messages */
    int			dyn_set[CONFIG_NGRP];	/* set in [dynamic_scripts] */
    unsigned char	seen[CONFIG_NKEYS];	/* to report duplicates */
} config_state_t;

void
config_defaults(config_t *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->bpftrace_path, "bpftrace");
    c->script_expiry_time = 60;
    c->max_throughput = 2 * MIB;
    c->dynamic_enabled = 0;
    c->auth_enabled = 1;
    c->nallowed_users = 0;
    c->max_line = 16 * MIB;
    c->max_output = 64 * KIB;
    c->max_instances = 100000;
    c->max_scripts = 256;
    c->max_script_size = 32 * KIB;
    c->restart_max_backoff = 60;
    c->stop_grace = 5;
}

static void
config_free_users(char **users, int n)
{
    int		i;

    for (i = 0; i < n; i++) {
	free(users[i]);
	users[i] = NULL;
    }
}

void
config_free(config_t *c)
{
    config_free_users(c->allowed_users, c->nallowed_users);
    c->nallowed_users = 0;
}

int
config_user_allowed(const config_t *c, const char *user)
{
    int		i;

    if (user == NULL)
	return 0;
    for (i = 0; i < c->nallowed_users; i++)
	if (strcmp(c->allowed_users[i], user) == 0)
	    return 1;
    return 0;
}

/* log one problem with its line number, and count it */
static void
config_problem(config_state_t *st, const char *fmt, ...)
{
    char	msg[512];
    va_list	ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pmNotifyErr(LOG_WARNING, "%s:%d: %s", st->label, st->lineno, msg);
    st->problems++;
}

static char *
config_trim(char *s)
{
    char	*end;

    while (isspace((unsigned char)*s))
	s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
	end--;
    *end = '\0';
    return s;
}

/* configparser's getboolean() vocabulary */
static int
config_parse_bool(const char *v, int *out)
{
    static const char	*yes[] = { "1", "yes", "true", "on" };
    static const char	*no[] = { "0", "no", "false", "off" };
    int			i;

    for (i = 0; i < 4; i++) {
	if (strcasecmp(v, yes[i]) == 0) {
	    *out = 1;
	    return 0;
	}
	if (strcasecmp(v, no[i]) == 0) {
	    *out = 0;
	    return 0;
	}
    }
    return -EINVAL;
}

/* plain decimal, optional '+', within [min, max] */
static int
config_parse_long(const char *v, long min, long max, long *out)
{
    const char	*p = v;
    char	*end;
    long long	n;

    if (*p == '+')
	p++;
    if (!isdigit((unsigned char)*p))
	return -EINVAL;
    errno = 0;
    n = strtoll(p, &end, 10);
    if (*end != '\0')
	return -EINVAL;
    if (errno == ERANGE || n < min || n > max)
	return -ERANGE;
    *out = (long)n;
    return 0;
}

static int
config_set_users(config_state_t *st, const config_key_t *k, const char *v)
{
    config_t	*c = st->c;
    char	*users[CONFIG_MAX_USERS];
    char	*copy, *tok, *save = NULL;
    int		n = 0;

    if ((copy = strdup(v)) == NULL) {
	config_problem(st, "%s: out of memory", k->name);
	return -ENOMEM;
    }
    for (tok = strtok_r(copy, ",", &save); tok != NULL;
	 tok = strtok_r(NULL, ",", &save)) {
	tok = config_trim(tok);
	/* "root," or "a,,b": an empty name allows nobody, skip it */
	if (*tok == '\0')
	    continue;
	if (n == CONFIG_MAX_USERS) {
	    config_problem(st, "%s: more than %d users, line ignored",
			    k->name, CONFIG_MAX_USERS);
	    config_free_users(users, n);
	    free(copy);
	    return -E2BIG;
	}
	if ((users[n] = strdup(tok)) == NULL) {
	    config_problem(st, "%s: out of memory", k->name);
	    config_free_users(users, n);
	    free(copy);
	    return -ENOMEM;
	}
	n++;
    }
    free(copy);

    config_free(c);
    memcpy(c->allowed_users, users, n * sizeof(users[0]));
    c->nallowed_users = n;
    return 0;
}

/* apply one valid-looking "key = value" of a known key; <0 if rejected */
static int
config_set(config_state_t *st, const config_key_t *k, const char *v)
{
    char	*field = (char *)st->c + k->offset;
    long	n;
    int		b, sts;

    switch (k->kind) {
    case CONFIG_BOOL:
	if (config_parse_bool(v, &b) < 0) {
	    config_problem(st, "%s = '%.64s': not a boolean "
			    "(1/yes/true/on or 0/no/false/off), keeping %s",
			    k->name, v, *(int *)field ? "true" : "false");
	    return -EINVAL;
	}
	*(int *)field = b;
	return 0;

    case CONFIG_INT:
    case CONFIG_LONG:
	n = k->kind == CONFIG_INT ? *(int *)field : *(long *)field;
	if ((sts = config_parse_long(v, k->min, k->max, &n)) < 0) {
	    config_problem(st, "%s = '%.64s': %s from %ld to %ld, keeping %ld",
			    k->name, v,
			    sts == -ERANGE ? "out of range, expected"
					   : "not an integer, expected one",
			    k->min, k->max,
			    k->kind == CONFIG_INT ? (long)*(int *)field
						  : *(long *)field);
	    return sts;
	}
	if (k->kind == CONFIG_INT)
	    *(int *)field = (int)n;
	else
	    *(long *)field = n;
	return 0;

    case CONFIG_PATH:
	if (*v == '\0' || strlen(v) >= sizeof(st->c->bpftrace_path)) {
	    config_problem(st, "%s: %s, keeping '%s'", k->name,
			    *v ? "too long" : "empty", st->c->bpftrace_path);
	    return -EINVAL;
	}
	strcpy(st->c->bpftrace_path, v);
	return 0;

    case CONFIG_USERS:
	return config_set_users(st, k, v);
    }
    return -EINVAL;
}

static void
config_key_line(config_state_t *st, char *key, char *value)
{
    const config_key_t	*k;
    char		*p;
    int			i;

    for (p = key; *p; p++)	/* keys are case-insensitive, as in configparser */
	*p = tolower((unsigned char)*p);

    if (st->section == CONFIG_SEC_NONE) {
	config_problem(st, "key '%s' outside any [section], ignored", key);
	return;
    }
    if (st->section == CONFIG_SEC_UNKNOWN)
	return;			/* the section header was reported */

    for (i = 0; i < CONFIG_NKEYS; i++) {
	k = &config_keys[i];
	if (k->section == st->section && strcmp(k->name, key) == 0)
	    break;
    }
    if (i == CONFIG_NKEYS) {
	config_problem(st, "unknown key '%s' in [%s], ignored", key, st->secname);
	return;
    }
    if (st->seen[i])
	config_problem(st, "duplicate key '%s' in [%s], this later value wins",
			key, st->secname);
    st->seen[i] = 1;

    if (k->legacy && st->dyn_set[k->group])
	return;			/* [dynamic_scripts] already said */
    if (config_set(st, k, value) == 0 && !k->legacy)
	st->dyn_set[k->group] = 1;
}

static void
config_section_line(config_state_t *st, char *line)
{
    char	*name;
    size_t	i;

    line[strlen(line) - 1] = '\0';	/* the ']' */
    name = config_trim(line + 1);
    snprintf(st->secname, sizeof(st->secname), "%s", name);
    /* section names are case-sensitive, as in configparser */
    for (i = 0; i < sizeof(config_sections) / sizeof(config_sections[0]); i++) {
	if (strcmp(config_sections[i].name, name) == 0) {
	    st->section = config_sections[i].section;
	    return;
	}
    }
    st->section = CONFIG_SEC_UNKNOWN;
    config_problem(st, "unknown section [%s], its keys are ignored", name);
}

static void
config_line(config_state_t *st, char *raw)
{
    char	*line = config_trim(raw);
    char	*delim, *key;

    /* configparser: whole-line comments only, no inline ones */
    if (*line == '\0' || *line == '#' || *line == ';')
	return;
    if (line[0] == '[' && line[strlen(line) - 1] == ']' && strlen(line) > 2) {
	config_section_line(st, line);
	return;
    }
    /* the first '=' or ':' separates, so values may contain either */
    delim = line + strcspn(line, "=:");
    if (*delim == '\0' || delim == line) {
	config_problem(st, "'%.64s' is neither [section] nor key = value, ignored",
			line);
	return;
    }
    *delim = '\0';
    key = config_trim(line);
    config_key_line(st, key, config_trim(delim + 1));
}

int
config_parse_text(config_t *c, const char *text, const char *label)
{
    config_state_t	st;
    char		*buf, *line, *next;

    config_defaults(c);
    memset(&st, 0, sizeof(st));
    st.c = c;
    st.label = label;
    st.section = CONFIG_SEC_NONE;

    if ((buf = strdup(text)) == NULL)
	return -ENOMEM;
    line = buf;
    /* a UTF-8 byte order mark from some editors is not part of line 1 */
    if (strncmp(line, "\xef\xbb\xbf", 3) == 0)
	line += 3;
    for (; line != NULL; line = next) {
	if ((next = strchr(line, '\n')) != NULL)
	    *next++ = '\0';
	st.lineno++;
	config_line(&st, line);
    }
    free(buf);
    return st.problems;
}

/*
 * Whole file into a NUL-terminated buffer; -errno on failure.  The buffer
 * grows with what is read (a config is a few hundred bytes): a first
 * malloc of the 1 MiB limit would raise glibc's mmap threshold for the
 * agent's whole life.
 */
static int
config_read_file(const char *path, char **out)
{
    FILE	*f;
    char	*buf = NULL, *p;
    size_t	len = 0, size = 0, n;
    int		sts = 0;

    if ((f = fopen(path, "r")) == NULL)
	return -errno;
    /* up to one byte over the limit, to know that it is over */
    while (len <= CONFIG_MAX_FILE) {
	if (len + 1 >= size) {
	    size = size ? 2 * size : 4096;
	    if (size > CONFIG_MAX_FILE + 2)
		size = CONFIG_MAX_FILE + 2;
	    if ((p = realloc(buf, size)) == NULL) {
		sts = -ENOMEM;
		break;
	    }
	    buf = p;
	}
	if ((n = fread(buf + len, 1, size - len - 1, f)) == 0)
	    break;
	len += n;
    }
    if (sts == 0 && ferror(f))
	sts = errno ? -errno : -EIO;
    else if (sts == 0 && len > CONFIG_MAX_FILE)
	sts = -EFBIG;
    fclose(f);
    if (sts < 0) {
	free(buf);
	return sts;
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}

int
config_load(config_t *c, const char *path)
{
    char	*text = NULL;
    int		sts;

    config_defaults(c);
    if ((sts = config_read_file(path, &text)) < 0)
	return sts == -ENOENT ? 0 : sts;	/* upstream: missing is fine */
    sts = config_parse_text(c, text, path);
    free(text);
    return sts;
}
