/*
   WLMDynamics: rollouts of damped second-order mechanics and their exact
   discrete adjoints.

     dx_i/dt = v_i
     dv_i/dt = -gamma v_i + a_i(X, t),     a_i = F_i / w_i,   F = -grad_X U_theta,

   with friction gamma >= 0 and masses w_i.  The state U = (X, V) of the
   particles this rank owns is a PETSc Vec whose local block is the positions
   [n][dim] followed by the velocities [n][dim]; a PETSc TS integrates it.

   Integrators (-ts_type):

   wlmverlet (TSWLMVERLET, the default) is a damped velocity Verlet step of
   size dt, a Strang splitting with exact friction decay, m = e^{-gamma dt/2}:

     v <- m v;  v <- v + dt/2 a(x);  x <- x + dt v;  v <- v + dt/2 a(x);  v <- m v.

   It is the symplectic leapfrog at gamma = 0, costs one force evaluation per
   step, and has its own discrete adjoint step (TSAdjointSolve() works).

   rk (TSRK) with -ts_rk_type 1fe, 2a, 3, 3bs or 4 integrates
   f(U) = (V, -gamma V + a(X, t)) and uses PETSc's RK adjoint with shell
   Jacobians.  The other RK types are rejected: with PETSc 3.18 their
   parameter gradients are wrong by 1% to 13% in the rollout test (2b, 5f,
   5dp, 5bs, 6vr, 7vr, 8vr checked against finite differences), while their
   state gradients are right.

   Compatibility variant (-wlm_friction_variant reference): the update of the
   authors' reference code, with c = m dt/2 + (1 - m),

     v_h = m v + c a(x);  x' = x + dt v_h;  v' = m v_h + c a(x'),

   whose small-step limit is dv/dt = -gamma v + (1 + gamma) a; with TSRK the
   variant integrates that right-hand side.  It has its own exact adjoint.

   Rollouts: WLMDynamicsRollout() starts at (t0, X0, V0) and records the state
   at output times t0 < t_1 < ... < t_k.  Each interval [t_{m-1}, t_m] is split
   into S equal steps (-wlm_substeps S), or, when a time step dt is set
   (-ts_dt or WLMDynamicsSetTimeStep()), into steps of dt whose last one is
   shortened to end at t_m.  WLMDynamicsRolloutAdjoint() takes dL/dX(t_m) and
   optionally dL/dV(t_m) for a loss L of the recorded states and returns
   dL/dtheta, dL/dlog(gamma), dL/dX0 and dL/dV0 of the discrete scheme that
   produced the rollout, to rounding.

   Parallel layout: the particles are sharded over the communicator of the
   object (PETSC_COMM_SELF for one whole ensemble per rank).  The parameter
   gradients dL/dtheta and dL/dlog(gamma) are returned as this rank's share:
   no reduction happens inside a rollout or its adjoint beyond those the
   potential makes, and summing the shares over the ranks (the trainer's
   gradient allreduce) gives the gradient.

   Memory: the forward pass stores the stage vectors of every step in the
   trajectory TSTRAJECTORYWLMTAPE.  Each is a state vector of 2 n dim reals
   on this rank.  wlmverlet stores 3 per step (the state at the start of the
   step, the state after the drift, the accelerations at both ends), and an
   s-stage RK method stores s.  The reverse pass of wlmverlet costs one force
   product (a Hessian-vector product and the parameter product) per step plus
   one; RK costs s products per step.  Workspaces are sized by the first
   rollout with a given particle count and reused.  A rollout longer than any
   before extends the stored steps to its own length, once.
*/
#ifndef WLMDYNAMICS_H
#define WLMDYNAMICS_H

#include <petscts.h>
#include <wlm/wlmpotential.h>

typedef struct _p_WLMDynamics *WLMDynamics;

PETSC_EXTERN PetscClassId WLMDYNAMICS_CLASSID;

/* The damped velocity Verlet TS type; it integrates only a TS set up by WLMDynamics. */
#define TSWLMVERLET "wlmverlet"
/* The in-memory trajectory of rollouts; stores the stage vectors of every step. */
#define TSTRAJECTORYWLMTAPE "wlmtape"

typedef enum {
  WLM_FRICTION_EXACT,    /* dv/dt = -gamma v + a, friction applied as exact decay */
  WLM_FRICTION_REFERENCE /* compatibility: small-step limit dv/dt = -gamma v + (1 + gamma) a */
} WLMFrictionVariant;
PETSC_EXTERN const char *const WLMFrictionVariants[];

PETSC_EXTERN PetscErrorCode WLMDynamicsInitializePackage(void);
PETSC_EXTERN PetscErrorCode WLMDynamicsFinalizePackage(void);
PETSC_EXTERN PetscErrorCode WLMDynamicsCreate(MPI_Comm, WLMDynamics *);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetPotential(WLMDynamics, WLMPotential);
PETSC_EXTERN PetscErrorCode WLMDynamicsGetPotential(WLMDynamics, WLMPotential *);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetFriction(WLMDynamics, PetscReal);
PETSC_EXTERN PetscErrorCode WLMDynamicsGetFriction(WLMDynamics, PetscReal *);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetFrictionVariant(WLMDynamics, WLMFrictionVariant);
PETSC_EXTERN PetscErrorCode WLMDynamicsGetFrictionVariant(WLMDynamics, WLMFrictionVariant *);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetSubsteps(WLMDynamics, PetscInt);
PETSC_EXTERN PetscErrorCode WLMDynamicsGetSubsteps(WLMDynamics, PetscInt *);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetTimeStep(WLMDynamics, PetscReal);
PETSC_EXTERN PetscErrorCode WLMDynamicsGetTimeStep(WLMDynamics, PetscReal *);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetOptionsPrefix(WLMDynamics, const char[]);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetFromOptions(WLMDynamics);
PETSC_EXTERN PetscErrorCode WLMDynamicsSetUp(WLMDynamics);
PETSC_EXTERN PetscErrorCode WLMDynamicsGetTS(WLMDynamics, TS *);
PETSC_EXTERN PetscErrorCode WLMDynamicsView(WLMDynamics, PetscViewer);
PETSC_EXTERN PetscErrorCode WLMDynamicsDestroy(WLMDynamics *);

PETSC_EXTERN PetscErrorCode WLMDynamicsRollout(WLMDynamics, PetscInt, const PetscReal[], PetscReal, const PetscReal[], const PetscReal[], PetscInt, const PetscReal[], PetscReal *const[], PetscReal *const[]);
PETSC_EXTERN PetscErrorCode WLMDynamicsRolloutForward(WLMDynamics, PetscInt, const PetscReal[], PetscReal, const PetscReal[], const PetscReal[], PetscInt, const PetscReal[], PetscReal *const[], PetscReal *const[]);
PETSC_EXTERN PetscErrorCode WLMDynamicsRolloutAdjoint(WLMDynamics, const PetscReal *const[], const PetscReal *const[], PetscReal[], PetscReal *, PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMDynamicsGetRolloutSteps(WLMDynamics, PetscInt *, const PetscInt *[]);

#endif
