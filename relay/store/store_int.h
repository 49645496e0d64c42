/* Store internals shared by the relay/store/ sources: the table catalogue, the
 * environment and transaction structures, and the LMDB wrapper with sticky
 * errors. Only files in relay/store/ include this (it includes <lmdb.h>). */
#ifndef MXR_STORE_INT_H
#define MXR_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <string.h>

#include "relay/store/codec.h"
#include "relay/store/schema.h"
#include "relay/store/store.h"

/* The catalogue of sub-databases. Names follow `<key>_<value>` (Conduit's
 * habit): the name says what maps to what. "short*" are the store's numeric
 * IDs (u64, big-endian): events, rooms and (type, state_key) pairs are
 * numbered once so that edges, timelines and state carry 8 bytes instead of
 * the strings. The order of this enum is the order of table_usage output;
 * append new tables at the end of their section. */
enum store_table {
    T_META,                         /* ascii name -> u64/u32: schema version, counters */
    /* events */
    T_EVENTID_SHORTEVENTID,         /* event ID -> sev */
    T_SHORTEVENTID_EVENTID,         /* sev -> event ID (every allocated sev) */
    T_SHORTEVENTID_PDU,             /* sev -> canonical PDU JSON (stored events only) */
    T_SHORTEVENTID_META,            /* sev -> struct event meta (events.c) */
    T_SHORTEVENTID_REDACTEDBY,      /* sev -> sev of the redaction */
    /* graph (DUPSORT|DUPFIXED, u64 values) */
    T_SHORTEVENTID_PREVS,           /* sev -> prev sev */
    T_SHORTEVENTID_CHILDREN,        /* sev -> sev of an event listing it as prev */
    T_SHORTEVENTID_AUTHS,           /* sev -> auth sev */
    T_SHORTEVENTID_AUTHCHILDREN,    /* sev -> sev of an event listing it as auth */
    T_SHORTROOMID_EXTREMITIES,      /* room -> forward extremity sev */
    /* state */
    T_STATEKEY_SHORTSTATEKEY,       /* str8 type + state_key -> ssk */
    T_SHORTSTATEKEY_STATEKEY,       /* ssk -> str8 type + state_key */
    T_STATEGROUP_DELTA,             /* group -> header + sorted (ssk, sev) delta vs base */
    T_SHORTEVENTID_STATEGROUPS,     /* sev -> group before, group after */
    /* rooms */
    T_ROOMID_SHORTROOMID,           /* room ID -> room */
    T_SHORTROOMID_ROOMID,           /* room -> room ID */
    T_SHORTROOMID_VERSION,          /* room -> room version string */
    T_ROOMSTREAM_SHORTEVENTID,      /* room + stream -> sev: the timeline */
    T_SHORTROOMID_STATEGROUP,       /* room -> current state group */
    T_ROOMSTATEKEY_SHORTEVENTID,    /* room + ssk -> sev: current state */
    T_ROOMUSER_MEMBERSHIP,          /* room + user ID -> sev + str8 membership */
    T_USERROOM_MEMBERSHIP,          /* str8 user ID + room -> membership */
    /* federation */
    T_ORIGINTXNID_RESPONSE,         /* str8 origin + txn ID -> u64 ts + response JSON */
    T_SERVERKEYID_KEY,              /* str8 server + key ID -> key record */
    T_DESTSEQ_QUEUEITEM,            /* str8 dest + u64 seq -> kind + sev | EDU JSON */
    T_DEST_RETRY,                   /* dest -> failures, last failure, next attempt */
    /* homeserver: names reserved now, tables created by the issues that need them */
    T_USERID_ACCOUNT,               /* user -> password hash, flags */
    T_USERID_PROFILE,               /* user -> displayname, avatar */
    T_USERDEVICEID_DEVICE,          /* str8 user + device -> device record */
    T_TOKENHASH_USERDEVICE,         /* SHA-256 of access token -> user + device */
    T_USERDEVICEID_DEVICEKEYS,      /* str8 user + device -> signed device keys */
    T_USERDEVICEKEYID_ONETIMEKEY,   /* str8 user + str8 device + key ID -> one-time key */
    T_USERDEVICESEQ_TODEVICE,       /* str8 user + str8 device + seq -> to-device message */
    T_USERROOMTYPE_ACCOUNTDATA,     /* str8 user + str8 room ("" global) + type -> content */
    T_ROOMTYPEUSER_RECEIPT,         /* room + str8 receipt type + user -> event + ts */
    T_ALIAS_ROOMID,                 /* alias -> room ID */
    T_ROOMID_ALIASES,               /* room -> alias (DUPSORT) */
    T_USERDEVICETXN_RESPONSE,       /* str8 user + str8 device + SHA-256(scope NUL txn ID) -> response */
    T_EVENTID_CLIENTTXN,            /* event ID -> str8 user + str8 device + str16 txn ID */
    T_USERFILTERID_FILTER,          /* str8 user + u64 filter ID -> filter JSON */
    T_ROOMID_PUBLISHED,             /* room ID -> u64 publication time: the published room directory */
    /* PIN realm (relay/store/realm.c) and the OpenID tokens it verifies */
    T_REALM_META,                   /* ascii name -> bytes: realm_id, user_key_salt, box_pk */
    T_REALMUSER_RECORD,             /* salted hash of user ID -> sealed realm record */
    T_REALMSESSION_USER,            /* hash of session token -> expiry + user ID */
    T_REALMAUDIT_EVENT,             /* user key + ts + seq -> event type + guess count */
    T_OPENIDTOKEN_USER,             /* hash of OpenID token -> expiry + user ID */
    /* End-to-end encryption keys (relay/store/e2ee.c) */
    T_USERDEVICEALGO_FALLBACKKEY,   /* str8 user + str8 device + algorithm -> fallback key record */
    T_USERTYPE_CROSSSIGNINGKEY,     /* str8 user + key usage (master, self_signing, user_signing) -> key JSON */
    T_DEVICELISTSTREAM_USER,        /* u64 stream -> user whose devices or keys changed */
    T_USERID_DEVICELISTSTREAM,      /* user -> u64 latest device-list stream position */
    /* Server-side key backup (relay/store/backup.c) */
    T_USERVERSION_BACKUP,           /* str8 user + u64 version -> backup record (algorithm, auth_data, etag) */
    T_USERVERSIONROOMSESSION_KEY,   /* str8 user + u64 version + str8 room + session -> KeyBackupData */
    /* Ephemeral data made durable (relay/store/edus.c) */
    T_RECEIPTSTREAM_ROOM,           /* u64 stream -> room whose receipts changed */
    /* Invites over federation to rooms this server is not in (relay/store/invites.c) */
    T_USERROOM_REMOTEINVITE,        /* str8 user + room ID -> u64 stream + str8 event ID + stripped state JSON */
    T_COUNT
};

