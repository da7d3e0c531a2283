/*
   harmonic: an analytic potential with known answers, for tests and for the
   damped harmonic benchmark system.

     U(X) = k/2 sum_i w_i |x_i|^2 + c/4 sum_{i,j} w_i w_j |x_i - x_j|^2,    theta = (k, c)

   With W = sum_i w_i and S = sum_i w_i x_i (both over all ranks):

     U   = k/2 sum_i w_i |x_i|^2 + c/2 (W sum_i w_i |x_i|^2 - |S|^2)
     F_m = -w_m (k x_m + c (W x_m - S))

   so the acceleration F_m / w_m = -k x_m - c (W x_m - S) pulls each particle
   to the origin (k) and to the weighted mean (c).  For a cotangent Lambda,
   with L = sum_i w_i Lambda_i:

     grad_{x_m} (Lambda . F) = -w_m (k Lambda_m + c (W Lambda_m - L))
     d(Lambda . F)/dk        = -sum_m w_m Lambda_m . x_m
     d(Lambda . F)/dc        = -sum_m w_m Lambda_m . (W x_m - S)

   The parameter gradient, written as sums over particles so that each rank
   adds the terms of its own particles:

     dU/dk = 1/2 sum_m w_m |x_m|^2,   dU/dc = 1/2 sum_m w_m (W |x_m|^2 - x_m . S)
*/
#include <wlm/private/potentialimpl.h>

typedef struct {
  PetscReal k0, c0; /* values set by WLMPotentialInitializeParameters() */
} Harmonic;

/* Global sums W = sum w_i and S = sum w_i x_i (S has dim entries, at most 16 for this analytic model). */
#define HARMONIC_MAX_DIM 16

