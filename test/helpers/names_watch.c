/*
 * names_watch: fetch metrics every 100 ms until a fetch says that pmcd's
 * names changed (pmFetch returns PMCD_NAMES_CHANGE), as pmlogger and
 * pmproxy watch for it to look for new metrics.
 *
 *   names_watch [-h HOST] [-t SECS] METRIC...
 *
 * stdout: "names changed after N fetches" when one does.
 * exit:   0 a fetch said so, 1 none within SECS (default 15),
 *	   2 usage, context, lookup or fetch error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <pcp/pmapi.h>

#define MAXMETRICS	16

int
main(int argc, char **argv)
{
    const char	*host = "local:";
    pmID	pmids[MAXMETRICS];
    pmResult	*rp;
    int		c, n, ctx, sts, fetches, secs = 15;

    pmSetProgname(argv[0]);
    while ((c = getopt(argc, argv, "h:t:")) != -1) {
	switch (c) {
	case 'h':
	    host = optarg;
	    break;
	case 't':
	    secs = atoi(optarg);
	    break;
	default:
	    goto usage;
	}
    }
    n = argc - optind;
    if (n < 1 || n > MAXMETRICS)
	goto usage;
    if ((ctx = pmNewContext(PM_CONTEXT_HOST, host)) < 0) {
	fprintf(stderr, "pmNewContext(%s): %s\n", host, pmErrStr(ctx));
	return 2;
    }
    if ((sts = pmLookupName(n, (const char **)argv + optind, pmids)) < 0) {
	fprintf(stderr, "pmLookupName: %s\n", pmErrStr(sts));
	return 2;
    }
    for (fetches = 1; fetches <= secs * 10; fetches++) {
	if ((sts = pmFetch(n, pmids, &rp)) < 0) {
	    fprintf(stderr, "pmFetch: %s\n", pmErrStr(sts));
	    return 2;
	}
	pmFreeResult(rp);
	if (sts & PMCD_NAMES_CHANGE) {
	    printf("names changed after %d fetches\n", fetches);
	    return 0;
	}
	usleep(100000);
    }
    return 1;

usage:
    fprintf(stderr, "Usage: %s [-h HOST] [-t SECS] METRIC...\n", argv[0]);
    return 2;
}
