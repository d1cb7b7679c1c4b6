/* examples/c-rpc/rpc.c — an `rpc` guest in C, written from abi/ABI.md alone.
 *
 * It answers a few Ethereum JSON-RPC methods by asking the node through the chain
 * queries (ABI.md §10): `eth_chainId` and `eth_blockNumber` from CHAIN_INFO (op 0),
 * `eth_getBalance` from ACCOUNT (op 5), and `web3_clientVersion` itself; any other
 * method gets JSON-RPC's -32601. Batches get an array of answers; a body that is not
 * JSON gets -32700.
 *
 * Build (Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32), see build.sh:
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -o c-rpc.wasm rpc.c
 */
#include "../c-common/molt_guest.h"

/* ABI §5: the chain queries. */
MOLT_IMPORT("chain") int32_t molt_chain(const uint8_t *ptr, int32_t len);
MOLT_IMPORT("chain_read") void molt_chain_read(uint8_t *out);

/* A big-endian unsigned integer of up to 32 bytes as a JSON quantity "0x…". */
static void put_quantity(buf_t *b, const uint8_t *be, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;
    while (i < n && be[i] == 0) i++;
    buf_puts(b, "\"0x");
    if (i == n) {
        buf_puts(b, "0");
    } else {
        char digit = hex[be[i] >> 4];
        if (digit != '0') buf_put(b, &digit, 1);
        digit = hex[be[i] & 15];
        buf_put(b, &digit, 1);
        for (i++; i < n; i++) {
            char two[2] = {hex[be[i] >> 4], hex[be[i] & 15]};
            buf_put(b, two, 2);
        }
    }
    buf_puts(b, "\"");
}

/* ---- chain queries ---- */

/* Runs query `req`; on success (status 0) returns the result's RLP in (*out, *n),
 * which the caller frees with free(*mem). Returns 0 with *err set otherwise. */
static int query(const uint8_t *req, size_t len, uint8_t **mem, const uint8_t **out,
                 size_t *n, const char **err) {
    int32_t got = molt_chain(req, (int32_t)len);
    if (got <= 0) {
        *err = "empty chain answer";
        return 0;
    }
    uint8_t *answer = malloc((size_t)got);
    if (!answer) {
        *err = "out of memory";
        return 0;
    }
    molt_chain_read(answer);
    if (answer[0] != 0) {
        *err = "the node refused the query";
        free(answer);
        return 0;
    }
    *mem = answer;
    *out = answer + 1;
    *n = (size_t)got - 1;
    return 1;
}

/* ---- a little JSON: find a member's raw value in the top-level object ---- */

static const char *skip_ws(const char *s, const char *end) {
    while (s < end && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) s++;
    return s;
}

/* The end of the JSON value starting at s, or NULL if there is none: strings (no
 * control characters), numbers and literals, objects and arrays, checked. */
static const char *value_end(const char *s, const char *end) {
    if (s >= end) return NULL;
    if (*s == '"') {
        for (s++; s < end; s++) {
            if ((unsigned char)*s < 0x20) return NULL;
            if (*s == '\\') s++;
            else if (*s == '"') return s + 1;
        }
        return NULL;
    }
    if (*s == '{' || *s == '[') {
        int object = *s == '{';
        char close = object ? '}' : ']';
        s = skip_ws(s + 1, end);
        if (s < end && *s == close) return s + 1;
        for (;;) {
            if (object) {
                if (s >= end || *s != '"') return NULL;
                if (!(s = value_end(s, end))) return NULL;
                s = skip_ws(s, end);
                if (s >= end || *s != ':') return NULL;
                s = skip_ws(s + 1, end);
            }
            if (!(s = value_end(s, end))) return NULL;
            s = skip_ws(s, end);
            if (s < end && *s == close) return s + 1;
            if (s >= end || *s != ',') return NULL;
            s = skip_ws(s + 1, end);
        }
    }
    const char *start = s;
    while (s < end && ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || *s == '-' ||
                       *s == '+' || *s == '.' || *s == 'E'))
        s++;
    return s == start ? NULL : s;
}

