/*
 * SM2 over the GM/T 0003.5 curve y² = x³ − 3x + b mod p, written for Piaoju from the standard
 * and textbook formulas (Montgomery multiplication, Jacobian coordinates, the add-2007-bl /
 * madd-2007-bl / dbl-2001-b formulas of the Explicit-Formulas Database, Montgomery's batch
 * inversion).
 *
 * Field and scalar arithmetic: 4 × 64-bit limbs, little-endian, Montgomery form (R = 2^256),
 * products with unsigned __int128. p ≡ −1 mod 2^64, so the Montgomery constant −p⁻¹ mod 2^64 is 1.
 * Every result is fully reduced, so equality is limb equality.
 *
 * Constant time: functions named *_ct and everything reached from signing, decryption,
 * encryption and key set-up run the same instructions and touch the same addresses whatever
 * the secret (scalars, nonces, private keys): selections by mask, table lookups that read
 * every entry, inversions by Fermat with the public exponent m−2. Functions named *_vt are for
 * public data only (verification).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#define ADC(c, a, b, out) _addcarry_u64((c), (a), (b), (unsigned long long *)(out))
#define SBB(c, a, b, out) _subborrow_u64((c), (a), (b), (unsigned long long *)(out))
#else
static inline unsigned char adc_portable(unsigned char c, uint64_t a, uint64_t b, uint64_t *out) {
  unsigned __int128 t = (unsigned __int128)a + b + c;
  *out = (uint64_t)t;
  return (unsigned char)(t >> 64);
}
static inline unsigned char sbb_portable(unsigned char c, uint64_t a, uint64_t b, uint64_t *out) {
  unsigned __int128 t = (unsigned __int128)a - b - c;
  *out = (uint64_t)t;
  return (unsigned char)((t >> 64) & 1);
}
#define ADC(c, a, b, out) adc_portable((c), (a), (b), (out))
#define SBB(c, a, b, out) sbb_portable((c), (a), (b), (out))
#endif

#include "ct.h"
#include "sm2_core.h"

typedef unsigned __int128 u128;
typedef uint64_t u64;

typedef struct {
  u64 m[4];
  u64 m0inv; /* −m⁻¹ mod 2^64 */
  u64 rr[4]; /* R² mod m */
  u64 one[4]; /* R mod m (1 in Montgomery form) */
  u64 m_minus_2[4];
} modulus;

static modulus FP, FN;
static u64 B_M[4];      /* b in Montgomery form (mod p) */
static u64 N_PLAIN[4];  /* n, plain */
static u64 P_PLAIN[4];  /* p, plain */

typedef struct {
  u64 x[4], y[4], z[4];
} jac; /* Jacobian, Montgomery form; z = 0 is the point at infinity */

typedef struct {
  u64 x[4], y[4];
} aff; /* affine, Montgomery form */

static aff G_TABLE[64][15]; /* G_TABLE[i][j] = (j+1)·16^i·G */

/* ------------------------------------------------------------------------------------------ */
/* constant-time helpers */

static inline u64 mask_if(u64 bit) { return (u64)0 - (bit & 1); }
static inline u64 is_zero_u64(u64 x) { return ((~x & (x - 1)) >> 63) & 1; } /* 1 when x == 0 */
static inline u64 eq_u64(u64 a, u64 b) { return is_zero_u64(a ^ b); }

static inline void sel4(u64 r[4], u64 mask, const u64 a[4], const u64 b[4]) {
  /* r = mask ? a : b */
  for (int i = 0; i < 4; i++) r[i] = (a[i] & mask) | (b[i] & ~mask);
}

static inline u64 is_zero4(const u64 a[4]) { return is_zero_u64(a[0] | a[1] | a[2] | a[3]); }
static inline u64 eq4(const u64 a[4], const u64 b[4]) {
  return is_zero_u64((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]));
}

/* ------------------------------------------------------------------------------------------ */
/* 256-bit modular arithmetic */

static void from_bytes(u64 r[4], const uint8_t b[32]) {
  for (int i = 0; i < 4; i++) {
    u64 w = 0;
    for (int j = 0; j < 8; j++) w = (w << 8) | b[(3 - i) * 8 + j];
    r[i] = w;
  }
}

static void to_bytes(uint8_t b[32], const u64 r[4]) {
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 8; j++) b[(3 - i) * 8 + j] = (uint8_t)(r[i] >> (56 - 8 * j));
}

/* 1 when a < m (borrow of a − m). */
static inline u64 lt4(const u64 a[4], const u64 m[4]) {
  u128 t = 0;
  u64 borrow = 0;
  for (int i = 0; i < 4; i++) {
    t = (u128)a[i] - m[i] - borrow;
    borrow = (u64)(t >> 64) & 1;
  }
  return borrow;
}

/* r = (t4:t) − m if that does not borrow, else t; for t < 2m. */
static inline void reduce_once(u64 r[4], const u64 t[4], u64 t4, const u64 m[4]) {
  u64 d[4];
  u64 borrow = 0;
  for (int i = 0; i < 4; i++) {
    u128 x = (u128)t[i] - m[i] - borrow;
    d[i] = (u64)x;
    borrow = (u64)(x >> 64) & 1;
  }
  /* t4:t − m borrows overall only if t4 = 0 and t < m */
  u64 keep_t = mask_if(borrow & ~t4);
  sel4(r, keep_t, t, d);
}

