/* Cross-signing (client-server API "End-to-End Encryption" > "Cross-signing",
 * cross_signing.yaml): POST /keys/device_signing/upload and POST
 * /keys/signatures/upload.
 *
 * Checks: a cross-signing key is the caller's, has the usage its field
 * names and exactly one ed25519 key; the self-signing and user-signing keys
 * carry the master key's signature. A signature upload must not change
 * the signed key itself, and the new signature must verify with the key
 * the spec names for that case (self-signing for own devices, a device
 * key for the own master key, user-signing for other users' master keys).
 * Replacing an existing master key takes user-interactive auth
 * (m.login.password); the first upload does not, as in Synapse, so that a
 * fresh client can bootstrap cross-signing. */
#include "relay/client/keys_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/base64.h"
#include "mxr/sign.h"

/* The single ed25519 public key of a CrossSigningKey: key_id gets
 * "ed25519:<pub>", pk the decoded key. 0 or -1. */
static int xs_pub(const json_t *key, char key_id[128], uint8_t pk[32])
{
    json_t *keys = json_object_get(key, "keys");
    if (!json_is_object(keys) || json_object_size(keys) != 1)
        return -1;
    const char *k = json_object_iter_key(json_object_iter(keys));
    const char *v = json_string_value(json_object_iter_value(json_object_iter(keys)));
    struct mxr_err err = {0};
    if (!v || strncmp(k, "ed25519:", 8) || strlen(k) >= 128 ||
        mxr_b64_decode(pk, 32, v, strlen(v), MXR_B64_STD, &err) != 32)
        return -1;
    snprintf(key_id, 128, "%s", k);
    return 0;
}

static int check_xs(struct mxr_request *req, const json_t *key, const char *usage, const char *field,
                    struct mxr_response *resp)
{
    char kid[128];
    uint8_t pk[32];
    const char *uid = json_string_value(json_object_get(key, "user_id"));
    json_t *usages = json_object_get(key, "usage");
    bool has_usage = false;
    size_t i;
    json_t *u;
    json_array_foreach(usages, i, u) {
        if (json_is_string(u) && !strcmp(json_string_value(u), usage))
            has_usage = true;
    }
    if (!json_is_object(key) || !uid || !has_usage || xs_pub(key, kid, pk) < 0)
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM",
                              "%s must be a CrossSigningKey with user_id, usage [\"%s\"] and one ed25519 key "
                              "(cross_signing.yaml)", field, usage);
    if (strcmp(uid, req->user_id))
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "%s belongs to %.100s, not to %s", field, uid,
                              req->user_id);
    return 0;
}

/* Whether obj carries a valid signature by the user's key (a CrossSigningKey). */
static bool signed_by(const json_t *obj, const char *user_id, const json_t *signer, char kid_out[128])
{
    char kid[128];
    uint8_t pk[32];
    struct mxr_err err = {0};
    if (!signer || xs_pub(signer, kid, pk) < 0 || mxr_verify_json(obj, user_id, kid, pk, &err) < 0)
        return false;
    if (kid_out)
        snprintf(kid_out, 128, "%s", kid);
    return true;
}

static char *dump(const json_t *o)
{
    return json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
}

/* ---- POST /keys/device_signing/upload --------------------------------------------------------- */

struct xs_up {
    const char *user_id;
    json_t *keys[3];          /* master, self_signing, user_signing (borrowed, may be NULL) */
};

static const char *const USAGES[3] = {"master", "self_signing", "user_signing"};

static int xs_up_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct xs_up *x = arg;
    for (int i = 0; i < 3; i++) {
        if (!x->keys[i])
            continue;
        char *text = dump(x->keys[i]);
        int rc = text ? mxr_store_xsign_put(t, x->user_id, USAGES[i], text, strlen(text), err)
                      : mxr_err_set(err, "M_UNKNOWN", "out of memory");
        free(text);
        if (rc < 0)
            return -1;
    }
    return mxr_store_devicelist_bump(t, x->user_id, NULL, err);
}

