/* Authorization rules for m.room.member events (rooms/v*.md, rule 5 in
 * v1-v5, 4 in v6-v11, 5 in v12) and the third-party invite signature check
 * of rule x.3.1.7 / x.4.1.7. */
#include "auth_internal.h"

#include <stdio.h>
#include <string.h>

#include "mxr/base64.h"
#include "mxr/ids.h"
#include "mxr/pdu.h"

static bool is(const char *a, const char *b)
{
    return auth_str_eq(a, b);
}

/* Rule x.2 (v8+): a member event naming join_authorised_via_users_server
 * must be signed by that user's homeserver, whatever its membership. */
static int authoriser_signed(struct auth_run *r, const char *membership_rule)
{
    const struct mxr_event *ev = r->ev;
    json_t *who = json_object_get(ev->content, "join_authorised_via_users_server");
    if (!who || r->opts->skip_server_signatures)
        return 0;
    const char *user = json_string_value(who);
    const char *server = user && !mxr_id_check_user(user, MXR_USER_HISTORICAL, NULL) ? mxr_id_domain(user) : NULL;
    if (!server)
        return auth_deny(r, "%s: join_authorised_via_users_server is not a valid user ID", membership_rule);
    if (r->opts->keys) {
        struct mxr_err e = {0};
        if (mxr_pdu_check_server_signature(ev->json, r->rv, server, r->opts->keys, &e))
            return auth_deny(r, "%s: event is not validly signed by %.100s (join_authorised_via_users_server): %.120s",
                             membership_rule, server, e.msg);
        return 0;
    }
    json_t *sigs = json_object_get(json_object_get(ev->json, "signatures"), server);
    if (!json_is_object(sigs) || json_object_size(sigs) == 0)
        return auth_deny(r, "%s: event carries no signature of %.100s (join_authorised_via_users_server)",
                         membership_rule, server);
    return 0;
}

bool auth_tpi_signature_ok(const json_t *signed_obj, const struct mxr_event *tpi)
{
    /* Keys: content.public_key and content.public_keys[].public_key, unpadded
     * base64 in either alphabet (m.room.third_party_invite schema). */
    const char *keys[64];
    size_t nkeys = 0;
    const char *single = mxr_event_content_str(tpi, "public_key");
    if (single)
        keys[nkeys++] = single;
    json_t *list = json_object_get(tpi->content, "public_keys");
    size_t i;
    json_t *item;
    if (json_is_array(list))
        json_array_foreach(list, i, item) {
            const char *k = json_string_value(json_object_get(item, "public_key"));
            if (k && nkeys < sizeof keys / sizeof keys[0])
                keys[nkeys++] = k;
        }

    json_t *sigs = json_object_get(signed_obj, "signatures");
    if (!json_is_object(sigs))
        return false;
    for (size_t k = 0; k < nkeys; k++) {
        uint8_t pk[32];
        long len = mxr_b64_decode(pk, sizeof pk, keys[k], strlen(keys[k]), MXR_B64_STD, NULL);
        if (len != 32)
            len = mxr_b64_decode(pk, sizeof pk, keys[k], strlen(keys[k]), MXR_B64_URL, NULL);
        if (len != 32)
            continue;
        const char *entity;
        json_t *by_entity;
        json_object_foreach(sigs, entity, by_entity) {
            const char *ids[16];
            size_t n = mxr_signature_key_ids(signed_obj, entity, ids, sizeof ids / sizeof ids[0]);
            if (n > sizeof ids / sizeof ids[0])
                n = sizeof ids / sizeof ids[0];
            for (size_t s = 0; s < n; s++)
                if (mxr_verify_json(signed_obj, entity, ids[s], pk, NULL) == 0)
                    return true;
        }
    }
    return false;
}

