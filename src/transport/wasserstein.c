/*
   Exact W1 and W2 between weighted clouds, for evaluation.

     W_p(a, b) = ( min_{F >= 0, F 1 = a, F^T 1 = b} sum_ij F_ij |x_i - y_j|^p )^(1/p),   p = 1 or 2,

   solved by the network simplex of networksimplex.c.  The masses of each
   cloud are normalized to total 1 and then rounded to integer multiples of
   2^-60.  The largest entry absorbs the rounding, so both totals are exactly
   2^60 units, and particles whose rounded mass is 0 are left out.  This
   changes each mass by at most (N + 1) 2^-61 and the transport cost by at
   most that times the largest cost, far below the 1e-9 relative accuracy
   asked of evaluations.  Integer masses make every flow of the solver exact.
*/
#include <wlm/wlmtransport.h>
#include <petsc/private/petscimpl.h>
#include "networksimplex.h"

/* Integer mass of the whole cloud: 2^60 leaves room below 2^63 for any flow. */
#define WLM_TRANSPORT_MASS_UNITS 1152921504606846976.0

/* Checks one cloud: finite coordinates and finite non-negative masses with a positive total. */
static PetscErrorCode CheckCloud(MPI_Comm comm, const char name[], PetscInt count, PetscInt dim, const PetscReal rows[], const PetscReal w[], PetscReal *total)
{
  PetscFunctionBeginUser;
  PetscCheck(count > 0, comm, PETSC_ERR_ARG_SIZ, "Cloud %s is empty; W1 and W2 need at least one particle in each cloud", name);
  for (PetscInt i = 0; i < count; i++) {
    for (PetscInt k = 0; k < dim; k++) PetscCheck(!PetscIsInfOrNanReal(rows[i * dim + k]), comm, PETSC_ERR_ARG_OUTOFRANGE, "Coordinate %" PetscInt_FMT " of particle %" PetscInt_FMT " of %s is %g; positions must be finite", k, i, name, (double)rows[i * dim + k]);
  }
  *total = count;
  if (!w) PetscFunctionReturn(0);
  *total = 0;
  for (PetscInt i = 0; i < count; i++) {
    PetscCheck(w[i] >= 0 && !PetscIsInfOrNanReal(w[i]), comm, PETSC_ERR_ARG_OUTOFRANGE, "Mass %" PetscInt_FMT " of %s is %g; masses must be finite and non-negative", i, name, (double)w[i]);
    *total += w[i];
  }
  PetscCheck(*total > 0 && !PetscIsInfOrNanReal(*total), comm, PETSC_ERR_ARG_OUTOFRANGE, "Total mass of %s is %g; it must be positive and finite", name, (double)*total);
  PetscFunctionReturn(0);
}

/*
   Integer masses of one cloud (total exactly 2^60) and the transposed
   coordinates of the particles with a positive integer mass; returns their count.
*/
static PetscErrorCode IntegerMasses(PetscInt count, PetscInt dim, const PetscReal rows[], const PetscReal w[], PetscReal total, int64_t units[], PetscReal t[], PetscInt *kept)
{
  int64_t  sum = 0;
  PetscInt largest = 0, nkept = 0;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < count; i++) {
    const PetscReal mass = w ? w[i] / total : 1.0 / total;

    units[i] = (int64_t)llround(mass * WLM_TRANSPORT_MASS_UNITS);
    sum += units[i];
    if (units[i] > units[largest]) largest = i;
  }
  units[largest] += (int64_t)WLM_TRANSPORT_MASS_UNITS - sum;
  for (PetscInt i = 0; i < count; i++) {
    if (units[i] <= 0) continue;
    units[nkept] = units[i];
    for (PetscInt k = 0; k < dim; k++) t[k * count + nkept] = rows[i * dim + k];
    nkept++;
  }
  /* the transposed rows were written with stride count; close the gaps left by dropped particles */
  for (PetscInt k = 1; k < dim && nkept < count; k++) PetscCall(PetscArraymove(t + k * nkept, t + k * count, nkept));
  *kept = nkept;
  PetscFunctionReturn(0);
}

