/*
 * Node-API binding of sm2.c / sm3.c: @piaoju/gm-crypto's fast SM2 path (see src/native.ts).
 * Synchronous calls: the signing device already runs them on worker threads, and each call is
 * tens of microseconds, less than an async hop would cost. Loaded once per thread (worker threads
 * included): it keeps no per-thread state except the random pool in sm2.c, which is thread-local.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include "sm2_core.h"

#define CHECK(call)                                                  \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      napi_throw_error(env, NULL, "gm-crypto native: " #call " failed"); \
      return NULL;                                                   \
    }                                                                \
  } while (0)

static uint8_t EMPTY[1];

/* Bytes of a Uint8Array/Buffer/ArrayBuffer; null and undefined give ptr NULL. 0 on a wrong type. */
static int bytes_of(napi_env env, napi_value v, uint8_t **ptr, size_t *len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_null || t == napi_undefined) {
    *ptr = NULL;
    *len = 0;
    return 1;
  }
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    void *data;
    napi_value ab;
    size_t offset;
    if (napi_get_typedarray_info(env, v, &type, len, &data, &ab, &offset) != napi_ok) return 0;
    if (type != napi_uint8_array) return 0;
    *ptr = data ? data : EMPTY; /* an empty array may have no backing store */
    return 1;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    void *data;
    if (napi_get_arraybuffer_info(env, v, &data, len) != napi_ok) return 0;
    *ptr = data ? data : EMPTY;
    return 1;
  }
  return 0;
}

/* Argument i as bytes of exactly `want` length (0: any length; `optional`: null allowed). */
static int arg_bytes(napi_env env, napi_value *argv, size_t argc, size_t i, size_t want, int optional,
                     uint8_t **ptr, size_t *len, const char *what) {
  if (i >= argc || !bytes_of(env, argv[i], ptr, len)) {
    napi_throw_type_error(env, NULL, what);
    return 0;
  }
  if (*ptr == NULL && !optional) {
    napi_throw_type_error(env, NULL, what);
    return 0;
  }
  if (*ptr != NULL && want && *len != want) {
    napi_throw_range_error(env, NULL, what);
    return 0;
  }
  return 1;
}

static napi_value buffer_copy(napi_env env, const void *data, size_t len) {
  napi_value out;
  void *copy;
  if (napi_create_buffer_copy(env, len, data, &copy, &out) != napi_ok) return NULL;
  return out;
}

static napi_value boolean(napi_env env, int v) {
  napi_value out;
  napi_get_boolean(env, v != 0, &out);
  return out;
}

static napi_value integer(napi_env env, int v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

#define ARGS(n)                \
  size_t argc = n;             \
  napi_value argv[n];          \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL))

/* keyContext(d: 32 bytes) → ArrayBuffer holding the prepared key; throws RangeError outside [1, n−2]. */
static napi_value key_context(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint8_t *d;
  size_t dlen;
  if (!arg_bytes(env, argv, argc, 0, 32, 0, &d, &dlen, "private key must be 32 bytes")) return NULL;
  napi_value ab;
  void *data;
  CHECK(napi_create_arraybuffer(env, sizeof(sm2_key), &data, &ab));
  if (sm2_key_init((sm2_key *)data, d) != 0) {
    memset(data, 0, sizeof(sm2_key));
    napi_throw_range_error(env, NULL, "private key out of range [1, n-2]");
    return NULL;
  }
  return ab;
}

static sm2_key *key_arg(napi_env env, napi_value *argv, size_t argc, size_t i) {
  uint8_t *p;
  size_t len;
  if (!arg_bytes(env, argv, argc, i, sizeof(sm2_key), 0, &p, &len, "not a key context")) return NULL;
  return (sm2_key *)p;
}

/* publicOf(ctx) → x‖y (64 bytes) */
static napi_value public_of(napi_env env, napi_callback_info info) {
  ARGS(1);
  sm2_key *key = key_arg(env, argv, argc, 0);
  if (!key) return NULL;
  return buffer_copy(env, key->pub, 64);
}

