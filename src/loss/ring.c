/*
   Ring exchange of the pair sums: both clouds stay sharded.

   Rank q of R keeps its rows of x (n_q particles) and of y (m_q).  One pass
   over the pairs takes R rounds.  In round s, rank q holds the block of rank
   (q - s) mod R: that rank's coordinates of x and y, their masses and the
   column potentials FA (of x) and G, GB (of y).  It adds to the sums of its
   own rows

     rowxy[i] += sum_{j in block} b_j e(x_i, y_j)     (cross pass, rows x, columns y)
     rowxx[i] += sum_{k in block} a_k e(x_i, x_k)     (self pass of x, diagonal included)
     rowyy[j] += sum_{l in block} b_l e(y_j, y_l)     (self pass of y, diagonal included)

   (and the gradient sums of the first two), and adds the column sums of the
   cross pass, sum_i a_i e(x_i, y_j), into an accumulator that travels with
   the block.  The coordinates of the next block are received while the
   current one is used (MPI_Isend/MPI_Irecv).  The accumulator follows with
   MPI_Sendrecv_replace after the round, so after R rounds it is back on the
   rank that owns its columns.  Every rank thus sees every pair (i, j) once,
   and the self passes see each unordered pair twice, once from each side,
   which gives the full row sums without the symmetric half-pass of the
   gathered path.

   Cost per rank and pass: (n_q (M + N) + m_q M) pair evaluations, R - 1
   messages of one block (max_q (n_q + m_q) (dim + 2) reals) and R small
   ones; memory O(n_q + m_q + block), independent of N + M.
*/
#include <wlm/private/lossimpl.h>

const char *const WLMLossExchanges[] = {"auto", "gather", "ring", "WLMLossExchange", "WLM_LOSS_EXCHANGE_", NULL};

/* Offsets of the parts of a block with capacities nmax and mmax; returns the block length. */
enum {
  BLOCK_X,
  BLOCK_A,
  BLOCK_FA,
  BLOCK_Y,
  BLOCK_B,
  BLOCK_G,
  BLOCK_GB,
  BLOCK_PARTS
};

static PetscInt BlockLayout(PetscInt dim, PetscInt nmax, PetscInt mmax, PetscInt off[])
{
  /* entries 0 and 1 hold the block's particle counts of x and y */
  off[BLOCK_X]  = 2;
  off[BLOCK_A]  = off[BLOCK_X] + dim * nmax;
  off[BLOCK_FA] = off[BLOCK_A] + nmax;
  off[BLOCK_Y]  = off[BLOCK_FA] + nmax;
  off[BLOCK_B]  = off[BLOCK_Y] + dim * mmax;
  off[BLOCK_G]  = off[BLOCK_B] + mmax;
  off[BLOCK_GB] = off[BLOCK_G] + mmax;
  return off[BLOCK_GB] + mmax;
}

/* Grows the local and block arrays; keeps nothing. */
static PetscErrorCode RingReserve(WLMLossRing *rg)
{
  const PetscInt dim = rg->dim;
  PetscInt       off[BLOCK_PARTS];

  PetscFunctionBeginUser;
  rg->blocklen = BlockLayout(dim, rg->nmax, rg->mmax, off);
  if (rg->n > rg->capn || rg->m > rg->capm || dim != rg->capdim) {
    PetscCall(PetscFree5(rg->xt, rg->a, rg->rowxy, rg->rowxx, rg->gradxy));
    PetscCall(PetscFree4(rg->yt, rg->b, rg->rowyy, rg->gradxx));
    rg->capn   = PetscMax(rg->n, rg->capn);
    rg->capm   = PetscMax(rg->m, rg->capm);
    rg->capdim = dim;
    PetscCall(PetscMalloc5(dim * rg->capn, &rg->xt, rg->capn, &rg->a, rg->capn, &rg->rowxy, rg->capn, &rg->rowxx, (dim + 1) * rg->capn, &rg->gradxy));
    PetscCall(PetscMalloc4(dim * rg->capm, &rg->yt, rg->capm, &rg->b, rg->capm, &rg->rowyy, (dim + 1) * rg->capn, &rg->gradxx));
  }
  if (rg->blocklen + rg->mmax > rg->capblock) {
    PetscCall(PetscFree3(rg->block[0], rg->block[1], rg->colacc));
    rg->capblock = rg->blocklen + rg->mmax;
    PetscCall(PetscMalloc3(rg->capblock, &rg->block[0], rg->capblock, &rg->block[1], rg->capblock, &rg->colacc));
  }
  PetscFunctionReturn(0);
}

