/*
   Multi-head self-attention of the attention potential with the keys and
   values passed around a ring of the ranks instead of gathered (equations
   and the packed tangent operands in attentionheads.c).

   Rank q of R owns the keys and values of its n_q particles.  In round
   s = 0..R-1 of a cycle the block of rank (q - s) mod R visits rank q, and
   rank q receives the next block from rank q - 1 while it computes with
   the current one.  Memory per rank is O(max_q n_q D) instead of O(N D).

   Forward: softmax over all N keys by online rescaling.  For query row i
   and one head, with mu_i the largest score seen so far and
   a_ij = exp(S_ij - mu_i), the rounds accumulate

     l_i = sum_j a_ij,              A_i = sum_j a_ij v_j,
     T_i = sum_j a_ij dS_ij,        B_i = sum_j a_ij (dS_ij v_j + dv_j),

   and scale all four by exp(mu_i - mu') when the maximum grows to mu'.
   After the last round, with rs_i = rowsum(P dS)_i,

     o_i = A_i / l_i,   rs_i = T_i / l_i,   do_i = B_i / l_i - rs_i o_i,

   because do = dP v + P dv and dP = P (dS - rs).  The forward pass keeps
   lse_i = mu_i + log l_i and rs_i per row and head, not rows of width N.

   Reverse: one more cycle in which each block travels with accumulators
   for its gradients kbar, vbar (and dkbar, dvbar).  Each rank recomputes
   P_ij = exp(S_ij - lse_i) and dP_ij = P_ij (dS_ij - rs_i) for its queries
   and adds their contributions.  After R rounds every block is back at its
   owner with all contributions summed.  The keys and values travel ahead
   as in the forward pass.  The accumulators follow one round behind: rank
   q computes its contribution to the block of round s into a zeroed
   buffer while the partial sum of ranks q - s .. q - 1 arrives, then adds
   the two and sends the sum on.  So both exchanges overlap computation.
   The score cache of -wlm_potential_attention_score_memory is not used.

   Rows of a block in flight: K, V [, dK, dV] (kvw columns) and log w_j (0
   without masses).  Rows of an accumulator: the gradients in the column
   order of the keys (kvw columns).
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

/* Frees the ring buffers. */
PetscErrorCode AttentionRingFree(Attention *at)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(at->ring_chunk));
  at->ring_rows  = 0;
  at->ring_local = 0;
  PetscFunctionReturn(0);
}

/*
   Sizes the ring buffers for blocks of at most M rows and n local
   particles (they only grow), and points the per-block row values into
   them.  Called by every rank of the communicator at the same time.
*/
PetscErrorCode AttentionRingReserve(WLMPotential pot, PetscInt n, PetscInt M)
{
  Attention     *at = (Attention *)pot->data;
  const PetscInt D = at->hidden, H = at->heads, L = at->layers, kvw = 4 * D;
  PetscReal     *cur;

  PetscFunctionBeginUser;
  if (!at->ring_tag[0]) {
    PetscCall(PetscObjectGetNewTag((PetscObject)pot, &at->ring_tag[0]));
    PetscCall(PetscObjectGetNewTag((PetscObject)pot, &at->ring_tag[1]));
  }
  if (M > at->ring_rows || n > at->ring_local) {
    M = PetscMax(PetscMax(M, at->ring_rows), 1);
    n = PetscMax(n, at->ring_local);
    PetscCall(AttentionRingFree(at));
    PetscCall(PetscMalloc1(M * (2 * (kvw + 1) + 3 * kvw) + (2 * L + 1) * n * H, &at->ring_chunk));
    at->ring_rows  = M;
    at->ring_local = n;
  }
  cur = at->ring_chunk;
  for (PetscInt k = 0; k < 2; k++) at->ringbuf[k] = Carve(&cur, at->ring_rows * (kvw + 1));
  for (PetscInt k = 0; k < 3; k++) at->ringgrad[k] = Carve(&cur, at->ring_rows * kvw);
  for (PetscInt l = 0; l < L; l++) {
    at->blk[l].lse = cur + 2 * l * at->ring_local * H;
    at->blk[l].rs  = at->blk[l].lse + at->ring_local * H;
  }
  at->runsum = cur + 2 * L * at->ring_local * H;
  PetscFunctionReturn(0);
}

static inline PetscInt KeyWidth(const Attention *at)
{
  return at->tangent ? 4 * at->hidden : 2 * at->hidden;
}

