/*
   Multi-head self-attention over all particles for the attention potential,
   with its tangent, reverse and reverse-tangent passes.

   For head h with query q_i (rows of this rank), keys k_j and values v_j of
   all N particles, and scale c = 1/sqrt(D/H):

     S_ij = c q_i . k_j + log w_j,   P_ij = softmax_j S_ij,   o_i = sum_j P_ij v_j

   The log-mass term makes the attention average over partners by mass; it
   is constant, so it has no derivatives.  Tangents and reverse passes:

     dS = c (dq k^T + q dk^T),   dP = P (dS - rowsum(P dS)),   do = dP v + P dv
     Pbar = obar v^T,  D_i = obar_i . o_i,  Sbar = P (Pbar - D)
     qbar = c Sbar k,  kbar = c Sbar^T q,  vbar = P^T obar
     dPbar = dobar v^T + obar dv^T,  dD_i = dobar_i . o_i + obar_i . do_i,
     dSbar = dP (Pbar - D) + P (dPbar - dD)
     dqbar = c (dSbar k + Sbar dk),  dkbar = c (dSbar^T q + Sbar^T dq),  dvbar = dP^T obar + P^T dobar

   Queries are processed in tiles of rows so that the [tile][N] score
   matrices stay in cache; the reverse pass recomputes P (and dP) for its
   tile rather than storing the N x N scores of every block and head.  Keys
   and values are gathered from all ranks with one MPI_Allgatherv per block,
   and their gradients are summed onto the owners with one
   MPI_Reduce_scatter per block.
*/
#include "attention.h"
#include <cblas.h>

/*
   Softmax of each of r rows of length N in place, after adding mask (when
   not NULL) to every row.  The reductions use OpenMP simd clauses so that
   GCC vectorizes them; the summation order then depends on the vector
   width of the clone that runs, but not on the rank count.
*/
WLM_VECTOR_CLONES static void SoftmaxRows(PetscInt r, PetscInt N, const PetscReal *mask, PetscReal *S)
{
  for (PetscInt i = 0; i < r; i++) {
    PetscReal *row = S + i * N, mx = PETSC_MIN_REAL, sum = 0, scale;

    if (mask) {
#pragma omp simd reduction(max : mx)
      for (PetscInt j = 0; j < N; j++) {
        row[j] += mask[j];
        mx = row[j] > mx ? row[j] : mx;
      }
    } else {
#pragma omp simd reduction(max : mx)
      for (PetscInt j = 0; j < N; j++) mx = row[j] > mx ? row[j] : mx;
    }
#pragma omp simd reduction(+ : sum)
    for (PetscInt j = 0; j < N; j++) {
      row[j] = WLMExpInline(row[j] - mx);
      sum += row[j];
    }
    scale = 1.0 / sum;
#pragma omp simd
    for (PetscInt j = 0; j < N; j++) row[j] *= scale;
  }
}

/* dP = P (dS - rowsum(P dS)) in place of dS, for r rows of length N. */
WLM_VECTOR_CLONES static void SoftmaxTangentRows(PetscInt r, PetscInt N, const PetscReal *P, PetscReal *dS)
{
  for (PetscInt i = 0; i < r; i++) {
    const PetscReal *p  = P + i * N;
    PetscReal       *dp = dS + i * N, s = 0;

#pragma omp simd reduction(+ : s)
    for (PetscInt j = 0; j < N; j++) s += p[j] * dp[j];
#pragma omp simd
    for (PetscInt j = 0; j < N; j++) dp[j] = p[j] * (dp[j] - s);
  }
}

/* Sbar = P (Pbar - D) in place of Pbar, and dSbar = dP (Pbar - D) + P (dPbar - dD) in place of dPbar. */
WLM_VECTOR_CLONES static void ScoreGradientRows(PetscInt r, PetscInt N, PetscBool tangent, const PetscReal *P, const PetscReal *dP, const PetscReal *dsum, PetscReal *B, PetscReal *dB)
{
  for (PetscInt i = 0; i < r; i++) {
    const PetscReal  Di = dsum[i], dDi = tangent ? dsum[r + i] : 0.0;
    const PetscReal *p = P + i * N, *dp = dP + i * N;
    PetscReal       *b = B + i * N, *db = dB + i * N;

    if (tangent) {
      for (PetscInt j = 0; j < N; j++) db[j] = dp[j] * (b[j] - Di) + p[j] * (db[j] - dDi);
    }
    for (PetscInt j = 0; j < N; j++) b[j] = p[j] * (b[j] - Di);
  }
}

