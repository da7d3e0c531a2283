/*
   Gathering and checking the two clouds of one WLMLossCompute() call.

   Every rank receives both whole clouds (coordinates transposed to [dim][N]
   for the vectorized pair loops, masses normalized to total 1), so the O(N M)
   pair work can be split freely over ranks and threads.  The checks run on
   the gathered arrays, which are the same on every rank, so every rank raises
   the same error and no rank is left waiting in a collective call.

   The gathered copies cost (N + M)(2 dim + 1) reals per rank, which limits
   the cloud sizes to what fits in one rank's memory (10^7 particles in 5
   dimensions take about 0.9 GB); the ring exchange of ring.c keeps the clouds
   sharded instead, for uniform masses and a fixed blur.
*/
#include <wlm/private/lossimpl.h>

/* What each rank passed, exchanged before the gathers so that every rank checks the same facts. */
enum {
  INFO_N,
  INFO_M,
  INFO_DIM,
  INFO_HAS_A,
  INFO_HAS_B,
  INFO_GRADIENT,
  INFO_NULL_ARRAY,
  INFO_COUNT
};

/* Grows the gathered arrays to hold N and M particles; the per-rank tables are sized once. */
static PetscErrorCode CloudsReserve(WLMLossClouds *cl, PetscInt N, PetscInt M, PetscMPIInt size)
{
  PetscFunctionBeginUser;
  if (!cl->counts) PetscCall(PetscMalloc3(size, &cl->counts, size, &cl->displs, size * INFO_COUNT, &cl->info));
  if (N <= cl->capx && M <= cl->capy && cl->dim == cl->capdim) PetscFunctionReturn(0);
  PetscCall(PetscFree5(cl->xt, cl->yt, cl->a, cl->b, cl->rows));
  cl->capx   = PetscMax(N, cl->capx);
  cl->capy   = PetscMax(M, cl->capy);
  cl->capdim = cl->dim;
  PetscCall(PetscMalloc5(cl->capx * cl->dim, &cl->xt, cl->capy * cl->dim, &cl->yt, cl->capx, &cl->a, cl->capy, &cl->b, (cl->capx + cl->capy) * cl->dim, &cl->rows));
  PetscFunctionReturn(0);
}

/* Gathers the local blocks of info[r][field] * width reals into all, in rank order, on every rank. */
static PetscErrorCode GatherBlocks(MPI_Comm comm, WLMLossClouds *cl, PetscMPIInt size, PetscMPIInt rank, PetscInt field, PetscInt width, const PetscReal local[], PetscReal all[])
{
  PetscInt offset = 0;

  PetscFunctionBeginUser;
  if (size == 1) {
    if (cl->info[field] > 0) PetscCall(PetscArraycpy(all, local, cl->info[field] * width));
    PetscFunctionReturn(0);
  }
  for (PetscMPIInt r = 0; r < size; r++) {
    PetscCall(PetscMPIIntCast(cl->info[r * INFO_COUNT + field] * width, &cl->counts[r]));
    PetscCall(PetscMPIIntCast(offset, &cl->displs[r]));
    offset += cl->info[r * INFO_COUNT + field] * width;
  }
  PetscCallMPI(MPI_Allgatherv(local, cl->counts[rank], MPIU_REAL, all, cl->counts, cl->displs, MPIU_REAL, comm));
  PetscFunctionReturn(0);
}

/* Checks what the ranks passed: sizes, dimension, and the same choice of masses on every rank. */
static PetscErrorCode CheckInfo(MPI_Comm comm, WLMLossClouds *cl, PetscMPIInt size)
{
  const PetscInt *info = cl->info;

  PetscFunctionBeginUser;
  for (PetscMPIInt r = 0; r < size; r++) {
    const PetscInt *ir = info + r * INFO_COUNT;

    PetscCheck(ir[INFO_N] >= 0 && ir[INFO_M] >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "Rank %d passes %" PetscInt_FMT " particles of x and %" PetscInt_FMT " of y; counts must be non-negative", r, ir[INFO_N], ir[INFO_M]);
    PetscCheck(!ir[INFO_NULL_ARRAY], comm, PETSC_ERR_ARG_NULL, "Rank %d passes NULL positions for a non-empty block of x or y", r);
    PetscCheck(ir[INFO_DIM] == info[INFO_DIM], comm, PETSC_ERR_ARG_INCOMP, "Dimension mismatch: rank %d uses dimension %" PetscInt_FMT " but rank 0 uses %" PetscInt_FMT "; call WLMLossSetDimension() with the same value on every rank", r, ir[INFO_DIM], info[INFO_DIM]);
    PetscCheck(ir[INFO_HAS_A] == info[INFO_HAS_A], comm, PETSC_ERR_ARG_INCOMP, "Masses of x are given on rank %d but not on rank %d; pass masses on every rank or NULL on every rank", ir[INFO_HAS_A] ? r : 0, ir[INFO_HAS_A] ? 0 : r);
    PetscCheck(ir[INFO_HAS_B] == info[INFO_HAS_B], comm, PETSC_ERR_ARG_INCOMP, "Masses of y are given on rank %d but not on rank %d; pass masses on every rank or NULL on every rank", ir[INFO_HAS_B] ? r : 0, ir[INFO_HAS_B] ? 0 : r);
  }
  PetscFunctionReturn(0);
}