/* Block that visits this rank in round s of a cycle. */
static inline PetscMPIInt RoundBlock(PetscMPIInt rank, PetscMPIInt size, PetscInt s)
{
  return (PetscMPIInt)(((rank - s) % size + size) % size);
}

/* Writes this rank's keys and values and their log masses into rows of stride kvw + 1. */
static void PackOwnBlock(Attention *at, AttentionBlockState *st, PetscReal *buf)
{
  const PetscInt D = at->hidden, n = at->n, kvw = KeyWidth(at), ld = kvw + 1;

  AttentionCopyRows(n, 2 * D, st->qkv + D, 3 * D, buf, ld);
  if (at->tangent) AttentionCopyRows(n, 2 * D, st->qkv + n * 3 * D + D, 3 * D, buf + 2 * D, ld);
  for (PetscInt i = 0; i < n; i++) buf[i * ld + kvw] = at->masses ? PetscLogReal(at->seeds[i]) : 0.0;
}

/* Copies the log masses of a visiting block of m rows into at->mask. */
static void UnpackMask(Attention *at, const AttentionKeys *ks)
{
  const PetscInt kvw = KeyWidth(at);

  for (PetscInt j = 0; j < ks->m; j++) at->mask[j] = ks->kv[j * ks->ld + kvw];
}

/* Rows of the block that visits this rank in round s of a cycle; round R is the own block again. */
static inline PetscInt RoundRows(const Attention *at, PetscInt s)
{
  return at->pcounts[RoundBlock(at->rank, at->size, s)];
}

/* Posts the receive of count reals with the given tag from the left neighbour. */
static PetscErrorCode RingReceive(WLMPotential pot, PetscReal *buf, PetscInt count, PetscMPIInt tag, MPI_Request *req)
{
  const Attention *at = (Attention *)pot->data;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Irecv(buf, (PetscMPIInt)count, MPIU_REAL, (at->rank + at->size - 1) % at->size, tag, PetscObjectComm((PetscObject)pot), req));
  PetscFunctionReturn(0);
}

/* Sends count reals with the given tag to the right neighbour. */
static PetscErrorCode RingSend(WLMPotential pot, const PetscReal *buf, PetscInt count, PetscMPIInt tag, MPI_Request *req)
{
  const Attention *at = (Attention *)pot->data;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Isend(buf, (PetscMPIInt)count, MPIU_REAL, (at->rank + 1) % at->size, tag, PetscObjectComm((PetscObject)pot), req));
  PetscFunctionReturn(0);
}

/* Waits for k requests (MPI_REQUEST_NULL allowed), timed as communication. */
static PetscErrorCode RingWait(WLMPotential pot, PetscInt k, MPI_Request req[])
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
  PetscCallMPI(MPI_Waitall((PetscMPIInt)k, req, MPI_STATUSES_IGNORE));
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*
   Starts round s of a cycle with the block buf in use: posts the receive
   of the next block into next and the send of buf onwards, except in the
   last round, whose block has no further visit.
*/
static PetscErrorCode RingShiftBlocks(WLMPotential pot, PetscInt s, const PetscReal *buf, PetscReal *next, MPI_Request req[2])
{
  Attention     *at = (Attention *)pot->data;
  const PetscInt ld = KeyWidth(at) + 1;

  PetscFunctionBeginUser;
  req[0] = req[1] = MPI_REQUEST_NULL;
  if (s == at->size - 1) PetscFunctionReturn(0);
  PetscCall(RingReceive(pot, next, RoundRows(at, s + 1) * ld, at->ring_tag[0], &req[0]));
  PetscCall(RingSend(pot, buf, RoundRows(at, s) * ld, at->ring_tag[0], &req[1]));
  PetscFunctionReturn(0);
}

/*
   Scores of head h for the query rows i0..i0+r-1 against the m keys of ks,
   without the mask: rows of width m in at->PP, or with tangents rows
   [dS | S] of width 2m, with QQ = [q | dq] packed for the tile.
*/
static void RingTileScores(Attention *at, AttentionBlockState *st, const AttentionKeys *ks, PetscInt h, PetscInt i0, PetscInt r)
{
  const PetscInt   D = at->hidden, Dh = D / at->heads, n = at->n, m = ks->m;
  const PetscReal  c = 1.0 / PetscSqrtReal((PetscReal)Dh);
  const PetscReal *Q = st->qkv + i0 * 3 * D + h * Dh;

  if (!at->tangent) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, m, Dh, c, Q, 3 * D, ks->kv + h * Dh, ks->ld, 0.0, at->PP, m);
    return;
  }
  AttentionCopyRows(r, Dh, Q, 3 * D, at->QQ, 2 * Dh);
  AttentionCopyRows(r, Dh, st->qkv + (n + i0) * 3 * D + h * Dh, 3 * D, at->QQ + Dh, 2 * Dh);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, m, Dh, c, at->QQ, 2 * Dh, at->KK, Dh, 0.0, at->PP + m, 2 * m);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, m, 2 * Dh, c, at->QQ, 2 * Dh, at->KD, 2 * Dh, 0.0, at->PP, 2 * m);
}

