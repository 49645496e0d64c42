/* One realm step in one durable write transaction (design §6.4 items 2 and
 * 6): the record is read, the state machine runs, the record and its audit
 * events are written, and mxr_store_write returns only after the commit is
 * on disk. The store's single writer serialises steps, so parallel recover2
 * calls of one user each see the count the previous one left: N calls use
 * exactly min(N, allowed) guesses.
 *
 * The write callback may run more than once (group-commit retries): it
 * starts from its inputs every time and keeps results only in op. */
#include <sodium.h>
#include <string.h>

#include "relay/realm/realm_int.h"
#include "relay/store/realm.h"

struct op_ctx {
    struct mxr_realm *r;
    struct realm_op *op;
};

static int op_write(struct mxr_store_txn *txn, void *arg, struct mxr_err *err)
{
    struct op_ctx *x = arg;
    struct realm_op *op = x->op;
    struct mxr_realm *r = x->r;
    op->exists = false;
    sodium_memzero(&op->rec, sizeof op->rec);
    memset(&op->step, 0, sizeof op->step);

    uint8_t buf[REALM_SEALED_MAX];
    size_t len = 0;
    int rc = mxr_store_realm_record_get(txn, op->user_key, buf, sizeof buf, &len, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        rc = realm_record_open(r, buf, len, op->user_key, &op->rec, err);
        sodium_memzero(buf, sizeof buf);
        if (rc < 0)
            return -1;
        op->exists = true;
    }
    switch (op->kind) {
    case REALM_OP_REGISTER2:
        realm_sm_register2(&op->rec, &op->exists, op->incoming, op->now, &op->step);
        break;
    case REALM_OP_RECOVER1:
        realm_sm_recover1(&op->rec, op->exists, op->now, &op->step);
        break;
    case REALM_OP_RECOVER2:
        realm_sm_recover2(&op->rec, op->exists, op->version, op->now, &op->step);
        break;
    case REALM_OP_RECOVER3:
        realm_sm_recover3(&op->rec, op->exists, op->version, op->tag, op->now, &op->step);
        break;
    case REALM_OP_DELETE:
        realm_sm_delete(&op->rec, op->exists, &op->step);
        break;
    }
    if (op->step.write) {
        len = realm_record_seal(r, &op->rec, op->user_key, buf);
        rc = mxr_store_realm_record_put(txn, op->user_key, buf, len, err);
        sodium_memzero(buf, sizeof buf);
        if (rc < 0)
            return -1;
    }
    if (op->step.remove && mxr_store_realm_record_del(txn, op->user_key, err) < 0)
        return -1;
    for (unsigned i = 0; i < op->step.n_audit; i++) {
        struct mxr_store_realm_audit ev = { .ts_ms = op->now, .type = op->step.audit[i], .count = op->rec.count };
        if (mxr_store_realm_audit_add(txn, op->user_key, &ev, REALM_AUDIT_KEEP, err) < 0)
            return -1;
    }
    return 0;
}

int realm_op_run(struct mxr_realm *r, struct realm_op *op, struct mxr_err *err)
{
    struct op_ctx x = { r, op };
    if (mxr_store_write(r->store, op_write, &x, err) < 0) {
        realm_op_wipe(op);
        return -1;
    }
    return 0;
}

void realm_op_wipe(struct realm_op *op)
{
    sodium_memzero(&op->rec, sizeof op->rec);
    sodium_memzero(op->tag, sizeof op->tag);
}
