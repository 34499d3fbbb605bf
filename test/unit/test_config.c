/*
 * Unit tests for src/config.c: bpftrace.conf parsing as upstream's
 * configparser-based agent reads it, plus our [limits] section.  Problems
 * must be counted, logged with their line number and key, and leave the
 * previous value in force.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "config.h"

/* upstream's src/pmdas/bpftrace/bpftrace.conf (PCP 6.0.3), verbatim */
static const char upstream_conf[] =
    "#\n"
    "# PCP bpftrace PMDA config file - see pmdabpftrace(1) and PMDA(3)\n"
    "#\n"
    "\n"
    "[bpftrace]\n"
    "# Path to bpftrace executable\n"
    "bpftrace_path = bpftrace\n"
    "\n"
    "# Unnamed scripts are removed if their value is not requested within a\n"
    "# specified time period (in seconds)\n"
    "script_expiry_time = 60\n"
    "\n"
    "# Maximum throughput of bpftrace scripts in bytes\n"
    "max_throughput = 2097152\n"
    "\n"
    "\n"
    "[dynamic_scripts]\n"
    "# Control whether the bpftrace PMDA should start bpftrace scripts\n"
    "# on demand by executing pmStore (3) bpftrace.control.register\n"
    "# required for the PCP bpftrace datasource in grafana-pcp\n"
    "enabled = false\n"
    "\n"
    "# See https://grafana-pcp.readthedocs.io/en/latest/datasources/authentication.html\n"
    "# on how to set up authentication. Disabling authentication is NOT RECOMMENDED,\n"
    "# as everyone would be able to run bpftrace scripts AS ROOT, which can leak sensitive\n"
    "# information and run unsafe commands!\n"
    "auth_enabled = true\n"
    "\n"
    "# Comma-separated list of usernames which are allowed to register\n"
    "# bpftrace scripts\n"
    "allowed_users = root\n";

#include "capture.h"

/* parse text, returning the problem count and the log in *log */
static int
parse(config_t *c, const char *text, const char **log)
{
    int		n;

    capture_start();
    n = config_parse_text(c, text, "test.conf");
    *log = capture_end();
    return n;
}

static int
count_lines(const char *s)
{
    int		n = 0;

    for (; *s; s++)
	if (*s == '\n')
	    n++;
    return n;
}

static void
assert_defaults(const config_t *c)
{
    assert_string_equal(c->bpftrace_path, "bpftrace");
    assert_int_equal(c->script_expiry_time, 60);
    assert_int_equal(c->max_throughput, 2097152);
    assert_int_equal(c->dynamic_enabled, 0);
    assert_int_equal(c->auth_enabled, 1);
    assert_int_equal(c->nallowed_users, 0);
    assert_int_equal(c->max_line, 16 * 1024 * 1024);
    assert_int_equal(c->max_output, 65536);
    assert_int_equal(c->max_instances, 100000);
    assert_int_equal(c->max_scripts, 256);
    assert_int_equal(c->max_script_size, 32768);
    assert_int_equal(c->restart_max_backoff, 60);
    assert_int_equal(c->stop_grace, 5);
    assert_int_equal(c->max_starting, 0);	/* one per CPU */
}

static void
test_defaults(void **state)
{
    config_t	c;

    memset(&c, 0x5a, sizeof(c));
    config_defaults(&c);
    assert_defaults(&c);
    assert_false(config_user_allowed(&c, "root"));
    config_free(&c);
}

static void
test_upstream_conf(void **state)
{
    config_t	c;
    const char	*log;

    assert_int_equal(parse(&c, upstream_conf, &log), 0);
    assert_string_equal(log, "");
    assert_string_equal(c.bpftrace_path, "bpftrace");
    assert_int_equal(c.script_expiry_time, 60);
    assert_int_equal(c.max_throughput, 2097152);
    assert_int_equal(c.dynamic_enabled, 0);
    assert_int_equal(c.auth_enabled, 1);
    assert_int_equal(c.nallowed_users, 1);
    assert_string_equal(c.allowed_users[0], "root");
    assert_true(config_user_allowed(&c, "root"));
    config_free(&c);
}

