/* Test fixture for relay/rooms (see rooms_fixture.h). */
#include "tests/rooms/rooms_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mxr/auth.h"
#include "mxr/base64.h"
#include "mxr/event.h"
#include "mxr/json.h"
#include "mxr/pdu.h"
#include "mxr/roomver.h"

static int64_t fx_clock(void *ctx)
{
    return ((struct rfx *)ctx)->now;
}

/* The injected key source: b.test and c.test; b.test's key only while
 * valid (v5+ asks for keys valid at origin_server_ts). */
static int fx_keys(void *ctx, const char *server, const char *key_id, int64_t valid_at_ts, uint8_t pk[32])
{
    struct rfx *f = ctx;
    const struct mxr_signing_key *k = NULL;
    if (strcmp(server, "b.test") == 0) {
        if (valid_at_ts != MXR_KEY_ANY_TIME && valid_at_ts > f->b_valid_until)
            return -1;
        k = &f->b_key;
    } else if (strcmp(server, "c.test") == 0) {
        k = &f->c_key;
    }
    if (!k || strcmp(key_id, k->key_id) != 0)
        return -1;
    memcpy(pk, k->public_key, 32);
    return 0;
}

static void fx_notify(void *ctx, const struct mxr_rooms_notice *n)
{
    struct rfx *f = ctx;
    assert_true(f->n_notices < sizeof f->notices / sizeof f->notices[0]);
    struct rfx_notice *x = &f->notices[f->n_notices++];
    memset(x, 0, sizeof *x);
    snprintf(x->event_id, sizeof x->event_id, "%s", n->event_id);
    snprintf(x->room_id, sizeof x->room_id, "%s", n->room_id);
    x->outcome = n->outcome;
    x->local = n->local;
    x->remote_invite = n->remote_invite;
    x->n_missing = n->n_missing_prevs;
    if (n->n_missing_prevs)
        snprintf(x->first_missing, sizeof x->first_missing, "%s", n->missing_prevs[0]);
    assert_non_null(n->pdu);
}

static void key(struct mxr_signing_key *k, uint8_t fill, const char *version)
{
    uint8_t seed[32];
    memset(seed, fill, sizeof seed);
    struct mxr_err err = {0};
    if (mxr_key_from_seed(k, seed, version, &err) < 0)
        fail_msg("key: %s", err.msg);
}

static char default_version[16];

static void open_all(struct rfx *f)
{
    struct mxr_store_options o = {.path = f->dir, .sync = MXR_STORE_SYNC_NONE};
    struct mxr_err err = {0};
    f->store = mxr_store_open(&o, &err);
    if (!f->store)
        fail_msg("store open: %s", err.msg);
    struct mxr_rooms_deps d = {
        .server_name = "a.test",
        .key = &f->a_key,
        .store = f->store,
        .keys = {fx_keys, f},
        .clock = fx_clock,
        .clock_ctx = f,
        .notify = fx_notify,
        .notify_ctx = f,
        .default_room_version = default_version[0] ? default_version : NULL,
    };
    f->rooms = mxr_rooms_new(&d, &err);
    if (!f->rooms)
        fail_msg("rooms: %s", err.msg);
}

void rfx_open(struct rfx *f, const char *default_room_version)
{
    memset(f, 0, sizeof *f);
    snprintf(default_version, sizeof default_version, "%s", default_room_version ? default_room_version : "");
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/mxr-rooms-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    key(&f->a_key, 1, "a1");
    key(&f->b_key, 2, "b1");
    key(&f->c_key, 3, "c1");
    key(&f->wrong_key, 4, "b1");   /* same key ID as b.test's, another key */
    f->now = 1700000000000;
    f->b_valid_until = INT64_MAX;
    open_all(f);
}

void rfx_reopen(struct rfx *f)
{
    rfx_read_end(f);
    mxr_rooms_free(f->rooms);
    mxr_store_close(f->store);
    open_all(f);
}

void rfx_close(struct rfx *f)
{
    rfx_read_end(f);
    mxr_rooms_free(f->rooms);
    mxr_store_close(f->store);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
}

struct mxr_store_txn *rfx_read(struct rfx *f)
{
    rfx_read_end(f);
    struct mxr_err err = {0};
    if (mxr_store_read_begin(f->store, &f->r, &err) < 0)
        fail_msg("read_begin: %s", err.msg);
    return f->r;
}

void rfx_read_end(struct rfx *f)
{
    if (f->r)
        mxr_store_read_end(f->r);
    f->r = NULL;
}

static int collect_cb(void *arg, const char *id)
{
    json_t *arr = arg;
    json_array_append_new(arr, json_string(id));
    return 0;
}

