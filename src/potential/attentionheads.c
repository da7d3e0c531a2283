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

   Every tangent line is a sum of two products.  Packing the operands side
   by side makes each one a single GEMM with twice the inner dimension:

     dS    = c [q | dq] [dk | k]^T              dPbar = [dobar | obar] [v | dv]^T
     do    = [dP | P] [v ; dv]                  dqbar = c [dSbar | Sbar] [k ; dk]
     dkbar = c [dSbar | Sbar]~^T [q | dq]~      dvbar = [dP | P]~^T [obar | dobar]~

   where [A | B] puts row i of A and row i of B side by side (a tile buffer
   of r rows of width 2N, or a packed [r][2Dh] or [N][2Dh] matrix), [A ; B]
   stacks A above B, and ~ reads an [r][2w] matrix as [2r][w] with rows
   alternating between A and B.

   Queries are processed in tiles of rows so that the [tile][2N] score
   matrices stay in cache.  When the softmax of every block and head fits in
   the budget of -wlm_potential_attention_score_memory, the forward pass
   writes it into a cache that the reverse pass reads; otherwise the reverse
   pass recomputes P (and dP) tile by tile, and no N x N matrix is stored.  Keys
   and values are gathered from all ranks with one MPI_Allgatherv per block,
   and their gradients are summed onto the owners with one
   MPI_Reduce_scatter per block.  With -wlm_potential_exchange ring,
   attentionring.c replaces the gather, and it reuses the reverse tiles
   below on one visiting block of keys (an AttentionKeys) at a time.
*/
#include "attention.h"
#include <cblas.h>

