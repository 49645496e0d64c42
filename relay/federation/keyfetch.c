/* Key fetches, direct then through notaries (see keyfetch.h). Spec:
 * server-server API "Querying Keys Through Another Server" (the notary's
 * answer carries the origin's signature and the notary's), keys_query.yaml. */
#include "relay/federation/keyfetch.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxr/keys.h"
#include "mxr/sign.h"
#include "relay/federation/fedclient.h"
#include "relay/federation/keyring.h"

struct mxr_keyfetch {
    struct mxr_fedclient *fc;
    char **notaries;
    size_t n;
};

struct mxr_keyfetch *mxr_keyfetch_new(struct mxr_fedclient *fc, const char *const *notaries, size_t n,
                                      struct mxr_err *err)
{
    struct mxr_keyfetch *kf = calloc(1, sizeof *kf);
    if (!kf || (n && !(kf->notaries = calloc(n, sizeof *kf->notaries)))) {
        free(kf);
        mxr_err_set(err, "M_UNKNOWN", "out of memory");
        return NULL;
    }
    kf->fc = fc;
    for (size_t i = 0; i < n; i++) {
        if (!(kf->notaries[i] = strdup(notaries[i]))) {
            mxr_keyfetch_free(kf);
            mxr_err_set(err, "M_UNKNOWN", "out of memory");
            return NULL;
        }
        kf->n++;
    }
    return kf;
}

void mxr_keyfetch_free(struct mxr_keyfetch *kf)
{
    if (!kf)
        return;
    for (size_t i = 0; i < kf->n; i++)
        free(kf->notaries[i]);
    free(kf->notaries);
    free(kf);
}

json_t *mxr_keyfetch_from_notary_answer(const json_t *answer, const char *server_name, const char *notary,
                                        const json_t *notary_keys, struct mxr_err *err)
{
    json_t *list = json_object_get(answer, "server_keys");
    if (!json_is_array(list)) {
        mxr_err_set(err, "M_BAD_JSON", "notary %.200s: the answer has no server_keys array", notary);
        return NULL;
    }
    json_t *vk = json_object_get(notary_keys, "verify_keys");
    size_t i;
    json_t *entry;
    json_array_foreach(list, i, entry) {
        const char *name = json_string_value(json_object_get(entry, "server_name"));
        if (!name || strcmp(name, server_name) != 0)
            continue;
        /* At least one signature of the notary by a current key of its, and
         * every such signature valid. */
        json_t *sigs = json_object_get(json_object_get(entry, "signatures"), notary);
        const char *key_id;
        json_t *sig;
        size_t good = 0, bad = 0;
        json_object_foreach(sigs, key_id, sig) {
            const char *b64 = json_string_value(json_object_get(json_object_get(vk, key_id), "key"));
            uint8_t pk[32];
            if (!b64 || mxr_key_decode_public(b64, pk, NULL) < 0)
                continue;   /* a key we do not know: neither for nor against */
            if (mxr_verify_json(entry, notary, key_id, pk, NULL) == 0)
                good++;
            else
                bad++;
        }
        if (good && !bad)
            return json_incref(entry);
        mxr_err_set(err, "M_FORBIDDEN", "notary %.200s: the keys of %.200s are not validly signed by it", notary,
                    server_name);
        return NULL;
    }
    mxr_err_set(err, "M_NOT_FOUND", "notary %.200s has no keys for %.200s", notary, server_name);
    return NULL;
}

/* One notary: its own keys (self-signed), then its answer for server_name. */
static json_t *via_notary(struct mxr_keyfetch *kf, const char *notary, const char *server_name, struct mxr_err *err)
{
    json_t *own = mxr_fedclient_get_json(kf->fc, notary, "/_matrix/key/v2/server", err);
    if (!own)
        return NULL;
    if (mxr_keyring_check_response(own, notary, err) < 0) {
        json_decref(own);
        return NULL;
    }
    char esc[3 * 256 + 1], path[1024];
    if (mxr_fed_escape(server_name, esc, sizeof esc) < 0) {
        json_decref(own);
        mxr_err_set(err, "M_INVALID_PARAM", "server name too long");
        return NULL;
    }
    snprintf(path, sizeof path, "/_matrix/key/v2/query/%s", esc);
    json_t *answer = mxr_fedclient_get_json(kf->fc, notary, path, err);
    json_t *entry = answer ? mxr_keyfetch_from_notary_answer(answer, server_name, notary, own, err) : NULL;
    json_decref(answer);
    json_decref(own);
    return entry;
}

json_t *mxr_keyfetch_fetch(void *ctx, const char *server_name, struct mxr_err *err)
{
    struct mxr_keyfetch *kf = ctx;
    struct mxr_err direct = { 0 };
    json_t *r = mxr_fedclient_fetch_keys(kf->fc, server_name, &direct);
    if (r)
        return r;
    for (size_t i = 0; i < kf->n; i++) {
        if (strcmp(kf->notaries[i], server_name) == 0)
            continue;
        struct mxr_err e = { 0 };
        if ((r = via_notary(kf, kf->notaries[i], server_name, &e)))
            return r;
    }
    if (err)
        *err = direct;
    if (kf->n)
        mxr_err_prefix(err, "directly, and from %zu notar%s", kf->n, kf->n == 1 ? "y" : "ies");
    return NULL;
}
