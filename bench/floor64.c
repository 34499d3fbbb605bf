/*
 * floor64: the fetch floor for 64-bit values (a helper of bench/run).
 *
 *   floor64 [-d DOMAIN] [-l LOGFILE]		started by pmcd
 *
 * The floor of `make bench` is PCP's sample agent serving sample.many.int:
 * a 32-bit metric, whose values travel inside the PDU.  The agents under
 * test serve 64-bit values, and PCP sends each of those in a pmValueBlock
 * of its own, which pmcd and the client decode and encode one by one.
 * This agent serves the same instance counts with the same metric types,
 * the way a small C agent does it (pmdaFetch() and a fetch callback, as
 * the sample agent), so that the cost of the types can be told apart
 * from the cost of an agent:
 *
 *   floor64.many.u64	DOMAIN.0.0  U64 counter, one value per instance
 *   floor64.many.count	DOMAIN.0.1  U32, the number of instances (pmstore)
 *
 * Each value is its instance number plus the number of fetches so far.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <pcp/pmapi.h>
#include <pcp/pmda.h>

#define FLOOR64_DOMAIN	240
#define FLOOR64_MAX	1000000

static pmdaIndom	indomtab[] = {
    { 0, 0, NULL },
};

static pmdaMetric	metrictab[] = {
    { NULL, { PMDA_PMID(0, 0), PM_TYPE_U64, 0, PM_SEM_COUNTER,
	      PMDA_PMUNITS(0, 0, 1, 0, 0, PM_COUNT_ONE) } },
    { NULL, { PMDA_PMID(0, 1), PM_TYPE_U32, PM_INDOM_NULL, PM_SEM_DISCRETE,
	      PMDA_PMUNITS(0, 0, 0, 0, 0, 0) } },
};

static pmdaInstid	*instances;
static char		*names;		/* "i0", "i1", ... one after another */
static unsigned int	count;
static __uint64_t	fetches;

/* make the instance domain N instances long */
static int
floor64_resize(unsigned int n)
{
    pmdaInstid	*set;
    char	*text, *p;
    unsigned int i;

    if ((set = malloc((n ? n : 1) * sizeof(*set))) == NULL ||
	(text = malloc((n ? n : 1) * 8)) == NULL) {
	free(set);
	return -ENOMEM;
    }
    for (i = 0, p = text; i < n; i++) {
	set[i].i_inst = i;
	set[i].i_name = p;
	p += pmsprintf(p, 8, "i%u", i) + 1;
    }
    free(instances);
    free(names);
    instances = set;
    names = text;
    count = n;
    indomtab[0].it_numinst = n;
    indomtab[0].it_set = set;
    return 0;
}

static int
floor64_fetchCallBack(pmdaMetric *mdesc, unsigned int inst, pmAtomValue *atom)
{
    switch (pmID_item(mdesc->m_desc.pmid)) {
    case 0:
	if (inst >= count)
	    return PM_ERR_INST;
	atom->ull = inst + fetches;
	return 1;
    case 1:
	atom->ul = count;
	return 1;
    }
    return PM_ERR_PMID;
}

static int
floor64_fetch(int numpmid, pmID pmidlist[], pmResult **resp, pmdaExt *pmda)
{
    fetches++;
    return pmdaFetch(numpmid, pmidlist, resp, pmda);
}

static int
floor64_store(pmResult *result, pmdaExt *pmda)
{
    pmValueSet	*vsp;
    int		i, sts;

    for (i = 0; i < result->numpmid; i++) {
	vsp = result->vset[i];
	if (pmID_item(vsp->pmid) != 1)
	    return PM_ERR_PERMISSION;
	if (vsp->numval != 1 || vsp->valfmt != PM_VAL_INSITU)
	    return PM_ERR_BADSTORE;
	if ((unsigned int)vsp->vlist[0].value.lval > FLOOR64_MAX)
	    return PM_ERR_BADSTORE;
	if ((sts = floor64_resize(vsp->vlist[0].value.lval)) < 0)
	    return sts;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    pmdaInterface	dispatch;
    int			c, err = 0;

    pmSetProgname(argv[0]);
    pmdaDaemon(&dispatch, PMDA_INTERFACE_7, (char *)pmGetProgname(),
	       FLOOR64_DOMAIN, "floor64.log", NULL);
    while ((c = pmdaGetOpt(argc, argv, "D:d:l:?", &dispatch, &err)) != EOF)
	err++;
    if (err) {
	fprintf(stderr, "Usage: %s [-d domain] [-l logfile]\n", pmGetProgname());
	return 1;
    }
    pmdaOpenLog(&dispatch);
    dispatch.version.seven.fetch = floor64_fetch;
    dispatch.version.seven.store = floor64_store;
    pmdaSetFetchCallBack(&dispatch, floor64_fetchCallBack);
    if (floor64_resize(5) < 0)
	return 1;
    pmdaInit(&dispatch, indomtab, 1, metrictab, 2);
    pmdaConnect(&dispatch);
    pmdaMain(&dispatch);
    return 0;
}
