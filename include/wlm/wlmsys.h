/*
   wlm system layer: package initialization, version, random streams and
   thread settings shared by every module.

   Random streams are xoshiro256** generators seeded through splitmix64 from a
   (seed, stream) pair.  Code that must give the same numbers whatever the rank
   count seeds one stream per global item (particle index, snapshot index)
   rather than one stream per rank.
*/
#ifndef WLMSYS_H
#define WLMSYS_H

#include <petscsys.h>
#include <stdint.h>

PETSC_EXTERN PetscErrorCode WLMInitializePackage(void);
PETSC_EXTERN PetscErrorCode WLMFinalizePackage(void);
PETSC_EXTERN PetscErrorCode WLMGetVersion(const char **, const char **);
PETSC_EXTERN PetscErrorCode WLMSetNumThreads(PetscInt);
PETSC_EXTERN PetscErrorCode WLMPushErrorHandler(void);
PETSC_EXTERN PetscErrorCode WLMOptionsCheckUnused(MPI_Comm);
PETSC_EXTERN PetscBool      WLMTestFailureRequested(const char[]);
PETSC_EXTERN PetscErrorCode WLMTestFailureInject(const char[]);

/* SHA-256 (FIPS 180-4) of files and memory, for checkpoint and data identity. */
typedef struct {
  uint32_t      state[8];
  uint64_t      length; /* bytes hashed so far */
  unsigned char block[64];
  size_t        fill; /* bytes waiting in block */
} WLMSHA256;

PETSC_EXTERN void           WLMSHA256Init(WLMSHA256 *);
PETSC_EXTERN void           WLMSHA256Update(WLMSHA256 *, const void *, size_t);
PETSC_EXTERN void           WLMSHA256Final(WLMSHA256 *, char[65]);
PETSC_EXTERN PetscErrorCode WLMSHA256File(const char[], char[65], PetscInt64 *);

/* A random stream; plain data, so it can be copied into a checkpoint. */
typedef struct {
  uint64_t  s[4];
  PetscReal spare_normal; /* second Box-Muller value, valid when has_spare is true */
  PetscBool has_spare;
} WLMRandom;

PETSC_EXTERN uint64_t  WLMRandomMix64(uint64_t);
PETSC_EXTERN void      WLMRandomSeed(WLMRandom *, uint64_t, uint64_t);
PETSC_EXTERN uint64_t  WLMRandomNext(WLMRandom *);
PETSC_EXTERN PetscReal WLMRandomUniform(WLMRandom *);
PETSC_EXTERN PetscReal WLMRandomNormal(WLMRandom *);
PETSC_EXTERN PetscInt  WLMRandomInteger(WLMRandom *, PetscInt);
PETSC_EXTERN void      WLMRandomSample(WLMRandom *, PetscInt, PetscInt, PetscInt[]);

#endif
