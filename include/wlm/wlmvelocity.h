/*
   WLMVelocity: initial velocities for rollouts that start at an observed snapshot.

     data  the velocities stored in the snapshot file, paired with the positions
     zero  v = 0
     ot    barycentric projection of the entropic OT plan from snapshot s to the
           next allowed snapshot s', divided by t_{s'} - t_s (from the previous
           allowed snapshot for the last one)
     dice  v = grad_x phi(x, t_s), with phi(x, t) a small MLP fitted to the allowed
           snapshots by an action-matching objective

   Only the snapshots passed as allowed are ever read, so that a held-out or
   future snapshot cannot leak into an estimate.
*/
#ifndef WLMVELOCITY_H
#define WLMVELOCITY_H

#include <wlm/wlmsnapshots.h>

typedef struct _p_WLMVelocity *WLMVelocity;

PETSC_EXTERN PetscClassId WLMVELOCITY_CLASSID;

typedef enum {
  WLM_VELOCITY_DATA,
  WLM_VELOCITY_ZERO,
  WLM_VELOCITY_OT,
  WLM_VELOCITY_DICE
} WLMVelocitySource;
PETSC_EXTERN const char *const WLMVelocitySources[];

PETSC_EXTERN PetscErrorCode WLMVelocityInitializePackage(void);
PETSC_EXTERN PetscErrorCode WLMVelocityCreate(MPI_Comm, WLMVelocity *);
PETSC_EXTERN PetscErrorCode WLMVelocitySetSource(WLMVelocity, WLMVelocitySource);
PETSC_EXTERN PetscErrorCode WLMVelocityGetSource(WLMVelocity, WLMVelocitySource *);
PETSC_EXTERN PetscErrorCode WLMVelocitySetSnapshots(WLMVelocity, WLMSnapshots, PetscInt, const PetscInt[]);
PETSC_EXTERN PetscErrorCode WLMVelocitySetFromOptions(WLMVelocity);
PETSC_EXTERN PetscErrorCode WLMVelocitySetUp(WLMVelocity);
PETSC_EXTERN PetscErrorCode WLMVelocityCompute(WLMVelocity, PetscInt, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMVelocityView(WLMVelocity, PetscViewer);
PETSC_EXTERN PetscErrorCode WLMVelocityDestroy(WLMVelocity *);

#endif
