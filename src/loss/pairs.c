/*
   Tiled pair sums over two point clouds, the kernel of every loss type (see
   wlm/private/lossimpl.h for the sums).  No N x M matrix is stored.  A work
   unit is a block of rows.  For each block of WLM_PAIR_COLUMNS columns, the
   costs, pair weights and sums of one row are computed in small buffers that
   stay in the L1 cache, in loops that the compiler vectorizes.

   Work is split in two levels: the units of all passes are cut into one
   contiguous range per rank with equal pair counts, then each rank's range
   into one range per OpenMP thread.  Each thread adds into its own copy of the
   sums.  The copies are added in thread order and then over the ranks with
   MPI_Allreduce, so the result depends on the rank and thread counts only
   through the order of the additions.

   The Sinkhorn kernels exponentiate F_i + G_j - cost/eps without subtracting
   a row maximum.  Near the optimum of the current or the previous eps, the
   terms are entries of a transport plan divided by a_i b_j, so the largest
   term of a row or column is of order 1 to N M, and partial sums can be
   added across threads and ranks directly.  A sum that leaves [1e-280,
   1e280] (first steps from poor potentials, extreme masses) is recomputed
   by WLMLossPairLogSumExact(), which subtracts the maximum exponent first.
*/
#include <wlm/private/lossimpl.h>
#if defined(_OPENMP)
  #include <omp.h>
#endif

/* Columns per cache block: the block's data and work buffers take (dim + 6) 2 KiB without gradients, within a 32 KiB L1 cache up to dim 10. */
#define WLM_PAIR_COLUMNS 256

#define WLM_INLINE static inline __attribute__((always_inline))

/*
   The loops are compiled once per instruction set and the best copy for the
   CPU is chosen at run time: on x86-64 with GCC, for x86-64-v4 (AVX-512),
   x86-64-v3 (AVX2 and FMA) and the baseline.  A whole-file target pragma
   is used rather than target_clones on one function, because GCC 12 did not
   vectorize the inlined exponential of the AVX2 clone.
*/
typedef void (*PairRowBlockFn)(const WLMLossPairPass *, PetscInt, PetscInt, PetscInt, PetscReal *, PetscReal *, PetscReal *, PetscReal *);

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && __GNUC__ >= 12
  #define WLM_PAIR_MULTIVERSION 1
  #pragma GCC push_options
  #pragma GCC target("arch=x86-64-v4")
  #define WLM_PAIR_VARIANT(name) name##_V4
  #include "pairkernel.h"
  #undef WLM_PAIR_VARIANT
  #pragma GCC pop_options
  #pragma GCC push_options
  #pragma GCC target("arch=x86-64-v3")
  #define WLM_PAIR_VARIANT(name) name##_V3
  #include "pairkernel.h"
  #undef WLM_PAIR_VARIANT
  #pragma GCC pop_options
#endif
#define WLM_PAIR_VARIANT(name) name##_Base
#include "pairkernel.h"
#undef WLM_PAIR_VARIANT

/* The row-block kernel for the instruction set of this CPU. */
static PairRowBlockFn SelectPairRowBlock(void)
{
#if defined(WLM_PAIR_MULTIVERSION)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return PairRowBlock_V4;
  if (__builtin_cpu_supports("x86-64-v3")) return PairRowBlock_V3;
#endif
  return PairRowBlock_Base;
}

/* Flops charged for one LossExp(): reduction 7, polynomial 24, scaling 1. */
#define WLM_EXP_FLOPS 32

/* Pair count of rows [i0, i1) of a pass. */
static PetscReal UnitWork(const WLMLossPairPass *pp, PetscInt i0, PetscInt i1)
{
  if (!pp->self) return (PetscReal)(i1 - i0) * (PetscReal)pp->ncol;
  /* sum_{i=i0}^{i1-1} (n - 1 - i) */
  return 0.5 * (PetscReal)(i1 - i0) * (PetscReal)(2 * pp->ncol - i0 - i1 - 1);
}

/* Flops of one pair of a pass, counting each square root and division as one. */
static PetscReal PairFlops(const WLMLossPairPass *pp, PetscInt dim)
{
  PetscReal flops = 3.0 * dim + 2.0; /* distance, row sum */

  switch (pp->kernel) {
  case WLM_PAIR_SINKHORN_P2:
    flops += 3 + WLM_EXP_FLOPS;
    break;
  case WLM_PAIR_SINKHORN_P1:
    flops += 4 + WLM_EXP_FLOPS;
    break;
  case WLM_PAIR_GAUSSIAN:
    flops += 1 + WLM_EXP_FLOPS;
    break;
  case WLM_PAIR_DISTANCE:
    flops += 1;
    break;
  }
  if (pp->self || pp->columns) flops += 2;
  if (pp->gradient) flops += 3 + 2.0 * dim + (pp->self ? 2 + 3.0 * dim : 0);
  return flops;
}

