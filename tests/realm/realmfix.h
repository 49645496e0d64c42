/* A realm in a test process, driven without sockets: the relay fixture's
 * server context and dispatcher (tests/relay/fixture.h) with the realm's
 * routes, a store in a temporary directory (tests/store/store_fixture.h),
 * the key file in another, a fake clock and a fake OpenID verifier that
 * accepts "ok:<user ID>" tokens.
 *
 * realmnet is the client library's transport over several such realms
 * (url "test://<server name>"), with realms that can be taken down. */
#ifndef MXR_TEST_REALMFIX_H
#define MXR_TEST_REALMFIX_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "mxr/realm_client.h"
#include "relay/realm/realm_int.h"
#include "tests/relay/fixture.h"
#include "tests/store/store_fixture.h"

struct realmfix {
    struct fixture fx;
    struct fx st;
    char keydir[256];
    char key_path[300];
    struct mxr_realm_limits limits;
    bool have_limits;
    struct mxr_realm *realm;
    int openid_calls;
    bool down;                       /* realmnet: unreachable */
    unsigned max_guesses;
};

/* limits NULL: every rate limit off. */
void realmfix_open(struct realmfix *r, const char *server_name, const struct mxr_realm_limits *limits);
/* A restart: the realm and the store closed and reopened on the same files. */
void realmfix_restart(struct realmfix *r);
void realmfix_close(struct realmfix *r);

/* A plain (unsealed) request; the caller clears resp. */
void realmfix_raw(struct realmfix *r, const char *method, const char *path, const char *body,
                  struct mxr_response *resp);

/* Seals {op, realm_id, ts_ms, session?} + fields (taken) and posts it to
 * /_relay/realm/v1/<op>. Returns the opened reply body (new reference) with
 * *status the sealed status, or NULL when the reply was not sealed (then
 * *status is the HTTP status). */
json_t *realmfix_call(struct realmfix *r, const char *op, json_t *fields, const uint8_t *session, int *status);

/* Opens a session for user (asserts success). */
void realmfix_session(struct realmfix *r, const char *user, uint8_t session[MXR_REALM_SESSION_BYTES]);

/* The stored record of user: true and *rec, or false when there is none. */
bool realmfix_record(struct realmfix *r, const char *user, struct realm_record *rec);
/* Replaces the stored record of user (an operator editing its database). */
void realmfix_put_record(struct realmfix *r, const char *user, const struct realm_record *rec);

/* A valid register2 body for this realm from a random root: k_i is the
 * share of a fresh OPRF key (t = 1, so k_i = k0), the secret fields are
 * random. access_key receives the input whose OPRF output matches the
 * registered commitment; tag the registered unlock_key_tag. */
json_t *realmfix_register2_fields(struct realmfix *r, unsigned allowed, uint8_t version[16],
                                  uint8_t access_key[32], uint8_t tag[16]);

/* ---- the client library's transport over realmfixes -------------------------- */

struct realmnet {
    struct realmfix *realms[8];
    size_t n;
    int64_t *now;             /* the clock for ts_ms (realms[0]'s fixture clock) */
    unsigned http_calls;
    char user[256];           /* whose OpenID tokens the fake homeserver hands out */
    struct mxr_realm_transport tr;
};
void realmnet_init(struct realmnet *net, struct realmfix *const *realms, size_t n);
/* The realm's info as discovered through the transport (asserts success). */
void realmnet_discover(struct realmnet *net, struct mxr_realm_client *c, size_t i, struct mxr_realm_info *out);

#endif
