/*
   Finite-difference and sharding checks for WLMPotential types.

   Central differences with step h have truncation error O(h^2) and rounding
   error O(eps |U| / h); h = 1e-5 balances both near 1e-10 relative for smooth
   models with O(1) derivatives, well below the 1e-6 acceptance bound.
*/
#include "potentialcheck.h"
#include <wlm/wlmsys.h>
#include <wlm/private/potentialimpl.h>
#include <stdio.h>
#include <string.h>
#include <math.h>

static const PetscReal fd_step = 1e-5;

/* Fills a[0..n-1] with normal deviates times scale; the same seed gives the same array on every rank. */
PetscErrorCode WLMTestRandomArray(uint64_t seed, PetscInt n, PetscReal scale, PetscReal a[])
{
  WLMRandom r;

  PetscFunctionBeginUser;
  WLMRandomSeed(&r, seed, 0);
  for (PetscInt i = 0; i < n; i++) a[i] = scale * WLMRandomNormal(&r);
  PetscFunctionReturn(0);
}

/*
   V(in) of an MLP by explicit loops over the parameter layout of the potential
   types (per hidden layer W [w_in][w_out] row-major then b, then the output
   weights and bias), with activations from libm.  At most 64 units per layer.
*/
PetscReal WLMTestReferenceMLP(const PetscReal theta[], PetscInt nin, PetscInt nlayers, const PetscInt width[], WLMActivation act, const PetscReal in[])
{
  PetscReal a[64], z[64], out;
  PetscInt  win = nin;

  for (PetscInt k = 0; k < nin; k++) a[k] = in[k];
  for (PetscInt l = 0; l < nlayers; l++) {
    const PetscReal *W = theta, *b = theta + win * width[l];

    for (PetscInt j = 0; j < width[l]; j++) {
      z[j] = b[j];
      for (PetscInt k = 0; k < win; k++) z[j] += a[k] * W[k * width[l] + j];
    }
    for (PetscInt j = 0; j < width[l]; j++) {
      const PetscReal v = z[j], sig = 1.0 / (1.0 + exp(-v));

      switch (act) {
      case WLM_ACTIVATION_SILU:
        a[j] = v * sig;
        break;
      case WLM_ACTIVATION_TANH:
        a[j] = tanh(v);
        break;
      case WLM_ACTIVATION_SOFTPLUS:
        a[j] = log1p(exp(v));
        break;
      case WLM_ACTIVATION_GELU:
        a[j] = 0.5 * v * (1.0 + tanh(sqrt(2.0 / PETSC_PI) * (v + 0.044715 * v * v * v)));
        break;
      }
    }
    theta += (win + 1) * width[l];
    win = width[l];
  }
  out = theta[win];
  for (PetscInt k = 0; k < win; k++) out += a[k] * theta[k];
  return out;
}

static PetscReal Dot(PetscInt n, const PetscReal *a, const PetscReal *b)
{
  PetscReal s = 0;

  for (PetscInt i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* Relative error of two numbers, with the scale of the quantity as floor. */
static PetscReal RelErr(PetscReal a, PetscReal b, PetscReal scale)
{
  return PetscAbsReal(a - b) / PetscMax(PetscMax(PetscAbsReal(a), PetscAbsReal(b)), scale);
}

/*
   Relative error of grad_theta U . eta against central differences of U
   along eta at theta.  Uses thetas and gradtheta [nparam] as workspace and
   restores the parameters to theta.
*/
static PetscErrorCode GradientError(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], const PetscReal theta[], const PetscReal eta[], PetscReal thetas[], PetscReal gradtheta[], PetscReal *err)
{
  PetscInt  np;
  PetscReal Up, Um, fd, an, scale;

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialGetNumParameters(pot, &np));
  PetscCall(PetscArrayzero(gradtheta, np));
  PetscCall(WLMPotentialComputeParameterGradient(pot, t, n, x, w, NULL, gradtheta));
  for (PetscInt k = 0; k < np; k++) thetas[k] = theta[k] + fd_step * eta[k];
  PetscCall(WLMPotentialSetParameters(pot, thetas));
  PetscCall(WLMPotentialComputeEnergy(pot, t, n, x, w, &Up));
  for (PetscInt k = 0; k < np; k++) thetas[k] = theta[k] - fd_step * eta[k];
  PetscCall(WLMPotentialSetParameters(pot, thetas));
  PetscCall(WLMPotentialComputeEnergy(pot, t, n, x, w, &Um));
  PetscCall(WLMPotentialSetParameters(pot, theta));
  fd    = (Up - Um) / (2 * fd_step);
  an    = Dot(np, gradtheta, eta);
  scale = PetscSqrtReal(Dot(np, gradtheta, gradtheta) * Dot(np, eta, eta));
  *err  = RelErr(an, fd, scale);
  PetscFunctionReturn(0);
}