static void mod_add(u64 r[4], const u64 a[4], const u64 b[4], const modulus *M) {
  u64 t[4];
  u128 c = 0;
  for (int i = 0; i < 4; i++) {
    c = (u128)a[i] + b[i] + (u64)(c >> 64);
    t[i] = (u64)c;
  }
  reduce_once(r, t, (u64)(c >> 64), M->m);
}

static void mod_sub(u64 r[4], const u64 a[4], const u64 b[4], const modulus *M) {
  u64 t[4];
  u64 borrow = 0;
  for (int i = 0; i < 4; i++) {
    u128 x = (u128)a[i] - b[i] - borrow;
    t[i] = (u64)x;
    borrow = (u64)(x >> 64) & 1;
  }
  u64 mask = mask_if(borrow);
  u128 c = 0;
  for (int i = 0; i < 4; i++) {
    c = (u128)t[i] + (M->m[i] & mask) + (u64)(c >> 64);
    r[i] = (u64)c;
  }
}

/* r = a·b·R⁻¹ mod m (CIOS). a, b < m. */
static void mont_mul(u64 r[4], const u64 a[4], const u64 b[4], const modulus *M) {
  u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0;
  const u64 *m = M->m;
  for (int i = 0; i < 4; i++) {
    u64 bi = b[i];
    u128 acc = (u128)a[0] * bi + t0;
    t0 = (u64)acc;
    acc = (u128)a[1] * bi + t1 + (u64)(acc >> 64);
    t1 = (u64)acc;
    acc = (u128)a[2] * bi + t2 + (u64)(acc >> 64);
    t2 = (u64)acc;
    acc = (u128)a[3] * bi + t3 + (u64)(acc >> 64);
    t3 = (u64)acc;
    acc = (u128)t4 + (u64)(acc >> 64);
    t4 = (u64)acc;
    u64 t5 = (u64)(acc >> 64);
    u64 q = t0 * M->m0inv;
    acc = (u128)q * m[0] + t0;
    acc = (u128)q * m[1] + t1 + (u64)(acc >> 64);
    t0 = (u64)acc;
    acc = (u128)q * m[2] + t2 + (u64)(acc >> 64);
    t1 = (u64)acc;
    acc = (u128)q * m[3] + t3 + (u64)(acc >> 64);
    t2 = (u64)acc;
    acc = (u128)t4 + (u64)(acc >> 64);
    t3 = (u64)acc;
    t4 = t5 + (u64)(acc >> 64);
  }
  u64 t[4] = {t0, t1, t2, t3};
  reduce_once(r, t, t4, m);
}

static inline void mont_sqr(u64 r[4], const u64 a[4], const modulus *M) { mont_mul(r, a, a, M); }

static inline void to_mont(u64 r[4], const u64 a[4], const modulus *M) { mont_mul(r, a, M->rr, M); }

static inline void from_mont(u64 r[4], const u64 a[4], const modulus *M) {
  static const u64 one[4] = {1, 0, 0, 0};
  mont_mul(r, a, one, M);
}

/* r = a^e (Montgomery form in and out), 4-bit fixed window; e is public, so the sequence of
   operations is fixed whatever a is. */
static void mont_pow(u64 r[4], const u64 a[4], const u64 e[4], const modulus *M) {
  u64 tab[16][4];
  memcpy(tab[0], M->one, 32);
  memcpy(tab[1], a, 32);
  for (int i = 2; i < 16; i++) mont_mul(tab[i], tab[i - 1], a, M);
  u64 acc[4];
  memcpy(acc, M->one, 32);
  for (int i = 63; i >= 0; i--) {
    for (int s = 0; s < 4; s++) mont_sqr(acc, acc, M);
    unsigned nib = (unsigned)((e[i / 16] >> (4 * (i % 16))) & 15); /* public exponent */
    mont_mul(acc, acc, tab[nib], M);
  }
  memcpy(r, acc, 32);
}

/* a⁻¹ (Montgomery form in and out) by Fermat: constant-time. a = 0 gives 0. */
static inline void mont_inv(u64 r[4], const u64 a[4], const modulus *M) { mont_pow(r, a, M->m_minus_2, M); }

/* ------------------------------------------------------------------------------------------ */
/* set-up */

