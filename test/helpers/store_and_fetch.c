/*
 * store_and_fetch: store a string into a metric, then fetch it again in
 * the same PMAPI context - like pmstore -F, but it goes on to fetch after
 * a failed store (PCP QA's src/store_and_fetch does the same), because
 * bpftrace.control.register keeps a refused script's JSON for exactly
 * that fetch.  pmstore itself gives up on PM_ERR_BADSTORE.
 *
 *   store_and_fetch [-h HOST] [-n COUNT] METRIC VALUE
 *   store_and_fetch [-h HOST] [-n COUNT] -f FILE METRIC
 *   store_and_fetch [-h HOST] [-n COUNT] METRIC        (fetch only)
 *
 * -f stores the bytes of FILE ("-": stdin) as they are, NUL bytes, invalid
 * UTF-8 and any length included: what pmstore cannot send.
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

/* the whole of path ("-": stdin), NUL terminated; NULL on error */
static char *
read_file(const char *path, size_t *lenp)
{
    FILE	*f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char	*buf = NULL, *p;
    size_t	len = 0, size = 0, n;

    if (f == NULL)
	return NULL;
    for (;;) {
	if (len + 4096 + 1 > size) {
	    size = size ? size * 2 : 65536;
	    if ((p = realloc(buf, size)) == NULL) {
		free(buf);
		return NULL;
	    }
	    buf = p;
	}
	if ((n = fread(buf + len, 1, size - len - 1, f)) == 0)
	    break;
	len += n;
    }
    if (f != stdin)
	fclose(f);
    buf[len] = '\0';
    *lenp = len;
    return buf;
}

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
    const char		*value = NULL, *file = NULL;
    char		*data = NULL;
    pmID		pmid;
    pmDesc		desc;
    pmResult		*rp;
    pmValueSet		*vsp;
    pmValueBlock	*vb;
    size_t		len = 0;
    int			c, i, count = 1, ctx, sts, store_sts;

    pmSetProgname(argv[0]);
    while ((c = getopt(argc, argv, "f:h:n:")) != -1) {
	switch (c) {
	case 'f':
	    file = optarg;
	    break;
	case 'h':
	    host = optarg;
	    break;
	case 'n':
	    count = atoi(optarg);
	    break;
	default:
	    goto usage;
	}
    }
    if (argc - optind < 1 || argc - optind > 2 || (file && argc - optind != 1))
	goto usage;
    name = argv[optind];
    if (file) {
	if ((data = read_file(file, &len)) == NULL) {
	    fprintf(stderr, "%s: cannot read\n", file);
	    return 2;
	}
	value = data;
	len++;		/* the NUL pmstore sends too */
    } else if (argc - optind == 2) {
	value = argv[optind + 1];
	len = strlen(value) + 1;
    }

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

    if (value == NULL) {	/* fetch only */
	for (i = 0; i < count; i++)
	    if (fetch_print(pmid) < 0)
		return 2;
	pmDestroyContext(ctx);
	return 0;
    }

    /* a one-value result holding the string, as pmstore builds it */
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
    free(data);

    for (i = 0; i < count; i++)
	if (fetch_print(pmid) < 0)
	    return 2;
    pmDestroyContext(ctx);
    return store_sts < 0 ? 1 : 0;

usage:
    fprintf(stderr, "Usage: %s [-h HOST] [-n COUNT] METRIC [VALUE]\n"
		    "       %s [-h HOST] [-n COUNT] -f FILE METRIC\n", argv[0], argv[0]);
    return 2;
}