/*
   Softmax of each of r rows of length N (row stride ld) in place, after
   adding mask (when not NULL) to every row.  The reductions use OpenMP simd
   clauses so that GCC vectorizes them.  Their summation order depends on
   the vector width of the clone that runs, but not on the rank count.
*/
WLM_VECTOR_CLONES static void SoftmaxRows(PetscInt r, PetscInt N, PetscInt ld, const PetscReal *mask, PetscReal *S)
{
  for (PetscInt i = 0; i < r; i++) {
    PetscReal *row = S + i * ld, mx = PETSC_MIN_REAL, sum = 0, scale;

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

/* dP = P (dS - rowsum(P dS)) in place of dS, for r rows of length N (row stride ld). */
WLM_VECTOR_CLONES static void SoftmaxTangentRows(PetscInt r, PetscInt N, PetscInt ld, const PetscReal *P, PetscReal *dS)
{
  for (PetscInt i = 0; i < r; i++) {
    const PetscReal *p  = P + i * ld;
    PetscReal       *dp = dS + i * ld, s = 0;

#pragma omp simd reduction(+ : s)
    for (PetscInt j = 0; j < N; j++) s += p[j] * dp[j];
#pragma omp simd
    for (PetscInt j = 0; j < N; j++) dp[j] = p[j] * (dp[j] - s);
  }
}

/* Sbar = P (Pbar - D) in place of Pbar, and dSbar = dP (Pbar - D) + P (dPbar - dD) in place of dPbar (row stride ld). */
WLM_VECTOR_CLONES static void ScoreGradientRows(PetscInt r, PetscInt N, PetscInt ld, PetscBool tangent, const PetscReal *P, const PetscReal *dP, const PetscReal *dsum, PetscReal *B, PetscReal *dB)
{
  for (PetscInt i = 0; i < r; i++) {
    const PetscReal  Di = dsum[i], dDi = tangent ? dsum[r + i] : 0.0;
    const PetscReal *p = P + i * ld, *dp = tangent ? dP + i * ld : NULL;
    PetscReal       *b = B + i * ld, *db = tangent ? dB + i * ld : NULL;

    if (tangent) {
#pragma omp simd
      for (PetscInt j = 0; j < N; j++) db[j] = dp[j] * (b[j] - Di) + p[j] * (db[j] - dDi);
    }
#pragma omp simd
    for (PetscInt j = 0; j < N; j++) b[j] = p[j] * (b[j] - Di);
  }
}

/* Copies r rows of width w from src (stride lds) to columns of dst (stride ldd). */
void AttentionCopyRows(PetscInt r, PetscInt w, const PetscReal *src, PetscInt lds, PetscReal *dst, PetscInt ldd)
{
  for (PetscInt i = 0; i < r; i++) memcpy(dst + i * ldd, src + i * lds, (size_t)w * sizeof(PetscReal));
}

/* Column offsets of head h in the gathered [N][kvw] key-value rows: keys, values, and with tangents their tangents. */
static inline void HeadColumns(const Attention *at, PetscInt h, PetscInt *k, PetscInt *v, PetscInt *dk, PetscInt *dv)
{
  const PetscInt D = at->hidden, Dh = D / at->heads;

  *k  = h * Dh;
  *v  = D + h * Dh;
  *dk = 2 * D + h * Dh;
  *dv = 3 * D + h * Dh;
}

/*
   Packs the keys and values of head h of the key set ks for the tangent
   GEMMs: KK = [k ; dk] and VV = [v ; dv] of [2m][Dh], KD = [dk | k] and
   VD = [v | dv] of [m][2Dh].
*/
void AttentionPackHead(Attention *at, const AttentionKeys *ks, PetscInt h)
{
  const PetscInt Dh = at->hidden / at->heads, N = ks->m, ld = ks->ld;
  PetscInt       k, v, dk, dv;

  HeadColumns(at, h, &k, &v, &dk, &dv);
  AttentionCopyRows(N, Dh, ks->kv + k, ld, at->KK, Dh);
  AttentionCopyRows(N, Dh, ks->kv + dk, ld, at->KK + N * Dh, Dh);
  AttentionCopyRows(N, Dh, ks->kv + v, ld, at->VV, Dh);
  AttentionCopyRows(N, Dh, ks->kv + dv, ld, at->VV + N * Dh, Dh);
  AttentionCopyRows(N, Dh, ks->kv + dk, ld, at->KD, 2 * Dh);
  AttentionCopyRows(N, Dh, ks->kv + k, ld, at->KD + Dh, 2 * Dh);
  AttentionCopyRows(N, Dh, ks->kv + v, ld, at->VD, 2 * Dh);
  AttentionCopyRows(N, Dh, ks->kv + dv, ld, at->VD + Dh, 2 * Dh);
}

/* The gathered keys and values of all N particles, and their gradients, as a key set. */
static AttentionKeys GatheredKeys(Attention *at, AttentionBlockState *st)
{
  AttentionKeys ks;

  ks.kv  = st->kv;
  ks.bkv = at->bkv;
  ks.m   = at->N;
  ks.ld  = at->tangent ? 4 * at->hidden : 2 * at->hidden;
  ks.ldb = ks.ld;
  return ks;
}

/*
   Softmax P (and dP with tangents) of head h for the query rows i0..i0+r-1
   of block st: rows of width ld = N, or with tangents ld = 2N holding
   [dP | P].  *PP points to them: into the score cache when the call keeps
   scores, else to the tile buffer.  With compute false the cached scores
   of the forward pass are reused.  With tangents QQ is always packed.
*/
static PetscErrorCode TileScores(Attention *at, AttentionBlockState *st, PetscInt h, PetscInt i0, PetscInt r, PetscBool compute, PetscReal **PP)
{
  const PetscInt   D = at->hidden, Dh = D / at->heads, n = at->n, N = at->N, ld = at->tangent ? 2 * N : N;
  const PetscInt   l = (PetscInt)(st - at->blk);
  const PetscReal  c = 1.0 / PetscSqrtReal((PetscReal)Dh);
  const PetscReal *Q = st->qkv + i0 * 3 * D + h * Dh;

  PetscFunctionBeginUser;
  *PP = at->cache ? at->scores + ((l * at->heads + h) * n + i0) * ld : at->PP;
  if (at->tangent) {
    /* QQ = [q | dq] */
    AttentionCopyRows(r, Dh, Q, 3 * D, at->QQ, 2 * Dh);
    AttentionCopyRows(r, Dh, st->qkv + (n + i0) * 3 * D + h * Dh, 3 * D, at->QQ + Dh, 2 * Dh);
  }
  if (!compute && at->cache) PetscFunctionReturn(0);
  if (!at->tangent) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, N, Dh, c, Q, 3 * D, st->kv + h * Dh, 2 * D, 0.0, *PP, N);
    SoftmaxRows(r, N, N, at->masses ? at->mask : NULL, *PP);
    PetscCall(PetscLogFlops(2.0 * r * N * Dh + 6.0 * r * N));
  } else {
    PetscReal *dP = *PP, *P = *PP + N;

    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, N, Dh, c, at->QQ, 2 * Dh, at->KK, Dh, 0.0, P, 2 * N);
    SoftmaxRows(r, N, 2 * N, at->masses ? at->mask : NULL, P);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, N, 2 * Dh, c, at->QQ, 2 * Dh, at->KD, 2 * Dh, 0.0, dP, 2 * N);
    SoftmaxTangentRows(r, N, 2 * N, P, dP);
    PetscCall(PetscLogFlops(6.0 * r * N * Dh + 10.0 * r * N));
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
  AttentionCopyRows(n, 2 * D, st->qkv + D, 3 * D, dst, kvw);
  if (at->tangent) AttentionCopyRows(n, 2 * D, st->qkv + n * 3 * D + D, 3 * D, dst + 2 * D, kvw);
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

