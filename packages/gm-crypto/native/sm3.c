/* SM3 (GM/T 0004-2012 / GB/T 32905-2016), written from the standard's description. */
#include <string.h>

#include "sm2_core.h"

static inline uint32_t rotl(uint32_t x, unsigned n) {
  n &= 31;
  return (x << n) | (x >> ((32 - n) & 31));
}

#define P0(x) ((x) ^ rotl((x), 9) ^ rotl((x), 17))
#define P1(x) ((x) ^ rotl((x), 15) ^ rotl((x), 23))

static const uint32_t IV[8] = {0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600,
                               0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e};


static void compress(uint32_t v[8], const uint8_t *block) {
  uint32_t w[68], w1[64];
  for (int j = 0; j < 16; j++)
    w[j] = ((uint32_t)block[4 * j] << 24) | ((uint32_t)block[4 * j + 1] << 16) |
           ((uint32_t)block[4 * j + 2] << 8) | (uint32_t)block[4 * j + 3];
  for (int j = 16; j < 68; j++)
    w[j] = P1(w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15)) ^ rotl(w[j - 13], 7) ^ w[j - 6];
  for (int j = 0; j < 64; j++) w1[j] = w[j] ^ w[j + 4];
  uint32_t a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
  for (int j = 0; j < 64; j++) {
    uint32_t a12 = rotl(a, 12);
    uint32_t tj = rotl(j < 16 ? 0x79cc4519u : 0x7a879d8au, (unsigned)(j % 32));
    uint32_t ss1 = rotl(a12 + e + tj, 7);
    uint32_t ss2 = ss1 ^ a12;
    uint32_t ff, gg;
    if (j < 16) {
      ff = a ^ b ^ c;
      gg = e ^ f ^ g;
    } else {
      ff = (a & b) | (a & c) | (b & c);
      gg = (e & f) | (~e & g);
    }
    uint32_t tt1 = ff + d + ss2 + w1[j];
    uint32_t tt2 = gg + h + ss1 + w[j];
    d = c;
    c = rotl(b, 9);
    b = a;
    a = tt1;
    h = g;
    g = rotl(f, 19);
    f = e;
    e = P0(tt2);
  }
  v[0] ^= a;
  v[1] ^= b;
  v[2] ^= c;
  v[3] ^= d;
  v[4] ^= e;
  v[5] ^= f;
  v[6] ^= g;
  v[7] ^= h;
}

void sm3_init(sm3_ctx *c) {
  memcpy(c->v, IV, sizeof IV);
  c->total = 0;
  c->used = 0;
}

void sm3_update(sm3_ctx *c, const uint8_t *data, size_t len) {
  c->total += len;
  if (c->used) {
    size_t take = 64 - c->used;
    if (take > len) take = len;
    memcpy(c->block + c->used, data, take);
    c->used += take;
    data += take;
    len -= take;
    if (c->used < 64) return;
    compress(c->v, c->block);
    c->used = 0;
  }
  while (len >= 64) {
    compress(c->v, data);
    data += 64;
    len -= 64;
  }
  if (len) {
    memcpy(c->block, data, len);
    c->used = len;
  }
}

void sm3_final(sm3_ctx *c, uint8_t out[32]) {
  uint64_t bits = c->total * 8;
  c->block[c->used++] = 0x80;
  if (c->used > 56) {
    memset(c->block + c->used, 0, 64 - c->used);
    compress(c->v, c->block);
    c->used = 0;
  }
  memset(c->block + c->used, 0, 56 - c->used);
  for (int i = 0; i < 8; i++) c->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  compress(c->v, c->block);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(c->v[i] >> 24);
    out[4 * i + 1] = (uint8_t)(c->v[i] >> 16);
    out[4 * i + 2] = (uint8_t)(c->v[i] >> 8);
    out[4 * i + 3] = (uint8_t)c->v[i];
  }
  memset(c->block, 0, sizeof c->block);
}

void sm3(const uint8_t *data, size_t len, uint8_t out[32]) {
  sm3_ctx c;
  sm3_init(&c);
  sm3_update(&c, data, len);
  sm3_final(&c, out);
}
