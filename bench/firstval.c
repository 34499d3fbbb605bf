/*
 * firstval: time from making a script known to the first value of one of
 * its metrics.
 *
 *   firstval [-h HOST] [-t SECS] [-i MSEC] -r SCRIPTFILE METRIC
 *	stores the text of SCRIPTFILE into bpftrace.control.register
 *   firstval [-h HOST] [-t SECS] [-i MSEC] -m FROM TO METRIC
 *	renames FROM to TO (a drop-in file appearing at once)
 *
 * then fetches METRIC every MSEC (default 5) until it has a value, for at
 * most SECS (default 60).  The name is looked up again until it exists.
 *
 * stdout, one line: "ms=X store_ms=Y" (X from just before the store or
 * rename to the fetch that returned the first value; Y the store alone),
 * or "ms=timeout store_ms=Y".
 * exit: 0 with a value, 1 on timeout, 2 on usage or store errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <errno.h>
#include <pcp/pmapi.h>

#include "benchutil.h"

static int
store_string(const char *metric, const char *value)
{
    pmValueBlock	*vb;
    pmValueSet		vs;
    pmResult		*rp;
    pmID		pmid;
    size_t		len = strlen(value) + 1;
    int			sts;

    if ((sts = pmLookupName(1, &metric, &pmid)) < 0)
	return sts;
    if ((vb = malloc(PM_VAL_HDR_SIZE + len)) == NULL ||
	(rp = calloc(1, sizeof(*rp))) == NULL)
	return -ENOMEM;
    vb->vtype = PM_TYPE_STRING;
    vb->vlen = PM_VAL_HDR_SIZE + len;
    memcpy(vb->vbuf, value, len);
    memset(&vs, 0, sizeof(vs));
    vs.pmid = pmid;
    vs.numval = 1;
    vs.valfmt = PM_VAL_DPTR;
    vs.vlist[0].inst = PM_IN_NULL;
    vs.vlist[0].value.pval = vb;
    rp->numpmid = 1;
    rp->vset[0] = &vs;
    sts = pmStore(rp);
    free(vb);
    free(rp);
    return sts;
}

int
main(int argc, char **argv)
{
    const char	*host = "local:", *script = NULL, *from = NULL, *to = NULL;
    const char	*name;
    char	*text = NULL;
    double	max_secs = 60, t0, tstore = 0;
    int		c, sts, ctx, interval_ms = 5, have_pmid = 0;
    pmID	pmid;
    pmResult	*rp;

    pmSetProgname(argv[0]);
    while ((c = getopt(argc, argv, "h:t:i:r:m:")) != -1) {
	switch (c) {
	case 'h': host = optarg; break;
	case 't': max_secs = atof(optarg); break;
	case 'i': interval_ms = atoi(optarg); break;
	case 'r': script = optarg; break;
	case 'm': from = optarg; break;
	default:
	    goto usage;
	}
    }
    if (from != NULL && optind < argc)
	to = argv[optind++];
    if (optind != argc - 1 || (script == NULL) == (from == NULL))
	goto usage;
    name = argv[optind];
    if (script && (text = slurp(script)) == NULL) {
	perror(script);
	return 2;
    }
    if ((ctx = pmNewContext(PM_CONTEXT_HOST, host)) < 0) {
	fprintf(stderr, "pmNewContext(%s): %s\n", host, pmErrStr(ctx));
	return 2;
    }

    t0 = now_ms();
    if (text != NULL) {
	if ((sts = store_string("bpftrace.control.register", text)) < 0) {
	    fprintf(stderr, "pmStore: %s\n", pmErrStr(sts));
	    return 2;
	}
    }
    else if (rename(from, to) < 0) {
	perror("rename");
	return 2;
    }
    tstore = now_ms() - t0;

    while (now_ms() - t0 < max_secs * 1e3) {
	if (!have_pmid && pmLookupName(1, &name, &pmid) >= 0)
	    have_pmid = 1;
	if (have_pmid && pmFetch(1, &pmid, &rp) >= 0) {
	    int numval = rp->vset[0]->numval;

	    pmFreeResult(rp);
	    if (numval > 0) {
		printf("ms=%.0f store_ms=%.1f\n", now_ms() - t0, tstore);
		return 0;
	    }
	}
	usleep(interval_ms * 1000);
    }
    printf("ms=timeout store_ms=%.1f\n", tstore);
    return 1;

usage:
    fprintf(stderr, "Usage: %s [-h HOST] [-t SECS] [-i MSEC] -r SCRIPTFILE METRIC\n"
		    "       %s [-h HOST] [-t SECS] [-i MSEC] -m FROM TO METRIC\n",
		    argv[0], argv[0]);
    return 2;
}