/* Transposes count rows [count][dim] into t[dim][count]. */
static void Transpose(PetscInt count, PetscInt dim, const PetscReal rows[], PetscReal t[])
{
  for (PetscInt i = 0; i < count; i++) {
    for (PetscInt k = 0; k < dim; k++) t[k * count + i] = rows[i * dim + k];
  }
}

/* Diagonal of the bounding box of both clouds over all ranks, from the local transposed coordinates. */
static PetscErrorCode RingDiameter(MPI_Comm comm, WLMLossRing *rg)
{
  const PetscInt dim = rg->dim;
  PetscReal     *box, diag2 = 0;

  PetscFunctionBeginUser;
  /* box[k] = -min, box[dim + k] = max, so that one MPI_MAX reduction gives both */
  PetscCall(PetscMalloc1(2 * dim, &box));
  for (PetscInt k = 0; k < dim; k++) {
    box[k]       = PETSC_MIN_REAL;
    box[dim + k] = PETSC_MIN_REAL;
    for (PetscInt i = 0; i < rg->n; i++) {
      box[k]       = PetscMax(box[k], -rg->xt[k * rg->n + i]);
      box[dim + k] = PetscMax(box[dim + k], rg->xt[k * rg->n + i]);
    }
    for (PetscInt j = 0; j < rg->m; j++) {
      box[k]       = PetscMax(box[k], -rg->yt[k * rg->m + j]);
      box[dim + k] = PetscMax(box[dim + k], rg->yt[k * rg->m + j]);
    }
  }
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, box, (PetscMPIInt)(2 * dim), MPIU_REAL, MPIU_MAX, comm));
  for (PetscInt k = 0; k < dim; k++) diag2 += (box[dim + k] + box[k]) * (box[dim + k] + box[k]);
  rg->diameter = PetscSqrtReal(diag2);
  PetscCall(PetscFree(box));
  PetscFunctionReturn(0);
}

/*
  WLMLossRingSetUp - Decides whether a call can use the ring and, if so, prepares the local clouds.

  Collective

  Input Parameters:
+ loss       - the loss
. n, x       - this rank's predicted particles [n][dim]
. m, y       - this rank's observed particles [m][dim]
. uniform    - this rank passed no masses (the ring handles uniform masses only)
- gradient   - this rank wants the gradient

  Output Parameter:
. use - the ring applies: every rank passed uniform masses and finite positions, and the exchange setting and sizes select it

  Notes:
  Calls that do not qualify go to the gathered path, which also raises the
  errors about invalid input, so both paths report the same messages.
*/
PetscErrorCode WLMLossRingSetUp(WLMLoss loss, PetscInt n, const PetscReal x[], PetscInt m, const PetscReal y[], PetscBool uniform, PetscBool *use)
{
  MPI_Comm     comm = PetscObjectComm((PetscObject)loss);
  WLMLossRing *rg   = &loss->ring;
  PetscInt     sums[5], maxes[2];
  PetscBool    finite = PETSC_TRUE;
  PetscMPIInt  size;

  PetscFunctionBeginUser;
  *use = PETSC_FALSE;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (loss->exchange == WLM_LOSS_EXCHANGE_GATHER || !loss->ops->computering) PetscFunctionReturn(0);
  if (loss->exchange == WLM_LOSS_EXCHANGE_AUTO && size == 1) PetscFunctionReturn(0);
  for (PetscInt i = 0; i < n * loss->dim && x; i++) if (PetscIsInfOrNanReal(x[i])) finite = PETSC_FALSE;
  for (PetscInt j = 0; j < m * loss->dim && y; j++) if (PetscIsInfOrNanReal(y[j])) finite = PETSC_FALSE;
  sums[0]  = n;
  sums[1]  = m;
  sums[2]  = uniform ? 0 : 1;
  sums[3]  = finite && (n == 0 || x) && (m == 0 || y) && n >= 0 && m >= 0 ? 0 : 1;
  sums[4]  = rg->gradient ? 1 : 0; /* set by the caller before this call */
  maxes[0] = n;
  maxes[1] = m;
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, sums, 5, MPIU_INT, MPI_SUM, comm));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, maxes, 2, MPIU_INT, MPI_MAX, comm));
  if (sums[2] || sums[3] || sums[0] == 0 || sums[1] == 0) PetscFunctionReturn(0);
  if (loss->needs_blur && loss->blur == (PetscReal)PETSC_DEFAULT) PetscFunctionReturn(0);
  if (loss->exchange == WLM_LOSS_EXCHANGE_AUTO && sums[0] + sums[1] < loss->ring_min) PetscFunctionReturn(0);

  rg->dim      = loss->dim;
  rg->n        = n;
  rg->m        = m;
  rg->N        = sums[0];
  rg->M        = sums[1];
  rg->gradient = sums[4] ? PETSC_TRUE : PETSC_FALSE;
  rg->nmax     = maxes[0];
  rg->mmax     = maxes[1];
  PetscCall(RingReserve(rg));
  Transpose(n, rg->dim, x, rg->xt);
  Transpose(m, rg->dim, y, rg->yt);
  for (PetscInt i = 0; i < n; i++) rg->a[i] = 1.0 / (PetscReal)rg->N;
  for (PetscInt j = 0; j < m; j++) rg->b[j] = 1.0 / (PetscReal)rg->M;
  PetscCall(RingDiameter(comm, rg));
  loss->blur_used = loss->blur;
  *use            = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* Copies this rank's rows and column potentials into a block. */
