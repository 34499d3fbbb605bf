/*
 * fuzz_tokenizer: arbitrary bytes as a bpftrace script through
 * tok_script(), then the variables it finds set up as the agent would
 * (var_init, then var_free) and the result freed with tok_free().
 *
 * The text is copied into a malloc'd buffer of exactly its length, with
 * no NUL after it, so ASan sees any read past the end.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tok_result_t	res;
    variable_t		v;
    char		errbuf[256];
    char		*text;
    volatile size_t	sink = 0;
    int			i;

    if ((text = malloc(size ? size : 1)) == NULL)
	return 0;
    memcpy(text, data, size);
    if (tok_script(text, size, &res, errbuf, sizeof(errbuf)) == 0) {
	for (i = 0; i < res.nvars; i++) {
	    if (var_init(&v, res.vars[i].name, res.vars[i].func,
			 res.vars[i].keyed, res.vars[i].is_string,
			 res.vars[i].stacks) == 0) {
		sink += strlen(v.metric);
		sink += tok_valid_name(v.metric);
	    }
	    var_free(&v);
	}
	if (res.meta_name != NULL)
	    sink += strlen(res.meta_name);
	for (i = 0; i < res.ninclude; i++)
	    sink += strlen(res.include[i]);
	tok_free(&res);
    }
    else
	sink += strlen(errbuf);
    /* freeing twice must be harmless: tok_free clears what it frees */
    tok_free(&res);
    free(text);
    (void)sink;
    return 0;
}
