/* Push rules (client-server API §Push Rules, pushrules.yaml): the rulesets a
 * client reads at start-up (matrix-js-sdk will not sync without them) and
 * edits. There is no push gateway here, so rules are stored and served, not
 * evaluated.
 *
 * A user's rules live in their global account data under m.push_rules, whose
 * content is the spec's {"global": Ruleset} in priority order — exactly what
 * /sync must show after a change (§Push Rules: Events). Until the user
 * changes something, the server-default rules are served (and stored on the
 * first change). Clients cannot write m.push_rules through the account-data
 * API (405, relay/client/profile.c); every change here is one
 * read-modify-write in a single store transaction. */
#include <string.h>

#include "mxr/ids.h"
#include "relay/client/client_int.h"
#include "relay/client/pushrules.h"
#include "relay/store/accounts.h"

#define PR_TYPE "m.push_rules"

static const char *const KINDS[] = {"override", "content", "room", "sender", "underride"};

/* The server-default rules of §Predefined Rules (v1.17: the legacy rules that
 * matched mentions in `body` are gone). "@USER" stands for the user's ID. */
static const char DEFAULT_OVERRIDE[] =
    "["
    "{\"rule_id\":\".m.rule.master\",\"default\":true,\"enabled\":false,\"conditions\":[],\"actions\":[]},"
    "{\"rule_id\":\".m.rule.suppress_notices\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"kind\":\"event_match\",\"key\":\"content.msgtype\",\"pattern\":\"m.notice\"}],\"actions\":[]},"
    "{\"rule_id\":\".m.rule.invite_for_me\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"key\":\"type\",\"kind\":\"event_match\",\"pattern\":\"m.room.member\"},"
    "{\"key\":\"content.membership\",\"kind\":\"event_match\",\"pattern\":\"invite\"},"
    "{\"key\":\"state_key\",\"kind\":\"event_match\",\"pattern\":\"@USER\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"sound\",\"value\":\"default\"}]},"
    "{\"rule_id\":\".m.rule.member_event\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"key\":\"type\",\"kind\":\"event_match\",\"pattern\":\"m.room.member\"}],\"actions\":[]},"
    "{\"rule_id\":\".m.rule.is_user_mention\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"kind\":\"event_property_contains\",\"key\":\"content.m\\\\.mentions.user_ids\",\"value\":\"@USER\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"sound\",\"value\":\"default\"},{\"set_tweak\":\"highlight\"}]},"
    "{\"rule_id\":\".m.rule.is_room_mention\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"kind\":\"event_property_is\",\"key\":\"content.m\\\\.mentions.room\",\"value\":true},"
    "{\"kind\":\"sender_notification_permission\",\"key\":\"room\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"highlight\"}]},"
    "{\"rule_id\":\".m.rule.tombstone\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.room.tombstone\"},"
    "{\"kind\":\"event_match\",\"key\":\"state_key\",\"pattern\":\"\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"highlight\"}]},"
    "{\"rule_id\":\".m.rule.reaction\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.reaction\"}],\"actions\":[]},"
    "{\"rule_id\":\".m.rule.room.server_acl\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.room.server_acl\"},"
    "{\"kind\":\"event_match\",\"key\":\"state_key\",\"pattern\":\"\"}],\"actions\":[]},"
    "{\"rule_id\":\".m.rule.suppress_edits\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"kind\":\"event_property_is\",\"key\":\"content.m\\\\.relates_to.rel_type\",\"value\":\"m.replace\"}],"
    "\"actions\":[]}"
    "]";

