/*
   A small rollout problem shared by the dynamics tests: N particles sharded
   over a communicator, a loss at several output times, and the finite
   difference checks of the rollout gradient.

   The loss is L = sum_m sum_i alpha_m / 2 |x_i(t_m) - y_{m,i}|^2
                 + beta / 2 sum_i |v_i(t_vel)|^2,
   so dL/dX(t_m) = alpha_m (x - y_m) and dL/dV(t_vel) = beta v.
*/
#ifndef WLMTEST_ROLLOUTCHECK_H
#define WLMTEST_ROLLOUTCHECK_H

#include <wlm/wlmdynamics.h>

#define ROLLOUT_MAX_OUT 8

/* An integrator configuration: TS type, RK type, friction variant, step rule. */
typedef struct {
  const char        *name;
  TSType             tstype;
  TSRKType           rktype; /* NULL unless tstype is TSRK */
  WLMFrictionVariant variant;
  PetscReal          dt;     /* fixed step, or 0 for substeps */
  PetscInt           substeps;
} WLMTestIntegrator;

typedef struct {
  MPI_Comm     comm;
  PetscInt     N, dim, n, start;   /* global count, local count and offset */
  PetscReal   *x0, *v0, *w;        /* whole ensemble on every rank; w may be NULL */
  PetscReal    t0;
  PetscInt     nout, vel_out;      /* output count, output carrying the velocity term */
  PetscReal    times[ROLLOUT_MAX_OUT], alpha[ROLLOUT_MAX_OUT], beta;
  PetscReal   *targets;            /* y_m, [nout][N dim] */
  WLMPotential pot;
  WLMDynamics  dyn;
  PetscReal   *X[ROLLOUT_MAX_OUT], *V[ROLLOUT_MAX_OUT], *gX[ROLLOUT_MAX_OUT], *gV[ROLLOUT_MAX_OUT]; /* local [n dim] */
} WLMTestRollout;

/* Relative errors of the directional derivatives of the rollout gradient against central differences. */
typedef struct {
  PetscReal theta, loggamma, x0, v0;
} WLMTestGradientErrors;

PetscErrorCode WLMTestRolloutCreate(MPI_Comm, const char[], PetscInt, PetscInt, PetscBool, uint64_t, WLMTestRollout *);
PetscErrorCode WLMTestRolloutDestroy(WLMTestRollout *);
PetscErrorCode WLMTestRolloutConfigure(WLMTestRollout *, const WLMTestIntegrator *, PetscReal);
PetscErrorCode WLMTestRolloutLoss(WLMTestRollout *, PetscReal *);
PetscErrorCode WLMTestRolloutGradient(WLMTestRollout *, PetscReal *, PetscReal[], PetscReal *, PetscReal[], PetscReal[]);
PetscErrorCode WLMTestRolloutCheckGradient(WLMTestRollout *, uint64_t, WLMTestGradientErrors *);

#endif
