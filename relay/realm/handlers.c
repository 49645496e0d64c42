/* The realm endpoints (design §6.3 table; §2.4 realm algorithms; §6.4
 * guess-limit semantics). Every handler validates its whole input before
 * any state changes; the state changes in one durable step (durable.c), and
 * recover2 computes the OPRF answer only after that step is on disk. */
#include <sodium.h>
#include <string.h>

#include "mxr/sign.h"
#include "relay/realm/realm_int.h"
#include "relay/server.h"
#include "relay/store/realm.h"

/* ---- GET /info (plain, signed with the federation key) ------------------------ */

void realm_h_info(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_realm *r = req->srv ? req->srv->realm : NULL;
    if (!r) {
        mxr_resp_error(resp, 404, "M_UNRECOGNIZED", "this server runs no PIN realm");
        return;
    }
    int64_t retry = 0;
    if (realm_lim_ip(r->lim, req->remote, realm_now(r), &retry) < 0) {
        struct realm_call c = { .r = r, .req = req, .resp = resp };
        realm_reply_limited(&c, retry);
        return;
    }
    struct mxr_err err = { 0 };
    json_t *info = json_pack("{s:s, s:s, s:[s,s], s:i, s:i}", "server_name", r->server_name, "key_id", r->key_id,
                             "profiles", "jb1", "sodium1", "max_allowed_guesses", (int)r->max_allowed_guesses,
                             "max_encrypted_secret_bytes", MXR_REALM_ENCRYPTED_SECRET_BYTES);
    if (!info || mxr_realm_json_set_bytes(info, "realm_id", r->realm_id, sizeof r->realm_id, &err) < 0 ||
        mxr_realm_json_set_bytes(info, "box_public_key", r->box_pk, sizeof r->box_pk, &err) < 0 ||
        mxr_sign_json(info, r->server_name, r->key, &err) < 0) {
        json_decref(info);
        mxr_resp_error(resp, 500, "M_UNKNOWN", "realm info: %s", err.msg[0] ? err.msg : "out of memory");
        return;
    }
    mxr_resp_json(resp, 200, info);
}

/* ---- shared pieces ---------------------------------------------------------------- */

static bool get_bytes(struct realm_call *c, const char *field, uint8_t *out, size_t len)
{
    struct mxr_err err = { 0 };
    if (mxr_realm_json_get_bytes(c->inner, field, out, len, &err) < 0) {
        realm_reply_error(c, 400, err.errcode, "%s", err.msg);
        return false;
    }
    return true;
}

static bool user_limit(struct realm_call *c, enum realm_user_op op)
{
    int64_t retry = 0;
    if (realm_lim_user(c->r->lim, c->user_key, op, c->now, &retry) < 0) {
        realm_reply_limited(c, retry);
        return false;
    }
    return true;
}

/* Runs the durable step; false with the reply sent when it failed. */
static bool run_op(struct realm_call *c, struct realm_op *op)
{
    struct mxr_err err = { 0 };
    memcpy(op->user_key, c->user_key, sizeof op->user_key);
    op->now = c->now;
    if (realm_op_run(c->r, op, &err) < 0) {
        srv_log(c->req->srv, MXR_LOG_ERROR, c->req->id, "realm: %s", err.msg);
        /* Nothing was committed, so nothing was counted; no OPRF output. */
        realm_reply_error(c, 500, "M_UNKNOWN", "the realm could not commit the request; nothing changed");
        return false;
    }
    return true;
}

/* Answers the error outcomes of a step; false when the step succeeded. */
static bool reply_outcome_error(struct realm_call *c, const struct realm_step *st)
{
    switch (st->outcome) {
    case REALM_OK:
        return false;
    case REALM_E_NOT_REGISTERED:
        realm_reply_error(c, 404, MXR_REALM_E_NOT_REGISTERED, "no secret is registered here for this user");
        break;
    case REALM_E_NO_GUESSES:
        realm_reply_error(c, 403, MXR_REALM_E_NO_GUESSES,
                          "every allowed guess was used: this realm's share was wiped (§6.4 item 4)");
        break;
    case REALM_E_VERSION_MISMATCH:
        realm_reply_error(c, 409, MXR_REALM_E_VERSION_MISMATCH,
                          "the registration version differs from this realm's (another registration replaced it); "
                          "nothing was counted");
        break;
    case REALM_E_BAD_TAG: {
        json_t *body = json_pack("{s:s, s:s, s:i}", "errcode", MXR_REALM_E_BAD_TAG, "error",
                                 "wrong unlock_key_tag (wrong PIN)", "guesses_remaining", (int)st->guesses_remaining);
        realm_reply(c, 403, body);
        break;
    }
    }
    return true;
}

