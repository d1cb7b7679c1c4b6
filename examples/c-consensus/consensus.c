/* examples/c-consensus/consensus.c — a `consensus` guest in C, written from
 * abi/ABI.md alone: round-robin proof of authority.
 *
 * Propose (ABI.md §9): with no block time, seal as soon as something is pending; with
 * one, seal when it has passed since the head; offer the pending transactions in the
 * pool's order while their gas fits the block; timestamp max(now, head + 1).
 *
 * Validate: the header follows its parent (number, parent hash, timestamp, gas used
 * within the limit, the parent's gas limit, EIP-1559's base fee), and, when the node
 * names authorities, it is sealed by authority number `block % count` — round robin —
 * whose ed25519 signature of the header's hash (`molt.ed25519_verify`) the seal
 * carries. With no authorities and no seal (a validator network, where blocks are
 * final by their commit certificate) the header's own rules are all.
 *
 * Build (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32): ./build.sh
 */
#include "../c-common/molt_guest.h"

/* ---- propose ---- */

/* input = [now, block_time, [number, timestamp, gas_limit], [[hash, gas_limit, tip], ...]]
 * output = [seal: bool, timestamp, [index, ...]] */
static const char *propose(const uint8_t *p, size_t n, buf_t *out) {
    rlp_t input, now_i, time_i, head, pending, number_i, ts_i, limit_i;
    uint64_t now, block_time, head_ts, gas_limit, unused;
    if (!rlp_next(&p, &n, &input) || !input.list) return "input is not a list";
    const uint8_t *q = input.p;
    size_t m = input.len;
    if (!rlp_next(&q, &m, &now_i) || !rlp_u64(&now_i, &now) || !rlp_next(&q, &m, &time_i) ||
        !rlp_u64(&time_i, &block_time) || !rlp_next(&q, &m, &head) || !head.list ||
        !rlp_next(&q, &m, &pending) || !pending.list)
        return "malformed proposal input";
    const uint8_t *h = head.p;
    size_t hn = head.len;
    if (!rlp_next(&h, &hn, &number_i) || !rlp_u64(&number_i, &unused) ||
        !rlp_next(&h, &hn, &ts_i) || !rlp_u64(&ts_i, &head_ts) || !rlp_next(&h, &hn, &limit_i) ||
        !rlp_u64(&limit_i, &gas_limit))
        return "malformed head";
    uint64_t timestamp = now > head_ts + 1 ? now : head_ts + 1;
    int due = block_time == 0 ? pending.len > 0 : now >= head_ts + block_time;

    buf_t selected = {0};
    if (due) {
        const uint8_t *c = pending.p;
        size_t cn = pending.len;
        uint64_t gas = 0, index = 0;
        rlp_t candidate, hash_i, gas_i;
        while (cn && rlp_next(&c, &cn, &candidate)) {
            const uint8_t *f = candidate.p;
            size_t fn = candidate.len;
            uint64_t tx_gas;
            if (!candidate.list || !rlp_next(&f, &fn, &hash_i) || !rlp_next(&f, &fn, &gas_i) ||
                !rlp_u64(&gas_i, &tx_gas))
                return "malformed candidate";
            if (tx_gas > gas_limit - gas) break; /* the pool's order: stop at the first misfit */
            gas += tx_gas;
            rlp_uint(&selected, index++);
        }
    }
    buf_t fields = {0};
    rlp_uint(&fields, (uint64_t)due);
    rlp_uint(&fields, timestamp);
    rlp_list(&fields, &selected);
    rlp_list(out, &fields);
    free(selected.data);
    free(fields.data);
    return NULL;
}

/* ---- validate ---- */

typedef struct {
    const uint8_t *rlp; /* the whole header's RLP, for its hash */
    size_t rlp_len;
    rlp_t parent_hash;
    uint64_t number, gas_limit, gas_used, timestamp, base_fee;
    int has_base_fee;
} header_t;

/* Decodes the fields of an Ethereum header this module checks. */
static int header(const uint8_t *bytes, size_t len, header_t *h) {
    const uint8_t *p = bytes;
    size_t n = len;
    rlp_t list, field;
    if (!rlp_next(&p, &n, &list) || !list.list || n != 0) return 0;
    h->rlp = bytes;
    h->rlp_len = len;
    h->has_base_fee = 0;
    const uint8_t *f = list.p;
    size_t fn = list.len;
    for (int i = 0; fn; i++) {
        if (!rlp_next(&f, &fn, &field)) return 0;
        switch (i) {
        case 0: h->parent_hash = field; break;
        case 8: if (!rlp_u64(&field, &h->number)) return 0; break;
        case 9: if (!rlp_u64(&field, &h->gas_limit)) return 0; break;
        case 10: if (!rlp_u64(&field, &h->gas_used)) return 0; break;
        case 11: if (!rlp_u64(&field, &h->timestamp)) return 0; break;
        case 15:
            if (!rlp_u64(&field, &h->base_fee)) return 0;
            h->has_base_fee = 1;
            break;
        default: break;
        }
    }
    return 1;
}

