/*
 * Constant-time check of the private-key paths, run under valgrind's memcheck
 * (native/ct-check.sh): the private key, every nonce drawn from the random source (ct.h marks
 * them in sm2.c) and the decrypted plaintext are marked "undefined", so memcheck reports each
 * conditional jump and each memory address that depends on them. Values the algorithms reveal
 * anyway (a signature, an SM2 ciphertext, the public key) are declassified before they are used.
 * Exit status 0 and "ERROR SUMMARY: 0 errors" mean no secret-dependent branch or index was
 * executed on these runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ct.h"
#include "sm2_core.h"

static void random_bytes(uint8_t *p, size_t n) {
  while (n) {
    ssize_t got = getrandom(p, n, 0);
    if (got <= 0) continue;
    p += got;
    n -= (size_t)got;
  }
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 4;
  sm2_init();
  for (int i = 0; i < rounds; i++) {
    uint8_t d[32], e[32], rs[64], msg[48], ct[96 + 48], plain[48];
    sm2_key key;
    do random_bytes(d, 32);
    while (d[0] == 0xff); /* stays below n − 1: the range check itself is declassified in sm2.c */
    CT_SECRET(d, 32);
    if (sm2_key_init(&key, d) != 0) return 2;
    CT_PUBLIC(key.pub, 64);

    random_bytes(e, 32);
    if (sm2_sign_digest(&key, e, NULL, rs) != 0) return 3;
    CT_PUBLIC(rs, 64);
    if (!sm2_verify_digest(key.pub, NULL, e, rs)) return 4;

    random_bytes(msg, sizeof msg);
    CT_SECRET(msg, sizeof msg); /* the plaintext of an envelope is secret too */
    if (sm2_encrypt(key.pub, NULL, msg, sizeof msg, NULL, ct) != 0) return 5;
    CT_PUBLIC(ct, sizeof ct);
    if (sm2_decrypt(&key, ct, ct + 64, ct + 96, sizeof msg, plain) != 0) return 6;
    uint8_t table[SM2_TABLE_BYTES];
    if (sm2_table_build(table, key.pub) != 0) return 7;
    if (sm2_encrypt(key.pub, table, msg, sizeof msg, NULL, ct) != 0) return 8;
    CT_PUBLIC(ct, sizeof ct);
    uint8_t out[64];
    if (sm2_mul(d, ct, out) != 0) return 9; /* d·C1 through the plain API as well */
    CT_PUBLIC(plain, sizeof plain);
    CT_PUBLIC(msg, sizeof msg);
    if (memcmp(plain, msg, sizeof msg) != 0) return 10;
  }
  printf("ct-harness: %d rounds of key set-up, signing, encryption and decryption\n", rounds);
  return 0;
}
