/* The ingest benchmark's bound (bench_bound.h). */
#include "tests/bench/bench_bound.h"

#include <errno.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mxr/base64.h"
#include "mxr/json.h"
#include "mxr/sign.h"

int bb_copy_fill(struct pdu_copy *c, json_t *pdu, const struct mxr_room_version *rv, const struct bf_server *s)
{
    struct mxr_err err = {0};
    c->pdu = json_incref(pdu);
    c->bytes = mxr_canonical_json(pdu, &c->len, &err);
    json_t *red = mxr_event_redact(pdu, rv, &err);
    c->signed_bytes = red ? mxr_sign_payload(red, &c->signed_len, &err) : NULL;
    json_decref(red);
    const char *sig = json_string_value(json_object_get(json_object_get(json_object_get(pdu, "signatures"), s->name),
                                                        s->key.key_id));
    if (!c->bytes || !c->signed_bytes || !sig || mxr_b64_decode(c->sig, sizeof c->sig, sig, strlen(sig),
                                                                 MXR_B64_STD, &err) != 64)
        return -1;
    return 0;
}

void bb_copy_free(struct pdu_copy *c)
{
    json_decref(c->pdu);
    free(c->bytes);
    free(c->signed_bytes);
    memset(c, 0, sizeof *c);
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Each component is timed in this thread's CPU time (the machine may be
 * shared: wall time would count other processes), best of 3 passes. */
int bb_measure(const char *scratch, const struct pdu_copy *c, size_t n, const uint8_t *pk, size_t per_srv, size_t batch,
               struct bound *b)
{
    volatile int sink = 0;
    b->verify = b->sha = b->canon = 1e9;
    for (int pass = 0; pass < 3; pass++) {
        int bad = 0;
        double t0 = thread_cpu();
        for (size_t i = 0; i < n; i++)
            bad |= crypto_sign_verify_detached(c[i].sig, (const uint8_t *)c[i].signed_bytes, c[i].signed_len,
                                                pk + 32 * (i / per_srv));
        double t = (thread_cpu() - t0) / (double)n;
        b->verify = t < b->verify ? t : b->verify;
        if (bad != 0) {
            fprintf(stderr, "bench: a signature of the bound's PDUs does not verify\n");
            return -1;
        }
        uint8_t h[32];
        t0 = thread_cpu();
        for (size_t i = 0; i < n; i++) {
            crypto_hash_sha256(h, (const uint8_t *)c[i].bytes, c[i].len);
            sink += h[0];
        }
        t = (thread_cpu() - t0) / (double)n;
        b->sha = t < b->sha ? t : b->sha;
        t0 = thread_cpu();
        for (size_t i = 0; i < n; i++) {
            size_t len;
            char *s = mxr_canonical_json(c[i].pdu, &len, NULL);
            sink += s ? s[0] : 0;
            free(s);
        }
        t = (thread_cpu() - t0) / (double)n;
        b->canon = t < b->canon ? t : b->canon;
    }
    double t0;

    /* LMDB: the PDU bytes under their event IDs, one durable commit per 50
     * (one transaction's worth), as the store commits a /send. */
    char dir[300];
    snprintf(dir, sizeof dir, "%s/bound-lmdb", scratch);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -1;
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, 1UL << 30);
    if (rc == 0)
        rc = mdb_env_open(env, dir, 0, 0600);
    if (rc == 0 && (rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
        rc = mdb_dbi_open(txn, NULL, 0, &dbi);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    double c0 = thread_cpu();
    t0 = bf_now();
    for (size_t i = 0; rc == 0 && i < n; i += batch) {
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
            break;
        for (size_t j = i; rc == 0 && j < n && j < i + batch; j++) {
            MDB_val k = {strlen(c[j].id), (void *)c[j].id}, v = {c[j].len, c[j].bytes};
            rc = mdb_put(txn, dbi, &k, &v, 0);
        }
        rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
    }
    b->lmdb = (bf_now() - t0) / (double)n;
    b->lmdb_cpu = (thread_cpu() - c0) / (double)n;
    mdb_env_close(env);
    if (rc != 0) {
        fprintf(stderr, "bench: LMDB: %s\n", mdb_strerror(rc));
        return -1;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    b->per_s = (double)(cores > 0 ? cores : 1) / (b->verify + b->sha + b->canon + b->lmdb_cpu);
    return 0;
}
