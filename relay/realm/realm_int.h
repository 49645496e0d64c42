/* Internals of relay/realm/: the realm context, the record and its state
 * machine, the at-rest seal, rate limits. */
#ifndef MXR_RELAY_REALM_INT_H
#define MXR_RELAY_REALM_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mxr/realm_crypto.h"
#include "mxr/realm_wire.h"
#include "relay/realm/realm.h"

#define REALM_AT_REST_KEY_BYTES 32
#define REALM_USER_KEY_BYTES 32
#define REALM_SALT_BYTES 32
#define REALM_AUDIT_KEEP 100            /* §6.5: the last 100 events per user */
#define REALM_SESSION_TTL_MS (60 * 60 * 1000LL)   /* §6.6 step 4: at most 1 h */

/* ---- rate limits and replay cache (limits.c) ------------------------------ */

struct realm_lim;
struct realm_lim *realm_lim_new(const struct mxr_realm_limits *l);
void realm_lim_free(struct realm_lim *lim);
/* 0 when allowed (and counted), -1 when limited with *retry_ms set. */
int realm_lim_ip(struct realm_lim *lim, const char *ip, int64_t now, int64_t *retry_ms);
int realm_lim_server(struct realm_lim *lim, const char *server_name, int64_t now, int64_t *retry_ms);
enum realm_user_op { REALM_LIM_RECOVER2, REALM_LIM_REGISTER2, REALM_LIM_DELETE };
int realm_lim_user(struct realm_lim *lim, const uint8_t user_key[REALM_USER_KEY_BYTES], enum realm_user_op op,
                   int64_t now, int64_t *retry_ms);
/* True when the user's last recover2 passed within the recover3 grace. */
bool realm_lim_recover3_grace(struct realm_lim *lim, const uint8_t user_key[REALM_USER_KEY_BYTES], int64_t now);
/* Records the ephemeral key of an envelope: 1 when it was seen within the
 * last `window_ms` (a replay), 0 otherwise. */
int realm_lim_replay(struct realm_lim *lim, const uint8_t epk[MXR_REALM_BOX_PUBLIC_BYTES], int64_t now,
                     int64_t window_ms);

/* ---- the context ----------------------------------------------------------- */

struct mxr_realm {
    char server_name[256];
    const struct mxr_signing_key *key;
    struct mxr_store *store;
    const struct mxr_log *log;
    int64_t (*clock)(void *ctx);
    void *clock_ctx;
    mxr_realm_openid_fn openid;
    void *openid_ctx;
    unsigned max_allowed_guesses;
    struct mxr_realm_limits limits;
    struct realm_lim *lim;

    uint8_t realm_id[MXR_REALM_ID_BYTES];
    uint8_t user_key_salt[REALM_SALT_BYTES];
    uint8_t box_pk[MXR_REALM_BOX_PUBLIC_BYTES];
    uint8_t box_sk[MXR_REALM_BOX_SECRET_BYTES];       /* from the key file */
    uint8_t at_rest_key[REALM_AT_REST_KEY_BYTES];     /* from the key file */
    char key_id[MXR_REALM_KEY_ID_MAX + 1];
};

int64_t realm_now(const struct mxr_realm *r);

/* user_key = BLAKE2b-256(user_id, key = user_key_salt) (§6.5). */
void realm_user_key(const struct mxr_realm *r, const char *user_id, uint8_t out[REALM_USER_KEY_BYTES]);

/* ---- key file (keys.c) ---------------------------------------------------- */

/* Loads the key file, or creates it (0600, fsync'd) when absent. */
int realm_keys_load(const char *path, uint8_t box_sk[MXR_REALM_BOX_SECRET_BYTES],
                    uint8_t at_rest_key[REALM_AT_REST_KEY_BYTES], const struct mxr_log *log, struct mxr_err *err);
/* Reads realm_id and user_key_salt from the store, creating them on first
 * start, and checks the stored box_pk against the key file's. */