static const struct mxr_room_version *room_version(struct rfx *f, const char *room_id)
{
    char ver[MXR_STORE_VERSION_MAX + 1];
    struct mxr_err err = {0};
    if (mxr_store_room_version(rfx_read(f), room_id, ver, &err) != 0)
        fail_msg("room %s has no version: %s", room_id, err.msg);
    const struct mxr_room_version *rv = mxr_room_version_get(ver, NULL);
    assert_non_null(rv);
    return rv;
}

/* v1/v2 reference: [id, {"sha256": reference hash}] (pdu_v1.yaml). */
static json_t *ref(struct mxr_store_txn *txn, const struct mxr_room_version *rv, const char *id)
{
    if (rv->event_format != MXR_EVFMT_V1)
        return json_string(id);
    const char *js;
    size_t len;
    struct mxr_err err = {0};
    uint8_t h[32];
    char b64[48];
    if (mxr_store_event_json(txn, id, &js, &len, &err) != 0)
        return json_pack("[s,{s:s}]", id, "sha256", "AAAA");
    json_t *pdu = json_loadb(js, len, 0, NULL);
    assert_int_equal(mxr_event_reference_hash(pdu, rv, h, &err), 0);
    json_decref(pdu);
    mxr_b64_encode(b64, sizeof b64, h, 32, MXR_B64_STD);
    return json_pack("[s,{s:s}]", id, "sha256", b64);
}

json_t *rfx_pdu(struct rfx *f, const char *room_id, const struct rfx_ev *d, char id_out[MXR_ID_MAX + 1])
{
    const struct mxr_room_version *rv = room_version(f, room_id);
    struct mxr_store_txn *txn = rfx_read(f);
    struct mxr_err err = {0};
    json_t *content = json_loads(d->content ? d->content : "{}", 0, NULL);
    assert_non_null(content);
    json_t *pdu = json_pack("{s:s, s:s, s:s, s:o, s:I}", "room_id", room_id, "type", d->type, "sender", d->sender,
                            "content", content, "origin_server_ts", (json_int_t)(d->ts ? d->ts : f->now));
    assert_non_null(pdu);
    if (d->state_key)
        json_object_set_new(pdu, "state_key", json_string(d->state_key));

    json_t *prevs = json_array();
    if (d->prev)
        for (size_t i = 0; d->prev[i]; i++)
            json_array_append_new(prevs, json_string(d->prev[i]));
    else
        assert_int_equal(mxr_store_extremities(txn, room_id, collect_cb, prevs, &err), 0);
    static unsigned serial;
    int64_t depth = d->depth;
    if (!depth) {
        size_t i;
        json_t *p;
        json_array_foreach(prevs, i, p) {
            struct mxr_store_event_meta m;
            if (mxr_store_event_meta(txn, json_string_value(p), &m, &err) == 0 && m.depth > depth)
                depth = m.depth;
        }
        depth++;
    }
    json_object_set_new(pdu, "prev_events", json_incref(prevs));
    json_decref(prevs);
    json_object_set_new(pdu, "depth", json_integer(depth));

    json_t *auths = json_array();
    if (d->auth) {
        for (size_t i = 0; d->auth[i]; i++)
            json_array_append_new(auths, json_string(d->auth[i]));
    } else {
        json_object_set_new(pdu, "event_id", json_string("$tmp"));
        struct mxr_event ev;
        if (mxr_event_load(&ev, pdu, rv, MXR_EVENT_TRUST_GIVEN_ID, &err) < 0)
            fail_msg("load: %s", err.msg);
        json_object_del(pdu, "event_id");
        struct mxr_auth_key keys[MXR_AUTH_KEYS_MAX];
        size_t nk = mxr_auth_events_selection(rv, &ev, keys);
        for (size_t i = 0; i < nk; i++) {
            char id[MXR_ID_MAX + 1];
            if (mxr_store_room_current_get(txn, room_id, keys[i].type, keys[i].state_key, id, &err) == 0)
                json_array_append_new(auths, json_string(id));
        }
        mxr_event_release(&ev);
    }
    if (rv->event_format == MXR_EVFMT_V1) {
        /* v1/v2: references carry hashes, the ID is the sender's to mint. */
        for (int k = 0; k < 2; k++) {
            json_t *arr = k ? auths : prevs, *pairs = json_array();
            size_t i;
            json_t *v;
            json_array_foreach(arr, i, v) json_array_append_new(pairs, ref(txn, rv, json_string_value(v)));
            json_object_set_new(pdu, k ? "auth_events" : "prev_events", pairs);
        }
        json_decref(auths);
        char id[64];
        snprintf(id, sizeof id, "$ev%u:%s", ++serial, strchr(d->sender, ':') + 1);
        json_object_set_new(pdu, "event_id", json_string(id));
    } else {
        json_object_set_new(pdu, "auth_events", auths);
    }
    rfx_read_end(f);

    const char *server = strchr(d->sender, ':') + 1;
    const struct mxr_signing_key *k = d->key;
    if (!k)
        k = !strcmp(server, "b.test") ? &f->b_key : !strcmp(server, "c.test") ? &f->c_key : &f->a_key;
    if (mxr_pdu_sign(pdu, rv, server, k, &err) < 0)
        fail_msg("sign: %s", err.msg);
    if (id_out && mxr_event_compute_id(pdu, rv, id_out, &err) < 0)
        fail_msg("id: %s", err.msg);
    return pdu;
}