struct store_table_def {
    const char *name;
    unsigned flags;          /* MDB_DUPSORT, MDB_DUPFIXED, ... */
    unsigned since;          /* schema version that introduced it; 0 = reserved, not created */
};
extern const struct store_table_def store_tables[T_COUNT];

/* Names of T_META records. */
#define META_SCHEMA "schema_version"
#define META_NEXT_EVENT "next_shorteventid"
#define META_NEXT_ROOM "next_shortroomid"
#define META_NEXT_STATEKEY "next_shortstatekey"
#define META_NEXT_GROUP "next_stategroup"
#define META_NEXT_STREAM "next_stream"
#define META_NEXT_QUEUESEQ "next_queueseq"
#define META_NEXT_ACCOUNTDATA "next_accountdata_stream"
#define META_NEXT_FILTER "next_filter_id"
#define META_NEXT_DEVICELIST "next_devicelist_stream"
#define META_NEXT_TODEVICE "next_todevice_seq"
#define META_NEXT_RECEIPT "next_receipt_stream"
#define META_NEXT_BACKUP "next_backup_version"

/* One queued write submission. */
struct store_req {
    mxr_store_write_fn fn;
    void *arg;
    mxr_store_done_fn done;  /* async completion; NULL for sync */
    void *done_arg;
    int rc;
    struct mxr_err err;
    bool finished;           /* sync: set under s->mu when answered */
    bool failed_once;        /* excluded from re-runs after it failed */
    struct store_req *next;
};

struct mxr_store_txn {
    struct mxr_store *s;
    MDB_txn *txn;
    bool write;
    bool failed;             /* sticky: first error recorded below */
    int mdb_rc;              /* LMDB code of that error, 0 for a logical one */
    struct mxr_err err;
    struct mxr_store_txn *pool_next;
};

struct mxr_store {
    MDB_env *env;
    MDB_dbi dbi[T_COUNT];
    struct mxr_store_options opt;
    char *path;
    size_t map_size;
    unsigned page_size;