/*
   Checks both clouds (given in full, row-major) and, when solve is true,
   computes W_p on this rank.  Every rank that calls it with the same data
   raises the same errors.
*/
static PetscErrorCode WassersteinOfClouds(MPI_Comm comm, PetscInt p, PetscInt dim, PetscInt N, const PetscReal x[], const PetscReal a[], PetscInt M, const PetscReal y[], const PetscReal b[], PetscBool solve, PetscReal *w)
{
  PetscReal         atotal, btotal, cost;
  PetscReal        *xt, *yt;
  int64_t          *A, *B;
  PetscInt          Nk, Mk;
  WLMTransportStats stats;

  PetscFunctionBeginUser;
  PetscCheck(p == 1 || p == 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "Exponent p = %" PetscInt_FMT " is not supported; use 1 (W1) or 2 (W2)", p);
  PetscCheck(dim >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "Dimension %" PetscInt_FMT " is invalid; particles need at least 1 coordinate", dim);
  PetscCall(CheckCloud(comm, "x", N, dim, x, a, &atotal));
  PetscCall(CheckCloud(comm, "y", M, dim, y, b, &btotal));
  *w = 0;
  if (!solve) PetscFunctionReturn(0);

  PetscCall(PetscLogEventBegin(WLMTRANSPORT_Solve, 0, 0, 0, 0));
  PetscCall(PetscMalloc4(N * dim, &xt, M * dim, &yt, N, &A, M, &B));
  PetscCall(IntegerMasses(N, dim, x, a, atotal, A, xt, &Nk));
  PetscCall(IntegerMasses(M, dim, y, b, btotal, B, yt, &Mk));
  PetscCall(WLMTransportNetworkSimplex(p, dim, Nk, xt, A, Mk, yt, B, &cost, &stats));
  PetscCall(PetscInfo(NULL, "W%" PetscInt_FMT " of %" PetscInt_FMT " x %" PetscInt_FMT " particles: %" PetscInt64_FMT " pivots (%" PetscInt64_FMT " degenerate), %" PetscInt64_FMT " reduced costs priced, %" PetscInt_FMT " potential recomputations\n", p, Nk, Mk, stats.pivots, stats.degenerate, stats.priced, stats.recomputes));
  cost /= WLM_TRANSPORT_MASS_UNITS;
  *w = p == 1 ? cost : PetscSqrtReal(PetscMax(cost, 0));
  PetscCall(PetscFree4(xt, yt, A, B));
  PetscCall(PetscLogEventEnd(WLMTRANSPORT_Solve, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@
  WLMTransportWassersteinSeq - Computes the exact W1 or W2 between two weighted clouds held by the calling rank.

  Not Collective

  Input Parameters:
+ p   - 1 for W1 (Euclidean cost), 2 for W2 (squared Euclidean cost; the square root of the optimal cost is returned)
. dim - spatial dimension
. n   - particles of the first cloud
. x   - their positions [n][dim]
. a   - their masses [n], or NULL for uniform masses
. m   - particles of the second cloud
. y   - their positions [m][dim]
- b   - their masses [m], or NULL for uniform masses

  Output Parameter:
. w - W_p between the clouds, each normalized to total mass 1

  Notes:
  Exact up to rounding: a primal network simplex with integer flows, stopped
  when no reduced cost is below -1e-12 times the largest cost.  Costs are
  computed when needed, so memory is O(n + m); time grows roughly like
  (n m)^1.5 in the worst case and is a few seconds for n = m = 5000 (see the
  benchmarks).  Masses must be non-negative with a positive total; the
  clouds may have different sizes.

.seealso: WLMTransportWasserstein()
@*/
PetscErrorCode WLMTransportWassersteinSeq(PetscInt p, PetscInt dim, PetscInt n, const PetscReal x[], const PetscReal a[], PetscInt m, const PetscReal y[], const PetscReal b[], PetscReal *w)
{
  PetscFunctionBeginUser;
  PetscValidRealPointer(w, 9);
  PetscCheck(n >= 0 && m >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Particle counts %" PetscInt_FMT " and %" PetscInt_FMT " must be non-negative", n, m);
  PetscCheck((n == 0 || x) && (m == 0 || y), PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "Positions are NULL for a non-empty cloud");
  PetscCall(WassersteinOfClouds(PETSC_COMM_SELF, p, dim, n, x, a, m, y, b, PETSC_TRUE, w));
  PetscFunctionReturn(0);
}

/* Gathers count * width reals of every rank, in rank order, on every rank. */
static PetscErrorCode GatherAll(MPI_Comm comm, PetscInt count, PetscInt width, const PetscReal local[], const PetscMPIInt counts[], PetscReal all[])
{
  PetscMPIInt  size, mine, *rcounts, *displs;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc2(size, &rcounts, size, &displs));
  for (PetscMPIInt r = 0; r < size; r++) {
    PetscCall(PetscMPIIntCast((PetscInt)counts[r] * width, &rcounts[r]));
    displs[r] = r ? displs[r - 1] + rcounts[r - 1] : 0;
  }
  PetscCall(PetscMPIIntCast(count * width, &mine));
  PetscCallMPI(MPI_Allgatherv(local, mine, MPIU_REAL, all, rcounts, displs, MPIU_REAL, comm));
  PetscCall(PetscFree2(rcounts, displs));
  PetscFunctionReturn(0);
}

/*@
  WLMTransportWasserstein - Computes the exact W1 or W2 between two weighted clouds whose particles are split over the ranks of a communicator.

  Collective

  Input Parameters:
+ comm - ranks that share the clouds
. p    - 1 for W1, 2 for W2
. dim  - spatial dimension
. n, x, a - this rank's particles of the first cloud: count, positions [n][dim], masses [n] or NULL (uniform)
- m, y, b - the same for the second cloud

  Output Parameter:
. w - W_p, the same on every rank

  Notes:
  The clouds are gathered on every rank, checked there (so every rank raises
  the same error), and solved on rank 0, which then broadcasts the value.
  The solve is serial: its time does not shrink with more ranks, and each
  rank needs memory for both whole clouds.  Masses must be given on every
  rank or NULL on every rank.

.seealso: WLMTransportWassersteinSeq()
@*/
PetscErrorCode WLMTransportWasserstein(MPI_Comm comm, PetscInt p, PetscInt dim, PetscInt n, const PetscReal x[], const PetscReal a[], PetscInt m, const PetscReal y[], const PetscReal b[], PetscReal *w)
{
  PetscMPIInt size, rank, *ncounts, *mcounts;
  PetscInt    mine[4], *info, N = 0, M = 0, dimd = PetscMax(dim, 1);
  PetscReal  *xall, *yall, *aall = NULL, *ball = NULL;

  PetscFunctionBeginUser;
  PetscValidRealPointer(w, 10);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (size == 1) {
    PetscCall(WLMTransportWassersteinSeq(p, dim, n, x, a, m, y, b, w));
    PetscFunctionReturn(0);
  }
  mine[0] = n;
  mine[1] = m;
  mine[2] = a ? 1 : 0;
  mine[3] = b ? 1 : 0;
  PetscCall(PetscMalloc3(4 * size, &info, size, &ncounts, size, &mcounts));
  PetscCallMPI(MPI_Allgather(mine, 4, MPIU_INT, info, 4, MPIU_INT, comm));
  for (PetscMPIInt r = 0; r < size; r++) {
    PetscCheck(info[4 * r] >= 0 && info[4 * r + 1] >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "Rank %d passes %" PetscInt_FMT " and %" PetscInt_FMT " particles; counts must be non-negative", r, info[4 * r], info[4 * r + 1]);
    PetscCheck(info[4 * r + 2] == info[2] && info[4 * r + 3] == info[3], comm, PETSC_ERR_ARG_INCOMP, "Masses are given on some ranks but not on others (rank %d differs from rank 0); pass masses on every rank or NULL on every rank", r);
    PetscCall(PetscMPIIntCast(info[4 * r], &ncounts[r]));
    PetscCall(PetscMPIIntCast(info[4 * r + 1], &mcounts[r]));
    N += info[4 * r];
    M += info[4 * r + 1];
  }

  PetscCall(PetscLogEventBegin(WLMTRANSPORT_Gather, 0, 0, 0, 0));
  PetscCall(PetscMalloc2(N * dimd, &xall, M * dimd, &yall));
  PetscCall(GatherAll(comm, n, dimd, x, ncounts, xall));
  PetscCall(GatherAll(comm, m, dimd, y, mcounts, yall));
  if (info[2]) {
    PetscCall(PetscMalloc1(N, &aall));
    PetscCall(GatherAll(comm, n, 1, a, ncounts, aall));
  }
  if (info[3]) {
    PetscCall(PetscMalloc1(M, &ball));
    PetscCall(GatherAll(comm, m, 1, b, mcounts, ball));
  }
  PetscCall(PetscLogEventEnd(WLMTRANSPORT_Gather, 0, 0, 0, 0));

  PetscCall(WassersteinOfClouds(comm, p, dim, N, xall, aall, M, yall, ball, rank == 0 ? PETSC_TRUE : PETSC_FALSE, w));
  PetscCallMPI(MPI_Bcast(w, 1, MPIU_REAL, 0, comm));
  PetscCall(PetscFree2(xall, yall));
  PetscCall(PetscFree(aall));
  PetscCall(PetscFree(ball));
  PetscCall(PetscFree3(info, ncounts, mcounts));
  PetscFunctionReturn(0);
}
