/* The inbound federation API: the endpoints other servers call on us
 * (spec: server-server API), and what they share.
 *
 * Every endpoint here is X-Matrix authenticated by the dispatcher (the route
 * flag MXR_ROUTE_FEDERATION_AUTH; openid/userinfo is the exception the spec
 * makes), then admitted by the per-origin rate limiter (routes.c wraps each
 * handler in mxr_fed_admit), then, for room-scoped endpoints, gated by
 * mxr_fed_room_gate: the room must be known, the origin allowed by the room's
 * m.room.server_acl, and (for reads of room data) resident in the room.
 *
 * Layering: handlers call relay/rooms for everything about events and read
 * the store only for what rooms does not offer (current state lookups for
 * ACLs and summaries, the /send transaction record). */
#ifndef MXR_RELAY_INBOUND_H
#define MXR_RELAY_INBOUND_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "mxr/error.h"
#include "relay/http/http.h"

struct mxr_server;
struct mxr_store_txn;

/* ---- limits -------------------------------------------------------------- */

#define MXR_TXN_MAX_PDUS 50     /* transactions.yaml / transaction.yaml */
#define MXR_TXN_MAX_EDUS 100
#define MXR_BACKFILL_MAX 100    /* most PDUs one /backfill answer carries, whatever `limit` asks */
#define MXR_MISSING_MAX 100     /* same for /get_missing_events */

/* ---- the inbound context (rate limits, per-origin /send order) ------------- */

/* A token bucket per origin server: `rate` requests per second on average,
 * bursts of up to `burst`. Generous by default: it is there to stop a peer
 * that hammers us, not to shape normal traffic. */
struct mxr_inbound_limits {
    double rate;     /* tokens per second; <= 0: no limit */
    double burst;    /* bucket size */
};
#define MXR_INBOUND_DEFAULT_RATE 200.0
#define MXR_INBOUND_DEFAULT_BURST 2000.0

struct mxr_inbound;

/* limits NULL: the defaults. Thread-safe once built. */
struct mxr_inbound *mxr_inbound_new(const struct mxr_inbound_limits *limits, struct mxr_err *err);
void mxr_inbound_free(struct mxr_inbound *in);

/* Takes a token of origin's bucket at now_ms: 0 when admitted, else the
 * milliseconds until a token is available (> 0). */
int64_t mxr_inbound_take(struct mxr_inbound *in, const char *origin, int64_t now_ms);

/* Serialises the /send transactions of one origin (the spec has senders
 * wait for our 200 before the next transaction, so this costs nothing to a
 * well-behaved peer and turns a retry that races its original into a read
 * of the stored response). 0 when locked; 1 when MXR_ORIGIN_MAX_WAITERS
 * requests of the origin already wait (a peer must not tie up our threads:
 * answer 429); -1 when out of memory. */
#define MXR_ORIGIN_MAX_WAITERS 4
int mxr_inbound_origin_lock(struct mxr_inbound *in, const char *origin);
void mxr_inbound_origin_unlock(struct mxr_inbound *in, const char *origin);

/* True at most once per `every_ms` (the first call included): for chores
 * such as forgetting old transaction records. */
bool mxr_inbound_chore_due(struct mxr_inbound *in, int64_t now_ms, int64_t every_ms);

/* ---- helpers every handler uses -------------------------------------------- */

/* The rate limiter in front of every authenticated endpoint: true to go on;
 * false after filling resp with 429 M_LIMIT_EXCEEDED and retry_after_ms. */
bool mxr_fed_admit(struct mxr_request *req, struct mxr_response *resp);

enum mxr_gate_flags {
    MXR_GATE_ROOM_KNOWN = 1u << 0,   /* 404 M_NOT_FOUND when the room is unknown */
    MXR_GATE_IN_ROOM = 1u << 1,      /* 403 M_FORBIDDEN unless the origin has a joined member */
};

/* Opens a read transaction for a room-scoped endpoint and applies the
 * room's server ACL to the origin (403 M_FORBIDDEN, server-server API "Server
 * Access Control Lists"), plus the flags. Returns the transaction (end it
 * with mxr_store_read_end before any network I/O) or NULL with resp filled.
 * room_id is validated as a room ID (400 M_INVALID_PARAM). */
struct mxr_store_txn *mxr_fed_room_gate(struct mxr_request *req, struct mxr_response *resp, const char *room_id,
                                        unsigned flags);

/* A read transaction, or NULL with resp filled (500 when the store is not
 * available or fails). */
struct mxr_store_txn *mxr_fed_read(struct mxr_request *req, struct mxr_response *resp);

/* An integer query parameter: 0 with *out (left alone when absent; *present
 * says which), or -1 with resp filled (400 M_INVALID_PARAM, or
 * M_MISSING_PARAM when required and absent). */
int mxr_fed_query_int(struct mxr_request *req, struct mxr_response *resp, const char *name, bool required,
                      int64_t *out, bool *present);

/* Whether user_id is a valid user ID (historical grammar) of `server`. */
bool mxr_fed_user_of(const char *user_id, const char *server);

/* ---- server ACLs (acl.c) ---------------------------------------------------- */

/* The m.room.server_acl decision for server_name (with or without a port)
 * given the event's content (m.room.server_acl schema): IP literals denied
 * when allow_ip_literals is false, then deny globs, then allow globs, else
 * deny. Globs (appendices "Glob-style matching") match case-insensitively
 * against the host without its port. */
bool mxr_acl_allows(const json_t *content, const char *server_name);

/* Case-insensitive glob match ('*' any run, '?' one character). */
bool mxr_acl_glob(const char *pattern, const char *s);

/* Applies the room's current m.room.server_acl to server: 0 when allowed
 * (or when the room has no ACL, or is unknown), -1 with M_FORBIDDEN naming
 * the ACL, or M_UNKNOWN for a store failure. */
int mxr_acl_check(struct mxr_store_txn *txn, const char *room_id, const char *server, struct mxr_err *err);

/* ---- handlers -------------------------------------------------------------- */

/* send.c */
void mxr_handle_send(struct mxr_request *req, struct mxr_response *resp);
/* events.c */
void mxr_handle_event(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_state(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_state_ids(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_backfill(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_get_missing_events(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_event_auth(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_timestamp_to_event(struct mxr_request *req, struct mxr_response *resp);
/* membership.c */
void mxr_handle_make_join(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_make_leave(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_make_knock(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_send_join(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_send_leave(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_send_join_v1(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_send_leave_v1(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_send_knock(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_invite(struct mxr_request *req, struct mxr_response *resp);
/* query.c */
void mxr_handle_query_profile(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_query_directory(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_user_devices(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_user_keys_query(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_user_keys_claim(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_openid_userinfo(struct mxr_request *req, struct mxr_response *resp);
/* directory.c */
void mxr_handle_public_rooms_get(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_public_rooms_post(struct mxr_request *req, struct mxr_response *resp);
void mxr_handle_hierarchy(struct mxr_request *req, struct mxr_response *resp);

#endif
