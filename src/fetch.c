/*
 * fetch: answer a fetch without allocating per value.
 *
 * A fetch of a map with 16,000 keys through pmdaFetch() costs 16,000
 * calls of the fetch callback, 16,000 malloc()s of a pmValueBlock and
 * 16,000 free()s once the answer is sent: most of the agent's time per
 * fetch.  Keyed data variables (the only metrics with many values) are
 * answered here instead: their active set is already an array in display
 * order (variables.c), so the value set is written straight from it into
 * an arena that lives from one fetch to the next.  The arena only grows,
 * so a steady workload allocates nothing per fetch.
 *
 * What the client sees is exactly what pmdaFetch() would have sent: the
 * same instances in the same order (it walks the same pmdaIndom set),
 * filtered by the same instance profile, inactive instances left out, the
 * same value encoding (__pmStuffValue's pmValueBlocks).  Every other
 * metric - control, info, state, singular data - is still fetched by
 * pmdaFetch() and the fetch callback, and its value sets are merged in
 * request order; fetch_result_free() frees those and keeps the arena.
 * The answer is then offered to pdu.c, which writes its PDU in one pass.
 *
 * An answer of keyed values alone is kept, PDU and all, and sent again
 * as it is to the next fetch of the same metrics while nothing it holds
 * can have changed: no variable (var_changes), no instance profile from
 * pmcd that selects other instances, no names change to flag.  bpftrace
 * prints once an interval, so repeated fetches of the same maps in
 * between, by one client or by several in turn (pmlogger, pmie, a
 * dashboard through pmproxy), get that one answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include "fetch.h"
#include "namespace.h"
#include "pdu.h"
#include "script.h"

/*
 * pmcd's pipe to us holds 64 KiB by default: an answer of 4,000 64-bit
 * values (80 KiB) would make us wait for pmcd to read, twice.  A larger
 * pipe takes it in one write; the kernel allocates its pages as used.
 */
#define FETCH_PIPE_SIZE	(1 << 20)

#define FETCH_ALIGN(n)	(((n) + 7) & ~(size_t)7)

static pmResult		*fetch_res;	/* the answer handed to libpcp_pmda */
static int		fetch_maxpmid;
static char		*fetch_own;	/* fetch_own[i]: vset[i] is in the arena */
static pmID		*fetch_slow;	/* pmids left to pmdaFetch */
static variable_t	**fetch_vars;	/* the keyed variable of pmid i, or NULL */
static char		*fetch_arena;
static size_t		fetch_arena_size;
static int		fetch_piped;	/* the pipe to pmcd was enlarged */

/* the last answer of keyed values alone, and what it was made from */
static unsigned long	fetch_tag;	/* its tag for pdu.c, 0: none kept */
static unsigned long	fetch_tags;	/* tags given so far */
static int		fetch_last_n;	/* its numpmid */
static pmID		*fetch_last_pmids;
static variable_t	**fetch_last_vars;
static unsigned long	fetch_last_changes;	/* var_changes() then */
static unsigned long	fetch_last_profiles;	/* fetch_profiles then */
static unsigned long	fetch_profiles;	/* instance profiles pmcd has sent */

/* the keyed data variable behind a pmid, NULL for anything else */
static variable_t *
fetch_var(pmID pmid)
{
    unsigned int	item = pmID_item(pmid);
    variable_t		*v;

    if (item < NS_SCRIPT_FIRST_VAR || item > NS_SCRIPT_MAX_VAR)
	return NULL;
    if ((v = ns_variable(pmid)) == NULL)
	return NULL;
    if (v->single || v->indom == PM_INDOM_NULL)
	return NULL;
    if (v->type != PM_TYPE_U64 && v->type != PM_TYPE_64 &&
	v->type != PM_TYPE_STRING)
	return NULL;
    return v;
}

/*
 * The instance profile pmcd sent for this indom, as __pmInProfile()
 * reads it: 1 every instance, 0 none, -1 ask fetch_in_profile() per
 * instance (*pp is then the indom's entry).
 */
static int
fetch_profile(const pmProfile *prof, pmInDom indom, const pmInDomProfile **pp)
{
    int		i;

    *pp = NULL;
    if (prof == NULL)
	return 1;
    for (i = 0; i < prof->profile_len; i++) {
	if (prof->profile[i].indom != indom)
	    continue;
	*pp = &prof->profile[i];
	if ((*pp)->instances_len == 0)
	    return (*pp)->state == PM_PROFILE_INCLUDE;
	return -1;
    }
    return prof->state == PM_PROFILE_INCLUDE;
}