/*
   Online softmax update of r rows (stride ld) of head h: adds the mask to
   the scores S, raises the running maximum lse[] and rescales the sums
   and the output rows o (and do) by exp(mu - mu'), then replaces S by
   a = exp(S - mu') and, with tangents, dS by a dS.
*/
WLM_VECTOR_CLONES static void OnlineRows(Attention *at, AttentionBlockState *st, PetscInt h, PetscInt i0, PetscInt r, PetscInt m, PetscInt ld, PetscReal *S, PetscReal *dS)
{
  const PetscInt   D = at->hidden, H = at->heads, Dh = D / H, n = at->n;
  const PetscReal *mask = at->mask;

  for (PetscInt i = 0; i < r; i++) {
    const PetscInt idx = (i0 + i) * H + h;
    PetscReal     *row = S + i * ld, *o = st->o + (i0 + i) * D + h * Dh, mx = st->lse[idx], sum = 0, t = 0, scale;

#pragma omp simd reduction(max : mx)
    for (PetscInt j = 0; j < m; j++) {
      row[j] += mask[j];
      mx = row[j] > mx ? row[j] : mx;
    }
    scale = PetscExpReal(st->lse[idx] - mx);
#pragma omp simd reduction(+ : sum)
    for (PetscInt j = 0; j < m; j++) {
      row[j] = WLMExpInline(row[j] - mx);
      sum += row[j];
    }
    st->lse[idx]   = mx;
    at->runsum[idx] = at->runsum[idx] * scale + sum;
    for (PetscInt k = 0; k < Dh; k++) o[k] *= scale;
    if (dS) {
      PetscReal *drow = dS + i * ld, *dout = o + n * D;

#pragma omp simd reduction(+ : t)
      for (PetscInt j = 0; j < m; j++) {
        drow[j] *= row[j];
        t += drow[j];
      }
      st->rs[idx] = st->rs[idx] * scale + t;
      for (PetscInt k = 0; k < Dh; k++) dout[k] *= scale;
    }
  }
}

/* Adds the contributions of the keys ks to the unnormalised outputs of head h for the query rows i0..i0+r-1. */
static PetscErrorCode RingTileForward(Attention *at, AttentionBlockState *st, const AttentionKeys *ks, PetscInt h, PetscInt i0, PetscInt r)
{
  const PetscInt D = at->hidden, Dh = D / at->heads, n = at->n, m = ks->m;
  PetscReal     *o = st->o + i0 * D + h * Dh;

  PetscFunctionBeginUser;
  RingTileScores(at, st, ks, h, i0, r);
  if (!at->tangent) {
    OnlineRows(at, st, h, i0, r, m, m, at->PP, NULL);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, m, 1.0, at->PP, m, ks->kv + D + h * Dh, ks->ld, 1.0, o, D);
    PetscCall(PetscLogFlops(4.0 * r * m * Dh + 5.0 * r * m));
  } else {
    /* A += a v;  B += [a dS | a] [v ; dv] */
    OnlineRows(at, st, h, i0, r, m, 2 * m, at->PP + m, at->PP);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, m, 1.0, at->PP + m, 2 * m, at->VV, Dh, 1.0, o, D);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, 2 * m, 1.0, at->PP, 2 * m, at->VV, Dh, 1.0, o + n * D, D);
    PetscCall(PetscLogFlops(12.0 * r * m * Dh + 8.0 * r * m));
  }
  PetscFunctionReturn(0);
}