static void PackOwnBlock(const WLMLossRing *rg, const PetscReal FA[], const PetscReal G[], const PetscReal GB[], PetscReal blk[])
{
  PetscInt off[BLOCK_PARTS];

  (void)BlockLayout(rg->dim, rg->nmax, rg->mmax, off);
  blk[0] = (PetscReal)rg->n;
  blk[1] = (PetscReal)rg->m;
  for (PetscInt e = 0; e < rg->dim * rg->n; e++) blk[off[BLOCK_X] + e] = rg->xt[e];
  for (PetscInt e = 0; e < rg->dim * rg->m; e++) blk[off[BLOCK_Y] + e] = rg->yt[e];
  for (PetscInt i = 0; i < rg->n; i++) {
    blk[off[BLOCK_A] + i]  = rg->a[i];
    blk[off[BLOCK_FA] + i] = FA ? FA[i] : 0;
  }
  for (PetscInt j = 0; j < rg->m; j++) {
    blk[off[BLOCK_B] + j]  = rg->b[j];
    blk[off[BLOCK_G] + j]  = G ? G[j] : 0;
    blk[off[BLOCK_GB] + j] = GB ? GB[j] : 0;
  }
}

/* Adds the sums of this rank's rows against one block (the three passes of the header). */
static PetscErrorCode BlockPasses(WLMLoss loss, WLMPairKernel kernel, PetscReal scale, const PetscReal F[], const PetscReal FA[], const PetscReal GB[], PetscBool columns, const PetscReal blk[], PetscReal colacc[])
{
  WLMLossRing    *rg = &loss->ring;
  const PetscInt  nb = (PetscInt)blk[0], mb = (PetscInt)blk[1];
  PetscInt        off[BLOCK_PARTS];
  WLMLossPairPass pass[3];

  PetscFunctionBeginUser;
  (void)BlockLayout(rg->dim, rg->nmax, rg->mmax, off);
  PetscCall(PetscMemzero(pass, sizeof(pass)));
  for (PetscInt p = 0; p < 3; p++) {
    pass[p].kernel   = kernel;
    pass[p].scale    = scale;
    pass[p].gradient = rg->gradient && p < 2 ? PETSC_TRUE : PETSC_FALSE;
  }
  /* cross pass: rows x, columns y of the block, with column sums */
  pass[0].columns = columns;
  pass[0].nrow    = rg->n;
  pass[0].ncol    = mb;
  pass[0].rowt    = rg->xt;
  pass[0].colt    = blk + off[BLOCK_Y];
  pass[0].rowpot  = F;
  pass[0].colpot  = blk + off[BLOCK_G];
  pass[0].roww    = rg->a;
  pass[0].colw    = blk + off[BLOCK_B];
  pass[0].rowsum  = rg->rowxy;
  pass[0].colsum  = colacc;
  pass[0].grad    = rg->gradxy;
  /* self pass of x: rows x, columns x of the block */
  pass[1].nrow   = rg->n;
  pass[1].ncol   = nb;
  pass[1].rowt   = rg->xt;
  pass[1].colt   = blk + off[BLOCK_X];
  pass[1].rowpot = FA;
  pass[1].colpot = blk + off[BLOCK_FA];
  pass[1].roww   = rg->a;
  pass[1].colw   = blk + off[BLOCK_A];
  pass[1].rowsum = rg->rowxx;
  pass[1].grad   = rg->gradxx;
  /* self pass of y: rows y, columns y of the block */
  pass[2].nrow   = rg->m;
  pass[2].ncol   = mb;
  pass[2].rowt   = rg->yt;
  pass[2].colt   = blk + off[BLOCK_Y];
  pass[2].rowpot = GB;
  pass[2].colpot = blk + off[BLOCK_GB];
  pass[2].roww   = rg->b;
  pass[2].colw   = blk + off[BLOCK_B];
  pass[2].rowsum = rg->rowyy;
  for (PetscInt p = 0; p < 3; p++) PetscCall(WLMLossPairBlockSums(loss, &pass[p]));
  PetscFunctionReturn(0);
}

