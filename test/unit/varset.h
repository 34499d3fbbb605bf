/*
 * varset.h: what the unit tests read back from a variable.
 */
#ifndef TEST_VARSET_H
#define TEST_VARSET_H

#include <stdio.h>
#include "variables.h"

/* the active set's names joined by '|', in display order */
static const char *
set_names(const variable_t *v)
{
    static char	buf[8192];
    size_t	o = 0;
    int		i;

    buf[0] = '\0';
    for (i = 0; i < v->nset; i++)
	o += snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? "|" : "",
		      v->set[i].i_name);
    return buf;
}

#endif /* TEST_VARSET_H */
