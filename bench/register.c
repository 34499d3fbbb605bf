/*
 * register: store script files into bpftrace.control.register, one after
 * the other, through one PMAPI context (as fast as pmcd answers).
 *
 *   register [-h HOST] FILE...
 *
 * stdout, one line: "stored=N failed=F total_ms=T max_ms=M"
 * exit: 0 when every store succeeded, 1 otherwise, 2 on usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <pcp/pmapi.h>

#include "benchutil.h"

int
main(int argc, char **argv)
{
    const char		*host = "local:", *metric = "bpftrace.control.register";
    pmValueBlock	*vb;
    pmValueSet		vs;
    pmResult		res;
    pmResult		*rp = &res;
    pmID		pmid;
    char		*text;
    double		t0, t, total, max = 0;
    size_t		len;
    int			c, i, sts, ctx, stored = 0, failed = 0;

    pmSetProgname(argv[0]);
    while ((c = getopt(argc, argv, "h:")) != -1) {
	if (c == 'h')
	    host = optarg;
	else {
	    fprintf(stderr, "Usage: %s [-h HOST] FILE...\n", argv[0]);
	    return 2;
	}
    }
    if ((ctx = pmNewContext(PM_CONTEXT_HOST, host)) < 0) {
	fprintf(stderr, "pmNewContext(%s): %s\n", host, pmErrStr(ctx));
	return 2;
    }
    if ((sts = pmLookupName(1, &metric, &pmid)) < 0) {
	fprintf(stderr, "pmLookupName(%s): %s\n", metric, pmErrStr(sts));
	return 2;
    }
    t0 = now_ms();
    for (i = optind; i < argc; i++) {
	if ((text = slurp(argv[i])) == NULL) {
	    perror(argv[i]);
	    failed++;
	    continue;
	}
	len = strlen(text) + 1;
	if ((vb = malloc(PM_VAL_HDR_SIZE + len)) == NULL)
	    return 2;
	vb->vtype = PM_TYPE_STRING;
	vb->vlen = PM_VAL_HDR_SIZE + len;
	memcpy(vb->vbuf, text, len);
	memset(&vs, 0, sizeof(vs));
	memset(&res, 0, sizeof(res));
	vs.pmid = pmid;
	vs.numval = 1;
	vs.valfmt = PM_VAL_DPTR;
	vs.vlist[0].inst = PM_IN_NULL;
	vs.vlist[0].value.pval = vb;
	res.numpmid = 1;
	res.vset[0] = &vs;
	t = now_ms();
	sts = pmStore(rp);
	t = now_ms() - t;
	if (t > max)
	    max = t;
	if (sts < 0) {
	    fprintf(stderr, "%s: pmStore: %s\n", argv[i], pmErrStr(sts));
	    failed++;
	}
	else
	    stored++;
	free(vb);
	free(text);
    }
    total = now_ms() - t0;
    printf("stored=%d failed=%d total_ms=%.0f max_ms=%.0f\n", stored, failed, total, max);
    pmDestroyContext(ctx);
    return failed ? 1 : 0;
}
