/*
   DICE velocity estimate: action matching on the displacement interpolation.

   A scalar field phi_theta(x, t) (an external-type MLP with time input) is
   fitted so that grad_x phi is the gradient velocity field that best matches
   a path of measures joining the allowed snapshots q_0, ..., q_K.  Between
   q_k and q_{k+1} (times t_k, t_{k+1} = t_k + h_k) the path moves each
   particle x of q_k on a straight line to T_k(x), the barycentric projection
   of the entropic OT plan onto q_{k+1} (the map of the ot estimator):

     z(s) = x + s (T_k(x) - x),   t(s) = t_k + s h_k,   s in [0, 1].

   Action matching on this path minimizes

     L_k = E_{q_k}[phi(x, t_k)] - E_{q_k}[phi(T_k(x), t_{k+1})]
         + h_k E_{x, s}[ |grad phi(z, t)|^2 / 2 + d_t phi(z, t) ],

   which by the fundamental theorem along each line equals
   h_k E[|grad phi|^2 / 2 - grad phi . u] with u = (T_k(x) - x)/h_k the path's
   velocity: it is bounded below and minimal when grad phi is the projection
   of u on gradient fields.  L = sum_k L_k; each Adam step draws particles of
   every q_k and one s per interval (the model takes one time per call).  The
   estimate of snapshot j is v_i = grad_x phi(x_i, t_j), a smooth, curl-free
   and time-consistent version of the ot estimate.

   With U(t) = sum_i w_i phi(z_i, t), w_i = 1/n, the model gives every
   gradient: E[phi] through the parameter gradient of U, E[|grad phi|^2 / 2]
   through the parameter product with Lambda_i = F_i / w_i (because
   grad_x phi(z_i) = -F_i / w_i), and E[d_t phi] through a central difference
   in t of the parameter gradient.
*/
#include <wlm/private/velocityimpl.h>
#include <wlm/wlmpotential.h>
#include <wlm/wlmadamw.h>
#include <wlm/wlmsys.h>

#define DICE_MAX_WIDTHS 8

typedef struct {
  PetscInt      nwidths, widths[DICE_MAX_WIDTHS];
  PetscInt      steps, batch;
  PetscReal     lr, weight_decay;
  PetscInt      seed;
  WLMPotential  phi;
  WLMAdamW     *opt;
  PetscReal   **map;                           /* T_k(x) for every particle of allowed snapshot k < K [N_k][dim] */
  PetscReal    *grad, *work;                   /* [nparam] */
  PetscReal    *xb, *tb, *z, *F, *lambda;      /* [nmax][dim] */
  PetscInt     *perm;                          /* [nmax] */
  PetscReal     objective;                     /* objective of the last step */
} VelocityDICE;

