/* Outbound federation (issue #6), the parts testable without a network:
 * - the outbound queue is written in the commit of its event
 *   (mxr_fedout_in_commit as the rooms pipeline's in-commit hook): the
 *   event and its deliveries are stored together or not at all;
 * - the sender learns of what such a commit queued (mxr_sender_note_queued)
 *   and ends a destination's back-off when it is heard from;
 * - other servers' keys cached in the store (keystore.c) survive a restart
 *   and serve signature checks, but never a notary answer;
 * - the trusted_key_servers option.
 * A real store and real signed events (the rooms fixture). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mxr/base64.h"
#include "mxr/sign.h"
#include "relay/config.h"
#include "relay/federation/fedout.h"
#include "relay/federation/keyring.h"
#include "relay/federation/keystore.h"
#include "relay/federation/sender.h"
#include "relay/server.h"
#include "tests/rooms/rooms_fixture.h"

#define ALICE "@alice:a.test"
#define BOB "@bob:b.test"
#define CAROL "@carol:c.test"

/* ---- a second rooms context over the fixture's store, with the hook --------- */

struct t {
    struct rfx f;
    struct mxr_config cfg;
    struct mxr_server srv;        /* what mxr_fedout_in_commit reads: cfg->server_name, fedout (NULL) */
    struct mxr_rooms *hooked;     /* a.test's pipeline with the in-commit hook */
    bool fail_hook;               /* the hook fails after queueing */
    char room[MXR_ID_MAX + 1];
};

static int remote_keys(void *ctx, const char *server, const char *key_id, int64_t at, uint8_t pk[32])
{
    struct t *t = ctx;
    /* b.test and c.test's keys as the fixture has them. */
    const struct mxr_signing_key *k = !strcmp(server, "b.test") ? &t->f.b_key
                                    : !strcmp(server, "c.test") ? &t->f.c_key : NULL;
    (void)at;
    if (!k || strcmp(k->key_id, key_id))
        return -1;
    memcpy(pk, k->public_key, 32);
    return 0;
}

static int hook(void *ctx, struct mxr_store_txn *txn, const struct mxr_rooms_notice *n, struct mxr_err *err)
{
    struct t *t = ctx;
    if (mxr_fedout_in_commit(&t->srv, txn, n, err) < 0)
        return -1;
    return t->fail_hook ? mxr_err_set(err, "M_UNKNOWN", "hook failure (test)") : 0;
}

static int64_t clock_of(void *ctx)
{
    return ((struct rfx *)ctx)->now;
}

static void hooked_open(struct t *t)
{
    struct mxr_rooms_deps d = {
        .server_name = "a.test", .key = &t->f.a_key, .store = t->f.store, .keys = { remote_keys, t },
        .clock = clock_of, .clock_ctx = &t->f, .in_commit = hook, .in_commit_ctx = t,
    };
    struct mxr_err err = { 0 };
    if (!(t->hooked = mxr_rooms_new(&d, &err)))
        fail_msg("%s", err.msg);
}

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof *t);
    rfx_open(&t->f, NULL);
    t->cfg.server_name = "a.test";
    t->srv.cfg = &t->cfg;
    hooked_open(t);
    rfx_room(&t->f, "11", "public_chat", t->room);
    json_t *join = RFX_PDU(&t->f, t->room, NULL, .type = "m.room.member", .sender = BOB, .state_key = BOB,
                           .content = "{\"membership\":\"join\"}");
    assert_int_equal(rfx_ingest1(&t->f, join).outcome, MXR_PDU_ACCEPTED);
    rfx_read_end(&t->f);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    rfx_read_end(&t->f);
    mxr_rooms_free(t->hooked);
    rfx_close(&t->f);
    free(t);
    return 0;
}

struct queued {
    char ids[16][MXR_ID_MAX + 1];
    size_t n;
};

