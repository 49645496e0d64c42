/* The client side of PIN-protected key recovery (design:
 * pin-recovery-and-payments.md §2.3 client algorithms, §6.8 realm
 * selection, §6.10 integration with secret storage).
 *
 * A user spreads a secret of at most 128 bytes — in practice the 32-byte
 * recovery root that is their secret-storage (SSSS) default key — over n
 * realms run by different relays, any t of which (t > n/2, t >= 2) recover
 * it with the PIN. Each recovery attempt costs a guess at every realm asked;
 * after `allowed_guesses` wrong PINs every realm wipes its share.
 *
 * This library is pure: every exchange with a realm goes through an injected
 * transport (struct mxr_realm_transport), and so does the OpenID token a
 * realm session starts from. `mxr realm` (proto/mxr/cmd_realm.c) plugs in
 * libcurl; tests plug in the realm's handlers directly.
 *
 * What the client checks, so that a realm that lies is noticed and outvoted
 * rather than trusted:
 *   - at registration, each realm's info is signed by its relay's
 *     federation key (GET /_matrix/key/v2/server, self-signed), and the box
 *     key and that signing key are pinned in the configuration;
 *   - every request and reply is sealed to the pinned box key;
 *   - recover2 answers carry the signature of the registration's one-time
 *     key over (realm_id, V_i) and a DLEQ proof that W_i = k_i·U; answers
 *     are grouped by (unlock_key_commitment, verifying key) and only a
 *     group of at least t counts;
 *   - recover3 shares are checked against their MAC commitment and grouped
 *     by encrypted_secret (at least t).
 * Realms that fail a check are reported as MXR_REALM_ST_LIED.
 */
#ifndef MXR_REALM_CLIENT_H
#define MXR_REALM_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/error.h"
#include "mxr/keys.h"
#include "mxr/realm_crypto.h"
#include "mxr/realm_wire.h"

#define MXR_REALM_CLIENT_MAX 16          /* realms in one configuration */
#define MXR_REALM_URL_MAX 512
#define MXR_REALM_OPENID_TOKEN_MAX 512
#define MXR_REALM_RECOVERY_KEY_MAX 64    /* 35 bytes in base58 with spaces, + NUL */

/* Client-side errcodes, beside the realm's (mxr/realm_wire.h). */
#define MXR_REALM_E_INVALID_PIN "ORG.MXRELAY.REALM.INVALID_PIN"
#define MXR_REALM_E_UNAVAILABLE "ORG.MXRELAY.REALM.UNAVAILABLE"

/* One realm as pinned in a configuration. */
struct mxr_realm_info {
    char url[MXR_REALM_URL_MAX];               /* where the transport reaches it (opaque to the library) */
    char server_name[256];                     /* the relay, as its signed info says */
    char operator_name[256];                   /* who runs it; "" means the server name's host */
    uint8_t realm_id[MXR_REALM_ID_BYTES];
    uint8_t box_public_key[MXR_REALM_BOX_PUBLIC_BYTES];
    char key_id[MXR_REALM_KEY_ID_MAX + 1];
    char signing_key_id[MXR_KEY_ID_MAX + 1];   /* the relay key that signed info */
    uint8_t signing_key[32];
    unsigned max_allowed_guesses;
};

/* A realm set: sorted by realm_id, realm i (0-based) holds share index i+1. */
struct mxr_realm_config {
    struct mxr_realm_info realms[MXR_REALM_CLIENT_MAX];
    size_t n;
    unsigned threshold;
    enum mxr_realm_profile profile;
};

/* ---- the transport (the only I/O) ------------------------------------------- */

struct mxr_realm_transport {
    /* One HTTP exchange with a realm: method "GET" or "POST", path relative
     * to realm->url (e.g. "/_relay/realm/v1/info"), body NULL for GET.
     * Fills *status and *response (the parsed JSON body, or NULL). -1 with
     * err only when no response came back (unreachable, timeout). */
    int (*http)(void *ctx, const struct mxr_realm_info *realm, const char *method, const char *path,
                const json_t *body, long *status, json_t **response, struct mxr_err *err);
    /* A fresh OpenID token of the user for this realm (client-server API
     * POST /user/{userId}/openid/request_token) and the homeserver's server
     * name. One token per realm, so no realm can replay another's. */
    int (*openid)(void *ctx, const struct mxr_realm_info *realm, char token_out[MXR_REALM_OPENID_TOKEN_MAX],
                  char matrix_server_out[256], struct mxr_err *err);
    /* Optional: sleeps before retrying a rate-limited request (NULL: no retry). */
    void (*sleep_ms)(void *ctx, long ms);
    /* Optional: the clock, ms since the epoch (NULL: the system clock). */
    int64_t (*now_ms)(void *ctx);
    void *ctx;
};

/* Per-realm sessions and the user; one per user and run. */
struct mxr_realm_client {
    const struct mxr_realm_transport *tr;
    char user_id[256];
    struct {
        uint8_t realm_id[MXR_REALM_ID_BYTES];
        uint8_t token[MXR_REALM_SESSION_BYTES];
        bool used;
    } sessions[MXR_REALM_CLIENT_MAX];
};

int mxr_realm_client_init(struct mxr_realm_client *c, const struct mxr_realm_transport *tr, const char *user_id,
                          struct mxr_err *err);