/* Default settings: two hidden layers of 64, 2000 steps of 256 particles per snapshot, rate 1e-3. */
static PetscErrorCode CreateDefaults(WLMVelocity vel)
{
  VelocityDICE *dc;

  PetscFunctionBeginUser;
  if (vel->dice) PetscFunctionReturn(0);
  PetscCall(PetscNew(&dc));
  dc->nwidths      = 2;
  dc->widths[0]    = 64;
  dc->widths[1]    = 64;
  dc->steps        = 2000;
  dc->batch        = 256;
  dc->lr           = 1e-3;
  dc->weight_decay = 1e-4;
  vel->dice        = dc;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMVelocitySetFromOptions_DICE(WLMVelocity vel, PetscOptionItems *PetscOptionsObject)
{
  VelocityDICE *dc;
  PetscInt      n = DICE_MAX_WIDTHS;
  PetscBool     set;

  PetscFunctionBeginUser;
  PetscCall(CreateDefaults(vel));
  dc = (VelocityDICE *)vel->dice;
  PetscOptionsHeadBegin(PetscOptionsObject, "DICE velocity estimate (action matching)");
  PetscCall(PetscOptionsIntArray("-wlm_velocity_dice_hidden", "Hidden widths of the velocity potential phi(x, t)", "", dc->widths, &n, &set));
  if (set) dc->nwidths = n;
  PetscCall(PetscOptionsInt("-wlm_velocity_dice_steps", "Adam steps of the fit", "", dc->steps, &dc->steps, NULL));
  PetscCall(PetscOptionsInt("-wlm_velocity_dice_batch", "Particles drawn from each snapshot per step (0: all)", "", dc->batch, &dc->batch, NULL));
  PetscCall(PetscOptionsReal("-wlm_velocity_dice_lr", "Learning rate of the fit", "", dc->lr, &dc->lr, NULL));
  PetscCall(PetscOptionsReal("-wlm_velocity_dice_weight_decay", "Weight decay of the fit", "", dc->weight_decay, &dc->weight_decay, NULL));
  PetscCall(PetscOptionsInt("-wlm_velocity_dice_seed", "Seed of the initialization and of the particle draws", "", dc->seed, &dc->seed, NULL));
  PetscOptionsHeadEnd();
  PetscFunctionReturn(0);
}

/* Creates phi(x, t) and the optimizer state, sized for the largest allowed snapshot. */
static PetscErrorCode CreateModel(WLMVelocity vel, VelocityDICE *dc)
{
  PetscInt    np, nmax = 0;
  WLMSnapshot snap;

  PetscFunctionBeginUser;
  for (PetscInt k = 0; k < vel->nallowed; k++) {
    PetscCall(WLMSnapshotsGetSnapshot(vel->snaps, vel->allowed[k], &snap));
    nmax = PetscMax(nmax, snap.N);
  }
  PetscCall(WLMPotentialCreate(PETSC_COMM_SELF, &dc->phi));
  PetscCall(WLMPotentialSetType(dc->phi, WLMPOTENTIALEXTERNAL));
  PetscCall(WLMPotentialSetDimension(dc->phi, vel->dim));
  PetscCall(WLMPotentialSetTimeInput(dc->phi, PETSC_TRUE));
  PetscCall(WLMPotentialSetHidden(dc->phi, dc->nwidths, dc->widths));
  PetscCall(WLMPotentialSetMaxParticles(dc->phi, nmax, nmax));
  PetscCall(WLMPotentialSetUp(dc->phi));
  PetscCall(WLMPotentialInitializeParameters(dc->phi, (uint64_t)dc->seed));
  PetscCall(WLMPotentialGetNumParameters(dc->phi, &np));
  PetscCall(WLMAdamWCreate(np, &dc->opt));
  PetscCall(WLMAdamWSetGroup(dc->opt, 0, 0, np, dc->lr, dc->weight_decay));
  PetscCall(PetscMalloc2(np, &dc->grad, np, &dc->work));
  PetscCall(PetscMalloc6(nmax * vel->dim, &dc->xb, nmax * vel->dim, &dc->tb, nmax * vel->dim, &dc->z, nmax * vel->dim, &dc->F, nmax * vel->dim, &dc->lambda, nmax, &dc->perm));

  /* the straight paths of the interpolation, from the entropic OT maps between consecutive snapshots */
  PetscCall(PetscCalloc1(vel->nallowed - 1, &dc->map));
  for (PetscInt k = 0; k + 1 < vel->nallowed; k++) {
    PetscCall(WLMSnapshotsGetSnapshot(vel->snaps, vel->allowed[k], &snap));
    PetscCall(PetscMalloc1(snap.N * vel->dim, &dc->map[k]));
    PetscCall(WLMVelocityTransportMap(vel, vel->allowed[k], vel->allowed[k + 1], dc->map[k]));
  }
  PetscFunctionReturn(0);
}

/* Adds sign * grad_theta U(t) on the n points x to the gradient and sign * U(t) to the objective. */
static PetscErrorCode AddEnergy(VelocityDICE *dc, PetscReal sign, PetscReal t, PetscInt n, const PetscReal *x, PetscReal *objective)
{
  const PetscInt np = dc->opt->n;
  PetscReal      U;

  PetscFunctionBeginUser;
  PetscCall(PetscArrayzero(dc->work, np));
  PetscCall(WLMPotentialComputeParameterGradient(dc->phi, t, n, x, NULL, &U, dc->work));
  for (PetscInt i = 0; i < np; i++) dc->grad[i] += sign * dc->work[i];
  *objective += sign * U;
  PetscFunctionReturn(0);
}

/*
   Adds L_k and its gradient for the particles perm[0..n-1] of allowed
   snapshot k and the path parameter s.
*/
static PetscErrorCode IntervalTerms(WLMVelocity vel, VelocityDICE *dc, PetscInt k, PetscInt n, PetscReal s, PetscReal *objective)
{
  const PetscInt   dim = vel->dim;
  const PetscReal *t, w = 1.0 / n;
  PetscReal        tk, h, tz, delta, kinetic = 0;
  WLMSnapshot      snap;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsGetTimes(vel->snaps, &t));
  PetscCall(WLMSnapshotsGetSnapshot(vel->snaps, vel->allowed[k], &snap));
  tk    = t[vel->allowed[k]];
  h     = t[vel->allowed[k + 1]] - tk;
  tz    = tk + s * h;
  delta = 1e-3 * h;
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt d = 0; d < dim; d++) {
      const PetscReal x = snap.x[dc->perm[i] * dim + d], y = dc->map[k][dc->perm[i] * dim + d];

      dc->xb[i * dim + d] = x;
      dc->tb[i * dim + d] = y;
      dc->z[i * dim + d]  = x + s * (y - x);
    }
  }

  /* end points: +E[phi(x, t_k)] - E[phi(T(x), t_{k+1})] */
  PetscCall(AddEnergy(dc, 1.0, tk, n, dc->xb, objective));
  PetscCall(AddEnergy(dc, -1.0, tk + h, n, dc->tb, objective));

  /* h E[|grad phi|^2 / 2] at the path point: the parameter product with Lambda = h F / w */
  PetscCall(WLMPotentialComputeForces(dc->phi, tz, n, dc->z, NULL, NULL, dc->F));
  for (PetscInt i = 0; i < n * dim; i++) {
    dc->lambda[i] = h * dc->F[i] / w;
    kinetic += 0.5 * w * (dc->F[i] / w) * (dc->F[i] / w);
  }
  PetscCall(WLMPotentialComputeProducts(dc->phi, tz, n, dc->z, NULL, dc->lambda, NULL, dc->grad));
  *objective += h * kinetic;

  /* h E[d_t phi] at the path point, by a central difference in t */
  PetscCall(AddEnergy(dc, h / (2 * delta), tz + delta, n, dc->z, objective));
  PetscCall(AddEnergy(dc, -h / (2 * delta), tz - delta, n, dc->z, objective));
  PetscFunctionReturn(0);
}