static const char DEFAULT_UNDERRIDE[] =
    "["
    "{\"rule_id\":\".m.rule.call\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"key\":\"type\",\"kind\":\"event_match\",\"pattern\":\"m.call.invite\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"sound\",\"value\":\"ring\"}]},"
    "{\"rule_id\":\".m.rule.encrypted_room_one_to_one\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"kind\":\"room_member_count\",\"is\":\"2\"},"
    "{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.room.encrypted\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"sound\",\"value\":\"default\"}]},"
    "{\"rule_id\":\".m.rule.room_one_to_one\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"kind\":\"room_member_count\",\"is\":\"2\"},"
    "{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.room.message\"}],"
    "\"actions\":[\"notify\",{\"set_tweak\":\"sound\",\"value\":\"default\"}]},"
    "{\"rule_id\":\".m.rule.message\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.room.message\"}],\"actions\":[\"notify\"]},"
    "{\"rule_id\":\".m.rule.encrypted\",\"default\":true,\"enabled\":true,\"conditions\":["
    "{\"kind\":\"event_match\",\"key\":\"type\",\"pattern\":\"m.room.encrypted\"}],\"actions\":[\"notify\"]}"
    "]";

/* Replaces every string "@USER" inside v (recursively) with user_id. */
static void put_user(json_t *v, const char *user_id)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (json_is_string(x) && !strcmp(json_string_value(x), "@USER"))
                json_array_set_new(v, i, json_string(user_id));
            else
                put_user(x, user_id);
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            if (json_is_string(x) && !strcmp(json_string_value(x), "@USER"))
                json_object_set_new(v, k, json_string(user_id));
            else
                put_user(x, user_id);
        }
    }
}

/* The server-default {"global": Ruleset} for user_id (new reference). */
static json_t *default_rules(const char *user_id)
{
    json_t *o = json_loads(DEFAULT_OVERRIDE, JSON_REJECT_DUPLICATES, NULL);
    json_t *u = json_loads(DEFAULT_UNDERRIDE, JSON_REJECT_DUPLICATES, NULL);
    json_t *g = o && u ? json_pack("{s:o, s:[], s:[], s:[], s:o}", "override", o, "content", "room", "sender",
                                   "underride", u) : NULL;
    if (!g) {
        json_decref(o);
        json_decref(u);
        return NULL;
    }
    put_user(g, user_id);
    return json_pack("{s:o}", "global", g);
}

/* The user's rules as stored, or the defaults: {"global": Ruleset}, every
 * kind an array (new reference); NULL with err on a store failure. */
static json_t *load_rules(struct mxr_store_txn *t, const char *user_id, struct mxr_err *err)
{
    const char *text;
    size_t len;
    int rc = mxr_store_account_data_get(t, user_id, NULL, PR_TYPE, &text, &len, err);
    if (rc < 0)
        return NULL;
    json_t *all = rc == 0 ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *g = json_object_get(all, "global");
    if (!json_is_object(g)) {   /* never written (or unreadable: start again from the defaults) */
        json_decref(all);
        all = default_rules(user_id);
        if (!all)
            mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return all;
    }
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (!json_is_array(json_object_get(g, KINDS[i])))
            json_object_set_new(g, KINDS[i], json_array());
    return all;
}

static bool kind_valid(const char *kind)
{
    for (size_t i = 0; kind && i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (!strcmp(kind, KINDS[i]))
            return true;
    return false;
}

/* Index of rule_id in the array, or -1. */
static long find_rule(const json_t *list, const char *rule_id)
{
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) {
        const char *id = json_string_value(json_object_get(r, "rule_id"));
        if (id && !strcmp(id, rule_id))
            return (long)i;
    }
    return -1;
}

/* ---- reading ---------------------------------------------------------------- */

/* Reads the user's rules (defaults when none): NULL after answering. */
static json_t *read_rules(struct mxr_request *req, struct mxr_response *resp)
{
    struct mxr_client *c = cl_of(req);
    struct mxr_err err = {0};
    struct mxr_store_txn *t;
    if (mxr_store_read_begin(c->store, &t, &err) < 0) {
        cl_store_error(req, resp, &err);
        return NULL;
    }
    json_t *all = load_rules(t, req->user_id, &err);
    mxr_store_read_end(t);
    if (!all)
        cl_store_error(req, resp, &err);
    return all;
}

void cl_h_pushrules_all(struct mxr_request *req, struct mxr_response *resp)
{
    json_t *all = read_rules(req, resp);
    if (all)
        mxr_resp_json(resp, 200, all);
}