static int queued_cb(void *arg, uint64_t seq, enum mxr_store_queue_kind kind, const char *data, size_t len)
{
    (void)seq;
    struct queued *q = arg;
    if (kind == MXR_STORE_QUEUE_PDU && q->n < 16)
        snprintf(q->ids[q->n++], MXR_ID_MAX + 1, "%.*s", (int)len, data);
    return 0;
}

static struct queued queue_of(struct t *t, const char *dest)
{
    struct queued q = { .n = 0 };
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_store_queue_peek(rfx_read(&t->f), dest, 100, queued_cb, &q, &err), 0);
    rfx_read_end(&t->f);
    return q;
}

static bool has(const struct queued *q, const char *id)
{
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->ids[i], id))
            return true;
    return false;
}

/* Our event and its delivery to b.test are in the store when the send
 * returns, with no sender and no notify hook: one commit did both. */
static void queued_with_event(void **state)
{
    struct t *t = *state;
    char id[MXR_ID_MAX + 1];
    struct mxr_err err = { 0 };
    json_t *content = json_pack("{s:s, s:s}", "msgtype", "m.text", "body", "hello");
    assert_int_equal(mxr_rooms_send_event(t->hooked, t->room, ALICE, "m.room.message", NULL, content, id, &err), 0);
    json_decref(content);
    assert_true(rfx_stored(&t->f, id));
    struct queued q = queue_of(t, "b.test");
    assert_int_equal(q.n, 1);
    assert_string_equal(q.ids[0], id);
    assert_int_equal(queue_of(t, "a.test").n, 0);   /* never to ourselves */
    rfx_assert_consistent(&t->f);
}

/* A hook failure rolls the event back with its queue entries: they are
 * one transaction. */
static void rolled_back_together(void **state)
{
    struct t *t = *state;
    t->fail_hook = true;
    char id[MXR_ID_MAX + 1] = "";
    struct mxr_err err = { 0 };
    json_t *content = json_pack("{s:s, s:s}", "msgtype", "m.text", "body", "lost?");
    assert_int_equal(mxr_rooms_send_event(t->hooked, t->room, ALICE, "m.room.message", NULL, content, id, &err), -1);
    json_decref(content);
    assert_string_equal(err.msg, "hook failure (test)");
    assert_int_equal(queue_of(t, "b.test").n, 0);
    t->fail_hook = false;
    /* The next event goes through, alone in the queue. */
    rfx_send(&t->f, t->room, ALICE, "m.room.message", NULL, "{\"body\":\"x\",\"msgtype\":\"m.text\"}", id);
    assert_int_equal(queue_of(t, "b.test").n, 0);   /* the fixture's pipeline has no hook */
    content = json_pack("{s:s, s:s}", "msgtype", "m.text", "body", "kept");
    assert_int_equal(mxr_rooms_send_event(t->hooked, t->room, ALICE, "m.room.message", NULL, content, id, &err), 0);
    json_decref(content);
    struct queued q = queue_of(t, "b.test");
    assert_int_equal(q.n, 1);
    assert_string_equal(q.ids[0], id);
    rfx_assert_consistent(&t->f);
}

/* A membership change of a user of another server goes to that server too
 * (it may be leaving: no longer in the joined servers), once. */
static void membership_subject_server(void **state)
{
    struct t *t = *state;
    char id[MXR_ID_MAX + 1];
    struct mxr_err err = { 0 };
    json_t *content = json_pack("{s:s}", "membership", "leave");
    assert_int_equal(mxr_rooms_send_event(t->hooked, t->room, ALICE, "m.room.member", BOB, content, id, &err), 0);
    json_decref(content);
    assert_string_equal(rfx_membership(&t->f, t->room, BOB), "leave");
    rfx_read_end(&t->f);
    struct queued q = queue_of(t, "b.test");
    assert_int_equal(q.n, 1);
    assert_true(has(&q, id));
}

/* The resident's duty: a join that c.test's only member made through us
 * (send_join) is queued for the room's other servers, not back to c.test. */
