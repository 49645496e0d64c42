/* The table catalogue and the schema version record.
 *
 * A store records the schema version that wrote it. Synapse's rule: a store
 * newer than this build is refused (it may hold data this build would
 * misread or destroy); an older one is migrated step by step inside one
 * transaction, so a crash mid-migration leaves the old version intact. */
#include "relay/store/store_int.h"

#include <stdio.h>

#define DUPS (MDB_DUPSORT | MDB_DUPFIXED)

const struct store_table_def store_tables[T_COUNT] = {
    [T_META] = {"meta", 0, 1},
    [T_EVENTID_SHORTEVENTID] = {"eventid_shorteventid", 0, 1},
    [T_SHORTEVENTID_EVENTID] = {"shorteventid_eventid", 0, 1},
    [T_SHORTEVENTID_PDU] = {"shorteventid_pdu", 0, 1},
    [T_SHORTEVENTID_META] = {"shorteventid_meta", 0, 1},
    [T_SHORTEVENTID_REDACTEDBY] = {"shorteventid_redactedby", 0, 1},
    [T_SHORTEVENTID_PREVS] = {"shorteventid_prevs", DUPS, 1},
    [T_SHORTEVENTID_CHILDREN] = {"shorteventid_children", DUPS, 1},
    [T_SHORTEVENTID_AUTHS] = {"shorteventid_auths", DUPS, 1},
    [T_SHORTEVENTID_AUTHCHILDREN] = {"shorteventid_authchildren", DUPS, 1},
    [T_SHORTROOMID_EXTREMITIES] = {"shortroomid_extremities", DUPS, 1},
    [T_STATEKEY_SHORTSTATEKEY] = {"statekey_shortstatekey", 0, 1},
    [T_SHORTSTATEKEY_STATEKEY] = {"shortstatekey_statekey", 0, 1},
    [T_STATEGROUP_DELTA] = {"stategroup_delta", 0, 1},
    [T_SHORTEVENTID_STATEGROUPS] = {"shorteventid_stategroups", 0, 1},
    [T_ROOMID_SHORTROOMID] = {"roomid_shortroomid", 0, 1},
    [T_SHORTROOMID_ROOMID] = {"shortroomid_roomid", 0, 1},
    [T_SHORTROOMID_VERSION] = {"shortroomid_version", 0, 1},
    [T_ROOMSTREAM_SHORTEVENTID] = {"roomstream_shorteventid", 0, 1},
    [T_SHORTROOMID_STATEGROUP] = {"shortroomid_stategroup", 0, 1},
    [T_ROOMSTATEKEY_SHORTEVENTID] = {"roomstatekey_shorteventid", 0, 1},
    [T_ROOMUSER_MEMBERSHIP] = {"roomuser_membership", 0, 1},
    [T_USERROOM_MEMBERSHIP] = {"userroom_membership", 0, 1},
    [T_ORIGINTXNID_RESPONSE] = {"origintxnid_response", 0, 1},
    [T_SERVERKEYID_KEY] = {"serverkeyid_key", 0, 1},
    [T_DESTSEQ_QUEUEITEM] = {"destseq_queueitem", 0, 1},
    [T_DEST_RETRY] = {"dest_retry", 0, 1},
    /* Homeserver: accounts (relay/store/accounts.c). Schema 1 has not been
     * released, so these join it without a version bump. */
    [T_USERID_ACCOUNT] = {"userid_account", 0, 1},
    [T_USERID_PROFILE] = {"userid_profile", 0, 1},
    [T_USERDEVICEID_DEVICE] = {"userdeviceid_device", 0, 1},
    [T_TOKENHASH_USERDEVICE] = {"tokenhash_userdevice", 0, 1},
    /* Homeserver tables the client API issue added (still schema 1: unreleased). */
    [T_USERDEVICEID_DEVICEKEYS] = {"userdeviceid_devicekeys", 0, 1},
    [T_USERDEVICEKEYID_ONETIMEKEY] = {"userdevicekeyid_onetimekey", 0, 1},
    [T_USERDEVICESEQ_TODEVICE] = {"userdeviceseq_todevice", 0, 1},
    [T_USERROOMTYPE_ACCOUNTDATA] = {"userroomtype_accountdata", 0, 1},
    [T_ROOMTYPEUSER_RECEIPT] = {"roomtypeuser_receipt", 0, 1},
    [T_ALIAS_ROOMID] = {"alias_roomid", 0, 1},
    [T_ROOMID_ALIASES] = {"roomid_aliases", MDB_DUPSORT, 1},
    [T_USERDEVICETXN_RESPONSE] = {"userdevicetxn_response", 0, 1},
    [T_EVENTID_CLIENTTXN] = {"eventid_clienttxn", 0, 1},
    [T_USERFILTERID_FILTER] = {"userfilterid_filter", 0, 1},
    [T_ROOMID_PUBLISHED] = {"roomid_published", 0, 1},
    [T_REALM_META] = {"realm_meta", 0, 1},
    [T_REALMUSER_RECORD] = {"realmuser_record", 0, 1},
    [T_REALMSESSION_USER] = {"realmsession_user", 0, 1},
    [T_REALMAUDIT_EVENT] = {"realmaudit_event", 0, 1},
    [T_OPENIDTOKEN_USER] = {"openidtoken_user", 0, 1},
    [T_USERDEVICEALGO_FALLBACKKEY] = {"userdevicealgo_fallbackkey", 0, 1},
    [T_USERTYPE_CROSSSIGNINGKEY] = {"usertype_crosssigningkey", 0, 1},
    [T_DEVICELISTSTREAM_USER] = {"deviceliststream_user", 0, 1},
    [T_USERID_DEVICELISTSTREAM] = {"userid_deviceliststream", 0, 1},
    [T_USERVERSION_BACKUP] = {"userversion_backup", 0, 1},
    [T_USERVERSIONROOMSESSION_KEY] = {"userversionroomsession_key", 0, 1},
    [T_RECEIPTSTREAM_ROOM] = {"receiptstream_room", 0, 1},
    [T_USERROOM_REMOTEINVITE] = {"userroom_remoteinvite", 0, 1},
};