static int
fetch_in_profile(const pmInDomProfile *p, int inst)
{
    int		i;

    for (i = 0; i < p->instances_len; i++)
	if (p->instances[i] == inst)
	    return p->state != PM_PROFILE_INCLUDE;
    return p->state == PM_PROFILE_INCLUDE;
}

static size_t
fetch_vset_size(int n)
{
    return FETCH_ALIGN(sizeof(pmValueSet) + (n > 1 ? n - 1 : 0) * sizeof(pmValue));
}

/* arena bytes for the value set of v: an upper bound, set entries all kept */
static size_t
fetch_need(const variable_t *v)
{
    size_t	need = fetch_vset_size(v->nset);
    int		i;

    if (v->type != PM_TYPE_STRING)
	return need + (size_t)v->nset * FETCH_ALIGN(PM_VAL_HDR_SIZE + sizeof(uint64_t));
    for (i = 0; i < v->nset; i++) {
	const char *str = v->inst[v->set[i].i_inst - v->idbase].value.str;
	need += FETCH_ALIGN(PM_VAL_HDR_SIZE + (str ? strlen(str) : 0) + 1);
    }
    return need;
}

/*
 * The value set of v at p, its value blocks after room for every set
 * entry (fetch_need's bound); returns the bytes used.  The set holds only
 * active instances (var_end), but the check is kept, as pmdaFetch's
 * callback would skip an inactive one.
 */
static size_t
fetch_fill(const variable_t *v, pmID pmid, char *p, const pmProfile *prof)
{
    const pmInDomProfile *ip;
    const pmdaInstid	*set = v->set;
    const var_inst_t	*inst = v->inst;
    pmValueSet		*vs = (pmValueSet *)p;
    pmValueBlock	hdr;
    char		*blk = p + fetch_vset_size(v->nset);
    int			i, j = 0, id, x, n = v->nset;
    int			mode = fetch_profile(prof, v->indom, &ip);

    vs->pmid = pmid;
    if (mode == 0)
	n = 0;
    if (v->type != PM_TYPE_STRING) {
	/* fixed-size blocks: one header for all, 16 bytes each */
	memset(&hdr, 0, sizeof(hdr));
	hdr.vtype = v->type;
	hdr.vlen = PM_VAL_HDR_SIZE + sizeof(uint64_t);
	for (i = 0; i < n; i++) {
	    id = set[i].i_inst;
	    if ((x = var_index(v, id)) < 0 || !inst[x].active ||
		(mode < 0 && !fetch_in_profile(ip, id)))
		continue;
	    memcpy(blk, &hdr, PM_VAL_HDR_SIZE);
	    memcpy(blk + PM_VAL_HDR_SIZE, &inst[x].value.u64, sizeof(uint64_t));
	    vs->vlist[j].inst = id;
	    vs->vlist[j].value.pval = (pmValueBlock *)blk;
	    blk += FETCH_ALIGN(PM_VAL_HDR_SIZE + sizeof(uint64_t));
	    j++;
	}
    }
    else {
	for (i = 0; i < n; i++) {
	    pmValueBlock	*vb = (pmValueBlock *)blk;
	    const char		*str;
	    size_t		len;

	    id = set[i].i_inst;
	    if ((x = var_index(v, id)) < 0 || !inst[x].active ||
		(mode < 0 && !fetch_in_profile(ip, id)))
		continue;
	    str = inst[x].value.str ? inst[x].value.str : "";
	    len = strlen(str) + 1;
	    vb->vtype = PM_TYPE_STRING;
	    vb->vlen = PM_VAL_HDR_SIZE + len;
	    memcpy(vb->vbuf, str, len);
	    vs->vlist[j].inst = id;
	    vs->vlist[j].value.pval = vb;
	    blk += FETCH_ALIGN(PM_VAL_HDR_SIZE + len);
	    j++;
	}
    }
    vs->numval = j;
    vs->valfmt = j > 0 ? PM_VAL_DPTR : PM_VAL_INSITU;
    return blk - p;
}

/*
 * pmdaFetch() tells pmcd of a names or labels change in the answer's
 * timestamp, which it co-opts as flags (in tv_sec, which libpcp_pmda
 * passes on to pmcd; __pmdaEncodeStatus), and clears the agent's
 * flags once the answer is made.  pmcd hands them to every client's next
 * fetch: pmlogger then walks its dynamic subtrees again.  An answer with
 * keyed values carries them too, or a client whose fetches all hold a map
 * would never hear of a new script.  slow: pmdaFetch's part, NULL if none.
 */
