/*
 * parsebench: the agent's parser alone (src/parser.c into src/variables.c)
 * on recorded and synthetic bpftrace 0.17 output.
 *
 *   parsebench [-d DATADIR] [-s SECONDS] [-j] [-c] [-o NAME] [-r ROUNDS]
 *
 * Datasets: the recorded lines in DATADIR (default bench/data, see its
 * README), and synthetic lines in the same format, made here: a map of
 * 100,000 integer keys, a map of 16,000 kernel stacks, and 100,000
 * printf() records into data.output (an opensnoop-like flood, which
 * keeps the output at its 64 KiB bound).  Each dataset is
 * parsed once cold (every instance is new), then again and again for about
 * SECONDS (default 1) as bpftrace prints it every second; the steady rate
 * is what the agent pays per print.  -j adds, for comparison, the time of
 * json-c alone (json_tokener_parse of the same lines, nothing else) and
 * of the agent's parser with its scanner off (every line through json-c).
 * -o runs only the datasets whose name starts with NAME, -r makes at
 * least ROUNDS steady rounds (default 3): for profiling.  -c writes over
 * 8 MiB between two passes (not timed), so that every print meets cold
 * caches, as in the agent, where bpftrace runs between two prints.
 *
 * stdout: one line per dataset:
 *   dataset=NAME bytes=B instances=I cold_ms=C MBps=M ns_per_inst=N
 * (for printf datasets, instances are the records)
 *   [jsonc_MBps=J jsonc_parser_MBps=P]
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <json-c/json.h>
#include "parser.h"

typedef struct {
    const char	*name;
    var_func_t	func;
    int		keyed, is_string, stacks;
    int		retain;		/* @output's table-retain-lines, 0: none */
} spec_t;

typedef struct {
    const char	*name;		/* dataset */
    const char	*file;		/* in DATADIR, NULL: synthetic */
    char	*(*make)(size_t *len);	/* synthetic generator */
    spec_t	vars[3];	/* exported variables, name NULL ends */
} dataset_t;

typedef struct {
    char	**lines;
    size_t	*lens;
    int		n;
    size_t	bytes;
} lines_t;

