/*
 * benchutil.h: small pieces the bench/ tools share.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* monotonic milliseconds */
static double
now_ms(void)
{
    struct timespec	ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* the whole file, NUL terminated; NULL on error */
static char *
slurp(const char *path)
{
    FILE	*f = fopen(path, "r");
    char	*buf;
    long	len;

    if (f == NULL)
	return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    if ((buf = malloc(len + 1)) == NULL || fread(buf, 1, len, f) != (size_t)len) {
	fclose(f);
	free(buf);
	return NULL;
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

#endif /* BENCH_UTIL_H */