/* Computes the attention output o [rows][D] of every head for this rank's queries. */
PetscErrorCode AttentionHeadsForward(WLMPotential pot, AttentionBlockState *st)
{
  Attention     *at = (Attention *)pot->data;
  const PetscInt D = at->hidden, H = at->heads, Dh = D / H, n = at->n, N = at->N;
  AttentionKeys  ks = GatheredKeys(at, st);

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Attention, pot, 0, 0, 0));
  for (PetscInt h = 0; h < H; h++) {
    if (at->tangent) AttentionPackHead(at, &ks, h);
    for (PetscInt i0 = 0; i0 < n; i0 += at->tile) {
      const PetscInt r = PetscMin(at->tile, n - i0);
      PetscReal     *PP;

      PetscCall(TileScores(at, st, h, i0, r, PETSC_TRUE, &PP));
      if (!at->tangent) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, N, 1.0, PP, N, st->kv + D + h * Dh, 2 * D, 0.0, st->o + i0 * D + h * Dh, D);
        PetscCall(PetscLogFlops(2.0 * r * N * Dh));
      } else {
        /* o = P v;  do = [dP | P] [v ; dv] */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, N, 1.0, PP + N, 2 * N, at->VV, Dh, 0.0, st->o + i0 * D + h * Dh, D);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, 2 * N, 1.0, PP, 2 * N, at->VV, Dh, 0.0, st->o + (n + i0) * D + h * Dh, D);
        PetscCall(PetscLogFlops(6.0 * r * N * Dh));
      }
    }
  }
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Attention, pot, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* D_i = obar_i . o_i over the columns of head h, and its tangent, for r tile rows. */
void AttentionRowDots(Attention *at, AttentionBlockState *st, const PetscReal *obar, PetscInt h, PetscInt i0, PetscInt r)
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
  AttentionCopyRows(n, 2 * D, loc, kvw, bq + D, 3 * D);
  if (at->tangent) AttentionCopyRows(n, 2 * D, loc + 2 * D, kvw, bq + n * 3 * D + D, 3 * D);
  PetscFunctionReturn(0);
}

/*
   Reverse pass of one tile without tangents, against the key set ks: qbar
   of the tile (added to beta times bq), and kbar, vbar of the keys
   accumulated in ks->bkv.  PP contains the tile's softmax, rows of width m.
*/
void AttentionTileReverse(Attention *at, AttentionBlockState *st, const AttentionKeys *ks, const PetscReal *PP, const PetscReal *obar, PetscReal *bq, PetscInt h, PetscInt i0, PetscInt r, PetscReal beta)
{
  const PetscInt   D = at->hidden, Dh = D / at->heads, N = ks->m, ld = ks->ld, ldb = ks->ldb;
  const PetscReal  c = 1.0 / PetscSqrtReal((PetscReal)Dh);
  const PetscReal *Q = st->qkv + i0 * 3 * D + h * Dh, *ob = obar + i0 * D + h * Dh, *K = ks->kv + h * Dh, *V = ks->kv + D + h * Dh;

  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, N, Dh, 1.0, ob, D, V, ld, 0.0, at->BB, N);
  AttentionRowDots(at, st, obar, h, i0, r);
  ScoreGradientRows(r, N, N, PETSC_FALSE, PP, NULL, at->dsum, at->BB, NULL);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, N, c, at->BB, N, K, ld, beta, bq + i0 * 3 * D + h * Dh, 3 * D);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, Dh, r, c, at->BB, N, Q, 3 * D, 1.0, ks->bkv + h * Dh, ldb);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, Dh, r, 1.0, PP, N, ob, D, 1.0, ks->bkv + D + h * Dh, ldb);
}