void cl_h_pushrules_global(struct mxr_request *req, struct mxr_response *resp)
{
    json_t *all = read_rules(req, resp);
    if (all) {
        mxr_resp_json(resp, 200, json_incref(json_object_get(all, "global")));
        json_decref(all);
    }
}

/* The rule named by the path, with its attribute when attr is not NULL
 * ({"enabled": b} or {"actions": [...]}). */
static void get_one(struct mxr_request *req, struct mxr_response *resp, const char *attr)
{
    const char *kind = mxr_req_param(req, "kind"), *rule_id = mxr_req_param(req, "ruleId");
    if (!kind_valid(kind)) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "unknown push rule kind '%.40s' (override, content, room, "
                       "sender, underride)", kind ? kind : "");
        return;
    }
    json_t *all = read_rules(req, resp);
    if (!all)
        return;
    json_t *list = json_object_get(json_object_get(all, "global"), kind);
    long i = rule_id ? find_rule(list, rule_id) : -1;
    if (i < 0)
        mxr_resp_error(resp, 404, "M_NOT_FOUND", "no push rule %.255s of kind %s", rule_id ? rule_id : "", kind);
    else if (attr)
        mxr_resp_json(resp, 200, json_pack("{s:O}", attr, json_object_get(json_array_get(list, (size_t)i), attr)));
    else
        mxr_resp_json(resp, 200, json_incref(json_array_get(list, (size_t)i)));
    json_decref(all);
}

void cl_h_pushrule_get(struct mxr_request *req, struct mxr_response *resp)
{
    get_one(req, resp, NULL);
}

void cl_h_pushrule_enabled_get(struct mxr_request *req, struct mxr_response *resp)
{
    get_one(req, resp, "enabled");
}

void cl_h_pushrule_actions_get(struct mxr_request *req, struct mxr_response *resp)
{
    get_one(req, resp, "actions");
}

/* ---- changing --------------------------------------------------------------- */

enum pr_op { PR_PUT, PR_DELETE, PR_ENABLED, PR_ACTIONS };

struct pr_change {
    enum pr_op op;
    const char *user_id, *kind, *rule_id, *before, *after;
    json_t *rule;       /* PR_PUT: the new rule; PR_ENABLED/PR_ACTIONS: the new value */
    int status;         /* set with an error whose status its errcode does not imply */
};

/* §Actions: strings (notify; the historical dont_notify and coalesce are
 * accepted and mean nothing) or {"set_tweak": name, ...}. */
static int actions_valid(const json_t *a, struct mxr_err *err)
{
    if (!json_is_array(a))
        return mxr_err_set(err, "M_BAD_JSON", "actions must be an array");
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        const char *s = json_string_value(x);
        if (s && (!strcmp(s, "notify") || !strcmp(s, "dont_notify") || !strcmp(s, "coalesce")))
            continue;
        if (json_is_object(x) && json_is_string(json_object_get(x, "set_tweak")))
            continue;
        return mxr_err_set(err, "M_INVALID_PARAM", "actions[%zu] is not notify or a set_tweak object", i);
    }
    return 0;
}