int realm_identity_init(struct mxr_realm *r, struct mxr_err *err);

/* ---- records and their state machine (record.c) --------------------------- */

enum realm_state {
    REALM_REGISTERED = 1,
    REALM_NO_GUESSES = 2,   /* tombstone: secrets wiped, header kept (§6.4 item 4) */
};

/* record_v1 (§6.5), big-endian on disk. */
struct realm_record {
    uint8_t state;          /* enum realm_state */
    uint8_t profile;        /* enum mxr_realm_profile, reported back only */
    uint16_t allowed;       /* allowed_guesses */
    uint16_t count;         /* guess_count */
    int64_t created_ms;
    int64_t updated_ms;
    uint8_t version[MXR_REALM_VERSION_BYTES];
    uint8_t k[MXR_REALM_SCALAR_BYTES];            /* oprf_private_key (share k_i) */
    uint8_t V[MXR_REALM_POINT_BYTES];             /* oprf_public_key */
    uint8_t vk[MXR_REALM_SIG_PUBLIC_BYTES];       /* oprf_verifying_key */
    uint8_t sig[MXR_REALM_SIG_BYTES];             /* oprf_signature */
    uint8_t commitment[MXR_REALM_COMMITMENT_BYTES];   /* unlock_key_commitment */
    uint8_t tag[MXR_REALM_TAG_BYTES];             /* unlock_key_tag */
    uint8_t s_share[MXR_REALM_SCALAR_BYTES];      /* encryption_key_scalar_share */
    uint8_t enc_secret[MXR_REALM_ENCRYPTED_SECRET_BYTES];
    uint8_t enc_commit[MXR_REALM_TAG_BYTES];      /* encrypted_secret_commitment */
};

#define REALM_RECORD_SCHEMA 1
#define REALM_RECORD_HEADER 24
#define REALM_RECORD_FULL (REALM_RECORD_HEADER + 16 + 32 + 32 + 32 + 64 + 32 + 16 + 32 + 145 + 16)
#define REALM_SEALED_MAX (24 + REALM_RECORD_FULL + 16)

/* Seals rec for storage under user_key: nonce(24) ‖ XChaCha20-Poly1305(rec,
 * ad = user_key). A tombstone seals the header only. Returns the length. */
size_t realm_record_seal(const struct mxr_realm *r, const struct realm_record *rec,
                         const uint8_t user_key[REALM_USER_KEY_BYTES], uint8_t out[REALM_SEALED_MAX]);
/* Opens a stored record: 0, or -1 (M_UNKNOWN) when it does not open under
 * the at-rest key and this user_key (tampered, moved, or another key file). */
int realm_record_open(const struct mxr_realm *r, const uint8_t *sealed, size_t len,
                      const uint8_t user_key[REALM_USER_KEY_BYTES], struct realm_record *rec, struct mxr_err *err);

/* Audit event types (§6.3 audit). */
enum realm_audit_type {
    REALM_AUDIT_REGISTERED = 1,
    REALM_AUDIT_GUESS_USED = 2,
    REALM_AUDIT_SHARE_RECOVERED = 3,
    REALM_AUDIT_GUESS_LIMIT_REACHED = 4,
    REALM_AUDIT_DELETED = 5,
};
const char *realm_audit_name(unsigned type);

enum realm_outcome {
    REALM_OK,
    REALM_E_NOT_REGISTERED,
    REALM_E_NO_GUESSES,
    REALM_E_VERSION_MISMATCH,
    REALM_E_BAD_TAG,
};

/* What one step did: the answer, the change to persist, the audit events. */
struct realm_step {
    enum realm_outcome outcome;
    bool write;             /* persist *rec */
    bool remove;            /* delete the record */
    unsigned n_audit;
    uint8_t audit[2];
    unsigned guesses_remaining;   /* REALM_E_BAD_TAG */
};