static double
now_s(void)
{
    struct timespec	ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* a growing text buffer for the generators */
typedef struct {
    char	*p;
    size_t	len, size;
} sbuf_t;

static void
sb_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->size) {
	b->size = (b->len + n + 1) * 2;
	if ((b->p = realloc(b->p, b->size)) == NULL) {
	    perror("realloc");
	    exit(2);
	}
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(sbuf_t *b, const char *fmt, ...)
{
    char	tmp[512];
    va_list	ap;
    int		n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    sb_add(b, tmp, n);
}

/* {"type": "map", "data": {"@m": {"0": 0, "1": 7919, ...}}} as 0.17 prints it */
static char *
make_map100k(size_t *len)
{
    sbuf_t	b = { 0 };
    int		i;

    sb_printf(&b, "{\"type\": \"map\", \"data\": {\"@m\": {");
    for (i = 0; i < 100000; i++)
	sb_printf(&b, "%s\"%d\": %llu", i ? ", " : "", i, (unsigned long long)i * 7919);
    sb_printf(&b, "}}}");
    *len = b.len;
    return b.p;
}

/* the benchmark's steady workload: 16,000 keys, 10-digit values */
static char *
make_steady16k(size_t *len)
{
    sbuf_t	b = { 0 };
    int		i;

    sb_printf(&b, "{\"type\": \"map\", \"data\": {\"@m\": {");
    for (i = 0; i < 16000; i++)
	sb_printf(&b, "%s\"%d\": %llu", i ? ", " : "", i, 2679710830ULL + (unsigned long long)i * 3);
    sb_printf(&b, "}}}");
    *len = b.len;
    return b.p;
}

/*
 * 16,000 distinct kernel stacks of 8 to 20 frames, keyed as bpftrace 0.17
 * prints kstack ("\n" + "    func+off\n" per frame), counts as values.
 */
static char *
make_stacks16k(size_t *len)
{
    static const char *funcs[] = {
	"entry_SYSCALL_64_after_hwframe", "do_syscall_64", "__x64_sys_read",
	"ksys_read", "vfs_read", "new_sync_read", "filemap_read",
	"filemap_get_pages", "copy_page_to_iter", "_copy_to_user",
	"__schedule", "schedule", "schedule_hrtimeout_range_clock",
	"do_sys_poll", "__x64_sys_poll", "native_safe_halt", "default_idle",
	"default_idle_call", "do_idle", "cpu_startup_entry", "start_secondary",
	"secondary_startup_64_no_verify", "handle_mm_fault", "do_user_addr_fault",
	"exc_page_fault", "asm_exc_page_fault", "tcp_sendmsg_locked",
	"tcp_sendmsg", "sock_sendmsg", "__sys_sendto", "__x64_sys_sendto",
	"ext4_file_write_iter", "vfs_write", "ksys_write", "__x64_sys_write",
    };
    const int	nf = sizeof(funcs) / sizeof(funcs[0]);
    sbuf_t	b = { 0 };
    unsigned	seed = 12345;
    int		i, k, depth;

    sb_printf(&b, "{\"type\": \"map\", \"data\": {\"@\": {");
    for (i = 0; i < 16000; i++) {
	sb_printf(&b, "%s\"\\n", i ? ", " : "");
	depth = 8 + i % 13;
	for (k = 0; k < depth; k++) {
	    seed = seed * 1103515245 + 12345;
	    sb_printf(&b, "    %s+%u\\n", funcs[(seed >> 8) % nf],
		      k == 0 ? (unsigned)i : (seed >> 16) % 1200);
	}
	sb_printf(&b, "\": %d", 1 + i % 97);
    }
    sb_printf(&b, "}}}");
    *len = b.len;
    return b.p;
}

/* 100,000 printf() records as opensnoop.bt prints them: pid comm fd err path */
static char *
make_printf100k(size_t *len)
{
    static const char *comms[] = { "bash", "systemd-journal", "pmcd", "sshd", "cron" };
    static const char *paths[] = { "/etc/ld.so.cache", "/proc/self/stat",
	"/usr/lib/x86_64-linux-gnu/libc.so.6", "/var/log/pcp/pmcd/pmcd.log",
	"/sys/fs/cgroup/system.slice/cpu.stat" };
    sbuf_t	b = { 0 };
    int		i;

    for (i = 0; i < 100000; i++)
	sb_printf(&b, "{\"type\": \"printf\", \"data\": \"%-6d %-16s %4d %3d %s\\n\"}\n",
		  1000 + i % 30000, comms[i % 5], 3 + i % 40, i % 7 ? 0 : 2, paths[i % 5]);
    *len = b.len;
    return b.p;
}

static const dataset_t datasets[] = {
    { "map16k (recorded, int keys)", "map16k.jsonl", NULL,
      { { "@m", VAR_FUNC_ASSIGN, 1, 0, 0 } } },
    { "strkeys (recorded, comm,filename keys)", "strkeys.jsonl", NULL,
      { { "@f", VAR_FUNC_COUNT, 1, 0, 0 } } },
    { "kstacks (recorded, 2,299 kernel stacks)", "kstacks.jsonl", NULL,
      { { "@", VAR_FUNC_COUNT, 1, 0, 1 } } },
    { "hists (recorded, 50 keyed hist + lhist)", "hists.jsonl", NULL,
      { { "@h", VAR_FUNC_HIST, 1, 0, 0 }, { "@l", VAR_FUNC_LHIST, 0, 0, 0 } } },
    { "steady16k (synthetic, 10-digit values)", NULL, make_steady16k,
      { { "@m", VAR_FUNC_ASSIGN, 1, 0, 0 } } },
    { "map100k (synthetic, int keys)", NULL, make_map100k,
      { { "@m", VAR_FUNC_ASSIGN, 1, 0, 0 } } },
    { "stacks16k (synthetic kernel stacks)", NULL, make_stacks16k,
      { { "@", VAR_FUNC_COUNT, 1, 0, 1 } } },
    { "printf100k (synthetic printf flood)", NULL, make_printf100k,
      { { "@output", VAR_FUNC_OUTPUT, 0, 1, 0 } } },
    { "printf100k, table-retain-lines 1000", NULL, make_printf100k,
      { { "@output", VAR_FUNC_OUTPUT, 0, 1, 0, 1000 } } },
};

/* a copy of line (n bytes) at the end of l */
static int
add_line(lines_t *l, const char *line, size_t n)
{
    l->lines = realloc(l->lines, (l->n + 1) * sizeof(*l->lines));
    l->lens = realloc(l->lens, (l->n + 1) * sizeof(*l->lens));
    if (l->lines == NULL || l->lens == NULL || (l->lines[l->n] = malloc(n + 1)) == NULL)
	return -1;
    memcpy(l->lines[l->n], line, n);
    l->lines[l->n][n] = '\0';
    l->lens[l->n] = n;
    l->bytes += n + 1;
    l->n++;
    return 0;
}

static int
load_lines(const char *path, lines_t *l)
{
    FILE	*f = fopen(path, "r");
    char	*line = NULL;
    size_t	cap = 0;
    ssize_t	n;

    if (f == NULL)
	return -1;
    while ((n = getline(&line, &cap, f)) >= 0) {
	while (n > 0 && line[n - 1] == '\n')
	    n--;
	if (n == 0 || line[0] == '#')
	    continue;
	if (add_line(l, line, n) < 0) {
	    fclose(f);
	    return -1;
	}
    }
    free(line);
    fclose(f);
    return 0;
}

/* a generator's text, one line per '\n' (a map generator makes one) */
static int
split_lines(char *(*make)(size_t *len), lines_t *l)
{
    size_t	len, n;
    char	*text = make(&len), *p, *nl;

    for (p = text; p < text + len; p = nl + 1) {
	if ((nl = memchr(p, '\n', text + len - p)) == NULL)
	    nl = text + len;
	if ((n = nl - p) == 0)
	    continue;
	if (add_line(l, p, n) < 0)
	    return -1;
    }
    free(text);
    return 0;
}

/* -c: the caches are cold for every print, as in the agent between two */
static int	cold_caches;
static char	*trash;
#define TRASH_SIZE	(8 << 20)

static double	trash_secs;

static void
trash_caches(void)
{
    double	t0 = 0;
    size_t	i;

    if (!cold_caches)
	return;
    if (trash == NULL && (trash = malloc(TRASH_SIZE)) == NULL)
	return;
    t0 = now_s();
    for (i = 0; i < TRASH_SIZE; i += 64)
	trash[i]++;
    trash_secs += now_s() - t0;
}

/* one pass over every line, as the runner hands them over (a copy each) */
static void
parse_all(parse_target_t *t, const lines_t *l, char *scratch)
{
    int		i;

    trash_caches();
    for (i = 0; i < l->n; i++) {
	memcpy(scratch, l->lines[i], l->lens[i] + 1);
	parse_line(t, scratch, l->lens[i]);
    }
}

static long	min_rounds = 3;

static void
run(const dataset_t *d, const char *datadir, double secs, int jsonc)
{
    parse_target_t	t;
    variable_t		vars[3];
    lines_t		l = { 0 };
    char		path[4096], *scratch;
    size_t		maxlen = 0;
    double		t0, cold, elapsed;
    long		rounds = 0;
    int			i, nv = 0, ninst = 0;

    if (d->file) {
	snprintf(path, sizeof(path), "%s/%s", datadir, d->file);
	if (load_lines(path, &l) < 0 || l.n == 0) {
	    fprintf(stderr, "%s: cannot load\n", path);
	    return;
	}
    }
    else if (split_lines(d->make, &l) < 0) {
	fprintf(stderr, "%s: out of memory\n", d->name);
	return;
    }
    for (i = 0; i < l.n; i++)
	if (l.lens[i] > maxlen)
	    maxlen = l.lens[i];
    if ((scratch = malloc(maxlen + 2)) == NULL)
	return;

    memset(&t, 0, sizeof(t));
    for (nv = 0; nv < 3 && d->vars[nv].name; nv++) {
	const spec_t *s = &d->vars[nv];
	var_init(&vars[nv], s->name, s->func, s->keyed, s->is_string, s->stacks);
	vars[nv].max_inst = 1000000;
	if (s->retain > 0)
	    vars[nv].retain_lines = s->retain;
	if (s->func == VAR_FUNC_OUTPUT)
	    t.output = &vars[nv];
    }
    t.vars = vars;
    t.nvars = nv;

    t0 = now_s();
    parse_all(&t, &l, scratch);
    cold = now_s() - t0;
    for (i = 0; i < nv; i++)
	ninst += vars[i].func == VAR_FUNC_OUTPUT ? l.n :
		 vars[i].single ? 1 : vars[i].nset;
    if (t.parse_errors)
	fprintf(stderr, "%s: %llu parse errors\n", d->name, (unsigned long long)t.parse_errors);

    t0 = now_s();
    trash_secs = 0;
    do {
	parse_all(&t, &l, scratch);
	rounds++;
    } while ((elapsed = now_s() - t0) < secs || rounds < min_rounds);
    elapsed -= trash_secs;

    printf("dataset=\"%s\" bytes=%zu instances=%d cold_ms=%.2f MBps=%.0f ns_per_inst=%.0f",
	   d->name, l.bytes, ninst, cold * 1e3,
	   l.bytes * rounds / elapsed / 1e6, elapsed * 1e9 / rounds / (ninst ? ninst : 1));

    if (jsonc) {
	long	jr = 0;

	t0 = now_s();
	do {
	    for (i = 0; i < l.n; i++) {
		json_object *o = json_tokener_parse(l.lines[i]);
		json_object_put(o);
	    }
	    jr++;
	} while ((elapsed = now_s() - t0) < secs || jr < 3);
	printf(" jsonc_MBps=%.0f", l.bytes * jr / elapsed / 1e6);

	parse_scanner = 0;
	jr = 0;
	t0 = now_s();
	do {
	    parse_all(&t, &l, scratch);
	    jr++;
	} while ((elapsed = now_s() - t0) < secs || jr < 3);
	parse_scanner = 1;
	printf(" jsonc_parser_MBps=%.0f", l.bytes * jr / elapsed / 1e6);
    }
    printf("\n");
    fflush(stdout);

    for (i = 0; i < nv; i++)
	var_free(&vars[i]);
    for (i = 0; i < l.n; i++)
	free(l.lines[i]);
    free(l.lines);
    free(l.lens);
    free(scratch);
}

int
main(int argc, char **argv)
{
    const char	*datadir = "bench/data";
    const char	*only = NULL;
    double	secs = 1;
    int		c, jsonc = 0;
    size_t	i;

    while ((c = getopt(argc, argv, "d:s:jo:r:c")) != -1) {
	switch (c) {
	case 'o': only = optarg; break;
	case 'r': min_rounds = atol(optarg); break;
	case 'c': cold_caches = 1; break;
	case 'd': datadir = optarg; break;
	case 's': secs = atof(optarg); break;
	case 'j': jsonc = 1; break;
	default:
	    fprintf(stderr, "Usage: %s [-d DATADIR] [-s SECONDS] [-j] [-c] [-o NAME] [-r ROUNDS]\n", argv[0]);
	    return 2;
	}
    }
    for (i = 0; i < sizeof(datasets) / sizeof(datasets[0]); i++)
	if (only == NULL || strncmp(datasets[i].name, only, strlen(only)) == 0)
	    run(&datasets[i], datadir, secs, jsonc);
    return 0;
}