/* Softmax P (and dP with tangents) of head h for the query rows i0..i0+r-1. */
static PetscErrorCode TileScores(Attention *at, AttentionBlockState *st, PetscInt h, PetscInt i0, PetscInt r)
{
  const PetscInt   D = at->hidden, Dh = D / at->heads, n = at->n, N = at->N, kvw = at->tangent ? 4 * D : 2 * D;
  const PetscReal  c = 1.0 / PetscSqrtReal((PetscReal)Dh);
  const PetscReal *Q = st->qkv + i0 * 3 * D + h * Dh, *K = st->kv + h * Dh;

  PetscFunctionBeginUser;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, N, Dh, c, Q, 3 * D, K, kvw, 0.0, at->P, N);
  SoftmaxRows(r, N, at->masses ? at->mask : NULL, at->P);
  PetscCall(PetscLogFlops(2.0 * r * N * Dh + 6.0 * r * N));
  if (at->tangent) {
    const PetscReal *dQ = st->qkv + (n + i0) * 3 * D + h * Dh, *dK = st->kv + 2 * D + h * Dh;

    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, N, Dh, c, dQ, 3 * D, K, kvw, 0.0, at->dP, N);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, N, Dh, c, Q, 3 * D, dK, kvw, 1.0, at->dP, N);
    SoftmaxTangentRows(r, N, at->P, at->dP);
    PetscCall(PetscLogFlops(4.0 * r * N * Dh + 4.0 * r * N));
  }
  PetscFunctionReturn(0);
}

/*
   Packs this rank's keys and values (and their tangents) and gathers those
   of all ranks into st->kv [N][kvw].
*/
PetscErrorCode AttentionGatherKeys(WLMPotential pot, AttentionBlockState *st)
{
  Attention     *at = (Attention *)pot->data;
  const PetscInt D = at->hidden, n = at->n, kvw = at->tangent ? 4 * D : 2 * D;
  MPI_Comm       comm = PetscObjectComm((PetscObject)pot);
  PetscMPIInt    size, rank;
  PetscReal     *dst;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  dst = size == 1 ? st->kv : at->kvloc;
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(PetscArraycpy(dst + i * kvw, st->qkv + i * 3 * D + D, 2 * D));
    if (at->tangent) PetscCall(PetscArraycpy(dst + i * kvw + 2 * D, st->qkv + (n + i) * 3 * D + D, 2 * D));
  }
  if (size > 1) {
    PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
    for (PetscMPIInt q = 0; q < size; q++) {
      at->counts[q] = (PetscMPIInt)(at->pcounts[q] * kvw);
      at->displs[q] = (PetscMPIInt)(at->pdispls[q] * kvw);
    }
    PetscCallMPI(MPI_Allgatherv(at->kvloc, at->counts[rank], MPIU_REAL, st->kv, at->counts, at->displs, MPIU_REAL, comm));
    PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
  }
  PetscFunctionReturn(0);
}

/*@
  AttentionHeadsForward - Computes the attention output o [rows][D] of every head for this rank's queries.
@*/
PetscErrorCode AttentionHeadsForward(WLMPotential pot, AttentionBlockState *st)
{
  Attention     *at = (Attention *)pot->data;
  const PetscInt D = at->hidden, H = at->heads, Dh = D / H, n = at->n, N = at->N, kvw = at->tangent ? 4 * D : 2 * D;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Attention, pot, 0, 0, 0));
  for (PetscInt h = 0; h < H; h++) {
    const PetscReal *V = st->kv + D + h * Dh, *dV = st->kv + 3 * D + h * Dh;

    for (PetscInt i0 = 0; i0 < n; i0 += at->tile) {
      const PetscInt r = PetscMin(at->tile, n - i0);

      PetscCall(TileScores(at, st, h, i0, r));
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, N, 1.0, at->P, N, V, kvw, 0.0, st->o + i0 * D + h * Dh, D);
      PetscCall(PetscLogFlops(2.0 * r * N * Dh));
      if (at->tangent) {
        PetscReal *dO = st->o + (n + i0) * D + h * Dh;

        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, N, 1.0, at->dP, N, V, kvw, 0.0, dO, D);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, N, 1.0, at->P, N, dV, kvw, 1.0, dO, D);
        PetscCall(PetscLogFlops(4.0 * r * N * Dh));
      }
    }
  }
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Attention, pot, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* D_i = obar_i . o_i over the columns of head h, and its tangent, for r tile rows. */
static void RowDots(Attention *at, AttentionBlockState *st, const PetscReal *obar, PetscInt h, PetscInt i0, PetscInt r)
{
  const PetscInt D = at->hidden, Dh = D / at->heads, n = at->n;

  for (PetscInt i = 0; i < r; i++) {
    const PetscReal *ob = obar + (i0 + i) * D + h * Dh, *o = st->o + (i0 + i) * D + h * Dh;
    PetscReal        s = 0, ds = 0;

    for (PetscInt c = 0; c < Dh; c++) s += ob[c] * o[c];
    at->dsum[i] = s;
    if (at->tangent) {
      const PetscReal *dob = obar + (n + i0 + i) * D + h * Dh, *dout = st->o + (n + i0 + i) * D + h * Dh;

      for (PetscInt c = 0; c < Dh; c++) ds += dob[c] * o[c] + ob[c] * dout[c];
      at->dsum[r + i] = ds;
    }
  }
}

