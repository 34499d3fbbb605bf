/*
 * Unit tests for the tokenizer: what a bpftrace script exports.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <pcp/pmapi.h>
#include "tokenizer.h"

static char errbuf[512];

/* tokenize a NUL-terminated script and expect success */
static void
ok(const char *text, tok_result_t *res)
{
    int		sts = tok_script(text, strlen(text), res, errbuf, sizeof(errbuf));

    if (sts != 0)
	fail_msg("tok_script failed (%d): %s\nscript:\n%s", sts, errbuf, text);
}

/* tokenize, expecting success: how many variables are exported */
static int
nvars(const char *text)
{
    tok_result_t res;
    int		n;

    ok(text, &res);
    n = res.nvars;
    tok_free(&res);
    return n;
}

/* tokenize and expect the error code and exact message */
static void
bad(const char *text, int code, const char *msg)
{
    tok_result_t res;
    tok_result_t zero;
    int		sts;

    memset(&res, 0x5a, sizeof(res));	/* must be zeroed on error */
    sts = tok_script(text, strlen(text), &res, errbuf, sizeof(errbuf));
    assert_int_equal(sts, code);
    if (msg != NULL)
	assert_string_equal(errbuf, msg);
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&res, &zero, sizeof(res));
    tok_free(&res);
}

static const tok_var_t *
var(const tok_result_t *res, const char *name)
{
    int		i;

    for (i = 0; i < res->nvars; i++)
	if (strcmp(res->vars[i].name, name) == 0)
	    return &res->vars[i];
    return NULL;
}

/* the variable must exist */
static const tok_var_t *
must(const tok_result_t *res, const char *name)
{
    const tok_var_t *v = var(res, name);

    if (v == NULL)
	fail_msg("variable %s not found", name);
    return v;
}

/* exactly these variable names, in this order */
static void
names(const tok_result_t *res, ...)
{
    va_list	ap;
    const char	*n;
    int		i = 0;

    va_start(ap, res);
    while ((n = va_arg(ap, const char *)) != NULL) {
	if (i >= res->nvars)
	    fail_msg("missing variable %s at %d", n, i);
	assert_string_equal(res->vars[i].name, n);
	i++;
    }
    va_end(ap);
    assert_int_equal(res->nvars, i);
}

static const char msg_novars[] =
    "no bpftrace variables or printf statements found, please include at "
    "least one variable or printf statement in your script";
static const char msg_output[] =
    "output from printf(), time() etc. will be stored in @output. please "
    "rename the existing @output variable or remove any calls to any "
    "function which produces output";

/*
 * Functions and keys
 */

static void
test_funcs(void **state)
{
    static const struct {
	const char	*script;
	var_func_t	func;
    } cases[] = {
	{ "BEGIN { @x = count(); }", VAR_FUNC_COUNT },
	{ "BEGIN { @x = sum(arg0); }", VAR_FUNC_SUM },
	{ "BEGIN { @x = min(arg0); }", VAR_FUNC_MIN },
	{ "BEGIN { @x = max(arg0); }", VAR_FUNC_MAX },
	{ "BEGIN { @x = avg(arg0); }", VAR_FUNC_AVG },
	{ "BEGIN { @x = stats(arg0); }", VAR_FUNC_STATS },
	{ "BEGIN { @x = hist(arg0); }", VAR_FUNC_HIST },
	{ "BEGIN { @x = lhist(arg0, 0, 100, 10); }", VAR_FUNC_LHIST },
	{ "BEGIN { @x =   \n\tcount ( ); }", VAR_FUNC_COUNT },
	{ "BEGIN { @x=count(); }", VAR_FUNC_COUNT },
	{ "BEGIN { @x = 1; }", VAR_FUNC_ASSIGN },
	{ "BEGIN { @x = nsecs; }", VAR_FUNC_ASSIGN },
	{ "BEGIN { @x = count; }", VAR_FUNC_ASSIGN },	/* not a call */
	{ "BEGIN { @x = (count()); }", VAR_FUNC_ASSIGN },
	{ "BEGIN { @x = counts(1); }", VAR_FUNC_ASSIGN },
	{ "BEGIN { @x++; }", VAR_FUNC_ASSIGN },
	{ "BEGIN { @x += 5; }", VAR_FUNC_ASSIGN },
    };
    tok_result_t res;
    size_t	i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
	ok(cases[i].script, &res);
	names(&res, "@x", NULL);
	if (res.vars[0].func != cases[i].func)
	    fail_msg("%s: func %d, expected %d", cases[i].script,
		     res.vars[0].func, cases[i].func);
	assert_int_equal(res.vars[0].keyed, 0);
	assert_int_equal(res.vars[0].stacks, 0);
	tok_free(&res);
    }
}

static void
test_keyed(void **state)
{
    tok_result_t res;

    ok("tracepoint:syscalls:sys_enter_openat {\n"
       "  @plain = count();\n"
       "  @one[pid] = count();\n"
       "  @multi[comm, args->fd, str(args->filename)] = sum(1);\n"
       "  @nested[str(args->filename, 16), (pid + 1) * 2, \"]\"] = max(1);\n"
       "  @spaced [ pid ] = 1;\n"
       "}\n", &res);
    names(&res, "@plain", "@one", "@multi", "@nested", "@spaced", NULL);
    assert_int_equal(must(&res, "@plain")->keyed, 0);
    assert_int_equal(must(&res, "@one")->keyed, 1);
    assert_int_equal(must(&res, "@one")->func, VAR_FUNC_COUNT);
    assert_int_equal(must(&res, "@multi")->keyed, 1);
    assert_int_equal(must(&res, "@multi")->func, VAR_FUNC_SUM);
    assert_int_equal(must(&res, "@nested")->keyed, 1);
    assert_int_equal(must(&res, "@nested")->func, VAR_FUNC_MAX);
    assert_int_equal(must(&res, "@spaced")->keyed, 1);
    assert_int_equal(res.has_output, 0);
    tok_free(&res);
}

