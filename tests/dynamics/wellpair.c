/*
   wellpair: an analytic nonlinear potential for the dynamics tests and
   benchmark, a Gaussian well plus a soft Gaussian pair repulsion,

     U(X) = sum_i w_i V(x_i) + 1/2 sum_{i != j} w_i w_j W(x_i - x_j),
     V(x) = -A exp(-|x - c|^2 / (2 s^2)),    W(d) = B exp(-|d|^2 / (2 r^2)),

   with parameters theta = (A, s, B, r, c_1..c_dim).  Its Hessian depends on
   X, so the state products of a rollout adjoint are non-trivial.  With
   u = x - c, g = exp(-|u|^2 / (2 s^2)), h = exp(-|d|^2 / (2 r^2)):

     grad V = A g u / s^2,     H_V L = A g / s^2 (L - u (u . L) / s^2),
     grad W = -B h d / r^2,    H_W L = -B h / r^2 (L - d (d . L) / r^2),
     F_i    = -w_i grad V(x_i) - w_i sum_j w_j grad W(x_i - x_j),
     grad_{x_m} (L . F) = -w_m H_V(x_m) L_m - w_m sum_j w_j H_W(x_m - x_j) (L_m - L_j).

   Pair sums need every particle, so a sharded model gathers the positions
   (and the cotangent) of all ranks in each call.  The O(N^2) work suits
   tests and moderate N.
*/
#include "wellpair.h"
#include <wlm/private/potentialimpl.h>

typedef struct {
  PetscInt     capacity;       /* particles the gather buffers hold */
  PetscReal   *xall, *wall, *lall;
  PetscMPIInt *counts, *displs; /* per rank, in PetscReal entries */
  PetscMPIInt *pcounts, *pdispls;
} WellPair;

/* Gathers the positions, masses (uniform 1/N when w is NULL) and optionally a cotangent of all ranks; returns N and this rank's offset. */
static PetscErrorCode Gather(WLMPotential pot, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, PetscInt *N, PetscInt *start)
{
  WellPair   *wp   = (WellPair *)pot->data;
  MPI_Comm    comm = PetscObjectComm((PetscObject)pot);
  const PetscInt dim = pot->dim;
  PetscMPIInt size, rank, nl = (PetscMPIInt)n;
  PetscInt    total = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!wp->pcounts) PetscCall(PetscMalloc4(size, &wp->counts, size, &wp->displs, size, &wp->pcounts, size, &wp->pdispls));
  PetscCallMPI(MPI_Allgather(&nl, 1, MPI_INT, wp->pcounts, 1, MPI_INT, comm));
  for (PetscMPIInt p = 0; p < size; p++) {
    if (p == rank) *start = total;
    wp->pdispls[p] = (PetscMPIInt)total;
    wp->counts[p]  = (PetscMPIInt)(wp->pcounts[p] * dim);
    wp->displs[p]  = (PetscMPIInt)(total * dim);
    total += wp->pcounts[p];
  }
  if (total > wp->capacity) {
    PetscCall(PetscFree3(wp->xall, wp->wall, wp->lall));
    PetscCall(PetscMalloc3(total * dim, &wp->xall, total, &wp->wall, total * dim, &wp->lall));
    wp->capacity = total;
  }
  PetscCallMPI(MPI_Allgatherv(x, (PetscMPIInt)(n * dim), MPIU_REAL, wp->xall, wp->counts, wp->displs, MPIU_REAL, comm));
  if (w) PetscCallMPI(MPI_Allgatherv(w, nl, MPIU_REAL, wp->wall, wp->pcounts, wp->pdispls, MPIU_REAL, comm));
  else {
    for (PetscInt i = 0; i < total; i++) wp->wall[i] = 1.0 / (PetscReal)total;
  }
  if (lambda) PetscCallMPI(MPI_Allgatherv(lambda, (PetscMPIInt)(n * dim), MPIU_REAL, wp->lall, wp->counts, wp->displs, MPIU_REAL, comm));
  *N = total;
  PetscFunctionReturn(0);
}

static PetscReal Dot(PetscInt dim, const PetscReal *a, const PetscReal *b)
{
  PetscReal s = 0;

  for (PetscInt k = 0; k < dim; k++) s += a[k] * b[k];
  return s;
}