/* Offsets of each pass's outputs in the sum buffer; returns the buffer length. */
static PetscInt PairLayout(PetscInt dim, PetscInt npass, const WLMLossPairPass pass[], PetscInt offrow[], PetscInt offcol[], PetscInt offgrad[])
{
  PetscInt len = 0;

  for (PetscInt p = 0; p < npass; p++) {
    offrow[p] = len;
    len += pass[p].nrow;
    offcol[p] = -1;
    if (!pass[p].self && pass[p].columns) {
      offcol[p] = len;
      len += pass[p].ncol;
    }
    offgrad[p] = -1;
    if (pass[p].gradient) {
      offgrad[p] = len;
      len += (dim + 1) * pass[p].nrow;
    }
  }
  return len;
}

/* Units of all passes; rows per unit chosen so that every worker gets several units. */
static PetscErrorCode PairUnits(WLMLoss loss, PetscInt npass, const WLMLossPairPass pass[], PetscInt nworkers, PetscInt *nunits)
{
  WLMLossPairWork *work = &loss->work;
  PetscInt         count = 0, needed = 0;

  PetscFunctionBeginUser;
  for (PetscInt p = 0; p < npass; p++) {
    const PetscInt rows = PetscMax(1, PetscMin(64, pass[p].nrow / (8 * nworkers)));

    needed += (pass[p].nrow + rows - 1) / rows;
  }
  if (needed > work->capunits) {
    PetscCall(PetscFree(work->units));
    PetscCall(PetscMalloc1(needed, &work->units));
    work->capunits = needed;
  }
  for (PetscInt p = 0; p < npass; p++) {
    const PetscInt rows = PetscMax(1, PetscMin(64, pass[p].nrow / (8 * nworkers)));

    for (PetscInt i0 = 0; i0 < pass[p].nrow; i0 += rows) {
      const PetscInt i1 = PetscMin(i0 + rows, pass[p].nrow);

      work->units[count].pass = p;
      work->units[count].i0   = i0;
      work->units[count].i1   = i1;
      work->units[count].work = UnitWork(&pass[p], i0, i1);
      count++;
    }
  }
  *nunits = count;
  PetscFunctionReturn(0);
}

/* Range [begin, end) of the units u0 <= u < u1 that part q of nparts gets: each unit goes to the part that contains the middle of its work. */
static void SplitUnits(const WLMLossPairUnit *units, PetscInt u0, PetscInt u1, PetscInt q, PetscInt nparts, PetscInt *begin, PetscInt *end)
{
  PetscReal total = 0, before = 0;

  for (PetscInt u = u0; u < u1; u++) total += units[u].work;
  *begin = u1;
  *end   = u1;
  for (PetscInt u = u0; u < u1; u++) {
    const PetscReal middle = before + 0.5 * units[u].work;
    PetscInt        part   = total > 0 ? (PetscInt)(middle / total * nparts) : 0;

    part = PetscMin(part, nparts - 1);
    if (part == q && *begin == u1) *begin = u;
    if (part > q) {
      *end = u;
      break;
    }
    before += units[u].work;
  }
  if (*begin > *end) *begin = *end;
}

/* One thread's share: zero its buffer, then run its units. */
static void PairWorker(WLMLoss loss, PairRowBlockFn rowblock, const WLMLossPairPass pass[], const PetscInt offrow[], const PetscInt offcol[], const PetscInt offgrad[], PetscInt len, PetscInt ubegin, PetscInt uend, PetscReal *buf)
{
  const PetscInt dim = loss->clouds.dim;

  for (PetscInt e = 0; e < len; e++) buf[e] = 0;
  for (PetscInt u = ubegin; u < uend; u++) {
    const WLMLossPairUnit *unit = &loss->work.units[u];
    const WLMLossPairPass *pp   = &pass[unit->pass];
    PetscReal             *rowsum = buf + offrow[unit->pass];
    PetscReal             *colsum = pp->self ? rowsum : (offcol[unit->pass] >= 0 ? buf + offcol[unit->pass] : NULL);
    PetscReal             *grad   = offgrad[unit->pass] >= 0 ? buf + offgrad[unit->pass] : NULL;

    rowblock(pp, dim, unit->i0, unit->i1, rowsum, colsum, grad, pp->self ? grad : NULL);
  }
}