static bool same_as_stored(json_t *stored, const json_t *key)
{
    return !key || (stored && json_equal(stored, (json_t *)key));
}

void cl_h_keys_device_signing(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    struct xs_up x = {req->user_id, {NULL, NULL, NULL}};
    const char *fields[3] = {"master_key", "self_signing_key", "user_signing_key"};
    for (int i = 0; i < 3; i++) {
        json_t *k = json_object_get(body, fields[i]);
        if (!k || json_is_null(k))
            continue;
        if (check_xs(req, k, USAGES[i], fields[i], resp) < 0)
            return;
        x.keys[i] = k;
    }
    struct mxr_store_txn *t;
    struct mxr_err err = {0};
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    json_t *stored[3];
    for (int i = 0; i < 3; i++)
        stored[i] = ck_xsign_load(t, req->user_id, USAGES[i]);
    mxr_store_read_end(t);
    json_t *master = x.keys[0] ? x.keys[0] : stored[0];
    bool unchanged = same_as_stored(stored[0], x.keys[0]) && same_as_stored(stored[1], x.keys[1]) &&
                     same_as_stored(stored[2], x.keys[2]);
    bool had_master = stored[0] != NULL;
    int bad = -1;
    for (int i = 1; i < 3; i++)
        if (x.keys[i] && !signed_by(x.keys[i], req->user_id, master, NULL))
            bad = i;
    for (int i = 0; i < 3; i++)
        json_decref(stored[i]);
    if (!master && (x.keys[1] || x.keys[2])) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "master_key is required: none was uploaded before");
        return;
    }
    if (bad > 0) {
        mxr_resp_error(resp, 400, "M_INVALID_SIGNATURE", "%s is not signed by the master key", fields[bad]);
        return;
    }
    if (had_master && !unchanged && cl_uia(c, req, body, "m.login.password", req->user_id, resp) != 1)
        return;
    if (unchanged && had_master) {
        mxr_resp_json(resp, 200, json_object());
        return;
    }
    if (cl_write(c, xs_up_fn, &x, &err) < 0) {
        cl_store_error(req, resp, &err);
        return;
    }
    cl_wake(c);
    /* m.signing_key_update carries the public keys other servers need
     * (master and self-signing; the user-signing key stays with its user) */
    if (x.keys[0] || x.keys[1]) {
        json_t *content = json_pack("{s:s}", "user_id", req->user_id);
        if (x.keys[0])
            json_object_set(content, "master_key", x.keys[0]);
        if (x.keys[1])
            json_object_set(content, "self_signing_key", x.keys[1]);
        json_t *edus = json_pack("[{s:s, s:o}]", "edu_type", "m.signing_key_update", "content", content);
        ck_announce(req, req->user_id, edus);
        json_decref(edus);
    }
    mxr_resp_json(resp, 200, json_object());
}

/* ---- POST /keys/signatures/upload -------------------------------------------------------------- */

enum sig_target { SIG_DEVICE, SIG_MASTER };

struct sig_item {
    char user_id[CL_ID_MAX + 1];
    char key_id[MXR_STORE_DEVICE_ID_MAX + 1];     /* device ID or master public key */
    enum sig_target kind;
    json_t *merged;                               /* the stored object with the new signature (owned) */
};

struct sig_up {
    struct sig_item *items;
    size_t n;
    uint64_t prev[64], pos[64];
};

static int sig_up_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct sig_up *s = arg;
    for (size_t i = 0; i < s->n; i++) {
        struct sig_item *it = &s->items[i];
        char *text = dump(it->merged);
        if (!text)
            return mxr_err_set(err, "M_UNKNOWN", "out of memory");
        int rc = it->kind == SIG_DEVICE
                     ? mxr_store_device_keys_put(t, it->user_id, it->key_id, text, strlen(text), err)
                     : mxr_store_xsign_put(t, it->user_id, "master", text, strlen(text), err);
        free(text);
        if (rc < 0 || mxr_store_devicelist_pos(t, it->user_id, &s->prev[i % 64], err) ||
            mxr_store_devicelist_bump(t, it->user_id, &s->pos[i % 64], err))
            return -1;
    }
    return 0;
}