static void
test_stacks(void **state)
{
    tok_result_t res;

    ok("profile:hz:99 {\n"
       "  @k[kstack] = count();\n"
       "  @u[ustack] = count();\n"
       "  @p[ustack(perf, 5)] = count();\n"
       "  @n[kstack(5)] = count();\n"
       "  @mix[comm, pid, kstack] = count();\n"
       "  @mix2[ustack(3), comm] = count();\n"
       "  @ks[ksym(reg(\"ip\"))] = count();\n"
       "  @inner[str(kstack)] = count();\n"
       "  @near[kstackx, comm] = count();\n"
       "  @scr[$kstack] = count();\n"
       "  @s = kstack;\n"
       "}\n", &res);
    assert_int_equal(must(&res, "@k")->stacks, 1);
    assert_int_equal(must(&res, "@u")->stacks, 1);
    assert_int_equal(must(&res, "@p")->stacks, 1);
    assert_int_equal(must(&res, "@n")->stacks, 1);
    assert_int_equal(must(&res, "@mix")->stacks, 1);
    assert_int_equal(must(&res, "@mix2")->stacks, 1);
    assert_int_equal(must(&res, "@ks")->stacks, 0);
    assert_int_equal(must(&res, "@inner")->stacks, 0);
    assert_int_equal(must(&res, "@near")->stacks, 0);
    assert_int_equal(must(&res, "@scr")->stacks, 0);
    /* a stack as a value, not a key */
    assert_int_equal(must(&res, "@s")->stacks, 0);
    assert_int_equal(must(&res, "@s")->keyed, 0);
    assert_int_equal(must(&res, "@s")->is_string, 1);
    tok_free(&res);

    /* the anonymous map, the usual profiling one-liner */
    ok("profile:hz:99 { @[kstack] = count(); }", &res);
    names(&res, "@", NULL);
    assert_int_equal(res.vars[0].stacks, 1);
    assert_int_equal(res.vars[0].keyed, 1);
    assert_int_equal(res.vars[0].func, VAR_FUNC_COUNT);
    tok_free(&res);
}

/*
 * What is and is not an assignment
 */

static void
test_hidden_in_strings_and_comments(void **state)
{
    tok_result_t res;

    ok("// @c1 = count()\n"
       "/* @c2 = count();\n"
       "   @c3++ */\n"
       "BEGIN {\n"
       "  printf(\"@s1 = 1\\n\");\n"
       "  printf(\"esc \\\" @s2 = 1; \\\\\");\n"
       "  @real = 1; // @c4 = 2\n"
       "  /* inline */ @real2 /* between */ = /* rhs */ count();\n"
       "}\n", &res);
    names(&res, "@real", "@real2", NULL);
    assert_int_equal(must(&res, "@real2")->func, VAR_FUNC_COUNT);
    tok_free(&res);

    /* a '"' inside a comment does not start a string */
    ok("// don't \"\nBEGIN { @a = 1; }\n/* \" */ BEGIN { @b = 2; }\n", &res);
    names(&res, "@a", "@b", NULL);
    tok_free(&res);
}

static void
test_not_assignments(void **state)
{
    tok_result_t res;

    ok("BEGIN { @x[1] = 1; @y = 1; @z = 1; @w = 1; }\n"
       "interval:s:1 {\n"
       "  print(@a); print(@a[1]);\n"
       "  clear(@b); zero(@c); delete(@d[1]); delete(@d2, 1);\n"
       "  if (@e == 1) { printf(\"\"); }\n"
       "  if (@f[1] == 2) {}\n"
       "  if (@g <= 3 || @h >= 4 || @i != 5 || @j < 1 || @k > 2) {}\n"
       "  $v = @l[comm] + @m;\n"
       "  $w = @n[comm] == @o;\n"
       "  @x[@p[1]] = @q;\n"
       "  @y = @r - 1;\n"
       "  @z = @s -1;\n"
       "  @w = -@t;\n"
       "}\n"
       "kprobe:f /@u/ { exit(); }\n", &res);
    names(&res, "@x", "@y", "@z", "@w", NULL);
    tok_free(&res);

    /* $x is a scratch variable, not a map */
    bad("BEGIN { $x = 1; $y = count(); }", PM_ERR_VALUE, msg_novars);
}

static void
test_compound_and_increments(void **state)
{
    tok_result_t res;

    ok("BEGIN {\n"
       "  @inc++; @dec--; ++@pre; --@pred;\n"
       "  @k1[comm]++; ++@k2[comm, pid]; --@k3[kstack];\n"
       "  @a += 1; @b -= 1; @c *= 2; @d /= 2; @e %= 2;\n"
       "  @f &= 1; @g |= 1; @h ^= 1; @i <<= 1; @j >>= 1;\n"
       "  @kk[pid] += 2;\n"
       "  $x = 1 + ++@l;\n"
       "}\n", &res);
    names(&res, "@inc", "@dec", "@pre", "@pred", "@k1", "@k2", "@k3",
	  "@a", "@b", "@c", "@d", "@e", "@f", "@g", "@h", "@i", "@j",
	  "@kk", "@l", NULL);
    assert_int_equal(must(&res, "@inc")->func, VAR_FUNC_ASSIGN);
    assert_int_equal(must(&res, "@inc")->keyed, 0);
    assert_int_equal(must(&res, "@pre")->keyed, 0);
    assert_int_equal(must(&res, "@k1")->keyed, 1);
    assert_int_equal(must(&res, "@k2")->keyed, 1);
    assert_int_equal(must(&res, "@k3")->keyed, 1);
    assert_int_equal(must(&res, "@k3")->stacks, 1);
    assert_int_equal(must(&res, "@kk")->keyed, 1);
    assert_int_equal(must(&res, "@a")->is_string, 0);
    tok_free(&res);

    /* ++ at end of text (unterminated script) still counts */
    ok("BEGIN { ++@x", &res);
    names(&res, "@x", NULL);
    tok_free(&res);
    ok("BEGIN { @y++", &res);
    names(&res, "@y", NULL);
    tok_free(&res);
}

