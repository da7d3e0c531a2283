/*
   Forward and reverse passes of the attention potential (equations in
   attention.c), and the workspace they use.

   The forward pass runs on the primal rows, plus tangent rows along Lambda
   for products.  The reverse pass back-propagates the seeds
   dU/dpsi_i = w_i.  Without tangent rows its parameter part is
   grad_theta U.  With tangent rows on it is the tangent-linear of that
   gradient computation, whose input part is H Lambda and whose parameter
   part, accumulated with factor -1, is grad_theta (Lambda . F).
*/
#include "attention.h"
#include <cblas.h>

/* Hands out consecutive pieces of one allocation. */
static PetscReal *Carve(PetscReal **cursor, PetscInt len)
{
  PetscReal *p = *cursor;

  *cursor += len;
  return p;
}

/* Frees the buffers that depend on the particle counts; the per-rank count arrays stay. */
PetscErrorCode AttentionFreeWorkspace(Attention *at)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(at->chunk_local));
  PetscCall(PetscFree(at->chunk_global));
  PetscCall(PetscFree(at->chunk_keys));
  PetscCall(PetscFree(at->blk));
  PetscCall(AttentionRingFree(at));
  at->cap_local  = 0;
  at->cap_global = 0;
  at->cap_keys   = 0;
  PetscFunctionReturn(0);
}

/*
   Sizes the workspace for nloc particles on this rank and N keys per pass
   (all particles, or with the ring the largest share); it only grows.
   Local buffers hold stacked primal and tangent rows.  The mask, the score
   tiles and the packed heads scale with N.  The gathered keys have their
   own allocation (AttentionReserveKeys()).
*/
PetscErrorCode AttentionReserve(WLMPotential pot, PetscInt nloc, PetscInt N)
{
  Attention     *at = (Attention *)pot->data;
  const PetscInt D = at->hidden, F = at->ffn, E = at->time_width, d = pot->dim, L = at->layers;
  PetscInt       rows, perblock, other, global;
  PetscReal     *cur;
  PetscMPIInt    size;

  PetscFunctionBeginUser;
  if (nloc <= at->cap_local && N <= at->cap_global) PetscFunctionReturn(0);
  nloc = PetscMax(nloc, at->cap_local);
  N    = PetscMax(PetscMax(N, at->cap_global), 1);
  PetscCall(AttentionFreeWorkspace(at));
  PetscCall(PetscCalloc1(L, &at->blk));
  if (!at->pcounts) {
    PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
    PetscCall(PetscMalloc4(size, &at->pcounts, size, &at->pdispls, size, &at->counts, size, &at->displs));
  }
  /* about 32k scores per tile and head: the tile buffers ([tile][2N] twice) take 1 MB, half of a 2 MB L2 cache */
  at->tile = PetscMax(8, PetscMin(256, 32768 / N));

  rows     = 2 * nloc;
  perblock = rows * (8 * D + F + 2) + 2 * nloc * F;
  other    = rows * (2 * d + 6 * D + F) + nloc * (4 * D + 1) + 2 * at->tile + 3 * E + 2 * D + 4 * at->tile * D;
  PetscCall(PetscMalloc1(L * perblock + other, &at->chunk_local));
  cur = at->chunk_local;
  for (PetscInt l = 0; l < L; l++) {
    AttentionBlockState *st = &at->blk[l];

    st->n1    = Carve(&cur, rows * D);
    st->r1    = Carve(&cur, rows);
    st->a1    = Carve(&cur, rows * D);
    st->qkv   = Carve(&cur, rows * 3 * D);
    st->o     = Carve(&cur, rows * D);
    st->n2    = Carve(&cur, rows * D);
    st->r2    = Carve(&cur, rows);
    st->a2    = Carve(&cur, rows * D);
    st->f     = Carve(&cur, rows * F);
    st->fd1   = Carve(&cur, nloc * F);
    st->fd2dz = Carve(&cur, nloc * F);
  }
  at->xin   = Carve(&cur, rows * d);
  at->bx    = Carve(&cur, rows * d);
  at->h     = Carve(&cur, rows * D);
  at->bh    = Carve(&cur, rows * D);
  at->bd    = Carve(&cur, rows * D);
  at->bq    = Carve(&cur, rows * 3 * D);
  at->bf    = Carve(&cur, rows * F);
  at->kvloc = Carve(&cur, nloc * 4 * D);
  at->seeds = Carve(&cur, nloc);
  at->dsum  = Carve(&cur, 2 * at->tile);
  at->temb  = Carve(&cur, 3 * E + 2 * D);
  at->QQ    = Carve(&cur, 2 * at->tile * D);
  at->OB    = Carve(&cur, 2 * at->tile * D);

  global = N + 4 * at->tile * N + 8 * N * D;
  PetscCall(PetscMalloc1(global, &at->chunk_global));
  cur      = at->chunk_global;
  at->mask = Carve(&cur, N);
  at->PP   = Carve(&cur, 2 * at->tile * N);
  at->BB   = Carve(&cur, 2 * at->tile * N);
  at->KK   = Carve(&cur, 2 * N * D);
  at->VV   = Carve(&cur, 2 * N * D);
  at->KD   = Carve(&cur, 2 * N * D);
  at->VD   = Carve(&cur, 2 * N * D);
  at->cap_local  = nloc;
  at->cap_global = N;
  PetscFunctionReturn(0);
}