/* e = SM3(za ‖ msg), or msg itself (32 bytes) when za is null. */
static int digest_of(napi_env env, napi_value *argv, size_t argc, size_t za_i, uint8_t e[32]) {
  uint8_t *za, *msg;
  size_t zalen, msglen;
  if (!arg_bytes(env, argv, argc, za_i, 32, 1, &za, &zalen, "Z_A must be 32 bytes")) return 0;
  if (!arg_bytes(env, argv, argc, za_i + 1, 0, 0, &msg, &msglen, "message must be bytes")) return 0;
  if (za == NULL) {
    if (msglen != 32) {
      napi_throw_range_error(env, NULL, "digest must be 32 bytes");
      return 0;
    }
    memcpy(e, msg, 32);
    return 1;
  }
  sm3_ctx c;
  sm3_init(&c);
  sm3_update(&c, za, 32);
  sm3_update(&c, msg, msglen);
  sm3_final(&c, e);
  return 1;
}

/* sign(ctx, za | null, msg, k? (tests only)) → r‖s (64 bytes) */
static napi_value sign(napi_env env, napi_callback_info info) {
  ARGS(4);
  sm2_key *key = key_arg(env, argv, argc, 0);
  if (!key) return NULL;
  uint8_t e[32], rs[64], *k = NULL;
  size_t klen;
  if (!digest_of(env, argv, argc, 1, e)) return NULL;
  if (argc > 3 && !arg_bytes(env, argv, argc, 3, 32, 1, &k, &klen, "k must be 32 bytes")) return NULL;
  if (sm2_sign_digest(key, e, k, rs) != 0) {
    napi_throw_error(env, NULL, k ? "this k cannot sign (r = 0, r + k = n or s = 0)" : "random source failed");
    return NULL;
  }
  return buffer_copy(env, rs, 64);
}

/* verify(pub64, table | null, za | null, msg, rs64) → boolean */
static napi_value verify(napi_env env, napi_callback_info info) {
  ARGS(5);
  uint8_t *pub, *table, *rs, e[32];
  size_t len;
  if (!arg_bytes(env, argv, argc, 0, 64, 0, &pub, &len, "public key must be 64 bytes (x‖y)")) return NULL;
  if (!arg_bytes(env, argv, argc, 1, SM2_TABLE_BYTES, 1, &table, &len, "not a key table")) return NULL;
  if (!digest_of(env, argv, argc, 2, e)) return NULL;
  if (!arg_bytes(env, argv, argc, 4, 64, 0, &rs, &len, "signature must be 64 bytes (r‖s)")) return NULL;
  return boolean(env, sm2_verify_digest(pub, table, e, rs));
}

/* buildTable(pub64) → ArrayBuffer, or null when the point is not on the curve */
static napi_value build_table(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint8_t *pub;
  size_t len;
  if (!arg_bytes(env, argv, argc, 0, 64, 0, &pub, &len, "public key must be 64 bytes (x‖y)")) return NULL;
  napi_value ab;
  void *data;
  CHECK(napi_create_arraybuffer(env, SM2_TABLE_BYTES, &data, &ab));
  if (sm2_table_build(data, pub) != 0) {
    napi_value nul;
    napi_get_null(env, &nul);
    return nul;
  }
  return ab;
}

/* encrypt(pub64, table | null, msg, k? (tests only)) → C1 (64) ‖ C3 (32) ‖ C2 */
static napi_value encrypt(napi_env env, napi_callback_info info) {
  ARGS(4);
  uint8_t *pub, *table, *msg, *k = NULL;
  size_t len, msglen, klen;
  if (!arg_bytes(env, argv, argc, 0, 64, 0, &pub, &len, "public key must be 64 bytes (x‖y)")) return NULL;
  if (!arg_bytes(env, argv, argc, 1, SM2_TABLE_BYTES, 1, &table, &len, "not a key table")) return NULL;
  if (!arg_bytes(env, argv, argc, 2, 0, 0, &msg, &msglen, "message must be bytes")) return NULL;
  if (argc > 3 && !arg_bytes(env, argv, argc, 3, 32, 1, &k, &klen, "k must be 32 bytes")) return NULL;
  if (msglen == 0) {
    napi_throw_range_error(env, NULL, "SM2 cannot encrypt an empty message");
    return NULL;
  }
  napi_value out;
  void *data;
  CHECK(napi_create_buffer(env, 96 + msglen, &data, &out));
  int rc = sm2_encrypt(pub, table, msg, msglen, k, data);
  if (rc == -2) {
    napi_throw_range_error(env, NULL, "public key is not on the SM2 curve");
    return NULL;
  }
  if (rc != 0) {
    napi_throw_error(env, NULL, k ? "this k gives an all-zero KDF output" : "random source failed");
    return NULL;
  }
  return out;
}

