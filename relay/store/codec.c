/* Key codec and value encoders (see codec.h for the ordering rules). */
#include "relay/store/codec.h"

#include <stdlib.h>
#include <string.h>

void skey_init(struct skey *k)
{
    k->n = 0;
    k->bad = false;
}

static uint8_t *skey_room(struct skey *k, size_t n)
{
    if (k->bad || n > SKEY_MAX - k->n) {
        k->bad = true;
        return NULL;
    }
    uint8_t *p = k->b + k->n;
    k->n += n;
    return p;
}

void skey_u64(struct skey *k, uint64_t v)
{
    uint8_t *p = skey_room(k, 8);
    if (p)
        be64_put(p, v);
}

void skey_u8(struct skey *k, uint8_t v)
{
    uint8_t *p = skey_room(k, 1);
    if (p)
        *p = v;
}

void skey_strn(struct skey *k, const char *s, size_t n)
{
    if (n > 255) {
        k->bad = true;
        return;
    }
    uint8_t *p = skey_room(k, 1 + n);
    if (p) {
        p[0] = (uint8_t)n;
        memcpy(p + 1, s, n);
    }
}

void skey_str(struct skey *k, const char *s)
{
    skey_strn(k, s, strlen(s));
}

void skey_raw(struct skey *k, const void *src, size_t n)
{
    uint8_t *p = skey_room(k, n);
    if (p && n)
        memcpy(p, src, n);
}

void sbuf_init(struct sbuf *b)
{
    b->p = b->inl;
    b->n = 0;
    b->cap = sizeof b->inl;
    b->oom = false;
}

void sbuf_free(struct sbuf *b)
{
    if (b->p != b->inl)
        free(b->p);
    sbuf_init(b);
}

static uint8_t *sbuf_room(struct sbuf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (n > b->cap - b->n) {
        size_t cap = b->cap * 2;
        while (cap - b->n < n)
            cap *= 2;
        uint8_t *np = b->p == b->inl ? malloc(cap) : realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return NULL;
        }
        if (b->p == b->inl)
            memcpy(np, b->inl, b->n);
        b->p = np;
        b->cap = cap;
    }
    uint8_t *p = b->p + b->n;
    b->n += n;
    return p;
}

void sbuf_u8(struct sbuf *b, uint8_t v)
{
    uint8_t *p = sbuf_room(b, 1);
    if (p)
        *p = v;
}

void sbuf_u32(struct sbuf *b, uint32_t v)
{
    uint8_t *p = sbuf_room(b, 4);
    if (p)
        be32_put(p, v);
}

void sbuf_u64(struct sbuf *b, uint64_t v)
{
    uint8_t *p = sbuf_room(b, 8);
    if (p)
        be64_put(p, v);
}

void sbuf_raw(struct sbuf *b, const void *src, size_t n)
{
    uint8_t *p = sbuf_room(b, n);
    if (p && n)
        memcpy(p, src, n);
}

void sbuf_str8(struct sbuf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > 255) {
        b->oom = true;
        return;
    }
    sbuf_u8(b, (uint8_t)n);
    sbuf_raw(b, s, n);
}

void sbuf_str16(struct sbuf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > 65535) {
        b->oom = true;
        return;
    }
    uint8_t *p = sbuf_room(b, 2);
    if (p) {
        p[0] = (uint8_t)(n >> 8);
        p[1] = (uint8_t)n;
    }
    sbuf_raw(b, s, n);
}

const uint8_t *srd_raw(struct srd *r, size_t n)
{
    if (r->bad || r->n < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->n -= n;
    return p;
}

uint8_t srd_u8(struct srd *r)
{
    const uint8_t *p = srd_raw(r, 1);
    return p ? *p : 0;
}

uint32_t srd_u32(struct srd *r)
{
    const uint8_t *p = srd_raw(r, 4);
    return p ? be32_get(p) : 0;
}

uint64_t srd_u64(struct srd *r)
{
    const uint8_t *p = srd_raw(r, 8);
    return p ? be64_get(p) : 0;
}

bool copy_str(char *out, size_t out_size, const void *p, size_t n)
{
    if (n >= out_size) {
        if (out_size)
            out[0] = '\0';
        return false;
    }
    if (n)
        memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

void srd_str8(struct srd *r, char *out, size_t out_size)
{
    size_t n = srd_u8(r);
    const uint8_t *p = srd_raw(r, n);
    if (!p || !copy_str(out, out_size, p, n)) {
        r->bad = true;
        if (out_size)
            out[0] = '\0';
    }
}

void srd_str16(struct srd *r, char *out, size_t out_size)
{
    const uint8_t *l = srd_raw(r, 2);
    size_t n = l ? ((size_t)l[0] << 8 | l[1]) : 0;
    const uint8_t *p = srd_raw(r, n);
    if (!p || !copy_str(out, out_size, p, n)) {
        r->bad = true;
        if (out_size)
            out[0] = '\0';
    }
}
