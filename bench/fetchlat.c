/*
 * fetchlat: fetch latency of one metric through a persistent PMAPI context.
 *
 *   fetchlat [-h HOST] [-n COUNT] [-w WARMUP] [-i MSEC] [-t SECS] [-s STOPFILE]
 *            [-m MIN_VALUES] METRIC
 *
 * Makes one context, looks the name up once, does WARMUP untimed fetches
 * (default 5), then times COUNT pmFetch calls (default 200), sleeping MSEC
 * between them (default 0).  It stops early after SECS seconds (default
 * 120) or as soon as STOPFILE exists.  A fetch that returns fewer than
 * MIN_VALUES values (default 1) is counted in "short".
 *
 * stdout, one line:
 *   n=N p50_us=X p99_us=Y max_us=Z mean_us=M values=V short=S errors=E cpu_us=C
 * where values is the number of values of the last fetch and cpu_us this
 * client's own CPU time (user + system) per timed fetch.
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

int
main(int argc, char **argv)
{
    const char	*host = "local:", *stopfile = NULL;
    char	*name;
    int		count = 200, warmup = 5, interval_ms = 0, min_values = 1;
    double	max_secs = 120, start, t0, t1, sum = 0, *lat, cpu = 0, c0;
    int		c, i, n = 0, sts, ctx, values = 0, shorts = 0, errors = 0;
    pmID	pmid;
    pmResult	*rp;

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
		    "[-t SECS] [-s STOPFILE] [-m MIN_VALUES] METRIC\n", argv[0]);
	    return 2;
	}
    }
    if (optind != argc - 1 || count <= 0) {
	fprintf(stderr, "Usage: %s [options] METRIC\n", argv[0]);
	return 2;
    }
    name = argv[optind];
    if ((ctx = pmNewContext(PM_CONTEXT_HOST, host)) < 0) {
	fprintf(stderr, "pmNewContext(%s): %s\n", host, pmErrStr(ctx));
	return 2;
    }
    if ((sts = pmLookupName(1, (const char **)&name, &pmid)) < 0) {
	fprintf(stderr, "pmLookupName(%s): %s\n", name, pmErrStr(sts));
	return 2;
    }
    if ((lat = calloc(count, sizeof(*lat))) == NULL)
	return 2;

    start = now_us();
    for (i = 0; i < warmup + count; i++) {
	if (now_us() - start > max_secs * 1e6)
	    break;
	if (stopfile && access(stopfile, F_OK) == 0)
	    break;
	c0 = cpu_us();
	t0 = now_us();
	sts = pmFetch(1, &pmid, &rp);
	t1 = now_us();
	if (i >= warmup)
	    cpu += cpu_us() - c0;
	if (sts < 0) {
	    errors++;
	    if (sts == PM_ERR_IPC || sts == -ECONNRESET) {
		fprintf(stderr, "pmFetch: %s\n", pmErrStr(sts));
		break;
	    }
	}
	else {
	    values = rp->vset[0]->numval;
	    pmFreeResult(rp);
	}
	if (i >= warmup) {
	    lat[n++] = t1 - t0;
	    sum += t1 - t0;
	    if (sts < 0 || values < min_values)
		shorts++;
	}
	if (interval_ms > 0)
	    usleep(interval_ms * 1000);
    }
    qsort(lat, n, sizeof(*lat), cmp_double);
    printf("n=%d p50_us=%.0f p99_us=%.0f max_us=%.0f mean_us=%.0f values=%d short=%d errors=%d cpu_us=%.0f\n",
	   n, percentile(lat, n, 50), percentile(lat, n, 99),
	   n ? lat[n - 1] : 0.0, n ? sum / n : 0.0, values, shorts, errors,
	   n ? cpu / n : 0.0);
    free(lat);
    pmDestroyContext(ctx);
    return 0;
}
