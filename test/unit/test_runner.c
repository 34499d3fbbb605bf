/*
 * Unit tests for src/runner.c: a real child (/bin/sh) writing to real
 * pipes, read through the runner's poll-driven interface as the agent's
 * main loop does.  Checks what reaches the line callbacks: lines split
 * across writes and reads, a line far longer than one read, an over-long
 * line dropped and reported once, the last line without a newline, a tiny
 * read budget, stderr, the script text arriving on stdin, two children
 * read in turns through the one buffer all runners share, and stdout's
 * rest after it was emptied (hold_secs).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "runner.h"

#define MAX_LINES	16

/* what the callbacks saw */
typedef struct seen {
    char	*out[MAX_LINES];
    size_t	outlen[MAX_LINES];
    int		nout;
    char	*err[MAX_LINES];
    int		nerr;
    size_t	toolong[MAX_LINES];
    int		ntoolong;
} seen_t;

static void
on_out(void *arg, char *line, size_t len)
{
    seen_t	*s = arg;

    assert_true(s->nout < MAX_LINES);
    assert_int_equal(strlen(line), len);	/* NUL terminated, no NUL inside */
    s->out[s->nout] = strndup(line, len);
    s->outlen[s->nout++] = len;
}

static void
on_err(void *arg, char *line, size_t len)
{
    seen_t	*s = arg;

    assert_true(s->nerr < MAX_LINES);
    s->err[s->nerr++] = strndup(line, len);
}

static void
on_toolong(void *arg, size_t len)
{
    seen_t	*s = arg;

    assert_true(s->ntoolong < MAX_LINES);
    s->toolong[s->ntoolong++] = len;
}

static const runner_ops_t ops = { on_out, on_err, on_toolong };