/* Wipes the sessions. */
void mxr_realm_client_clear(struct mxr_realm_client *c);

/* ---- outcome per realm ---------------------------------------------------------- */

enum mxr_realm_status {
    MXR_REALM_ST_NOT_ASKED = 0,
    MXR_REALM_ST_OK,
    MXR_REALM_ST_UNREACHABLE,      /* no answer, or an unsealed error */
    MXR_REALM_ST_FAILED,           /* a sealed error (auth, rate limit, bad request) */
    MXR_REALM_ST_NOT_REGISTERED,
    MXR_REALM_ST_NO_GUESSES,
    MXR_REALM_ST_VERSION_MISMATCH, /* holds another registration than the majority (tampering signal, §6.4 item 7) */
    MXR_REALM_ST_LIED,             /* failed a signature, proof, commitment or envelope check */
};
const char *mxr_realm_status_name(enum mxr_realm_status st);

struct mxr_realm_result {
    enum mxr_realm_status status;
    int http_status;
    char detail[200];
    int guess_count;         /* recover2: the realm's count after this guess (-1 unknown) */
    int allowed_guesses;     /* recover2 (-1 unknown) */
};

struct mxr_realm_report {
    struct mxr_realm_result realms[MXR_REALM_CLIENT_MAX];   /* in configuration order */
    size_t n;
    int guesses_remaining;   /* after a wrong PIN: the least any realm has left (-1 unknown) */
    unsigned lied;           /* realms that failed a check */
};

/* ---- configuration ---------------------------------------------------------------- */

/* Fetches a realm's info (GET /_relay/realm/v1/info) and its relay's keys
 * (GET /_matrix/key/v2/server) through the transport and verifies both: the
 * key response is self-signed and valid now, info is signed by one of its
 * keys, server names agree (and equal io->server_name when that is set).
 * Fills the rest of io from io->url. M_FORBIDDEN for a failed check. */
int mxr_realm_discover(struct mxr_realm_client *c, struct mxr_realm_info *io, struct mxr_err *err);

/* Builds a configuration from verified realms under §6.8's selection rules:
 * 2 <= n <= MXR_REALM_CLIENT_MAX; t > n/2 and t >= 2; distinct realm IDs and
 * server names; distinct operators; at most one realm on the user's own
 * homeserver. Sorts by realm_id. M_INVALID_PARAM naming the broken rule. */
int mxr_realm_config_build(struct mxr_realm_config *out, const struct mxr_realm_info *realms, size_t n,
                           unsigned threshold, enum mxr_realm_profile profile, const char *user_id,
                           struct mxr_err *err);

/* The configuration as JSON (for account data or a file) and back; from_json
 * re-checks every rule of mxr_realm_config_build. */
json_t *mxr_realm_config_to_json(const struct mxr_realm_config *cfg, struct mxr_err *err);
int mxr_realm_config_from_json(struct mxr_realm_config *cfg, const json_t *j, const char *user_id,
                               struct mxr_err *err);

/* ---- the three operations -------------------------------------------------------- */

/* §2.3 Register: every realm must accept (register_threshold = n, §6.8).
 * secret: 1..MXR_REALM_SECRET_MAX bytes. allowed_guesses: 1..each realm's
 * max (5 recommended, §6.4 item 1). On a partial failure the report says
 * which realms hold the new registration. */
int mxr_realm_register(struct mxr_realm_client *c, const struct mxr_realm_config *cfg, const uint8_t *pin,
                       size_t pin_len, const uint8_t *secret, size_t secret_len, unsigned allowed_guesses,
                       struct mxr_realm_report *rep, struct mxr_err *err);

/* §2.3 Recover. 0 with the secret (secret_out holds MXR_REALM_SECRET_MAX
 * bytes); -1 with MXR_REALM_E_INVALID_PIN (rep->guesses_remaining),
 * MXR_REALM_E_NO_GUESSES, MXR_REALM_E_NOT_REGISTERED or
 * MXR_REALM_E_UNAVAILABLE (fewer than t realms answered consistently). */
int mxr_realm_recover(struct mxr_realm_client *c, const struct mxr_realm_config *cfg, const uint8_t *pin,
                      size_t pin_len, uint8_t *secret_out, size_t *secret_len, struct mxr_realm_report *rep,
                      struct mxr_err *err);

/* Deletes the registration at every realm (no PIN needed). 0 when all
 * answered OK. */
int mxr_realm_delete(struct mxr_realm_client *c, const struct mxr_realm_config *cfg, struct mxr_realm_report *rep,
                     struct mxr_err *err);

/* ---- the recovered root as the secret-storage key --------------------------------- */

/* The spec's "cryptographic key representation" (appendices): base58 of
 * 0x8B 0x01 ‖ key ‖ parity, a space after every 4th character. This is how
 * a 32-byte recovery root is shown to the user as the SSSS key
 * (m.secret_storage.v1.aes-hmac-sha2). */
int mxr_realm_recovery_key_encode(char out[MXR_REALM_RECOVERY_KEY_MAX], const uint8_t key[32], struct mxr_err *err);
/* The reverse; whitespace is ignored. M_INVALID_PARAM on a bad character,
 * header or parity. */
int mxr_realm_recovery_key_decode(uint8_t key[32], const char *text, struct mxr_err *err);

#endif