/* Data migrations: steps[i] brings a store from version `from` to from + 1.
 * New tables need no step (open creates every table of the current schema);
 * a step rewrites data whose layout changed. None yet: 1 is the first. */
static const struct store_migration migrations[] = {
    {0, NULL},
};
static const size_t n_migrations = 0;

int store_schema_migrate(struct mxr_store_txn *t, unsigned have, unsigned want,
                         const struct store_migration *steps, size_t n_steps, struct mxr_err *err)
{
    for (unsigned v = have; v < want; v++) {
        const struct store_migration *step = NULL;
        for (size_t i = 0; i < n_steps; i++)
            if (steps[i].from == v && steps[i].run)
                step = &steps[i];
        if (!step)
            return st_fail(t, err, "M_UNKNOWN", "store: no migration from schema version %u to %u; "
                           "this store cannot be upgraded by this mxrelay", v, v + 1);
        if (step->run(t, err))
            return st_fail(t, err, "M_UNKNOWN", "store: migration from schema version %u failed", v);
    }
    return 0;
}

int store_schema_version(struct mxr_store_txn *t, unsigned *out, struct mxr_err *err)
{
    struct skey k;
    skey_init(&k);
    skey_raw(&k, META_SCHEMA, strlen(META_SCHEMA));
    MDB_val v;
    int rc = st_get(t, T_META, &k, &v, err);
    if (rc)
        return rc;
    if (v.mv_size != 4)
        return st_fail(t, err, "M_UNKNOWN", "store: schema version record is %zu bytes, not 4", v.mv_size);
    *out = be32_get(v.mv_data);
    return 0;
}

int store_schema_set_version(struct mxr_store_txn *t, unsigned v, struct mxr_err *err)
{
    struct skey k;
    skey_init(&k);
    skey_raw(&k, META_SCHEMA, strlen(META_SCHEMA));
    uint8_t b[4];
    be32_put(b, v);
    return st_put(t, T_META, &k, b, 4, 0, err);
}

static int check_version(const struct mxr_store *s, unsigned have, struct mxr_err *err)
{
    if (have > MXR_STORE_SCHEMA_VERSION)
        return mxr_err_set(err, "M_UNKNOWN", "store: %s has schema version %u, newer than the %u this "
                           "mxrelay understands; run the newer mxrelay that wrote it (or restore a backup)",
                           s->path, have, MXR_STORE_SCHEMA_VERSION);
    if (have == 0)
        return mxr_err_set(err, "M_UNKNOWN", "store: %s has schema version 0, which no mxrelay writes: "
                           "not an mxrelay store", s->path);
    return 0;
}