/* monotonic seconds, the clock the agent passes to runner_io() */
static double
mono(void)
{
    struct timespec	ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
seen_free(seen_t *s)
{
    int		i;

    for (i = 0; i < s->nout; i++)
	free(s->out[i]);
    for (i = 0; i < s->nerr; i++)
	free(s->err[i]);
}

/* run sh -c CMD with STDIN_TEXT, as the agent's loop would, until it is reaped */
static int
run(const char *cmd, const char *stdin_text, size_t max_line, size_t budget,
	seen_t *s)
{
    char	*argv[] = { "sh", "-c", (char *)cmd, NULL };
    runner_t	r;
    struct pollfd pfd[RUNNER_MAX_POLLFDS];
    int		n, status, i;
    pid_t	pid;

    memset(s, 0, sizeof(*s));
    runner_init(&r, max_line);
    assert_int_equal(runner_start(&r, argv, stdin_text, strlen(stdin_text)), 0);
    for (i = 0; i < 2000; i++) {
	n = runner_pollfds(&r, pfd);
	if (n == 0)
	    usleep(10000);		/* pipes closed: only the exit is left */
	else if (poll(pfd, n, 10) > 0)
	    runner_io(&r, pfd, n, budget, mono(), &ops, s);
	pid = waitpid(r.pid, &status, WNOHANG);
	if (pid == r.pid) {
	    runner_exited(&r, status, &ops, s);
	    runner_free(&r);
	    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	}
    }
    runner_kill(&r);
    waitpid(r.pid, &status, 0);
    runner_free(&r);
    fail_msg("%s: did not end in 20 s", cmd);
    return -1;
}

/* lines arrive in pieces, the last one has no newline */
static void
test_split_lines(void **state)
{
    seen_t	s;

    (void)state;
    assert_int_equal(run("printf 'a\\nb'; sleep 0.1; printf 'b\\n\\nc'; sleep 0.1; printf 'cc'",
			 "", 1 << 20, (size_t)-1, &s), 0);
    assert_int_equal(s.nout, 4);
    assert_string_equal(s.out[0], "a");
    assert_string_equal(s.out[1], "bb");
    assert_string_equal(s.out[2], "");
    assert_string_equal(s.out[3], "ccc");
    assert_int_equal(s.ntoolong, 0);
    seen_free(&s);
}

/* a 300,000-byte line (a big map print) comes whole, in one callback */
static void
test_big_line(void **state)
{
    seen_t	s;
    size_t	i;

    (void)state;
    assert_int_equal(run("head -c 300000 /dev/zero | tr '\\0' x; echo; echo after",
			 "", 1 << 20, (size_t)-1, &s), 0);
    assert_int_equal(s.nout, 2);
    assert_int_equal(s.outlen[0], 300000);
    for (i = 0; i < 300000; i++)
	if (s.out[0][i] != 'x')
	    fail_msg("byte %zu is %#x", i, s.out[0][i]);
    assert_string_equal(s.out[1], "after");
    seen_free(&s);
}

/* a line over max_line is dropped whole and reported once; the next ones come */
static void
test_too_long(void **state)
{
    seen_t	s;

    (void)state;
    assert_int_equal(run("echo before; head -c 50000 /dev/zero | tr '\\0' y; echo; echo after; "
			 "head -c 2000 /dev/zero | tr '\\0' z",
			 "", 1000, (size_t)-1, &s), 0);
    assert_int_equal(s.nout, 2);
    assert_string_equal(s.out[0], "before");
    assert_string_equal(s.out[1], "after");
    assert_int_equal(s.ntoolong, 2);
    assert_int_equal(s.toolong[0], 50000);
    assert_int_equal(s.toolong[1], 2000);	/* the last one, without newline */
    seen_free(&s);
}

/* exactly max_line is kept, one byte more is not */
static void
test_limit_edge(void **state)
{
    seen_t	s;

    (void)state;
    assert_int_equal(run("head -c 1000 /dev/zero | tr '\\0' a; echo; "
			 "head -c 1001 /dev/zero | tr '\\0' b; echo; echo end",
			 "", 1000, (size_t)-1, &s), 0);
    assert_int_equal(s.nout, 2);
    assert_int_equal(s.outlen[0], 1000);
    assert_string_equal(s.out[1], "end");
    assert_int_equal(s.ntoolong, 1);
    assert_int_equal(s.toolong[0], 1001);
    seen_free(&s);
}

/* a read budget of 7 bytes per round changes nothing but the number of rounds */
static void
test_small_budget(void **state)
{
    seen_t	s;

    (void)state;
    assert_int_equal(run("echo one; echo two three; head -c 10000 /dev/zero | tr '\\0' q; echo",
			 "", 1 << 20, 7, &s), 0);
    assert_int_equal(s.nout, 3);
    assert_string_equal(s.out[0], "one");
    assert_string_equal(s.out[1], "two three");
    assert_int_equal(s.outlen[2], 10000);
    seen_free(&s);
}

/* the text goes to stdin; stderr lines go to their own callback; the exit code */
static void
test_stdin_stderr(void **state)
{
    seen_t	s;

    (void)state;
    assert_int_equal(run("read -r l; echo \"got $l\"; echo oops >&2; exit 3",
			 "hello script\n", 1 << 20, (size_t)-1, &s), 3);
    assert_int_equal(s.nout, 1);
    assert_string_equal(s.out[0], "got hello script");
    assert_int_equal(s.nerr, 1);
    assert_string_equal(s.err[0], "oops");
    seen_free(&s);
}

/* two runners, each with its child and what its callbacks saw */
typedef struct pair {
    runner_t	r[2];
    seen_t	s[2];
    int		done[2];	/* reaped */
} pair_t;

/* poll both as the agent's loop does until until(p) holds (or 20 s) */
static void
pump(pair_t *p, int (*until)(const pair_t *))
{
    struct pollfd pfd[2 * RUNNER_MAX_POLLFDS];
    int		n[2], i, k, status;

    for (i = 0; i < 2000 && !until(p); i++) {
	for (k = 0; k < 2; k++)
	    n[k] = runner_pollfds(&p->r[k], pfd + k * RUNNER_MAX_POLLFDS);
	for (k = 0; k < 2; k++) {
	    if (n[k] > 0 && poll(pfd + k * RUNNER_MAX_POLLFDS, n[k], 5) > 0)
		runner_io(&p->r[k], pfd + k * RUNNER_MAX_POLLFDS, n[k], (size_t)-1, mono(),
			  &ops, &p->s[k]);
	    if (!p->done[k] && waitpid(p->r[k].pid, &status, WNOHANG) == p->r[k].pid) {
		runner_exited(&p->r[k], status, &ops, &p->s[k]);
		p->done[k] = 1;
	    }
	}
	if (n[0] == 0 && n[1] == 0)
	    usleep(5000);
    }
    if (!until(p))
	fail_msg("the children did not get there in 20 s");
}

/* start two children on runners with max_line limit */
static void
pair_start(pair_t *p, const char *cmd_a, const char *cmd_b, size_t limit)
{
    char	*argv[2][4] = {
	{ "sh", "-c", (char *)cmd_a, NULL },
	{ "sh", "-c", (char *)cmd_b, NULL },
    };
    int		k;

    memset(p, 0, sizeof(*p));
    for (k = 0; k < 2; k++) {
	runner_init(&p->r[k], limit);
	assert_int_equal(runner_start(&p->r[k], argv[k], "", 0), 0);
    }
}

static void
pair_free(pair_t *p)
{
    int		k;

    for (k = 0; k < 2; k++) {
	runner_free(&p->r[k]);
	seen_free(&p->s[k]);
    }
}

static int a_partial_read(const pair_t *p) { return p->r[0].out_bytes == 2; }
static int a_all_read(const pair_t *p) { return p->r[0].out_bytes == 10; }
static int both_reaped(const pair_t *p) { return p->done[0] && p->done[1]; }

/*
 * Runners share one read buffer: the partial lines of two children, read
 * in turns, each come out whole and unmixed.  Between reads a runner
 * holds only its partial line, and no buffer at all when it has none.
 */
static void
test_shared_buffer(void **state)
{
    pair_t	p;
    int		k;

    (void)state;
    pair_start(&p, "printf a1; sleep 0.4; printf 'a2\\na3'; sleep 0.4; echo a4; sleep 0.2",
		"sleep 0.2; printf 'b1\\nb2'; sleep 0.4; echo b3", 1 << 20);

    pump(&p, a_partial_read);		/* "a1" read, no newline yet */
    assert_int_equal(p.s[0].nout, 0);
    assert_int_equal(p.r[0].out.len, 2);
    assert_int_equal(p.r[0].out.size, 2);	/* the partial line, not a read buffer */
    assert_memory_equal(p.r[0].out.data, "a1", 2);

    pump(&p, a_all_read);		/* all of "a1a2\na3a4\n" read */
    assert_null(p.r[0].out.data);
    assert_int_equal(p.r[0].out.size, 0);

    pump(&p, both_reaped);
    assert_int_equal(p.s[0].nout, 2);
    assert_string_equal(p.s[0].out[0], "a1a2");
    assert_string_equal(p.s[0].out[1], "a3a4");
    assert_int_equal(p.s[1].nout, 2);
    assert_string_equal(p.s[1].out[0], "b1");
    assert_string_equal(p.s[1].out[1], "b2b3");
    for (k = 0; k < 2; k++)
	assert_int_equal(p.s[k].ntoolong, 0);
    pair_free(&p);
}

/*
 * One runner in the middle of an over-long line while the other reads
 * whole lines: the long line is reported once with its full length, and
 * the other runner's lines are not taken for part of it.
 */
static void
test_shared_overlong(void **state)
{
    pair_t	p;

    (void)state;
    pair_start(&p, "head -c 3000 /dev/zero | tr '\\0' y; sleep 0.4; printf 'yy\\na\\n'",
		"sleep 0.2; echo b1; sleep 0.4; echo b2", 1000);
    pump(&p, both_reaped);
    assert_int_equal(p.s[0].ntoolong, 1);
    assert_int_equal(p.s[0].toolong[0], 3002);
    assert_int_equal(p.s[0].nout, 1);
    assert_string_equal(p.s[0].out[0], "a");
    assert_int_equal(p.s[1].ntoolong, 0);
    assert_int_equal(p.s[1].nout, 2);
    assert_string_equal(p.s[1].out[0], "b1");
    assert_string_equal(p.s[1].out[1], "b2");
    pair_free(&p);
}

static int a_big_read(const pair_t *p) { return p->r[0].out_bytes == 100000; }

/*
 * A big partial line (a map print longer than one read) stays in the
 * buffer it was read into, held by its runner while the other one reads,
 * and comes out whole when its newline arrives.
 */
static void
test_shared_big_partial(void **state)
{
    pair_t	p;
    size_t	i;

    (void)state;
    pair_start(&p, "head -c 100000 /dev/zero | tr '\\0' x; sleep 0.4; echo z",
		"sleep 0.2; echo b1; echo b2", 1 << 20);
    pump(&p, a_big_read);
    assert_int_equal(p.s[0].nout, 0);
    assert_int_equal(p.r[0].out.len, 100000);
    /* the buffer it was read into, not a copy made to measure */
    assert_true(p.r[0].out.size > p.r[0].out.len);
    pump(&p, both_reaped);
    assert_int_equal(p.s[0].nout, 1);
    assert_int_equal(p.s[0].outlen[0], 100001);
    for (i = 0; i < 100000; i++)
	if (p.s[0].out[0][i] != 'x')
	    fail_msg("byte %zu is %#x", i, p.s[0].out[0][i]);
    assert_int_equal(p.s[0].out[0][100000], 'z');
    assert_int_equal(p.s[1].nout, 2);
    assert_string_equal(p.s[1].out[0], "b1");
    assert_string_equal(p.s[1].out[1], "b2");
    pair_free(&p);
}

/* is fd among the n pollfds? */
static int
polled(const struct pollfd *pfd, int n, int fd)
{
    int		i;

    for (i = 0; i < n; i++)
	if (pfd[i].fd == fd)
	    return 1;
    return 0;
}

/* one round of the agent's loop: timers, pollfds, poll, io */
static void
round_once(runner_t *r, size_t budget, seen_t *s)
{
    struct pollfd	pfd[RUNNER_MAX_POLLFDS];
    int			n;

    runner_timers(r, mono());
    n = runner_pollfds(r, pfd);
    if (n > 0 && poll(pfd, n, 10) > 0)
	runner_io(r, pfd, n, budget, mono(), &ops, s);
    else if (n == 0)
	usleep(10000);
}

/* start sh -c argv[2] with stdout resting hold seconds when busy */
static void
rest_start(runner_t *r, seen_t *s, char **argv, double hold)
{
    memset(s, 0, sizeof(*s));
    runner_init(r, 1 << 20);
    r->hold_secs = hold;
    assert_int_equal(runner_start(r, argv, "", 0), 0);
}

/* reap it, read what is left, free everything */
static void
rest_end(runner_t *r, seen_t *s)
{
    int		status;

    waitpid(r->pid, &status, 0);
    runner_exited(r, status, &ops, s);
    runner_free(r);
    seen_free(s);
}

/*
 * Once a read empties a busy stdout (emptied before within 2 * hold_secs),
 * stdout rests for hold_secs: it is not polled, runner_timers() names the
 * deadline and ends the rest, and what came meanwhile is read after it.
 * A first or lone print starts no rest, nor does a line still arriving in
 * pieces, nor a read that leaves data in the pipe (the budget ran out).
 */
static void
test_stdout_rest(void **state)
{
    char		*argv[] = { "sh", "-c", "printf 'a\\n'; sleep 0.1; printf 'b\\n'; "
				    "sleep 1; printf 'c\\n'", NULL };
    char		*argv2[] = { "sh", "-c", "printf '%0100d\\n' 0", NULL };	/* one write */
    char		*argv3[] = { "sh", "-c", "printf xxx; sleep 0.1; printf yyy; sleep 0.1; "
				     "printf 'zzz\\n'", NULL };
    struct pollfd	pfd[RUNNER_MAX_POLLFDS];
    runner_t		r;
    seen_t		s;
    double		due, now;
    int			i, n;

    (void)state;
    rest_start(&r, &s, argv, 0.2);
    for (i = 0; i < 200 && s.nout == 0; i++)
	round_once(&r, (size_t)-1, &s);
    assert_int_equal(s.nout, 1);
    assert_true(r.out_hold == 0);		/* the first print */
    for (i = 0; i < 200 && s.nout == 1; i++)
	round_once(&r, (size_t)-1, &s);
    assert_int_equal(s.nout, 2);
    assert_true(r.out_hold > 0);		/* the second, 0.1 s later */
    n = runner_pollfds(&r, pfd);
    assert_false(polled(pfd, n, r.out_fd));
    now = mono();
    due = runner_timers(&r, now);
    assert_true(due > 0 && due <= 0.2);
    assert_true(runner_timers(&r, r.out_hold + 0.001) < 0 || r.kill_at > 0);
    assert_true(r.out_hold == 0);
    n = runner_pollfds(&r, pfd);
    assert_true(polled(pfd, n, r.out_fd));
    for (i = 0; i < 500 && s.nout < 3; i++)
	round_once(&r, (size_t)-1, &s);
    assert_int_equal(s.nout, 3);
    assert_string_equal(s.out[2], "c");
    assert_true(r.out_hold == 0);		/* 1 s after the one before */
    rest_end(&r, &s);

    /* no rest in the middle of a line: the rest of it is on its way */
    rest_start(&r, &s, argv3, 0.2);
    for (i = 0; i < 500 && s.nout == 0; i++) {
	round_once(&r, (size_t)-1, &s);
	if (r.out_bytes > 0 && s.nout == 0)
	    assert_true(r.out_hold == 0);
    }
    assert_int_equal(s.nout, 1);
    assert_string_equal(s.out[0], "xxxyyyzzz");
    rest_end(&r, &s);

    /* a budget of 4 bytes leaves most of the line in the pipe: no rest */
    rest_start(&r, &s, argv2, 60);
    for (i = 0; i < 200 && r.out_bytes == 0; i++)
	round_once(&r, 4, &s);
    assert_int_equal(r.out_bytes, 4);
    assert_true(r.out_hold == 0);
    for (i = 0; i < 400 && s.nout == 0; i++)
	round_once(&r, 4, &s);
    assert_int_equal(s.nout, 1);
    assert_int_equal(s.outlen[0], 100);
    rest_end(&r, &s);
}

/*
 * Reaped before its pipes were read at all: what it wrote is read at the
 * exit, last lines without a newline included, on stdout (a print cut
 * short) and on stderr (bpftrace's error message).
 */
static void
test_exit_last_lines(void **state)
{
    char	*argv[] = { "sh", "-c",
	"printf 'line1\\nERROR: no newline at end' >&2; printf '{\"a\":1}\\n{\"partial\":'", NULL };
    runner_t	r;
    seen_t	s;
    int		status;

    (void)state;
    memset(&s, 0, sizeof(s));
    runner_init(&r, 1 << 20);
    assert_int_equal(runner_start(&r, argv, "", 0), 0);
    assert_int_equal(waitpid(r.pid, &status, 0), r.pid);
    runner_exited(&r, status, &ops, &s);
    runner_free(&r);
    assert_int_equal(s.nout, 2);
    assert_string_equal(s.out[0], "{\"a\":1}");
    assert_string_equal(s.out[1], "{\"partial\":");
    assert_int_equal(s.nerr, 2);
    assert_string_equal(s.err[0], "line1");
    assert_string_equal(s.err[1], "ERROR: no newline at end");
    seen_free(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_split_lines),
	cmocka_unit_test(test_big_line),
	cmocka_unit_test(test_too_long),
	cmocka_unit_test(test_limit_edge),
	cmocka_unit_test(test_small_budget),
	cmocka_unit_test(test_stdin_stderr),
	cmocka_unit_test(test_shared_buffer),
	cmocka_unit_test(test_shared_overlong),
	cmocka_unit_test(test_shared_big_partial),
	cmocka_unit_test(test_stdout_rest),
	cmocka_unit_test(test_exit_last_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
