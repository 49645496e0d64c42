/* A server context for tests: configuration from YAML, keys from fixed
 * seeds, a clock the test sets, and a fake outbound key fetch that serves
 * responses the test registers (and counts the fetches). No sockets. */
#ifndef MXR_TEST_RELAY_FIXTURE_H
#define MXR_TEST_RELAY_FIXTURE_H

#include <jansson.h>
#include <stdint.h>

#include "mxr/keys.h"
#include "relay/config.h"
#include "relay/http/http.h"
#include "relay/server.h"

/* The spec's test key (appendices, "Cryptographic Test Vectors"): server
 * "domain", key ed25519:1. */
/* The appendix writes the seed with non-zero unused trailing bits (…XA1);
 * this is the same 32 bytes in canonical form, which strict decoders take. */
#define SPEC_SEED_B64 "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0"
#define SPEC_PUBLIC_B64 "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI"

#define FIXTURE_T0 1700000000000LL   /* the clock at start, ms */

struct fixture {
    struct mxr_config cfg;
    struct mxr_server srv;
    struct mxr_router router;
    int64_t now;
    json_t *remote;              /* server name -> key response the fake fetch returns */
    int fetches;                 /* fake fetches so far */
    struct mxr_signing_key spec_key;   /* "domain"'s key */
};

/* server_name is ours; extra_yaml (may be NULL) is appended to a minimal
 * configuration. The router holds MXR_FEDERATION_ROUTES and the X-Matrix hook. */
void fixture_init(struct fixture *f, const char *server_name, const char *extra_yaml);
void fixture_free(struct fixture *f);

/* Rebuilds the router with `routes` ahead of MXR_FEDERATION_ROUTES (a test
 * route then shadows a real one of the same pattern). */
void fixture_routes_first(struct fixture *f, const struct mxr_route *routes, size_t n);

/* A signed key response of server with key k, valid until valid_until. */
json_t *fixture_key_response(const struct mxr_signing_key *k, const char *server, int64_t valid_until);

/* Registers what the fake fetch returns for server (takes the reference;
 * NULL: the fetch fails). */
void fixture_serve_keys(struct fixture *f, const char *server, json_t *response);

/* Runs a request through the dispatcher; resp must be cleared by the caller.
 * origin_out (may be NULL) receives req.origin. */
void fixture_request(struct fixture *f, const char *method, const char *target, const char *authorization,
                     const char *body, struct mxr_response *resp, char *origin_out);

/* Asserts resp is the Matrix error (status, errcode) and that its message
 * contains `needle` (may be NULL). */
void assert_matrix_error(const struct mxr_response *resp, int status, const char *errcode, const char *needle);

#endif