/*
   Reverse and reverse-tangent pass of one tile against the key set ks
   (packed by AttentionPackHead()), with the packed operands described at the
   top of the file.  PP contains rows [dP | P] of width 2m.
*/
void AttentionTileReverseTangent(Attention *at, AttentionBlockState *st, const AttentionKeys *ks, const PetscReal *PP, const PetscReal *obar, PetscReal *bq, PetscInt h, PetscInt i0, PetscInt r, PetscReal beta)
{
  const PetscInt   D = at->hidden, Dh = D / at->heads, n = at->n, N = ks->m, ldb = ks->ldb;
  const PetscReal  c = 1.0 / PetscSqrtReal((PetscReal)Dh);
  const PetscReal *ob = obar + i0 * D + h * Dh, *dob = obar + (n + i0) * D + h * Dh, *P = PP + N, *dP = PP;
  PetscReal       *B = at->BB + N, *dB = at->BB;
  PetscInt         k, v, dk, dv;

  HeadColumns(at, h, &k, &v, &dk, &dv);

  /* Pbar = obar v^T;  dPbar = [dobar | obar] [v | dv]^T, with OB = [dobar | obar] */
  AttentionCopyRows(r, Dh, dob, D, at->OB, 2 * Dh);
  AttentionCopyRows(r, Dh, ob, D, at->OB + Dh, 2 * Dh);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, N, Dh, 1.0, ob, D, at->VV, Dh, 0.0, B, 2 * N);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, N, 2 * Dh, 1.0, at->OB, 2 * Dh, at->VD, 2 * Dh, 0.0, dB, 2 * N);
  AttentionRowDots(at, st, obar, h, i0, r);
  ScoreGradientRows(r, N, 2 * N, PETSC_TRUE, P, dP, at->dsum, B, dB);

  /* qbar = c Sbar k;  dqbar = c [dSbar | Sbar] [k ; dk] */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, N, c, B, 2 * N, at->KK, Dh, beta, bq + i0 * 3 * D + h * Dh, 3 * D);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, Dh, 2 * N, c, at->BB, 2 * N, at->KK, Dh, beta, bq + (n + i0) * 3 * D + h * Dh, 3 * D);

  /* kbar += c Sbar^T q;  dkbar += c [dSbar | Sbar]~^T [q | dq]~ (QQ still contains this tile's [q | dq]) */
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, Dh, r, c, B, 2 * N, at->QQ, 2 * Dh, 1.0, ks->bkv + k, ldb);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, Dh, 2 * r, c, at->BB, N, at->QQ, Dh, 1.0, ks->bkv + dk, ldb);

  /* vbar += P^T obar;  dvbar += [dP | P]~^T [obar | dobar]~, with OB reused as [obar | dobar] */
  AttentionCopyRows(r, Dh, ob, D, at->OB, 2 * Dh);
  AttentionCopyRows(r, Dh, dob, D, at->OB + Dh, 2 * Dh);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, Dh, r, 1.0, P, 2 * N, ob, D, 1.0, ks->bkv + v, ldb);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, Dh, 2 * r, 1.0, PP, N, at->OB, Dh, 1.0, ks->bkv + dv, ldb);
}

/* Back-propagates the attention-output gradients obar [rows][D] to the query, key and value gradients bq [rows][3D]. */
PetscErrorCode AttentionHeadsReverse(WLMPotential pot, AttentionBlockState *st, const PetscReal obar[], PetscReal bq[])
{
  Attention     *at = (Attention *)pot->data;
  const PetscInt D = at->hidden, H = at->heads, Dh = D / H, n = at->n, N = at->N, kvw = at->tangent ? 4 * D : 2 * D;
  AttentionKeys  ks = GatheredKeys(at, st);

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Attention, pot, 0, 0, 0));
  PetscCall(PetscArrayzero(at->bkv, N * kvw));
  for (PetscInt h = 0; h < H; h++) {
    if (at->tangent) AttentionPackHead(at, &ks, h);
    for (PetscInt i0 = 0; i0 < n; i0 += at->tile) {
      const PetscInt r = PetscMin(at->tile, n - i0);
      PetscReal     *PP;

      PetscCall(TileScores(at, st, h, i0, r, PETSC_FALSE, &PP));
      if (at->tangent) AttentionTileReverseTangent(at, st, &ks, PP, obar, bq, h, i0, r, 0.0);
      else AttentionTileReverse(at, st, &ks, PP, obar, bq, h, i0, r, 0.0);
      PetscCall(PetscLogFlops((at->tangent ? 24.0 : 8.0) * r * N * Dh + (at->tangent ? 7.0 : 3.0) * r * N + 4.0 * r * Dh));
    }
  }
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Attention, pot, 0, 0, 0));
  PetscCall(ScatterKeyGradients(pot, bq));
  PetscFunctionReturn(0);
}