/* ---- POST /register1: a liveness and authorisation probe ------------------------- */

void realm_h_register1(struct mxr_request *req, struct mxr_response *resp)
{
    struct realm_call c;
    if (realm_call_open(&c, req, resp, "register1", true))
        realm_reply(&c, 200, json_object());
    realm_call_close(&c);
}

/* ---- POST /register2 ---------------------------------------------------------- */

static bool register2_input(struct realm_call *c, struct realm_record *in)
{
    memset(in, 0, sizeof *in);
    struct mxr_err err = { 0 };
    const char *profile = json_string_value(json_object_get(c->inner, "profile"));
    enum mxr_realm_profile p;
    if (!profile || mxr_realm_profile_parse(profile, &p, &err) < 0) {
        realm_reply_error(c, 400, "M_INVALID_PARAM", "profile must be \"jb1\" or \"sodium1\"");
        return false;
    }
    in->profile = (uint8_t)p;
    const json_t *ag = json_object_get(c->inner, "allowed_guesses");
    if (!json_is_integer(ag) || json_integer_value(ag) < 1 || json_integer_value(ag) > c->r->max_allowed_guesses) {
        realm_reply_error(c, 400, "M_INVALID_PARAM", "allowed_guesses must be an integer in [1, %u] (§6.4 item 1)",
                          c->r->max_allowed_guesses);
        return false;
    }
    in->allowed = (uint16_t)json_integer_value(ag);
    if (!get_bytes(c, "version", in->version, sizeof in->version) ||
        !get_bytes(c, "oprf_private_key", in->k, sizeof in->k) ||
        !get_bytes(c, "oprf_public_key", in->V, sizeof in->V) ||
        !get_bytes(c, "oprf_verifying_key", in->vk, sizeof in->vk) ||
        !get_bytes(c, "oprf_signature", in->sig, sizeof in->sig) ||
        !get_bytes(c, "unlock_key_commitment", in->commitment, sizeof in->commitment) ||
        !get_bytes(c, "unlock_key_tag", in->tag, sizeof in->tag) ||
        !get_bytes(c, "encryption_key_scalar_share", in->s_share, sizeof in->s_share) ||
        !get_bytes(c, "encrypted_secret", in->enc_secret, sizeof in->enc_secret) ||
        !get_bytes(c, "encrypted_secret_commitment", in->enc_commit, sizeof in->enc_commit))
        return false;
    /* The key share must be a usable scalar whose public key the client
     * claims (V = k·G), signed by the registration's one-time key over our
     * realm_id (§2.2 "Signature"): then recover2 can only ever answer with
     * the key the client registered. */
    if (mxr_realm_oprf_key_matches(in->k, in->V, &err) < 0 ||
        mxr_realm_scalar_check(in->s_share, "encryption_key_scalar_share", &err) < 0) {
        realm_reply_error(c, 400, "M_INVALID_PARAM", "%s", err.msg);
        return false;
    }
    if (mxr_realm_oprf_sig_verify(in->sig, in->vk, c->r->realm_id, in->V, &err) < 0) {
        realm_reply_error(c, 400, "M_INVALID_PARAM",
                          "oprf_signature does not verify over (this realm_id, oprf_public_key) with oprf_verifying_key");
        return false;
    }
    return true;
}

