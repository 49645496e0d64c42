/* The offline attack of a realm operator (design §2.5, §6.1 goal "no single
 * relay operator can recover the secret or test PINs offline"), for
 * conformance/realm_three.sh.
 *
 *   offline_attack --user ID --config CFG.json --pins P1,P2,... DIR [DIR ...]
 *
 * Each DIR is one operator's loot: its realm key file (DIR/realm.key) and a
 * copy of its store (DIR/store). The attacker decrypts the user's record with
 * the key file — the operator has it — and then tries every candidate PIN
 * with every offline test the material allows:
 *   - the OPRF output from the key share(s) against the unlock-key commitment;
 *   - the unlock-key tag against the stored tag;
 *   - the secret's AEAD under the key from the share(s) of s.
 * With fewer than t shares every test fails for every PIN, the right one
 * included (the share is not the key); with t shares the right PIN shows,
 * which is why a user must spread realms over independent operators.
 *
 * Prints {"shares": n, "tried": m, "confirmed": [PINs]} and exits 0; 1 when
 * the loot cannot be read. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mxr/realm_client.h"
#include "proto/realm_client_int.h"
#include "relay/realm/realm_int.h"
#include "relay/store/realm.h"
#include "relay/store/store.h"

struct loot {
    struct realm_record rec;
    uint8_t realm_id[16];
    uint32_t index;     /* the share index: position in the configuration + 1 */
};

static void die(const char *what, const struct mxr_err *err)
{
    fprintf(stderr, "offline_attack: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    exit(1);
}

static void load(const char *dir, const char *user, const struct mxr_realm_config *cfg, struct loot *out)
{
    struct mxr_err err = { 0 };
    static struct mxr_realm r;   /* only at_rest_key and user_key_salt are used */
    char path[600];
    uint8_t box_sk[32];
    snprintf(path, sizeof path, "%s/realm.key", dir);
    if (access(path, R_OK) != 0)   /* realm_keys_load would create one */
        die(path, NULL);
    if (realm_keys_load(path, box_sk, r.at_rest_key, NULL, &err) < 0)
        die(path, &err);
    sodium_memzero(box_sk, sizeof box_sk);
    snprintf(path, sizeof path, "%s/store", dir);
    struct mxr_store_options so = { .path = path, .read_only = true };
    struct mxr_store *s = mxr_store_open(&so, &err);
    if (!s)
        die(path, &err);
    struct mxr_store_txn *txn;
    uint8_t uk[32], buf[REALM_SEALED_MAX];
    size_t len = 0;
    if (mxr_store_read_begin(s, &txn, &err) < 0 ||
        mxr_store_realm_meta_get(txn, "user_key_salt", r.user_key_salt, 32, &err) != 0 ||
        mxr_store_realm_meta_get(txn, "realm_id", out->realm_id, 16, &err) != 0)
        die("realm meta", &err);
    realm_user_key(&r, user, uk);
    int rc = mxr_store_realm_record_get(txn, uk, buf, sizeof buf, &len, &err);
    mxr_store_read_end(txn);
    mxr_store_close(s);
    if (rc != 0 || realm_record_open(&r, buf, len, uk, &out->rec, &err) < 0)
        die("the user's record", &err);
    if (out->rec.state != REALM_REGISTERED)
        die("the record is already a tombstone", NULL);
    out->index = 0;
    for (size_t i = 0; i < cfg->n; i++)
        if (!memcmp(cfg->realms[i].realm_id, out->realm_id, 16))
            out->index = (uint32_t)(i + 1);
    if (!out->index)
        die("this realm is not in the configuration", NULL);
}

/* Every offline test for one PIN; true when any of them confirms it. */
static bool try_pin(const char *pin, const char *user, const struct loot *l, size_t n,
                    const struct mxr_realm_config *cfg)
{
    struct mxr_err err = { 0 };
    uint8_t ak[32], seed[32];
    if (mxr_realm_pin_hash(ak, seed, cfg->profile, (const uint8_t *)pin, strlen(pin), l[0].rec.version,
                           (const uint8_t *)user, strlen(user), &err) < 0)
        die("pin hash", &err);
    /* The best guess at k0 and s the loot allows: interpolate what there is
     * (with one share, the share itself). */
    struct mxr_realm_share ks[MXR_REALM_CLIENT_MAX], ss[MXR_REALM_CLIENT_MAX];
    for (size_t i = 0; i < n; i++) {
        ks[i].index = ss[i].index = l[i].index;
        memcpy(ks[i].value, l[i].rec.k, 32);
        memcpy(ss[i].value, l[i].rec.s_share, 32);
    }
    uint8_t k0[32], s[32], out[64], commitment[32], unlock[32], tag[16], key[32], pad[129];
    if (n == 1) {
        memcpy(k0, l[0].rec.k, 32);
        memcpy(s, l[0].rec.s_share, 32);
    } else if (mxr_realm_shamir_recover(k0, ks, n, &err) < 0 || mxr_realm_shamir_recover(s, ss, n, &err) < 0) {
        die("interpolation", &err);
    }
    bool hit = false;
    if (mxr_realm_oprf_unoblivious(out, k0, ak, 32, &err) == 0) {
        mxr_realm_unlock_key_derive(commitment, unlock, out);
        hit |= sodium_memcmp(commitment, l[0].rec.commitment, 32) == 0;
        if (realm_client_tag(tag, cfg->profile, unlock, l[0].realm_id, &err) == 0)
            hit |= sodium_memcmp(tag, l[0].rec.tag, 16) == 0;
    }
    static const uint8_t nonce[12];
    unsigned long long plen;
    if (realm_client_enc_key(key, cfg->profile, seed, s, &err) == 0)
        hit |= crypto_aead_chacha20poly1305_ietf_decrypt(pad, &plen, NULL, l[0].rec.enc_secret, 145, NULL, 0,
                                                         nonce, key) == 0;
    return hit;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "user", required_argument, NULL, 'u' },
        { "config", required_argument, NULL, 'c' },
        { "pins", required_argument, NULL, 'p' },
        { 0 },
    };
    const char *user = NULL, *cfg_path = NULL, *pins = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'u')
            user = optarg;
        else if (c == 'c')
            cfg_path = optarg;
        else if (c == 'p')
            pins = optarg;
        else
            return 2;
    }
    size_t n = (size_t)(argc - optind);
    if (!user || !cfg_path || !pins || n < 1 || n > MXR_REALM_CLIENT_MAX) {
        fprintf(stderr, "usage: offline_attack --user ID --config CFG.json --pins P1,P2,... DIR [DIR ...]\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    json_error_t je;
    json_t *j = json_load_file(cfg_path, 0, &je);
    struct mxr_realm_config cfg;
    struct mxr_err err = { 0 };
    if (!j || mxr_realm_config_from_json(&cfg, j, user, &err) < 0)
        die(cfg_path, &err);
    json_decref(j);
    struct loot l[MXR_REALM_CLIENT_MAX];
    for (size_t i = 0; i < n; i++)
        load(argv[optind + (int)i], user, &cfg, &l[i]);
    json_t *confirmed = json_array();
    size_t tried = 0;
    char *list = strdup(pins);
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        tried++;
        if (try_pin(p, user, l, n, &cfg))
            json_array_append_new(confirmed, json_string(p));
    }
    free(list);
    json_t *o = json_pack("{s:i, s:i, s:o}", "shares", (int)n, "tried", (int)tried, "confirmed", confirmed);
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(o);
    return 0;
}