static void
fetch_status(pmResult *res, const pmResult *slow, pmdaExt *pmda)
{
    unsigned int	flags = 0;

    if (slow != NULL) {
	/* pmdaFetch has encoded and cleared them */
	res->timestamp = slow->timestamp;
	return;
    }
    if (pmda->e_flags & PMDA_EXT_LABEL_CHANGE)
	flags |= PMCD_LABEL_CHANGE;
    if (pmda->e_flags & PMDA_EXT_NAMES_CHANGE)
	flags |= PMCD_NAMES_CHANGE;
    /* libpcp_pmda hands pmcd tv_sec (mainloop.c): the flags go there whole */
    res->timestamp.tv_sec = (time_t)flags;
    res->timestamp.tv_usec = 0;
    pmda->e_flags &= ~(PMDA_EXT_LABEL_CHANGE | PMDA_EXT_NAMES_CHANGE);
}

static int
fetch_grow(int numpmid)
{
    pmResult	*res;
    char	*own;
    pmID	*slow, *lastp;
    variable_t	**vars, **lastv;

    if (numpmid <= fetch_maxpmid)
	return 0;
    res = malloc(sizeof(pmResult) + (numpmid - 1) * sizeof(pmValueSet *));
    own = malloc(numpmid);
    slow = malloc(numpmid * sizeof(*slow));
    vars = malloc(numpmid * sizeof(*vars));
    lastp = malloc(numpmid * sizeof(*lastp));
    lastv = malloc(numpmid * sizeof(*lastv));
    if (res == NULL || own == NULL || slow == NULL || vars == NULL ||
	lastp == NULL || lastv == NULL) {
	free(res); free(own); free(slow); free(vars); free(lastp); free(lastv);
	return -ENOMEM;
    }
    free(fetch_res); free(fetch_own); free(fetch_slow); free(fetch_vars);
    free(fetch_last_pmids); free(fetch_last_vars);
    fetch_res = res;
    fetch_own = own;
    fetch_slow = slow;
    fetch_vars = vars;
    fetch_last_pmids = lastp;
    fetch_last_vars = lastv;
    fetch_maxpmid = numpmid;
    fetch_tag = 0;		/* the answer it described is gone */
    return 0;
}

/* what __pmFreeResultValues does for one of pmdaFetch's value sets */
static void
fetch_free_vset(pmValueSet *vs)
{
    int		j;

    if (vs == NULL)
	return;
    if (vs->numval > 0 && vs->valfmt == PM_VAL_DPTR)
	for (j = 0; j < vs->numval; j++)
	    free(vs->vlist[j].value.pval);
    free(vs);
}

/* the two profiles select the same instances of the same indoms */
static int
fetch_profile_equal(const pmProfile *a, const pmProfile *b)
{
    int		i;

    if (a == NULL || b == NULL)
	return a == b;
    if (a->state != b->state || a->profile_len != b->profile_len)
	return 0;
    for (i = 0; i < a->profile_len; i++) {
	const pmInDomProfile *x = &a->profile[i], *y = &b->profile[i];

	if (x->indom != y->indom || x->state != y->state ||
	    x->instances_len != y->instances_len ||
	    (x->instances_len > 0 &&
	     memcmp(x->instances, y->instances, x->instances_len * sizeof(int)) != 0))
	    return 0;
    }
    return 1;
}

/*
 * pmcd sends the profile of the client it is about to serve whenever the
 * agent's last one was another client's, mostly the same "everything"
 * profile: only a profile that selects otherwise makes a kept answer
 * stale.  libpcp_pmda frees the old one (pmda->e_prof) after this call.
 */
int
fetch_set_profile(pmProfile *prof, pmdaExt *pmda)
{
    if (!fetch_profile_equal(prof, pmda->e_prof))
	fetch_profiles++;
    return pmdaProfile(prof, pmda);
}

/*
 * The answer kept (fetch_res, still as it was made) holds what this fetch
 * of keyed values alone would get: the same pmids naming the same
 * variables, none changed since, the same instance profile, and no names
 * or labels change waiting to be flagged.
 */
static int
fetch_same(int numpmid, const pmID *pmidlist, const pmdaExt *pmda)
{
    return fetch_tag != 0 && numpmid == fetch_last_n &&
	   fetch_last_changes == var_changes() &&
	   fetch_last_profiles == fetch_profiles &&
	   !(pmda->e_flags & (PMDA_EXT_LABEL_CHANGE | PMDA_EXT_NAMES_CHANGE)) &&
	   memcmp(fetch_last_pmids, pmidlist, numpmid * sizeof(*pmidlist)) == 0 &&
	   memcmp(fetch_last_vars, fetch_vars, numpmid * sizeof(*fetch_vars)) == 0;
}