static void
test_anonymous(void **state)
{
    tok_result_t res;

    ok("BEGIN { @ = count(); }", &res);
    names(&res, "@", NULL);
    assert_int_equal(res.vars[0].func, VAR_FUNC_COUNT);
    assert_int_equal(res.vars[0].keyed, 0);
    tok_free(&res);

    ok("tracepoint:raw_syscalls:sys_enter { @[comm] = count(); @++; }",
       &res);
    names(&res, "@", NULL);
    assert_int_equal(res.vars[0].keyed, 1);
    assert_int_equal(res.vars[0].func, VAR_FUNC_COUNT);
    tok_free(&res);
}

static void
test_order_and_merge(void **state)
{
    tok_result_t res;

    /* order of first assignment, not of first mention */
    ok("BEGIN { print(@c); $x = @b; @a = 1; @c = 2; @b = 3; @a = 4; }",
       &res);
    names(&res, "@a", "@c", "@b", NULL);
    tok_free(&res);

    ok("BEGIN { @x = 0; @y = count(); @z = \"s\"; @w = 1; }\n"
       "interval:s:1 { @x = count(); @x = sum(1); @y = 0; @y = hist(1);\n"
       "  @z = count(); @w[1] = 2; @w = \"late\"; }\n", &res);
    names(&res, "@x", "@y", "@z", "@w", NULL);
    /* the first aggregation wins over plain assignments */
    assert_int_equal(must(&res, "@x")->func, VAR_FUNC_COUNT);
    assert_int_equal(must(&res, "@y")->func, VAR_FUNC_COUNT);
    assert_int_equal(must(&res, "@z")->func, VAR_FUNC_COUNT);
    assert_int_equal(must(&res, "@z")->is_string, 0);
    /* the first plain assignment decides the type */
    assert_int_equal(must(&res, "@w")->func, VAR_FUNC_ASSIGN);
    assert_int_equal(must(&res, "@w")->is_string, 0);
    assert_int_equal(must(&res, "@w")->keyed, 1);
    tok_free(&res);

    /* an increment then an aggregation */
    ok("BEGIN { @x++; @x = avg(1); }", &res);
    assert_int_equal(must(&res, "@x")->func, VAR_FUNC_AVG);
    tok_free(&res);
}

static void
test_is_string(void **state)
{
    static const char *const yes[] = {
	"\"literal\"", "str(arg0)", "comm", "kstack", "ustack(3)",
	"ksym(reg(\"ip\"))", "usym(arg0)", "strftime(\"%H\", nsecs)",
	"path(args->path)", "probe", "func", "username",
	"cgroup_path(cgroup)", "buf(arg0, 8)", "macaddr(arg0)", "ntop(arg0)",
	"strerror(1)", " \t \"spaced\"",
    };
    static const char *const no[] = {
	"1", "pid", "nsecs", "count()", "arg0", "strlen(\"x\")",
	"$s", "-1", "(\"paren\")", "commx",
    };
    char	script[256];
    tok_result_t res;
    size_t	i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
	snprintf(script, sizeof(script), "BEGIN { @x = %s; }", yes[i]);
	ok(script, &res);
	if (!must(&res, "@x")->is_string)
	    fail_msg("%s: not a string", script);
	tok_free(&res);
    }
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
	snprintf(script, sizeof(script), "BEGIN { @x = %s; }", no[i]);
	ok(script, &res);
	if (must(&res, "@x")->is_string)
	    fail_msg("%s: a string", script);
	tok_free(&res);
    }

    /* at end of text, with no ';' after it */
    ok("BEGIN { @x = comm", &res);
    assert_int_equal(must(&res, "@x")->is_string, 1);
    tok_free(&res);
    ok("BEGIN { @x = \"abc", &res);
    assert_int_equal(must(&res, "@x")->is_string, 1);
    tok_free(&res);
}

/*
 * Output
 */

static void
test_has_output(void **state)
{
    static const char *const yes[] = {
	"BEGIN { printf(\"hi\\n\"); }",
	"BEGIN { time(\"%H:%M:%S\\n\"); }",
	"BEGIN { cat(\"/proc/loadavg\"); }",
	"tracepoint:syscalls:sys_enter_execve { join(args->argv); }",
	"BEGIN { system(\"true\"); }",
	"BEGIN { printf (\"spaced\"); }",
	"BEGIN { if (1) { printf(\"nested %d\", @x[1]); } }",
    };
    static const char *const no[] = {
	"BEGIN { @x = 1; $y = \"printf(\\\"x\\\")\"; }",
	"// printf(\"x\")\nBEGIN { @x = 1; }",
	"/* time(\"x\") */ BEGIN { @x = 1; }",
	"BEGIN { @printf = 1; @time = 2; }",
	"BEGIN { @x = 1; $printf = 1; }",
	"BEGIN { @x = 1; print(@x); }",
	"BEGIN { @x = timex(1); }",
    };
    tok_result_t res;
    size_t	i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
	ok(yes[i], &res);
	if (!res.has_output)
	    fail_msg("%s: no output", yes[i]);
	tok_free(&res);
    }
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
	ok(no[i], &res);
	if (res.has_output)
	    fail_msg("%s: output", no[i]);
	tok_free(&res);
    }

    /* output alone is enough: no variables needed */
    ok("BEGIN { printf(\"hello\\n\"); exit(); }", &res);
    assert_int_equal(res.nvars, 0);
    assert_null(res.vars);
    assert_int_equal(res.has_output, 1);
    tok_free(&res);
}

/*
 * Annotations
 */

