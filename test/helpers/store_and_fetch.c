/*
 * store_and_fetch: store a string into a metric, then fetch it again in
 * the same PMAPI context - like pmstore -F, but it goes on to fetch after
 * a failed store (PCP QA's src/store_and_fetch does the same), because
 * bpftrace.control.register keeps a refused script's JSON for exactly
 * that fetch.  pmstore itself gives up on PM_ERR_BADSTORE.
 *
 *   store_and_fetch [-h HOST] [-n COUNT] METRIC VALUE
 *
 * stdout: the fetched value, once per fetch (COUNT fetches, default 1),
 *	   one line each; "{}"-style JSON answers never contain a newline.
 * stderr: "pmStore: MESSAGE" when the store failed.
 * exit:   0 store succeeded, 1 store failed (fetches still done),
 *	   2 usage or context/lookup/fetch error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pcp/pmapi.h>

static int
fetch_print(pmID pmid)
{
    pmResult	*rp;
    int		sts;

    if ((sts = pmFetch(1, &pmid, &rp)) < 0) {
	fprintf(stderr, "pmFetch: %s\n", pmErrStr(sts));
	return sts;
    }
    if (rp->vset[0]->numval <= 0) {
	printf("(no value: %s)\n", rp->vset[0]->numval < 0 ?
		pmErrStr(rp->vset[0]->numval) : "none");
    } else {
	pmValueBlock *vb = rp->vset[0]->vlist[0].value.pval;
	printf("%.*s\n", (int)(vb->vlen - PM_VAL_HDR_SIZE), vb->vbuf);
    }
    pmFreeResult(rp);
    return 0;
}

int
main(int argc, char **argv)
{
    const char		*host = "local:";
    const char		*name;
    const char		*value;
    pmID		pmid;
    pmDesc		desc;
    pmResult		*rp;
    pmValueSet		*vsp;
    pmValueBlock	*vb;
    size_t		len;
    int			c, i, count = 1, ctx, sts, store_sts;

    pmSetProgname(argv[0]);
    while ((c = getopt(argc, argv, "h:n:")) != -1) {
	switch (c) {
	case 'h':
	    host = optarg;
	    break;
	case 'n':
	    count = atoi(optarg);
	    break;
	default:
	    fprintf(stderr, "Usage: %s [-h HOST] [-n COUNT] METRIC VALUE\n", argv[0]);
	    return 2;
	}
    }
    if (argc - optind != 2) {
	fprintf(stderr, "Usage: %s [-h HOST] [-n COUNT] METRIC VALUE\n", argv[0]);
	return 2;
    }
    name = argv[optind];
    value = argv[optind + 1];

    if ((ctx = pmNewContext(PM_CONTEXT_HOST, host)) < 0) {
	fprintf(stderr, "pmNewContext(%s): %s\n", host, pmErrStr(ctx));
	return 2;
    }
    if ((sts = pmLookupName(1, &name, &pmid)) < 0) {
	fprintf(stderr, "pmLookupName(%s): %s\n", name, pmErrStr(sts));
	return 2;
    }
    if ((sts = pmLookupDesc(pmid, &desc)) < 0 || desc.type != PM_TYPE_STRING) {
	fprintf(stderr, "%s: %s\n", name, sts < 0 ? pmErrStr(sts) : "not a string metric");
	return 2;
    }

    /* a one-value result holding the string, as pmstore builds it */
    len = strlen(value) + 1;
    if ((vb = malloc(PM_VAL_HDR_SIZE + len)) == NULL ||
	(rp = calloc(1, sizeof(*rp))) == NULL ||
	(vsp = calloc(1, sizeof(*vsp))) == NULL) {
	fprintf(stderr, "out of memory\n");
	return 2;
    }
    vb->vtype = PM_TYPE_STRING;
    vb->vlen = PM_VAL_HDR_SIZE + len;
    memcpy(vb->vbuf, value, len);
    vsp->pmid = pmid;
    vsp->numval = 1;
    vsp->valfmt = PM_VAL_DPTR;
    vsp->vlist[0].inst = PM_IN_NULL;
    vsp->vlist[0].value.pval = vb;
    rp->numpmid = 1;
    rp->vset[0] = vsp;

    if ((store_sts = pmStore(rp)) < 0)
	fprintf(stderr, "pmStore: %s\n", pmErrStr(store_sts));
    free(vb);
    free(vsp);
    free(rp);

    for (i = 0; i < count; i++)
	if (fetch_print(pmid) < 0)
	    return 2;
    pmDestroyContext(ctx);
    return store_sts < 0 ? 1 : 0;
}