/* EIP-1559's base fee after `parent` (elasticity 2, change denominator 8). */
static uint64_t next_base_fee(const header_t *parent) {
    uint64_t target = parent->gas_limit / 2, base = parent->base_fee;
    if (target == 0 || parent->gas_used == target) return base;
    if (parent->gas_used > target) {
        unsigned __int128 delta =
            (unsigned __int128)base * (parent->gas_used - target) / target / 8;
        return base + (delta > 1 ? (uint64_t)delta : 1);
    }
    unsigned __int128 delta = (unsigned __int128)base * (target - parent->gas_used) / target / 8;
    return base - (uint64_t)delta;
}

/* NULL if the header may follow its parent under this module's rules, else why not. */
static const char *check(const rlp_t *parent_b, const rlp_t *header_b, const rlp_t *seal,
                         const rlp_t *authorities) {
    header_t parent, h;
    uint8_t hash[32];
    if (parent_b->list || !header(parent_b->p, parent_b->len, &parent))
        return "parent header does not decode";
    if (header_b->list || !header(header_b->p, header_b->len, &h))
        return "block header does not decode";
    if (h.number != parent.number + 1) return "number does not follow the parent's";
    molt_keccak256(parent.rlp, (int32_t)parent.rlp_len, hash);
    if (h.parent_hash.list || h.parent_hash.len != 32 || memcmp(h.parent_hash.p, hash, 32) != 0)
        return "parent hash does not match the parent";
    if (h.timestamp <= parent.timestamp) return "timestamp is not after the parent's";
    if (h.gas_used > h.gas_limit) return "gas used exceeds the limit";
    if (h.gas_limit != parent.gas_limit) return "gas limit differs from the parent's";
    if (parent.has_base_fee != h.has_base_fee ||
        (h.has_base_fee && h.base_fee != next_base_fee(&parent)))
        return "base fee is not the one the parent sets";

    /* The authorities, to count them and find this height's. */
    size_t count = 0;
    const uint8_t *a = authorities->p;
    size_t an = authorities->len;
    rlp_t key;
    while (an && rlp_next(&a, &an, &key)) count++;
    if (count == 0 && seal->len == 0) return NULL;
    if (seal->list || seal->len != 96) return "seal is not 64 bytes of signature and a 32-byte key";
    if (count == 0) return "sealed, but the node names no authority";
    a = authorities->p, an = authorities->len;
    for (uint64_t i = 0; i <= h.number % count; i++)
        if (!rlp_next(&a, &an, &key)) return "malformed authorities";
    if (key.list || key.len != 32 || memcmp(key.p, seal->p + 64, 32) != 0)
        return "not sealed by this height's authority (round robin)";
    molt_keccak256(h.rlp, (int32_t)h.rlp_len, hash);
    if (!molt_ed25519_verify(hash, 32, seal->p, seal->p + 64))
        return "seal does not match the header";
    return NULL;
}

/* input = [parent: bytes, header: bytes, seal: bytes, [authority: bytes32, ...]]
 * output = [valid: bool, reason: string] */
static const char *validate(const uint8_t *p, size_t n, buf_t *out) {
    rlp_t input, parent, header_b, seal, authorities;
    if (!rlp_next(&p, &n, &input) || !input.list) return "input is not a list";
    const uint8_t *q = input.p;
    size_t m = input.len;
    if (!rlp_next(&q, &m, &parent) || !rlp_next(&q, &m, &header_b) || !rlp_next(&q, &m, &seal) ||
        !rlp_next(&q, &m, &authorities) || !authorities.list)
        return "malformed validation input";
    const char *why = check(&parent, &header_b, &seal, &authorities);
    buf_t fields = {0};
    rlp_uint(&fields, why == NULL);
    rlp_bytes(&fields, why ? why : "", why ? strlen(why) : 0);
    rlp_list(out, &fields);
    free(fields.data);
    return NULL;
}

/* ---- the entry points (ABI §3, §4) ---- */

static int64_t run(const char *(*entry)(const uint8_t *, size_t, buf_t *), uint8_t *ptr,
                   int32_t len) {
    buf_t out = {0};
    uint8_t status = 0;
    buf_put(&out, &status, 1);
    const char *refused = entry(ptr, len > 0 ? (size_t)len : 0, &out);
    free(ptr);
    if (refused) {
        free(out.data);
        return molt_refuse(refused);
    }
    return out.failed ? molt_refuse("out of memory") : molt_region(&out);
}

MOLT_EXPORT("molt_consensus_propose") int64_t molt_consensus_propose(uint8_t *ptr, int32_t len) {
    return run(propose, ptr, len);
}

MOLT_EXPORT("molt_consensus_validate")
int64_t molt_consensus_validate(uint8_t *ptr, int32_t len) {
    return run(validate, ptr, len);
}