static PetscErrorCode HarmonicMoments(WLMPotential pot, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *y, PetscReal *W, PetscReal S[])
{
  const PetscInt dim = pot->dim;
  PetscReal      buf[HARMONIC_MAX_DIM + 1], mass = 0;
  PetscMPIInt    size;

  PetscFunctionBeginUser;
  if (!w) PetscCall(WLMPotentialGetUniformMass(pot, n, &mass));
  for (PetscInt k = 0; k <= dim; k++) buf[k] = 0;
  for (PetscInt i = 0; i < n; i++) {
    PetscReal wi = w ? w[i] : mass;

    buf[dim] += wi;
    for (PetscInt k = 0; k < dim; k++) buf[k] += wi * y[i * dim + k];
  }
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
  if (size > 1) PetscCall(MPIU_Allreduce(MPI_IN_PLACE, buf, (PetscMPIInt)(dim + 1), MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)pot)));
  *W = buf[dim];
  for (PetscInt k = 0; k < dim; k++) S[k] = buf[k];
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialEnergy_Harmonic(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U)
{
  const PetscInt  dim = pot->dim;
  const PetscReal k = pot->theta[0], c = pot->theta[1];
  PetscReal       W, S[HARMONIC_MAX_DIM], sumsq = 0, mass = 0, s2 = 0;
  PetscMPIInt     size;

  PetscFunctionBeginUser;
  PetscCall(HarmonicMoments(pot, n, x, w, x, &W, S));
  if (!w) PetscCall(WLMPotentialGetUniformMass(pot, n, &mass));
  for (PetscInt i = 0; i < n; i++) {
    PetscReal r2 = 0;

    for (PetscInt d = 0; d < dim; d++) r2 += x[i * dim + d] * x[i * dim + d];
    sumsq += (w ? w[i] : mass) * r2;
  }
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
  if (size > 1) PetscCall(MPIU_Allreduce(MPI_IN_PLACE, &sumsq, 1, MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)pot)));
  for (PetscInt d = 0; d < dim; d++) s2 += S[d] * S[d];
  *U = 0.5 * k * sumsq + 0.5 * c * (W * sumsq - s2);
  PetscCall(PetscLogFlops(6.0 * n * dim));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialForces_Harmonic(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U, PetscReal *F)
{
  const PetscInt  dim = pot->dim;
  const PetscReal k = pot->theta[0], c = pot->theta[1];
  PetscReal       W, S[HARMONIC_MAX_DIM], mass = 0;

  PetscFunctionBeginUser;
  if (U) PetscCall(WLMPotentialEnergy_Harmonic(pot, t, n, x, w, U));
  PetscCall(HarmonicMoments(pot, n, x, w, x, &W, S));
  if (!w) PetscCall(WLMPotentialGetUniformMass(pot, n, &mass));
  for (PetscInt i = 0; i < n; i++) {
    PetscReal wi = w ? w[i] : mass;

    for (PetscInt d = 0; d < dim; d++) F[i * dim + d] = -wi * (k * x[i * dim + d] + c * (W * x[i * dim + d] - S[d]));
  }
  PetscCall(PetscLogFlops(6.0 * n * dim));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialProducts_Harmonic(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, PetscReal *gradx, PetscReal *gradtheta)
{
  const PetscInt  dim = pot->dim;
  const PetscReal k = pot->theta[0], c = pot->theta[1];
  PetscReal       W, S[HARMONIC_MAX_DIM], L[HARMONIC_MAX_DIM], mass = 0;

  PetscFunctionBeginUser;
  PetscCall(HarmonicMoments(pot, n, x, w, x, &W, S));
  PetscCall(HarmonicMoments(pot, n, x, w, lambda, &W, L));
  if (!w) PetscCall(WLMPotentialGetUniformMass(pot, n, &mass));
  for (PetscInt i = 0; i < n; i++) {
    PetscReal wi = w ? w[i] : mass;

    for (PetscInt d = 0; d < dim; d++) {
      const PetscReal li = lambda[i * dim + d], xi = x[i * dim + d];

      if (gradx) gradx[i * dim + d] = -wi * (k * li + c * (W * li - L[d]));
      if (gradtheta) {
        gradtheta[0] -= wi * li * xi;
        gradtheta[1] -= wi * li * (W * xi - S[d]);
      }
    }
  }
  PetscCall(PetscLogFlops(12.0 * n * dim));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialParameterGradient_Harmonic(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U, PetscReal *gradtheta)
{
  const PetscInt dim = pot->dim;
  PetscReal      W, S[HARMONIC_MAX_DIM], mass = 0;

  PetscFunctionBeginUser;
  if (U) PetscCall(WLMPotentialEnergy_Harmonic(pot, t, n, x, w, U));
  PetscCall(HarmonicMoments(pot, n, x, w, x, &W, S));
  if (!w) PetscCall(WLMPotentialGetUniformMass(pot, n, &mass));
  for (PetscInt i = 0; i < n; i++) {
    const PetscReal wi = w ? w[i] : mass;
    PetscReal       r2 = 0, xs = 0;

    for (PetscInt d = 0; d < dim; d++) {
      r2 += x[i * dim + d] * x[i * dim + d];
      xs += x[i * dim + d] * S[d];
    }
    gradtheta[0] += 0.5 * wi * r2;
    gradtheta[1] += 0.5 * wi * (W * r2 - xs);
  }
  PetscCall(PetscLogFlops(4.0 * n * dim + 7.0 * n));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetFromOptions_Harmonic(WLMPotential pot, PetscOptionItems *PetscOptionsObject)
{
  Harmonic *h = (Harmonic *)pot->data;

  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "Harmonic potential options");
  PetscCall(PetscOptionsReal("-wlm_potential_harmonic_k", "Initial stiffness k of the pull to the origin", "", h->k0, &h->k0, NULL));
  PetscCall(PetscOptionsReal("-wlm_potential_harmonic_c", "Initial stiffness c of the pull to the weighted mean", "", h->c0, &h->c0, NULL));
  PetscOptionsHeadEnd();
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetUp_Harmonic(WLMPotential pot)
{
  PetscFunctionBeginUser;
  PetscCheck(!pot->time_input, PetscObjectComm((PetscObject)pot), PETSC_ERR_SUP, "The harmonic potential does not depend on time; turn off -wlm_potential_time_input");
  PetscCheck(pot->dim <= HARMONIC_MAX_DIM, PetscObjectComm((PetscObject)pot), PETSC_ERR_SUP, "The harmonic potential supports up to %d dimensions, not %" PetscInt_FMT, HARMONIC_MAX_DIM, pot->dim);
  pot->nparam = 2;
  PetscFunctionReturn(0);
}

/* The harmonic model starts from the configured (k, c) whatever the seed. */
static PetscErrorCode WLMPotentialInitialize_Harmonic(WLMPotential pot, uint64_t seed)
{
  Harmonic *h = (Harmonic *)pot->data;

  PetscFunctionBeginUser;
  pot->theta[0] = h->k0;
  pot->theta[1] = h->c0;
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialView_Harmonic(WLMPotential pot, PetscViewer viewer)
{
  PetscFunctionBeginUser;
  if (pot->setupcalled) PetscCall(PetscViewerASCIIPrintf(viewer, "k = %g, c = %g\n", (double)pot->theta[0], (double)pot->theta[1]));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialDestroy_Harmonic(WLMPotential pot)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(pot->data));
  PetscFunctionReturn(0);
}

/*MC
  WLMPOTENTIALHARMONIC - "harmonic": U = k/2 sum_i w_i |x_i|^2 + c/4 sum_ij w_i w_j |x_i - x_j|^2 with parameters (k, c).

  Options Database Keys:
+ -wlm_potential_harmonic_k <1> - initial k
- -wlm_potential_harmonic_c <0> - initial c
M*/
PETSC_EXTERN PetscErrorCode WLMPotentialCreate_Harmonic(WLMPotential pot)
{
  Harmonic *h;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&h));
  h->k0                       = 1.0;
  h->c0                       = 0.0;
  pot->data                   = h;
  pot->ops->setfromoptions    = WLMPotentialSetFromOptions_Harmonic;
  pot->ops->setup             = WLMPotentialSetUp_Harmonic;
  pot->ops->initialize        = WLMPotentialInitialize_Harmonic;
  pot->ops->energy            = WLMPotentialEnergy_Harmonic;
  pot->ops->forces            = WLMPotentialForces_Harmonic;
  pot->ops->products          = WLMPotentialProducts_Harmonic;
  pot->ops->parametergradient = WLMPotentialParameterGradient_Harmonic;
  pot->ops->view              = WLMPotentialView_Harmonic;
  pot->ops->destroy           = WLMPotentialDestroy_Harmonic;
  PetscFunctionReturn(0);
}