/*
   Sizes the gathered keys and values of every block and their gradients
   for N particles (they only grow), after AttentionReserve().  Only the
   gather exchange uses them, so a ring call never allocates them.
*/
PetscErrorCode AttentionReserveKeys(WLMPotential pot, PetscInt N)
{
  Attention     *at = (Attention *)pot->data;
  const PetscInt D = at->hidden, L = at->layers;
  PetscReal     *cur;

  PetscFunctionBeginUser;
  if (N > at->cap_keys) {
    PetscCall(PetscFree(at->chunk_keys));
    PetscCall(PetscMalloc1((L + 1) * N * 4 * D, &at->chunk_keys));
    at->cap_keys = N;
  }
  cur = at->chunk_keys;
  for (PetscInt l = 0; l < L; l++) at->blk[l].kv = Carve(&cur, at->cap_keys * 4 * D);
  at->bkv = Carve(&cur, at->cap_keys * 4 * D);
  PetscFunctionReturn(0);
}

/* Frees the score cache. */
PetscErrorCode AttentionFreeScores(Attention *at)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(at->scores));
  at->scores_capacity = 0;
  PetscFunctionReturn(0);
}

/*
   Decides whether the current call keeps its scores for the reverse pass:
   it does when it gathers the keys and L H n N doubles (twice that with
   tangents) fit in the budget.  The cache only grows, so repeated calls do not allocate.
*/
static PetscErrorCode AttentionReserveScores(WLMPotential pot)
{
  Attention     *at   = (Attention *)pot->data;
  const PetscReal need = (PetscReal)at->layers * at->heads * at->n * at->N * (at->tangent ? 2 : 1);

  PetscFunctionBeginUser;
  at->cache = (PetscBool)(!at->ring && at->n > 0 && need < PETSC_MAX_INT && need * sizeof(PetscReal) <= at->score_memory * 1048576.0);
  if (at->cache && need > at->scores_capacity) {
    PetscCall(AttentionFreeScores(at));
    PetscCall(PetscMalloc1((size_t)need, &at->scores));
    at->scores_capacity = (PetscInt)need;
  }
  PetscFunctionReturn(0);
}