static void relayed_remote_join(void **state)
{
    struct t *t = *state;
    char id[MXR_ID_MAX + 1];
    json_t *join = RFX_PDU(&t->f, t->room, id, .type = "m.room.member", .sender = CAROL, .state_key = CAROL,
                           .content = "{\"membership\":\"join\"}");
    struct mxr_pdu_result res;
    struct mxr_err err = { 0 };
    rfx_read_end(&t->f);
    assert_int_equal(mxr_rooms_ingest_pdus(t->hooked, "c.test", &join, 1, 0, &res, &err), 0);
    json_decref(join);
    assert_int_equal(res.outcome, MXR_PDU_ACCEPTED);
    struct queued qb = queue_of(t, "b.test");
    assert_int_equal(qb.n, 1);
    assert_string_equal(qb.ids[0], id);
    assert_int_equal(queue_of(t, "c.test").n, 0);
    /* A message of carol's is c.test's to send: nothing queued here. */
    char mid[MXR_ID_MAX + 1];
    json_t *m = RFX_PDU(&t->f, t->room, mid, .type = "m.room.message", .sender = CAROL,
                        .content = "{\"body\":\"hi\",\"msgtype\":\"m.text\"}");
    rfx_read_end(&t->f);
    assert_int_equal(mxr_rooms_ingest_pdus(t->hooked, "c.test", &m, 1, 0, &res, &err), 0);
    json_decref(m);
    assert_int_equal(res.outcome, MXR_PDU_ACCEPTED);
    assert_int_equal(queue_of(t, "b.test").n, 1);
}

/* ---- the sender's side ---------------------------------------------------------- */

struct net {
    size_t sends;
    char last_dest[64];
};

static int fail_send(void *ctx, const char *dest, const char *txn_id, json_t *body, mxr_sender_done_fn done,
                     void *done_ctx, struct mxr_err *err)
{
    (void)txn_id, (void)body, (void)err;
    struct net *n = ctx;
    n->sends++;
    snprintf(n->last_dest, sizeof n->last_dest, "%s", dest);
    struct mxr_err e = { 0 };
    mxr_err_set(&e, "M_UNKNOWN", "connection refused (test)");
    done(done_ctx, 0, NULL, &e);
    return 0;
}

static void sender_learns_and_peer_alive(void **state)
{
    struct t *t = *state;
    char id[MXR_ID_MAX + 1];
    struct mxr_err err = { 0 };
    json_t *content = json_pack("{s:s, s:s}", "msgtype", "m.text", "body", "hello");
    assert_int_equal(mxr_rooms_send_event(t->hooked, t->room, ALICE, "m.room.message", NULL, content, id, &err), 0);
    json_decref(content);

    struct net net = { 0 };
    struct mxr_sender_deps d = { .server_name = "a.test", .store = t->f.store, .transport = { fail_send, &net },
                                 .clock = clock_of, .clock_ctx = &t->f };
    struct mxr_sender *s = mxr_sender_new(&d, &err);
    assert_non_null(s);
    struct mxr_sender_dest_info info;
    assert_int_equal(mxr_sender_dest_info(s, "b.test", &info), 0);   /* loaded from the store */
    assert_int_equal(info.queued_pdus, 1);
    /* A second event queued by a commit: the sender is told after it. */
    content = json_pack("{s:s, s:s}", "msgtype", "m.text", "body", "again");
    assert_int_equal(mxr_rooms_send_event(t->hooked, t->room, ALICE, "m.room.message", NULL, content, id, &err), 0);
    json_decref(content);
    mxr_sender_note_queued(s, (const char *const[]){ "b.test", "a.test" }, 2, 1);
    assert_int_equal(mxr_sender_dest_info(s, "b.test", &info), 0);
    assert_int_equal(info.queued_pdus, 2);
    assert_int_equal(mxr_sender_dest_info(s, "a.test", &info), -1);

    /* b.test is down: a failure, then the back-off holds it. */
    mxr_sender_run_once(s);
    mxr_sender_run_once(s);   /* handles the completion */
    assert_int_equal(net.sends, 1);
    assert_int_equal(mxr_sender_dest_info(s, "b.test", &info), 0);
    assert_int_equal(info.failures, 1);
    assert_true(info.next_attempt_ts > t->f.now);
    mxr_sender_run_once(s);
    assert_int_equal(net.sends, 1);
    /* b.test sends to us (/send): it is up, its queue goes now. */
    mxr_sender_peer_alive(s, "b.test");
    mxr_sender_peer_alive(NULL, "b.test");   /* no sender yet: ignored */
    mxr_sender_run_once(s);
    assert_int_equal(net.sends, 2);
    assert_string_equal(net.last_dest, "b.test");
    mxr_sender_run_once(s);
    mxr_sender_stop(s);
    mxr_sender_free(s);
}