/*
   Checks the four derivatives of pot at (t, x, w) on one rank; n particles.
   The checks along random directions catch errors in any coordinate or
   parameter with probability one.
*/
PetscErrorCode WLMTestPotentialDerivatives(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], uint64_t seed, WLMTestDerivativeErrors *err)
{
  PetscInt   dim, np, nx;
  PetscReal *delta, *lambda, *F, *Fp, *Fm, *xs, *gradx, *gradtheta, *theta, *eta, *thetas;
  PetscReal  Up, Um, fd, an, scale;

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialGetDimension(pot, &dim));
  PetscCall(WLMPotentialGetNumParameters(pot, &np));
  nx = n * dim;
  PetscCall(PetscMalloc6(nx, &delta, nx, &lambda, nx, &F, nx, &Fp, nx, &Fm, nx, &xs));
  PetscCall(PetscMalloc5(nx, &gradx, np, &gradtheta, np, &theta, np, &eta, np, &thetas));
  PetscCall(WLMTestRandomArray(seed, nx, 1.0, delta));
  PetscCall(WLMTestRandomArray(seed + 1, nx, 1.0, lambda));
  PetscCall(WLMTestRandomArray(seed + 2, np, 1.0, eta));

  /* forces against the energy along delta */
  PetscCall(WLMPotentialComputeForces(pot, t, n, x, w, NULL, F));
  for (PetscInt i = 0; i < nx; i++) xs[i] = x[i] + fd_step * delta[i];
  PetscCall(WLMPotentialComputeEnergy(pot, t, n, xs, w, &Up));
  for (PetscInt i = 0; i < nx; i++) xs[i] = x[i] - fd_step * delta[i];
  PetscCall(WLMPotentialComputeEnergy(pot, t, n, xs, w, &Um));
  fd          = -(Up - Um) / (2 * fd_step);
  an          = Dot(nx, F, delta);
  scale       = PetscSqrtReal(Dot(nx, F, F) * Dot(nx, delta, delta));
  err->forces = RelErr(an, fd, scale);

  /* state product against differences of the forces along lambda (H is symmetric) */
  PetscCall(PetscArrayzero(gradtheta, np));
  PetscCall(WLMPotentialComputeProducts(pot, t, n, x, w, lambda, gradx, gradtheta));
  for (PetscInt i = 0; i < nx; i++) xs[i] = x[i] + fd_step * lambda[i];
  PetscCall(WLMPotentialComputeForces(pot, t, n, xs, w, NULL, Fp));
  for (PetscInt i = 0; i < nx; i++) xs[i] = x[i] - fd_step * lambda[i];
  PetscCall(WLMPotentialComputeForces(pot, t, n, xs, w, NULL, Fm));
  {
    PetscReal diff2 = 0, norm2 = 0;

    for (PetscInt i = 0; i < nx; i++) {
      PetscReal d = (Fp[i] - Fm[i]) / (2 * fd_step);

      diff2 += (d - gradx[i]) * (d - gradx[i]);
      norm2 += gradx[i] * gradx[i];
    }
    err->state = PetscSqrtReal(diff2) / PetscMax(PetscSqrtReal(norm2), PETSC_SMALL);
  }

  /* parameter product against differences of lambda . F along eta */
  PetscCall(WLMPotentialGetParameters(pot, theta));
  for (PetscInt k = 0; k < np; k++) thetas[k] = theta[k] + fd_step * eta[k];
  PetscCall(WLMPotentialSetParameters(pot, thetas));
  PetscCall(WLMPotentialComputeForces(pot, t, n, x, w, NULL, Fp));
  for (PetscInt k = 0; k < np; k++) thetas[k] = theta[k] - fd_step * eta[k];
  PetscCall(WLMPotentialSetParameters(pot, thetas));
  PetscCall(WLMPotentialComputeForces(pot, t, n, x, w, NULL, Fm));
  PetscCall(WLMPotentialSetParameters(pot, theta));
  fd              = (Dot(nx, lambda, Fp) - Dot(nx, lambda, Fm)) / (2 * fd_step);
  an              = Dot(np, gradtheta, eta);
  scale           = PetscSqrtReal(Dot(np, gradtheta, gradtheta) * Dot(np, eta, eta));
  err->parameters = RelErr(an, fd, scale);

  /* parameter gradient against differences of U along eta; test-only types such as the dynamics tests' wellpair may lack it */
  err->gradient = 0;
  if (pot->ops->parametergradient) PetscCall(GradientError(pot, t, n, x, w, theta, eta, thetas, gradtheta, &err->gradient));

  PetscCall(PetscFree6(delta, lambda, F, Fp, Fm, xs));
  PetscCall(PetscFree5(gradx, gradtheta, theta, eta, thetas));
  PetscFunctionReturn(0);
}