static void
test_every_key(void **state)
{
    config_t	c;
    const char	*log;

    assert_int_equal(parse(&c,
	"[bpftrace]\n"
	"bpftrace_path = /opt/bpftrace/bin/bpftrace\n"
	"script_expiry_time = 1\n"
	"max_throughput = 1048576\n"
	"[dynamic_scripts]\n"
	"enabled = true\n"
	"auth_enabled = false\n"
	"allowed_users = alice,bob\n"
	"[limits]\n"
	"max_line = 4096\n"
	"max_output = 1000\n"
	"max_instances = 50\n"
	"max_scripts = 7\n"
	"max_script_size = 2000\n"
	"restart_max_backoff = 30\n"
	"stop_grace = 2\n"
	"max_starting = 3\n", &log), 0);
    assert_string_equal(log, "");
    assert_string_equal(c.bpftrace_path, "/opt/bpftrace/bin/bpftrace");
    assert_int_equal(c.script_expiry_time, 1);
    assert_int_equal(c.max_throughput, 1048576);
    assert_int_equal(c.dynamic_enabled, 1);
    assert_int_equal(c.auth_enabled, 0);
    assert_int_equal(c.nallowed_users, 2);
    assert_string_equal(c.allowed_users[0], "alice");
    assert_string_equal(c.allowed_users[1], "bob");
    assert_int_equal(c.max_line, 4096);
    assert_int_equal(c.max_output, 1000);
    assert_int_equal(c.max_instances, 50);
    assert_int_equal(c.max_scripts, 7);
    assert_int_equal(c.max_script_size, 2000);
    assert_int_equal(c.restart_max_backoff, 30);
    assert_int_equal(c.stop_grace, 2);
    assert_int_equal(c.max_starting, 3);
    config_free(&c);
}

/* restart_max_backoff and stop_grace are accepted under [bpftrace] too */
static void
test_bpftrace_section_limits(void **state)
{
    config_t	c;
    const char	*log;

    assert_int_equal(parse(&c, "[bpftrace]\nrestart_max_backoff = 9\n"
			       "stop_grace = 3\n", &log), 0);
    assert_int_equal(c.restart_max_backoff, 9);
    assert_int_equal(c.stop_grace, 3);
    config_free(&c);
}

/* INI syntax details as configparser has them */
static void
test_syntax(void **state)
{
    config_t	c;
    const char	*log;

    assert_int_equal(parse(&c,
	"\xef\xbb\xbf; a comment\r\n"
	"   # an indented comment\n"
	"[ bpftrace ]\n"
	"  BPFTRACE_Path:/usr/local/bin/bpftrace  \r\n"
	"Script_Expiry_Time=+120\n"
	"\n"
	"\t\n"
	"[dynamic_scripts]\n"
	"ENABLED = Yes\n"
	"auth_enabled: OFF\n", &log), 0);
    assert_string_equal(log, "");
    assert_string_equal(c.bpftrace_path, "/usr/local/bin/bpftrace");
    assert_int_equal(c.script_expiry_time, 120);
    assert_int_equal(c.dynamic_enabled, 1);
    assert_int_equal(c.auth_enabled, 0);
    config_free(&c);

    /* the first '=' or ':' separates; the value keeps the others */
    assert_int_equal(parse(&c, "[bpftrace]\nbpftrace_path = /opt/a=b:c/bpftrace\n",
			   &log), 0);
    assert_string_equal(c.bpftrace_path, "/opt/a=b:c/bpftrace");
    config_free(&c);
}

static void
test_booleans(void **state)
{
    static const char	*yes[] = { "1", "yes", "true", "on", "TRUE", "On" };
    static const char	*no[] = { "0", "no", "false", "off", "FALSE", "Off" };
    config_t		c;
    const char		*log;
    char		text[128];
    size_t		i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
	snprintf(text, sizeof(text), "[dynamic_scripts]\nenabled = %s\n", yes[i]);
	assert_int_equal(parse(&c, text, &log), 0);
	assert_int_equal(c.dynamic_enabled, 1);
	config_free(&c);
    }
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
	snprintf(text, sizeof(text), "[dynamic_scripts]\nauth_enabled = %s\n", no[i]);
	assert_int_equal(parse(&c, text, &log), 0);
	assert_int_equal(c.auth_enabled, 0);
	config_free(&c);
    }
}

