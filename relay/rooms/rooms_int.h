/* Internals of relay/rooms shared between its files. */
#ifndef MXR_RELAY_ROOMS_INT_H
#define MXR_RELAY_ROOMS_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxr/auth.h"
#include "mxr/event.h"
#include "mxr/roomver.h"
#include "relay/rooms/rooms.h"
#include "relay/store/store.h"

#define ROOMS_MAX_PREVS 10        /* prev_events we put on our events (the format allows 20) */
#define ROOMS_MAX_AUTH_EVENTS 64  /* auth_events we look at (the format allows 10; older rooms more) */

struct mxr_rooms {
    char server_name[256];
    struct mxr_signing_key key;
    struct mxr_store *store;
    struct mxr_verify_keys remote_keys;   /* as injected */
    struct mxr_verify_keys keys;          /* ours first, then remote_keys */
    int64_t (*clock)(void *ctx);
    void *clock_ctx;
    mxr_rooms_notify_fn notify;
    void *notify_ctx;
    mxr_rooms_in_commit_fn in_commit;
    void *in_commit_ctx;
    char default_version[MXR_STORE_VERSION_MAX + 1];
};

int64_t rooms_now(const struct mxr_rooms *r);

/* The room of an event: its room_id, or for a v12 create the derived one. */
static inline const char *rooms_room_of(const struct mxr_event *ev)
{
    return ev->room_id ? ev->room_id : ev->room_id_buf;
}

/* ---- evcache.c: stored events loaded once per transaction ---------------- */

/* A stored event as the rules see it: parsed, pruned when a redaction of it
 * was applied. */
struct evc_entry {
    struct mxr_event ev;
    unsigned flags;            /* enum mxr_store_event_flags */
};

struct evc_slot;

/* Loads stored events by ID through one store transaction and keeps them
 * (with stable addresses) until evc_free: the auth and state resolution
 * callbacks hand out pointers that must stay valid for the whole call. A
 * store failure sets `failed` and `err`; the callbacks then answer NULL and
 * the caller checks `failed` afterwards. */
struct evcache {
    struct mxr_store_txn *txn;
    struct evc_slot *slots;
    size_t cap, n;
    struct evc_entry **retired;    /* entries forgotten but possibly still referenced */
    size_t n_retired, cap_retired;
    char memo_room[MXR_ID_MAX + 1];
    const struct mxr_room_version *memo_rv;
    bool failed;
    struct mxr_err err;
};

void evc_init(struct evcache *c, struct mxr_store_txn *txn);
void evc_free(struct evcache *c);
/* The stored event, or NULL when it is not stored (or on failure). */
const struct evc_entry *evc_get(struct evcache *c, const char *event_id);
/* Drops what is known of event_id (after storing it or redacting it). */
void evc_forget(struct evcache *c, const char *event_id);
/* mxr_auth_fetch_fn and mxr_event_fetch_fn over a struct evcache. */
const struct mxr_event *evc_auth_fetch(void *ctx, const char *event_id, bool *rejected);
const struct mxr_event *evc_fetch(void *ctx, const char *event_id);
/* The room's version from the store: 0, MXR_STORE_NOT_FOUND, or -1. */
int rooms_room_version(struct mxr_store_txn *txn, const char *room_id, const struct mxr_room_version **rv,
                       struct mxr_err *err);
/* Parses stored PDU JSON as event_id (whose ID is trusted: it is the key it
 * was stored under) for rv. 0 or -1. */
int rooms_load_stored(struct mxr_event *ev, const char *json, size_t len, const char *event_id,
                      const struct mxr_room_version *rv, struct mxr_err *err);
/* The JSON form of a stored event as served: pruned when redacted. */
json_t *rooms_stored_pdu(struct mxr_store_txn *txn, const char *event_id, struct mxr_err *err);

/* ---- state.c: state before events, resolution, current state -------------- */

/* A state: a stored group, or (resolved != NULL) a resolved map
 * {type: {state_key: event_id}} not yet stored, to be stored as a child of
 * `group` when needed. */
struct sview {
    uint64_t group;
    json_t *resolved;
};

struct sview_lookup {
    struct evcache *cache;
    const struct sview *sv;
};
/* mxr_state_lookup_fn over a struct sview_lookup. */
const struct mxr_event *sview_lookup_fn(void *ctx, const char *type, const char *state_key);
/* The event ID at (type, state_key): 0 (copied to out), MXR_STORE_NOT_FOUND, -1. */
int sview_get(struct mxr_store_txn *txn, const struct sview *sv, const char *type, const char *state_key,
              char out[MXR_ID_MAX + 1], struct mxr_err *err);
/* Stores a resolved view as a group (no-op for a group view). */
int sview_store(struct mxr_store_txn *txn, struct sview *sv, struct mxr_err *err);
void sview_clear(struct sview *sv);

/* A group's whole state as {type: {state_key: event_id}}. */
json_t *state_group_json(struct mxr_store_txn *txn, uint64_t group, struct mxr_err *err);

/* Resolves groups (n >= 1) for room version rv: one distinct group is used
 * as is, several are resolved (mxr_state_resolve over evcache). M_NOT_FOUND
 * when an event resolution needs is not stored. */
int state_resolve_groups(struct evcache *c, const struct mxr_room_version *rv, const uint64_t *groups, size_t n,
                         struct sview *out, struct mxr_err *err);

/* Sets the room's current state to the resolution of the states after its
 * forward extremities (spec: "current state" = resolved state across all
 * forward extremities). */
