/*
   Implementation side of WLMDynamics: the object's fields, shared between the
   life-cycle code, the right-hand side and shell Jacobians of TSRK, the
   TSWLMVERLET type and the rollout driver.
*/
#ifndef WLMDYNAMICSIMPL_H
#define WLMDYNAMICSIMPL_H

#include <wlm/wlmdynamics.h>
#include <petsc/private/petscimpl.h>

PETSC_EXTERN PetscLogEvent WLMDYNAMICS_Rollout, WLMDYNAMICS_Adjoint, WLMDYNAMICS_Step, WLMDYNAMICS_AdjointStep, WLMDYNAMICS_Force, WLMDYNAMICS_Products;

typedef struct _WLMDynamicsOps *WLMDynamicsOps;
struct _WLMDynamicsOps {
  PetscErrorCode (*view)(WLMDynamics, PetscViewer); /* unused: WLMDynamics has no subtypes */
};

/* Key of a state at which shell Jacobians were evaluated or a product was taken. */
typedef struct {
  PetscObjectId    id;
  PetscObjectState state;
  PetscReal        time;
} WLMVecKey;

struct _p_WLMDynamics {
  PETSCHEADER(struct _WLMDynamicsOps);
  WLMPotential       pot;
  PetscReal          friction; /* gamma >= 0 */
  WLMFrictionVariant variant;
  PetscInt           substeps; /* steps per output interval when dt = 0 */
  PetscReal          dt;       /* fixed time step, or 0 to split intervals into substeps */
  TS                 ts;
  PetscBool          setupcalled;

  /* sizes of the current workspaces; n = -1 before the first rollout */
  PetscInt           dim, n, nparam;
  Vec                U;           /* state (X, V), local size 2 n dim */
  Vec                lambda;      /* cotangent of U */
  Vec                mu;          /* cotangent of (theta, log gamma), local size nparam + 1 on every rank */
  Mat                J, Jp;       /* shell Jacobians df/dU and df/d(theta, log gamma) for TSRK */
  PetscReal         *mass;        /* masses [n] of the current rollout */
  PetscReal         *invmass;     /* 1 / w_i [n] */
  PetscBool          uniform;     /* masses are 1/N; the potential gets w = NULL */
  PetscReal         *work_lambda; /* force cotangent lambda / w [n dim] */
  PetscReal         *work_force;  /* [n dim] */

  /* step plan of the current rollout */
  PetscInt   nout, nsteps;
  PetscInt   nout_alloc, nsteps_alloc;
  PetscReal *plantime;  /* planned end time of each step, [nsteps + 1], plantime[0] = t0 */
  PetscInt  *outstep;   /* step index of each output time, [nout + 1], outstep[0] = 0 */
  PetscReal *const *Xout, *const *Vout; /* caller's output arrays during WLMDynamicsRollout() */
  PetscInt   nextout;   /* next output to record */
  char       integrator[64]; /* TS type (and RK type) the TS was set up for; a change resets the TS */
  PetscBool  in_rollout;
  PetscBool  adjoint_ready; /* a rollout is stored and its adjoint not yet taken */
  PetscBool  record;        /* the current rollout stores its steps for the adjoint (false in WLMDynamicsRolloutForward()) */

  /* shell Jacobian state: the point U of the last RHSJacobian(P) call and a product cache */
  Vec        jac_point;
  WLMVecKey  jac_key;
  PetscInt   jac_generation;     /* increases when the point changes */
  PetscReal *cache_gradx;        /* J_a^T lambda at the point [n dim] */
  PetscReal *cache_gradtheta;    /* this rank's share of (d a / d theta)^T lambda [nparam] */
  WLMVecKey  cache_key;          /* cotangent Vec the cache belongs to */
  PetscInt   cache_generation;   /* jac_generation of the cache */
};

PETSC_INTERN PetscErrorCode WLMDynamicsComputeAcceleration(WLMDynamics, PetscReal, const PetscReal[], PetscReal[]);
PETSC_INTERN PetscErrorCode WLMDynamicsComputeAccelerationProducts(WLMDynamics, PetscReal, const PetscReal[], const PetscReal[], PetscReal[], PetscReal[]);
PETSC_INTERN PetscErrorCode WLMDynamicsRHSFunction(TS, PetscReal, Vec, Vec, void *);
PETSC_INTERN PetscErrorCode WLMDynamicsRHSJacobian(TS, PetscReal, Vec, Mat, Mat, void *);
PETSC_INTERN PetscErrorCode WLMDynamicsRHSJacobianP(TS, PetscReal, Vec, Mat, void *);
PETSC_INTERN PetscErrorCode WLMDynamicsCreateShellJacobians(WLMDynamics);
PETSC_INTERN PetscErrorCode WLMDynamicsGetFromTS(TS, WLMDynamics *);

/*
   Coefficients of one step of size dt of both Verlet variants, written as

     v_h = m v + c1 a(x);   x' = x + dt v_h;   v' = m v_h + c2 a(x'),

   exact: m = e^{-gamma dt/2}, c1 = dt/2, c2 = m dt/2; reference: c1 = c2 = m dt/2 + 1 - m.
   dm, dc1, dc2 are the derivatives with respect to log(gamma).
*/
typedef struct {
  PetscReal m, c1, c2;
  PetscReal dm, dc1, dc2;
} WLMVerletCoefficients;

PETSC_INTERN PetscErrorCode WLMDynamicsGetVerletCoefficients(WLMDynamics, PetscReal, WLMVerletCoefficients *);

PETSC_INTERN PetscErrorCode TSCreate_WLMVerlet(TS);
PETSC_INTERN PetscErrorCode TSTrajectoryCreate_WLMTape(TSTrajectory, TS);
PETSC_INTERN PetscErrorCode TSWLMVerletRestart(TS);

#endif
