/*
   Implementation side of WLMVelocity: the fields shared by the sources and
   the entry points of the ot and dice estimators.
*/
#ifndef WLMVELOCITYIMPL_H
#define WLMVELOCITYIMPL_H

#include <wlm/wlmvelocity.h>
#include <petsc/private/petscimpl.h>

struct _p_WLMVelocity {
  PETSCHEADER(int);
  WLMVelocitySource source;
  WLMSnapshots      snaps;    /* borrowed, replicated on every rank */
  PetscInt          dim;
  PetscInt          nallowed; /* snapshots the estimators may read */
  PetscInt         *allowed;
  PetscBool         setupcalled;
  void             *ot;       /* state of the ot estimator */
  void             *dice;     /* state of the dice estimator */
};

PETSC_EXTERN PetscInt       WLMVelocityAllowedPosition(WLMVelocity, PetscInt);
PETSC_EXTERN PetscErrorCode WLMVelocitySetFromOptions_OT(WLMVelocity, PetscOptionItems *);
PETSC_EXTERN PetscErrorCode WLMVelocitySetUp_OT(WLMVelocity);
PETSC_EXTERN PetscErrorCode WLMVelocityCompute_OT(WLMVelocity, PetscInt, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMVelocityReset_OT(WLMVelocity);
PETSC_EXTERN PetscErrorCode WLMVelocityTransportMap(WLMVelocity, PetscInt, PetscInt, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMVelocitySetFromOptions_DICE(WLMVelocity, PetscOptionItems *);
PETSC_EXTERN PetscErrorCode WLMVelocitySetUp_DICE(WLMVelocity);
PETSC_EXTERN PetscErrorCode WLMVelocityCompute_DICE(WLMVelocity, PetscInt, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMVelocityReset_DICE(WLMVelocity);

#endif