static int open_readonly(struct mxr_store *s, struct mxr_err *err)
{
    struct mxr_store_txn t = {.s = s};
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t.txn);
    if (rc)
        return mxr_err_set(err, "M_UNKNOWN", "store: %s", mdb_strerror(rc));
    for (int i = 0; i < T_COUNT; i++) {
        if (!store_tables[i].since)
            continue;
        rc = mdb_dbi_open(t.txn, store_tables[i].name, store_tables[i].flags, &s->dbi[i]);
        if (rc) {
            mdb_txn_abort(t.txn);
            return mxr_err_set(err, "M_UNKNOWN", "store: %s lacks table %s (%s): not an mxrelay store, "
                               "or an older one that needs a read-write open to migrate",
                               s->path, store_tables[i].name, mdb_strerror(rc));
        }
    }
    unsigned have = 0;
    rc = store_schema_version(&t, &have, err);
    if (rc == MXR_STORE_NOT_FOUND)
        mxr_err_set(err, "M_UNKNOWN", "store: %s has no schema version record", s->path);
    if (rc || check_version(s, have, err)) {
        mdb_txn_abort(t.txn);
        return -1;
    }
    if (have < MXR_STORE_SCHEMA_VERSION) {
        mdb_txn_abort(t.txn);
        return mxr_err_set(err, "M_UNKNOWN", "store: %s has schema version %u; open it read-write once "
                           "to migrate it to %u", s->path, have, MXR_STORE_SCHEMA_VERSION);
    }
    mdb_txn_commit(t.txn);   /* keeps the table handles */
    return 0;
}

int store_schema_open(struct mxr_store *s, struct mxr_err *err)
{
    if (s->opt.read_only)
        return open_readonly(s, err);

    struct mxr_store_txn t = {.s = s, .write = true};
    int rc = mdb_txn_begin(s->env, NULL, 0, &t.txn);
    if (rc)
        return mxr_err_set(err, "M_UNKNOWN", "store: %s", mdb_strerror(rc));

    /* An environment without named tables is new; one with tables but no
     * version record was not written by mxrelay. */
    MDB_dbi main_dbi;
    MDB_stat st;
    bool fresh = false;
    if ((rc = mdb_dbi_open(t.txn, NULL, 0, &main_dbi)) || (rc = mdb_stat(t.txn, main_dbi, &st)))
        goto fail_rc;
    fresh = st.ms_entries == 0;
    if ((rc = mdb_dbi_open(t.txn, store_tables[T_META].name, MDB_CREATE, &s->dbi[T_META])))
        goto fail_rc;

    unsigned have = MXR_STORE_SCHEMA_VERSION;
    if (!fresh) {
        rc = store_schema_version(&t, &have, err);
        if (rc == MXR_STORE_NOT_FOUND)
            mxr_err_set(err, "M_UNKNOWN", "store: %s holds an LMDB environment without an mxrelay schema "
                        "version record: refusing to use it", s->path);
        if (rc || check_version(s, have, err))
            goto fail;
    }
    for (int i = 0; i < T_COUNT; i++) {
        if (!store_tables[i].since || i == T_META)
            continue;
        if ((rc = mdb_dbi_open(t.txn, store_tables[i].name, store_tables[i].flags | MDB_CREATE,
                               &s->dbi[i])))
            goto fail_rc;
    }
    if (have < MXR_STORE_SCHEMA_VERSION &&
        store_schema_migrate(&t, have, MXR_STORE_SCHEMA_VERSION, migrations, n_migrations, err))
        goto fail;
    if ((fresh || have < MXR_STORE_SCHEMA_VERSION) &&
        store_schema_set_version(&t, MXR_STORE_SCHEMA_VERSION, err))
        goto fail;
    if ((rc = mdb_txn_commit(t.txn))) {
        t.txn = NULL;
        goto fail_rc;
    }
    return 0;

fail_rc:
    mxr_err_set(err, "M_UNKNOWN", "store: preparing the tables of %s: %s", s->path, mdb_strerror(rc));
fail:
    if (t.txn)
        mdb_txn_abort(t.txn);
    return -1;
}