    pthread_mutex_t mu;
    pthread_cond_t cv_queue;      /* writer: work arrived / stop */
    pthread_cond_t cv_done;       /* submitters: some request answered */
    pthread_cond_t cv_readers;    /* resize: readers drained / resize over */
    struct store_req *q_head, *q_tail;
    bool stopping;
    bool writer_running;
    pthread_t writer;
    unsigned readers;             /* active read transactions */
    bool resizing;
    struct mxr_store_txn *pool;   /* reset read transactions for reuse */
    struct mxr_store_stats stats;
};

/* --- txn.c: the LMDB wrapper ------------------------------------------- */

/* Records the first error of txn (sticky) and copies it to err. Returns -1. */
int st_fail_mdb(struct mxr_store_txn *t, int rc, const char *what, struct mxr_err *err);
int st_fail(struct mxr_store_txn *t, struct mxr_err *err, const char *errcode, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* -1 (with err = the sticky error) when txn already failed, or when a write
 * is attempted on a read transaction. */
int st_ok(struct mxr_store_txn *t, struct mxr_err *err);
int st_ok_write(struct mxr_store_txn *t, struct mxr_err *err);
/* Refuses an over-long key (a string over 255 bytes reached the store). */
int st_key_ok(struct mxr_store_txn *t, const struct skey *k, const char *what, struct mxr_err *err);

/* 0 found, MXR_STORE_NOT_FOUND, -1. */
int st_get(struct mxr_store_txn *t, enum store_table tb, const struct skey *k, MDB_val *v,
           struct mxr_err *err);
/* With MDB_NOOVERWRITE / MDB_NODUPDATA an existing key (or pair) is not an
 * error: returns ST_EXISTS and the transaction stays usable. */
#define ST_EXISTS 2
int st_put(struct mxr_store_txn *t, enum store_table tb, const struct skey *k, const void *v,
           size_t vlen, unsigned flags, struct mxr_err *err);
/* Deletes the key (or only the dup value when dupval is given). 0 or
 * MXR_STORE_NOT_FOUND or -1. */
/* For tables filled in key order (short IDs, stream positions): appends with
 * MDB_APPEND when k sorts after the table's last key, so pages are filled
 * completely instead of being split in half; a plain put otherwise. */
int st_put_seq(struct mxr_store_txn *t, enum store_table tb, const struct skey *k, const void *v,
               size_t vlen, struct mxr_err *err);
int st_del(struct mxr_store_txn *t, enum store_table tb, const struct skey *k, const void *dupval,
           size_t duplen, struct mxr_err *err);
int st_cursor(struct mxr_store_txn *t, enum store_table tb, MDB_cursor **c, struct mxr_err *err);
/* mdb_cursor_get with NOTFOUND mapped to MXR_STORE_NOT_FOUND and errors made sticky. */
int st_cget(struct mxr_store_txn *t, MDB_cursor *c, MDB_val *k, MDB_val *v, MDB_cursor_op op,
            struct mxr_err *err);
/* Visits every row of tb whose key starts with prefix, in key order. fn
 * returns 0 to go on, 1 to stop, -1 to fail (having set err, or having
 * failed t with st_fail: the error is sticky either way). Returns 0 (also
 * when fn stopped or no row matched) or -1. Rows may not be written by fn.
 * An empty prefix visits the whole table. */
typedef int (*st_row_fn)(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v,
                         struct mxr_err *err);
int st_scan(struct mxr_store_txn *t, enum store_table tb, const struct skey *prefix, st_row_fn fn, void *arg,
            struct mxr_err *err);
/* Allocates the next value of a T_META counter (starting at 1); counters
 * hold the last value handed out (st_counter reads it, 0 when none). */
int st_next(struct mxr_store_txn *t, const char *counter, uint64_t *out, struct mxr_err *err);
int st_counter(struct mxr_store_txn *t, const char *counter, uint64_t *out, struct mxr_err *err);

static inline MDB_val st_val(const struct skey *k)
{
    return (MDB_val){.mv_size = k->n, .mv_data = (void *)k->b};
}

/* Does the key k start with the prefix p? */
static inline bool st_prefix(const MDB_val *k, const struct skey *p)
{
    return k->mv_size >= p->n && memcmp(k->mv_data, p->b, p->n) == 0;
}

/* True when the calling thread holds a read transaction. */
bool store_thread_holds_reads(void);

/* --- commit.c: group commit --------------------------------------------- */
int store_writer_start(struct mxr_store *s, struct mxr_err *err);
void store_writer_stop(struct mxr_store *s);
/* Grows the map (waits for readers to drain). Called by the writer thread
 * with no transaction open. */
int store_grow_map(struct mxr_store *s, struct mxr_err *err);

/* --- schema.c ------------------------------------------------------------ */
/* Opens/creates the tables and checks or migrates the schema version. */
int store_schema_open(struct mxr_store *s, struct mxr_err *err);


/* --- short IDs (ids.c) ---------------------------------------------------- */
/* String -> numeric ID, allocating (create) or not (NOT_FOUND). */
int sid_event(struct mxr_store_txn *t, const char *event_id, bool create, uint64_t *out,
              struct mxr_err *err);
int sid_event_str(struct mxr_store_txn *t, uint64_t sev, char out[MXR_STORE_ID_MAX + 1],
                  struct mxr_err *err);
/* The value of `event_id` in a table keyed by its short event ID (PDU, meta,
 * state groups): 0, MXR_STORE_NOT_FOUND (unknown ID or no row), or -1. */
int st_get_by_event(struct mxr_store_txn *t, enum store_table table, const char *event_id, MDB_val *v,
                    struct mxr_err *err);
int sid_room(struct mxr_store_txn *t, const char *room_id, bool create, uint64_t *out,
             struct mxr_err *err);
int sid_room_str(struct mxr_store_txn *t, uint64_t room, char out[MXR_STORE_ID_MAX + 1],
                 struct mxr_err *err);
int sid_statekey(struct mxr_store_txn *t, const char *type, const char *state_key, bool create,
                 uint64_t *out, struct mxr_err *err);
int sid_statekey_str(struct mxr_store_txn *t, uint64_t ssk, char type[MXR_STORE_ID_MAX + 1],
                     char state_key[MXR_STORE_ID_MAX + 1], struct mxr_err *err);

/* --- events.c -------------------------------------------------------------- */
struct ev_meta {
    uint8_t flags;           /* MXR_STORE_* event flags | EVM_STATE */
    uint64_t room;
    int64_t depth;
    uint64_t stream;
    int64_t received_ts;
    int64_t origin_server_ts;
    uint64_t ssk;            /* state events: their short state key */
    char membership[32];
    char reason[MXR_STORE_REASON_MAX + 1];
};
#define EVM_STATE 0x80u
int evmeta_get(struct mxr_store_txn *t, uint64_t sev, struct ev_meta *m, struct mxr_err *err);
static inline bool evmeta_accepted(const struct ev_meta *m)
{
    return !(m->flags & (MXR_STORE_OUTLIER | MXR_STORE_REJECTED | MXR_STORE_SOFT_FAILED));
}

/* --- graph.c --------------------------------------------------------------- */
int graph_add_edges(struct mxr_store_txn *t, uint64_t sev, const char *const *ids, size_t n,
                    bool auth, struct mxr_err *err);
/* Forward extremities when sev (in room) becomes an accepted non-outlier. */
int graph_extremities_update(struct mxr_store_txn *t, uint64_t room, uint64_t sev,
                             struct mxr_err *err);
/* Iterates the u64 duplicates of key sev in a DUPFIXED table. */
int graph_dups(struct mxr_store_txn *t, enum store_table tb, uint64_t key,
               int (*cb)(void *arg, uint64_t v), void *arg, struct mxr_err *err);

/* --- state.c ---------------------------------------------------------------- */
/* A state entry in numeric form. */
struct sg_entry {
    uint64_t ssk;
    uint64_t sev;   /* 0: absent */
};
int sg_new(struct mxr_store_txn *t, uint64_t parent, struct sg_entry *delta, size_t n,
           uint64_t *out, struct mxr_err *err);
int sg_lookup(struct mxr_store_txn *t, uint64_t group, uint64_t ssk, uint64_t *sev,
              struct mxr_err *err);
/* Full state as a malloc'd array sorted by ssk (absent keys dropped). */
int sg_full(struct mxr_store_txn *t, uint64_t group, struct sg_entry **out, size_t *n,
            struct mxr_err *err);
/* Differences a -> b: entries of b that differ (sev 0 = absent in b). */
int sg_diff(struct mxr_store_txn *t, uint64_t a, uint64_t b, struct sg_entry **out, size_t *n,
            struct mxr_err *err);
/* 0 when the group exists (group 0 always does), else NOT_FOUND / -1. */
int sg_exists(struct mxr_store_txn *t, uint64_t group, struct mxr_err *err);
/* Validates a group's stored record (for mxr_store_check). */
int sg_check(struct mxr_store_txn *t, uint64_t group, const MDB_val *v, struct mxr_err *err);

/* --- rooms.c ------------------------------------------------------------------ */
int room_timeline_add(struct mxr_store_txn *t, uint64_t room, uint64_t stream, uint64_t sev,
                      struct mxr_err *err);

#endif