/* Builds the stored form of a user-defined rule from the PUT body. */
static json_t *user_rule(const char *kind, const char *rule_id, const json_t *body, struct mxr_err *err)
{
    const json_t *actions = json_object_get(body, "actions");
    if (!actions) {
        mxr_err_set(err, "M_MISSING_PARAM", "actions is required");
        return NULL;
    }
    if (actions_valid(actions, err))
        return NULL;
    json_t *r = json_pack("{s:s, s:b, s:b, s:O}", "rule_id", rule_id, "default", 0, "enabled", 1, "actions", actions);
    if (!r) {
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    if (!strcmp(kind, "content")) {
        const json_t *p = json_object_get(body, "pattern");
        if (!json_is_string(p)) {
            json_decref(r);
            mxr_err_set(err, p ? "M_BAD_JSON" : "M_MISSING_PARAM", "content rules need a string pattern");
            return NULL;
        }
        json_object_set(r, "pattern", (json_t *)p);
    } else if (!strcmp(kind, "override") || !strcmp(kind, "underride")) {
        const json_t *cs = json_object_get(body, "conditions");
        if (cs && !json_is_array(cs)) {
            json_decref(r);
            mxr_err_set(err, "M_BAD_JSON", "conditions must be an array");
            return NULL;
        }
        size_t i;
        json_t *x;
        json_array_foreach(cs, i, x)
            if (!json_is_object(x) || !json_is_string(json_object_get(x, "kind"))) {
                json_decref(r);
                mxr_err_set(err, "M_BAD_JSON", "conditions[%zu] must be an object with a string kind", i);
                return NULL;
            }
        json_object_set_new(r, "conditions", cs ? json_deep_copy(cs) : json_array());
    } else if (!strcmp(kind, "room") && mxr_id_check_room(rule_id, MXR_ID_ANY_FORMAT, NULL) < 0) {
        /* Room rules are named by the room ID they match, sender rules by the user ID. */
        json_decref(r);
        mxr_err_set(err, "M_INVALID_PARAM", "a room rule's ID must be a room ID");
        return NULL;
    } else if (!strcmp(kind, "sender") && mxr_id_check_user(rule_id, MXR_USER_HISTORICAL, NULL) < 0) {
        json_decref(r);
        mxr_err_set(err, "M_INVALID_PARAM", "a sender rule's ID must be a user ID");
        return NULL;
    }
    return r;
}

/* Where a new rule goes: before/after a user-defined rule, else first among
 * the user-defined rules of its kind (after .m.rule.master, which always
 * comes first). */
static long insert_at(const json_t *list, struct pr_change *ch, struct mxr_err *err)
{
    const char *rel = ch->before ? ch->before : ch->after;
    if (rel) {
        long i = find_rule(list, rel);
        if (i < 0 || rel[0] == '.') {   /* pushrules.yaml: 400 M_UNKNOWN "before/after rule not found" */
            ch->status = 400;
            return mxr_err_set(err, "M_UNKNOWN", "before/after rule not found: %.255s (it must be a user-defined "
                               "rule of the same kind)", rel);
        }
        return ch->before ? i : i + 1;
    }
    long i = 0;
    if (json_array_size(list) && find_rule(list, ".m.rule.master") == 0)
        i = 1;
    return i;
}

static int apply(struct mxr_store_txn *t, void *arg, struct mxr_err *err)
{
    struct pr_change *ch = arg;
    json_t *all = load_rules(t, ch->user_id, err);
    if (!all)
        return -1;
    json_t *list = json_object_get(json_object_get(all, "global"), ch->kind);
    long i = find_rule(list, ch->rule_id);
    int rc = 0;
    switch (ch->op) {
    case PR_PUT:
        if (i >= 0)   /* an update keeps the rule's place unless before/after move it */
            json_array_remove(list, (size_t)i);
        if (i < 0 || ch->before || ch->after)
            i = insert_at(list, ch, err);
        if (i < 0 || json_array_insert(list, (size_t)i, ch->rule))
            rc = -1;
        break;
    case PR_DELETE:
        if (i < 0)
            rc = mxr_err_set(err, "M_NOT_FOUND", "no push rule %.255s of kind %s", ch->rule_id, ch->kind);
        else if (ch->rule_id[0] == '.')
            rc = mxr_err_set(err, "M_INVALID_PARAM", "server-default rules cannot be deleted; disable them");
        else
            json_array_remove(list, (size_t)i);
        break;
    case PR_ENABLED:
    case PR_ACTIONS:
        if (i < 0)
            rc = mxr_err_set(err, "M_NOT_FOUND", "no push rule %.255s of kind %s", ch->rule_id, ch->kind);
        else
            json_object_set(json_array_get(list, (size_t)i), ch->op == PR_ENABLED ? "enabled" : "actions",
                            ch->rule);
        break;
    }
    char *text = rc ? NULL : json_dumps(all, JSON_COMPACT);
    json_decref(all);
    if (rc)
        return -1;
    if (!text)
        return mxr_err_set(err, "M_UNKNOWN", "out of memory");
    rc = mxr_store_account_data_put(t, ch->user_id, NULL, PR_TYPE, text, strlen(text), NULL, err);
    free(text);
    return rc;
}

static void change(struct mxr_request *req, struct mxr_response *resp, struct pr_change *ch)
{
    struct mxr_client *c = cl_of(req);
    struct mxr_err err = {0};
    ch->user_id = req->user_id;
    if (cl_write(c, apply, ch, &err) < 0) {
        if (ch->status)
            mxr_resp_error(resp, ch->status, err.errcode ? err.errcode : "M_UNKNOWN", "%s", err.msg);
        else
            mxr_resp_err(resp, &err);
        return;
    }
    cl_wake(c);   /* /sync shows the new m.push_rules */
    mxr_resp_json(resp, 200, json_object());
}

/* The path's kind and rule ID: 0, or -1 after answering 400. */
static int path_rule(struct mxr_request *req, struct mxr_response *resp, struct pr_change *ch)
{
    ch->kind = mxr_req_param(req, "kind");
    ch->rule_id = mxr_req_param(req, "ruleId");
    if (!kind_valid(ch->kind))
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "unknown push rule kind '%.40s' (override, content, "
                              "room, sender, underride)", ch->kind ? ch->kind : "");
    if (!ch->rule_id || !ch->rule_id[0] || strlen(ch->rule_id) > CL_ID_MAX)
        return mxr_resp_error(resp, 400, "M_INVALID_PARAM", "ruleId must be 1 to 255 bytes");
    return 0;
}

