/*
   Ring exchange of the pair sums: both clouds stay sharded.

   Rank q of R keeps its rows of x (n_q particles) and of y (m_q).  One pass
   over the pairs takes h + 1 rounds, h = floor(R / 2).  In round 0 rank q
   computes the pairs inside its own rows.  In round s = 1..h it holds the
   block of rank v = (q - s) mod R: that rank's coordinates of x and y, their
   masses and their potentials F, FA (of x) and G, GB (of y).  It then
   computes every pair between its own rows and the block, once, and adds
   each pair to the sums of both sides:

     cross pass  x_q with y_v and y_q with x_v   (rows x, columns y)
     self of x   x_q with x_v
     self of y   y_q with y_v

   The sums of its own rows stay on rank q.  Those of the block's rows go
   back to their owner v in one MPI_Sendrecv per round, while rank q receives
   the sums that rank q + s computed for q's rows.  With R even, the blocks
   R / 2 apart meet twice in round h, so the two ranks split the work: the
   lower one computes x_q with y_v and x_q with x_v, the upper one x_v with
   y_q and y_v with y_q.  The coordinates of the next block are received
   while the current one is used (MPI_Isend/MPI_Irecv).

   Every unordered pair is visited once, as in the gathered path, so a call
   costs about (N M + N^2 / 2 + M^2 / 2) / R pair evaluations per rank.  Each
   round sends one block, max_q (n_q + m_q) (dim + 3) reals, and the sums of
   one block, max_q n_q (2 dim + 4) + 2 max_q m_q reals.  Memory per rank is
   O(n_q + m_q + block), independent of N + M.
*/
#include <wlm/private/lossimpl.h>

const char *const WLMLossExchanges[] = {"auto", "gather", "ring", "WLMLossExchange", "WLM_LOSS_EXCHANGE_", NULL};

/* Parts of a block; entries 0 and 1 hold the block's particle counts of x and y. */
enum {
  BLOCK_X,
  BLOCK_A,
  BLOCK_F,
  BLOCK_FA,
  BLOCK_Y,
  BLOCK_B,
  BLOCK_G,
  BLOCK_GB,
  BLOCK_PARTS
};

/* Offsets of the parts of a block with capacities nmax and mmax; returns the block length. */
static PetscInt BlockLayout(PetscInt dim, PetscInt nmax, PetscInt mmax, PetscInt off[])
{
  off[BLOCK_X]  = 2;
  off[BLOCK_A]  = off[BLOCK_X] + dim * nmax;
  off[BLOCK_F]  = off[BLOCK_A] + nmax;
  off[BLOCK_FA] = off[BLOCK_F] + nmax;
  off[BLOCK_Y]  = off[BLOCK_FA] + nmax;
  off[BLOCK_B]  = off[BLOCK_Y] + dim * mmax;
  off[BLOCK_G]  = off[BLOCK_B] + mmax;
  off[BLOCK_GB] = off[BLOCK_G] + mmax;
  return off[BLOCK_GB] + mmax;
}

/* Parts of the sums of one block's rows, each with the block's own counts as strides. */
enum {
  SUM_ROWXY,
  SUM_ROWXX,
  SUM_GRADXY,
  SUM_GRADXX,
  SUM_COLXY,
  SUM_ROWYY,
  SUM_PARTS
};

/* Offsets of the sums of a block of nb and mb particles; returns their length. */
static PetscInt SumLayout(PetscInt dim, PetscInt nb, PetscInt mb, PetscInt off[])
{
  off[SUM_ROWXY]  = 0;
  off[SUM_ROWXX]  = nb;
  off[SUM_GRADXY] = 2 * nb;
  off[SUM_GRADXX] = off[SUM_GRADXY] + (dim + 1) * nb;
  off[SUM_COLXY]  = off[SUM_GRADXX] + (dim + 1) * nb;
  off[SUM_ROWYY]  = off[SUM_COLXY] + mb;
  return off[SUM_ROWYY] + mb;
}