static void
test_legacy_authentication(void **state)
{
    config_t	c;
    const char	*log;

    assert_int_equal(parse(&c,
	"[authentication]\n"
	"enabled = false\n"
	"allowed_users = alice,bob\n", &log), 0);
    assert_int_equal(c.auth_enabled, 0);
    assert_int_equal(c.dynamic_enabled, 0);
    assert_int_equal(c.nallowed_users, 2);
    assert_true(config_user_allowed(&c, "alice"));
    assert_true(config_user_allowed(&c, "bob"));
    config_free(&c);

    /* upstream reads [dynamic_scripts] last: it wins in either order */
    assert_int_equal(parse(&c,
	"[dynamic_scripts]\n"
	"auth_enabled = true\n"
	"allowed_users = carol\n"
	"[authentication]\n"
	"enabled = false\n"
	"allowed_users = mallory\n", &log), 0);
    assert_int_equal(c.auth_enabled, 1);
    assert_int_equal(c.nallowed_users, 1);
    assert_true(config_user_allowed(&c, "carol"));
    assert_false(config_user_allowed(&c, "mallory"));
    config_free(&c);

    assert_int_equal(parse(&c,
	"[authentication]\n"
	"enabled = false\n"
	"allowed_users = mallory\n"
	"[dynamic_scripts]\n"
	"auth_enabled = true\n"
	"allowed_users = carol\n", &log), 0);
    assert_int_equal(c.auth_enabled, 1);
    assert_true(config_user_allowed(&c, "carol"));
    assert_false(config_user_allowed(&c, "mallory"));
    config_free(&c);
}

static void
test_allowed_users(void **state)
{
    config_t	c;
    const char	*log;

    assert_int_equal(parse(&c, "[dynamic_scripts]\n"
			       "allowed_users =  alice , bob, ,carol ,, \n", &log), 0);
    assert_int_equal(c.nallowed_users, 3);
    assert_string_equal(c.allowed_users[0], "alice");
    assert_string_equal(c.allowed_users[1], "bob");
    assert_string_equal(c.allowed_users[2], "carol");
    assert_false(config_user_allowed(&c, ""));
    config_free(&c);

    assert_int_equal(parse(&c, "[dynamic_scripts]\nallowed_users =\n", &log), 0);
    assert_int_equal(c.nallowed_users, 0);
    assert_false(config_user_allowed(&c, "root"));
    config_free(&c);

    /* a later empty list empties an earlier one (and the repeat is reported) */
    assert_int_equal(parse(&c, "[dynamic_scripts]\nallowed_users = root\n"
			       "allowed_users =\n", &log), 1);
    assert_non_null(strstr(log, "test.conf:3:"));
    assert_non_null(strstr(log, "allowed_users"));
    assert_int_equal(c.nallowed_users, 0);
    config_free(&c);
}

static void
test_too_many_users(void **state)
{
    config_t	c;
    const char	*log;
    char	text[2048];
    int		i, n;

    n = snprintf(text, sizeof(text), "[dynamic_scripts]\nallowed_users = keep\n"
		 "allowed_users = ");
    for (i = 0; i <= CONFIG_MAX_USERS; i++)
	n += snprintf(text + n, sizeof(text) - n, "u%d,", i);
    snprintf(text + n, sizeof(text) - n, "\n");

    /* 2 problems: the repeated key and the oversized list */
    assert_int_equal(parse(&c, text, &log), 2);
    assert_non_null(strstr(log, "test.conf:3:"));
    assert_non_null(strstr(log, "more than 64 users"));
    /* the whole line is refused, not cut short */
    assert_int_equal(c.nallowed_users, 1);
    assert_true(config_user_allowed(&c, "keep"));
    assert_false(config_user_allowed(&c, "u0"));
    config_free(&c);

    /* exactly the maximum is fine */
    n = snprintf(text, sizeof(text), "[dynamic_scripts]\nallowed_users = ");
    for (i = 0; i < CONFIG_MAX_USERS; i++)
	n += snprintf(text + n, sizeof(text) - n, "u%d,", i);
    assert_int_equal(parse(&c, text, &log), 0);
    assert_int_equal(c.nallowed_users, CONFIG_MAX_USERS);
    assert_true(config_user_allowed(&c, "u63"));
    config_free(&c);
}

static void
test_bad_boolean(void **state)
{
    config_t	c;
    const char	*log;

    assert_int_equal(parse(&c, "[dynamic_scripts]\n"
			       "auth_enabled = false\n"
			       "enabled = maybe\n"
			       "auth_enabled = nope\n", &log), 3);
    assert_int_equal(c.dynamic_enabled, 0);
    assert_int_equal(c.auth_enabled, 0);	/* line 2's value stays */
    assert_non_null(strstr(log, "test.conf:3:"));
    assert_non_null(strstr(log, "enabled = 'maybe'"));
    assert_non_null(strstr(log, "test.conf:4:"));
    assert_non_null(strstr(log, "Warning"));
    config_free(&c);

    /* configparser has no inline comments: this is not a boolean */
    assert_int_equal(parse(&c, "[dynamic_scripts]\nenabled = true # on\n", &log), 1);
    assert_int_equal(c.dynamic_enabled, 0);
    config_free(&c);
}

