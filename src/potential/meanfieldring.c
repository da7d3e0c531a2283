/*
   Ring exchange of the meanfield pair sums (-wlm_potential_exchange ring):
   every rank keeps its own particles, and no array has N entries except the
   shuffle of the random batches.

   All pairs.  Rank q of R keeps its n_q rows.  One call takes h + 1 rounds,
   h = floor(R / 2).  In round 0 rank q runs the pairs inside its rows, each
   unordered pair once.  In round s = 1..h it holds the block of rank
   v = (q - s) mod R: positions, masses and, for products, cotangents.  It
   runs every pair between its rows and the block once and adds g (and dg)
   to both sides, as in the gathered exchange.  The block's sums then go back
   to v, while q receives from rank q + s the sums that rank computed for
   q's rows.  With R even, the blocks R / 2 apart meet twice in round h, so
   the pair of ranks splits the work by the rows of the lower rank q < h:
   q runs its rows 0..n_q/2-1 with all of the block, and q + h runs all of
   its rows with the block's rows n_q/2..n_q-1.  The next block is received
   while the current one is used, and the sums of a round travel while the
   next round computes (MPI_Isend/MPI_Irecv).  Each rank runs about
   N^2 / (2 R) pairs.  A round sends one block of max_q n_q (dim + 1) reals
   (2 dim + 1 with cotangents) and one block of sums, max_q n_q dim reals
   (2 dim with products).

   Random batches.  The particle at position p of the shuffle belongs to
   batch b = p / K, and batch b belongs to the rank r with
   B r / R <= b < B (r + 1) / R (B batches), as in the gathered exchange.
   Each rank sends its particles to the owners of their batches with one
   MPI_Alltoallv, the owners run the pairs of their batches in the order of
   the gathered exchange, and a second MPI_Alltoallv returns the sums.  The
   results equal the gathered ones up to the order of the final sums.
*/
#include "meanfield.h"

/* Offsets in a block of capacity nmax: entry 0 contains the block's particle count, then x [nmax][dim], w [nmax] and lambda [nmax][dim]. */
static PetscInt BlockLayout(PetscInt dim, PetscInt nmax, PetscBool tangent, PetscInt *offw, PetscInt *offl)
{
  *offw = 1 + nmax * dim;
  *offl = *offw + nmax;
  return *offl + (tangent ? nmax * dim : 0);
}

/* Grows the arrays of this rank's particles to n, and each of the five buffers of blocks and block sums to len reals. */
static PetscErrorCode RingReserve(WLMPotential pot, PetscInt n, PetscInt len)
{
  MeanfieldRing *rg  = &((Meanfield *)pot->data)->ring;
  const PetscInt dim = pot->dim;

  PetscFunctionBeginUser;
  if (n > rg->cap_local) {
    PetscCall(PetscFree3(rg->w, rg->g, rg->h));
    PetscCall(PetscMalloc3(n, &rg->w, n * dim, &rg->g, n * dim, &rg->h));
    rg->cap_local = n;
  }
  if (len > rg->cap_block) {
    PetscCall(PetscFree4(rg->block[0], rg->block[1], rg->sumsend[0], rg->sumsend[1]));
    PetscCall(PetscFree(rg->sumrecv));
    PetscCall(PetscMalloc4(len, &rg->block[0], len, &rg->block[1], len, &rg->sumsend[0], len, &rg->sumsend[1]));
    PetscCall(PetscMalloc1(len, &rg->sumrecv));
    rg->cap_block = len;
  }
  PetscFunctionReturn(0);
}

/* Copies this rank's n particles into a block. */
static void PackOwnBlock(PetscInt dim, PetscInt nmax, PetscBool tangent, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, PetscReal *blk)
{
  PetscInt offw, offl;

  (void)BlockLayout(dim, nmax, tangent, &offw, &offl);
  blk[0] = (PetscReal)n;
  for (PetscInt e = 0; e < n * dim; e++) blk[1 + e] = x[e];
  for (PetscInt i = 0; i < n; i++) blk[offw + i] = w[i];
  for (PetscInt e = 0; tangent && e < n * dim; e++) blk[offl + e] = lambda[e];
}