/* Runs the queries of this rank against one visiting block of m rows. */
static PetscErrorCode RingBlockForward(WLMPotential pot, AttentionBlockState *st, const PetscReal *buf, PetscInt m)
{
  Attention    *at = (Attention *)pot->data;
  AttentionKeys ks = {buf, NULL, m, KeyWidth(at) + 1, 0};

  PetscFunctionBeginUser;
  if (m == 0 || at->n == 0) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Attention, pot, 0, 0, 0));
  UnpackMask(at, &ks);
  for (PetscInt h = 0; h < at->heads; h++) {
    if (at->tangent) AttentionPackHead(at, &ks, h);
    for (PetscInt i0 = 0; i0 < at->n; i0 += at->tile) PetscCall(RingTileForward(at, st, &ks, h, i0, PetscMin(at->tile, at->n - i0)));
  }
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Attention, pot, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Starting values of the online softmax: no keys seen, zero sums. */
static PetscErrorCode StartOnline(Attention *at, AttentionBlockState *st)
{
  const PetscInt nh = at->n * at->heads;

  PetscFunctionBeginUser;
  PetscCall(PetscArrayzero(st->o, (at->tangent ? 2 : 1) * at->n * at->hidden));
  PetscCall(PetscArrayzero(at->runsum, nh));
  PetscCall(PetscArrayzero(st->rs, nh));
  for (PetscInt i = 0; i < nh; i++) st->lse[i] = PETSC_MIN_REAL;
  PetscFunctionReturn(0);
}

/* o = A / l, rs = T / l, do = B / l - rs o and lse = mu + log l for every row and head. */
static PetscErrorCode FinishOnline(Attention *at, AttentionBlockState *st)
{
  const PetscInt D = at->hidden, H = at->heads, Dh = D / H, n = at->n;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt h = 0; h < H; h++) {
      const PetscInt  idx = i * H + h;
      const PetscReal inv = 1.0 / at->runsum[idx];
      PetscReal      *o = st->o + i * D + h * Dh;

      for (PetscInt k = 0; k < Dh; k++) o[k] *= inv;
      if (at->tangent) {
        st->rs[idx] *= inv;
        for (PetscInt k = 0; k < Dh; k++) o[n * D + k] = o[n * D + k] * inv - st->rs[idx] * o[k];
      }
      st->lse[idx] += PetscLogReal(at->runsum[idx]);
    }
  }
  PetscCall(PetscLogFlops((at->tangent ? 4.0 : 1.0) * n * D + 3.0 * n * H));
  PetscFunctionReturn(0);
}

/*
   Computes the attention output o [rows][D] of every head for this rank's
   queries, with the key-value blocks of all ranks visiting in turn, and
   keeps lse and rs of every row and head in st.
*/
PetscErrorCode AttentionRingForward(WLMPotential pot, AttentionBlockState *st)
{
  Attention  *at = (Attention *)pot->data;
  PetscReal  *cur = at->ringbuf[0], *next = at->ringbuf[1], *swap;
  MPI_Request req[2];

  PetscFunctionBeginUser;
  PackOwnBlock(at, st, cur);
  PetscCall(StartOnline(at, st));
  for (PetscInt s = 0; s < at->size; s++) {
    PetscCall(RingShiftBlocks(pot, s, cur, next, req));
    PetscCall(RingBlockForward(pot, st, cur, RoundRows(at, s)));
    PetscCall(RingWait(pot, 2, req));
    swap = cur;
    cur  = next;
    next = swap;
  }
  PetscCall(FinishOnline(at, st));
  PetscFunctionReturn(0);
}

/*
   Recomputes the softmax of the tile against ks from the stored row
   values: P = exp(S + mask - lse) in at->PP, or with tangents rows
   [dP | P] with dP = P (dS - rs).
*/
WLM_VECTOR_CLONES static void RecomputeRows(Attention *at, AttentionBlockState *st, PetscInt h, PetscInt i0, PetscInt r, PetscInt m)
{
  const PetscInt   H = at->heads, ld = at->tangent ? 2 * m : m;
  const PetscReal *mask = at->mask;

  for (PetscInt i = 0; i < r; i++) {
    const PetscInt  idx = (i0 + i) * H + h;
    const PetscReal lse = st->lse[idx];
    PetscReal      *p   = at->PP + i * ld + (at->tangent ? m : 0);

#pragma omp simd
    for (PetscInt j = 0; j < m; j++) p[j] = WLMExpInline(p[j] + mask[j] - lse);
    if (at->tangent) {
      const PetscReal rs = st->rs[idx];
      PetscReal      *dp = at->PP + i * ld;

#pragma omp simd
      for (PetscInt j = 0; j < m; j++) dp[j] = p[j] * (dp[j] - rs);
    }
  }
}

