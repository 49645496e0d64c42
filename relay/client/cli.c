/* mxrelay register-user: creates a local account from the command line
 * (the operator's way in while open registration is off).
 *
 *   mxrelay --config FILE register-user USER [--password P | --password-file F] [--admin]
 *
 * Without --password or --password-file the password is read from standard
 * input (without echo on a terminal). The store is opened directly; LMDB
 * lets this run next to a running daemon. */
#include "relay/client/client_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "relay/config.h"
#include "relay/store/store.h"

#define SUBCOMMAND "register-user"

static bool takes_value(const char *opt)
{
    return !strcmp(opt, "--config") || !strcmp(opt, "-c") || !strcmp(opt, "--password") ||
           !strcmp(opt, "--password-file") || !strcmp(opt, "--server-name") || !strcmp(opt, "--data-dir");
}

bool mxr_client_cli_wants(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (takes_value(argv[i])) {
            i++;
            continue;
        }
        if (!strcmp(argv[i], SUBCOMMAND))
            return true;
    }
    return false;
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: mxrelay --config FILE " SUBCOMMAND " USER [--password P | --password-file F] [--admin]\n"
                 "USER is a localpart (alice) or a user ID of this server (@alice:example.org).\n"
                 "Without a password option the password is read from standard input.\n");
}

/* One line of f without its newline (malloc'd), NULL at EOF/error. */
static char *read_line(FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

static char *prompt_password(void)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "Password: ");
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *pw = read_line(stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    return pw;
}

int mxr_client_cli_main(int argc, char **argv)
{
    const char *config = NULL, *user = NULL, *password = NULL, *password_file = NULL;
    bool admin = false, seen_cmd = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (takes_value(a) && i + 1 >= argc) {
            fprintf(stderr, "mxrelay: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--config") || !strcmp(a, "-c"))
            config = argv[++i];
        else if (!strncmp(a, "--config=", 9))
            config = a + 9;
        else if (!strcmp(a, "--password"))
            password = argv[++i];
        else if (!strcmp(a, "--password-file"))
            password_file = argv[++i];
        else if (!strcmp(a, "--admin"))
            admin = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, SUBCOMMAND) && !seen_cmd)
            seen_cmd = true;
        else if (a[0] != '-' && seen_cmd && !user)
            user = a;
        else {
            fprintf(stderr, "mxrelay: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!config || !user || (password && password_file)) {
        usage(stderr);
        return 2;
    }
    char *pw = NULL;
    if (password) {
        pw = strdup(password);
    } else if (password_file) {
        FILE *f = fopen(password_file, "r");
        if (!f) {
            fprintf(stderr, "mxrelay: cannot read %s: %s\n", password_file, strerror(errno));
            return 1;
        }
        pw = read_line(f);
        fclose(f);
    } else {
        pw = prompt_password();
    }
    if (!pw || !*pw) {
        fprintf(stderr, "mxrelay: an empty password is not allowed\n");
        free(pw);
        return 1;
    }

    struct mxr_err err = {0};
    struct mxr_config cfg;
    if (mxr_config_load_file(&cfg, config, &err) < 0) {
        fprintf(stderr, "mxrelay: %s\n", err.msg);
        sodium_memzero(pw, strlen(pw));
        free(pw);
        return 1;
    }
    int status = 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/store", cfg.data_dir);
    struct mxr_store_options so = {.path = path};
    struct mxr_store *store = mxr_store_open(&so, &err);
    struct mxr_client_deps d = {.cfg = &cfg, .store = store};
    struct mxr_client *c = store ? mxr_client_new(&d, &err) : NULL;
    char user_id[256];
    if (c && mxr_client_create_account(c, user, pw, admin, user_id, &err) == 0) {
        printf("%s\n", user_id);
        status = 0;
    } else {
        fprintf(stderr, "mxrelay: %s\n", err.msg);
    }
    mxr_client_free(c);
    mxr_store_close(store);
    mxr_config_free(&cfg);
    sodium_memzero(pw, strlen(pw));
    free(pw);
    return status;
}
