/* The bound of the ingest benchmark (RESULTS.md): the minimal per-PDU work
 * — one ed25519 verification, one SHA-256, one canonical JSON encoding, one
 * LMDB put with a durable commit per batch — timed in one thread's CPU time
 * over the same PDUs the relay was sent. */
#ifndef MXR_BENCH_BOUND_H
#define MXR_BENCH_BOUND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/event.h"
#include "mxr/roomver.h"
#include "tests/bench/bench_fed.h"

/* What the bound needs of one PDU. */
struct pdu_copy {
    json_t *pdu;
    char *bytes;                 /* canonical JSON of the PDU */
    size_t len;
    char *signed_bytes;          /* what the signature covers */
    size_t signed_len;
    uint8_t sig[64];
    char id[MXR_ID_MAX + 1];
};

struct bound {
    double verify, sha, canon, lmdb_cpu;   /* CPU seconds per PDU */
    double lmdb;                           /* wall seconds per PDU, durable commits included */
    double per_s;                          /* cores / (verify + sha + canon + lmdb_cpu) */
};

/* Fills c from a PDU signed by server s (new references / allocations). */
int bb_copy_fill(struct pdu_copy *c, json_t *pdu, const struct mxr_room_version *rv, const struct bf_server *s);
void bb_copy_free(struct pdu_copy *c);

/* Times the four over c[0..n) (pk: 32 bytes per server, per_srv PDUs each
 * in order); the LMDB environment goes under `scratch`. 0 or -1. */
int bb_measure(const char *scratch, const struct pdu_copy *c, size_t n, const uint8_t *pk, size_t per_srv, size_t batch,
               struct bound *b);

#endif