void realm_h_register2(struct mxr_request *req, struct mxr_response *resp)
{
    struct realm_call c;
    struct realm_record in;
    struct realm_op op = { .kind = REALM_OP_REGISTER2, .incoming = &in };
    if (realm_call_open(&c, req, resp, "register2", true) && user_limit(&c, REALM_LIM_REGISTER2) &&
        register2_input(&c, &in) && run_op(&c, &op))
        realm_reply(&c, 200, json_object());
    sodium_memzero(&in, sizeof in);
    realm_op_wipe(&op);
    realm_call_close(&c);
}

/* ---- POST /recover1 -------------------------------------------------------------- */

void realm_h_recover1(struct mxr_request *req, struct mxr_response *resp)
{
    struct realm_call c;
    struct realm_op op = { .kind = REALM_OP_RECOVER1 };
    if (realm_call_open(&c, req, resp, "recover1", true) && run_op(&c, &op) && !reply_outcome_error(&c, &op.step)) {
        struct mxr_err err = { 0 };
        json_t *body = json_object();
        mxr_realm_json_set_bytes(body, "version", op.rec.version, sizeof op.rec.version, &err);
        realm_reply(&c, 200, body);
    }
    realm_op_wipe(&op);
    realm_call_close(&c);
}

/* ---- POST /recover2: count the guess, commit, then evaluate --------------------- */

static json_t *recover2_answer(struct realm_call *c, const struct realm_record *rec, const uint8_t U[32])
{
    struct mxr_realm_oprf_key key;
    memcpy(key.private_key, rec->k, sizeof key.private_key);
    memcpy(key.public_key, rec->V, sizeof key.public_key);
    uint8_t W[MXR_REALM_POINT_BYTES];
    struct mxr_realm_proof proof;
    struct mxr_err err = { 0 };
    int rc = mxr_realm_oprf_evaluate_prove(W, &proof, &key, U, &err);
    sodium_memzero(&key, sizeof key);
    if (rc < 0) {
        srv_log(c->req->srv, MXR_LOG_ERROR, c->req->id, "realm: recover2 evaluation failed: %s", err.msg);
        return NULL;
    }
    json_t *b = json_pack("{s:i, s:i, s:s}", "allowed_guesses", rec->allowed, "guess_count", rec->count, "profile",
                          mxr_realm_profile_name((enum mxr_realm_profile)rec->profile));
    if (!b || mxr_realm_json_set_bytes(b, "blinded_output", W, sizeof W, &err) < 0 ||
        mxr_realm_json_set_bytes(b, "proof_c", proof.c, sizeof proof.c, &err) < 0 ||
        mxr_realm_json_set_bytes(b, "proof_beta_z", proof.beta_z, sizeof proof.beta_z, &err) < 0 ||
        mxr_realm_json_set_bytes(b, "oprf_public_key", rec->V, sizeof rec->V, &err) < 0 ||
        mxr_realm_json_set_bytes(b, "oprf_verifying_key", rec->vk, sizeof rec->vk, &err) < 0 ||
        mxr_realm_json_set_bytes(b, "oprf_signature", rec->sig, sizeof rec->sig, &err) < 0 ||
        mxr_realm_json_set_bytes(b, "unlock_key_commitment", rec->commitment, sizeof rec->commitment, &err) < 0) {
        json_decref(b);
        return NULL;
    }
    return b;
}

void realm_h_recover2(struct mxr_request *req, struct mxr_response *resp)
{
    struct realm_call c;
    struct realm_op op = { .kind = REALM_OP_RECOVER2 };
    uint8_t U[MXR_REALM_POINT_BYTES];
    struct mxr_err err = { 0 };
    /* §6.4 item 2: authenticate, rate-limit and validate first ... */
    if (!realm_call_open(&c, req, resp, "recover2", true) || !user_limit(&c, REALM_LIM_RECOVER2) ||
        !get_bytes(&c, "version", op.version, sizeof op.version) ||
        !get_bytes(&c, "blinded_input", U, sizeof U))
        goto out;
    if (mxr_realm_point_check(U, "blinded_input", &err) < 0) {
        realm_reply_error(&c, 400, "M_INVALID_PARAM", "%s; nothing was counted", err.msg);
        goto out;
    }
    /* ... then count the guess and make it durable ... */
    if (!run_op(&c, &op) || reply_outcome_error(&c, &op.step))
        goto out;
    /* ... and only then compute the answer. A lost reply still used the guess. */
    json_t *body = recover2_answer(&c, &op.rec, U);
    if (!body)
        realm_reply_error(&c, 500, "M_UNKNOWN", "the realm could not evaluate the OPRF; the guess was counted");
    else
        realm_reply(&c, 200, body);
out:
    realm_op_wipe(&op);
    realm_call_close(&c);
}

