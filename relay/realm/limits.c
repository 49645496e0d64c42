/* Rate limits of the realm (design §6.9) and the envelope replay cache, in
 * memory (§6.5 allows it: a restart hands out fresh buckets but never a
 * guess — guesses are counted in the store).
 *
 * One fixed table of slots keyed by a keyed BLAKE2b of (kind, identity),
 * probed linearly over a short window; a full window evicts its least
 * recently used slot, so memory stays bounded whatever the traffic. The hash
 * key is random per process, so nobody can aim collisions at a victim. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "relay/realm/realm_int.h"

#define LIM_SLOTS 8192u
#define LIM_PROBE 16u
#define REPLAY_SLOTS 16384u
#define REPLAY_PROBE 8u
#define DAY_MS (24 * 60 * 60 * 1000LL)

struct lim_slot {
    uint8_t key[16];
    bool used;
    int64_t seen;
    double tokens;
    int64_t refill_ms;
    int64_t last_recover2;
    int64_t day_start;
    unsigned n_register, n_delete;
};

struct replay_slot {
    uint8_t key[16];
    int64_t expires;
};

struct realm_lim {
    pthread_mutex_t mu;
    struct mxr_realm_limits l;
    uint8_t hkey[crypto_generichash_KEYBYTES];
    struct lim_slot *slots;
    struct replay_slot *replay;
};

void mxr_realm_limits_default(struct mxr_realm_limits *l)
{
    *l = (struct mxr_realm_limits){
        .ip_per_second = 10, .ip_burst = 20, .recover2_interval_ms = 1000, .recover3_grace_ms = 60000,
        .register_per_day = 10, .delete_per_day = 10, .sessions_per_minute_per_server = 60,
        .sessions_burst_per_server = 30,
    };
}

struct realm_lim *realm_lim_new(const struct mxr_realm_limits *l)
{
    struct realm_lim *lim = calloc(1, sizeof *lim);
    if (!lim)
        return NULL;
    lim->slots = calloc(LIM_SLOTS, sizeof *lim->slots);
    lim->replay = calloc(REPLAY_SLOTS, sizeof *lim->replay);
    if (!lim->slots || !lim->replay || pthread_mutex_init(&lim->mu, NULL) != 0) {
        free(lim->slots);
        free(lim->replay);
        free(lim);
        return NULL;
    }
    lim->l = *l;
    randombytes_buf(lim->hkey, sizeof lim->hkey);
    return lim;
}

void realm_lim_free(struct realm_lim *lim)
{
    if (!lim)
        return;
    pthread_mutex_destroy(&lim->mu);
    free(lim->slots);
    free(lim->replay);
    free(lim);
}

static void slot_key(const struct realm_lim *lim, char kind, const void *id, size_t len, uint8_t out[16])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, lim->hkey, sizeof lim->hkey, 16);
    crypto_generichash_update(&st, (const uint8_t *)&kind, 1);
    crypto_generichash_update(&st, id, len);
    crypto_generichash_final(&st, out, 16);
}

static size_t index_of(const uint8_t key[16], size_t slots)
{
    uint64_t v;
    memcpy(&v, key, sizeof v);
    return (size_t)(v % slots);
}

/* The slot for key, created (fresh limits) when absent. Caller holds mu. */
static struct lim_slot *slot_get(struct realm_lim *lim, const uint8_t key[16], double burst, int64_t now)
{
    size_t base = index_of(key, LIM_SLOTS);
    struct lim_slot *victim = NULL;
    for (size_t i = 0; i < LIM_PROBE; i++) {
        struct lim_slot *s = &lim->slots[(base + i) % LIM_SLOTS];
        if (s->used && !memcmp(s->key, key, 16)) {
            s->seen = now;
            return s;
        }
        if (!victim || (!s->used && victim->used) || (s->used == victim->used && s->seen < victim->seen))
            victim = s;
    }
    memset(victim, 0, sizeof *victim);
    memcpy(victim->key, key, 16);
    victim->used = true;
    victim->seen = now;
    victim->tokens = burst;
    victim->refill_ms = now;
    victim->day_start = now;
    return victim;
}

/* Token bucket: rate per second, burst tokens. */
static int bucket_take(struct lim_slot *s, double rate, double burst, int64_t now, int64_t *retry_ms)
{
    if (now > s->refill_ms) {
        s->tokens += (double)(now - s->refill_ms) * rate / 1000.0;
        if (s->tokens > burst)
            s->tokens = burst;
        s->refill_ms = now;
    }
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
        return 0;
    }
    *retry_ms = (int64_t)((1.0 - s->tokens) * 1000.0 / rate) + 1;   /* rounded up */
    return -1;
}