static void
test_annotation_name(void **state)
{
    tok_result_t res;

    ok("// name: runqlat\nBEGIN { @x = 1; }", &res);
    assert_string_equal(res.meta_name, "runqlat");
    assert_null(res.include);
    assert_int_equal(res.table_retain_lines, -1);
    assert_int_equal(res.custom_output_block, 0);
    tok_free(&res);

    /* indentation, no space after //, trailing blanks, CRLF */
    ok("//name:  abc_9  \r\nBEGIN { @x = 1; }", &res);
    assert_string_equal(res.meta_name, "abc_9");
    tok_free(&res);
    /* indented, it is a comment (upstream reads ^//) */
    ok("  \t// name: abc_9\nBEGIN { @x = 1; }", &res);
    assert_null(res.meta_name);
    tok_free(&res);

    /* after a UTF-8 byte order mark */
    ok("\xef\xbb\xbf// name: bom\nBEGIN { @x = 1; }", &res);
    assert_string_equal(res.meta_name, "bom");
    tok_free(&res);

    /* the last one wins */
    ok("// name: first\n// name: second\nBEGIN { @x = 1; }", &res);
    assert_string_equal(res.meta_name, "second");
    tok_free(&res);

    /* exactly 64 characters is fine */
    ok("// name: a123456789012345678901234567890123456789012345678901234567890123\n"
       "BEGIN { @x = 1; }", &res);
    assert_int_equal(strlen(res.meta_name), 64);
    tok_free(&res);

    bad("// name: 1abc\nBEGIN { @x = 1; }", PM_ERR_CONV,
	"invalid value '1abc' for name: must contain only alphanumeric "
	"characters and start with a letter");
    bad("// name: my-script\nBEGIN { @x = 1; }", PM_ERR_CONV,
	"invalid value 'my-script' for name: must contain only alphanumeric "
	"characters and start with a letter");
    bad("// name: two words\nBEGIN { @x = 1; }", PM_ERR_CONV,
	"invalid value 'two words' for name: must contain only alphanumeric "
	"characters and start with a letter");
    bad("// name:\nBEGIN { @x = 1; }", PM_ERR_CONV,
	"invalid value '' for name: must contain only alphanumeric "
	"characters and start with a letter");
    bad("// name: a1234567890123456789012345678901234567890123456789012345678901234\n"
	"BEGIN { @x = 1; }", PM_ERR_CONV, NULL);
    assert_non_null(strstr(errbuf, "for name: longer than 64 characters"));
    /* a leading '_' as upstream (^[a-zA-Z_]\w+$), but not '_' alone */
    ok("// name: _x1\nBEGIN { @x = 1; }", &res);
    assert_string_equal(res.meta_name, "_x1");
    tok_free(&res);
    bad("// name: _\nBEGIN { @x = 1; }", PM_ERR_CONV,
	"invalid value '_' for name: must contain only alphanumeric "
	"characters and start with a letter");
    /* an error with an otherwise fine script, at the very end */
    bad("BEGIN { @x = 1; }\n// name: 1x", PM_ERR_CONV, NULL);
}

static void
test_annotation_prose_value(void **state)
{
    /* "name:" followed by more than one word is a bad name, not prose */
    bad("// name: ok1 extra\nBEGIN { @x = 1; }", PM_ERR_CONV,
	"invalid value 'ok1 extra' for name: must contain only alphanumeric "
	"characters and start with a letter");
    /* a bare key with no value is an empty value */
    bad("// name\nBEGIN { @x = 1; }", PM_ERR_CONV, NULL);
}

static void
test_annotation_not_lines(void **state)
{
    tok_result_t res;

    /* prose after the key: an ordinary comment */
    ok("// Licensed under the Apache License, Version 2.0\n"
       "// name is what we call it\n"
       "// include @x and more\n"
       "BEGIN { @x = 1; @y = 2; }", &res);
    assert_null(res.meta_name);
    assert_null(res.include);
    assert_int_equal(res.nvars, 2);
    tok_free(&res);

    /* not first on its line, inside a block comment or a string */
    ok("BEGIN { @x = 1; } // name: notme\n"
       "/*\n// name: notme2\n// include: @y\n*/\n"
       "BEGIN { printf(\"\n// name: notme3\n\"); @y = 1; }\n"
       "/* c */ // name: notme4\n", &res);
    assert_null(res.meta_name);
    assert_null(res.include);
    names(&res, "@x", "@y", NULL);
    tok_free(&res);

    /* indented: a comment in the code, as upstream reads only column 0 */
    ok("BEGIN {\n    // name: the comm\n\t// include: @y\n    @x = 1; @y = 2;\n}\n"
       " // name: notme5\n", &res);
    assert_null(res.meta_name);
    assert_null(res.include);
    names(&res, "@x", "@y", NULL);
    tok_free(&res);

    /* unknown keys are ignored */
    ok("// author: someone\n// version: 2\n// TODO\nBEGIN { @x = 1; }",
       &res);
    assert_null(res.meta_name);
    assert_int_equal(res.table_retain_lines, -1);
    tok_free(&res);
}

static void
test_annotation_retain_and_custom(void **state)
{
    tok_result_t res;

    ok("// table-retain-lines: 10\n// custom-output-block\n"
       "BEGIN { printf(\"x\"); }", &res);
    assert_int_equal(res.table_retain_lines, 10);
    assert_int_equal(res.custom_output_block, 1);
    tok_free(&res);

    ok("// table-retain-lines: 0\nBEGIN { printf(\"x\"); }", &res);
    assert_int_equal(res.table_retain_lines, 0);
    assert_int_equal(res.custom_output_block, 0);
    tok_free(&res);

    /* capped, no overflow on absurd values */
    ok("// table-retain-lines: 99999999999999999999999999999\n"
       "BEGIN { printf(\"x\"); }", &res);
    assert_int_equal(res.table_retain_lines, 100000);
    tok_free(&res);
    /* 2^64 + 5: would wrap to 5 without saturation */
    ok("// table-retain-lines: 18446744073709551621\n"
       "BEGIN { printf(\"x\"); }", &res);
    assert_int_equal(res.table_retain_lines, 100000);
    tok_free(&res);
    ok("// table-retain-lines: 100001\nBEGIN { printf(\"x\"); }", &res);
    assert_int_equal(res.table_retain_lines, 100000);
    tok_free(&res);
    ok("// table-retain-lines: 100000\nBEGIN { printf(\"x\"); }", &res);
    assert_int_equal(res.table_retain_lines, 100000);
    tok_free(&res);

    ok("// custom-output-block: yes\nBEGIN { printf(\"x\"); }", &res);
    assert_int_equal(res.custom_output_block, 1);
    tok_free(&res);

    bad("// table-retain-lines: ten\nBEGIN { printf(\"x\"); }", PM_ERR_CONV,
	"invalid value 'ten' for table-retain-lines, must be numeric");
    bad("// table-retain-lines: -5\nBEGIN { printf(\"x\"); }", PM_ERR_CONV,
	"invalid value '-5' for table-retain-lines, must be numeric");
    bad("// table-retain-lines: 1 2\nBEGIN { printf(\"x\"); }", PM_ERR_CONV,
	"invalid value '1 2' for table-retain-lines, must be numeric");
    bad("// table-retain-lines:\nBEGIN { printf(\"x\"); }", PM_ERR_CONV,
	"invalid value '' for table-retain-lines, must be numeric");
}

