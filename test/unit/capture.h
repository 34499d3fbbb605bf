/*
 * capture.h: catch what pmNotifyErr() writes to stderr (no log file is
 * open in unit tests), to check the log lines users would read.
 * Include after <cmocka.h>.
 */
#ifndef TEST_CAPTURE_H
#define TEST_CAPTURE_H

#include <stdio.h>
#include <unistd.h>

static char logbuf[16384];
static int saved_stderr = -1;
static FILE *logfile;

static void
capture_start(void)
{
    fflush(stderr);
    logfile = tmpfile();
    assert_non_null(logfile);
    saved_stderr = dup(2);
    assert_true(saved_stderr >= 0);
    assert_true(dup2(fileno(logfile), 2) >= 0);
}

static const char *
capture_end(void)
{
    size_t	n;

    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    rewind(logfile);
    n = fread(logbuf, 1, sizeof(logbuf) - 1, logfile);
    logbuf[n] = '\0';
    fclose(logfile);
    return logbuf;
}

#endif /* TEST_CAPTURE_H */