/* ---- POST /recover3 --------------------------------------------------------------- */

void realm_h_recover3(struct mxr_request *req, struct mxr_response *resp)
{
    struct realm_call c;
    struct realm_op op = { .kind = REALM_OP_RECOVER3 };
    if (!realm_call_open(&c, req, resp, "recover3", true) || !get_bytes(&c, "version", op.version, sizeof op.version) ||
        !get_bytes(&c, "unlock_key_tag", op.tag, sizeof op.tag) || !run_op(&c, &op) ||
        reply_outcome_error(&c, &op.step))
        goto out;
    struct mxr_err err = { 0 };
    json_t *b = json_object();
    if (!b ||
        mxr_realm_json_set_bytes(b, "encryption_key_scalar_share", op.rec.s_share, sizeof op.rec.s_share, &err) < 0 ||
        mxr_realm_json_set_bytes(b, "encrypted_secret", op.rec.enc_secret, sizeof op.rec.enc_secret, &err) < 0 ||
        mxr_realm_json_set_bytes(b, "encrypted_secret_commitment", op.rec.enc_commit, sizeof op.rec.enc_commit,
                                 &err) < 0) {
        json_decref(b);
        realm_reply_error(&c, 500, "M_UNKNOWN", "out of memory");
    } else {
        realm_reply(&c, 200, b);
    }
out:
    realm_op_wipe(&op);
    realm_call_close(&c);
}

/* ---- POST /delete -------------------------------------------------------------------- */

void realm_h_delete(struct mxr_request *req, struct mxr_response *resp)
{
    struct realm_call c;
    struct realm_op op = { .kind = REALM_OP_DELETE };
    if (realm_call_open(&c, req, resp, "delete", true) && user_limit(&c, REALM_LIM_DELETE) && run_op(&c, &op))
        realm_reply(&c, 200, json_object());
    realm_op_wipe(&op);
    realm_call_close(&c);
}

/* ---- POST /audit ------------------------------------------------------------------- */

static int audit_cb(void *arg, const struct mxr_store_realm_audit *ev)
{
    json_t *o = json_pack("{s:I, s:s}", "ts_ms", (json_int_t)ev->ts_ms, "type", realm_audit_name(ev->type));
    if (o && (ev->type == REALM_AUDIT_GUESS_USED || ev->type == REALM_AUDIT_GUESS_LIMIT_REACHED))
        json_object_set_new(o, "guess_count", json_integer(ev->count));
    json_array_append_new(arg, o);
    return 0;
}

void realm_h_audit(struct mxr_request *req, struct mxr_response *resp)
{
    struct realm_call c;
    if (!realm_call_open(&c, req, resp, "audit", true))
        goto out;
    const json_t *since = json_object_get(c.inner, "since_ms");
    if (since && !json_is_integer(since)) {
        realm_reply_error(&c, 400, "M_INVALID_PARAM", "since_ms must be an integer (ms since the epoch)");
        goto out;
    }
    struct mxr_err err = { 0 };
    struct mxr_store_txn *txn;
    json_t *events = json_array();
    if (mxr_store_read_begin(c.r->store, &txn, &err) < 0) {
        json_decref(events);
        realm_reply_error(&c, 500, "M_UNKNOWN", "%s", err.msg);
        goto out;
    }
    int rc = mxr_store_realm_audit_list(txn, c.user_key, since ? json_integer_value(since) : 0, audit_cb, events, &err);
    mxr_store_read_end(txn);
    if (rc < 0) {
        json_decref(events);
        realm_reply_error(&c, 500, "M_UNKNOWN", "%s", err.msg);
        goto out;
    }
    realm_reply(&c, 200, json_pack("{s:o}", "events", events));
out:
    realm_call_close(&c);
}