/* One Adam step on L, with fresh particles of every snapshot and a fresh path parameter per interval. */
static PetscErrorCode FitStep(WLMVelocity vel, VelocityDICE *dc, PetscInt step)
{
  PetscReal  *theta, gnorm;
  WLMSnapshot snap;
  WLMRandom   r;

  PetscFunctionBeginUser;
  PetscCall(PetscArrayzero(dc->grad, dc->opt->n));
  dc->objective = 0;
  WLMRandomSeed(&r, (uint64_t)dc->seed, (uint64_t)step);
  for (PetscInt k = 0; k + 1 < vel->nallowed; k++) {
    PetscInt n;

    PetscCall(WLMSnapshotsGetSnapshot(vel->snaps, vel->allowed[k], &snap));
    n = dc->batch > 0 ? PetscMin(dc->batch, snap.N) : snap.N;
    WLMRandomSample(&r, snap.N, n, dc->perm);
    PetscCall(IntervalTerms(vel, dc, k, n, WLMRandomUniform(&r), &dc->objective));
  }
  PetscCall(WLMPotentialGetParameterArray(dc->phi, &theta));
  PetscCall(WLMAdamWStep(dc->opt, theta, dc->grad, &gnorm));
  PetscCheck(!PetscIsInfOrNanReal(dc->objective) && !PetscIsInfOrNanReal(gnorm), PETSC_COMM_SELF, PETSC_ERR_FP, "The DICE fit diverged at step %" PetscInt_FMT "; lower -wlm_velocity_dice_lr (now %g)", step, (double)dc->lr);
  PetscFunctionReturn(0);
}

/*@
  WLMVelocitySetUp_DICE - Fits the velocity potential phi(x, t) to the allowed snapshots.

  Notes:
  Every rank fits the same model with the same draws, so the estimate is the
  same on every rank without communication.
@*/
PetscErrorCode WLMVelocitySetUp_DICE(WLMVelocity vel)
{
  VelocityDICE *dc;
  MPI_Comm      comm = PetscObjectComm((PetscObject)vel);

  PetscFunctionBeginUser;
  PetscCall(CreateDefaults(vel));
  dc = (VelocityDICE *)vel->dice;
  PetscCheck(dc->steps >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_velocity_dice_steps %" PetscInt_FMT " is invalid; use at least 1", dc->steps);
  PetscCheck(dc->batch >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_velocity_dice_batch %" PetscInt_FMT " is negative; use 0 for all particles", dc->batch);
  PetscCheck(dc->lr > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_velocity_dice_lr %g is invalid; use a positive value", (double)dc->lr);
  if (!dc->phi) PetscCall(CreateModel(vel, dc));
  for (PetscInt step = 0; step < dc->steps; step++) PetscCall(FitStep(vel, dc, step));
  PetscCall(PetscInfo(vel, "DICE fit: objective %g after %" PetscInt_FMT " steps\n", (double)dc->objective, dc->steps));
  PetscFunctionReturn(0);
}

/* v_i = grad_x phi(x_i, t_s) = -F_i / w_i with w_i = 1/N. */
PetscErrorCode WLMVelocityCompute_DICE(WLMVelocity vel, PetscInt s, PetscReal v[])
{
  VelocityDICE *dc = (VelocityDICE *)vel->dice;
  WLMSnapshot   snap;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsGetSnapshot(vel->snaps, s, &snap));
  PetscCall(WLMPotentialComputeForces(dc->phi, snap.t, snap.N, snap.x, NULL, NULL, v));
  for (PetscInt i = 0; i < snap.N * vel->dim; i++) v[i] *= -(PetscReal)snap.N;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMVelocityReset_DICE(WLMVelocity vel)
{
  VelocityDICE *dc = (VelocityDICE *)vel->dice;

  PetscFunctionBeginUser;
  if (!dc) PetscFunctionReturn(0);
  PetscCall(WLMPotentialDestroy(&dc->phi));
  PetscCall(WLMAdamWDestroy(&dc->opt));
  PetscCall(PetscFree2(dc->grad, dc->work));
  PetscCall(PetscFree6(dc->xb, dc->tb, dc->z, dc->F, dc->lambda, dc->perm));
  for (PetscInt k = 0; dc->map && k + 1 < vel->nallowed; k++) PetscCall(PetscFree(dc->map[k]));
  PetscCall(PetscFree(dc->map));
  PetscCall(PetscFree(vel->dice));
  PetscFunctionReturn(0);
}