/* x.4.1 (x.3.1 before v8): invite of a third-party identifier's user. */
static int third_party_invite(struct auth_run *r, const char *rule, json_t *tpi_content)
{
    const struct mxr_event *ev = r->ev;
    if (is(auth_membership(r->target_member), "ban"))
        return auth_deny(r, "%s.1: target user is banned", rule);
    json_t *signed_obj = json_object_get(tpi_content, "signed");
    if (!json_is_object(signed_obj))
        return auth_deny(r, "%s.2: content.third_party_invite has no signed object", rule);
    const char *mxid = json_string_value(json_object_get(signed_obj, "mxid"));
    const char *token = json_string_value(json_object_get(signed_obj, "token"));
    if (!mxid || !token)
        return auth_deny(r, "%s.3: content.third_party_invite.signed lacks mxid or token", rule);
    if (!is(mxid, ev->state_key))
        return auth_deny(r, "%s.4: signed.mxid does not match state_key", rule);
    if (!r->tpi)
        return auth_deny(r, "%s.5: no m.room.third_party_invite event with state_key matching signed.token", rule);
    if (!is(ev->sender, r->tpi->sender))
        return auth_deny(r, "%s.6: sender is not the sender of the m.room.third_party_invite", rule);
    if (auth_tpi_signature_ok(signed_obj, r->tpi))
        return 0;
    return auth_deny(r, "%s.8: no signature in signed verifies with a public key of the "
                     "m.room.third_party_invite", rule);
}

static int join_rules(struct auth_run *r, const char *rule)
{
    const struct mxr_room_version *rv = r->rv;
    const struct mxr_event *ev = r->ev;
    const struct auth_rules *n = &r->n;

    /* x.y.1: the creator's own join right after the create event. v1-v10
     * name the creator in content.creator, v11+ it is the create's sender
     * (v12: additional creators excluded, per that page's wording). */
    const char *creator = rv->implicit_room_creator ? r->create->sender
                                                    : mxr_event_content_str(r->create, "creator");
    if (ev->n_prev_events == 1 && is(ev->prev_events[0], r->create->event_id) && is(ev->state_key, creator))
        return 0;
    if (!is(ev->sender, ev->state_key))
        return auth_deny(r, "%s.2: sender does not match state_key", rule);
    const char *current = auth_membership(r->target_member);
    if (is(current, "ban"))
        return auth_deny(r, "%s.3: sender is banned", rule);

    /* No m.room.join_rules event, or one without join_rule: the spec names
     * no default; like the deployed servers we read it as "invite" (it only
     * matters to an invited user's join). A non-string join_rule matches no
     * rule. */
    const char *join_rule = "invite";
    if (r->join_rules && json_object_get(r->join_rules->content, "join_rule"))
        join_rule = mxr_event_content_str(r->join_rules, "join_rule");
    bool knock = rv->knock_join_rule && is(join_rule, "knock");
    if (is(join_rule, "invite") || knock) {
        if (is(current, "invite") || is(current, "join"))
            return 0;
        return auth_deny(r, "%s.%d: join rule is %s and the user is neither invited nor joined", rule, n->j_invite,
                         join_rule);
    }
    bool restricted = (rv->restricted_join_rule && is(join_rule, "restricted")) ||
                      (rv->knock_restricted_join_rule && is(join_rule, "knock_restricted"));
    if (restricted) {
        if (is(current, "invite") || is(current, "join"))
            return 0;
        const char *authoriser = mxr_event_content_str(ev, "join_authorised_via_users_server");
        if (!authoriser)
            return auth_deny(r, "%s.%d.2: restricted join without join_authorised_via_users_server", rule,
                             n->j_restricted);
        if (!is(auth_membership(r->authoriser_member), "join"))
            return auth_deny(r, "%s.%d.2: join_authorised_via_users_server is not a joined member of the room",
                             rule, n->j_restricted);
        if (mxr_auth_user_level(rv, r->create, r->power_levels, authoriser) <
            mxr_auth_named_level(rv, r->power_levels, "invite"))
            return auth_deny(r, "%s.%d.2: join_authorised_via_users_server lacks the power to invite", rule,
                             n->j_restricted);
        return 0;
    }
    if (is(join_rule, "public"))
        return 0;
    return auth_deny(r, "%s.%d: join rule %.40s does not allow this join", rule, n->j_reject,
                     join_rule ? join_rule : "(none)");
}