/* Grows a buffer to at least len entries, keeping nothing. */
static PetscErrorCode Reserve(PetscReal **buf, PetscInt *cap, PetscInt len)
{
  PetscFunctionBeginUser;
  if (len <= *cap) PetscFunctionReturn(0);
  PetscCall(PetscFree(*buf));
  PetscCall(PetscMalloc1(len, buf));
  *cap = len;
  PetscFunctionReturn(0);
}

/*
  WLMLossPairSums - Computes the sums of npass passes over the loss communicator.

  Collective

  On return every rank has the complete sums.  pass[p].rowsum, colsum and
  grad point into the loss workspace and stay valid until the next call.
*/
PetscErrorCode WLMLossPairSums(WLMLoss loss, PetscInt npass, WLMLossPairPass pass[])
{
  MPI_Comm         comm = PetscObjectComm((PetscObject)loss);
  WLMLossPairWork *work = &loss->work;
  const PetscInt   dim  = loss->clouds.dim;
  PetscInt         offrow[WLM_LOSS_MAX_PASSES], offcol[WLM_LOSS_MAX_PASSES], offgrad[WLM_LOSS_MAX_PASSES];
  PetscInt         len, nunits = 0, rbegin, rend, nthreads = 1;
  PetscMPIInt      size, rank;
  PetscReal        flops = 0;
  static PairRowBlockFn rowblock = NULL;

  PetscFunctionBeginUser;
  if (!rowblock) rowblock = SelectPairRowBlock();
  PetscCheck(npass >= 1 && npass <= WLM_LOSS_MAX_PASSES, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Pass count %" PetscInt_FMT " is outside 1..%d", npass, WLM_LOSS_MAX_PASSES);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
#if defined(_OPENMP)
  nthreads = omp_get_max_threads();
#endif
  len = PairLayout(dim, npass, pass, offrow, offcol, offgrad);
  PetscCall(Reserve(&work->out, &work->capout, len));
  PetscCall(Reserve(&work->threadout, &work->capthreadout, (nthreads - 1) * len));
  PetscCall(PairUnits(loss, npass, pass, size * nthreads, &nunits));
  SplitUnits(work->units, 0, nunits, rank, size, &rbegin, &rend);
  for (PetscInt u = rbegin; u < rend; u++) flops += work->units[u].work * PairFlops(&pass[work->units[u].pass], dim);

  PetscCall(PetscLogEventBegin(WLMLOSS_PairSums, loss, 0, 0, 0));
  if (nthreads == 1) {
    PairWorker(loss, rowblock, pass, offrow, offcol, offgrad, len, rbegin, rend, work->out);
  } else {
#if defined(_OPENMP)
  #pragma omp parallel num_threads(nthreads)
    {
      const PetscInt t   = omp_get_thread_num();
      PetscReal     *buf = t == 0 ? work->out : work->threadout + (t - 1) * len;
      PetscInt       tbegin, tend;

      SplitUnits(work->units, rbegin, rend, t, nthreads, &tbegin, &tend);
      PairWorker(loss, rowblock, pass, offrow, offcol, offgrad, len, tbegin, tend, buf);
  #pragma omp barrier
  #pragma omp for schedule(static)
      for (PetscInt e = 0; e < len; e++) {
        for (PetscInt s = 1; s < nthreads; s++) work->out[e] += work->threadout[(s - 1) * len + e];
      }
    }
#endif
  }
  PetscCall(PetscLogFlops(flops + (nthreads - 1) * (PetscReal)len));
  PetscCall(PetscLogEventEnd(WLMLOSS_PairSums, loss, 0, 0, 0));

  if (size > 1) {
    PetscCall(PetscLogEventBegin(WLMLOSS_Allreduce, loss, 0, 0, 0));
    PetscCall(MPIU_Allreduce(MPI_IN_PLACE, work->out, (PetscMPIInt)len, MPIU_REAL, MPIU_SUM, comm));
    PetscCall(PetscLogEventEnd(WLMLOSS_Allreduce, loss, 0, 0, 0));
  }
  for (PetscInt p = 0; p < npass; p++) {
    pass[p].rowsum = work->out + offrow[p];
    pass[p].colsum = pass[p].self ? pass[p].rowsum : (offcol[p] >= 0 ? work->out + offcol[p] : NULL);
    pass[p].grad   = offgrad[p] >= 0 ? work->out + offgrad[p] : NULL;
  }
  PetscFunctionReturn(0);
}

/*
  WLMLossPairBlockSums - Adds the sums of one pass, all its rows, into pp->rowsum, pp->colsum and pp->grad as given.

  Not Collective: the ring exchange (ring.c) calls it for its local rows and one visiting block.

  A self pass visits the pairs j > i and adds each to both sides.  A pass
  between two blocks adds the column sums when pp->columns is set and, when
  colgrad is not NULL and pp->gradient is set, the column gradient sums
  colgrad[0][j] = sum_i u_i h_ij and colgrad[1 + k][j] = sum_i u_i h_ij r_ik, [dim + 1][ncol].
*/
PetscErrorCode WLMLossPairBlockSums(WLMLoss loss, WLMLossPairPass *pp, PetscReal colgrad[])
{
  const PetscInt        dim      = loss->dim;
  static PairRowBlockFn rowblock = NULL;
  PetscReal            *grad, *colsum;

  PetscFunctionBeginUser;
  if (!rowblock) rowblock = SelectPairRowBlock();
  if (pp->nrow == 0 || pp->ncol == 0) PetscFunctionReturn(0);
  grad   = pp->gradient ? pp->grad : NULL;
  colsum = pp->self ? pp->rowsum : (pp->columns ? pp->colsum : NULL);
  /* NOTE: one thread; the column sums of a block would need one private copy per thread */
  rowblock(pp, dim, 0, pp->nrow, pp->rowsum, colsum, grad, pp->self ? grad : (grad ? colgrad : NULL));
  PetscCall(PetscLogFlops(UnitWork(pp, 0, pp->nrow) * PairFlops(pp, dim)));
  PetscFunctionReturn(0);
}

/* True when a sum computed without a maximum shift kept full relative precision. */
PetscBool WLMLossSumIsSafe(PetscReal sum)
{
  return (PetscBool)(sum >= 1e-280 && sum <= 1e280);
}

/*
  WLMLossPairLogSumExact - The logarithm of one row sum (or, with column set, one
  column sum) of a Sinkhorn pass, computed with the maximum exponent subtracted.

  For a self pass the row runs over all columns including the diagonal.  When
  gradnorm is not NULL it receives grad[0..dim] of that row divided by the row
  sum, from the same shifted terms.  Uses libm's exp(); called only for the
  rare sums that WLMLossSumIsSafe() rejects.
*/
void WLMLossPairLogSumExact(const WLMLossPairPass *pp, PetscInt dim, PetscBool column, PetscInt q, PetscReal *logsum, PetscReal gradnorm[])
{
  const PetscInt   nq = column ? pp->ncol : pp->nrow, nt = column ? pp->nrow : pp->ncol;
  const PetscReal *qt = column ? pp->colt : pp->rowt, *tt = column ? pp->rowt : pp->colt;
  const PetscReal *tw = column ? pp->roww : pp->colw, *tpot = column ? pp->rowpot : pp->colpot;
  const PetscReal  Fq = column ? pp->colpot[q] : pp->rowpot[q];
  const PetscBool  p1 = (PetscBool)(pp->kernel == WLM_PAIR_SINKHORN_P1);
  PetscReal        zmax = PETSC_NINFINITY, sum = 0;

  /* exponent of each term: log w_t + G_t + scale cost(q, t) */
  for (PetscInt pass = 0; pass < 2; pass++) {
    if (gradnorm && pass == 1) {
      for (PetscInt k = 0; k <= dim; k++) gradnorm[k] = 0;
    }
    for (PetscInt t = 0; t < nt; t++) {
      PetscReal c = 0, z, term;

      if (tw[t] <= 0) continue;
      for (PetscInt k = 0; k < dim; k++) {
        const PetscReal diff = qt[k * nq + q] - tt[k * nt + t];

        c += diff * diff;
      }
      if (p1) c = PetscSqrtReal(c);
      z = PetscLogReal(tw[t]) + tpot[t] + pp->scale * c;
      if (pass == 0) {
        zmax = PetscMax(zmax, z);
        continue;
      }
      term = PetscExpReal(z - zmax);
      sum += term;
      if (gradnorm) {
        const PetscReal hterm = p1 ? (c > 0 ? term / c : 0) : term;

        gradnorm[0] += hterm;
        for (PetscInt k = 0; k < dim; k++) gradnorm[1 + k] += hterm * tt[k * nt + t];
      }
    }
  }
  *logsum = Fq + zmax + PetscLogReal(sum);
  if (gradnorm) {
    for (PetscInt k = 0; k <= dim; k++) gradnorm[k] /= sum;
  }
}

/* Frees the pair-sum workspace. */
PetscErrorCode WLMLossPairWorkDestroy(WLMLossPairWork *work)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(work->out));
  PetscCall(PetscFree(work->threadout));
  PetscCall(PetscFree(work->units));
  work->capout       = 0;
  work->capthreadout = 0;
  work->capunits     = 0;
  PetscFunctionReturn(0);
}
