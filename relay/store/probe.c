/* Raw LMDB put throughput in a scratch environment: the ceiling the store's
 * own write path is measured against (tests/bench/bench_store), and a quick
 * way for an operator to see what a disk's fsync rate allows. Lives here
 * because only relay/store/ may include <lmdb.h>. */
#include "relay/store/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void remove_env(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

double mxr_store_probe_put_rate(const char *dir, unsigned n, unsigned batch, size_t value_size,
                                enum mxr_store_sync sync, struct mxr_err *err)
{
    if (!dir || !n || !batch) {
        mxr_err_set(err, "M_UNKNOWN", "probe: directory, count and batch size are required");
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/probe-%ld", dir, (long)getpid());
    if (mkdir(path, 0700) != 0) {
        mxr_err_set(err, "M_UNKNOWN", "probe: cannot create %s", path);
        return -1;
    }
    MDB_env *env = NULL;
    MDB_dbi dbi;
    uint8_t *val = calloc(1, value_size ? value_size : 1);
    double rate = -1;
    int rc = val ? mdb_env_create(&env) : ENOMEM;
    if (rc)
        goto out;
    size_t need = (size_t)n * (value_size + 64) * 3 + ((size_t)64 << 20);
    if ((rc = mdb_env_set_mapsize(env, need)) ||
        (rc = mdb_env_open(env, path, MDB_NOTLS | (sync == MXR_STORE_SYNC_NONE ? MDB_NOSYNC : 0), 0600)))
        goto out;
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)))
        goto out;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) || (rc = mdb_txn_commit(txn)))
        goto out;
    for (size_t i = 0; i < value_size; i++)
        val[i] = (uint8_t)(i * 31 + 7);
    double t0 = now_s();
    for (unsigned done = 0; done < n;) {
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)))
            goto out;
        for (unsigned j = 0; j < batch && done < n; j++, done++) {
            /* Event-ID-like keys: 44 bytes, spread over the key space. */
            char key[45];
            snprintf(key, sizeof key, "$%08x%035u", (unsigned)(done * 2654435761u), done);
            MDB_val k = {44, key}, v = {value_size, val};
            if ((rc = mdb_put(txn, dbi, &k, &v, 0))) {
                mdb_txn_abort(txn);
                goto out;
            }
        }
        if ((rc = mdb_txn_commit(txn)))
            goto out;
    }
    rate = n / (now_s() - t0);
out:
    if (rc)
        mxr_err_set(err, "M_UNKNOWN", "probe: %s", mdb_strerror(rc));
    if (env)
        mdb_env_close(env);
    free(val);
    remove_env(path);
    return rate;
}
