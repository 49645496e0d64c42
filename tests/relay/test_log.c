/* relay/log.c: one line per event with timestamp, level and request ID. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "relay/log.h"

static char *capture(enum mxr_log_level max, enum mxr_log_level level, const char *id, const char *msg)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct mxr_log lg = { max, fds[1] };
    mxr_log(&lg, level, id, "%s", msg);
    close(fds[1]);
    static char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    buf[n < 0 ? 0 : n] = '\0';
    return buf;
}

static void line_format(void **state)
{
    char *line = capture(MXR_LOG_INFO, MXR_LOG_WARN, "r1z", "peer said\nhi\x1b[2J");
    regex_t re;
    assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z WARN  \\[r1z\\] "
                                  "peer said hi \\[2J\n$",
                             REG_EXTENDED),
                     0);
    if (regexec(&re, line, 0, NULL, 0))
        fail_msg("bad line: '%s'", line);
    regfree(&re);
    assert_non_null(strstr(capture(MXR_LOG_DEBUG, MXR_LOG_DEBUG, NULL, "x"), "DEBUG [-] x\n"));
    /* Above the configured level: nothing. */
    assert_string_equal(capture(MXR_LOG_INFO, MXR_LOG_DEBUG, "r", "x"), "");
    /* Long messages are cut, still one line. */
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    line = capture(MXR_LOG_INFO, MXR_LOG_ERROR, "r", big);
    assert_int_equal(strlen(line), MXR_LOG_LINE_MAX - 1);
    assert_int_equal(line[strlen(line) - 1], '\n');
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
}

static void level_names(void **state)
{
    assert_int_equal(mxr_log_level_parse("error"), MXR_LOG_ERROR);
    assert_int_equal(mxr_log_level_parse("warn"), MXR_LOG_WARN);
    assert_int_equal(mxr_log_level_parse("info"), MXR_LOG_INFO);
    assert_int_equal(mxr_log_level_parse("debug"), MXR_LOG_DEBUG);
    assert_int_equal(mxr_log_level_parse("INFO"), -1);
    assert_int_equal(mxr_log_level_parse(NULL), -1);
    assert_string_equal(mxr_log_level_name(MXR_LOG_WARN), "warn");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(line_format),
        cmocka_unit_test(level_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