/*
   Runs the pairs of round s: inside this rank's rows (s = 0), or between
   them and the block blk (s > 0), with the sums of the block's rows in
   blksums ([nmax][dim] g, then [nmax][dim] h).
*/
static PetscErrorCode RingRound(WLMPotential pot, PairPass pass, PetscReal t, PetscInt s, PetscInt n, const MeanfieldRows *own, const PetscReal *blk, PetscInt nmax, PetscReal *blksums, PetscReal *U, PetscReal *gradtheta)
{
  Meanfield      *mf      = (Meanfield *)pot->data;
  const PetscInt  dim     = pot->dim;
  const PetscBool tangent = (PetscBool)(pass == PAIR_PRODUCTS);
  PetscMPIInt     size, rank;
  PetscInt        np = 0, offw, offl, nb, i1 = n, j0 = 0;
  MeanfieldRows   block;

  PetscFunctionBeginUser;
  mf->rows_i = *own;
  if (s == 0) {
    mf->rows_j = *own;
    for (PetscInt i = 0; i < n; i++) {
      for (PetscInt j = i + 1; j < n; j++) PetscCall(MeanfieldAddPair(pot, pass, t, i, j, &np, U, gradtheta));
    }
    if (np) PetscCall(MeanfieldTile(pot, pass, t, np, U, gradtheta));
    PetscFunctionReturn(0);
  }

  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
  PetscCallMPI(MPI_Comm_rank(PetscObjectComm((PetscObject)pot), &rank));
  (void)BlockLayout(dim, nmax, tangent, &offw, &offl);
  nb       = (PetscInt)blk[0];
  block.x  = blk + 1;
  block.w  = blk + offw;
  block.lambda = tangent ? blk + offl : NULL;
  block.g  = blksums;
  block.h  = blksums + nmax * dim;
  PetscCall(PetscArrayzero(blksums, nb * dim));
  if (tangent) PetscCall(PetscArrayzero(block.h, nb * dim));
  mf->rows_j = block;
  /* with R even the ranks R / 2 apart meet twice in the last round: split by halves of the lower rank's rows */
  if (size % 2 == 0 && s == size / 2) {
    if (rank < size / 2) i1 = n / 2;
    else j0 = nb / 2;
  }
  for (PetscInt i = 0; i < i1; i++) {
    for (PetscInt j = j0; j < nb; j++) PetscCall(MeanfieldAddPair(pot, pass, t, i, j, &np, U, gradtheta));
  }
  if (np) PetscCall(MeanfieldTile(pot, pass, t, np, U, gradtheta));
  PetscFunctionReturn(0);
}

/* Adds the sums that another rank computed for this rank's rows. */
static void AddOwnSums(MeanfieldRing *rg, PetscInt dim, PetscInt n, PetscInt nmax, PetscBool tangent, const PetscReal *sums)
{
  for (PetscInt e = 0; e < n * dim; e++) rg->g[e] += sums[e];
  for (PetscInt e = 0; tangent && e < n * dim; e++) rg->h[e] += sums[nmax * dim + e];
}