/* max_i |a_i - b_i| / max_j |ref_j| over the whole reference array ref */
static PetscReal MaxScaledDifference(PetscInt n, const PetscReal *a, const PetscReal *b, PetscInt nref, const PetscReal *ref)
{
  PetscReal scale = PETSC_SMALL, diff = 0;

  for (PetscInt i = 0; i < nref; i++) scale = PetscMax(scale, PetscAbsReal(ref[i]));
  for (PetscInt i = 0; i < n; i++) diff = PetscMax(diff, PetscAbsReal(a[i] - b[i]));
  return diff / scale;
}

/*
   Largest relative difference between a sharded model (on a communicator of
   several ranks) and a single-rank model with the same parameters, over U,
   F, the state product and the summed parameter product.  For types that
   have it, the comparison also covers U and the summed parameter gradient
   from WLMPotentialComputeParameterGradient().  x and w
   hold the whole population on every rank; each rank passes its contiguous
   block to the sharded model.
*/
PetscErrorCode WLMTestPotentialShardedDifference(WLMPotential sharded, WLMPotential single, PetscReal t, PetscInt N, const PetscReal x[], const PetscReal w[], uint64_t seed, PetscReal *maxdiff)
{
  MPI_Comm    comm = PetscObjectComm((PetscObject)sharded);
  PetscMPIInt size, rank;
  PetscInt    dim, np, start, n;
  PetscReal  *lambda, *F1, *G1, *T1, *Fs, *Gs, *Ts, *P1, *Ps, U1, Us, UP1, UPs, diff;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(WLMPotentialGetDimension(single, &dim));
  PetscCall(WLMPotentialGetNumParameters(single, &np));
  start = (N * rank) / size;
  n     = (N * (rank + 1)) / size - start;
  PetscCall(PetscMalloc7(N * dim, &lambda, N * dim, &F1, N * dim, &G1, np, &T1, N * dim, &Fs, N * dim, &Gs, np, &Ts));
  PetscCall(PetscCalloc2(np, &P1, np, &Ps));
  PetscCall(WLMTestRandomArray(seed, N * dim, 1.0, lambda));
  PetscCall(PetscArrayzero(T1, np));
  PetscCall(PetscArrayzero(Ts, np));

  PetscCall(WLMPotentialComputeForces(single, t, N, x, w, &U1, F1));
  PetscCall(WLMPotentialComputeProducts(single, t, N, x, w, lambda, G1, T1));
  PetscCall(WLMPotentialComputeForces(sharded, t, n, x + start * dim, w ? w + start : NULL, &Us, Fs));
  PetscCall(WLMPotentialComputeProducts(sharded, t, n, x + start * dim, w ? w + start : NULL, lambda + start * dim, Gs, Ts));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, Ts, np, MPIU_REAL, MPIU_SUM, comm));
  UP1 = UPs = 0;
  if (single->ops->parametergradient) {
    PetscCall(WLMPotentialComputeParameterGradient(single, t, N, x, w, &UP1, P1));
    PetscCall(WLMPotentialComputeParameterGradient(sharded, t, n, x + start * dim, w ? w + start : NULL, &UPs, Ps));
    PetscCall(MPIU_Allreduce(MPI_IN_PLACE, Ps, np, MPIU_REAL, MPIU_SUM, comm));
  }

  /* entries are compared relative to the largest entry of their array, so near-zero entries do not inflate the ratio */
  diff = PetscAbsReal(U1 - Us) / PetscMax(PetscAbsReal(U1), PETSC_SMALL);
  diff = PetscMax(diff, MaxScaledDifference(n * dim, F1 + start * dim, Fs, N * dim, F1));
  diff = PetscMax(diff, MaxScaledDifference(n * dim, G1 + start * dim, Gs, N * dim, G1));
  diff = PetscMax(diff, MaxScaledDifference(np, T1, Ts, np, T1));
  diff = PetscMax(diff, PetscAbsReal(UP1 - UPs) / PetscMax(PetscAbsReal(UP1), PETSC_SMALL));
  diff = PetscMax(diff, MaxScaledDifference(np, P1, Ps, np, P1));
  PetscCall(MPIU_Allreduce(&diff, maxdiff, 1, MPIU_REAL, MPIU_MAX, comm));
  PetscCall(PetscFree7(lambda, F1, G1, T1, Fs, Gs, Ts));
  PetscCall(PetscFree2(P1, Ps));
  PetscFunctionReturn(0);
}