static void
test_annotation_include(void **state)
{
    tok_result_t res;

    ok("// include: @b , @,@output\n"
       "BEGIN { @a = 1; @b = count(); @ = 2; @c[1] = 3; printf(\"x\"); }",
       &res);
    assert_int_equal(res.ninclude, 3);
    assert_string_equal(res.include[0], "@b");
    assert_string_equal(res.include[1], "@");
    assert_string_equal(res.include[2], "@output");
    names(&res, "@b", "@", NULL);
    assert_int_equal(res.has_output, 1);
    tok_free(&res);

    /* without @output, printf() is not exported */
    ok("// include: @b,@nosuch\n"
       "BEGIN { @a = 1; @b = count(); printf(\"x\"); }", &res);
    names(&res, "@b", NULL);
    assert_int_equal(res.has_output, 0);
    tok_free(&res);

    /* @output listed but the script prints nothing */
    ok("// include: @a,@output\nBEGIN { @a = 1; }", &res);
    names(&res, "@a", NULL);
    assert_int_equal(res.has_output, 0);
    tok_free(&res);

    /* output only */
    ok("// include: @output\nBEGIN { @a = 1; printf(\"x\"); }", &res);
    assert_int_equal(res.nvars, 0);
    assert_int_equal(res.has_output, 1);
    tok_free(&res);

    /* nothing left after filtering */
    bad("// include: @b\nBEGIN { @a = 1; printf(\"x\"); }", PM_ERR_VALUE,
	msg_novars);

    /* an unexportable variable the user chose not to export is fine */
    ok("// include: @ok\nBEGIN { @_tmp = 1; @ok = 2; }", &res);
    names(&res, "@ok", NULL);
    tok_free(&res);

    /*
     * Items that name no variable match nothing, as upstream's: the
     * others still count ("output" for "@output" is a slip seen in
     * scripts written for the Python agent), and with none left the
     * script has no variables.
     */
    ok("// include: @a, output\nBEGIN { @a = 1; @b = 2; printf(\"x\"); }", &res);
    names(&res, "@a", NULL);
    assert_int_equal(res.has_output, 0);
    tok_free(&res);
    bad("// include: a,b\nBEGIN { @a = 1; }", PM_ERR_VALUE, msg_novars);
    /* empty items (",," or a trailing comma) are skipped, as upstream */
    ok("// include: @a,,@b,\nBEGIN { @a = 1; @b = 2; @c = 3; }", &res);
    assert_int_equal(res.ninclude, 2);
    assert_string_equal(res.include[0], "@a");
    assert_string_equal(res.include[1], "@b");
    names(&res, "@a", "@b", NULL);
    tok_free(&res);
    bad("// include: ,\nBEGIN { @a = 1; }", PM_ERR_VALUE, msg_novars);
    bad("// include: @a b\nBEGIN { @a = 1; }", PM_ERR_VALUE, msg_novars);
    bad("// include: @1\nBEGIN { @a = 1; }", PM_ERR_VALUE, msg_novars);
    bad("// include:\nBEGIN { @a = 1; }", PM_ERR_VALUE, msg_novars);
}

/*
 * Errors
 */

static void
test_errors(void **state)
{
    tok_result_t res;
    char	script[256];

    bad("", PM_ERR_VALUE, msg_novars);
    bad("BEGIN { exit(); }", PM_ERR_VALUE, msg_novars);
    bad("// only a comment @x = 1\n", PM_ERR_VALUE, msg_novars);
    bad("BEGIN { print(@x); }", PM_ERR_VALUE, msg_novars);

    bad("BEGIN { @output = 1; printf(\"x\"); }", PM_ERR_CONV, msg_output);
    bad("BEGIN { @output[1] = count(); } END { time(); }", PM_ERR_CONV,
	msg_output);
    /* @output without output functions is an ordinary variable */
    ok("BEGIN { @output = 1; }", &res);
    names(&res, "@output", NULL);
    tok_free(&res);
    /* ... and so it is when the output is not exported */
    ok("// include: @output\nBEGIN { @output = 1; }", &res);
    names(&res, "@output", NULL);
    tok_free(&res);
    bad("// include: @output\nBEGIN { @output = 1; printf(\"x\"); }",
	PM_ERR_CONV, msg_output);

    /* @_x is data._x, as in the Python agent: PCP's tools take the name */
    ok("BEGIN { @ok = 1; @_x = 1; @__ = count(); }", &res);
    names(&res, "@ok", "@_x", "@__", NULL);
    tok_free(&res);
    /* @ is data.root: a script may not have both */
    bad("BEGIN { @root = count(); @ = count(); }", PM_ERR_CONV,
	"variables @ and @root would both be the metric data.root: rename @root");
    assert_int_equal(nvars("BEGIN { @ = count(); }"), 1);
    assert_int_equal(nvars("BEGIN { @root = count(); }"), 1);
    /* ... unless // include: leaves one of them out */
    ok("// include: @root\nBEGIN { @root = count(); @ = count(); }", &res);
    assert_int_equal(res.nvars, 1);
    assert_string_equal(res.vars[0].name, "@root");
    tok_free(&res);

    /* 64 characters with the '@' is the longest */
    snprintf(script, sizeof(script), "BEGIN { @%s = 1; }",
	     "a23456789012345678901234567890123456789012345678901234567890123");
    ok(script, &res);
    assert_int_equal(strlen(res.vars[0].name), TOK_MAX_VARNAME);
    tok_free(&res);
    snprintf(script, sizeof(script), "BEGIN { @%s = 1; }",
	     "a234567890123456789012345678901234567890123456789012345678901234");
    bad(script, PM_ERR_CONV, NULL);
    assert_non_null(strstr(errbuf, "@a2345678901234567890"));
    assert_non_null(strstr(errbuf, "too long"));
    /* a long name at the very end of the text: no over-read */
    {
	char	*big = malloc(1001);

	assert_non_null(big);
	big[0] = '@';
	memset(big + 1, 'a', 999);
	big[1000] = '=';
	assert_int_equal(tok_script(big, 1001, &res, errbuf, sizeof(errbuf)),
			 PM_ERR_CONV);
	assert_non_null(strstr(errbuf, "too long"));
	free(big);
    }

    /* no errbuf at all */
    assert_int_equal(tok_script("BEGIN {}", 8, &res, NULL, 0), PM_ERR_VALUE);
    /* a tiny errbuf is truncated, still terminated */
    assert_int_equal(tok_script("BEGIN {}", 8, &res, errbuf, 4), PM_ERR_VALUE);
    assert_string_equal(errbuf, "no ");
}

