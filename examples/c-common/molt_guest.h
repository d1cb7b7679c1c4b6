/* examples/c-common/molt_guest.h — what every C guest of molt needs, from abi/ABI.md:
 * the exports of §2, the output region of §3 (status byte first), and enough RLP to
 * read and write the payloads of §8–§10. Header-only; include it in one file.
 */
#ifndef MOLT_GUEST_H
#define MOLT_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MOLT_EXPORT(name) __attribute__((export_name(name)))
#define MOLT_IMPORT(name) __attribute__((import_module("molt"), import_name(name)))

/* ABI §2: every module exports these. Every call runs in a fresh instance, so
 * malloc's heap starts empty each time. */
MOLT_EXPORT("molt_abi_version") int32_t molt_abi_version(void) { return 1; }
MOLT_EXPORT("molt_alloc") void *molt_alloc(int32_t len) {
    return malloc(len > 0 ? (size_t)len : 1);
}
MOLT_EXPORT("molt_free") void molt_free(void *ptr, int32_t len) {
    (void)len;
    free(ptr);
}

/* ABI §5: imports every kind may use. */
MOLT_IMPORT("keccak256") void molt_keccak256(const uint8_t *ptr, int32_t len, uint8_t *out);
MOLT_IMPORT("ed25519_verify")
int32_t molt_ed25519_verify(const uint8_t *msg, int32_t msg_len, const uint8_t *sig,
                            const uint8_t *key);

/* ---- a growable byte buffer ---- */

typedef struct {
    uint8_t *data;
    size_t len, cap;
    int failed; /* an allocation failed */
} buf_t;

static inline void buf_put(buf_t *b, const void *bytes, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static inline void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

/* ABI §3: an entry point returns (out_ptr << 32) | out_len. */
static inline int64_t molt_region(const buf_t *b) {
    return (int64_t)(((uint64_t)(uintptr_t)b->data << 32) | (uint64_t)b->len);
}

/* ABI §3: status 1 and a message: the guest refuses this input. */
static inline int64_t molt_refuse(const char *why) {
    buf_t b = {0};
    uint8_t status = 1;
    buf_put(&b, &status, 1);
    buf_puts(&b, why);
    return b.failed ? 0 : molt_region(&b);
}

/* ---- reading RLP ---- */

typedef struct {
    const uint8_t *p; /* the payload (a string's bytes, or a list's items) */
    size_t len;
    int list;
} rlp_t;

/* Reads one item from (*p, *n) and advances past it; 0 if malformed. */
static inline int rlp_next(const uint8_t **p, size_t *n, rlp_t *out) {
    if (*n == 0) return 0;
    uint8_t b = (*p)[0];
    size_t head, len;
    if (b < 0x80) {
        head = 0, len = 1, out->list = 0;
    } else if (b <= 0xb7) {
        head = 1, len = b - 0x80u, out->list = 0;
    } else if (b <= 0xbf || b >= 0xf8) {
        size_t k = b <= 0xbf ? b - 0xb7u : b - 0xf7u;
        if (k > 4 || *n < 1 + k) return 0;
        len = 0;
        for (size_t i = 0; i < k; i++) len = (len << 8) | (*p)[1 + i];
        head = 1 + k, out->list = b >= 0xf8;
    } else {
        head = 1, len = b - 0xc0u, out->list = 1;
    }
    if (len > *n - head) return 0;
    out->p = *p + head;
    out->len = len;
    *p += head + len;
    *n -= head + len;
    return 1;
}

/* An RLP integer of at most 8 bytes; 0 if it is not one. */
static inline int rlp_u64(const rlp_t *item, uint64_t *out) {
    if (item->list || item->len > 8) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < item->len; i++) v = (v << 8) | item->p[i];
    *out = v;
    return 1;
}

/* ---- writing RLP ---- */

static inline void rlp_header(buf_t *b, size_t len, uint8_t short_base) {
    if (len <= 55) {
        uint8_t h = (uint8_t)(short_base + len);
        buf_put(b, &h, 1);
        return;
    }
    uint8_t be[8];
    int n = 0;
    for (size_t v = len; v; v >>= 8) be[7 - n++] = (uint8_t)v;
    uint8_t h = (uint8_t)(short_base + 55 + n);
    buf_put(b, &h, 1);
    buf_put(b, be + 8 - n, (size_t)n);
}

static inline void rlp_bytes(buf_t *b, const void *bytes, size_t len) {
    if (len == 1 && ((const uint8_t *)bytes)[0] < 0x80) {
        buf_put(b, bytes, 1);
        return;
    }
    rlp_header(b, len, 0x80);
    buf_put(b, bytes, len);
}

static inline void rlp_uint(buf_t *b, uint64_t v) {
    uint8_t be[8];
    int n = 0;
    for (; v; v >>= 8) be[7 - n++] = (uint8_t)v;
    rlp_bytes(b, be + 8 - n, (size_t)n);
}

/* Appends `items` (already RLP) as one list. */
static inline void rlp_list(buf_t *b, const buf_t *items) {
    rlp_header(b, items->len, 0xc0);
    buf_put(b, items->data, items->len);
}

#endif