/* The object without signatures and unsigned: what a signature covers. */
static json_t *signed_part(const json_t *o)
{
    json_t *c = json_deep_copy(o);
    json_object_del(c, "signatures");
    json_object_del(c, "unsigned");
    return c;
}

static void fail_item(json_t *failures, const char *user, const char *key_id, const char *errcode, const char *msg)
{
    json_t *u = json_object_get(failures, user);
    if (!u) {
        u = json_object();
        json_object_set_new(failures, user, u);
    }
    json_object_set_new(u, key_id, json_pack("{s:s, s:s}", "errcode", errcode, "error", msg));
}

/* Checks one uploaded signed object and builds the merged stored object.
 * NULL after recording the failure. */
static json_t *check_signature(struct mxr_store_txn *t, const char *me, const char *user, const char *key_id,
                               const json_t *obj, enum sig_target *kind, json_t *failures)
{
    json_t *stored = NULL, *signer = NULL;
    char kid[128] = "";
    const char *dk_json;
    size_t dk_len;
    if (!json_is_object(obj)) {
        fail_item(failures, user, key_id, "M_BAD_JSON", "the signed object must be a JSON object");
        return NULL;
    }
    json_t *master = ck_xsign_load(t, user, "master");
    char mkid[128];
    uint8_t mpk[32];
    bool is_master = master && xs_pub(master, mkid, mpk) == 0 && !strcmp(mkid + 8, key_id);
    if (!strcmp(user, me) && !is_master && strlen(key_id) <= MXR_STORE_DEVICE_ID_MAX &&
        mxr_store_device_keys_get(t, user, key_id, &dk_json, &dk_len, NULL) == 0) {
        /* own device, signed by the own self-signing key */
        *kind = SIG_DEVICE;
        stored = ck_parse(dk_json, dk_len);
        signer = ck_xsign_load(t, me, "self_signing");
        if (!signer)
            fail_item(failures, user, key_id, "M_INVALID_SIGNATURE", "no self-signing key uploaded to check with");
        else if (!signed_by(obj, me, signer, kid))
            fail_item(failures, user, key_id, "M_INVALID_SIGNATURE", "not signed by the self-signing key");
    } else if (is_master && !strcmp(user, me)) {
        /* own master key, signed by one of the own devices */
        *kind = SIG_MASTER;
        stored = json_incref(master);
        const char *ids[16];
        size_t n = mxr_signature_key_ids(obj, me, ids, 16);
        for (size_t i = 0; i < n && i < 16 && !kid[0]; i++) {
            const char *dev = ids[i] + 8;
            if (mxr_store_device_keys_get(t, me, dev, &dk_json, &dk_len, NULL) != 0)
                continue;
            json_t *dk = ck_parse(dk_json, dk_len);
            const char *pk64 = json_string_value(json_object_get(json_object_get(dk, "keys"), ids[i]));
            uint8_t pk[32];
            struct mxr_err err = {0};
            if (pk64 && mxr_b64_decode(pk, 32, pk64, strlen(pk64), MXR_B64_STD, &err) == 32 &&
                mxr_verify_json(obj, me, ids[i], pk, &err) == 0)
                snprintf(kid, sizeof kid, "%s", ids[i]);
            json_decref(dk);
        }
        if (!kid[0])
            fail_item(failures, user, key_id, "M_INVALID_SIGNATURE", "not signed by a device of this user");
    } else if (is_master) {
        /* another user's master key, signed by my user-signing key */
        *kind = SIG_MASTER;
        stored = json_incref(master);
        signer = ck_xsign_load(t, me, "user_signing");
        if (!signer || !signed_by(obj, me, signer, kid))
            fail_item(failures, user, key_id, "M_INVALID_SIGNATURE", "not signed by the user-signing key");
    } else {
        fail_item(failures, user, key_id, "M_NOT_FOUND", "neither a device with keys nor the master key of this user");
    }
    json_decref(master);
    json_decref(signer);
    json_t *merged = NULL;
    if (kid[0] && stored) {
        json_t *a = signed_part(stored), *b = signed_part(obj);
        if (!json_equal(a, b)) {
            fail_item(failures, user, key_id, "M_INVALID_PARAM", "the signed object differs from the stored key");
        } else {
            merged = json_deep_copy(stored);
            json_t *sigs = json_object_get(merged, "signatures");
            if (!json_is_object(sigs)) {
                sigs = json_object();
                json_object_set_new(merged, "signatures", sigs);
            }
            json_t *mine = json_object_get(sigs, me);
            if (!json_is_object(mine)) {
                mine = json_object();
                json_object_set_new(sigs, me, mine);
            }
            json_object_set(mine, kid, json_object_get(json_object_get(json_object_get(obj, "signatures"), me), kid));
        }
        json_decref(a);
        json_decref(b);
    }
    json_decref(stored);
    return merged;
}