/* ---- keys in the store ------------------------------------------------------------ */

static json_t *key_response(const struct mxr_signing_key *k, const char *server, int64_t until, const char *old_id,
                            int64_t old_expired)
{
    char b64[64];
    assert_true(mxr_b64_encode(b64, sizeof b64, k->public_key, 32, MXR_B64_STD) > 0);
    json_t *r = json_pack("{s:s, s:I, s:{s:{s:s}}, s:{}}", "server_name", server, "valid_until_ts", (json_int_t)until,
                          "verify_keys", k->key_id, "key", b64, "old_verify_keys");
    if (old_id)
        json_object_set_new(json_object_get(r, "old_verify_keys"), old_id,
                            json_pack("{s:s, s:I}", "key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                      "expired_ts", (json_int_t)old_expired));
    struct mxr_err err = { 0 };
    assert_int_equal(mxr_sign_json(r, server, k, &err), 0);
    assert_int_equal(mxr_keyring_check_response(r, server, &err), 0);
    return r;
}

struct fetcher {
    json_t *answer;   /* borrowed; NULL: the server is unreachable */
    size_t calls;
};

static json_t *fetch_fn(void *ctx, const char *server, struct mxr_err *err)
{
    struct fetcher *f = ctx;
    f->calls++;
    if (!f->answer) {
        mxr_err_set(err, "M_UNKNOWN", "%s unreachable (test)", server);
        return NULL;
    }
    return json_incref(f->answer);
}

static struct mxr_keyring *keyring_over(struct t *t, struct mxr_keystore *ks, struct fetcher *f)
{
    struct mxr_keyring_deps d = { .server_name = "a.test", .key = &t->f.a_key, .clock = clock_of,
                                  .clock_ctx = &t->f, .fetch = fetch_fn, .fetch_ctx = f,
                                  .cache = mxr_keystore_ops(ks) };
    struct mxr_err err = { 0 };
    struct mxr_keyring *kr = mxr_keyring_new(&d, &err);
    assert_non_null(kr);
    return kr;
}

static void keys_survive_restart(void **state)
{
    struct t *t = *state;
    struct mxr_err err = { 0 };
    int64_t until = t->f.now + 3600 * 1000;
    json_t *resp = key_response(&t->f.b_key, "b.test", until, "ed25519:gone", t->f.now - 1000);
    struct fetcher f = { resp, 0 };
    struct mxr_keystore *ks = mxr_keystore_new(t->f.store, NULL, &err);
    struct mxr_keyring *kr = keyring_over(t, ks, &f);
    uint8_t pk[32];
    assert_int_equal(mxr_keyring_request_key(kr, "b.test", t->f.b_key.key_id, pk, &err), 0);
    assert_memory_equal(pk, t->f.b_key.public_key, 32);
    assert_int_equal(f.calls, 1);
    json_t *served = mxr_keyring_query(kr, "b.test", 0, &err);   /* the signed answer */
    assert_non_null(json_object_get(served, "signatures"));
    json_decref(served);
    mxr_keyring_free(kr);
    mxr_keystore_free(ks);

    /* "Restart": a new cache over the same store, b.test unreachable. */
    int64_t fetched = 0;
    json_t *rebuilt = mxr_keystore_load(t->f.store, "b.test", &fetched, &err);
    assert_non_null(rebuilt);
    assert_int_equal(fetched, t->f.now);
    assert_int_equal(json_integer_value(json_object_get(rebuilt, "valid_until_ts")), until);
    assert_non_null(json_object_get(json_object_get(rebuilt, "verify_keys"), t->f.b_key.key_id));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(rebuilt, "old_verify_keys"),
                                                                        "ed25519:gone"), "expired_ts")),
                     t->f.now - 1000);
    assert_null(json_object_get(rebuilt, "signatures"));
    json_decref(rebuilt);
    assert_null(mxr_keystore_load(t->f.store, "nobody.test", NULL, &err));

    struct fetcher down = { NULL, 0 };
    ks = mxr_keystore_new(t->f.store, NULL, &err);
    kr = keyring_over(t, ks, &down);
    memset(pk, 0, sizeof pk);
    assert_int_equal(mxr_keyring_request_key(kr, "b.test", t->f.b_key.key_id, pk, &err), 0);
    assert_memory_equal(pk, t->f.b_key.public_key, 32);
    assert_int_equal(mxr_keyring_lookup(kr, "b.test", t->f.b_key.key_id, t->f.now, pk), 0);
    assert_int_equal(down.calls, 0);   /* from the store, no fetch */
    /* Never served as a notary answer without its signatures. */
    assert_null(mxr_keyring_query(kr, "b.test", 0, &err));
    assert_int_equal(down.calls, 1);
    /* Past valid_until_ts the stored keys do not sign requests. */
    t->f.now = until + 1 + MXR_KEY_REFETCH_MIN_MS;
    assert_int_equal(mxr_keyring_request_key(kr, "b.test", t->f.b_key.key_id, pk, &err), -1);
    mxr_keyring_free(kr);
    mxr_keystore_free(ks);
    json_decref(resp);
}