static void
test_utf8(void **state)
{
    static const char msg[] = "script is not valid UTF-8 text";
    tok_result_t res;
    static const char nul[] = "BEGIN { @x = 1; }\0 @y = 2;";

    /* valid multibyte text in comments and strings */
    ok("// caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n"
       "BEGIN { @x = \"\xe6\x97\xa5\xe6\x9c\xac\"; }", &res);
    names(&res, "@x", NULL);
    assert_int_equal(res.vars[0].is_string, 1);
    tok_free(&res);

    bad("BEGIN { @x = 1; } \xff", PM_ERR_CONV, msg);
    bad("BEGIN { @x = \"\xc3\"; }", PM_ERR_CONV, msg);	/* truncated */
    bad("BEGIN { @x = 1; } \xc0\xaf", PM_ERR_CONV, msg);	/* overlong */
    bad("BEGIN { @x = 1; } \xe0\x80\xaf", PM_ERR_CONV, msg);
    bad("BEGIN { @x = 1; } \xed\xa0\x80", PM_ERR_CONV, msg);	/* surrogate */
    bad("BEGIN { @x = 1; } \xf4\x90\x80\x80", PM_ERR_CONV, msg);
    bad("BEGIN { @x = 1; } \xe2\x82", PM_ERR_CONV, msg);	/* at the end */

    memset(&res, 0, sizeof(res));
    assert_int_equal(tok_script(nul, sizeof(nul) - 1, &res, errbuf,
				sizeof(errbuf)), PM_ERR_CONV);
    assert_string_equal(errbuf, msg);
    assert_int_equal(res.nvars, 0);

    /* len is honoured: the same text up to the NUL is fine */
    ok(nul, &res);
    names(&res, "@x", NULL);
    tok_free(&res);
}

static void
test_unterminated(void **state)
{
    tok_result_t res;

    /* the string swallows the rest, @y is inside it */
    ok("BEGIN { @x = 1; printf(\"oops); @y = 2; }", &res);
    names(&res, "@x", NULL);
    assert_int_equal(res.has_output, 1);
    tok_free(&res);

    ok("BEGIN { @x = 1; } /* never closed @y = 2;", &res);
    names(&res, "@x", NULL);
    tok_free(&res);

    /* a backslash as the very last byte of a string */
    ok("BEGIN { @x = \"abc\\", &res);
    names(&res, "@x", NULL);
    tok_free(&res);

    ok("BEGIN { @x = 1; } /*", &res);
    tok_free(&res);
    ok("BEGIN { @x = 1; } /", &res);
    tok_free(&res);
    ok("@x=1;//", &res);
    tok_free(&res);

    /* unbalanced brackets do not lose later assignments */
    ok("BEGIN { @a[ ( ] = 1; @b = 2; } } ] ) @c = count();", &res);
    assert_non_null(var(&res, "@b"));
    assert_int_equal(must(&res, "@c")->func, VAR_FUNC_COUNT);
    assert_null(var(&res, "@a"));
    tok_free(&res);

    /* a key never closed: no assignment */
    bad("BEGIN { @d[1 = 2; }", PM_ERR_VALUE, msg_novars);
}

static void
test_preprocessor(void **state)
{
    tok_result_t res;

    ok("#!/usr/bin/env bpftrace\n"
       "#include <linux/sched.h>\n"
       "#include \"local.h\"\n"
       "#define FOO \"@notme = 1\" \\\n"
       "    @notme2 = 1\n"
       "  #define BAR 1\n"
       "BEGIN { @x = FOO; }\n", &res);
    names(&res, "@x", NULL);
    tok_free(&res);
}

/*
 * Whole scripts
 */

static const char runqlat[] =
    "#!/usr/bin/env bpftrace\n"
    "/*\n"
    " * runqlat.bt\tCPU scheduler run queue latency as a histogram.\n"
    " *\t\tFor Linux, uses bpftrace, eBPF.\n"
    " *\n"
    " * This is a bpftrace version of the bcc tool of the same name.\n"
    " *\n"
    " * Copyright 2018 Netflix, Inc.\n"
    " * Licensed under the Apache License, Version 2.0 (the \"License\")\n"
    " *\n"
    " * 17-Sep-2018\tBrendan Gregg\tCreated this.\n"
    " */\n"
    "\n"
    "#include <linux/sched.h>\n"
    "\n"
    "BEGIN\n"
    "{\n"
    "\tprintf(\"Tracing CPU scheduler... Hit Ctrl-C to end.\\n\");\n"
    "}\n"
    "\n"
    "tracepoint:sched:sched_wakeup,\n"
    "tracepoint:sched:sched_wakeup_new\n"
    "{\n"
    "\t@qtime[args->pid] = nsecs;\n"
    "}\n"
    "\n"
    "tracepoint:sched:sched_switch\n"
    "{\n"
    "\tif (args->prev_state == TASK_RUNNING) {\n"
    "\t\t@qtime[args->prev_pid] = nsecs;\n"
    "\t}\n"
    "\n"
    "\t$ns = @qtime[args->next_pid];\n"
    "\tif ($ns) {\n"
    "\t\t@usecs = hist((nsecs - $ns) / 1000);\n"
    "\t}\n"
    "\tdelete(@qtime[args->next_pid]);\n"
    "}\n"
    "\n"
    "END\n"
    "{\n"
    "\tclear(@qtime);\n"
    "}\n";