/* decrypt(ctx, c1_64, c3_32, c2) → Buffer, or 1 (C1 off the curve), 2 (KDF all zero), 3 (C3 mismatch) */
static napi_value decrypt(napi_env env, napi_callback_info info) {
  ARGS(4);
  sm2_key *key = key_arg(env, argv, argc, 0);
  if (!key) return NULL;
  uint8_t *c1, *c3, *c2;
  size_t len, c2len;
  if (!arg_bytes(env, argv, argc, 1, 64, 0, &c1, &len, "C1 must be 64 bytes (x‖y)")) return NULL;
  if (!arg_bytes(env, argv, argc, 2, 32, 0, &c3, &len, "C3 must be 32 bytes")) return NULL;
  if (!arg_bytes(env, argv, argc, 3, 0, 0, &c2, &c2len, "C2 must be bytes")) return NULL;
  if (c2len == 0) {
    napi_throw_range_error(env, NULL, "empty C2");
    return NULL;
  }
  uint8_t *plain = malloc(c2len);
  if (!plain) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  int rc = sm2_decrypt(key, c1, c3, c2, c2len, plain);
  napi_value out = rc == 0 ? buffer_copy(env, plain, c2len) : integer(env, rc);
  memset(plain, 0, c2len);
  free(plain);
  return out;
}

static napi_value on_curve(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint8_t *pt;
  size_t len;
  if (!arg_bytes(env, argv, argc, 0, 64, 0, &pt, &len, "point must be 64 bytes (x‖y)")) return NULL;
  return boolean(env, sm2_on_curve(pt));
}

/* mul(k, pt | null) → k·pt (or k·G) as x‖y, or null (pt off the curve, k ≡ 0 mod n) */
static napi_value mul(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint8_t *k, *pt, out[64];
  size_t len;
  if (!arg_bytes(env, argv, argc, 0, 32, 0, &k, &len, "k must be 32 bytes")) return NULL;
  if (!arg_bytes(env, argv, argc, 1, 64, 1, &pt, &len, "point must be 64 bytes (x‖y)")) return NULL;
  int rc = pt ? sm2_mul(k, pt, out) : sm2_mul_base(k, out);
  if (rc != 0) {
    napi_value nul;
    napi_get_null(env, &nul);
    return nul;
  }
  return buffer_copy(env, out, 64);
}

static napi_value hash_sm3(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint8_t *data, out[32];
  size_t len;
  if (!arg_bytes(env, argv, argc, 0, 0, 0, &data, &len, "data must be bytes")) return NULL;
  sm3(data, len, out);
  return buffer_copy(env, out, 32);
}

static napi_value kdf(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint8_t *z;
  size_t zlen;
  if (!arg_bytes(env, argv, argc, 0, 0, 0, &z, &zlen, "z must be bytes")) return NULL;
  uint32_t klen;
  if (argc < 2 || napi_get_value_uint32(env, argv[1], &klen) != napi_ok) {
    napi_throw_type_error(env, NULL, "length must be a non-negative integer");
    return NULL;
  }
  napi_value out;
  void *data;
  CHECK(napi_create_buffer(env, klen, &data, &out));
  sm2_kdf(z, zlen, data, klen);
  return out;
}

NAPI_MODULE_INIT() {
  sm2_init();
  napi_property_descriptor props[] = {
      {"keyContext", NULL, key_context, NULL, NULL, NULL, napi_enumerable, NULL},
      {"publicOf", NULL, public_of, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sign", NULL, sign, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verify", NULL, verify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"buildTable", NULL, build_table, NULL, NULL, NULL, napi_enumerable, NULL},
      {"encrypt", NULL, encrypt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"decrypt", NULL, decrypt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"onCurve", NULL, on_curve, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mul", NULL, mul, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sm3", NULL, hash_sm3, NULL, NULL, NULL, napi_enumerable, NULL},
      {"kdf", NULL, kdf, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  napi_value table_bytes;
  napi_create_uint32(env, SM2_TABLE_BYTES, &table_bytes);
  napi_set_named_property(env, exports, "TABLE_BYTES", table_bytes);
  return exports;
}
