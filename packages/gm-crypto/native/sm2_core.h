/*
 * Piaoju's own SM2 (GM/T 0003 / GB/T 32918) and SM3 (GM/T 0004 / GB/T 32905) in portable C:
 * no Node-API here, so the constant-time harness (ct_harness.c) links the same code.
 *
 * Byte strings are big-endian, points are x‖y (64 bytes, no 04 prefix). Every function that
 * touches a private key or a nonce is constant-time: no branch and no memory index depends on
 * a secret (see the README's "Constant time" section for how that is checked).
 */
#ifndef PIAOJU_SM2_CORE_H
#define PIAOJU_SM2_CORE_H

#include <stddef.h>
#include <stdint.h>

/* ---- SM3 ---- */
typedef struct {
  uint32_t v[8];
  uint8_t block[64];
  uint64_t total; /* bytes hashed so far */
  size_t used;    /* bytes in block */
} sm3_ctx;

void sm3_init(sm3_ctx *c);
void sm3_update(sm3_ctx *c, const uint8_t *data, size_t len);
void sm3_final(sm3_ctx *c, uint8_t out[32]);
void sm3(const uint8_t *data, size_t len, uint8_t out[32]);

/* ---- SM2 ---- */

/* One-time set-up (curve constants in Montgomery form, the base point's table). Thread-safe. */
void sm2_init(void);

/* A private key ready to use: d, (1+d)^-1 mod n and the public point, precomputed once. */
typedef struct {
  uint64_t d[4];     /* d, plain */
  uint64_t d_m[4];   /* d·R mod n (Montgomery form) */
  uint64_t inv_m[4]; /* (1+d)^-1 · R mod n */
  uint8_t pub[64];   /* x‖y of d·G */
} sm2_key;

/* 0 on success; -1 when d is not in [1, n-2]. Constant-time in d (the range check's answer aside). */
int sm2_key_init(sm2_key *key, const uint8_t d[32]);

/* Per-public-key precomputation for verification and encryption: 64 windows × 15 affine points. */
#define SM2_TABLE_BYTES (64 * 15 * 64)
/* 0 on success, -1 when the point is not on the curve. */
int sm2_table_build(uint8_t table[SM2_TABLE_BYTES], const uint8_t pub[64]);

int sm2_on_curve(const uint8_t pt[64]);

/*
 * Signs e (= SM3(Z_A ‖ M), 32 bytes) → r‖s. k is drawn here (getrandom, rejection sampling)
 * unless `fixed_k` is given (tests reproducing published vectors only). Returns 0, or -1 when
 * the random source fails, or (with fixed_k) when that k must be drawn again.
 */
int sm2_sign_digest(const sm2_key *key, const uint8_t e[32], const uint8_t *fixed_k, uint8_t rs[64]);

/* 1 valid, 0 not. `table` may be NULL (then the point is used directly, slower). Public data only. */
int sm2_verify_digest(const uint8_t pub[64], const uint8_t *table, const uint8_t e[32], const uint8_t rs[64]);

/*
 * SM2 encryption (GM/T 0003.4): out = C1 (x1‖y1, 64) ‖ C3 (32) ‖ C2 (len). `table` may be NULL.
 * Returns 0, or -1 when the random source fails (or a fixed_k gives an all-zero KDF output).
 */
int sm2_encrypt(const uint8_t pub[64], const uint8_t *table, const uint8_t *msg, size_t len,
                const uint8_t *fixed_k, uint8_t *out);

/*
 * Decryption: writes len bytes of plaintext. Returns 0; 1 when C1 is not on the curve; 2 when the
 * KDF output is all zero; 3 when C3 does not match (the output is then wiped).
 */
int sm2_decrypt(const sm2_key *key, const uint8_t c1[64], const uint8_t c3[32], const uint8_t *c2,
                size_t len, uint8_t *out);

/* k·G and k·P (constant-time in k), for tests and key derivation. 0, or -1 (P off the curve, or k·P infinite). */
int sm2_mul_base(const uint8_t k[32], uint8_t out[64]);
int sm2_mul(const uint8_t k[32], const uint8_t pt[64], uint8_t out[64]);

/* The GM/T 0003.4 KDF over z. */
void sm2_kdf(const uint8_t *z, size_t zlen, uint8_t *out, size_t klen);

#endif
