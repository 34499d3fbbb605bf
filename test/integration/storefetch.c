/*
 * storefetch HOST METRIC FILE: store the bytes of FILE (any bytes, any
 * length) as a string into METRIC, then fetch METRIC in the same context
 * (a control metric answers the store there) and print:
 *	store: STATUS MESSAGE
 *	answer: VALUE
 * FILE "-" reads stdin.  Exit status 0 when the store succeeded.
 * storefetch HOST METRIC: only fetch, and print the value as it is.  Built by
 * the integration tests (cc storefetch.c -lpcp): pmstore can neither send
 * arbitrary bytes nor show the answer of a store that failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pcp/pmapi.h>

int
main(int argc, char **argv)
{
    pmResult	*rp, req;
    pmValueSet	*vs;
    pmValueBlock *vb;
    pmID	pmid;
    char	*name, *text = NULL;
    size_t	len = 0, size = 0, n = 0;
    FILE	*f;
    int		ctx, sts, fsts;

    if (argc != 3 && argc != 4) {
	fprintf(stderr, "usage: %s HOST METRIC [FILE]\n", argv[0]);
	return 2;
    }
    f = argc == 3 ? NULL : strcmp(argv[3], "-") == 0 ? stdin : fopen(argv[3], "r");
    if (f == NULL && argc == 4) {
	perror(argv[3]);
	return 2;
    }
    do {
	if (f == NULL)
	    break;
	if (len + 4096 > size && (text = realloc(text, size = 2 * size + 4096)) == NULL)
	    return 2;
	n = fread(text + len, 1, size - len, f);
	len += n;
    } while (n > 0);
    if ((ctx = pmNewContext(PM_CONTEXT_HOST, argv[1])) < 0) {
	fprintf(stderr, "pmNewContext %s: %s\n", argv[1], pmErrStr(ctx));
	return 2;
    }
    name = argv[2];
    if ((sts = pmLookupName(1, (const char **)&name, &pmid)) < 0) {
	fprintf(stderr, "%s: %s\n", name, pmErrStr(sts));
	return 2;
    }
    if (argc == 3) {
	if ((fsts = pmFetch(1, &pmid, &rp)) < 0 || rp->vset[0]->numval != 1 ||
	    rp->vset[0]->valfmt == PM_VAL_INSITU) {
	    fprintf(stderr, "%s: no value\n", name);
	    return 1;
	}
	fputs(rp->vset[0]->vlist[0].value.pval->vbuf, stdout);
	return 0;
    }
    if ((vs = calloc(1, sizeof(*vs))) == NULL ||
	(vb = calloc(1, PM_VAL_HDR_SIZE + len + 1)) == NULL)
	return 2;
    vb->vtype = PM_TYPE_STRING;
    vb->vlen = PM_VAL_HDR_SIZE + len + 1;
    memcpy(vb->vbuf, text, len);
    vs->pmid = pmid;
    vs->numval = 1;
    vs->valfmt = PM_VAL_DPTR;
    vs->vlist[0].inst = PM_IN_NULL;
    vs->vlist[0].value.pval = vb;
    memset(&req, 0, sizeof(req));
    req.numpmid = 1;
    req.vset[0] = vs;
    sts = pmStore(&req);
    printf("store: %d %s\n", sts, sts < 0 ? pmErrStr(sts) : "ok");
    if ((fsts = pmFetch(1, &pmid, &rp)) >= 0) {
	if (rp->vset[0]->numval == 1 && rp->vset[0]->valfmt != PM_VAL_INSITU)
	    printf("answer: %s\n", rp->vset[0]->vlist[0].value.pval->vbuf);
	else
	    printf("answer: (none, numval %d)\n", rp->vset[0]->numval);
	pmFreeResult(rp);
    } else {
	printf("answer: (fetch failed: %s)\n", pmErrStr(fsts));
    }
    pmDestroyContext(ctx);
    return sts < 0 ? 1 : 0;
}