static void hex_to_limbs(u64 r[4], const char *hex) {
  uint8_t b[32];
  for (int i = 0; i < 32; i++) {
    unsigned v = 0;
    for (int k = 0; k < 2; k++) {
      char c = hex[2 * i + k];
      v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    b[i] = (uint8_t)v;
  }
  from_bytes(r, b);
}

static void modulus_init(modulus *M, const char *hex) {
  hex_to_limbs(M->m, hex);
  /* −m⁻¹ mod 2^64 by Newton's iteration (m odd) */
  u64 x = M->m[0];
  for (int i = 0; i < 6; i++) x *= 2 - M->m[0] * x;
  M->m0inv = (u64)0 - x;
  /* R mod m and R² mod m by doubling 1 (set-up only) */
  u64 v[4] = {1, 0, 0, 0};
  for (int i = 0; i < 512; i++) {
    mod_add(v, v, v, M);
    if (i == 255) memcpy(M->one, v, 32);
  }
  memcpy(M->rr, v, 32);
  u64 two[4] = {2, 0, 0, 0};
  u64 borrow = 0;
  for (int i = 0; i < 4; i++) {
    u128 d = (u128)M->m[i] - two[i] - borrow;
    M->m_minus_2[i] = (u64)d;
    borrow = (u64)(d >> 64) & 1;
  }
}

static void jac_dbl(jac *r, const jac *p);
static void jac_add_vt(jac *r, const jac *p, const jac *q);
static void batch_to_affine(aff *out, const jac *in, size_t count);

static void table_from_jac(aff table[64][15], const jac *p) {
  jac *pts = malloc(sizeof(jac) * 64 * 15);
  jac base = *p;
  for (int i = 0; i < 64; i++) {
    pts[i * 15] = base;
    for (int j = 1; j < 15; j++) jac_add_vt(&pts[i * 15 + j], &pts[i * 15 + j - 1], &base);
    for (int s = 0; s < 4; s++) jac_dbl(&base, &base);
  }
  batch_to_affine(&table[0][0], pts, 64 * 15);
  free(pts);
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_curve(void) {
  modulus_init(&FP, "fffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff");
  modulus_init(&FN, "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123");
  memcpy(P_PLAIN, FP.m, 32);
  memcpy(N_PLAIN, FN.m, 32);
  u64 b[4], gx[4], gy[4];
  hex_to_limbs(b, "28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93");
  hex_to_limbs(gx, "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7");
  hex_to_limbs(gy, "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0");
  to_mont(B_M, b, &FP);
  jac g;
  to_mont(g.x, gx, &FP);
  to_mont(g.y, gy, &FP);
  memcpy(g.z, FP.one, 32);
  table_from_jac(G_TABLE, &g);
}

void sm2_init(void) { pthread_once(&init_once, init_curve); }

/* ------------------------------------------------------------------------------------------ */
/* the SM2 field: Montgomery multiplication specialised to p */

static const u64 PL[4] = {0xffffffffffffffffULL, 0xffffffff00000000ULL, 0xffffffffffffffffULL,
                          0xfffffffeffffffffULL};

/* r = top:t − p when that does not borrow, else top:t (for values below 2p). */
static inline void fp_final(u64 r[4], const u64 t[4], u64 top) {
  u64 d[4], dummy;
  unsigned char b = SBB(0, t[0], PL[0], &d[0]);
  b = SBB(b, t[1], PL[1], &d[1]);
  b = SBB(b, t[2], PL[2], &d[2]);
  b = SBB(b, t[3], PL[3], &d[3]);
  b = SBB(b, top, 0, &dummy);
  sel4(r, mask_if(b), t, d);
}

/*
 * a·b·2^−256 mod p. Product by operand scanning, then four Montgomery steps; as −p⁻¹ ≡ 1 mod 2^64,
 * each step's multiplier is the low limb q itself, and adding q·p is adding q·(p + 1) =
 * q·(2^256 + 2^64) − q·(2^224 + 2^96) above that limb (whose own q cancels): shifts and adds.
 */
static inline void fmul(u64 r[4], const u64 a[4], const u64 b[4]) {
  u64 t[8];
  u128 acc;
  u64 carry;
  for (int i = 0; i < 4; i++) {
    carry = 0;
    for (int j = 0; j < 4; j++) {
      acc = (u128)a[i] * b[j] + (i == 0 ? 0 : t[i + j]) + carry;
      t[i + j] = (u64)acc;
      carry = (u64)(acc >> 64);
    }
    t[i + 4] = carry;
  }
  u64 top = 0;
  for (int i = 0; i < 4; i++) {
    u64 q = t[i], lo = q << 32, hi = q >> 32;
    unsigned char c = ADC(0, t[i + 1], q, &t[i + 1]);
    c = ADC(c, t[i + 2], 0, &t[i + 2]);
    c = ADC(c, t[i + 3], 0, &t[i + 3]);
    c = ADC(c, t[i + 4], q, &t[i + 4]);
    for (int j = i + 5; j < 8; j++) c = ADC(c, t[j], 0, &t[j]);
    top += c;
    unsigned char bw = SBB(0, t[i + 1], lo, &t[i + 1]);
    bw = SBB(bw, t[i + 2], hi, &t[i + 2]);
    bw = SBB(bw, t[i + 3], lo, &t[i + 3]);
    bw = SBB(bw, t[i + 4], hi, &t[i + 4]);
    for (int j = i + 5; j < 8; j++) bw = SBB(bw, t[j], 0, &t[j]);
    top -= bw;
  }
  fp_final(r, t + 4, top);
}

static inline void fsqr(u64 r[4], const u64 a[4]) { fmul(r, a, a); }

static inline void fadd(u64 r[4], const u64 a[4], const u64 b[4]) {
  u64 t[4];
  unsigned char c = ADC(0, a[0], b[0], &t[0]);
  c = ADC(c, a[1], b[1], &t[1]);
  c = ADC(c, a[2], b[2], &t[2]);
  c = ADC(c, a[3], b[3], &t[3]);
  fp_final(r, t, c);
}

static inline void fsub(u64 r[4], const u64 a[4], const u64 b[4]) {
  u64 t[4];
  unsigned char bw = SBB(0, a[0], b[0], &t[0]);
  bw = SBB(bw, a[1], b[1], &t[1]);
  bw = SBB(bw, a[2], b[2], &t[2]);
  bw = SBB(bw, a[3], b[3], &t[3]);
  u64 m = mask_if(bw);
  unsigned char c = ADC(0, t[0], PL[0] & m, &r[0]);
  c = ADC(c, t[1], PL[1] & m, &r[1]);
  c = ADC(c, t[2], PL[2] & m, &r[2]);
  (void)ADC(c, t[3], PL[3] & m, &r[3]);
}

static void fp_inv(u64 r[4], const u64 a[4]) {
  /* a^(p−2), 4-bit fixed window over the public exponent: the same operations for every a */
  u64 tab[16][4], acc[4];
  memcpy(tab[0], FP.one, 32);
  memcpy(tab[1], a, 32);
  for (int i = 2; i < 16; i++) fmul(tab[i], tab[i - 1], a);
  memcpy(acc, FP.one, 32);
  for (int i = 63; i >= 0; i--) {
    for (int s = 0; s < 4; s++) fsqr(acc, acc);
    fmul(acc, acc, tab[(FP.m_minus_2[i / 16] >> (4 * (i % 16))) & 15]);
  }
  memcpy(r, acc, 32);
}

static inline void fp_to_mont(u64 r[4], const u64 a[4]) { fmul(r, a, FP.rr); }
static inline void fp_from_mont(u64 r[4], const u64 a[4]) {
  static const u64 one[4] = {1, 0, 0, 0};
  fmul(r, a, one);
}

/* ------------------------------------------------------------------------------------------ */
/* points */

/* dbl-2001-b (a = −3). Infinity (z = 0) stays infinity. */
static void jac_dbl(jac *r, const jac *p) {
  u64 delta[4], gamma[4], beta[4], alpha[4], t1[4], t2[4], x3[4], y3[4], z3[4];
  fsqr(delta, p->z);
  fsqr(gamma, p->y);
  fmul(beta, p->x, gamma);
  fsub(t1, p->x, delta);
  fadd(t2, p->x, delta);
  fmul(alpha, t1, t2);
  fadd(t1, alpha, alpha);
  fadd(alpha, t1, alpha); /* 3·(x−δ)(x+δ) */
  fsqr(x3, alpha);
  fadd(t1, beta, beta);
  fadd(t1, t1, t1); /* 4β */
  fadd(t2, t1, t1); /* 8β */
  fsub(x3, x3, t2);
  fadd(z3, p->y, p->z);
  fsqr(z3, z3);
  fsub(z3, z3, gamma);
  fsub(z3, z3, delta);
  fsub(t1, t1, x3);
  fmul(y3, alpha, t1);
  fsqr(t2, gamma);
  fadd(t2, t2, t2);
  fadd(t2, t2, t2);
  fadd(t2, t2, t2); /* 8γ² */
  fsub(y3, y3, t2);
  memcpy(r->x, x3, 32);
  memcpy(r->y, y3, 32);
  memcpy(r->z, z3, 32);
}

/*
 * madd-2007-bl: p (Jacobian) + q (affine). No branches: the caller rules out, or selects
 * around, the cases the formula does not cover (p infinite, p = ±q).
 * Writes h (= U2 − X1) and rr (= 2(S2 − Y1)) for the callers that must detect p = ±q.
 */
static void jac_madd_raw(jac *r, const jac *p, const aff *q, u64 h_out[4], u64 r_out[4]) {
  u64 z1z1[4], u2[4], s2[4], h[4], hh[4], i[4], j[4], rr[4], v[4], t[4], x3[4], y3[4], z3[4];
  fsqr(z1z1, p->z);
  fmul(u2, q->x, z1z1);
  fmul(s2, q->y, p->z);
  fmul(s2, s2, z1z1);
  fsub(h, u2, p->x);
  fsqr(hh, h);
  fadd(i, hh, hh);
  fadd(i, i, i);
  fmul(j, h, i);
  fsub(rr, s2, p->y);
  fadd(rr, rr, rr);
  fmul(v, p->x, i);
  fsqr(x3, rr);
  fsub(x3, x3, j);
  fsub(x3, x3, v);
  fsub(x3, x3, v);
  fsub(t, v, x3);
  fmul(y3, rr, t);
  fmul(t, p->y, j);
  fadd(t, t, t);
  fsub(y3, y3, t);
  fadd(z3, p->z, h);
  fsqr(z3, z3);
  fsub(z3, z3, z1z1);
  fsub(z3, z3, hh);
  if (h_out) memcpy(h_out, h, 32);
  if (r_out) memcpy(r_out, rr, 32);
  memcpy(r->x, x3, 32);
  memcpy(r->y, y3, 32);
  memcpy(r->z, z3, 32);
}

/* add-2007-bl: p + q, both Jacobian, no special cases handled (see jac_madd_raw). */
static void jac_add_raw(jac *r, const jac *p, const jac *q, u64 h_out[4], u64 r_out[4]) {
  u64 z1z1[4], z2z2[4], u1[4], u2[4], s1[4], s2[4], h[4], i[4], j[4], rr[4], v[4], t[4];
  u64 x3[4], y3[4], z3[4];
  fsqr(z1z1, p->z);
  fsqr(z2z2, q->z);
  fmul(u1, p->x, z2z2);
  fmul(u2, q->x, z1z1);
  fmul(s1, p->y, q->z);
  fmul(s1, s1, z2z2);
  fmul(s2, q->y, p->z);
  fmul(s2, s2, z1z1);
  fsub(h, u2, u1);
  fadd(i, h, h);
  fsqr(i, i);
  fmul(j, h, i);
  fsub(rr, s2, s1);
  fadd(rr, rr, rr);
  fmul(v, u1, i);
  fsqr(x3, rr);
  fsub(x3, x3, j);
  fsub(x3, x3, v);
  fsub(x3, x3, v);
  fsub(t, v, x3);
  fmul(y3, rr, t);
  fmul(t, s1, j);
  fadd(t, t, t);
  fsub(y3, y3, t);
  fadd(z3, p->z, q->z);
  fsqr(z3, z3);
  fsub(z3, z3, z1z1);
  fsub(z3, z3, z2z2);
  fmul(z3, z3, h);
  if (h_out) memcpy(h_out, h, 32);
  if (r_out) memcpy(r_out, rr, 32);
  memcpy(r->x, x3, 32);
  memcpy(r->y, y3, 32);
  memcpy(r->z, z3, 32);
}

static const jac INFINITY_JAC = {{0}, {0}, {0}};

/* p + q from the formula's result, or the cases it does not cover: p = q (double), p = −q. */
static void settle_vt(jac *r, const jac *p, const jac *sum, const u64 h[4], const u64 rr[4]) {
  if (!is_zero4(h))
    *r = *sum;
  else if (is_zero4(rr))
    jac_dbl(r, p);
  else
    *r = INFINITY_JAC;
}

/* Public data: every case handled by branching. */
static void jac_add_vt(jac *r, const jac *p, const jac *q) {
  if (is_zero4(p->z)) {
    *r = *q;
    return;
  }
  if (is_zero4(q->z)) {
    *r = *p;
    return;
  }
  u64 h[4], rr[4];
  jac out;
  jac_add_raw(&out, p, q, h, rr);
  settle_vt(r, p, &out, h, rr);
}

static void jac_madd_vt(jac *r, const jac *p, const aff *q) {
  if (is_zero4(p->z)) {
    memcpy(r->x, q->x, 32);
    memcpy(r->y, q->y, 32);
    memcpy(r->z, FP.one, 32);
    return;
  }
  u64 h[4], rr[4];
  jac out;
  jac_madd_raw(&out, p, q, h, rr);
  settle_vt(r, p, &out, h, rr);
}

static void batch_to_affine(aff *out, const jac *in, size_t count) {
  u64(*acc)[4] = malloc(sizeof(u64[4]) * count);
  memcpy(acc[0], in[0].z, 32);
  for (size_t i = 1; i < count; i++) fmul(acc[i], acc[i - 1], in[i].z);
  u64 inv[4];
  fp_inv(inv, acc[count - 1]);
  for (size_t i = count; i-- > 0;) {
    u64 zinv[4], z2[4];
    if (i > 0) {
      fmul(zinv, inv, acc[i - 1]);
      fmul(inv, inv, in[i].z);
    } else {
      memcpy(zinv, inv, 32);
    }
    fsqr(z2, zinv);
    fmul(out[i].x, in[i].x, z2);
    fmul(z2, z2, zinv);
    fmul(out[i].y, in[i].y, z2);
  }
  free(acc);
}

/* Affine x, y (plain, bytes) of p; constant-time. p must not be infinity. */
static void jac_to_bytes(uint8_t out[64], const jac *p) {
  u64 zinv[4], z2[4], x[4], y[4];
  fp_inv(zinv, p->z);
  fsqr(z2, zinv);
  fmul(x, p->x, z2);
  fmul(z2, z2, zinv);
  fmul(y, p->y, z2);
  fp_from_mont(x, x);
  fp_from_mont(y, y);
  to_bytes(out, x);
  to_bytes(out + 32, y);
}

/* Reads x‖y into Montgomery form; 0 when not on the curve (or coordinates ≥ p). Public data. */
static int point_from_bytes(aff *r, const uint8_t pt[64]) {
  u64 x[4], y[4];
  from_bytes(x, pt);
  from_bytes(y, pt + 32);
  if (!lt4(x, P_PLAIN) || !lt4(y, P_PLAIN)) return 0;
  fp_to_mont(r->x, x);
  fp_to_mont(r->y, y);
  u64 lhs[4], rhs[4], t[4];
  fsqr(lhs, r->y);
  fsqr(rhs, r->x);
  fmul(rhs, rhs, r->x);
  fadd(t, r->x, r->x);
  fadd(t, t, r->x);
  fsub(rhs, rhs, t);
  fadd(rhs, rhs, B_M);
  return (int)eq4(lhs, rhs);
}

int sm2_on_curve(const uint8_t pt[64]) {
  sm2_init();
  aff a;
  return point_from_bytes(&a, pt);
}

/* ------------------------------------------------------------------------------------------ */
/* scalar multiplication */

static inline unsigned nibble(const u64 k[4], int i) { return (unsigned)((k[i / 16] >> (4 * (i % 16))) & 15); }

/* Reads table[d−1] for d in 1..15 by touching all 15 entries; d = 0 gives all zeros. */
static void lookup_aff_ct(aff *out, const aff row[15], unsigned d) {
  memset(out, 0, sizeof *out);
  for (unsigned j = 0; j < 15; j++) {
    u64 mask = mask_if(eq_u64(j + 1, d));
    for (int w = 0; w < 4; w++) {
      out->x[w] |= row[j].x[w] & mask;
      out->y[w] |= row[j].y[w] & mask;
    }
  }
}

static void sel_jac(jac *r, u64 mask, const jac *a, const jac *b) {
  sel4(r->x, mask, a->x, b->x);
  sel4(r->y, mask, a->y, b->y);
  sel4(r->z, mask, a->z, b->z);
}

/*
 * k·P from the table of P (64 windows of 4 bits: no doublings), constant-time in k. For
 * k in [1, n−1] the running sum R (scalar < 16^i) is never ±T (scalar ≥ 16^i, and R + T ≤ k < n),
 * so the only special cases are R = infinity and digit 0, both handled by selection.
 */
static void comb_mul_ct(jac *r, const aff table[64][15], const u64 k[4]) {
  jac acc = INFINITY_JAC, sum, t_jac;
  aff t;
  memcpy(t_jac.z, FP.one, 32);
  for (int i = 0; i < 64; i++) {
    unsigned d = nibble(k, i);
    lookup_aff_ct(&t, table[i], d);
    jac_madd_raw(&sum, &acc, &t, NULL, NULL);
    memcpy(t_jac.x, t.x, 32);
    memcpy(t_jac.y, t.y, 32);
    u64 acc_inf = mask_if(is_zero4(acc.z));
    sel_jac(&sum, acc_inf, &t_jac, &sum);
    u64 digit_zero = mask_if(is_zero_u64(d));
    sel_jac(&acc, digit_zero, &acc, &sum);
  }
  *r = acc;
}

/* Public scalars: the same table read by index, zero digits skipped, every case handled. */
static void comb_mul_vt(jac *r, const aff table[64][15], const u64 k[4]) {
  jac acc = INFINITY_JAC;
  for (int i = 0; i < 64; i++) {
    unsigned d = nibble(k, i);
    if (d) jac_madd_vt(&acc, &acc, &table[i][d - 1]);
  }
  *r = acc;
}

/*
 * k·P for a point without a table: 4-bit fixed window from the top, table of 0..15 · P,
 * constant-time in k (lookups read all 16 entries). Special cases as in comb_mul_ct: the running
 * sum 16·prefix is never ±d·P for k < n, so only infinity and digit 0 need selection.
 */
static void window_mul_ct(jac *r, const aff *p, const u64 k[4]) {
  jac tab[16];
  tab[0] = INFINITY_JAC;
  memcpy(tab[1].x, p->x, 32);
  memcpy(tab[1].y, p->y, 32);
  memcpy(tab[1].z, FP.one, 32);
  jac_dbl(&tab[2], &tab[1]);
  for (int j = 3; j < 16; j++) jac_add_vt(&tab[j], &tab[j - 1], &tab[1]); /* public: P only */
  jac acc = INFINITY_JAC, t, sum;
  for (int i = 63; i >= 0; i--) {
    for (int s = 0; s < 4; s++) jac_dbl(&acc, &acc);
    unsigned d = nibble(k, i);
    memset(&t, 0, sizeof t);
    for (unsigned j = 1; j < 16; j++) {
      u64 mask = mask_if(eq_u64(j, d));
      for (int w = 0; w < 4; w++) {
        t.x[w] |= tab[j].x[w] & mask;
        t.y[w] |= tab[j].y[w] & mask;
        t.z[w] |= tab[j].z[w] & mask;
      }
    }
    jac_add_raw(&sum, &acc, &t, NULL, NULL);
    u64 acc_inf = mask_if(is_zero4(acc.z));
    sel_jac(&sum, acc_inf, &t, &sum);
    u64 digit_zero = mask_if(is_zero_u64(d));
    sel_jac(&acc, digit_zero, &acc, &sum);
  }
  *r = acc;
}

/* ------------------------------------------------------------------------------------------ */
/* randomness */

/* 32 bytes from the kernel's CSPRNG (getrandom), buffered per thread; -1 on failure. */
static __thread uint8_t rng_pool[1024];
static __thread size_t rng_left = 0;

static int random32(uint8_t out[32]) {
  if (rng_left < 32) {
    size_t got = 0;
    while (got < sizeof rng_pool) {
      ssize_t n = getrandom(rng_pool + got, sizeof rng_pool - got, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return -1;
      }
      got += (size_t)n;
    }
    rng_left = sizeof rng_pool;
  }
  memcpy(out, rng_pool + sizeof rng_pool - rng_left, 32);
  CT_SECRET(out, 32);
  memset(rng_pool + sizeof rng_pool - rng_left, 0, 32);
  rng_left -= 32;
  return 0;
}

/* A uniform k in [1, n−1]: 256 random bits, drawn again when outside (probability < 2^−32). */
static int random_scalar(u64 k[4]) {
  for (;;) {
    uint8_t b[32];
    if (random32(b) != 0) return -1;
    from_bytes(k, b);
    memset(b, 0, sizeof b);
    u64 ok = lt4(k, N_PLAIN) & (1 ^ is_zero4(k));
    CT_PUBLIC(&ok, sizeof ok);
    if (ok) return 0; /* reveals only that a rejected draw happened */
  }
}

/* ------------------------------------------------------------------------------------------ */
/* keys, signatures */

/* a mod n for a < 2^256 (a < 2n): one conditional subtraction. */
static void reduce_n(u64 r[4], const u64 a[4]) { reduce_once(r, a, 0, N_PLAIN); }

int sm2_key_init(sm2_key *key, const uint8_t d_bytes[32]) {
  sm2_init();
  u64 d[4], nm1[4], one[4] = {1, 0, 0, 0};
  from_bytes(d, d_bytes);
  /* 1 ≤ d ≤ n−2 ⇔ d ≠ 0 and d < n−1 */
  mod_sub(nm1, N_PLAIN, one, &FN); /* n−1 (plain arithmetic: no reduction happens) */
  u64 ok = (1 ^ is_zero4(d)) & lt4(d, nm1);
  CT_PUBLIC(&ok, sizeof ok); /* a key out of range is refused: that much is not secret */
  if (!ok) return -1;
  memcpy(key->d, d, 32);
  to_mont(key->d_m, d, &FN);
  u64 d1[4], d1m[4];
  mod_add(d1, d, one, &FN);
  to_mont(d1m, d1, &FN);
  mont_inv(key->inv_m, d1m, &FN);
  jac q;
  comb_mul_ct(&q, G_TABLE, d);
  jac_to_bytes(key->pub, &q);
  memset(d1, 0, 32);
  memset(d1m, 0, 32);
  memset(d, 0, 32);
  return 0;
}

int sm2_sign_digest(const sm2_key *key, const uint8_t e_bytes[32], const uint8_t *fixed_k, uint8_t rs[64]) {
  sm2_init();
  u64 e[4];
  from_bytes(e, e_bytes);
  reduce_n(e, e);
  for (;;) {
    u64 k[4];
    if (fixed_k) {
      from_bytes(k, fixed_k);
      if (!lt4(k, N_PLAIN) || is_zero4(k)) return -1;
    } else if (random_scalar(k) != 0) {
      return -1;
    }
    jac kg;
    comb_mul_ct(&kg, G_TABLE, k);
    uint8_t xy[64];
    jac_to_bytes(xy, &kg);
    u64 x1[4], r[4], rk[4], rd[4], t[4], s[4];
    from_bytes(x1, xy);
    reduce_n(x1, x1); /* x1 < p < 2n */
    mod_add(r, e, x1, &FN);
    mod_add(rk, r, k, &FN);
    mont_mul(rd, r, key->d_m, &FN); /* r·d (plain) */
    mod_sub(t, k, rd, &FN);
    mont_mul(s, t, key->inv_m, &FN); /* (1+d)⁻¹(k − r·d) */
    memset(k, 0, 32);
    memset(t, 0, 32);
    memset(rd, 0, 32);
    /* r = 0, r + k = n or s = 0: draw again (probability ~2^−256; the branch reveals only that) */
    u64 bad = is_zero4(r) | is_zero4(rk) | is_zero4(s);
    CT_PUBLIC(&bad, sizeof bad);
    if (bad) {
      if (fixed_k) return -1;
      continue;
    }
    to_bytes(rs, r);
    to_bytes(rs + 32, s);
    return 0;
  }
}

int sm2_table_build(uint8_t table[SM2_TABLE_BYTES], const uint8_t pub[64]) {
  sm2_init();
  aff a;
  if (!point_from_bytes(&a, pub)) return -1;
  jac p;
  memcpy(p.x, a.x, 32);
  memcpy(p.y, a.y, 32);
  memcpy(p.z, FP.one, 32);
  table_from_jac((aff(*)[15])table, &p);
  return 0;
}

int sm2_verify_digest(const uint8_t pub[64], const uint8_t *table, const uint8_t e_bytes[32], const uint8_t rs[64]) {
  sm2_init();
  u64 r[4], s[4], e[4], t[4];
  from_bytes(r, rs);
  from_bytes(s, rs + 32);
  if (is_zero4(r) || !lt4(r, N_PLAIN) || is_zero4(s) || !lt4(s, N_PLAIN)) return 0;
  mod_add(t, r, s, &FN);
  if (is_zero4(t)) return 0;
  aff pa;
  if (!point_from_bytes(&pa, pub)) return 0;
  jac sg, tp, sum;
  comb_mul_vt(&sg, G_TABLE, s);
  if (table)
    comb_mul_vt(&tp, (const aff(*)[15])table, t);
  else
    window_mul_ct(&tp, &pa, t);
  jac_add_vt(&sum, &sg, &tp);
  if (is_zero4(sum.z)) return 0;
  /* (e + x1) mod n = r ⇔ x1 ∈ {r − e mod n, that + n (when < p)}; compare x1·Z² without inverting Z */
  from_bytes(e, e_bytes);
  reduce_n(e, e);
  u64 c[4], z2[4], cm[4], cz[4];
  mod_sub(c, r, e, &FN);
  fsqr(z2, sum.z);
  fp_to_mont(cm, c); /* c < n < p */
  fmul(cz, cm, z2);
  if (eq4(cz, sum.x)) return 1;
  u128 carry = 0;
  u64 c2[4];
  for (int i = 0; i < 4; i++) {
    carry = (u128)c[i] + N_PLAIN[i] + (u64)(carry >> 64);
    c2[i] = (u64)carry;
  }
  if ((u64)(carry >> 64) || !lt4(c2, P_PLAIN)) return 0;
  fp_to_mont(cm, c2);
  fmul(cz, cm, z2);
  return (int)eq4(cz, sum.x);
}

/* ------------------------------------------------------------------------------------------ */
/* encryption */

void sm2_kdf(const uint8_t *z, size_t zlen, uint8_t *out, size_t klen) {
  sm3_ctx base, c;
  sm3_init(&base);
  sm3_update(&base, z, zlen);
  uint8_t block[32];
  for (uint32_t ct = 1; klen > 0; ct++) {
    uint8_t counter[4] = {(uint8_t)(ct >> 24), (uint8_t)(ct >> 16), (uint8_t)(ct >> 8), (uint8_t)ct};
    c = base;
    sm3_update(&c, counter, 4);
    sm3_final(&c, block);
    size_t take = klen < 32 ? klen : 32;
    memcpy(out, block, take);
    out += take;
    klen -= take;
  }
  memset(block, 0, sizeof block);
  memset(&base, 0, sizeof base);
  memset(&c, 0, sizeof c);
}

static u64 all_zero_ct(const uint8_t *b, size_t len) {
  uint8_t acc = 0;
  for (size_t i = 0; i < len; i++) acc |= b[i];
  return is_zero_u64(acc);
}

static void c3_of(const uint8_t x2y2[64], const uint8_t *msg, size_t len, uint8_t c3[32]) {
  sm3_ctx c;
  sm3_init(&c);
  sm3_update(&c, x2y2, 32);
  sm3_update(&c, msg, len);
  sm3_update(&c, x2y2 + 32, 32);
  sm3_final(&c, c3);
  memset(&c, 0, sizeof c);
}

int sm2_encrypt(const uint8_t pub[64], const uint8_t *table, const uint8_t *msg, size_t len,
                const uint8_t *fixed_k, uint8_t *out) {
  sm2_init();
  aff pb;
  if (!point_from_bytes(&pb, pub)) return -2;
  uint8_t *c1 = out, *c3 = out + 64, *c2 = out + 96;
  for (;;) {
    u64 k[4];
    if (fixed_k) {
      from_bytes(k, fixed_k);
      if (!lt4(k, N_PLAIN) || is_zero4(k)) return -1;
    } else if (random_scalar(k) != 0) {
      return -1;
    }
    jac kg, kp;
    comb_mul_ct(&kg, G_TABLE, k);
    if (table)
      comb_mul_ct(&kp, (const aff(*)[15])table, k);
    else
      window_mul_ct(&kp, &pb, k);
    memset(k, 0, 32);
    uint8_t x2y2[64];
    jac_to_bytes(c1, &kg);
    jac_to_bytes(x2y2, &kp);
    sm2_kdf(x2y2, 64, c2, len);
    u64 zero = all_zero_ct(c2, len);
    CT_PUBLIC(&zero, sizeof zero);
    if (zero) { /* GM/T 0003.4 A5: draw another k (probability ~2^−8·len) */
      memset(x2y2, 0, 64);
      if (fixed_k) return -1;
      continue;
    }
    for (size_t i = 0; i < len; i++) c2[i] ^= msg[i];
    c3_of(x2y2, msg, len, c3);
    memset(x2y2, 0, 64);
    return 0;
  }
}

int sm2_decrypt(const sm2_key *key, const uint8_t c1[64], const uint8_t c3[32], const uint8_t *c2, size_t len,
                uint8_t *out) {
  sm2_init();
  aff p;
  if (!point_from_bytes(&p, c1)) return 1; /* C1 is public */
  jac q;
  window_mul_ct(&q, &p, key->d);
  uint8_t x2y2[64], check[32];
  jac_to_bytes(x2y2, &q); /* never infinity: C1 ≠ O has order n, 1 ≤ d < n */
  sm2_kdf(x2y2, 64, out, len);
  u64 zero = all_zero_ct(out, len);
  CT_PUBLIC(&zero, sizeof zero); /* reported as its own error code */
  if (zero) {
    memset(x2y2, 0, 64);
    memset(out, 0, len);
    return 2;
  }
  for (size_t i = 0; i < len; i++) out[i] ^= c2[i];
  c3_of(x2y2, out, len, check);
  memset(x2y2, 0, 64);
  uint8_t diff = 0;
  for (int i = 0; i < 32; i++) diff |= (uint8_t)(check[i] ^ c3[i]);
  CT_PUBLIC(&diff, sizeof diff); /* whether it decrypted is the answer itself */
  if (diff) {
    memset(out, 0, len);
    return 3;
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* plain multiplications (tests, key derivation) */

int sm2_mul_base(const uint8_t k_bytes[32], uint8_t out[64]) {
  sm2_init();
  u64 k[4];
  from_bytes(k, k_bytes);
  reduce_n(k, k);
  u64 zero = is_zero4(k);
  CT_PUBLIC(&zero, sizeof zero); /* refused, so revealed */
  if (zero) return -1;
  jac r;
  comb_mul_ct(&r, G_TABLE, k);
  jac_to_bytes(out, &r);
  memset(k, 0, 32);
  return 0;
}

int sm2_mul(const uint8_t k_bytes[32], const uint8_t pt[64], uint8_t out[64]) {
  sm2_init();
  aff p;
  if (!point_from_bytes(&p, pt)) return -1;
  u64 k[4];
  from_bytes(k, k_bytes);
  reduce_n(k, k);
  u64 zero = is_zero4(k);
  CT_PUBLIC(&zero, sizeof zero); /* refused, so revealed */
  if (zero) return -1;
  jac r;
  window_mul_ct(&r, &p, k);
  jac_to_bytes(out, &r);
  memset(k, 0, 32);
  return 0;
}