/* remember the answer just made of keyed values alone; its tag for pdu.c */
static unsigned long
fetch_keep(int numpmid, const pmID *pmidlist)
{
    if (++fetch_tags == 0)	/* 0 means none */
	fetch_tags = 1;
    fetch_tag = fetch_tags;
    fetch_last_n = numpmid;
    fetch_last_changes = var_changes();
    fetch_last_profiles = fetch_profiles;
    memcpy(fetch_last_pmids, pmidlist, numpmid * sizeof(*pmidlist));
    memcpy(fetch_last_vars, fetch_vars, numpmid * sizeof(*fetch_vars));
    return fetch_tag;
}

int
fetch_values(int numpmid, pmID *pmidlist, pmResult **resp, pmdaExt *pmda)
{
    pmResult	*slow = NULL;
    size_t	need = 0, off = 0;
    int		i, k, nslow = 0, nfast = 0, sts;

    if (!fetch_piped) {
	/* best effort: a socket, or a limit below it, keeps the default */
	fcntl(pmda->e_outfd, F_SETPIPE_SZ, FETCH_PIPE_SIZE);
	fetch_piped = 1;
    }
    /* __pmSendResult takes each offer; one libpcp_pmda never sent goes here */
    pdu_offer(NULL, 0);
    if (numpmid <= 0)
	return pmdaFetch(numpmid, pmidlist, resp, pmda);
    if ((sts = fetch_grow(numpmid)) < 0)
	return sts;
    for (i = 0; i < numpmid; i++) {
	if ((fetch_vars[i] = fetch_var(pmidlist[i])) != NULL)
	    nfast++;
	else
	    fetch_slow[nslow++] = pmidlist[i];
    }
    if (nfast == 0)
	return pmdaFetch(numpmid, pmidlist, resp, pmda);
    if (nslow == 0 && fetch_same(numpmid, pmidlist, pmda)) {
	pdu_offer(fetch_res, fetch_tag);
	*resp = fetch_res;
	return 0;
    }
    fetch_tag = 0;		/* the arena and fetch_res may change from here */
    for (i = 0; i < numpmid; i++)
	if (fetch_vars[i] != NULL)
	    need += fetch_need(fetch_vars[i]);

    if (need > fetch_arena_size) {
	size_t	size = fetch_arena_size ? fetch_arena_size : 4096;
	char	*p;

	while (size < need)
	    size *= 2;
	if ((p = malloc(size)) == NULL)
	    return -ENOMEM;
	free(fetch_arena);
	fetch_arena = p;
	fetch_arena_size = size;
    }
    if (nslow > 0 && (sts = pmdaFetch(nslow, fetch_slow, &slow, pmda)) < 0)
	return sts;
    /* as pmdaFetch does: the callbacks may ask which context this is */
    __pmdaSetContext(pmda->e_context);

    fetch_status(fetch_res, slow, pmda);
    fetch_res->numpmid = numpmid;
    for (i = 0, k = 0; i < numpmid; i++) {
	if (fetch_vars[i] != NULL) {
	    fetch_res->vset[i] = (pmValueSet *)(fetch_arena + off);
	    off += fetch_fill(fetch_vars[i], pmidlist[i], fetch_arena + off, pmda->e_prof);
	    fetch_own[i] = 1;
	}
	else {
	    fetch_res->vset[i] = slow->vset[k++];
	    fetch_own[i] = 0;
	}
    }
    /* libpcp_pmda sends it next: pdu.c encodes it if it can */
    pdu_offer(fetch_res, nslow == 0 && fetch_res->timestamp.tv_sec == 0 &&
		fetch_res->timestamp.tv_usec == 0 ? fetch_keep(numpmid, pmidlist) : 0);
    *resp = fetch_res;
    return 0;
}

void
fetch_result_free(pmResult *result)
{
    int		i;

    if (result == NULL)
	return;
    for (i = 0; i < result->numpmid; i++) {
	if (result == fetch_res && fetch_own[i])
	    continue;
	fetch_free_vset(result->vset[i]);
    }
}

void
fetch_free(void)
{
    free(fetch_res);
    free(fetch_own);
    free(fetch_slow);
    free(fetch_vars);
    free(fetch_last_pmids);
    free(fetch_last_vars);
    free(fetch_arena);
    pdu_free();
    fetch_res = NULL;
    fetch_own = NULL;
    fetch_slow = NULL;
    fetch_vars = NULL;
    fetch_last_pmids = NULL;
    fetch_last_vars = NULL;
    fetch_tag = 0;
    fetch_arena = NULL;
    fetch_maxpmid = 0;
    fetch_arena_size = 0;
}
