/* End-to-end encryption keys (relay/store/e2ee.h). Record layouts:
 *
 * userdeviceid_devicekeys:    str8 user + device -> DeviceKeys JSON
 * userdevicekeyid_onetimekey: str8 user + str8 device + "alg:id" -> key JSON
 * userdevicealgo_fallbackkey: str8 user + str8 device + alg -> u8 format (1) |
 *                             u8 used | str8 "alg:id" | key JSON
 * usertype_crosssigningkey:   str8 user + usage -> CrossSigningKey JSON
 * deviceliststream_user:      u64 position -> user ID
 * userid_deviceliststream:    user ID -> u64 position (the user's latest)
 */
#include "relay/store/e2ee.h"

#include <stdio.h>
#include <stdlib.h>

#include "relay/store/accounts.h"
#include "relay/store/store_int.h"

#define FALLBACK_FORMAT 1

static int ud_prefix(struct mxr_store_txn *t, struct skey *k, const char *user_id, const char *device_id,
                     struct mxr_err *err)
{
    if (!user_id || !user_id[0] || !device_id || !device_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: E2EE key call without user or device ID");
    if (strlen(device_id) > MXR_STORE_DEVICE_ID_MAX)
        return st_fail(t, err, "M_INVALID_PARAM", "store: device ID over %d bytes", MXR_STORE_DEVICE_ID_MAX);
    skey_init(k);
    skey_str(k, user_id);
    skey_str(k, device_id);
    return st_key_ok(t, k, "user + device ID", err);
}

/* Deletes every row of tb whose key starts with p. */
static int del_prefix(struct mxr_store_txn *t, enum store_table tb, const struct skey *p, struct mxr_err *err)
{
    MDB_cursor *c;
    if (st_cursor(t, tb, &c, err))
        return -1;
    int rc;
    for (;;) {   /* seek again after each delete: no reliance on cursor position after mdb_cursor_del */
        MDB_val k = st_val(p), v;
        rc = st_cget(t, c, &k, &v, MDB_SET_RANGE, err);
        if (rc != 0 || !st_prefix(&k, p))
            break;
        int d = mdb_cursor_del(c, 0);
        if (d) {
            rc = st_fail_mdb(t, d, store_tables[tb].name, err);
            break;
        }
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

/* ---- device keys -------------------------------------------------------------------------- */

static int dk_key(struct mxr_store_txn *t, struct skey *k, const char *user_id, const char *device_id,
                  struct mxr_err *err)
{
    if (!user_id || !user_id[0] || !device_id || !device_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: device keys without user or device ID");
    skey_init(k);
    skey_str(k, user_id);
    skey_raw(k, device_id, strlen(device_id));
    return st_key_ok(t, k, "user + device ID", err);
}

int mxr_store_device_keys_put(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                              const char *json, size_t len, struct mxr_err *err)
{
    struct skey k;
    if (st_ok_write(t, err) || dk_key(t, &k, user_id, device_id, err))
        return -1;
    return st_put(t, T_USERDEVICEID_DEVICEKEYS, &k, json, len, 0, err) < 0 ? -1 : 0;
}

int mxr_store_device_keys_get(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                              const char **json, size_t *len, struct mxr_err *err)
{
    struct skey k;
    if (st_ok(t, err) || dk_key(t, &k, user_id, device_id, err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_USERDEVICEID_DEVICEKEYS, &k, &v, err);
    if (rc)
        return rc;
    *json = v.mv_data;
    *len = v.mv_size;
    return 0;
}

/* ---- one-time keys ------------------------------------------------------------------------ */

static int key_id_ok(struct mxr_store_txn *t, const char *key_id, struct mxr_err *err)
{
    const char *colon = key_id ? strchr(key_id, ':') : NULL;
    if (!colon || colon == key_id || strlen(key_id) > MXR_STORE_KEY_ID_MAX)
        return st_fail(t, err, "M_INVALID_PARAM", "store: key ID '%.80s' is not <algorithm>:<id> (at most %d bytes)",
                       key_id ? key_id : "", MXR_STORE_KEY_ID_MAX);
    return 0;
}

int mxr_store_otk_add(struct mxr_store_txn *t, const char *user_id, const char *device_id, const char *key_id,
                      const char *json, size_t len, const char **existing, size_t *existing_len,
                      struct mxr_err *err)
{
    struct skey k;
    if (existing)
        *existing = NULL;
    if (st_ok_write(t, err) || key_id_ok(t, key_id, err) || ud_prefix(t, &k, user_id, device_id, err))
        return -1;
    skey_raw(&k, key_id, strlen(key_id));
    if (st_key_ok(t, &k, "one-time key ID", err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_USERDEVICEKEYID_ONETIMEKEY, &k, &v, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (existing) {
            *existing = v.mv_data;
            *existing_len = v.mv_size;
        }
        return 0;
    }
    return st_put(t, T_USERDEVICEKEYID_ONETIMEKEY, &k, json, len, 0, err) < 0 ? -1 : 0;
}

struct otk_count {
    size_t prefix_len;
    mxr_store_otk_count_cb cb;
    void *arg;
    char alg[MXR_STORE_KEY_ID_MAX + 1];
    uint64_t n;
    bool stopped;
};

static int otk_count_row(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v,
                         struct mxr_err *err)
{
    (void)v;
    struct otk_count *oc = arg;
    const char *id = (const char *)k->mv_data + oc->prefix_len;
    size_t n = k->mv_size - oc->prefix_len;
    const char *colon = memchr(id, ':', n);
    if (!colon)
        return st_fail(t, err, "M_UNKNOWN", "store: one-time key row without an algorithm");
    size_t al = (size_t)(colon - id);
    if (oc->n && (strlen(oc->alg) != al || memcmp(oc->alg, id, al))) {
        if (oc->cb(oc->arg, oc->alg, oc->n)) {
            oc->stopped = true;
            return 1;
        }
        oc->n = 0;
    }
    if (!oc->n)
        copy_str(oc->alg, sizeof oc->alg, id, al);
    oc->n++;
    return 0;
}

int mxr_store_otk_counts(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                         mxr_store_otk_count_cb cb, void *arg, struct mxr_err *err)
{
    struct skey p;
    if (st_ok(t, err) || ud_prefix(t, &p, user_id, device_id, err))
        return -1;
    struct otk_count oc = {.prefix_len = p.n, .cb = cb, .arg = arg};
    if (st_scan(t, T_USERDEVICEKEYID_ONETIMEKEY, &p, otk_count_row, &oc, err) < 0)
        return -1;
    if (oc.n && !oc.stopped)
        cb(arg, oc.alg, oc.n);
    return 0;
}

static char *dup_json(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static int fb_key(struct mxr_store_txn *t, struct skey *k, const char *user_id, const char *device_id,
                  const char *alg, size_t alg_len, struct mxr_err *err)
{
    if (ud_prefix(t, k, user_id, device_id, err))
        return -1;
    skey_raw(k, alg, alg_len);
    return st_key_ok(t, k, "fallback key algorithm", err);
}

/* The fallback key of alg: claims it (marks used) and copies it out. */
static int fallback_claim(struct mxr_store_txn *t, const char *user_id, const char *device_id, const char *alg,
                          char *key_id, char **json, struct mxr_err *err)
{
    struct skey k;
    if (fb_key(t, &k, user_id, device_id, alg, strlen(alg), err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_USERDEVICEALGO_FALLBACKKEY, &k, &v, err);
    if (rc)
        return rc;
    struct srd r = srd_make(v.mv_data, v.mv_size);
    bool bad = srd_u8(&r) != FALLBACK_FORMAT;
    uint8_t used = srd_u8(&r);
    srd_str8(&r, key_id, MXR_STORE_KEY_ID_MAX + 1);
    if (bad || r.bad)
        return st_fail(t, err, "M_UNKNOWN", "store: fallback key record malformed");
    if (!(*json = dup_json(r.p, r.n)))
        return st_fail(t, err, "M_UNKNOWN", "store: out of memory");
    if (used)
        return 0;
    /* LMDB values of a write transaction may move on the next put: copy */
    uint8_t *copy = malloc(v.mv_size);
    if (!copy) {
        free(*json);
        *json = NULL;
        return st_fail(t, err, "M_UNKNOWN", "store: out of memory");
    }
    memcpy(copy, v.mv_data, v.mv_size);
    copy[1] = 1;
    rc = st_put(t, T_USERDEVICEALGO_FALLBACKKEY, &k, copy, v.mv_size, 0, err);
    free(copy);
    if (rc < 0) {
        free(*json);
        *json = NULL;
        return -1;
    }
    return 0;
}

struct first_row {
    size_t prefix_len;
    char key_id[MXR_STORE_KEY_ID_MAX + 1];
    char *json;
    bool found, oom;
};

static int first_row(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v, struct mxr_err *err)
{
    (void)t;
    (void)err;
    struct first_row *fr = arg;
    if (!copy_str(fr->key_id, sizeof fr->key_id, (const char *)k->mv_data + fr->prefix_len,
                  k->mv_size - fr->prefix_len))
        return 0;   /* cannot happen: IDs were checked on the way in */
    fr->json = dup_json(v->mv_data, v->mv_size);
    fr->oom = !fr->json;
    fr->found = true;
    return 1;
}

int mxr_store_key_claim(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                        const char *algorithm, char *key_id, char **json, bool *fallback, struct mxr_err *err)
{
    *json = NULL;
    *fallback = false;
    key_id[0] = '\0';
    struct skey p;
    if (st_ok_write(t, err) || ud_prefix(t, &p, user_id, device_id, err))
        return -1;
    if (!algorithm || !algorithm[0] || strchr(algorithm, ':') || strlen(algorithm) > 64)
        return MXR_STORE_NOT_FOUND;   /* no key ID can have that algorithm */
    size_t base = p.n;
    skey_raw(&p, algorithm, strlen(algorithm));
    skey_raw(&p, ":", 1);
    struct first_row fr = {.prefix_len = base};
    if (st_key_ok(t, &p, "one-time key algorithm", err) ||
        st_scan(t, T_USERDEVICEKEYID_ONETIMEKEY, &p, first_row, &fr, err) < 0)
        return -1;
    if (fr.oom)
        return st_fail(t, err, "M_UNKNOWN", "store: out of memory");
    if (fr.found) {
        struct skey k;
        ud_prefix(t, &k, user_id, device_id, err);
        skey_raw(&k, fr.key_id, strlen(fr.key_id));
        if (st_del(t, T_USERDEVICEKEYID_ONETIMEKEY, &k, NULL, 0, err) < 0) {
            free(fr.json);
            return -1;
        }
        snprintf(key_id, MXR_STORE_KEY_ID_MAX + 1, "%s", fr.key_id);
        *json = fr.json;
        return 0;
    }
    int rc = fallback_claim(t, user_id, device_id, algorithm, key_id, json, err);
    if (rc == 0)
        *fallback = true;
    return rc;
}

/* ---- fallback keys ------------------------------------------------------------------------ */

int mxr_store_fallback_put(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                           const char *key_id, const char *json, size_t len, struct mxr_err *err)
{
    struct skey k;
    if (st_ok_write(t, err) || key_id_ok(t, key_id, err) ||
        fb_key(t, &k, user_id, device_id, key_id, (size_t)(strchr(key_id, ':') - key_id), err))
        return -1;
    uint8_t used = 0;
    MDB_val v;
    int rc = st_get(t, T_USERDEVICEALGO_FALLBACKKEY, &k, &v, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {   /* the same key again keeps its flag (keys.yaml: fallback_keys) */
        struct srd r = srd_make(v.mv_data, v.mv_size);
        char old[MXR_STORE_KEY_ID_MAX + 1];
        srd_u8(&r);
        uint8_t was = srd_u8(&r);
        srd_str8(&r, old, sizeof old);
        if (!r.bad && !strcmp(old, key_id))
            used = was;
    }
    struct sbuf b;
    sbuf_init(&b);
    sbuf_u8(&b, FALLBACK_FORMAT);
    sbuf_u8(&b, used);
    sbuf_str8(&b, key_id);
    sbuf_raw(&b, json, len);
    rc = b.oom ? st_fail(t, err, "M_UNKNOWN", "store: out of memory")
               : st_put(t, T_USERDEVICEALGO_FALLBACKKEY, &k, b.p, b.n, 0, err);
    sbuf_free(&b);
    return rc < 0 ? -1 : 0;
}

struct fb_scan {
    size_t prefix_len;
    mxr_store_alg_cb cb;
    void *arg;
};

static int fb_unused_row(void *arg, struct mxr_store_txn *t, const MDB_val *k, const MDB_val *v,
                         struct mxr_err *err)
{
    struct fb_scan *fs = arg;
    char alg[MXR_STORE_KEY_ID_MAX + 1];
    if (v->mv_size < 2 || !copy_str(alg, sizeof alg, (const char *)k->mv_data + fs->prefix_len,
                                    k->mv_size - fs->prefix_len))
        return st_fail(t, err, "M_UNKNOWN", "store: fallback key record malformed");
    if (((const uint8_t *)v->mv_data)[1])
        return 0;
    return fs->cb(fs->arg, alg) ? 1 : 0;
}

int mxr_store_fallback_unused(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                              mxr_store_alg_cb cb, void *arg, struct mxr_err *err)
{
    struct skey p;
    if (st_ok(t, err) || ud_prefix(t, &p, user_id, device_id, err))
        return -1;
    struct fb_scan fs = {p.n, cb, arg};
    return st_scan(t, T_USERDEVICEALGO_FALLBACKKEY, &p, fb_unused_row, &fs, err);
}

/* ---- cross-signing keys ------------------------------------------------------------------- */

static int xs_key(struct mxr_store_txn *t, struct skey *k, const char *user_id, const char *usage,
                  struct mxr_err *err)
{
    if (!user_id || !user_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: cross-signing key without a user ID");
    if (!usage || (strcmp(usage, "master") && strcmp(usage, "self_signing") && strcmp(usage, "user_signing")))
        return st_fail(t, err, "M_INVALID_PARAM", "store: cross-signing key usage '%.40s' unknown", usage ? usage : "");
    skey_init(k);
    skey_str(k, user_id);
    skey_raw(k, usage, strlen(usage));
    return st_key_ok(t, k, "user ID", err);
}

int mxr_store_xsign_put(struct mxr_store_txn *t, const char *user_id, const char *usage, const char *json,
                        size_t len, struct mxr_err *err)
{
    struct skey k;
    if (st_ok_write(t, err) || xs_key(t, &k, user_id, usage, err))
        return -1;
    return st_put(t, T_USERTYPE_CROSSSIGNINGKEY, &k, json, len, 0, err) < 0 ? -1 : 0;
}

int mxr_store_xsign_get(struct mxr_store_txn *t, const char *user_id, const char *usage, const char **json,
                        size_t *len, struct mxr_err *err)
{
    struct skey k;
    if (st_ok(t, err) || xs_key(t, &k, user_id, usage, err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_USERTYPE_CROSSSIGNINGKEY, &k, &v, err);
    if (rc)
        return rc;
    *json = v.mv_data;
    *len = v.mv_size;
    return 0;
}

/* ---- device-list stream ------------------------------------------------------------------- */

static int user_key(struct mxr_store_txn *t, struct skey *k, const char *user_id, struct mxr_err *err)
{
    if (!user_id || !user_id[0])
        return st_fail(t, err, "M_UNKNOWN", "store: device-list call without a user ID");
    skey_init(k);
    skey_raw(k, user_id, strlen(user_id));
    return st_key_ok(t, k, "user ID", err);
}

int mxr_store_devicelist_pos(struct mxr_store_txn *t, const char *user_id, uint64_t *out, struct mxr_err *err)
{
    struct skey k;
    *out = 0;
    if (st_ok(t, err) || user_key(t, &k, user_id, err))
        return -1;
    MDB_val v;
    int rc = st_get(t, T_USERID_DEVICELISTSTREAM, &k, &v, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (v.mv_size != 8)
            return st_fail(t, err, "M_UNKNOWN", "store: device-list position of %s malformed", user_id);
        *out = be64_get(v.mv_data);
    }
    return 0;
}

int mxr_store_devicelist_bump(struct mxr_store_txn *t, const char *user_id, uint64_t *pos, struct mxr_err *err)
{
    struct skey uk, sk;
    uint64_t old, next;
    if (st_ok_write(t, err) || user_key(t, &uk, user_id, err) || mxr_store_devicelist_pos(t, user_id, &old, err) ||
        st_next(t, META_NEXT_DEVICELIST, &next, err))
        return -1;
    if (old) {
        skey_init(&sk);
        skey_u64(&sk, old);
        if (st_del(t, T_DEVICELISTSTREAM_USER, &sk, NULL, 0, err) < 0)
            return -1;
    }
    skey_init(&sk);
    skey_u64(&sk, next);
    uint8_t b[8];
    be64_put(b, next);
    if (st_put_seq(t, T_DEVICELISTSTREAM_USER, &sk, user_id, strlen(user_id), err) < 0 ||
        st_put(t, T_USERID_DEVICELISTSTREAM, &uk, b, sizeof b, 0, err) < 0)
        return -1;
    if (pos)
        *pos = next;
    return 0;
}

int mxr_store_devicelist_head(struct mxr_store_txn *t, uint64_t *out, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    return st_counter(t, META_NEXT_DEVICELIST, out, err);
}

int mxr_store_devicelist_since(struct mxr_store_txn *t, uint64_t since, uint64_t upto,
                               mxr_store_devicelist_cb cb, void *arg, struct mxr_err *err)
{
    if (st_ok(t, err))
        return -1;
    MDB_cursor *c;
    if (st_cursor(t, T_DEVICELISTSTREAM_USER, &c, err))
        return -1;
    uint8_t start[8];
    be64_put(start, since + 1);
    MDB_val k = {.mv_size = 8, .mv_data = start}, v;
    int rc = since == UINT64_MAX ? MXR_STORE_NOT_FOUND : st_cget(t, c, &k, &v, MDB_SET_RANGE, err);
    while (rc == 0) {
        char user[MXR_STORE_ID_MAX + 1];
        if (k.mv_size != 8 || !copy_str(user, sizeof user, v.mv_data, v.mv_size)) {
            rc = st_fail(t, err, "M_UNKNOWN", "store: device-list stream row malformed");
            break;
        }
        uint64_t pos = be64_get(k.mv_data);
        if ((upto && pos > upto) || cb(arg, user, pos))
            break;
        rc = st_cget(t, c, &k, &v, MDB_NEXT, err);
    }
    mdb_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

/* ---- device removal ----------------------------------------------------------------------- */

int mxr_store_e2ee_device_delete(struct mxr_store_txn *t, const char *user_id, const char *device_id,
                                 struct mxr_err *err)
{
    struct skey k, p;
    if (st_ok_write(t, err) || dk_key(t, &k, user_id, device_id, err) || ud_prefix(t, &p, user_id, device_id, err))
        return -1;
    if (st_del(t, T_USERDEVICEID_DEVICEKEYS, &k, NULL, 0, err) < 0 ||
        del_prefix(t, T_USERDEVICEKEYID_ONETIMEKEY, &p, err) || del_prefix(t, T_USERDEVICEALGO_FALLBACKKEY, &p, err))
        return -1;
    return mxr_store_devicelist_bump(t, user_id, NULL, err);
}