/* Adds the gradients of this rank's queries against one visiting block buf of m rows to bq and to the accumulator grad [m][kvw]. */
static PetscErrorCode RingBlockReverse(WLMPotential pot, AttentionBlockState *st, const PetscReal *buf, PetscReal *grad, PetscInt m, const PetscReal obar[], PetscReal bq[])
{
  Attention     *at = (Attention *)pot->data;
  const PetscInt Dh = at->hidden / at->heads;
  AttentionKeys  ks = {buf, grad, m, KeyWidth(at) + 1, KeyWidth(at)};

  PetscFunctionBeginUser;
  if (m == 0 || at->n == 0) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Attention, pot, 0, 0, 0));
  UnpackMask(at, &ks);
  for (PetscInt h = 0; h < at->heads; h++) {
    if (at->tangent) AttentionPackHead(at, &ks, h);
    for (PetscInt i0 = 0; i0 < at->n; i0 += at->tile) {
      const PetscInt r = PetscMin(at->tile, at->n - i0);

      RingTileScores(at, st, &ks, h, i0, r);
      RecomputeRows(at, st, h, i0, r, m);
      if (at->tangent) AttentionTileReverseTangent(at, st, &ks, at->PP, obar, bq, h, i0, r, 1.0);
      else AttentionTileReverse(at, st, &ks, at->PP, obar, bq, h, i0, r, 1.0);
      PetscCall(PetscLogFlops((at->tangent ? 28.0 : 10.0) * r * m * Dh + (at->tangent ? 10.0 : 5.0) * r * m));
    }
  }
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Attention, pot, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*
   Runs round s of the gradient accumulators.  The contribution of this
   rank to the block of round s goes into grad (zeroed here) while the
   partial sum of the ranks before arrives.  The sum of the two leaves for
   the right neighbour with send request *req.
*/
static PetscErrorCode RingAccumulate(WLMPotential pot, AttentionBlockState *st, PetscInt s, const PetscReal *buf, PetscReal *grad, const PetscReal obar[], PetscReal bq[], MPI_Request *req)
{
  Attention     *at = (Attention *)pot->data;
  const PetscInt m = RoundRows(at, s), len = m * KeyWidth(at);
  PetscReal     *received = at->ringgrad[0];
  MPI_Request    recv = MPI_REQUEST_NULL;

  PetscFunctionBeginUser;
  if (s > 0) PetscCall(RingReceive(pot, received, len, at->ring_tag[1], &recv));
  PetscCall(PetscArrayzero(grad, len));
  PetscCall(RingBlockReverse(pot, st, buf, grad, m, obar, bq));
  if (s > 0) {
    PetscCall(RingWait(pot, 1, &recv));
    for (PetscInt e = 0; e < len; e++) grad[e] += received[e];
    PetscCall(PetscLogFlops(1.0 * len));
  }
  PetscCall(RingSend(pot, grad, len, at->ring_tag[1], req));
  PetscFunctionReturn(0);
}

/*
   Back-propagates the attention-output gradients obar [rows][D] to the
   query, key and value gradients bq [rows][3D], with the blocks passed
   around the ring once more and their gradient accumulators one round
   behind them.
*/
PetscErrorCode AttentionRingReverse(WLMPotential pot, AttentionBlockState *st, const PetscReal obar[], PetscReal bq[])
{
  Attention     *at = (Attention *)pot->data;
  const PetscInt D = at->hidden, n = at->n, kvw = KeyWidth(at);
  PetscReal     *cur = at->ringbuf[0], *next = at->ringbuf[1], *swap, *own = at->ringgrad[0];
  MPI_Request    req[2], sent[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL}, recv;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < (at->tangent ? 2 : 1) * n; i++) PetscCall(PetscArrayzero(bq + i * 3 * D, D));
  PackOwnBlock(at, st, cur);
  for (PetscInt s = 0; s < at->size; s++) {
    PetscCall(RingShiftBlocks(pot, s, cur, next, req));
    /* the accumulator sent two rounds ago used the buffer of this round */
    PetscCall(RingWait(pot, 1, &sent[s % 2]));
    PetscCall(RingAccumulate(pot, st, s, cur, at->ringgrad[1 + s % 2], obar, bq, &sent[s % 2]));
    PetscCall(RingWait(pot, 2, req));
    swap = cur;
    cur  = next;
    next = swap;
  }

  /* after R rounds the accumulator of the own block comes back with kbar, vbar [, dkbar, dvbar] of all queries */
  PetscCall(RingReceive(pot, own, n * kvw, at->ring_tag[1], &recv));
  PetscCall(RingWait(pot, 1, &recv));
  PetscCall(RingWait(pot, 2, sent));
  AttentionCopyRows(n, 2 * D, own, kvw, bq + D, 3 * D);
  if (at->tangent) AttentionCopyRows(n, 2 * D, own + 2 * D, kvw, bq + n * 3 * D + D, 3 * D);
  PetscFunctionReturn(0);
}