/* Checks that every coordinate of the cloud called name, rows [count][dim], is finite. */
static PetscErrorCode CheckFinite(MPI_Comm comm, const char name[], PetscInt count, PetscInt dim, const PetscReal rows[])
{
  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < count; i++) {
    for (PetscInt k = 0; k < dim; k++) PetscCheck(!PetscIsInfOrNanReal(rows[i * dim + k]), comm, PETSC_ERR_ARG_OUTOFRANGE, "Coordinate %" PetscInt_FMT " of particle %" PetscInt_FMT " of %s is %g; positions must be finite", k, i, name, (double)rows[i * dim + k]);
  }
  PetscFunctionReturn(0);
}

/* Turns gathered masses into weights of total 1 (or sets uniform weights when none were given); returns the total as given, count for uniform masses. */
static PetscErrorCode NormalizeMasses(MPI_Comm comm, const char name[], PetscInt count, PetscBool given, PetscReal w[], PetscReal *given_total)
{
  PetscReal total = 0;

  PetscFunctionBeginUser;
  *given_total = count;
  if (!given) {
    for (PetscInt i = 0; i < count; i++) w[i] = 1.0 / (PetscReal)count;
    PetscFunctionReturn(0);
  }
  for (PetscInt i = 0; i < count; i++) {
    PetscCheck(w[i] >= 0 && !PetscIsInfOrNanReal(w[i]), comm, PETSC_ERR_ARG_OUTOFRANGE, "Mass %" PetscInt_FMT " of %s is %g; masses must be finite and non-negative", i, name, (double)w[i]);
    total += w[i];
  }
  PetscCheck(total > 0 && !PetscIsInfOrNanReal(total), comm, PETSC_ERR_ARG_OUTOFRANGE, "Total mass of %s is %g; it must be positive and finite", name, (double)total);
  for (PetscInt i = 0; i < count; i++) w[i] /= total;
  *given_total = total;
  PetscFunctionReturn(0);
}

/* Transposes count rows [count][dim] into t[dim][count]. */
static void Transpose(PetscInt count, PetscInt dim, const PetscReal rows[], PetscReal t[])
{
  for (PetscInt i = 0; i < count; i++) {
    for (PetscInt k = 0; k < dim; k++) t[k * count + i] = rows[i * dim + k];
  }
}

/* Diagonal of the bounding box of both transposed clouds. */
static PetscReal BoundingDiagonal(const WLMLossClouds *cl)
{
  PetscReal diag2 = 0;

  for (PetscInt k = 0; k < cl->dim; k++) {
    PetscReal lo = cl->xt[k * cl->N], hi = lo;

    for (PetscInt i = 0; i < cl->N; i++) {
      lo = PetscMin(lo, cl->xt[k * cl->N + i]);
      hi = PetscMax(hi, cl->xt[k * cl->N + i]);
    }
    for (PetscInt j = 0; j < cl->M; j++) {
      lo = PetscMin(lo, cl->yt[k * cl->M + j]);
      hi = PetscMax(hi, cl->yt[k * cl->M + j]);
    }
    diag2 += (hi - lo) * (hi - lo);
  }
  return PetscSqrtReal(diag2);
}