static const char biolatency[] =
    "// name: biolatency\n"
    "// include: @usecs\n"
    "/*\n"
    " * biolatency.bt\tBlock I/O latency as a histogram.\n"
    " *\t\tFor Linux, uses bpftrace, eBPF.\n"
    " * Licensed under the Apache License, Version 2.0 (the \"License\")\n"
    " */\n"
    "\n"
    "BEGIN\n"
    "{\n"
    "\tprintf(\"Tracing block device I/O... Hit Ctrl-C to end.\\n\");\n"
    "}\n"
    "\n"
    "kprobe:blk_account_io_start,\n"
    "kprobe:__blk_account_io_start\n"
    "{\n"
    "\t@start[arg0] = nsecs;\n"
    "}\n"
    "\n"
    "kprobe:blk_account_io_done,\n"
    "kprobe:__blk_account_io_done\n"
    "/@start[arg0]/\n"
    "{\n"
    "\t@usecs = hist((nsecs - @start[arg0]) / 1000);\n"
    "\tdelete(@start[arg0]);\n"
    "}\n"
    "\n"
    "END\n"
    "{\n"
    "\tclear(@start);\n"
    "}\n";

static const char tcplife_like[] =
    "// name: opens\n"
    "// table-retain-lines: 20\n"
    "BEGIN\n"
    "{\n"
    "\tprintf(\"%-6s %-16s %4s %3s %s\\n\", \"PID\", \"COMM\", \"FD\", \"ERR\", \"PATH\");\n"
    "}\n"
    "\n"
    "tracepoint:syscalls:sys_enter_open,\n"
    "tracepoint:syscalls:sys_enter_openat\n"
    "{\n"
    "\t@filename[tid] = args->filename;\n"
    "\t@last_comm = comm;\n"
    "}\n"
    "\n"
    "tracepoint:syscalls:sys_exit_open,\n"
    "tracepoint:syscalls:sys_exit_openat\n"
    "/@filename[tid]/\n"
    "{\n"
    "\t$ret = args->ret;\n"
    "\t$fd = $ret > 0 ? $ret : -1;\n"
    "\t$errno = $ret > 0 ? 0 : - $ret;\n"
    "\n"
    "\tprintf(\"%-6d %-16s %4d %3d %s\\n\", pid, comm, $fd, $errno,\n"
    "\t    str(@filename[tid]));\n"
    "\t@opens[comm, str(@filename[tid])] = count();\n"
    "\t@bytes = stats($ret);\n"
    "\tdelete(@filename[tid]);\n"
    "}\n"
    "\n"
    "interval:s:10 { print(@opens, 10); clear(@opens); }\n";

static void
test_runqlat(void **state)
{
    tok_result_t res;

    ok(runqlat, &res);
    names(&res, "@qtime", "@usecs", NULL);
    assert_int_equal(must(&res, "@qtime")->func, VAR_FUNC_ASSIGN);
    assert_int_equal(must(&res, "@qtime")->keyed, 1);
    assert_int_equal(must(&res, "@qtime")->is_string, 0);
    assert_int_equal(must(&res, "@usecs")->func, VAR_FUNC_HIST);
    assert_int_equal(must(&res, "@usecs")->keyed, 0);
    assert_int_equal(res.has_output, 1);
    assert_null(res.meta_name);
    assert_null(res.include);
    assert_int_equal(res.table_retain_lines, -1);
    tok_free(&res);
}

static void
test_biolatency(void **state)
{
    tok_result_t res;

    ok(biolatency, &res);
    names(&res, "@usecs", NULL);
    assert_int_equal(res.vars[0].func, VAR_FUNC_HIST);
    assert_int_equal(res.has_output, 0);	/* not included */
    assert_string_equal(res.meta_name, "biolatency");
    assert_int_equal(res.ninclude, 1);
    tok_free(&res);
}

static void
test_opensnoop_like(void **state)
{
    tok_result_t res;

    ok(tcplife_like, &res);
    names(&res, "@filename", "@last_comm", "@opens", "@bytes", NULL);
    assert_int_equal(must(&res, "@filename")->keyed, 1);
    assert_int_equal(must(&res, "@filename")->is_string, 0);
    assert_int_equal(must(&res, "@last_comm")->is_string, 1);
    assert_int_equal(must(&res, "@opens")->func, VAR_FUNC_COUNT);
    assert_int_equal(must(&res, "@opens")->keyed, 1);
    assert_int_equal(must(&res, "@opens")->stacks, 0);
    assert_int_equal(must(&res, "@bytes")->func, VAR_FUNC_STATS);
    assert_int_equal(res.has_output, 1);
    assert_int_equal(res.table_retain_lines, 20);
    assert_string_equal(res.meta_name, "opens");
    tok_free(&res);
}

/*
 * API details
 */

static void
test_valid_name(void **state)
{
    assert_int_equal(tok_valid_name("a"), 1);
    assert_int_equal(tok_valid_name("Abc_123"), 1);
    assert_int_equal(tok_valid_name("z9"), 1);
    assert_int_equal(tok_valid_name(""), 0);
    assert_int_equal(tok_valid_name(NULL), 0);
    assert_int_equal(tok_valid_name("_a"), 1);
    assert_int_equal(tok_valid_name("_"), 0);
    assert_int_equal(tok_valid_name("1a"), 0);
    assert_int_equal(tok_valid_name("a-b"), 0);
    assert_int_equal(tok_valid_name("a.b"), 0);
    assert_int_equal(tok_valid_name("a b"), 0);
    assert_int_equal(tok_valid_name("@a"), 0);
    assert_int_equal(tok_valid_name("caf\xc3\xa9"), 0);
}