/*
   Relative differences between the model on a permuted population and the
   permuted results on the original one: Udiff for the energy, Fdiff for the
   forces (relative to the largest force).  x and w are permuted together by
   a random permutation drawn from seed; one rank.
*/
PetscErrorCode WLMTestPotentialPermutationDifference(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], uint64_t seed, PetscReal *Udiff, PetscReal *Fdiff)
{
  PetscInt  dim, *perm;
  PetscReal *xp, *wp = NULL, *F, *Fp, *Fback, U, Up;
  WLMRandom r;

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialGetDimension(pot, &dim));
  PetscCall(PetscMalloc5(n, &perm, n * dim, &xp, n * dim, &F, n * dim, &Fp, n * dim, &Fback));
  if (w) PetscCall(PetscMalloc1(n, &wp));
  WLMRandomSeed(&r, seed, 0);
  WLMRandomSample(&r, n, n, perm);
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt k = 0; k < dim; k++) xp[i * dim + k] = x[perm[i] * dim + k];
    if (w) wp[i] = w[perm[i]];
  }
  PetscCall(WLMPotentialComputeForces(pot, t, n, x, w, &U, F));
  PetscCall(WLMPotentialComputeForces(pot, t, n, xp, wp, &Up, Fp));
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt k = 0; k < dim; k++) Fback[perm[i] * dim + k] = Fp[i * dim + k];
  }
  *Udiff = PetscAbsReal(U - Up) / PetscMax(PetscAbsReal(U), PETSC_SMALL);
  *Fdiff = MaxScaledDifference(n * dim, F, Fback, n * dim, F);
  PetscCall(PetscFree5(perm, xp, F, Fp, Fback));
  PetscCall(PetscFree(wp));
  PetscFunctionReturn(0);
}

/*
   Saves pot into a new HDF5 file, loads it back into a new model, and sets
   identical when U, F and both products of the two models agree bit for bit.
   One rank; the file is removed afterwards.
*/
PetscErrorCode WLMTestPotentialSaveLoadIdentical(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], const char filename[], PetscBool *identical)
{
  WLMPotential loaded;
  hid_t        file;
  PetscInt     dim, np, nploaded;
  PetscReal   *lambda, *F[2], *G[2], *T[2], U[2];

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialGetDimension(pot, &dim));
  PetscCall(WLMPotentialGetNumParameters(pot, &np));
  file = H5Fcreate(filename, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(file >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "Cannot create %s", filename);
  PetscCall(WLMPotentialSave(pot, file));
  H5Fclose(file);
  file = H5Fopen(filename, H5F_ACC_RDONLY, H5P_DEFAULT);
  PetscCheck(file >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "Cannot open %s", filename);
  PetscCall(WLMPotentialLoad(PETSC_COMM_SELF, file, &loaded));
  H5Fclose(file);
  remove(filename);
  PetscCall(WLMPotentialGetNumParameters(loaded, &nploaded));

  PetscCall(PetscMalloc7(n * dim, &lambda, n * dim, &F[0], n * dim, &F[1], n * dim, &G[0], n * dim, &G[1], np, &T[0], np, &T[1]));
  PetscCall(WLMTestRandomArray(7, n * dim, 1.0, lambda));
  *identical = (PetscBool)(nploaded == np);
  for (PetscInt m = 0; m < 2 && *identical; m++) {
    WLMPotential model = m ? loaded : pot;

    PetscCall(PetscArrayzero(T[m], np));
    PetscCall(WLMPotentialComputeForces(model, t, n, x, w, &U[m], F[m]));
    PetscCall(WLMPotentialComputeProducts(model, t, n, x, w, lambda, G[m], T[m]));
  }
  if (*identical) *identical = (PetscBool)(!memcmp(&U[0], &U[1], sizeof(PetscReal)) && !memcmp(F[0], F[1], n * dim * sizeof(PetscReal)) && !memcmp(G[0], G[1], n * dim * sizeof(PetscReal)) && !memcmp(T[0], T[1], np * sizeof(PetscReal)));
  PetscCall(PetscFree7(lambda, F[0], F[1], G[0], G[1], T[0], T[1]));
  PetscCall(WLMPotentialDestroy(&loaded));
  PetscFunctionReturn(0);
}