/* The h + 1 rounds over all pairs; on return rg->g and rg->h contain the sums of this rank's rows. */
static PetscErrorCode RingAllPairs(WLMPotential pot, PairPass pass, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *lambda, PetscInt nmax, PetscReal *U, PetscReal *gradtheta)
{
  Meanfield          *mf      = (Meanfield *)pot->data;
  MeanfieldRing      *rg      = &mf->ring;
  MPI_Comm            comm    = PetscObjectComm((PetscObject)pot);
  const PetscInt      dim     = pot->dim;
  const PetscBool     tangent = (PetscBool)(pass == PAIR_PRODUCTS), sums = (PetscBool)(pass == PAIR_FORCES || pass == PAIR_PRODUCTS);
  const MeanfieldRows own     = {x, lambda, rg->w, rg->g, rg->h};
  PetscMPIInt         size, rank, next, prev, len, sumlen;
  PetscInt            h, cur = 0, offw, offl;
  MPI_Request         blockreq[2], sumreq[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  next = (rank + 1) % size;
  prev = (rank + size - 1) % size;
  h    = size / 2;
  PetscCall(PetscMPIIntCast(BlockLayout(dim, nmax, tangent, &offw, &offl), &len));
  PetscCall(PetscMPIIntCast(nmax * dim * (tangent ? 2 : 1), &sumlen));
  PackOwnBlock(dim, nmax, tangent, n, x, rg->w, lambda, rg->block[0]);

  for (PetscInt s = 0; s <= h; s++) {
    const PetscBool more = (PetscBool)(s < h);

    /* receive the next block while this one is used */
    if (more) {
      PetscCallMPI(MPI_Irecv(rg->block[1 - cur], len, MPIU_REAL, prev, 0, comm, &blockreq[0]));
      PetscCallMPI(MPI_Isend(rg->block[cur], len, MPIU_REAL, next, 0, comm, &blockreq[1]));
    }
    PetscCall(RingRound(pot, pass, t, s, n, &own, rg->block[cur], nmax, rg->sumsend[s % 2], U, gradtheta));

    PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
    if (more) PetscCallMPI(MPI_Waitall(2, blockreq, MPI_STATUSES_IGNORE));
    /* the sums of the previous round have travelled during this round's pairs */
    PetscCallMPI(MPI_Waitall(2, sumreq, MPI_STATUSES_IGNORE));
    if (sums && s > 1) AddOwnSums(rg, dim, n, nmax, tangent, rg->sumrecv);
    if (sums && s > 0) {
      /* the sums of the block's rows go to its owner q - s; this rank's come from q + s */
      PetscCallMPI(MPI_Irecv(rg->sumrecv, sumlen, MPIU_REAL, (PetscMPIInt)((rank + s) % size), 1, comm, &sumreq[0]));
      PetscCallMPI(MPI_Isend(rg->sumsend[s % 2], sumlen, MPIU_REAL, (PetscMPIInt)((rank + size - s) % size), 1, comm, &sumreq[1]));
    }
    PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
    if (more) cur = 1 - cur;
  }
  if (sums && h > 0) {
    PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
    PetscCallMPI(MPI_Waitall(2, sumreq, MPI_STATUSES_IGNORE));
    PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
    AddOwnSums(rg, dim, n, nmax, tangent, rg->sumrecv);
  }
  PetscFunctionReturn(0);
}

/* Grows the arrays of the random batches to records of max(n, m) particles, n sent and m received and owned. */
static PetscErrorCode RouteReserve(WLMPotential pot, PetscInt n, PetscInt m)
{
  MeanfieldRing *rg  = &((Meanfield *)pot->data)->ring;
  const PetscInt dim = pot->dim, need = PetscMax(n, m), reclen = 2 + 2 * dim; /* the record with cotangents, the maximum length */
  PetscMPIInt    size;

  PetscFunctionBeginUser;
  if (!rg->scounts) {
    PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
    PetscCall(PetscMalloc4(size, &rg->scounts, size, &rg->sdispls, size, &rg->rcounts, size, &rg->rdispls));
  }
  if (need > rg->cap_route) {
    PetscCall(PetscFree3(rg->send, rg->recv, rg->sendidx));
    PetscCall(PetscFree5(rg->bx, rg->bl, rg->bw, rg->bg, rg->bh));
    PetscCall(PetscMalloc3(need * reclen, &rg->send, need * reclen, &rg->recv, need, &rg->sendidx));
    PetscCall(PetscMalloc5(need * dim, &rg->bx, need * dim, &rg->bl, need, &rg->bw, need * dim, &rg->bg, need * dim, &rg->bh));
    rg->cap_route = need;
  }
  PetscFunctionReturn(0);
}

/*
   Packs one record per particle of this rank, in the order of the shuffle:
   position in the shuffle, mass, x and (with tangent) lambda.  Sets
   rg->scounts and rg->sdispls (in reals) and rg->sendidx, the local index of
   each record.
*/
static PetscErrorCode RoutePack(WLMPotential pot, PetscInt N, PetscInt start, PetscInt n, const PetscReal *x, const PetscReal *lambda, PetscBool tangent, PetscInt reclen)
{
  Meanfield     *mf  = (Meanfield *)pot->data;
  MeanfieldRing *rg  = &mf->ring;
  const PetscInt dim = pot->dim, K = mf->batch, nbatch = (N + K - 1) / K;
  PetscMPIInt    size, dest = 0;
  PetscInt       k = 0, offset = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
  for (PetscMPIInt q = 0; q < size; q++) rg->scounts[q] = 0;
  /* positions increase, so the owners of the batches do too and each destination's records are contiguous */
  for (PetscInt pos = 0; pos < N; pos++) {
    const PetscInt i = mf->order[pos] - start, b = pos / K;
    PetscReal     *rec = rg->send + k * reclen;

    if (i < 0 || i >= n) continue;
    while (b >= nbatch * (dest + 1) / size) dest++;
    rg->scounts[dest] += (PetscMPIInt)reclen;
    rg->sendidx[k] = i;
    rec[0]         = (PetscReal)pos;
    rec[1]         = rg->w[i];
    for (PetscInt c = 0; c < dim; c++) rec[2 + c] = x[i * dim + c];
    for (PetscInt c = 0; tangent && c < dim; c++) rec[2 + dim + c] = lambda[i * dim + c];
    k++;
  }
  for (PetscMPIInt q = 0; q < size; q++) {
    rg->sdispls[q] = (PetscMPIInt)offset;
    offset += rg->scounts[q];
  }
  PetscFunctionReturn(0);
}

/*
   Returns the sums of the routed particles to their ranks: record r of the
   received ones goes back in place r, and each rank adds the returned sums
   to its particles in the order it sent them.
*/
static PetscErrorCode RouteReturn(WLMPotential pot, PetscInt n, PetscInt p0, PetscBool tangent, PetscInt reclen, PetscInt nrecv)
{
  MeanfieldRing *rg     = &((Meanfield *)pot->data)->ring;
  MPI_Comm       comm   = PetscObjectComm((PetscObject)pot);
  const PetscInt dim    = pot->dim, retlen = tangent ? 2 * dim : dim;
  PetscMPIInt    size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  /* in place: record r's sums overwrite reals r retlen.., which precede record r + 1 because retlen < reclen */
  for (PetscInt r = 0; r < nrecv; r++) {
    const PetscInt slot = (PetscInt)rg->recv[r * reclen] - p0;

    for (PetscInt c = 0; c < dim; c++) rg->recv[r * retlen + c] = rg->bg[slot * dim + c];
    for (PetscInt c = 0; tangent && c < dim; c++) rg->recv[r * retlen + dim + c] = rg->bh[slot * dim + c];
  }
  for (PetscMPIInt q = 0; q < size; q++) {
    rg->scounts[q] = (PetscMPIInt)(rg->scounts[q] / reclen * retlen);
    rg->sdispls[q] = (PetscMPIInt)(rg->sdispls[q] / reclen * retlen);
    rg->rcounts[q] = (PetscMPIInt)(rg->rcounts[q] / reclen * retlen);
    rg->rdispls[q] = (PetscMPIInt)(rg->rdispls[q] / reclen * retlen);
  }
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
  PetscCallMPI(MPI_Alltoallv(rg->recv, rg->rcounts, rg->rdispls, MPIU_REAL, rg->send, rg->scounts, rg->sdispls, MPIU_REAL, comm));
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
  for (PetscInt k = 0; k < n; k++) {
    const PetscInt i = rg->sendidx[k];

    for (PetscInt c = 0; c < dim; c++) rg->g[i * dim + c] += rg->send[k * retlen + c];
    for (PetscInt c = 0; tangent && c < dim; c++) rg->h[i * dim + c] += rg->send[k * retlen + dim + c];
  }
  PetscFunctionReturn(0);
}

/* Random batches: routes the particles to the owners of their batches, runs the pairs of this rank's batches and returns the sums. */
static PetscErrorCode RingBatchPairs(WLMPotential pot, PairPass pass, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *lambda, PetscInt N, PetscInt start, PetscReal *U, PetscReal *gradtheta)
{
  Meanfield      *mf      = (Meanfield *)pot->data;
  MeanfieldRing  *rg      = &mf->ring;
  MPI_Comm        comm    = PetscObjectComm((PetscObject)pot);
  const PetscInt  dim     = pot->dim, K = mf->batch, nbatch = (N + K - 1) / K;
  const PetscBool tangent = (PetscBool)(pass == PAIR_PRODUCTS), sums = (PetscBool)(pass == PAIR_FORCES || pass == PAIR_PRODUCTS);
  const PetscInt  reclen  = 2 + (tangent ? 2 : 1) * dim;
  PetscMPIInt     size, rank;
  PetscInt        b0, b1, p0, p1, nrecv = 0, np = 0;
  MeanfieldRows   rows;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  /* NOTE: every rank draws the whole shuffle, N integers, so that the batches equal those of the gathered exchange */
  PetscCall(MeanfieldReserveOrder(pot, N));
  MeanfieldBatchShuffle(mf, t, N);
  b0 = nbatch * rank / size;
  b1 = nbatch * (rank + 1) / size;
  p0 = b0 * K;
  p1 = PetscMin(N, b1 * K);
  PetscCall(RouteReserve(pot, n, p1 - p0));
  PetscCall(RoutePack(pot, N, start, n, x, lambda, tangent, reclen));

  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
  PetscCallMPI(MPI_Alltoall(rg->scounts, 1, MPI_INT, rg->rcounts, 1, MPI_INT, comm));
  for (PetscMPIInt q = 0; q < size; q++) {
    rg->rdispls[q] = (PetscMPIInt)(nrecv * reclen);
    nrecv += rg->rcounts[q] / reclen;
  }
  PetscCheck(nrecv == p1 - p0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Rank %d received %" PetscInt_FMT " particles for its random batches, expected %" PetscInt_FMT, (int)rank, nrecv, p1 - p0);
  PetscCallMPI(MPI_Alltoallv(rg->send, rg->scounts, rg->sdispls, MPIU_REAL, rg->recv, rg->rcounts, rg->rdispls, MPIU_REAL, comm));
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Communication, pot, 0, 0, 0));

  /* slot p - p0 contains the particle at position p of the shuffle */
  for (PetscInt r = 0; r < nrecv; r++) {
    const PetscReal *rec  = rg->recv + r * reclen;
    const PetscInt   slot = (PetscInt)rec[0] - p0;

    rg->bw[slot] = rec[1];
    for (PetscInt c = 0; c < dim; c++) rg->bx[slot * dim + c] = rec[2 + c];
    for (PetscInt c = 0; tangent && c < dim; c++) rg->bl[slot * dim + c] = rec[2 + dim + c];
  }
  if (sums) PetscCall(PetscArrayzero(rg->bg, nrecv * dim));
  if (tangent) PetscCall(PetscArrayzero(rg->bh, nrecv * dim));
  rows.x      = rg->bx;
  rows.lambda = rg->bl;
  rows.w      = rg->bw;
  rows.g      = rg->bg;
  rows.h      = rg->bh;
  mf->rows_i  = rows;
  mf->rows_j  = rows;
  for (PetscInt b = b0; b < b1; b++) {
    const PetscInt base = b * K - p0, kb = PetscMin(N, (b + 1) * K) - b * K;

    for (PetscInt u = 0; u < kb; u++) {
      for (PetscInt v = u + 1; v < kb; v++) PetscCall(MeanfieldAddPair(pot, pass, t, base + u, base + v, &np, U, gradtheta));
    }
  }
  if (np) PetscCall(MeanfieldTile(pot, pass, t, np, U, gradtheta));
  mf->pair_scale = 1.0;
  PetscCall(PetscLogFlops(2.0 * nbatch));
  if (sums) PetscCall(RouteReturn(pot, n, p0, tangent, reclen, nrecv));
  PetscFunctionReturn(0);
}

