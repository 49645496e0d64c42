/* Order-preserving key codec and small value encoders for the store.
 *
 * Integers are written big-endian so that memcmp order (LMDB's default)
 * equals numeric order and a fixed prefix selects a range. Strings inside a
 * composite key carry a one-byte length (every stored string is at most 255
 * bytes, spec appendices "Size limits"), so "ab"+"c" and "a"+"bc" differ and
 * a string component is itself a prefix for range scans. The last component
 * of a key may be raw bytes without length.
 *
 * No LMDB types here: the codec is unit-tested on its own.
 */
#ifndef MXR_STORE_CODEC_H
#define MXR_STORE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKEY_MAX 511   /* LMDB's default MDB_MAXKEYSIZE */

static inline void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}
static inline uint64_t be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}
static inline void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static inline uint32_t be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A key under construction. `bad` records the first overflow (string over
 * 255 bytes or key over SKEY_MAX); users check it once before the lookup. */
struct skey {
    size_t n;
    bool bad;
    uint8_t b[SKEY_MAX];
};

void skey_init(struct skey *k);
void skey_u64(struct skey *k, uint64_t v);
void skey_u8(struct skey *k, uint8_t v);
/* Length-prefixed string component (<= 255 bytes). */
void skey_str(struct skey *k, const char *s);
void skey_strn(struct skey *k, const char *s, size_t n);
/* Raw trailing bytes (last component only). */
void skey_raw(struct skey *k, const void *p, size_t n);

/* A value under construction: inline storage, heap beyond it. */
struct sbuf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
    uint8_t inl[768];
};
void sbuf_init(struct sbuf *b);
void sbuf_free(struct sbuf *b);
void sbuf_u8(struct sbuf *b, uint8_t v);
void sbuf_u32(struct sbuf *b, uint32_t v);
void sbuf_u64(struct sbuf *b, uint64_t v);
void sbuf_raw(struct sbuf *b, const void *p, size_t n);
/* String with an 8-bit (<= 255) or 16-bit length; longer ones set oom. */
void sbuf_str8(struct sbuf *b, const char *s);
void sbuf_str16(struct sbuf *b, const char *s);

/* A reader over a stored value; `bad` records a short or malformed value. */
struct srd {
    const uint8_t *p;
    size_t n;
    bool bad;
};
static inline struct srd srd_make(const void *p, size_t n)
{
    return (struct srd){.p = p, .n = n, .bad = false};
}
uint8_t srd_u8(struct srd *r);
uint32_t srd_u32(struct srd *r);
uint64_t srd_u64(struct srd *r);
const uint8_t *srd_raw(struct srd *r, size_t n);
/* Copies a length-prefixed string into out (NUL-terminated, out_size > 255
 * for str8); sets bad when it does not fit. */
void srd_str8(struct srd *r, char *out, size_t out_size);
void srd_str16(struct srd *r, char *out, size_t out_size);

/* Copies n bytes of a stored string into out with a NUL; false if too long. */
bool copy_str(char *out, size_t out_size, const void *p, size_t n);

#endif