/*
   Checks that WLMPotentialComputeParameterGradient() adds to its array: the
   gradient G computed into zeros, G + g0 accumulated onto a random g0
   (without U), and U against WLMPotentialComputeEnergy().  Returns the
   largest of the differences |(G + g0) - g0 - G| relative to max |G| and of
   U relative to |U|; one rank.  A call that overwrote the array would give
   a difference of order |g0| / max |G|.
*/
PetscErrorCode WLMTestPotentialGradientAccumulation(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], uint64_t seed, PetscReal *maxdiff)
{
  PetscInt   np;
  PetscReal *G, *g0, *acc, U, Uenergy;

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialGetNumParameters(pot, &np));
  PetscCall(PetscMalloc3(np, &G, np, &g0, np, &acc));
  PetscCall(PetscArrayzero(G, np));
  PetscCall(WLMPotentialComputeParameterGradient(pot, t, n, x, w, &U, G));
  PetscCall(WLMTestRandomArray(seed, np, 1.0, g0));
  PetscCall(PetscArraycpy(acc, g0, np));
  PetscCall(WLMPotentialComputeParameterGradient(pot, t, n, x, w, NULL, acc));
  for (PetscInt k = 0; k < np; k++) acc[k] -= g0[k];
  PetscCall(WLMPotentialComputeEnergy(pot, t, n, x, w, &Uenergy));
  *maxdiff = MaxScaledDifference(np, acc, G, np, G);
  *maxdiff = PetscMax(*maxdiff, PetscAbsReal(U - Uenergy) / PetscMax(PetscAbsReal(Uenergy), PETSC_SMALL));
  PetscCall(PetscFree3(G, g0, acc));
  PetscFunctionReturn(0);
}

/*
   Largest relative difference between WLMPotentialComputeForcesAndProducts()
   and separate WLMPotentialComputeForces() and WLMPotentialComputeProducts()
   calls, over U, F and both products; one rank.
*/
PetscErrorCode WLMTestPotentialCombinedDifference(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], uint64_t seed, PetscReal *maxdiff)
{
  PetscInt   dim, np;
  PetscReal *lambda, *F[2], *G[2], *T[2], U[2];

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialGetDimension(pot, &dim));
  PetscCall(WLMPotentialGetNumParameters(pot, &np));
  PetscCall(PetscMalloc7(n * dim, &lambda, n * dim, &F[0], n * dim, &F[1], n * dim, &G[0], n * dim, &G[1], np, &T[0], np, &T[1]));
  PetscCall(WLMTestRandomArray(seed, n * dim, 1.0, lambda));
  PetscCall(PetscArrayzero(T[0], np));
  PetscCall(PetscArrayzero(T[1], np));
  PetscCall(WLMPotentialComputeForces(pot, t, n, x, w, &U[0], F[0]));
  PetscCall(WLMPotentialComputeProducts(pot, t, n, x, w, lambda, G[0], T[0]));
  PetscCall(WLMPotentialComputeForcesAndProducts(pot, t, n, x, w, lambda, &U[1], F[1], G[1], T[1]));
  *maxdiff = PetscAbsReal(U[0] - U[1]) / PetscMax(PetscAbsReal(U[0]), PETSC_SMALL);
  *maxdiff = PetscMax(*maxdiff, MaxScaledDifference(n * dim, F[0], F[1], n * dim, F[0]));
  *maxdiff = PetscMax(*maxdiff, MaxScaledDifference(n * dim, G[0], G[1], n * dim, G[0]));
  *maxdiff = PetscMax(*maxdiff, MaxScaledDifference(np, T[0], T[1], np, T[0]));
  PetscCall(PetscFree7(lambda, F[0], F[1], G[0], G[1], T[0], T[1]));
  PetscFunctionReturn(0);
}