/* The state machine of §2.4 with §6.4's guess-limit rules. `exists` says
 * whether rec holds a stored record. Pure: no I/O, no clock (now given). */
void realm_sm_register2(struct realm_record *rec, bool *exists, const struct realm_record *incoming, int64_t now,
                        struct realm_step *st);
void realm_sm_recover1(struct realm_record *rec, bool exists, int64_t now, struct realm_step *st);
void realm_sm_recover2(struct realm_record *rec, bool exists, const uint8_t version[MXR_REALM_VERSION_BYTES],
                       int64_t now, struct realm_step *st);
void realm_sm_recover3(struct realm_record *rec, bool exists, const uint8_t version[MXR_REALM_VERSION_BYTES],
                       const uint8_t tag[MXR_REALM_TAG_BYTES], int64_t now, struct realm_step *st);
void realm_sm_delete(struct realm_record *rec, bool exists, struct realm_step *st);

/* Zeroes every secret field and moves rec to REALM_NO_GUESSES. */
void realm_record_wipe(struct realm_record *rec);

/* ---- durable steps (store.c) ---------------------------------------------- */

enum realm_op_kind { REALM_OP_REGISTER2, REALM_OP_RECOVER1, REALM_OP_RECOVER2, REALM_OP_RECOVER3, REALM_OP_DELETE };

/* One state-machine step in one durable write transaction: read the
 * record, run the step, write it back with its audit events, commit
 * (fsync) — and only then return (§6.4 item 2). On return `rec` holds the
 * record after the step (the caller wipes it), `step` the outcome. */
struct realm_op {
    enum realm_op_kind kind;
    uint8_t user_key[REALM_USER_KEY_BYTES];
    int64_t now;
    const struct realm_record *incoming;          /* register2 */
    uint8_t version[MXR_REALM_VERSION_BYTES];     /* recover2, recover3 */
    uint8_t tag[MXR_REALM_TAG_BYTES];             /* recover3 */
    /* results */
    bool exists;
    struct realm_record rec;
    struct realm_step step;
};
int realm_op_run(struct mxr_realm *r, struct realm_op *op, struct mxr_err *err);
void realm_op_wipe(struct realm_op *op);

/* ---- handlers (handlers.c, session.c) -------------------------------------- */

/* The context of one sealed call, opened by realm_call_open. */
struct realm_call {
    struct mxr_realm *r;
    struct mxr_request *req;
    struct mxr_response *resp;
    struct mxr_realm_channel ch;
    bool sealed;
    json_t *inner;
    int64_t now;
    char user_id[256];
    uint8_t user_key[REALM_USER_KEY_BYTES];
};

/* Opens a sealed request for `op` (§6.3: op, realm_id, ts_ms; session unless
 * need_session is false) with the IP limit first. false: resp is filled. */
bool realm_call_open(struct realm_call *c, struct mxr_request *req, struct mxr_response *resp, const char *op,
                     bool need_session);
/* Fills resp with the (sealed, once the envelope opened) reply; takes body. */
void realm_reply(struct realm_call *c, int status, json_t *body);
void realm_reply_error(struct realm_call *c, int status, const char *errcode, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void realm_reply_limited(struct realm_call *c, int64_t retry_ms);
void realm_call_close(struct realm_call *c);

void realm_h_info(struct mxr_request *req, struct mxr_response *resp);
void realm_h_session(struct mxr_request *req, struct mxr_response *resp);
void realm_h_register1(struct mxr_request *req, struct mxr_response *resp);
void realm_h_register2(struct mxr_request *req, struct mxr_response *resp);
void realm_h_recover1(struct mxr_request *req, struct mxr_response *resp);
void realm_h_recover2(struct mxr_request *req, struct mxr_response *resp);
void realm_h_recover3(struct mxr_request *req, struct mxr_response *resp);
void realm_h_delete(struct mxr_request *req, struct mxr_response *resp);
void realm_h_audit(struct mxr_request *req, struct mxr_response *resp);

#endif