struct mxr_pdu_result rfx_ingest1(struct rfx *f, json_t *pdu)
{
    rfx_read_end(f);
    struct mxr_pdu_result res;
    struct mxr_err err = {0};
    if (mxr_rooms_ingest_pdus(f->rooms, "b.test", &pdu, 1, 0, &res, &err) < 0)
        fail_msg("ingest: %s", err.msg);
    json_decref(pdu);
    return res;
}

void rfx_room(struct rfx *f, const char *version, const char *preset, char room_id[MXR_ID_MAX + 1])
{
    rfx_read_end(f);
    struct mxr_rooms_create_opts o = {.room_version = version, .preset = preset};
    struct mxr_err err = {0};
    if (mxr_rooms_create_room(f->rooms, "@alice:a.test", &o, room_id, &err) < 0)
        fail_msg("create_room v%s: %s: %s", version ? version : "default", err.errcode, err.msg);
}

void rfx_send(struct rfx *f, const char *room_id, const char *sender, const char *type, const char *state_key,
              const char *content, char id_out[MXR_ID_MAX + 1])
{
    rfx_read_end(f);
    json_t *c = json_loads(content ? content : "{}", 0, NULL);
    assert_non_null(c);
    struct mxr_err err = {0};
    int rc = mxr_rooms_send_event(f->rooms, room_id, sender, type, state_key, c, id_out, &err);
    json_decref(c);
    if (rc < 0)
        fail_msg("send %s: %s: %s", type, err.errcode, err.msg);
}

const char *rfx_current(struct rfx *f, const char *room_id, const char *type, const char *state_key)
{
    static char id[MXR_ID_MAX + 1];
    struct mxr_err err = {0};
    int rc = mxr_store_room_current_get(rfx_read(f), room_id, type, state_key, id, &err);
    assert_true(rc >= 0);
    if (rc)
        id[0] = '\0';
    rfx_read_end(f);
    return id;
}

const char *rfx_membership(struct rfx *f, const char *room_id, const char *user)
{
    static char m[32];
    struct mxr_err err = {0};
    int rc = mxr_store_membership(rfx_read(f), room_id, user, m, &err);
    assert_true(rc >= 0);
    if (rc)
        m[0] = '\0';
    rfx_read_end(f);
    return m;
}

struct mxr_store_event_meta rfx_meta(struct rfx *f, const char *event_id)
{
    struct mxr_store_event_meta m;
    struct mxr_err err = {0};
    int rc = mxr_store_event_meta(rfx_read(f), event_id, &m, &err);
    rfx_read_end(f);
    if (rc != 0)
        fail_msg("event %s not stored (%d: %s)", event_id, rc, err.msg);
    return m;
}

bool rfx_stored(struct rfx *f, const char *event_id)
{
    struct mxr_err err = {0};
    int rc = mxr_store_event_exists(rfx_read(f), event_id, &err);
    rfx_read_end(f);
    assert_true(rc >= 0);
    return rc == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *rfx_extremities(struct rfx *f, const char *room_id)
{
    static char buf[4096];
    json_t *arr = json_array();
    struct mxr_err err = {0};
    assert_true(mxr_store_extremities(rfx_read(f), room_id, collect_cb, arr, &err) >= 0);
    rfx_read_end(f);
    const char *v[64];
    size_t n = json_array_size(arr);
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++)
        v[i] = json_string_value(json_array_get(arr, i));
    qsort(v, n, sizeof *v, cmp_str);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(buf, ",");
        strcat(buf, v[i]);
    }
    json_decref(arr);
    return buf;
}

json_t *rfx_stored_pdu(struct rfx *f, const char *event_id)
{
    struct mxr_err err = {0};
    json_t *pdu = mxr_rooms_event_pdu(rfx_read(f), event_id, &err);
    rfx_read_end(f);
    if (!pdu)
        fail_msg("event %s: %s", event_id, err.msg);
    return pdu;
}

void rfx_assert_consistent(struct rfx *f)
{
    struct mxr_err err = {0};
    int rc = mxr_store_check(rfx_read(f), &err);
    rfx_read_end(f);
    if (rc)
        fail_msg("store check: %s", err.msg);
}

size_t rfx_notices_for(struct rfx *f, const char *event_id, struct rfx_notice *last)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_notices; i++)
        if (strcmp(f->notices[i].event_id, event_id) == 0) {
            n++;
            if (last)
                *last = f->notices[i];
        }
    return n;
}

bool rfx_array_has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}