static void
test_bad_integers(void **state)
{
    static const char	*bad[] = {
	"script_expiry_time = 0",
	"script_expiry_time = -5",
	"script_expiry_time = 10s",
	"script_expiry_time = 1.5",
	"script_expiry_time = 0x10",
	"script_expiry_time =",
	"script_expiry_time = 99999999999999999999999",
	"max_throughput = -1",
	"stop_grace = 100000",
	"restart_max_backoff = 0",
    };
    config_t		c;
    const char		*log;
    char		text[256];
    size_t		i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
	snprintf(text, sizeof(text), "# comment\n[bpftrace]\n%s\n", bad[i]);
	assert_int_equal(parse(&c, text, &log), 1);
	assert_non_null(strstr(log, "test.conf:3:"));
	assert_int_equal(count_lines(log), 1);
	assert_defaults(&c);
	config_free(&c);
    }

    assert_int_equal(parse(&c, "[limits]\nmax_scripts = 100000\nmax_line = 0\n"
			       "max_instances = many\nmax_output = 1e6\n"
			       "max_script_size = 999999999999\nmax_starting = -1\n", &log), 6);
    assert_non_null(strstr(log, "max_scripts"));
    assert_non_null(strstr(log, "max_line"));
    assert_non_null(strstr(log, "max_instances"));
    assert_non_null(strstr(log, "max_output"));
    assert_non_null(strstr(log, "max_script_size"));
    assert_non_null(strstr(log, "test.conf:7:"));	/* max_starting */
    assert_defaults(&c);
    config_free(&c);
}

static void
test_bad_path(void **state)
{
    config_t	c;
    const char	*log;
    char	text[600];

    assert_int_equal(parse(&c, "[bpftrace]\nbpftrace_path =\n", &log), 1);
    assert_string_equal(c.bpftrace_path, "bpftrace");
    config_free(&c);

    snprintf(text, sizeof(text), "[bpftrace]\nbpftrace_path = /%0300d\n", 0);
    assert_int_equal(parse(&c, text, &log), 1);
    assert_non_null(strstr(log, "too long"));
    assert_string_equal(c.bpftrace_path, "bpftrace");
    config_free(&c);
}

static void
test_structure_problems(void **state)
{
    config_t	c;
    const char	*log;

    assert_int_equal(parse(&c,
	"stray = 1\n"			/* 1: outside any section */
	"[bpftrace]\n"
	"no_such_key = 5\n"		/* 3: unknown key */
	"this is not ini\n"		/* 4: garbage */
	"= 5\n"				/* 5: no key */
	"[Bpftrace]\n"			/* 6: sections are case-sensitive */
	"bpftrace_path = /evil\n"	/* 7: skipped with its section */
	"[nonsense]\n"			/* 8: unknown section */
	"script_expiry_time = 5\n"	/* 9: skipped with its section */
	"[dynamic_scripts]\n"
	"max_throughput = 5\n"		/* 11: a key of another section */
	"[limits\n",			/* 12: garbage */
	&log), 8);
    assert_non_null(strstr(log, "test.conf:1:"));
    assert_non_null(strstr(log, "stray"));
    assert_non_null(strstr(log, "test.conf:3:"));
    assert_non_null(strstr(log, "no_such_key"));
    assert_non_null(strstr(log, "test.conf:4:"));
    assert_non_null(strstr(log, "test.conf:5:"));
    assert_non_null(strstr(log, "test.conf:6:"));
    assert_null(strstr(log, "test.conf:7:"));
    assert_non_null(strstr(log, "test.conf:8:"));
    assert_non_null(strstr(log, "nonsense"));
    assert_null(strstr(log, "test.conf:9:"));
    assert_non_null(strstr(log, "test.conf:11:"));
    assert_non_null(strstr(log, "max_throughput"));
    assert_non_null(strstr(log, "test.conf:12:"));
    assert_int_equal(count_lines(log), 8);
    assert_defaults(&c);
    config_free(&c);
}

