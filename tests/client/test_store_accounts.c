/* relay/store/accounts.c: accounts, devices and token hashes, profiles,
 * filters, client transactions, account data and aliases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "relay/store/accounts.h"
#include "tests/store/store_fixture.h"

static int setup(void **state)
{
    static struct fx f;
    fx_open(&f, 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx_close(*state);
    return 0;
}

typedef int (*step_fn)(struct mxr_store_txn *t, void *arg, struct mxr_err *err);

static void write1(struct fx *f, step_fn fn, void *arg)
{
    struct mxr_err err = {0};
    if (mxr_store_write(f->s, fn, arg, &err) < 0)
        fail_msg("write: %s", err.msg);
}

static int create_alice(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    bool *created = arg;
    struct mxr_store_account a = {.flags = MXR_ACCOUNT_ADMIN, .created_ts = 42};
    strcpy(a.password_hash, "$argon2id$v=19$fake");
    return mxr_store_account_create(t, "@alice:hs.test", &a, created, err);
}

static void accounts(void **state)
{
    struct fx *f = *state;
    bool created = false;
    write1(f, create_alice, &created);
    assert_true(created);
    write1(f, create_alice, &created);   /* taken: not an error, nothing changes */
    assert_false(created);
    struct mxr_store_account a;
    struct mxr_err err = {0};
    assert_int_equal(mxr_store_account_get(fx_read(f), "@alice:hs.test", &a, &err), 0);
    assert_int_equal(a.flags, MXR_ACCOUNT_ADMIN);
    assert_int_equal(a.created_ts, 42);
    assert_string_equal(a.password_hash, "$argon2id$v=19$fake");
    assert_int_equal(mxr_store_account_get(f->r, "@alic:hs.test", &a, &err), MXR_STORE_NOT_FOUND);
    fx_read_end(f);
}

struct login {
    const char *user, *device, *name;
    uint8_t hash[32];
};

static int login_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct login *l = arg;
    return mxr_store_device_login(t, l->user, l->device, l->name, l->hash, 1000, "10.0.0.1", err);
}

static int delete_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct login *l = arg;
    return mxr_store_device_delete(t, l->user, l->device, err) < 0 ? -1 : 0;
}

static int count_cb(void *arg, const struct mxr_store_device *d)
{
    (void)d;
    (*(int *)arg)++;
    return 0;
}

