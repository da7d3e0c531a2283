/*
   Random streams: xoshiro256** (Blackman and Vigna, 2018) seeded with the
   splitmix64 output function, Box-Muller normals.

   The state of a stream is four 64-bit words; the pair (seed, stream) is mixed
   into those words, so streams with different stream numbers are independent
   for practical purposes and any item (a particle, a rank, a snapshot) can own
   one without coordination.
*/
#include <wlm/wlmsys.h>

/*@
  WLMRandomMix64 - Scrambles a 64-bit word with the splitmix64 finalizer.

  Notes:
  A bijection on 64-bit words with good avalanche; used to turn (seed, stream)
  pairs into generator states and to hash identifiers.
@*/
uint64_t WLMRandomMix64(uint64_t z)
{
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/*@
  WLMRandomSeed - Sets a stream to the state defined by a seed and a stream number.

  Input Parameters:
+ seed   - user seed
- stream - stream number, for example a global particle index or a rank
@*/
void WLMRandomSeed(WLMRandom *r, uint64_t seed, uint64_t stream)
{
  uint64_t z = WLMRandomMix64(seed) ^ WLMRandomMix64(stream + 0x632be59bd9b4e019ULL);

  for (int i = 0; i < 4; i++) {
    z       = WLMRandomMix64(z);
    r->s[i] = z;
  }
  /* xoshiro must not start from the all-zero state */
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
  r->has_spare    = PETSC_FALSE;
  r->spare_normal = 0;
}

static inline uint64_t Rotl(uint64_t x, int k)
{
  return (x << k) | (x >> (64 - k));
}

/* Next 64-bit output of xoshiro256** */
uint64_t WLMRandomNext(WLMRandom *r)
{
  uint64_t *s      = r->s;
  uint64_t  result = Rotl(s[1] * 5, 7) * 9;
  uint64_t  t      = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = Rotl(s[3], 45);
  return result;
}

/* Uniform double in the open interval (0, 1): 53 random bits, offset by half a unit. */
PetscReal WLMRandomUniform(WLMRandom *r)
{
  return ((PetscReal)(WLMRandomNext(r) >> 11) + 0.5) * 0x1.0p-53;
}

/* Standard normal by the Box-Muller transform; the second value is kept for the next call. */
PetscReal WLMRandomNormal(WLMRandom *r)
{
  PetscReal u1, u2, radius;

  if (r->has_spare) {
    r->has_spare = PETSC_FALSE;
    return r->spare_normal;
  }
  u1              = WLMRandomUniform(r);
  u2              = WLMRandomUniform(r);
  radius          = PetscSqrtReal(-2.0 * PetscLogReal(u1));
  r->spare_normal = radius * PetscSinReal(2.0 * PETSC_PI * u2);
  r->has_spare    = PETSC_TRUE;
  return radius * PetscCosReal(2.0 * PETSC_PI * u2);
}

/* Uniform integer in [0, n) by rejection, free of modulo bias; n must be positive. */
PetscInt WLMRandomInteger(WLMRandom *r, PetscInt n)
{
  uint64_t range = (uint64_t)n;
  uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t x;

  do x = WLMRandomNext(r);
  while (x >= limit);
  return (PetscInt)(x % range);
}

/*@
  WLMRandomSample - Draws k distinct indices out of 0..n-1, in random order.

  Input Parameters:
+ r - the stream
. n - population size
- k - sample size, 0 <= k <= n

  Output Parameter:
. idx - array of length n: on input any contents, on output idx[0..k-1] is the sample

  Notes:
  A partial Fisher-Yates shuffle; the caller owns the length-n workspace so that
  hot loops do not allocate.
@*/
void WLMRandomSample(WLMRandom *r, PetscInt n, PetscInt k, PetscInt idx[])
{
  for (PetscInt i = 0; i < n; i++) idx[i] = i;
  for (PetscInt i = 0; i < k; i++) {
    PetscInt j = i + WLMRandomInteger(r, n - i);
    PetscInt t = idx[i];

    idx[i] = idx[j];
    idx[j] = t;
  }
}