/*
   Sums the key and value gradients of all particles over the ranks and
   writes this rank's block into the key and value columns of bq.
*/
static PetscErrorCode ScatterKeyGradients(WLMPotential pot, PetscReal *bq)
{
  Attention       *at = (Attention *)pot->data;
  const PetscInt   D = at->hidden, n = at->n, kvw = at->tangent ? 4 * D : 2 * D;
  MPI_Comm         comm = PetscObjectComm((PetscObject)pot);
  PetscMPIInt      size;
  const PetscReal *loc = at->bkv;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (size > 1) {
    PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
    for (PetscMPIInt q = 0; q < size; q++) at->counts[q] = (PetscMPIInt)(at->pcounts[q] * kvw);
    PetscCallMPI(MPI_Reduce_scatter(at->bkv, at->kvloc, at->counts, MPIU_REAL, MPI_SUM, comm));
    PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
    loc = at->kvloc;
  }
  for (PetscInt i = 0; i < n; i++) {
    PetscCall(PetscArraycpy(bq + i * 3 * D + D, loc + i * kvw, 2 * D));
    if (at->tangent) PetscCall(PetscArraycpy(bq + (n + i) * 3 * D + D, loc + i * kvw + 2 * D, 2 * D));
  }
  PetscFunctionReturn(0);
}

/*@
  AttentionHeadsReverse - Back-propagates the attention-output gradients obar [rows][D] to the query, key and value gradients bq [rows][3D].
@*/
PetscErrorCode AttentionHeadsReverse(WLMPotential pot, AttentionBlockState *st, const PetscReal obar[], PetscReal bq[])
{
  Attention      *at = (Attention *)pot->data;
  const PetscInt  D = at->hidden, H = at->heads, Dh = D / H, n = at->n, N = at->N, kvw = at->tangent ? 4 * D : 2 * D;
  const PetscReal c = 1.0 / PetscSqrtReal((PetscReal)Dh);
  PetscLogDouble  flops = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Attention, pot, 0, 0, 0));
  PetscCall(PetscArrayzero(at->bkv, N * kvw));
  for (PetscInt h = 0; h < H; h++) {
    const PetscReal *K = st->kv + h * Dh, *V = st->kv + D + h * Dh, *dK = st->kv + 2 * D + h * Dh, *dV = st->kv + 3 * D + h * Dh;
    PetscReal       *Kbar = at->bkv + h * Dh, *Vbar = at->bkv + D + h * Dh, *dKbar = at->bkv + 2 * D + h * Dh, *dVbar = at->bkv + 3 * D + h * Dh;

    for (PetscInt i0 = 0; i0 < n; i0 += at->tile) {
      const PetscInt   r = PetscMin(at->tile, n - i0);
      const PetscReal *Q = st->qkv + i0 * 3 * D + h * Dh, *ob = obar + i0 * D + h * Dh;
      PetscReal       *Qbar = bq + i0 * 3 * D + h * Dh;

      PetscCall(TileScores(at, st, h, i0, r));
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, N, Dh, 1.0, ob, D, V, kvw, 0.0, at->B, N);
      if (at->tangent) {
        const PetscReal *dob = obar + (n + i0) * D + h * Dh;

        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, N, Dh, 1.0, dob, D, V, kvw, 0.0, at->dB, N);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, N, Dh, 1.0, ob, D, dV, kvw, 1.0, at->dB, N);
      }
      RowDots(at, st, obar, h, i0, r);
      ScoreGradientRows(r, N, at->tangent, at->P, at->dP, at->dsum, at->B, at->dB);

      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, N, c, at->B, N, K, kvw, 0.0, Qbar, 3 * D);
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, Dh, r, c, at->B, N, Q, 3 * D, 1.0, Kbar, kvw);
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, Dh, r, 1.0, at->P, N, ob, D, 1.0, Vbar, kvw);
      flops += 8.0 * r * N * Dh + 3.0 * r * N + 2.0 * r * Dh;
      if (at->tangent) {
        const PetscReal *dQ = st->qkv + (n + i0) * 3 * D + h * Dh, *dob = obar + (n + i0) * D + h * Dh;
        PetscReal       *dQbar = bq + (n + i0) * 3 * D + h * Dh;

        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, N, c, at->dB, N, K, kvw, 0.0, dQbar, 3 * D);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, N, c, at->B, N, dK, kvw, 1.0, dQbar, 3 * D);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, Dh, r, c, at->dB, N, Q, 3 * D, 1.0, dKbar, kvw);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, Dh, r, c, at->B, N, dQ, 3 * D, 1.0, dKbar, kvw);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, Dh, r, 1.0, at->dP, N, ob, D, 1.0, dVbar, kvw);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, Dh, r, 1.0, at->P, N, dob, D, 1.0, dVbar, kvw);
        flops += 16.0 * r * N * Dh + 4.0 * r * N + 4.0 * r * Dh;
      }
    }
  }
  PetscCall(PetscLogFlops(flops));
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Attention, pot, 0, 0, 0));
  PetscCall(ScatterKeyGradients(pot, bq));
  PetscFunctionReturn(0);
}