void cl_h_keys_signatures(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    json_t *body = cl_body(req, resp);
    if (!body)
        return;
    const char *user, *key_id;
    json_t *objs, *obj;
    size_t total = 0;
    json_object_foreach(body, user, objs) {
        if (!json_is_object(objs)) {
            mxr_resp_error(resp, 400, "M_BAD_JSON", "%.100s must be an object of key ID to signed object", user);
            return;
        }
        total += json_object_size(objs);
    }
    if (total > 64) {
        mxr_resp_error(resp, 400, "M_LIMIT_EXCEEDED", "at most 64 signed objects per request");
        return;
    }
    struct sig_up s = {calloc(total ? total : 1, sizeof *s.items), 0, {0}, {0}};
    json_t *failures = json_object();
    struct mxr_store_txn *t;
    struct mxr_err err = {0};
    if (!s.items || mxr_store_read_begin(c->store, &t, &err) < 0) {
        free(s.items);
        json_decref(failures);
        cl_store_error(req, resp, &err);
        return;
    }
    json_object_foreach(body, user, objs) {
        json_object_foreach(objs, key_id, obj) {
            if (!cl_is_local(c, user)) {
                fail_item(failures, user, key_id, "M_UNRECOGNIZED",
                          "signatures of other servers' users' keys are not stored by this server");
                continue;
            }
            struct sig_item *it = &s.items[s.n];
            it->merged = check_signature(t, req->user_id, user, key_id, obj, &it->kind, failures);
            if (!it->merged)
                continue;
            snprintf(it->user_id, sizeof it->user_id, "%s", user);
            snprintf(it->key_id, sizeof it->key_id, "%s", key_id);
            s.n++;
        }
    }
    mxr_store_read_end(t);
    int rc = s.n ? cl_write(c, sig_up_fn, &s, &err) : 0;
    if (rc == 0 && s.n) {
        cl_wake(c);
        for (size_t i = 0; i < s.n; i++) {
            struct sig_item *it = &s.items[i];
            json_t *edus = it->kind == SIG_DEVICE
                               ? json_pack("[o]", ck_device_list_edu(it->user_id, it->key_id, NULL, it->merged,
                                                                     s.pos[i % 64], s.prev[i % 64]))
                               : json_pack("[{s:s, s:{s:s, s:O}}]", "edu_type", "m.signing_key_update", "content",
                                           "user_id", it->user_id, "master_key", it->merged);
            ck_announce(req, it->user_id, edus);
            json_decref(edus);
        }
    }
    for (size_t i = 0; i < s.n; i++)
        json_decref(s.items[i].merged);
    free(s.items);
    if (rc < 0) {
        json_decref(failures);
        cl_store_error(req, resp, &err);
        return;
    }
    mxr_resp_json(resp, 200, json_pack("{s:o}", "failures", failures));
}
