/*
   SHA-256 as specified in FIPS 180-4, section 6.2.  The message is padded
   with a 1 bit, zeros and its 64-bit big-endian bit length to a multiple of
   512 bits.  Every 512-bit block then updates eight 32-bit words of state
   through 64 rounds.  The digest is returned as 64 lowercase hexadecimal characters,
   the form printed by sha256sum, so users can compare a checkpoint's record
   of its data file with `sha256sum FILE`.
*/
#include <wlm/wlmsys.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Round constants: the first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t RotateRight(uint32_t x, int n)
{
  return (x >> n) | (x << (32 - n));
}

/* Applies the 64 rounds of one 64-byte block to the state. */
static void CompressBlock(uint32_t state[8], const unsigned char block[64])
{
  uint32_t w[64], a[8];

  for (int t = 0; t < 16; t++) w[t] = (uint32_t)block[4 * t] << 24 | (uint32_t)block[4 * t + 1] << 16 | (uint32_t)block[4 * t + 2] << 8 | (uint32_t)block[4 * t + 3];
  for (int t = 16; t < 64; t++) {
    const uint32_t s0 = RotateRight(w[t - 15], 7) ^ RotateRight(w[t - 15], 18) ^ (w[t - 15] >> 3);
    const uint32_t s1 = RotateRight(w[t - 2], 17) ^ RotateRight(w[t - 2], 19) ^ (w[t - 2] >> 10);

    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }

  memcpy(a, state, sizeof(a));
  for (int t = 0; t < 64; t++) {
    const uint32_t sum1   = RotateRight(a[4], 6) ^ RotateRight(a[4], 11) ^ RotateRight(a[4], 25);
    const uint32_t choose = (a[4] & a[5]) ^ (~a[4] & a[6]);
    const uint32_t t1     = a[7] + sum1 + choose + K[t] + w[t];
    const uint32_t sum0   = RotateRight(a[0], 2) ^ RotateRight(a[0], 13) ^ RotateRight(a[0], 22);
    const uint32_t major  = (a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]);

    memmove(a + 1, a, 7 * sizeof(uint32_t));
    a[4] += t1;
    a[0] = t1 + sum0 + major;
  }
  for (int i = 0; i < 8; i++) state[i] += a[i];
}

/*@C
  WLMSHA256Init - Starts a SHA-256 digest with the initial hash value of FIPS 180-4.
@*/
void WLMSHA256Init(WLMSHA256 *h)
{
  static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

  memcpy(h->state, H0, sizeof(H0));
  h->length = 0;
  h->fill   = 0;
}

/*@C
  WLMSHA256Update - Adds len bytes to the digest.
@*/
void WLMSHA256Update(WLMSHA256 *h, const void *data, size_t len)
{
  const unsigned char *bytes = (const unsigned char *)data;

  h->length += len;
  while (len > 0) {
    const size_t take = PetscMin(len, 64 - h->fill);

    memcpy(h->block + h->fill, bytes, take);
    h->fill += take;
    bytes += take;
    len -= take;
    if (h->fill == 64) {
      CompressBlock(h->state, h->block);
      h->fill = 0;
    }
  }
}

/*@C
  WLMSHA256Final - Pads the message, finishes the digest and writes it as 64 hexadecimal characters and a NUL.
@*/
void WLMSHA256Final(WLMSHA256 *h, char hex[65])
{
  const uint64_t bits = h->length * 8;

  h->block[h->fill++] = 0x80;
  if (h->fill > 56) {
    memset(h->block + h->fill, 0, 64 - h->fill);
    CompressBlock(h->state, h->block);
    h->fill = 0;
  }
  memset(h->block + h->fill, 0, 56 - h->fill);
  for (int i = 0; i < 8; i++) h->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
  CompressBlock(h->state, h->block);
  for (int i = 0; i < 8; i++) snprintf(hex + 8 * i, 9, "%08x", (unsigned)h->state[i]);
}

/*@C
  WLMSHA256File - Computes the SHA-256 digest and the size in bytes of a file.

  Not Collective

  Output Parameters:
+ hex  - digest, 64 hexadecimal characters and a NUL
- size - file size in bytes (may be NULL)
@*/
PetscErrorCode WLMSHA256File(const char path[], char hex[65], PetscInt64 *size)
{
  FILE         *fp;
  WLMSHA256     h;
  unsigned char buffer[1 << 16];
  size_t        n;
  int           failed;

  PetscFunctionBeginUser;
  fp = fopen(path, "rb");
  PetscCheck(fp, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "Cannot open \"%s\" to compute its checksum: %s", path, strerror(errno));
  WLMSHA256Init(&h);
  while ((n = fread(buffer, 1, sizeof(buffer), fp)) > 0) WLMSHA256Update(&h, buffer, n);
  failed = ferror(fp);
  fclose(fp);
  PetscCheck(!failed, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "Reading \"%s\" failed while computing its checksum", path);
  WLMSHA256Final(&h, hex);
  if (size) *size = (PetscInt64)h.length;
  PetscFunctionReturn(0);
}