/* ---- the option ---------------------------------------------------------------- */

static void trusted_key_servers_option(void **state)
{
    (void)state;
    struct mxr_config cfg;
    struct mxr_err err = { 0 };
    const char *y = "server_name: a.test\ntrusted_key_servers: [\"notary.test\", \"other.test:8448\"]\n";
    assert_int_equal(mxr_config_load_string(&cfg, y, strlen(y), "test", &err), 0);
    assert_int_equal(cfg.trusted_key_servers.n, 2);
    assert_string_equal(cfg.trusted_key_servers.items[1], "other.test:8448");
    mxr_config_free(&cfg);
    y = "server_name: a.test\n";
    assert_int_equal(mxr_config_load_string(&cfg, y, strlen(y), "test", &err), 0);
    assert_int_equal(cfg.trusted_key_servers.n, 0);   /* default: ask the servers only */
    mxr_config_free(&cfg);
    y = "server_name: a.test\ntrusted_key_servers: [\"not a name\"]\n";
    assert_int_equal(mxr_config_load_string(&cfg, y, strlen(y), "test", &err), -1);
    assert_non_null(strstr(err.msg, "trusted_key_servers"));
    char *gen = mxr_config_generate("a.test", "/tmp/x", &err);
    assert_non_null(gen);
    assert_non_null(strstr(gen, "trusted_key_servers"));
    assert_non_null(strstr(gen, "Querying Keys Through Another"));
    free(gen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(queued_with_event, setup, teardown),
        cmocka_unit_test_setup_teardown(rolled_back_together, setup, teardown),
        cmocka_unit_test_setup_teardown(membership_subject_server, setup, teardown),
        cmocka_unit_test_setup_teardown(relayed_remote_join, setup, teardown),
        cmocka_unit_test_setup_teardown(sender_learns_and_peer_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(keys_survive_restart, setup, teardown),
        cmocka_unit_test(trusted_key_servers_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
