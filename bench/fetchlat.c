/*
 * fetchlat: fetch latency of one metric through a persistent PMAPI context.
 *
 *   fetchlat [-h HOST] [-n COUNT] [-w WARMUP] [-i MSEC] [-t SECS] [-s STOPFILE]
 *            [-m MIN_VALUES] METRIC [METRIC2]
 *
 * Makes one context, looks the name up once, does WARMUP untimed fetches
 * (default 5), then times COUNT pmFetch calls (default 200), sleeping MSEC
 * between them (default 0).  It stops early after SECS seconds (default
 * 120) or as soon as STOPFILE exists.  A fetch that returns fewer than
 * MIN_VALUES values (default 1) is counted in "short".
 *
 * With METRIC2, each round fetches METRIC and then METRIC2, each timed on
 * its own: two agents measured in turn, fetch by fetch, see the same noise
 * from a shared host, where two runs minutes apart do not.
 *
 * stdout, one line per metric:
 *   [metric=NAME ]n=N p50_us=X p99_us=Y max_us=Z mean_us=M values=V short=S errors=E cpu_us=C
 * where values is the number of values of the last fetch and cpu_us this
 * client's own CPU time (user + system) per timed fetch; "metric=NAME "
 * starts the line only when there are two metrics.
 * exit: 0, or 2 for a usage, context or name error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <errno.h>
#include <sys/resource.h>
#include <pcp/pmapi.h>

static double
now_us(void)
{
    struct timespec	ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double
cpu_us(void)
{
    struct rusage	ru;

    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	   ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static int
cmp_double(const void *a, const void *b)
{
    double	x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* nearest-rank percentile of a sorted array */
static double
percentile(const double *v, int n, double p)
{
    int		k;

    if (n == 0)
	return 0;
    k = (int)(p / 100.0 * n + 0.999999) - 1;
    if (k < 0)
	k = 0;
    if (k >= n)
	k = n - 1;
    return v[k];
}

/* one metric's fetches and what they measured */
typedef struct {
    char	*name;
    pmID	pmid;
    double	*lat;
    int		n;
    double	sum, cpu;
    int		values, shorts, errors;
} series_t;

/* one timed fetch of s; returns pmFetch's status */
static int
fetch_one(series_t *s, int timed, int min_values)
{
    pmResult	*rp;
    double	t0, t1, c0;
    int		sts;

    c0 = cpu_us();
    t0 = now_us();
    sts = pmFetch(1, &s->pmid, &rp);
    t1 = now_us();
    if (timed)
	s->cpu += cpu_us() - c0;
    if (sts < 0)
	s->errors++;
    else {
	s->values = rp->vset[0]->numval;
	pmFreeResult(rp);
    }
    if (timed) {
	s->lat[s->n++] = t1 - t0;
	s->sum += t1 - t0;
	if (sts < 0 || s->values < min_values)
	    s->shorts++;
    }
    return sts;
}

static void
report(series_t *s, int named)
{
    qsort(s->lat, s->n, sizeof(*s->lat), cmp_double);
    if (named)
	printf("metric=%s ", s->name);
    printf("n=%d p50_us=%.0f p99_us=%.0f max_us=%.0f mean_us=%.0f values=%d short=%d errors=%d cpu_us=%.0f\n",
	   s->n, percentile(s->lat, s->n, 50), percentile(s->lat, s->n, 99),
	   s->n ? s->lat[s->n - 1] : 0.0, s->n ? s->sum / s->n : 0.0,
	   s->values, s->shorts, s->errors, s->n ? s->cpu / s->n : 0.0);
}

int
main(int argc, char **argv)
{
    const char	*host = "local:", *stopfile = NULL;
    int		count = 200, warmup = 5, interval_ms = 0, min_values = 1;
    double	max_secs = 120, start;
    int		c, i, j, nseries, sts, ctx, stop = 0;
    series_t	series[2];

    pmSetProgname(argv[0]);
    while ((c = getopt(argc, argv, "h:n:w:i:t:s:m:")) != -1) {
	switch (c) {
	case 'h': host = optarg; break;
	case 'n': count = atoi(optarg); break;
	case 'w': warmup = atoi(optarg); break;
	case 'i': interval_ms = atoi(optarg); break;
	case 't': max_secs = atof(optarg); break;
	case 's': stopfile = optarg; break;
	case 'm': min_values = atoi(optarg); break;
	default:
	    fprintf(stderr, "Usage: %s [-h HOST] [-n COUNT] [-w WARMUP] [-i MSEC] "
		    "[-t SECS] [-s STOPFILE] [-m MIN_VALUES] METRIC [METRIC2]\n", argv[0]);
	    return 2;
	}
    }
    nseries = argc - optind;
    if (nseries < 1 || nseries > 2 || count <= 0) {
	fprintf(stderr, "Usage: %s [options] METRIC [METRIC2]\n", argv[0]);
	return 2;
    }
    if ((ctx = pmNewContext(PM_CONTEXT_HOST, host)) < 0) {
	fprintf(stderr, "pmNewContext(%s): %s\n", host, pmErrStr(ctx));
	return 2;
    }
    memset(series, 0, sizeof(series));
    for (j = 0; j < nseries; j++) {
	series[j].name = argv[optind + j];
	if ((sts = pmLookupName(1, (const char **)&series[j].name, &series[j].pmid)) < 0) {
	    fprintf(stderr, "pmLookupName(%s): %s\n", series[j].name, pmErrStr(sts));
	    return 2;
	}
	if ((series[j].lat = calloc(count, sizeof(double))) == NULL)
	    return 2;
    }

    start = now_us();
    for (i = 0; i < warmup + count && !stop; i++) {
	if (now_us() - start > max_secs * 1e6)
	    break;
	if (stopfile && access(stopfile, F_OK) == 0)
	    break;
	for (j = 0; j < nseries; j++) {
	    sts = fetch_one(&series[j], i >= warmup, min_values);
	    if (sts == PM_ERR_IPC || sts == -ECONNRESET) {
		fprintf(stderr, "pmFetch: %s\n", pmErrStr(sts));
		stop = 1;
		break;
	    }
	}
	if (interval_ms > 0)
	    usleep(interval_ms * 1000);
    }
    for (j = 0; j < nseries; j++) {
	report(&series[j], nseries > 1);
	free(series[j].lat);
    }
    pmDestroyContext(ctx);
    return 0;
}