int auth_member_rules(struct auth_run *r)
{
    const struct mxr_room_version *rv = r->rv;
    const struct mxr_event *ev = r->ev;
    const struct auth_rules *n = &r->n;
    char rule[24];

    const char *membership = mxr_event_content_str(ev, "membership");
    if (!ev->state_key || !membership)
        return auth_deny(r, "%d.1: m.room.member needs a state_key and a string content.membership", n->member);

    if (n->m_signed) {
        snprintf(rule, sizeof rule, "%d.%d.1", n->member, n->m_signed);
        if (authoriser_signed(r, rule))
            return -1;
    }

    const char *sender_m = auth_membership(r->sender_member);
    const char *target_m = auth_membership(r->target_member);
    int64_t sender_level = mxr_auth_user_level(rv, r->create, r->power_levels, ev->sender);
    int64_t target_level = mxr_auth_user_level(rv, r->create, r->power_levels, ev->state_key);

    if (is(membership, "join")) {
        snprintf(rule, sizeof rule, "%d.%d", n->member, n->m_join);
        return join_rules(r, rule);
    }

    if (is(membership, "invite")) {
        snprintf(rule, sizeof rule, "%d.%d", n->member, n->m_invite);
        json_t *tpi_content = json_object_get(ev->content, "third_party_invite");
        if (tpi_content) {
            char sub[32];
            snprintf(sub, sizeof sub, "%s.1", rule);
            return third_party_invite(r, sub, tpi_content);
        }
        if (!is(sender_m, "join"))
            return auth_deny(r, "%s.2: sender is not joined to the room", rule);
        if (is(target_m, "join") || is(target_m, "ban"))
            return auth_deny(r, "%s.3: target user is already %s", rule, target_m);
        if (sender_level >= mxr_auth_named_level(rv, r->power_levels, "invite"))
            return 0;
        return auth_deny(r, "%s.5: sender's power level is below the invite level", rule);
    }

    if (is(membership, "leave")) {
        snprintf(rule, sizeof rule, "%d.%d", n->member, n->m_leave);
        if (is(ev->sender, ev->state_key)) {
            if (is(sender_m, "invite") || is(sender_m, "join") || (rv->knock_join_rule && is(sender_m, "knock")))
                return 0;
            return auth_deny(r, "%s.1: user leaving is not %s", rule,
                             rv->knock_join_rule ? "invited, joined or knocking" : "invited or joined");
        }
        if (!is(sender_m, "join"))
            return auth_deny(r, "%s.2: sender is not joined to the room", rule);
        if (is(target_m, "ban") && sender_level < mxr_auth_named_level(rv, r->power_levels, "ban"))
            return auth_deny(r, "%s.3: target user is banned and sender's power level is below the ban level", rule);
        if (sender_level >= mxr_auth_named_level(rv, r->power_levels, "kick") && target_level < sender_level)
            return 0;
        return auth_deny(r, "%s.5: sender's power level is below the kick level or not above the target's", rule);
    }

    if (is(membership, "ban")) {
        snprintf(rule, sizeof rule, "%d.%d", n->member, n->m_ban);
        if (!is(sender_m, "join"))
            return auth_deny(r, "%s.1: sender is not joined to the room", rule);
        if (sender_level >= mxr_auth_named_level(rv, r->power_levels, "ban") && target_level < sender_level)
            return 0;
        return auth_deny(r, "%s.3: sender's power level is below the ban level or not above the target's", rule);
    }

    if (n->m_knock && is(membership, "knock")) {
        snprintf(rule, sizeof rule, "%d.%d", n->member, n->m_knock);
        const char *join_rule = r->join_rules ? mxr_event_content_str(r->join_rules, "join_rule") : NULL;
        if (!is(join_rule, "knock") && !(rv->knock_restricted_join_rule && is(join_rule, "knock_restricted")))
            return auth_deny(r, "%s.1: join rule is %.40s, not %s", rule, join_rule ? join_rule : "(none)",
                             rv->knock_restricted_join_rule ? "knock or knock_restricted" : "knock");
        if (!is(ev->sender, ev->state_key))
            return auth_deny(r, "%s.2: sender does not match state_key", rule);
        if (!is(sender_m, "ban") && !is(sender_m, "invite") && !is(sender_m, "join"))
            return 0;
        return auth_deny(r, "%s.4: sender is already %s", rule, sender_m);
    }

    return auth_deny(r, "%d.%d: unknown membership %.40s", n->member, n->m_unknown, membership);
}
