/* Internals shared by proto/realm_client.c and proto/realm_config.c. */
#ifndef MXR_REALM_CLIENT_INT_H
#define MXR_REALM_CLIENT_INT_H

#include <stdint.h>

#include "mxr/realm_client.h"

/* The transport's clock, or the system clock. */
int64_t realm_client_now(const struct mxr_realm_client *c);

/* The keyed MACs of §2.3 (profile sodium1; jb1 answers M_UNRECOGNIZED):
 * enc_key = MAC32(enc_seed, "User Secret Encryption Key", s),
 * tag_i = MAC16(unlock_key, "Unlock Key Tag", realm_id_i),
 * commitment_i = MAC16(unlock_key, "Encrypted User Secret Commitment",
 * realm_id_i, s_i, encrypted_secret). Exposed for tests and the offline
 * attack demonstration (tests/realm/offline_attack.c). */
int realm_client_enc_key(uint8_t key[32], enum mxr_realm_profile p, const uint8_t enc_seed[32], const uint8_t s[32],
                         struct mxr_err *err);
int realm_client_tag(uint8_t tag[MXR_REALM_TAG_BYTES], enum mxr_realm_profile p, const uint8_t unlock_key[32],
                     const uint8_t realm_id[MXR_REALM_ID_BYTES], struct mxr_err *err);
int realm_client_commit(uint8_t out[MXR_REALM_TAG_BYTES], enum mxr_realm_profile p, const uint8_t unlock_key[32],
                        const uint8_t realm_id[MXR_REALM_ID_BYTES], const uint8_t s_i[32],
                        const uint8_t enc_secret[MXR_REALM_ENCRYPTED_SECRET_BYTES], struct mxr_err *err);

/* ---- proto/realm_call.c ---------------------------------------------------------- */

/* A sealed call with the session (opened on demand from an OpenID token),
 * retried after a 429 when the transport can sleep, and once after an
 * expired session. 0 with a sealed reply (any status but 429) in *status and
 * *body; -1 with res filled (UNREACHABLE, LIED or FAILED). */
int realm_client_call(struct mxr_realm_client *c, const struct mxr_realm_info *ri, const char *op,
                      const json_t *fields, int *status, json_t **body, struct mxr_realm_result *res,
                      struct mxr_err *err);
/* A sealed error reply as res (NOT_REGISTERED, NO_GUESSES, VERSION_MISMATCH, FAILED). */
void realm_client_classify(struct mxr_realm_result *res, int status, const json_t *body);
void realm_client_result_set(struct mxr_realm_result *res, enum mxr_realm_status st, int http, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void realm_client_report_init(struct mxr_realm_report *rep, const struct mxr_realm_config *cfg);
/* The configuration's shape and a profile this build can run, before any request. */
int realm_client_config_ok(const struct mxr_realm_client *c, const struct mxr_realm_config *cfg, struct mxr_err *err);
/* Wipes the strings of a JSON object holding secrets, then frees it. */
void realm_client_wipe_json(json_t *o);

#endif