static void devices_and_tokens(void **state)
{
    struct fx *f = *state;
    struct login l1 = {"@bob:hs.test", "DEV1", "phone", {1}};
    struct login l2 = {"@bob:hs.test", "DEV1", NULL, {2}};      /* same device, new token, name kept */
    struct login l3 = {"@bo:hs.test", "DEV9", NULL, {3}};       /* a user ID that prefixes... nothing of bob's */
    write1(f, login_fn, &l1);
    write1(f, login_fn, &l2);
    write1(f, login_fn, &l3);
    struct mxr_err err = {0};
    char user[256], dev[160];
    struct mxr_store_txn *t = fx_read(f);
    assert_int_equal(mxr_store_token_lookup(t, l1.hash, user, dev, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_token_lookup(t, l2.hash, user, dev, &err), 0);
    assert_string_equal(user, "@bob:hs.test");
    assert_string_equal(dev, "DEV1");
    struct mxr_store_device d;
    assert_int_equal(mxr_store_device_get(t, "@bob:hs.test", "DEV1", &d, &err), 0);
    assert_true(d.has_display_name);
    assert_string_equal(d.display_name, "phone");
    assert_string_equal(d.last_seen_ip, "10.0.0.1");
    assert_int_equal(d.last_seen_ts, 1000);
    int n = 0;
    assert_int_equal(mxr_store_devices(t, "@bob:hs.test", count_cb, &n, &err), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(mxr_store_devices(t, "@bo:hs.test", count_cb, &n, &err), 0);
    assert_int_equal(n, 1);
    fx_read_end(f);
    write1(f, delete_fn, &l2);
    t = fx_read(f);
    assert_int_equal(mxr_store_token_lookup(t, l2.hash, user, dev, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_device_get(t, "@bob:hs.test", "DEV1", &d, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_token_lookup(t, l3.hash, user, dev, &err), 0);
    fx_read_end(f);
}

struct kv {
    uint64_t id;
};

static int misc_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct kv *kv = arg;
    bool created;
    if (mxr_store_filter_add(t, "@c:hs.test", "{\"room\":{}}", 11, &kv->id, err) ||
        mxr_store_client_txn_put(t, "@c:hs.test", "D", "send", "txn1", "{\"event_id\":\"$a\"}", 17, err) ||
        mxr_store_event_txn_put(t, "$a", "@c:hs.test", "D", "txn1", err) ||
        mxr_store_profile_put(t, "@c:hs.test", "{\"displayname\":\"C\"}", 19, err) ||
        mxr_store_alias_create(t, "#room:hs.test", "!r:hs.test", &created, err))
        return -1;
    if (!created)
        return -1;
    return mxr_store_alias_create(t, "#room:hs.test", "!other:hs.test", &created, err) < 0 || created ? -1 : 0;
}

static void filters_txns_profiles_aliases(void **state)
{
    struct fx *f = *state;
    struct kv kv = {0};
    write1(f, misc_fn, &kv);
    assert_true(kv.id >= 1);
    struct mxr_err err = {0};
    struct mxr_store_txn *t = fx_read(f);
    const char *j;
    size_t len;
    assert_int_equal(mxr_store_filter_get(t, "@c:hs.test", kv.id, &j, &len, &err), 0);
    assert_int_equal(len, 11);
    assert_int_equal(mxr_store_filter_get(t, "@d:hs.test", kv.id, &j, &len, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_client_txn_get(t, "@c:hs.test", "D", "send", "txn1", &j, &len, &err), 0);
    assert_memory_equal(j, "{\"event_id\":\"$a\"}", 17);
    /* scoped per device and per endpoint */
    assert_int_equal(mxr_store_client_txn_get(t, "@c:hs.test", "E", "send", "txn1", &j, &len, &err), MXR_STORE_NOT_FOUND);
    assert_int_equal(mxr_store_client_txn_get(t, "@c:hs.test", "D", "redact", "txn1", &j, &len, &err),
                     MXR_STORE_NOT_FOUND);
    char u[256], d[160], txn[256];
    assert_int_equal(mxr_store_event_txn_get(t, "$a", u, d, txn, &err), 0);
    assert_string_equal(u, "@c:hs.test");
    assert_string_equal(d, "D");
    assert_string_equal(txn, "txn1");
    assert_int_equal(mxr_store_profile_get(t, "@c:hs.test", &j, &len, &err), 0);
    assert_int_equal(len, 19);
    char room[256];
    assert_int_equal(mxr_store_alias_get(t, "#room:hs.test", room, &err), 0);
    assert_string_equal(room, "!r:hs.test");   /* the first mapping stays */
    assert_int_equal(mxr_store_alias_get(t, "#nope:hs.test", room, &err), MXR_STORE_NOT_FOUND);
    fx_read_end(f);
}

struct ad {
    const char *room, *type, *json;
    uint64_t stream;
};

static int ad_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct ad *a = arg;
    return mxr_store_account_data_put(t, "@e:hs.test", a->room, a->type, a->json, strlen(a->json), &a->stream, err);
}

struct seen {
    char buf[512];
};

static int seen_cb(void *arg, const char *room, const char *type, const char *json, size_t len, uint64_t stream)
{
    struct seen *s = arg;
    (void)stream;
    size_t n = strlen(s->buf);
    snprintf(s->buf + n, sizeof s->buf - n, "%s|%s|%.*s;", room, type, (int)len, json);
    return 0;
}

static void account_data_streams(void **state)
{
    struct fx *f = *state;
    struct ad a = {NULL, "m.direct", "{}", 0}, b = {"!r:hs.test", "m.tag", "{\"tags\":{}}", 0},
              c = {NULL, "m.direct", "{\"x\":1}", 0};
    write1(f, ad_fn, &a);
    write1(f, ad_fn, &b);
    write1(f, ad_fn, &c);
    assert_true(a.stream < b.stream && b.stream < c.stream);
    struct mxr_err err = {0};
    struct seen all = {""}, since = {""};
    struct mxr_store_txn *t = fx_read(f);
    assert_int_equal(mxr_store_account_data_since(t, "@e:hs.test", 0, seen_cb, &all, &err), 0);
    assert_string_equal(all.buf, "|m.direct|{\"x\":1};!r:hs.test|m.tag|{\"tags\":{}};");
    assert_int_equal(mxr_store_account_data_since(t, "@e:hs.test", b.stream, seen_cb, &since, &err), 0);
    assert_string_equal(since.buf, "|m.direct|{\"x\":1};");
    uint64_t head;
    assert_int_equal(mxr_store_account_data_head(t, &head, &err), 0);
    assert_int_equal(head, c.stream);
    const char *j;
    size_t len;
    assert_int_equal(mxr_store_account_data_get(t, "@e:hs.test", "!r:hs.test", "m.tag", &j, &len, &err), 0);
    assert_int_equal(mxr_store_account_data_get(t, "@e:hs.test", NULL, "m.tag", &j, &len, &err), MXR_STORE_NOT_FOUND);
    fx_read_end(f);
    fx_assert_consistent(f);
}

struct pub {
    const char *room;
    bool on;
};

static int pub_fn(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct pub *p = arg;
    return mxr_store_room_publish(t, p->room, p->on, 5, err);
}

static int list_cb(void *arg, const char *room)
{
    strcat(arg, room);
    strcat(arg, ";");
    return 0;
}

static void published_rooms(void **state)
{
    struct fx *f = *state;
    struct pub a = {"!b:hs.test", true}, b = {"!a:hs.test", true}, c = {"!b:hs.test", false};
    write1(f, pub_fn, &a);
    write1(f, pub_fn, &a);   /* idempotent */
    write1(f, pub_fn, &b);
    struct mxr_err err = {0};
    char list[256] = "";
    assert_int_equal(mxr_store_published_rooms(fx_read(f), list_cb, list, &err), 0);
    assert_string_equal(list, "!a:hs.test;!b:hs.test;");
    assert_int_equal(mxr_store_room_published(f->r, "!b:hs.test", &err), 0);
    fx_read_end(f);
    write1(f, pub_fn, &c);
    write1(f, pub_fn, &c);   /* unpublishing twice is fine */
    assert_int_equal(mxr_store_room_published(fx_read(f), "!b:hs.test", &err), MXR_STORE_NOT_FOUND);
    fx_read_end(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accounts),
        cmocka_unit_test(devices_and_tokens),
        cmocka_unit_test(filters_txns_profiles_aliases),
        cmocka_unit_test(account_data_streams),
        cmocka_unit_test(published_rooms),
    };
    return cmocka_run_group_tests_name("store accounts", tests, setup, teardown);
}