static int bucket(struct realm_lim *lim, char kind, const void *id, size_t len, double rate, unsigned burst,
                  int64_t now, int64_t *retry_ms)
{
    if (rate <= 0 || burst == 0)
        return 0;
    uint8_t key[16];
    slot_key(lim, kind, id, len, key);
    pthread_mutex_lock(&lim->mu);
    int rc = bucket_take(slot_get(lim, key, burst, now), rate, burst, now, retry_ms);
    pthread_mutex_unlock(&lim->mu);
    return rc;
}

int realm_lim_ip(struct realm_lim *lim, const char *ip, int64_t now, int64_t *retry_ms)
{
    if (!ip)
        ip = "";
    return bucket(lim, 'i', ip, strlen(ip), lim->l.ip_per_second, lim->l.ip_burst, now, retry_ms);
}

int realm_lim_server(struct realm_lim *lim, const char *server_name, int64_t now, int64_t *retry_ms)
{
    return bucket(lim, 's', server_name, strlen(server_name), lim->l.sessions_per_minute_per_server / 60.0,
                  lim->l.sessions_burst_per_server, now, retry_ms);
}

int realm_lim_user(struct realm_lim *lim, const uint8_t user_key[REALM_USER_KEY_BYTES], enum realm_user_op op,
                   int64_t now, int64_t *retry_ms)
{
    uint8_t key[16];
    slot_key(lim, 'u', user_key, REALM_USER_KEY_BYTES, key);
    pthread_mutex_lock(&lim->mu);
    struct lim_slot *s = slot_get(lim, key, 0, now);
    int rc = 0;
    if (now - s->day_start >= DAY_MS) {
        s->day_start = now;
        s->n_register = s->n_delete = 0;
    }
    switch (op) {
    case REALM_LIM_RECOVER2:
        if (lim->l.recover2_interval_ms > 0 && s->last_recover2 &&
            now - s->last_recover2 < lim->l.recover2_interval_ms) {
            *retry_ms = lim->l.recover2_interval_ms - (now - s->last_recover2);
            rc = -1;
        } else {
            s->last_recover2 = now;
        }
        break;
    case REALM_LIM_REGISTER2:
    case REALM_LIM_DELETE: {
        unsigned *n = op == REALM_LIM_REGISTER2 ? &s->n_register : &s->n_delete;
        unsigned cap = op == REALM_LIM_REGISTER2 ? lim->l.register_per_day : lim->l.delete_per_day;
        if (cap && *n >= cap) {
            *retry_ms = DAY_MS - (now - s->day_start);
            rc = -1;
        } else {
            (*n)++;
        }
        break;
    }
    }
    pthread_mutex_unlock(&lim->mu);
    return rc;
}

bool realm_lim_recover3_grace(struct realm_lim *lim, const uint8_t user_key[REALM_USER_KEY_BYTES], int64_t now)
{
    if (lim->l.recover3_grace_ms <= 0)
        return false;
    uint8_t key[16];
    slot_key(lim, 'u', user_key, REALM_USER_KEY_BYTES, key);
    pthread_mutex_lock(&lim->mu);
    const struct lim_slot *s = slot_get(lim, key, 0, now);
    bool ok = s->last_recover2 && now - s->last_recover2 <= lim->l.recover3_grace_ms;
    pthread_mutex_unlock(&lim->mu);
    return ok;
}

int realm_lim_replay(struct realm_lim *lim, const uint8_t epk[MXR_REALM_BOX_PUBLIC_BYTES], int64_t now,
                     int64_t window_ms)
{
    uint8_t key[16];
    slot_key(lim, 'e', epk, MXR_REALM_BOX_PUBLIC_BYTES, key);
    size_t base = index_of(key, REPLAY_SLOTS);
    pthread_mutex_lock(&lim->mu);
    struct replay_slot *victim = NULL;
    int seen = 0;
    for (size_t i = 0; i < REPLAY_PROBE; i++) {
        struct replay_slot *s = &lim->replay[(base + i) % REPLAY_SLOTS];
        if (s->expires > now && !memcmp(s->key, key, 16)) {
            seen = 1;
            break;
        }
        if (!victim || s->expires < victim->expires)
            victim = s;
    }
    if (!seen) {
        /* The victim is expired or, under a flood, the oldest: a flood can
         * push an ephemeral key out early, which only re-opens a window the
         * ts_ms check already bounds. */
        memcpy(victim->key, key, 16);
        victim->expires = now + window_ms;
    }
    pthread_mutex_unlock(&lim->mu);
    return seen;
}