/* good lines after bad ones still count */
static void
test_continues_after_problems(void **state)
{
    config_t	c;
    const char	*log;

    assert_int_equal(parse(&c, "[bpftrace]\nbogus\nmax_throughput = 7\n"
			       "[dynamic_scripts]\nenabled = 2\nenabled = 1\n", &log), 3);
    assert_int_equal(c.max_throughput, 7);
    assert_int_equal(c.dynamic_enabled, 1);
    config_free(&c);
}

/* a config of size bytes: a long comment, then max_scripts = 7 last */
static void
big_config(const char *path, size_t size)
{
    static const char	head[] = "[limits]\n#", tail[] = "\nmax_scripts = 7\n";
    FILE		*f;
    size_t		i;

    assert_non_null(f = fopen(path, "w"));
    fputs(head, f);
    for (i = strlen(head) + strlen(tail); i < size; i++)
	fputc('x', f);
    fputs(tail, f);
    assert_int_equal(ftell(f), (long)size);
    fclose(f);
}

static void
test_load_file(void **state)
{
    char	path[] = "/tmp/test_config.XXXXXX";
    char	dir[] = "/tmp/test_config_dir.XXXXXX";
    config_t	c;
    const char	*log;
    FILE	*f;
    int		fd, n;

    assert_true((fd = mkstemp(path)) >= 0);
    assert_non_null(f = fdopen(fd, "w"));
    fputs(upstream_conf, f);
    fputs("[limits]\nmax_scripts = 3\nbad line\n", f);
    fclose(f);

    capture_start();
    n = config_load(&c, path);
    log = capture_end();
    assert_int_equal(n, 1);
    assert_int_equal(c.max_scripts, 3);
    assert_true(config_user_allowed(&c, "root"));
    /* the message names the file and line 34 */
    assert_non_null(strstr(log, path));
    assert_non_null(strstr(log, ":34:"));
    config_free(&c);
    unlink(path);

    /* missing: defaults, no problem */
    assert_int_equal(config_load(&c, path), 0);
    assert_defaults(&c);
    config_free(&c);

    /*
     * A file of exactly the 1 MiB limit is read whole (the setting on its
     * last line counts); one byte more is refused, and nothing applies.
     */
    big_config(path, 1024 * 1024);
    assert_int_equal(config_load(&c, path), 0);
    assert_int_equal(c.max_scripts, 7);
    config_free(&c);
    big_config(path, 1024 * 1024 + 1);
    assert_int_equal(config_load(&c, path), -EFBIG);
    assert_defaults(&c);
    config_free(&c);
    unlink(path);

    /* exists but cannot be read as a file */
    assert_non_null(mkdtemp(dir));
    assert_int_equal(config_load(&c, dir), -EISDIR);
    assert_defaults(&c);
    config_free(&c);
    rmdir(dir);
}

static void
test_user_allowed(void **state)
{
    config_t	c;
    const char	*log;

    assert_int_equal(parse(&c, "[dynamic_scripts]\nallowed_users = root, grafana\n",
			   &log), 0);
    assert_true(config_user_allowed(&c, "root"));
    assert_true(config_user_allowed(&c, "grafana"));
    assert_false(config_user_allowed(&c, NULL));
    assert_false(config_user_allowed(&c, ""));
    assert_false(config_user_allowed(&c, "Root"));
    assert_false(config_user_allowed(&c, "roo"));
    assert_false(config_user_allowed(&c, "rooted"));
    assert_false(config_user_allowed(&c, "root, grafana"));
    config_free(&c);
    assert_int_equal(c.nallowed_users, 0);
    assert_false(config_user_allowed(&c, "root"));
    config_free(&c);		/* twice is harmless */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_defaults),
	cmocka_unit_test(test_upstream_conf),
	cmocka_unit_test(test_every_key),
	cmocka_unit_test(test_bpftrace_section_limits),
	cmocka_unit_test(test_syntax),
	cmocka_unit_test(test_booleans),
	cmocka_unit_test(test_legacy_authentication),
	cmocka_unit_test(test_allowed_users),
	cmocka_unit_test(test_too_many_users),
	cmocka_unit_test(test_bad_boolean),
	cmocka_unit_test(test_bad_integers),
	cmocka_unit_test(test_bad_path),
	cmocka_unit_test(test_structure_problems),
	cmocka_unit_test(test_continues_after_problems),
	cmocka_unit_test(test_load_file),
	cmocka_unit_test(test_user_allowed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
