/*
 * Marks for the constant-time check (ct_harness.c under valgrind's memcheck): CT_SECRET makes
 * bytes "undefined", so memcheck reports any branch or memory index that depends on them;
 * CT_PUBLIC declassifies a value that the algorithm reveals anyway (a signature, whether a
 * rejection-sampled draw was kept, whether a ciphertext decrypted). No-ops in the addon.
 */
#ifndef PIAOJU_CT_H
#define PIAOJU_CT_H
#ifdef PIAOJU_CT_CHECK
#include <valgrind/memcheck.h>
#define CT_SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define CT_PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define CT_SECRET(p, n) ((void)0)
#define CT_PUBLIC(p, n) ((void)0)
#endif
#endif