/* Grows the local and block arrays; keeps nothing. */
static PetscErrorCode RingReserve(WLMLossRing *rg)
{
  const PetscInt dim = rg->dim;
  PetscInt       off[SUM_PARTS], sumlen;

  PetscFunctionBeginUser;
  rg->blocklen = BlockLayout(dim, rg->nmax, rg->mmax, off);
  sumlen       = SumLayout(dim, rg->nmax, rg->mmax, off);
  if (rg->n > rg->capn || rg->m > rg->capm || dim != rg->capdim) {
    PetscCall(PetscFree5(rg->xt, rg->a, rg->rowxy, rg->rowxx, rg->gradxy));
    PetscCall(PetscFree5(rg->yt, rg->b, rg->rowyy, rg->gradxx, rg->scratch));
    rg->capn   = PetscMax(rg->n, rg->capn);
    rg->capm   = PetscMax(rg->m, rg->capm);
    rg->capdim = dim;
    PetscCall(PetscMalloc5(dim * rg->capn, &rg->xt, rg->capn, &rg->a, rg->capn, &rg->rowxy, rg->capn, &rg->rowxx, (dim + 1) * rg->capn, &rg->gradxy));
    PetscCall(PetscMalloc5(dim * rg->capm, &rg->yt, rg->capm, &rg->b, rg->capm, &rg->rowyy, (dim + 1) * rg->capn, &rg->gradxx, (dim + 1) * rg->capm, &rg->scratch));
  }
  if (rg->blocklen + sumlen + rg->mmax > rg->capblock) {
    PetscCall(PetscFree5(rg->block[0], rg->block[1], rg->colacc, rg->sumsend, rg->sumrecv));
    rg->capblock = rg->blocklen + sumlen + rg->mmax;
    PetscCall(PetscMalloc5(rg->capblock, &rg->block[0], rg->capblock, &rg->block[1], rg->capblock, &rg->colacc, rg->capblock, &rg->sumsend, rg->capblock, &rg->sumrecv));
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

/* Copies this rank's rows and potentials into a block. */
static void PackOwnBlock(const WLMLossRing *rg, const PetscReal F[], const PetscReal FA[], const PetscReal G[], const PetscReal GB[], PetscReal blk[])
{
  PetscInt off[BLOCK_PARTS];

  (void)BlockLayout(rg->dim, rg->nmax, rg->mmax, off);
  blk[0] = (PetscReal)rg->n;
  blk[1] = (PetscReal)rg->m;
  for (PetscInt e = 0; e < rg->dim * rg->n; e++) blk[off[BLOCK_X] + e] = rg->xt[e];
  for (PetscInt e = 0; e < rg->dim * rg->m; e++) blk[off[BLOCK_Y] + e] = rg->yt[e];
  for (PetscInt i = 0; i < rg->n; i++) {
    blk[off[BLOCK_A] + i]  = rg->a[i];
    blk[off[BLOCK_F] + i]  = F ? F[i] : 0;
    blk[off[BLOCK_FA] + i] = FA ? FA[i] : 0;
  }
  for (PetscInt j = 0; j < rg->m; j++) {
    blk[off[BLOCK_B] + j]  = rg->b[j];
    blk[off[BLOCK_G] + j]  = G ? G[j] : 0;
    blk[off[BLOCK_GB] + j] = GB ? GB[j] : 0;
  }
}

/* A pass of kernel and scale with rows (t, w, pot) of nrow particles and columns (t, w, pot) of ncol. */
static void SetPass(WLMLossPairPass *pp, WLMPairKernel kernel, PetscReal scale, PetscInt nrow, const PetscReal *rowt, const PetscReal *roww, const PetscReal *rowpot, PetscInt ncol, const PetscReal *colt, const PetscReal *colw, const PetscReal *colpot)
{
  PetscMemzero(pp, sizeof(*pp));
  pp->kernel = kernel;
  pp->scale  = scale;
  pp->nrow   = nrow;
  pp->rowt   = rowt;
  pp->roww   = roww;
  pp->rowpot = rowpot;
  pp->ncol   = ncol;
  pp->colt   = colt;
  pp->colw   = colw;
  pp->colpot = colpot;
}

/*
  Round 0: the pairs inside this rank's rows.  The self passes visit each pair once and leave the
  diagonal, which is added here: e(x, x) = exp(2 F) for Sinkhorn, 1 for the Gaussian, 0 for the
  distance.  Its gradient terms h (x_i - x_i) vanish and are left out.
*/
static PetscErrorCode OwnPasses(WLMLoss loss, WLMPairKernel kernel, PetscReal scale, const PetscReal F[], const PetscReal FA[], const PetscReal G[], const PetscReal GB[])
{
  WLMLossRing    *rg       = &loss->ring;
  const PetscBool sinkhorn = (PetscBool)(kernel == WLM_PAIR_SINKHORN_P1 || kernel == WLM_PAIR_SINKHORN_P2);
  WLMLossPairPass pass;

  PetscFunctionBeginUser;
  SetPass(&pass, kernel, scale, rg->n, rg->xt, rg->a, F, rg->m, rg->yt, rg->b, G);
  pass.columns  = PETSC_TRUE;
  pass.gradient = rg->gradient;
  pass.rowsum   = rg->rowxy;
  pass.colsum   = rg->colacc;
  pass.grad     = rg->gradxy;
  PetscCall(WLMLossPairBlockSums(loss, &pass, NULL));

  SetPass(&pass, kernel, scale, rg->n, rg->xt, rg->a, FA, rg->n, rg->xt, rg->a, FA);
  pass.self     = PETSC_TRUE;
  pass.gradient = rg->gradient;
  pass.rowsum   = rg->rowxx;
  pass.grad     = rg->gradxx;
  PetscCall(WLMLossPairBlockSums(loss, &pass, NULL));

  SetPass(&pass, kernel, scale, rg->m, rg->yt, rg->b, GB, rg->m, rg->yt, rg->b, GB);
  pass.self   = PETSC_TRUE;
  pass.rowsum = rg->rowyy;
  PetscCall(WLMLossPairBlockSums(loss, &pass, NULL));

  if (kernel == WLM_PAIR_DISTANCE) PetscFunctionReturn(0);
  for (PetscInt i = 0; i < rg->n; i++) rg->rowxx[i] += rg->a[i] * (sinkhorn ? PetscExpReal(2 * FA[i]) : 1.0);
  for (PetscInt j = 0; j < rg->m; j++) rg->rowyy[j] += rg->b[j] * (sinkhorn ? PetscExpReal(2 * GB[j]) : 1.0);
  PetscFunctionReturn(0);
}

/*
  Rounds 1..h: the pairs between this rank's rows and the block blk, added to the sums of this rank's rows and, in sums, of the block's rows.
  x of this rank with y of the block is always computed; the flags select the other three parts.
*/
static PetscErrorCode VisitPasses(WLMLoss loss, WLMPairKernel kernel, PetscReal scale, const PetscReal F[], const PetscReal FA[], const PetscReal G[], const PetscReal GB[], const PetscReal blk[], PetscBool cross2, PetscBool selfx, PetscBool selfy, PetscReal sums[])
{
  WLMLossRing    *rg = &loss->ring;
  const PetscInt  nb = (PetscInt)blk[0], mb = (PetscInt)blk[1];
  PetscInt        off[BLOCK_PARTS], so[SUM_PARTS];
  WLMLossPairPass pass;

  PetscFunctionBeginUser;
  (void)BlockLayout(rg->dim, rg->nmax, rg->mmax, off);
  PetscCall(PetscArrayzero(sums, SumLayout(rg->dim, nb, mb, so)));

  /* x of this rank with y of the block: row sums here, column sums (the block's cross column sums) there */
  SetPass(&pass, kernel, scale, rg->n, rg->xt, rg->a, F, mb, blk + off[BLOCK_Y], blk + off[BLOCK_B], blk + off[BLOCK_G]);
  pass.columns  = PETSC_TRUE;
  pass.gradient = rg->gradient;
  pass.rowsum   = rg->rowxy;
  pass.colsum   = sums + so[SUM_COLXY];
  pass.grad     = rg->gradxy;
  PetscCall(WLMLossPairBlockSums(loss, &pass, NULL));

  /* y of this rank with x of the block: this rank's cross column sums, and the block's cross row sums and gradient sums */
  if (cross2) {
    SetPass(&pass, kernel, scale, rg->m, rg->yt, rg->b, G, nb, blk + off[BLOCK_X], blk + off[BLOCK_A], blk + off[BLOCK_F]);
    pass.columns  = PETSC_TRUE;
    pass.gradient = rg->gradient;
    pass.rowsum   = rg->colacc;
    pass.colsum   = sums + so[SUM_ROWXY];
    pass.grad     = rg->scratch;
    PetscCall(WLMLossPairBlockSums(loss, &pass, rg->gradient ? sums + so[SUM_GRADXY] : NULL));
  }

  /* x with x, both sides */
  if (selfx) {
    SetPass(&pass, kernel, scale, rg->n, rg->xt, rg->a, FA, nb, blk + off[BLOCK_X], blk + off[BLOCK_A], blk + off[BLOCK_FA]);
    pass.columns  = PETSC_TRUE;
    pass.gradient = rg->gradient;
    pass.rowsum   = rg->rowxx;
    pass.colsum   = sums + so[SUM_ROWXX];
    pass.grad     = rg->gradxx;
    PetscCall(WLMLossPairBlockSums(loss, &pass, rg->gradient ? sums + so[SUM_GRADXX] : NULL));
  }

  /* y with y, both sides */
  if (selfy) {
    SetPass(&pass, kernel, scale, rg->m, rg->yt, rg->b, GB, mb, blk + off[BLOCK_Y], blk + off[BLOCK_B], blk + off[BLOCK_GB]);
    pass.columns = PETSC_TRUE;
    pass.rowsum  = rg->rowyy;
    pass.colsum  = sums + so[SUM_ROWYY];
    PetscCall(WLMLossPairBlockSums(loss, &pass, NULL));
  }
  PetscFunctionReturn(0);
}

/* Adds the sums that another rank computed for this rank's rows. */
static void AddOwnSums(WLMLossRing *rg, const PetscReal sums[])
{
  PetscInt so[SUM_PARTS];

  (void)SumLayout(rg->dim, rg->n, rg->m, so);
  for (PetscInt i = 0; i < rg->n; i++) {
    rg->rowxy[i] += sums[so[SUM_ROWXY] + i];
    rg->rowxx[i] += sums[so[SUM_ROWXX] + i];
  }
  for (PetscInt e = 0; rg->gradient && e < (rg->dim + 1) * rg->n; e++) {
    rg->gradxy[e] += sums[so[SUM_GRADXY] + e];
    rg->gradxx[e] += sums[so[SUM_GRADXX] + e];
  }
  for (PetscInt j = 0; j < rg->m; j++) {
    rg->colacc[j] += sums[so[SUM_COLXY] + j];
    rg->rowyy[j] += sums[so[SUM_ROWYY] + j];
  }
}

/*
  WLMLossRingPasses - Computes the row sums of the cross pass and both self passes and the column sums of the cross pass over all ranks.

  Collective

  Input Parameters:
+ loss   - the loss, after WLMLossRingSetUp()
. kernel - pair kernel and scale, as in WLMLossPairPass
. F, FA  - potentials of this rank's x in the cross and the self pass, or NULL for the kernels without potentials
- G, GB  - potentials of this rank's y in the cross and the self pass, or NULL

  On return loss->ring contains rowxy, rowxx, rowyy (diagonal included) and,
  when the gradient is wanted, gradxy and gradxx for this rank's rows, and in
  colacc the column sums of the cross pass for this rank's y.
*/
PetscErrorCode WLMLossRingPasses(WLMLoss loss, WLMPairKernel kernel, PetscReal scale, const PetscReal F[], const PetscReal FA[], const PetscReal G[], const PetscReal GB[])
{
  MPI_Comm     comm = PetscObjectComm((PetscObject)loss);
  WLMLossRing *rg   = &loss->ring;
  PetscMPIInt  size, rank, next, prev, len, sumlen;
  PetscInt     cur = 0, so[SUM_PARTS], h;
  MPI_Request  req[2];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  next = (rank + 1) % size;
  prev = (rank + size - 1) % size;
  h    = size / 2;
  PetscCall(PetscMPIIntCast(rg->blocklen, &len));
  PetscCall(PetscMPIIntCast(SumLayout(rg->dim, rg->nmax, rg->mmax, so), &sumlen));
  PetscCall(PetscArrayzero(rg->rowxy, rg->n));
  PetscCall(PetscArrayzero(rg->rowxx, rg->n));
  PetscCall(PetscArrayzero(rg->rowyy, rg->m));
  PetscCall(PetscArrayzero(rg->colacc, rg->m));
  if (rg->gradient) {
    PetscCall(PetscArrayzero(rg->gradxy, (rg->dim + 1) * rg->n));
    PetscCall(PetscArrayzero(rg->gradxx, (rg->dim + 1) * rg->n));
  }
  PackOwnBlock(rg, F, FA, G, GB, rg->block[0]);

  for (PetscInt s = 0; s <= h; s++) {
    const PetscBool more = (PetscBool)(s < h);
    /* with R even, the blocks R / 2 apart meet twice in the last round, and the two ranks split the parts */
    const PetscBool split = (PetscBool)(size % 2 == 0 && s == h), lower = (PetscBool)(rank < h);

    /* receive the next block while this one is used */
    if (more) {
      PetscCallMPI(MPI_Irecv(rg->block[1 - cur], len, MPIU_REAL, prev, 0, comm, &req[0]));
      PetscCallMPI(MPI_Isend(rg->block[cur], len, MPIU_REAL, next, 0, comm, &req[1]));
    }
    PetscCall(PetscLogEventBegin(WLMLOSS_PairSums, loss, 0, 0, 0));
    if (s == 0) PetscCall(OwnPasses(loss, kernel, scale, F, FA, G, GB));
    else PetscCall(VisitPasses(loss, kernel, scale, F, FA, G, GB, rg->block[cur], (PetscBool)!split, (PetscBool)(!split || lower), (PetscBool)(!split || !lower), rg->sumsend));
    PetscCall(PetscLogEventEnd(WLMLOSS_PairSums, loss, 0, 0, 0));

    PetscCall(PetscLogEventBegin(WLMLOSS_RingExchange, loss, 0, 0, 0));
    if (more) PetscCallMPI(MPI_Waitall(2, req, MPI_STATUSES_IGNORE));
    if (s > 0) {
      /* the sums of the block's rows go to its owner q - s; this rank's come from q + s */
      PetscCallMPI(MPI_Sendrecv(rg->sumsend, sumlen, MPIU_REAL, (PetscMPIInt)((rank + size - s) % size), 1, rg->sumrecv, sumlen, MPIU_REAL, (PetscMPIInt)((rank + s) % size), 1, comm, MPI_STATUS_IGNORE));
      AddOwnSums(rg, rg->sumrecv);
    }
    PetscCall(PetscLogEventEnd(WLMLOSS_RingExchange, loss, 0, 0, 0));
    if (more) cur = 1 - cur;
  }
  PetscFunctionReturn(0);
}

/* Frees the ring arrays. */
PetscErrorCode WLMLossRingDestroy(WLMLossRing *rg)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree5(rg->xt, rg->a, rg->rowxy, rg->rowxx, rg->gradxy));
  PetscCall(PetscFree5(rg->yt, rg->b, rg->rowyy, rg->gradxx, rg->scratch));
  PetscCall(PetscFree5(rg->block[0], rg->block[1], rg->colacc, rg->sumsend, rg->sumrecv));
  rg->capn = rg->capm = rg->capblock = 0;
  PetscFunctionReturn(0);
}
