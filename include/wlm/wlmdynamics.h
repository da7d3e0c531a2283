/*
   WLMDynamics: rollouts of damped second-order mechanics and their exact
   discrete adjoints.

     dx_i/dt = v_i
     dv_i/dt = -gamma v_i + F_i(X, t) / w_i,      F = -grad_X U_theta,

   with friction gamma >= 0 and masses w_i.  The state (X, V) of the particles
   this rank owns is a PETSc Vec; a PETSc TS integrates it.  The default TS type
   TSWLMVERLET is a damped velocity Verlet (Strang splitting with exact friction
   decay):

     v <- e^{-gamma dt/2} v;  v <- v + dt/2 a(x);  x <- x + dt v;
     v <- v + dt/2 a(x);      v <- e^{-gamma dt/2} v,

   which is the symplectic leapfrog at gamma = 0.  TSRK with types 1fe, 2a, 3,
   3bs and 4 is also supported.

   A rollout starts at (t0, X0, V0) and records the state at requested times
   t_1 < ... < t_k.  The adjoint takes dL/dX(t_m) (and optionally dL/dV(t_m))
   for a loss L of those states and returns dL/dtheta, dL/dlog(gamma), dL/dX0 and
   dL/dV0 for the same discrete scheme that produced the rollout.
*/
#ifndef WLMDYNAMICS_H
#define WLMDYNAMICS_H

#include <petscts.h>
#include <wlm/wlmpotential.h>

typedef struct _p_WLMDynamics *WLMDynamics;

PETSC_EXTERN PetscClassId WLMDYNAMICS_CLASSID;

#define TSWLMVERLET "wlmverlet"

typedef enum {
  WLM_FRICTION_EXACT,    /* dv/dt = -gamma v + a, friction applied as exact decay */
  WLM_FRICTION_REFERENCE /* compatibility: small-step limit dv/dt = -gamma v + (1 + gamma) a */
} WLMFrictionVariant;
PETSC_EXTERN const char *const WLMFrictionVariants[];

PETSC_EXTERN PetscErrorCode WLMDynamicsInitializePackage(void);
PETSC_EXTERN PetscErrorCode WLMDynamicsCreate(MPI_Comm, WLMDynamics *);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetPotential(WLMDynamics, WLMPotential);
PETSC_EXTERN PetscErrorCode WLMDynamicsGetPotential(WLMDynamics, WLMPotential *);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetFriction(WLMDynamics, PetscReal);
PETSC_EXTERN PetscErrorCode WLMDynamicsGetFriction(WLMDynamics, PetscReal *);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetFrictionVariant(WLMDynamics, WLMFrictionVariant);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetSubsteps(WLMDynamics, PetscInt);
PETSC_EXTERN PetscErrorCode WLMDynamicsGetSubsteps(WLMDynamics, PetscInt *);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetOptionsPrefix(WLMDynamics, const char[]);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetFromOptions(WLMDynamics);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetUp(WLMDynamics);
PETSC_EXTERN PetscErrorCode WLMDynamicsGetTS(WLMDynamics, TS *);
PETSC_EXTERN PetscErrorCode WLMDynamicsView(WLMDynamics, PetscViewer);
PETSC_EXTERN PetscErrorCode WLMDynamicsDestroy(WLMDynamics *);

PETSC_EXTERN PetscErrorCode WLMDynamicsRollout(WLMDynamics, PetscInt, const PetscReal[], PetscReal, const PetscReal[], const PetscReal[], PetscInt, const PetscReal[], PetscReal *[], PetscReal *[]);
PETSC_EXTERN PetscErrorCode WLMDynamicsRolloutAdjoint(WLMDynamics, const PetscReal *const[], const PetscReal *const[], PetscReal[], PetscReal *, PetscReal[], PetscReal[]);

#endif