void cl_h_pushrule_put(struct mxr_request *req, struct mxr_response *resp)
{
    struct pr_change ch = {.op = PR_PUT};
    json_t *body = cl_body(req, resp);
    if (!body || path_rule(req, resp, &ch) < 0)
        return;
    /* Server-default rules are changed through /enabled and /actions only. */
    if (ch.rule_id[0] == '.') {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "rule IDs starting with '.' are the server's; change a "
                       "server-default rule through its /enabled and /actions");
        return;
    }
    if (strchr(ch.rule_id, '/') || strchr(ch.rule_id, '\\')) {
        mxr_resp_error(resp, 400, "M_INVALID_PARAM", "a rule ID may not contain '/' or '\\'");
        return;
    }
    ch.before = mxr_req_query(req, "before");
    ch.after = mxr_req_query(req, "after");
    struct mxr_err err = {0};
    ch.rule = user_rule(ch.kind, ch.rule_id, body, &err);
    if (!ch.rule) {
        mxr_resp_err(resp, &err);
        return;
    }
    change(req, resp, &ch);
    json_decref(ch.rule);
}

void cl_h_pushrule_delete(struct mxr_request *req, struct mxr_response *resp)
{
    struct pr_change ch = {.op = PR_DELETE};
    if (path_rule(req, resp, &ch) == 0)
        change(req, resp, &ch);
}

void cl_h_pushrule_enabled_put(struct mxr_request *req, struct mxr_response *resp)
{
    struct pr_change ch = {.op = PR_ENABLED};
    json_t *body = cl_body(req, resp);
    if (!body || path_rule(req, resp, &ch) < 0)
        return;
    ch.rule = json_object_get(body, "enabled");
    if (!json_is_boolean(ch.rule)) {
        mxr_resp_error(resp, 400, ch.rule ? "M_BAD_JSON" : "M_MISSING_PARAM", "enabled (a boolean) is required");
        return;
    }
    change(req, resp, &ch);
}

void cl_h_pushrule_actions_put(struct mxr_request *req, struct mxr_response *resp)
{
    struct pr_change ch = {.op = PR_ACTIONS};
    json_t *body = cl_body(req, resp);
    if (!body || path_rule(req, resp, &ch) < 0)
        return;
    struct mxr_err err = {0};
    ch.rule = json_object_get(body, "actions");
    if (!ch.rule) {
        mxr_resp_error(resp, 400, "M_MISSING_PARAM", "actions is required");
        return;
    }
    if (actions_valid(ch.rule, &err)) {
        mxr_resp_err(resp, &err);
        return;
    }
    change(req, resp, &ch);
}