static void
test_result_free(void **state)
{
    tok_result_t res;

    memset(&res, 0, sizeof(res));
    tok_free(&res);
    tok_free(&res);
    tok_free(NULL);

    ok("// name: n\n// include: @a,@b\nBEGIN { @a = 1; @b = 2; }", &res);
    assert_int_equal(res.nvars, 2);
    tok_free(&res);
    assert_null(res.vars);
    assert_null(res.meta_name);
    assert_null(res.include);
    assert_int_equal(res.nvars, 0);
    assert_int_equal(res.ninclude, 0);
    tok_free(&res);

    /* the result does not point into the caller's text */
    {
	char	*text = strdup("// name: keep\nBEGIN { @kept = 1; }");

	assert_non_null(text);
	ok(text, &res);
	memset(text, 'X', strlen(text));
	free(text);
	assert_string_equal(res.meta_name, "keep");
	assert_string_equal(res.vars[0].name, "@kept");
	tok_free(&res);
    }
}

/*
 * Hostile input
 */

#define BIG	(1024 * 1024)

/* either a result with something in it, or an error with a message */
static void
sane(const char *text, size_t len)
{
    tok_result_t res;
    tok_result_t zero;
    int		sts, i;

    errbuf[0] = '\0';
    sts = tok_script(text, len, &res, errbuf, sizeof(errbuf));
    if (sts == 0) {
	assert_true(res.nvars > 0 || res.has_output);
	for (i = 0; i < res.nvars; i++) {
	    assert_true(res.vars[i].name[0] == '@');
	    assert_true(strlen(res.vars[i].name) <= TOK_MAX_VARNAME);
	    assert_true(res.vars[i].name[1] == '\0' ||
			tok_valid_name(res.vars[i].name + 1));
	}
    } else {
	assert_true(sts < 0);
	assert_true(errbuf[0] != '\0');
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(&res, &zero, sizeof(res));
    }
    tok_free(&res);
}

static void
test_random_bytes(void **state)
{
    char	*buf = malloc(BIG);
    size_t	i;

    assert_non_null(buf);
    srand(12345);
    for (i = 0; i < BIG; i++)
	buf[i] = (char)(rand() & 0xff);
    sane(buf, BIG);
    /* random bytes are all but certainly not UTF-8 */
    assert_string_equal(errbuf, "script is not valid UTF-8 text");
    free(buf);
}

/* random bpftrace-ish fragments: gets past the UTF-8 check into the lexer */
static void
test_random_fragments(void **state)
{
    static const char *const frag[] = {
	"@", "@x", "@_y", "@output", "$s", "[", "]", "(", ")", "{", "}",
	"=", "==", "<=", "<<=", "++", "--", "+=", ",", ";", "\"", "\\",
	"/", "*", "/*", "*/", "//", "\n", " ", "#", "count", "hist",
	"kstack", "ustack", "printf", "comm", "str", "1", ":", "-",
	"// name: x\n", "// include: @x\n", "// table-retain-lines: 5\n",
	"\xc3\xa9",
    };
    char	*buf = malloc(BIG + 64);
    size_t	len, n, round;
    const char	*f;

    assert_non_null(buf);
    srand(4242);
    for (round = 0; round < 8; round++) {
	len = 0;
	while (len < BIG / 8) {
	    f = frag[rand() % (sizeof(frag) / sizeof(frag[0]))];
	    n = strlen(f);
	    memcpy(buf + len, f, n);
	    len += n;
	}
	sane(buf, len);
    }
    free(buf);
}

/* deep nesting and long runs must be handled in linear time */
static void
test_deep_nesting(void **state)
{
    static const char *const unit[] = {
	"@a[", "(", "[", "{", "@a[kstack, ", "]", "++@a[", "@", "/*",
	"\"", "@x = ", "@v1 = 1;", "a",
    };
    char	*buf = malloc(BIG + 16);
    size_t	len, n, u;
    clock_t	t0;
    tok_result_t res;

    assert_non_null(buf);
    t0 = clock();
    for (u = 0; u < sizeof(unit) / sizeof(unit[0]); u++) {
	n = strlen(unit[u]);
	for (len = 0; len + n <= BIG; len += n)
	    memcpy(buf + len, unit[u], n);
	sane(buf, len);
    }
    /* a quadratic algorithm would take minutes here, even at -O2 */
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 20.0);

    /* many distinct variables: each is found once, in order */
    len = 0;
    for (n = 0; len + 32 < BIG; n++)
	len += sprintf(buf + len, "@v%zu = %zu;", n, n);
    assert_int_equal(tok_script(buf, len, &res, errbuf, sizeof(errbuf)), 0);
    assert_int_equal(res.nvars, (int)n);
    assert_string_equal(res.vars[0].name, "@v0");
    {
	char	last[32];

	snprintf(last, sizeof(last), "@v%zu", n - 1);
	assert_string_equal(res.vars[n - 1].name, last);
    }
    tok_free(&res);
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_funcs),
	cmocka_unit_test(test_keyed),
	cmocka_unit_test(test_stacks),
	cmocka_unit_test(test_hidden_in_strings_and_comments),
	cmocka_unit_test(test_not_assignments),
	cmocka_unit_test(test_compound_and_increments),
	cmocka_unit_test(test_anonymous),
	cmocka_unit_test(test_order_and_merge),
	cmocka_unit_test(test_is_string),
	cmocka_unit_test(test_has_output),
	cmocka_unit_test(test_annotation_name),
	cmocka_unit_test(test_annotation_prose_value),
	cmocka_unit_test(test_annotation_not_lines),
	cmocka_unit_test(test_annotation_retain_and_custom),
	cmocka_unit_test(test_annotation_include),
	cmocka_unit_test(test_errors),
	cmocka_unit_test(test_utf8),
	cmocka_unit_test(test_unterminated),
	cmocka_unit_test(test_preprocessor),
	cmocka_unit_test(test_runqlat),
	cmocka_unit_test(test_biolatency),
	cmocka_unit_test(test_opensnoop_like),
	cmocka_unit_test(test_valid_name),
	cmocka_unit_test(test_result_free),
	cmocka_unit_test(test_random_bytes),
	cmocka_unit_test(test_random_fragments),
	cmocka_unit_test(test_deep_nesting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