int state_update_current(struct evcache *c, const char *room_id, const struct mxr_room_version *rv,
                         struct mxr_err *err);

/* ---- pipeline.c ---------------------------------------------------------- */

/* One event on its way through the pipeline. */
struct item {
    json_t *pdu;                       /* what is checked and stored (redacted copy after a hash mismatch) */
    struct mxr_event ev;               /* loaded from pdu when `loaded` */
    bool loaded;
    const struct mxr_room_version *rv;
    struct mxr_pdu_result *res;
    bool live;                         /* passed CONFORM..CHECK_HASHES, to run in the write */
    bool local;                        /* ours: no signature fetch, no soft-fail check, failure refuses */
    bool backfilled;                   /* from /backfill: no soft-fail check */
    bool remote_invite;
    bool as_outlier;                   /* MXR_INGEST_OUTLIER: auth against its auth events, then an outlier */
    json_t *const *given_states;       /* mxr_rooms_ingest_with_state: the states after the unknown prevs */
    size_t n_given;
    size_t given_left_out;             /* output: given state events left out (rejected, not stored) */
    char given_first_left_out[MXR_ID_MAX + 1];
    /* Outputs of one write attempt (reset when the store re-runs it). */
    bool stored_now;
    char **missing;                    /* OUTLIER: prevs not known */
    size_t n_missing;
};

/* One write attempt: everything a store write callback needs. */
struct run {
    struct mxr_rooms *r;
    const char *origin;                /* the delivering server; NULL for our own events */
    struct mxr_store_txn *txn;
    struct evcache cache;
    int64_t now;
};

void item_reset_outputs(struct item *it);
/* The verdict recorded for an event stored before (already = true). */
void result_from_meta(struct mxr_pdu_result *res, const struct mxr_store_event_meta *m);
void item_release(struct item *it);
void result_set(struct mxr_pdu_result *res, enum mxr_pdu_outcome o, enum mxr_rooms_phase p, const char *errcode,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Phases AUTH_EVENTS .. PERSIST for one item inside a write transaction,
 * then the in-commit hook when the item was stored. The verdict goes to
 * it->res; -1 only for a store failure or the hook's (err). */
int pipeline_process(struct run *run, struct item *it, struct mxr_err *err);

/* Loads pdu into it for rv (after the format check). 0 or -1 (err). */
int item_load(struct item *it, json_t *pdu, const struct mxr_room_version *rv, struct mxr_err *err);

/* Calls the notify hook for an item if the committed write stored it. */
void pipeline_notify(struct mxr_rooms *r, const char *origin, struct item *it);

/* Items built locally, each with its own result (freed by item_list_clear). */
struct item_list {
    struct item **v;
    size_t n, cap;
};
void item_list_clear(struct item_list *l);

/* The canonical JSON to store for a PDU (without `unsigned`). */
char *rooms_pdu_json(const json_t *pdu, size_t *len, struct mxr_err *err);

/* ---- build.c: our own events ---------------------------------------------- */

struct build_spec {
    const char *room_id;                 /* NULL only for a v12 create */
    const struct mxr_room_version *rv;
    const char *sender;
    const char *type;
    const char *state_key;               /* NULL: not a state event */
    json_t *content;                     /* borrowed */
    int64_t ts;
};

/* The event skeleton for spec in the room as txn sees it: prev_events,
 * depth, auth_events from the current state (origin_server_ts, room_id,
 * sender, type, state_key, content). Not hashed or signed; v1/v2 get an
 * event_id "$random:server" only when `with_id`. New reference or NULL. */
json_t *build_skeleton(struct mxr_rooms *r, struct evcache *c, const struct build_spec *spec, bool with_id,
                       struct mxr_err *err);

/* Builds, signs and processes one of our events inside a write attempt.
 * Anything but acceptance fails (-1, M_FORBIDDEN with the rule for auth). */
int build_local_event(struct run *run, const struct build_spec *spec, struct item_list *kept,
                      char event_id_out[MXR_ID_MAX + 1], struct mxr_err *err);

/* "$"/"!" + 18 random letters + ":" + server: v1/v2 event IDs, room IDs
 * before v12 (appendices: opaque identifiers). */
void rooms_random_id(char *out, size_t cap, char sigil, const char *server);
/* M_INVALID_PARAM unless sender is a user ID of ours. */
int rooms_check_local_sender(const struct mxr_rooms *r, const char *sender, struct mxr_err *err);

/* ---- views.c / visibility.c helpers shared with membership.c ------------- */

/* The auth chain of the events named by the JSON array of IDs `ids`
 * (excluded themselves), appended to `out` as IDs or PDUs; `skip` (object
 * used as a set, may be NULL) lists IDs to leave out. */
int views_auth_chain_into(struct mxr_store_txn *txn, const char *const *ids, size_t n, bool pdus, json_t *skip,
                          json_t *out, struct mxr_err *err);

/* The PDU of event_id as served to `server`: pruned by the redaction
 * algorithm when the server may not see it (history visibility). */
int views_served_pdu(struct mxr_store_txn *txn, const char *event_id, const char *server, json_t **out,
                     struct mxr_err *err);

/* Whether user_id's server is `server` (the part after the first ':'). */
bool rooms_user_on(const char *user_id, const char *server);

/* The membership of user_id in a state view ("leave" when absent). */
int rooms_membership_in(struct mxr_store_txn *txn, const struct sview *sv, const char *user_id,
                        char out[32], struct mxr_err *err);

#endif