/* The raw value of member `key` of the object at [s, end), or NULL. */
static const char *member(const char *s, const char *end, const char *key, const char **vend) {
    size_t klen = strlen(key);
    s = skip_ws(s, end);
    if (s >= end || *s != '{') return NULL;
    s++;
    while (1) {
        s = skip_ws(s, end);
        if (s >= end || *s != '"') return NULL;
        const char *kend = value_end(s, end);
        if (!kend) return NULL;
        int match = (size_t)(kend - s - 2) == klen && memcmp(s + 1, key, klen) == 0;
        s = skip_ws(kend, end);
        if (s >= end || *s != ':') return NULL;
        s = skip_ws(s + 1, end);
        const char *e = value_end(s, end);
        if (!e) return NULL;
        if (match) {
            *vend = e;
            return s;
        }
        s = skip_ws(e, end);
        if (s < end && *s == ',') s++;
        else return NULL;
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* ---- the methods ---- */

static void error(buf_t *b, int code, const char *message) {
    char text[32];
    int n = 0;
    int negative = code < 0;
    unsigned u = negative ? (unsigned)(-code) : (unsigned)code;
    char digits[16];
    do digits[n++] = (char)('0' + u % 10), u /= 10;
    while (u);
    int i = 0;
    if (negative) text[i++] = '-';
    while (n) text[i++] = digits[--n];
    text[i] = 0;
    buf_puts(b, "\"error\":{\"code\":");
    buf_puts(b, text);
    buf_puts(b, ",\"message\":\"");
    buf_puts(b, message);
    buf_puts(b, "\"}");
}

/* CHAIN_INFO's field `index` ([chain_id, head, …]) as a quantity. */
static void chain_info(buf_t *b, int index) {
    static const uint8_t req[] = {0, 0xc0}; /* op 0, arguments () */
    uint8_t *mem;
    const uint8_t *p;
    size_t n;
    const char *err;
    rlp_t list, field;
    if (!query(req, sizeof req, &mem, &p, &n, &err)) return error(b, -32000, err);
    if (rlp_next(&p, &n, &list) && list.list) {
        const uint8_t *q = list.p;
        size_t m = list.len;
        for (int i = 0; i <= index; i++) {
            if (!rlp_next(&q, &m, &field)) {
                free(mem);
                return error(b, -32603, "malformed CHAIN_INFO");
            }
        }
        buf_puts(b, "\"result\":");
        put_quantity(b, field.p, field.len);
    } else {
        error(b, -32603, "malformed CHAIN_INFO");
    }
    free(mem);
}

/* eth_getBalance: ACCOUNT (op 5) of the first parameter, a 0x-prefixed address. */
static void get_balance(buf_t *b, const char *params, const char *pend) {
    const char *s = skip_ws(params, pend);
    if (s >= pend || *s != '[') return error(b, -32602, "params must be an array");
    s = skip_ws(s + 1, pend);
    if (pend - s < 44 || s[0] != '"' || s[1] != '0' || (s[2] != 'x' && s[2] != 'X') || s[43] != '"')
        return error(b, -32602, "the first parameter must be a 20-byte address");
    uint8_t req[22] = {5, 0x94}; /* op 5, then the address as a 20-byte RLP string */
    for (int i = 0; i < 20; i++) {
        int hi = hexval(s[3 + 2 * i]), lo = hexval(s[4 + 2 * i]);
        if (hi < 0 || lo < 0) return error(b, -32602, "invalid hex in the address");
        req[2 + i] = (uint8_t)(hi << 4 | lo);
    }
    uint8_t *mem;
    const uint8_t *p;
    size_t n;
    const char *err;
    rlp_t list, balance;
    if (!query(req, sizeof req, &mem, &p, &n, &err)) return error(b, -32000, err);
    const uint8_t *q;
    size_t m;
    if (rlp_next(&p, &n, &list) && list.list && (q = list.p, m = list.len, rlp_next(&q, &m, &balance)) &&
        !balance.list && balance.len <= 32) {
        buf_puts(b, "\"result\":");
        put_quantity(b, balance.p, balance.len);
    } else {
        error(b, -32603, "malformed ACCOUNT answer");
    }
    free(mem);
}

/* Answers the request at [body, end) (one valid JSON value). */
static void answer(buf_t *b, const char *body, const char *end) {
    const char *id_end, *method_end, *params_end;
    const char *id = member(body, end, "id", &id_end);
    const char *method = member(body, end, "method", &method_end);
    const char *params = member(body, end, "params", &params_end);
    buf_puts(b, "{\"jsonrpc\":\"2.0\",\"id\":");
    if (id) buf_put(b, id, (size_t)(id_end - id));
    else buf_puts(b, "null");
    buf_puts(b, ",");
#define IS(name) (method && (size_t)(method_end - method) == strlen(name) + 2 && \
                  memcmp(method + 1, name, strlen(name)) == 0)
    if (*body != '{') {
        error(b, -32600, "invalid request: not an object");
    } else if (!method || *method != '"') {
        error(b, -32600, "invalid request: method must be a string");
    } else if (IS("web3_clientVersion")) {
        buf_puts(b, "\"result\":\"c-rpc/0.1.0\"");
    } else if (IS("eth_chainId")) {
        chain_info(b, 0);
    } else if (IS("eth_blockNumber")) {
        chain_info(b, 1);
    } else if (IS("eth_getBalance")) {
        if (params) get_balance(b, params, params_end);
        else error(b, -32602, "missing params");
    } else {
        error(b, -32601, "the method does not exist/is not available");
    }
#undef IS
    buf_puts(b, "}");
}

/* ABI §4: the rpc entry point — a JSON-RPC body (a request or a batch) in, the
 * answer out. */
MOLT_EXPORT("molt_rpc_handle") int64_t molt_rpc_handle(uint8_t *ptr, int32_t len) {
    const char *body = (const char *)ptr, *end = body + (len > 0 ? len : 0);
    buf_t b = {0};
    uint8_t status = 0;
    buf_put(&b, &status, 1);
    const char *start = skip_ws(body, end);
    const char *stop = value_end(start, end);
    if (!stop || skip_ws(stop, end) != end) {
        buf_puts(&b, "{\"jsonrpc\":\"2.0\",\"id\":null,");
        error(&b, -32700, "parse error");
        buf_puts(&b, "}");
    } else if (*start != '[') {
        answer(&b, start, stop);
    } else if (*skip_ws(start + 1, stop) == ']') {
        buf_puts(&b, "{\"jsonrpc\":\"2.0\",\"id\":null,");
        error(&b, -32600, "empty batch");
        buf_puts(&b, "}");
    } else {
        /* A batch: an answer per element, in order. */
        buf_puts(&b, "[");
        for (const char *s = skip_ws(start + 1, stop); *s != ']';) {
            const char *e = value_end(s, stop);
            if (s != skip_ws(start + 1, stop)) buf_puts(&b, ",");
            answer(&b, s, e);
            s = skip_ws(e, stop);
            if (*s == ',') s = skip_ws(s + 1, stop);
        }
        buf_puts(&b, "]");
    }
    free(ptr); /* ABI §3: the input region is the guest's to free */
    return b.failed ? molt_refuse("out of memory") : molt_region(&b);
}
