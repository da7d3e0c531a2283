/*
   Implementation side of WLMGenerator: the operations a generator type fills
   in and the fields shared by every type.
*/
#ifndef WLMGENERATEIMPL_H
#define WLMGENERATEIMPL_H

#include <wlm/wlmgenerate.h>
#include <wlm/wlmsys.h>
#include <petsc/private/petscimpl.h>

PETSC_EXTERN PetscLogEvent WLMGENERATOR_Generate, WLMGENERATOR_Step;

typedef struct _WLMGeneratorOps *WLMGeneratorOps;
struct _WLMGeneratorOps {
  PetscErrorCode (*setfromoptions)(WLMGenerator, PetscOptionItems *);
  PetscErrorCode (*setup)(WLMGenerator);                  /* check parameters, size workspaces */
  PetscErrorCode (*generate)(WLMGenerator, WLMSnapshots); /* add the T snapshots */
  PetscErrorCode (*attributes)(WLMGenerator, WLMSnapshots); /* type parameters as attributes */
  PetscErrorCode (*view)(WLMGenerator, PetscViewer);
  PetscErrorCode (*destroy)(WLMGenerator);
};

struct _p_WLMGenerator {
  PETSCHEADER(struct _WLMGeneratorOps);
  PetscInt  N;          /* particles over all ranks */
  PetscInt  T;          /* snapshots, the first at t = 0 */
  PetscReal dt;         /* time between snapshots */
  PetscInt  dim;        /* d */
  PetscInt  seed;
  PetscBool velocities; /* write velocities */
  PetscBool nset, snapshotsset, velocitiesset; /* set by the caller, so the type keeps them */
  PetscInt  n, start;   /* this rank's particles: global indices start .. start + n - 1 */
  PetscBool setupcalled;
  void     *data;       /* type-specific context */
};

/* Fills in the type's defaults for the common parameters the caller has not set. */
static inline void WLMGeneratorSetTypeDefaults(WLMGenerator gen, PetscInt N, PetscInt T, PetscReal dt, PetscBool velocities)
{
  if (!gen->nset) gen->N = N;
  if (!gen->snapshotsset) {
    gen->T  = T;
    gen->dt = dt;
  }
  if (!gen->velocitiesset) gen->velocities = velocities;
}

/* Gathers a [n][width] block of every rank into a [N][width] array in global order (a deterministic layout for order-dependent sums). */
PETSC_INTERN PetscErrorCode WLMGeneratorGatherAll(WLMGenerator, PetscInt, const PetscReal[], PetscReal[]);

#endif