/*
   Checks the masses of this rank's particles and sets the log-mass mask:
   gathered for all N particles, or with the ring only checked, since the
   blocks carry their log masses.
*/
static PetscErrorCode AttentionSetMasses(WLMPotential pot, const PetscReal w[])
{
  Attention  *at   = (Attention *)pot->data;
  MPI_Comm    comm = PetscObjectComm((PetscObject)pot);
  PetscMPIInt size, rank;
  PetscInt    bad = -1;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (at->ring) {
    for (PetscInt i = at->n - 1; i >= 0; i--) {
      if (!(w[i] > 0)) bad = at->start + i;
    }
    PetscCall(MPIU_Allreduce(MPI_IN_PLACE, &bad, 1, MPIU_INT, MPI_MAX, comm));
    PetscCheck(bad < 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "Mass of particle %" PetscInt_FMT " is invalid; masses must be positive", bad);
    PetscFunctionReturn(0);
  }
  if (size > 1) {
    PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
    PetscCallMPI(MPI_Allgatherv(w, (PetscMPIInt)at->n, MPIU_REAL, at->mask, at->pcounts, at->pdispls, MPIU_REAL, comm));
    PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
  } else PetscCall(PetscArraycpy(at->mask, w, at->n));
  for (PetscInt j = 0; j < at->N; j++) {
    PetscCheck(at->mask[j] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Mass %g of particle %" PetscInt_FMT " is invalid; masses must be positive", (double)at->mask[j], j);
    at->mask[j] = PetscLogReal(at->mask[j]);
  }
  PetscFunctionReturn(0);
}

/*
   Starts a call on n local particles: particle counts of all ranks, the
   exchange (gather or ring), the workspace, the seeds w_i and the log-mass
   mask of the scores.  With uniform masses (w NULL) the mask is constant
   and left out, since softmax ignores a constant shift.  With the ring the
   buffers that the gather sizes by N are sized by the largest block.
*/
PetscErrorCode AttentionBeginCall(WLMPotential pot, PetscInt n, const PetscReal w[], PetscBool tangent)
{
  Attention  *at   = (Attention *)pot->data;
  MPI_Comm    comm = PetscObjectComm((PetscObject)pot);
  PetscMPIInt size, rank, nn = (PetscMPIInt)n;
  PetscInt    N = 0, M = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(AttentionReserve(pot, n, 1));
  if (size > 1) {
    PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
    PetscCallMPI(MPI_Allgather(&nn, 1, MPI_INT, at->pcounts, 1, MPI_INT, comm));
    PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
  } else at->pcounts[0] = nn;
  for (PetscMPIInt q = 0; q < size; q++) {
    at->pdispls[q] = (PetscMPIInt)N;
    N += at->pcounts[q];
    M = PetscMax(M, at->pcounts[q]);
  }
  PetscCheck(N > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "The population has no particles");
  PetscCall(WLMPotentialUseRing(pot, N, &at->ring));
  PetscCall(AttentionReserve(pot, n, at->ring ? M : N));
  if (at->ring) PetscCall(AttentionRingReserve(pot, n, M));
  else PetscCall(AttentionReserveKeys(pot, N));
  at->n       = n;
  at->N       = N;
  at->start   = at->pdispls[rank];
  at->rank    = rank;
  at->size    = size;
  at->tangent = tangent;
  at->masses  = w ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(AttentionReserveScores(pot));
  for (PetscInt i = 0; i < n; i++) at->seeds[i] = w ? w[i] : 1.0 / N;
  if (w) PetscCall(AttentionSetMasses(pot, w));
  PetscFunctionReturn(0);
}

static const PetscReal *BlockParameters(WLMPotential pot, PetscInt l)
{
  Attention *at = (Attention *)pot->data;

  return pot->theta + at->off_blocks + l * at->bl.size;
}

/* One pre-LayerNorm block on the residual stream h: h += Wo attn(LN1 h); h += W2 gelu(W1 LN2 h). */
static PetscErrorCode BlockForward(WLMPotential pot, PetscInt l)
{
  Attention                  *at = (Attention *)pot->data;
  AttentionBlockState        *st = &at->blk[l];
  const AttentionBlockLayout *bl = &at->bl;
  const PetscReal            *p  = BlockParameters(pot, l);
  const PetscInt              D = at->hidden, F = at->ffn, n = at->n;
  const PetscBool             tan = at->tangent;

  PetscFunctionBeginUser;
  PetscCall(WLMDenseLayerNormForward(n, tan, D, at->h, p + bl->g1, p + bl->beta1, st->n1, st->r1, st->a1));
  PetscCall(WLMDenseLinearForward(n, tan, D, 3 * D, st->a1, p + bl->wqkv, p + bl->bqkv, 0.0, st->qkv));
  if (at->ring) PetscCall(AttentionRingForward(pot, st));
  else {
    PetscCall(AttentionGatherKeys(pot, st));
    PetscCall(AttentionHeadsForward(pot, st));
  }
  PetscCall(WLMDenseLinearForward(n, tan, D, D, st->o, p + bl->wo, p + bl->bo, 1.0, at->h));

  PetscCall(WLMDenseLayerNormForward(n, tan, D, at->h, p + bl->g2, p + bl->beta2, st->n2, st->r2, st->a2));
  PetscCall(WLMDenseLinearForward(n, tan, D, F, st->a2, p + bl->w1, p + bl->b1, 0.0, st->f));
  PetscCall(WLMDenseActivate(WLM_ACTIVATION_GELU, n * F, st->f, st->fd1, tan ? st->fd2dz : NULL));
  if (tan) PetscCall(WLMDenseTangentScale(n * F, st->f + n * F, st->fd1, st->fd2dz));
  PetscCall(WLMDenseLinearForward(n, tan, F, D, st->f, p + bl->w2, p + bl->b2, 1.0, at->h));
  PetscFunctionReturn(0);
}

/*
   Scale of the parameter part of the reverse pass: +1 for grad_theta U
   without tangents, -1 with tangents, where the tangent of grad_theta U
   along Lambda is -grad_theta (Lambda . F).
*/
static inline PetscReal ParameterScale(const Attention *at)
{
  return at->tangent ? -1.0 : 1.0;
}

/* Adds the parameter part of the reverse pass of Y = X W + b (rows stacked as in the call) to gW and gb. */
static PetscErrorCode LinearParameters(const Attention *at, PetscInt nin, PetscInt nout, const PetscReal *X, const PetscReal *Ybar, PetscReal *gW, PetscReal *gb)
{
  PetscFunctionBeginUser;
  if (at->tangent) PetscCall(WLMDenseLinearParameterTangent(at->n, nin, nout, X, Ybar, ParameterScale(at), gW, gb));
  else PetscCall(WLMDenseLinearParameterGradient(at->n, nin, nout, X, Ybar, ParameterScale(at), gW, gb));
  PetscFunctionReturn(0);
}

/*
   Reverse (and reverse-tangent) pass of block l: on entry at->bh holds the
   gradient of U with respect to the block's output, on exit with respect
   to its input.  dgrad, when not NULL, receives the parameter gradient of
   the block, or with tangents -1 times its tangent.
*/
static PetscErrorCode BlockReverse(WLMPotential pot, PetscInt l, PetscReal *dgrad)
{
  Attention                  *at = (Attention *)pot->data;
  AttentionBlockState        *st = &at->blk[l];
  const AttentionBlockLayout *bl = &at->bl;
  const PetscReal            *p  = BlockParameters(pot, l);
  PetscReal                  *g  = dgrad ? dgrad + at->off_blocks + l * bl->size : NULL;
  const PetscInt              D = at->hidden, F = at->ffn, n = at->n;
  const PetscBool             tan = at->tangent;
  const PetscReal             alpha = ParameterScale(at);

  PetscFunctionBeginUser;
  /* feed-forward layer and LayerNorm 2 */
  PetscCall(WLMDenseLinearReverse(n, tan, F, D, at->bh, p + bl->w2, 0.0, at->bf));
  if (g) PetscCall(LinearParameters(at, F, D, st->f, at->bh, g + bl->w2, g + bl->b2));
  PetscCall(WLMDenseActivationReverse(n * F, tan, st->fd1, st->fd2dz, at->bf));
  if (g) PetscCall(LinearParameters(at, D, F, st->a2, at->bf, g + bl->w1, g + bl->b1));
  PetscCall(WLMDenseLinearReverse(n, tan, D, F, at->bf, p + bl->w1, 0.0, at->bd));
  PetscCall(WLMDenseLayerNormReverse(n, tan, D, p + bl->g2, st->n2, st->r2, at->bd, at->bh, alpha, g ? g + bl->g2 : NULL, g ? g + bl->beta2 : NULL));

  /* attention and LayerNorm 1 */
  PetscCall(WLMDenseLinearReverse(n, tan, D, D, at->bh, p + bl->wo, 0.0, at->bd));
  if (g) PetscCall(LinearParameters(at, D, D, st->o, at->bh, g + bl->wo, g + bl->bo));
  if (at->ring) PetscCall(AttentionRingReverse(pot, st, at->bd, at->bq));
  else PetscCall(AttentionHeadsReverse(pot, st, at->bd, at->bq));
  if (g) PetscCall(LinearParameters(at, D, 3 * D, st->a1, at->bq, g + bl->wqkv, g + bl->bqkv));
  PetscCall(WLMDenseLinearReverse(n, tan, D, 3 * D, at->bq, p + bl->wqkv, 0.0, at->bd));
  PetscCall(WLMDenseLayerNormReverse(n, tan, D, p + bl->g1, st->n1, st->r1, at->bd, at->bh, alpha, g ? g + bl->g1 : NULL, g ? g + bl->beta1 : NULL));
  PetscFunctionReturn(0);
}

/*
   Runs the model on this rank's particles x [n][dim] at time t, after
   AttentionBeginCall(); lambda [n][dim] gives the tangent rows when the call
   has tangents (else NULL).  Sets *U to this rank's sum of w_i psi_i.
*/
PetscErrorCode AttentionForward(WLMPotential pot, PetscReal t, const PetscReal x[], const PetscReal lambda[], PetscReal *U)
{
  Attention      *at = (Attention *)pot->data;
  const PetscInt  D = at->hidden, E = at->time_width, d = pot->dim, n = at->n;
  const PetscReal *theta = pot->theta, *head = theta + at->off_head;

  PetscFunctionBeginUser;
  PetscCall(PetscArraycpy(at->xin, x, n * d));
  if (at->tangent) PetscCall(PetscArraycpy(at->xin + n * d, lambda, n * d));
  PetscCall(WLMDenseLinearForward(n, at->tangent, d, D, at->xin, theta + at->off_in, theta + at->off_in + d * D, 0.0, at->h));

  /* time embedding e = silu(t a + c) W_t + b_t, the same for every particle and without tangent */
  if (pot->time_input) {
    const PetscReal *a = theta + at->off_time, *c = a + E, *Wt = c + E, *bt = Wt + E * D;
    PetscReal       *u = at->temb + E, *du = at->temb + 2 * E, *e = at->temb + 3 * E;

    for (PetscInt k = 0; k < E; k++) at->temb[k] = u[k] = t * a[k] + c[k];
    PetscCall(WLMDenseActivate(WLM_ACTIVATION_SILU, E, u, du, NULL));
    for (PetscInt k = 0; k < D; k++) {
      e[k] = bt[k];
      for (PetscInt j = 0; j < E; j++) e[k] += u[j] * Wt[j * D + k];
    }
    for (PetscInt i = 0; i < n; i++) {
      for (PetscInt k = 0; k < D; k++) at->h[i * D + k] += e[k];
    }
    PetscCall(PetscLogFlops(2.0 * E * D + 1.0 * n * D));
  }

  for (PetscInt l = 0; l < at->layers; l++) PetscCall(BlockForward(pot, l));

  /* head psi_i = h_i . w_h + b_h */
  *U = 0;
  for (PetscInt i = 0; i < n; i++) {
    PetscReal psi = head[D];

    for (PetscInt k = 0; k < D; k++) psi += at->h[i * D + k] * head[k];
    *U += at->seeds[i] * psi;
  }
  PetscCall(PetscLogFlops(2.0 * n * (D + 1)));
  PetscFunctionReturn(0);
}

/*
   Adds alpha times the gradients of the time embedding, given the column
   sums s of dU/dh0 over the primal rows (for grad_theta U) or over the
   tangent rows (for its tangent).  One formula serves both, because e(t)
   has no tangent and the gradients are linear in s.
*/
static void TimeEmbeddingParameters(Attention *at, PetscReal t, const PetscReal *theta, const PetscReal *s, PetscReal alpha, PetscReal *g)
{
  const PetscInt   D = at->hidden, E = at->time_width;
  const PetscReal *Wt = theta + at->off_time + 2 * E, *u = at->temb + E, *du = at->temb + 2 * E;
  PetscReal       *ga = g + at->off_time, *gc = ga + E, *gWt = gc + E, *gbt = gWt + E * D;

  for (PetscInt k = 0; k < D; k++) gbt[k] += alpha * s[k];
  for (PetscInt j = 0; j < E; j++) {
    PetscReal ubar = 0;

    for (PetscInt k = 0; k < D; k++) {
      gWt[j * D + k] += alpha * u[j] * s[k];
      ubar += Wt[j * D + k] * s[k];
    }
    ga[j] += alpha * t * du[j] * ubar;
    gc[j] += alpha * du[j] * ubar;
  }
}

/*
   Back-propagates the seeds w_i after AttentionForward().  When dgrad
   [nparam] is not NULL, it is incremented by this rank's share of
   grad_theta U in a call without tangents, or of grad_theta (Lambda . F)
   in a call with tangents.  On return at->bx contains dU/dx [n][dim] and,
   with tangents, H Lambda [n][dim] after it.
*/
PetscErrorCode AttentionReverse(WLMPotential pot, PetscReal t, PetscReal dgrad[])
{
  Attention       *at = (Attention *)pot->data;
  const PetscInt   D = at->hidden, d = pot->dim, n = at->n;
  const PetscReal *theta = pot->theta, *wh = theta + at->off_head;

  PetscFunctionBeginUser;
  /*
     head: dU/dh_i = w_i w_h, so grad w_h = sum_i w_i h_i and grad b_h = sum_i w_i.
     The tangent of dU/dh_i is zero, and d(grad w_h) = sum_i w_i dh_i.
  */
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt k = 0; k < D; k++) at->bh[i * D + k] = at->seeds[i] * wh[k];
  }
  if (at->tangent) PetscCall(PetscArrayzero(at->bh + n * D, n * D));
  if (dgrad && n > 0 && at->tangent) cblas_dgemv(CblasRowMajor, CblasTrans, n, D, -1.0, at->h + n * D, D, at->seeds, 1, 1.0, dgrad + at->off_head, 1);
  if (dgrad && n > 0 && !at->tangent) {
    cblas_dgemv(CblasRowMajor, CblasTrans, n, D, 1.0, at->h, D, at->seeds, 1, 1.0, dgrad + at->off_head, 1);
    for (PetscInt i = 0; i < n; i++) dgrad[at->off_head + D] += at->seeds[i];
  }
  PetscCall(PetscLogFlops(3.0 * n * D + (dgrad && !at->tangent ? 1.0 * n : 0)));

  for (PetscInt l = at->layers - 1; l >= 0; l--) PetscCall(BlockReverse(pot, l, dgrad));

  /* input projection and time embedding */
  PetscCall(WLMDenseLinearReverse(n, at->tangent, d, D, at->bh, theta + at->off_in, 0.0, at->bx));
  if (dgrad) {
    PetscCall(LinearParameters(at, d, D, at->xin, at->bh, dgrad + at->off_in, dgrad + at->off_in + d * D));
    if (pot->time_input) {
      const PetscReal *rows = at->tangent ? at->bh + n * D : at->bh;
      PetscReal       *s    = at->temb + 3 * at->time_width + D;

      for (PetscInt k = 0; k < D; k++) s[k] = 0;
      for (PetscInt i = 0; i < n; i++) {
        for (PetscInt k = 0; k < D; k++) s[k] += rows[i * D + k];
      }
      TimeEmbeddingParameters(at, t, theta, s, ParameterScale(at), dgrad);
      PetscCall(PetscLogFlops(1.0 * n * D + 5.0 * at->time_width * D));
    }
  }
  PetscFunctionReturn(0);
}