/*
  WLMLossCloudsGather - Gathers both clouds of a call on every rank, checks them and normalizes the masses.

  Collective

  Input Parameters:
+ loss     - the loss, set up
. n, x, a  - this rank's particles of the predicted cloud: count, positions [n][dim], masses or NULL
. m, y, b  - the same for the observed cloud
- gradient - this rank wants the gradient
*/
PetscErrorCode WLMLossCloudsGather(WLMLoss loss, PetscInt n, const PetscReal x[], const PetscReal a[], PetscInt m, const PetscReal y[], const PetscReal b[], PetscBool gradient)
{
  MPI_Comm       comm = PetscObjectComm((PetscObject)loss);
  WLMLossClouds *cl   = &loss->clouds;
  PetscInt       mine[INFO_COUNT], N = 0, M = 0, dim;
  PetscReal      btotal;
  PetscMPIInt    size, rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  cl->dim = dim = loss->dim;
  PetscCall(CloudsReserve(cl, 0, 0, size));
  mine[INFO_N]          = n;
  mine[INFO_M]          = m;
  mine[INFO_DIM]        = dim;
  mine[INFO_HAS_A]      = a ? 1 : 0;
  mine[INFO_HAS_B]      = b ? 1 : 0;
  mine[INFO_GRADIENT]   = gradient ? 1 : 0;
  mine[INFO_NULL_ARRAY] = (n > 0 && !x) || (m > 0 && !y) ? 1 : 0;
  if (size > 1) PetscCallMPI(MPI_Allgather(mine, INFO_COUNT, MPIU_INT, cl->info, INFO_COUNT, MPIU_INT, comm));
  else PetscCall(PetscArraycpy(cl->info, mine, INFO_COUNT));
  PetscCall(CheckInfo(comm, cl, size));

  cl->gradient = PETSC_FALSE;
  cl->xstart   = 0;
  cl->ystart   = 0;
  for (PetscMPIInt r = 0; r < size; r++) {
    if (r < rank) cl->xstart += cl->info[r * INFO_COUNT + INFO_N];
    if (r < rank) cl->ystart += cl->info[r * INFO_COUNT + INFO_M];
    N += cl->info[r * INFO_COUNT + INFO_N];
    M += cl->info[r * INFO_COUNT + INFO_M];
    if (cl->info[r * INFO_COUNT + INFO_GRADIENT]) cl->gradient = PETSC_TRUE;
  }
  PetscCheck(N > 0, comm, PETSC_ERR_ARG_SIZ, "The predicted cloud x is empty on every rank; a loss needs at least one particle in each cloud");
  PetscCheck(M > 0, comm, PETSC_ERR_ARG_SIZ, "The observed cloud y is empty on every rank; a loss needs at least one particle in each cloud");
  cl->N = N;
  cl->M = M;
  cl->n = n;
  cl->m = m;
  PetscCall(CloudsReserve(cl, N, M, size));

  PetscCall(PetscLogEventBegin(WLMLOSS_Gather, loss, 0, 0, 0));
  PetscCall(GatherBlocks(comm, cl, size, rank, INFO_N, dim, x, cl->rows));
  PetscCall(GatherBlocks(comm, cl, size, rank, INFO_M, dim, y, cl->rows + N * dim));
  if (a) PetscCall(GatherBlocks(comm, cl, size, rank, INFO_N, 1, a, cl->a));
  if (b) PetscCall(GatherBlocks(comm, cl, size, rank, INFO_M, 1, b, cl->b));
  PetscCall(PetscLogEventEnd(WLMLOSS_Gather, loss, 0, 0, 0));

  PetscCall(CheckFinite(comm, "x", N, dim, cl->rows));
  PetscCall(CheckFinite(comm, "y", M, dim, cl->rows + N * dim));
  PetscCall(NormalizeMasses(comm, "x", N, a ? PETSC_TRUE : PETSC_FALSE, cl->a, &cl->atotal));
  PetscCall(NormalizeMasses(comm, "y", M, b ? PETSC_TRUE : PETSC_FALSE, cl->b, &btotal));
  Transpose(N, dim, cl->rows, cl->xt);
  Transpose(M, dim, cl->rows + N * dim, cl->yt);
  cl->diameter = BoundingDiagonal(cl);
  PetscCall(PetscLogFlops(2.0 * (N + M) + 3.0 * dim));
  PetscFunctionReturn(0);
}

/* Frees the gathered arrays. */
PetscErrorCode WLMLossCloudsDestroy(WLMLossClouds *cl)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree5(cl->xt, cl->yt, cl->a, cl->b, cl->rows));
  PetscCall(PetscFree3(cl->counts, cl->displs, cl->info));
  cl->capx = cl->capy = 0;
  PetscFunctionReturn(0);
}