/*
  WLMLossRingPasses - Computes the row sums of the cross pass and both self passes (and the column sums of the cross pass) over all ranks.

  Collective

  Input Parameters:
+ loss    - the loss, after WLMLossRingSetUp()
. kernel  - pair kernel and scale, as in WLMLossPairPass
. F, FA   - row potentials of this rank's x for the cross and self pass, or NULL
. G, GB   - column potentials of this rank's y for the cross pass and row/column potentials of its self pass, or NULL
- columns - accumulate the column sums of the cross pass

  On return loss->ring contains rowxy, rowxx, rowyy (and gradxy, gradxx when the
  gradient is wanted) for this rank's rows and, in colacc, the column sums of
  this rank's y.
*/
PetscErrorCode WLMLossRingPasses(WLMLoss loss, WLMPairKernel kernel, PetscReal scale, const PetscReal F[], const PetscReal FA[], const PetscReal G[], const PetscReal GB[], PetscBool columns)
{
  MPI_Comm     comm = PetscObjectComm((PetscObject)loss);
  WLMLossRing *rg   = &loss->ring;
  PetscMPIInt  size, rank, next, prev, len;
  PetscInt     cur = 0;
  MPI_Request  req[2];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  next = (rank + 1) % size;
  prev = (rank + size - 1) % size;
  PetscCall(PetscMPIIntCast(rg->blocklen, &len));
  PetscCall(PetscArrayzero(rg->rowxy, rg->n));
  PetscCall(PetscArrayzero(rg->rowxx, rg->n));
  PetscCall(PetscArrayzero(rg->rowyy, rg->m));
  PetscCall(PetscArrayzero(rg->colacc, rg->mmax));
  if (rg->gradient) {
    PetscCall(PetscArrayzero(rg->gradxy, (rg->dim + 1) * rg->n));
    PetscCall(PetscArrayzero(rg->gradxx, (rg->dim + 1) * rg->n));
  }
  PackOwnBlock(rg, FA, G, GB, rg->block[0]);

  for (PetscMPIInt s = 0; s < size; s++) {
    const PetscBool more = (PetscBool)(s < size - 1);

    /* receive the next block while this one is used */
    if (more) {
      PetscCallMPI(MPI_Irecv(rg->block[1 - cur], len, MPIU_REAL, prev, 0, comm, &req[0]));
      PetscCallMPI(MPI_Isend(rg->block[cur], len, MPIU_REAL, next, 0, comm, &req[1]));
    }
    PetscCall(PetscLogEventBegin(WLMLOSS_PairSums, loss, 0, 0, 0));
    PetscCall(BlockPasses(loss, kernel, scale, F, FA, GB, columns, rg->block[cur], rg->colacc));
    PetscCall(PetscLogEventEnd(WLMLOSS_PairSums, loss, 0, 0, 0));

    PetscCall(PetscLogEventBegin(WLMLOSS_RingExchange, loss, 0, 0, 0));
    if (more) PetscCallMPI(MPI_Waitall(2, req, MPI_STATUSES_IGNORE));
    /* the column sums follow their block; after the last round they are home */
    if (columns && size > 1) PetscCallMPI(MPI_Sendrecv_replace(rg->colacc, (PetscMPIInt)rg->mmax, MPIU_REAL, next, 1, prev, 1, comm, MPI_STATUS_IGNORE));
    PetscCall(PetscLogEventEnd(WLMLOSS_RingExchange, loss, 0, 0, 0));
    cur = 1 - cur;
  }
  PetscFunctionReturn(0);
}

/* Frees the ring arrays. */
PetscErrorCode WLMLossRingDestroy(WLMLossRing *rg)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree5(rg->xt, rg->a, rg->rowxy, rg->rowxx, rg->gradxy));
  PetscCall(PetscFree4(rg->yt, rg->b, rg->rowyy, rg->gradxx));
  PetscCall(PetscFree3(rg->block[0], rg->block[1], rg->colacc));
  rg->capn = rg->capm = rg->capblock = 0;
  PetscFunctionReturn(0);
}