static PetscErrorCode WLMPotentialEnergy_WellPair(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U)
{
  WellPair       *wp  = (WellPair *)pot->data;
  const PetscInt  dim = pot->dim;
  const PetscReal A = pot->theta[0], s = pot->theta[1], B = pot->theta[2], r = pot->theta[3], *c = pot->theta + 4;
  PetscInt        N, start;
  PetscReal       energy = 0, u[WELLPAIR_MAX_DIM], d[WELLPAIR_MAX_DIM];

  PetscFunctionBeginUser;
  PetscCall(Gather(pot, n, x, w, NULL, &N, &start));
  for (PetscInt i = start; i < start + n; i++) {
    const PetscReal *xi = wp->xall + i * dim;

    for (PetscInt k = 0; k < dim; k++) u[k] = xi[k] - c[k];
    energy -= wp->wall[i] * A * PetscExpReal(-Dot(dim, u, u) / (2 * s * s));
    for (PetscInt j = 0; j < N; j++) {
      if (j == i) continue;
      for (PetscInt k = 0; k < dim; k++) d[k] = xi[k] - wp->xall[j * dim + k];
      energy += 0.5 * wp->wall[i] * wp->wall[j] * B * PetscExpReal(-Dot(dim, d, d) / (2 * r * r));
    }
  }
  PetscCall(MPIU_Allreduce(&energy, U, 1, MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)pot)));
  PetscCall(PetscLogFlops(10.0 * n * N * dim));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialForces_WellPair(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U, PetscReal *F)
{
  WellPair       *wp  = (WellPair *)pot->data;
  const PetscInt  dim = pot->dim;
  const PetscReal A = pot->theta[0], s = pot->theta[1], B = pot->theta[2], r = pot->theta[3], *c = pot->theta + 4;
  PetscInt        N, start;
  PetscReal       u[WELLPAIR_MAX_DIM], d[WELLPAIR_MAX_DIM];

  PetscFunctionBeginUser;
  if (U) PetscCall(WLMPotentialEnergy_WellPair(pot, t, n, x, w, U));
  PetscCall(Gather(pot, n, x, w, NULL, &N, &start));
  for (PetscInt i = start; i < start + n; i++) {
    const PetscReal *xi = wp->xall + i * dim, wi = wp->wall[i];
    PetscReal       *Fi = F + (i - start) * dim, g;

    for (PetscInt k = 0; k < dim; k++) u[k] = xi[k] - c[k];
    g = PetscExpReal(-Dot(dim, u, u) / (2 * s * s));
    for (PetscInt k = 0; k < dim; k++) Fi[k] = -wi * A * g * u[k] / (s * s);
    for (PetscInt j = 0; j < N; j++) {
      PetscReal h;

      if (j == i) continue;
      for (PetscInt k = 0; k < dim; k++) d[k] = xi[k] - wp->xall[j * dim + k];
      h = PetscExpReal(-Dot(dim, d, d) / (2 * r * r));
      for (PetscInt k = 0; k < dim; k++) Fi[k] += wi * wp->wall[j] * B * h * d[k] / (r * r);
    }
  }
  PetscCall(PetscLogFlops(12.0 * n * N * dim));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialProducts_WellPair(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, PetscReal *gradx, PetscReal *gradtheta)
{
  WellPair       *wp  = (WellPair *)pot->data;
  const PetscInt  dim = pot->dim;
  const PetscReal A = pot->theta[0], s = pot->theta[1], B = pot->theta[2], r = pot->theta[3], *c = pot->theta + 4;
  const PetscReal s2 = s * s, r2 = r * r;
  PetscInt        N, start;
  PetscReal       u[WELLPAIR_MAX_DIM], d[WELLPAIR_MAX_DIM], HL[WELLPAIR_MAX_DIM], dL[WELLPAIR_MAX_DIM];

  PetscFunctionBeginUser;
  PetscCall(Gather(pot, n, x, w, lambda, &N, &start));
  for (PetscInt i = start; i < start + n; i++) {
    const PetscReal *xi = wp->xall + i * dim, *Li = wp->lall + i * dim, wi = wp->wall[i];
    PetscReal        g, u2, uL;

    /* well: H_V L_i and the parameter terms -w_i L_i . d(grad V)/d theta */
    for (PetscInt k = 0; k < dim; k++) u[k] = xi[k] - c[k];
    u2 = Dot(dim, u, u);
    uL = Dot(dim, u, Li);
    g  = PetscExpReal(-u2 / (2 * s2));
    for (PetscInt k = 0; k < dim; k++) HL[k] = A * g / s2 * (Li[k] - u[k] * uL / s2);
    if (gradx) {
      for (PetscInt k = 0; k < dim; k++) gradx[(i - start) * dim + k] = -wi * HL[k];
    }
    if (gradtheta) {
      gradtheta[0] -= wi * g * uL / s2;
      gradtheta[1] -= wi * A * g * uL * (u2 / (s2 * s2 * s) - 2 / (s2 * s));
      for (PetscInt k = 0; k < dim; k++) gradtheta[4 + k] += wi * HL[k];
    }

    /* pairs: H_W (L_i - L_j) for the state, -w_i w_j L_i . d(grad W)/d theta for the parameters */
    for (PetscInt j = 0; j < N; j++) {
      const PetscReal *Lj = wp->lall + j * dim, wij = wi * wp->wall[j];
      PetscReal        h, d2, dLi, dLij;

      if (j == i) continue;
      for (PetscInt k = 0; k < dim; k++) {
        d[k]  = xi[k] - wp->xall[j * dim + k];
        dL[k] = Li[k] - Lj[k];
      }
      d2   = Dot(dim, d, d);
      dLij = Dot(dim, d, dL);
      dLi  = Dot(dim, d, Li);
      h    = PetscExpReal(-d2 / (2 * r2));
      if (gradx) {
        for (PetscInt k = 0; k < dim; k++) gradx[(i - start) * dim + k] += wij * B * h / r2 * (dL[k] - d[k] * dLij / r2);
      }
      if (gradtheta) {
        gradtheta[2] += wij * h * dLi / r2;
        gradtheta[3] += wij * B * h * dLi * (d2 / (r2 * r2 * r) - 2 / (r2 * r));
      }
    }
  }
  PetscCall(PetscLogFlops(20.0 * n * N * dim));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetUp_WellPair(WLMPotential pot)
{
  PetscFunctionBeginUser;
  PetscCheck(pot->dim <= WELLPAIR_MAX_DIM, PetscObjectComm((PetscObject)pot), PETSC_ERR_SUP, "The wellpair potential supports up to %d dimensions, not %" PetscInt_FMT, WELLPAIR_MAX_DIM, pot->dim);
  pot->nparam = 4 + pot->dim;
  PetscFunctionReturn(0);
}

/* Fixed parameters whatever the seed: A = 1.5, s = 0.9, B = 0.4, r = 0.6, c_k = 0.3 (-0.5)^k. */
static PetscErrorCode WLMPotentialInitialize_WellPair(WLMPotential pot, uint64_t seed)
{
  PetscReal ck = 0.3;

  PetscFunctionBeginUser;
  pot->theta[0] = 1.5;
  pot->theta[1] = 0.9;
  pot->theta[2] = 0.4;
  pot->theta[3] = 0.6;
  for (PetscInt k = 0; k < pot->dim; k++, ck *= -0.5) pot->theta[4 + k] = ck;
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialDestroy_WellPair(WLMPotential pot)
{
  WellPair *wp = (WellPair *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(PetscFree3(wp->xall, wp->wall, wp->lall));
  PetscCall(PetscFree4(wp->counts, wp->displs, wp->pcounts, wp->pdispls));
  PetscCall(PetscFree(pot->data));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialCreate_WellPair(WLMPotential pot)
{
  WellPair *wp;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&wp));
  pot->data             = wp;
  pot->ops->setup       = WLMPotentialSetUp_WellPair;
  pot->ops->initialize  = WLMPotentialInitialize_WellPair;
  pot->ops->energy      = WLMPotentialEnergy_WellPair;
  pot->ops->forces      = WLMPotentialForces_WellPair;
  pot->ops->products    = WLMPotentialProducts_WellPair;
  pot->ops->destroy     = WLMPotentialDestroy_WellPair;
  PetscFunctionReturn(0);
}

/* Registers the type "wellpair" with WLMPotentialRegister(). */
PetscErrorCode WLMTestRegisterWellPair(void)
{
  PetscFunctionBeginUser;
  PetscCall(WLMPotentialRegister(WLMPOTENTIALWELLPAIR, WLMPotentialCreate_WellPair));
  PetscFunctionReturn(0);
}