/*
  MeanfieldRingPairSum - Runs the pair part of a call with the ring exchange.

  Collective

  Input Parameters:
+ pot       - the meanfield model
. pass      - which outputs the call needs
. t         - time
. n, x, w   - this rank's particles, their positions [n][dim] and masses (NULL for uniform)
. mass      - the uniform mass, used when w is NULL
. lambda    - cotangents [n][dim] for the products pass, else NULL
. N, start  - particles over the ranks and this rank's first global index
- nmax      - the largest n over the ranks

  Output Parameters:
+ U         - incremented by this rank's share of the pair energy
- gradtheta - incremented by this rank's share of the parameter product or gradient, or NULL

  On return mf->ring.w contains the masses of this rank's particles and, for
  the forces and products passes, mf->ring.g and mf->ring.h the sums of g
  and dg over their pairs.
*/
PetscErrorCode MeanfieldRingPairSum(WLMPotential pot, PairPass pass, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], PetscReal mass, const PetscReal lambda[], PetscInt N, PetscInt start, PetscInt nmax, PetscReal *U, PetscReal gradtheta[])
{
  Meanfield     *mf  = (Meanfield *)pot->data;
  MeanfieldRing *rg  = &mf->ring;
  const PetscInt dim = pot->dim;
  PetscInt       offw, offl;

  PetscFunctionBeginUser;
  PetscCall(RingReserve(pot, n, BlockLayout(dim, nmax, PETSC_TRUE, &offw, &offl)));
  for (PetscInt i = 0; i < n; i++) rg->w[i] = w ? w[i] : mass;
  PetscCall(PetscArrayzero(rg->g, n * dim));
  PetscCall(PetscArrayzero(rg->h, n * dim));
  if (mf->batch > 0 && mf->batch < N) PetscCall(RingBatchPairs(pot, pass, t, n, x, lambda, N, start, U, gradtheta));
  else PetscCall(RingAllPairs(pot, pass, t, n, x, lambda, nmax, U, gradtheta));
  PetscFunctionReturn(0);
}

/* Frees the ring workspace. */
PetscErrorCode MeanfieldRingDestroy(MeanfieldRing *rg)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree3(rg->w, rg->g, rg->h));
  PetscCall(PetscFree4(rg->block[0], rg->block[1], rg->sumsend[0], rg->sumsend[1]));
  PetscCall(PetscFree(rg->sumrecv));
  PetscCall(PetscFree3(rg->send, rg->recv, rg->sendidx));
  PetscCall(PetscFree5(rg->bx, rg->bl, rg->bw, rg->bg, rg->bh));
  PetscCall(PetscFree4(rg->scounts, rg->sdispls, rg->rcounts, rg->rdispls));
  rg->cap_local = rg->cap_block = rg->cap_route = 0;
  PetscFunctionReturn(0);
}
