/*
   Vectorized loops of the pair sums, included by pairs.c once per
   instruction set (see there).  Every function name goes through
   WLM_PAIR_VARIANT(), which the includer defines, so that each inclusion
   defines its own copy of the functions.
*/
#define LossExp          WLM_PAIR_VARIANT(LossExp)
#define SquaredDistances WLM_PAIR_VARIANT(SquaredDistances)
#define PairWeights      WLM_PAIR_VARIANT(PairWeights)
#define FusedSums        WLM_PAIR_VARIANT(FusedSums)
#define PairRowBlock     WLM_PAIR_VARIANT(PairRowBlock)

/*
   exp(x) for x in [-708, 709], with relative error below 4e-16 on that range;
   inputs below -708 give exp(-708) and above 709 give exp(709), which the
   range check of the sums then rejects.

   Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, with ln2 split into a
   32-bit head (so k * head is exact) and a tail; exp(r) by its Taylor
   polynomial of degree 12, whose remainder is below 2e-16 there; 2^k built
   in the exponent bits.  Written with plain arithmetic so that loops calling
   it vectorize.
*/
WLM_INLINE PetscReal LossExp(PetscReal x)
{
  const PetscReal shift = 0x1.8p52, log2e = 1.4426950408889634074, ln2_head = 6.93147180369123816490e-01, ln2_tail = 1.90821492927058770002e-10;
  union {
    PetscReal d;
    uint64_t  u;
  } kbits, scale;
  PetscReal xc, t, k, r, q;

  xc = x > -708.0 ? x : -708.0;
  xc = xc < 709.0 ? xc : 709.0;
  t  = xc * log2e + shift; /* k = round(x / ln2) sits in the low mantissa bits of t */
  k  = t - shift;
  r  = xc - k * ln2_head;
  r  = r - k * ln2_tail;
  q  = 1.0 / 479001600.0;
  q  = q * r + 1.0 / 39916800.0;
  q  = q * r + 1.0 / 3628800.0;
  q  = q * r + 1.0 / 362880.0;
  q  = q * r + 1.0 / 40320.0;
  q  = q * r + 1.0 / 5040.0;
  q  = q * r + 1.0 / 720.0;
  q  = q * r + 1.0 / 120.0;
  q  = q * r + 1.0 / 24.0;
  q  = q * r + 1.0 / 6.0;
  q  = q * r + 0.5;
  q  = q * r + 1.0;
  q  = q * r + 1.0;
  kbits.d = t;
  scale.u = (kbits.u + 1023) << 52; /* 2^k: the bits of the shift constant are shifted out */
  return q * scale.d;
}

/* c[j] = |r - s_j|^2 for nj columns; r has stride rstride between coordinates, s has stride sstride. */
WLM_INLINE void SquaredDistances(PetscInt dim, const PetscReal *r, PetscInt rstride, const PetscReal *s, PetscInt sstride, PetscInt nj, PetscReal *restrict c)
{
  const PetscReal r0 = r[0];

#pragma omp simd
  for (PetscInt j = 0; j < nj; j++) {
    const PetscReal t = r0 - s[j];

    c[j] = t * t;
  }
  for (PetscInt k = 1; k < dim; k++) {
    const PetscReal  rk = r[k * rstride];
    const PetscReal *sk = s + k * sstride;

#pragma omp simd
    for (PetscInt j = 0; j < nj; j++) {
      const PetscReal t = rk - sk[j];

      c[j] += t * t;
    }
  }
}

/* Pair weights e (and gradient weights h when h is not NULL) of one row against nj columns, from the squared distances in c; the p = 1 kernel replaces them by the distances. */
WLM_INLINE void PairWeights(WLMPairKernel kernel, PetscReal scale, PetscReal F, const PetscReal *G, PetscInt nj, PetscReal *restrict c, PetscReal *restrict e, PetscReal *restrict h)
{
  switch (kernel) {
  case WLM_PAIR_SINKHORN_P2:
#pragma omp simd
    for (PetscInt j = 0; j < nj; j++) e[j] = LossExp(F + G[j] + scale * c[j]);
    if (h) {
#pragma omp simd
      for (PetscInt j = 0; j < nj; j++) h[j] = e[j];
    }
    break;
  case WLM_PAIR_SINKHORN_P1:
#pragma omp simd
    for (PetscInt j = 0; j < nj; j++) {
      const PetscReal d = PetscSqrtReal(c[j]);

      c[j] = d;
      e[j] = LossExp(F + G[j] + scale * d);
    }
    if (h) {
#pragma omp simd
      for (PetscInt j = 0; j < nj; j++) h[j] = c[j] > 0 ? e[j] / c[j] : 0.0;
    }
    break;
  case WLM_PAIR_GAUSSIAN:
#pragma omp simd
    for (PetscInt j = 0; j < nj; j++) e[j] = LossExp(scale * c[j]);
    if (h) {
#pragma omp simd
      for (PetscInt j = 0; j < nj; j++) h[j] = e[j];
    }
    break;
  case WLM_PAIR_DISTANCE:
#pragma omp simd
    for (PetscInt j = 0; j < nj; j++) e[j] = PetscSqrtReal(c[j]);
    if (h) {
#pragma omp simd
      for (PetscInt j = 0; j < nj; j++) h[j] = e[j] > 0 ? 1.0 / e[j] : 0.0;
    }
    break;
  }
}

/*
   Row sum (and column sums when cs is not NULL) of one row against nj
   columns, without gradient sums, in one loop: the common case of the
   Sinkhorn iterations.  Called with a constant kernel, so each call site
   compiles to a loop for that kernel.
*/
WLM_INLINE PetscReal FusedSums(WLMPairKernel kernel, PetscReal scale, PetscReal F, const PetscReal *G, const PetscReal *restrict c, const PetscReal *restrict w, PetscReal u, PetscReal *restrict cs, PetscInt nj)
{
  PetscReal sum = 0;

  if (cs) {
#pragma omp simd reduction(+ : sum)
    for (PetscInt j = 0; j < nj; j++) {
      PetscReal e;

      if (kernel == WLM_PAIR_SINKHORN_P2) e = LossExp(F + G[j] + scale * c[j]);
      else if (kernel == WLM_PAIR_SINKHORN_P1) e = LossExp(F + G[j] + scale * PetscSqrtReal(c[j]));
      else if (kernel == WLM_PAIR_GAUSSIAN) e = LossExp(scale * c[j]);
      else e = PetscSqrtReal(c[j]);
      sum += w[j] * e;
      cs[j] += u * e;
    }
  } else {
#pragma omp simd reduction(+ : sum)
    for (PetscInt j = 0; j < nj; j++) {
      PetscReal e;

      if (kernel == WLM_PAIR_SINKHORN_P2) e = LossExp(F + G[j] + scale * c[j]);
      else if (kernel == WLM_PAIR_SINKHORN_P1) e = LossExp(F + G[j] + scale * PetscSqrtReal(c[j]));
      else if (kernel == WLM_PAIR_GAUSSIAN) e = LossExp(scale * c[j]);
      else e = PetscSqrtReal(c[j]);
      sum += w[j] * e;
    }
  }
  return sum;
}

/*
   Sums of rows i0 <= i < i1 of one pass against all its columns (against the
   columns j > i for a self pass).  rowsum, colsum, grad and colgrad are this
   thread's outputs of the pass; colsum and colgrad are NULL when not wanted.
*/
static void PairRowBlock(const WLMLossPairPass *pp, PetscInt dim, PetscInt i0, PetscInt i1, PetscReal *rowsum, PetscReal *colsum, PetscReal *grad, PetscReal *colgrad)
{
  PetscReal       c[WLM_PAIR_COLUMNS], e[WLM_PAIR_COLUMNS], h[WLM_PAIR_COLUMNS];
  const PetscInt  nrow = pp->nrow, ncol = pp->ncol;
  const PetscBool sinkhorn = (PetscBool)(pp->kernel == WLM_PAIR_SINKHORN_P1 || pp->kernel == WLM_PAIR_SINKHORN_P2);
  const PetscInt  jfirst = pp->self ? ((i0 + 1) / WLM_PAIR_COLUMNS) * WLM_PAIR_COLUMNS : 0;

  for (PetscInt jb = jfirst; jb < ncol; jb += WLM_PAIR_COLUMNS) {
    const PetscInt jend = PetscMin(jb + WLM_PAIR_COLUMNS, ncol);

    for (PetscInt i = i0; i < i1; i++) {
      const PetscInt   js = pp->self ? PetscMax(jb, i + 1) : jb, nj = jend - js;
      const PetscReal *s  = pp->colt + js, *w = pp->colw + js;
      const PetscReal  F  = sinkhorn && pp->rowpot ? pp->rowpot[i] : 0.0;
      const PetscReal *G  = sinkhorn ? pp->colpot + js : NULL;
      PetscReal        sum = 0;

      if (nj <= 0) continue;
      SquaredDistances(dim, pp->rowt + i, nrow, s, ncol, nj, c);
      if (!grad) {
        const PetscReal u  = pp->roww[i];
        PetscReal      *cs = colsum ? colsum + js : NULL;

        switch (pp->kernel) {
        case WLM_PAIR_SINKHORN_P2:
          sum = FusedSums(WLM_PAIR_SINKHORN_P2, pp->scale, F, G, c, w, u, cs, nj);
          break;
        case WLM_PAIR_SINKHORN_P1:
          sum = FusedSums(WLM_PAIR_SINKHORN_P1, pp->scale, F, G, c, w, u, cs, nj);
          break;
        case WLM_PAIR_GAUSSIAN:
          sum = FusedSums(WLM_PAIR_GAUSSIAN, pp->scale, F, G, c, w, u, cs, nj);
          break;
        case WLM_PAIR_DISTANCE:
          sum = FusedSums(WLM_PAIR_DISTANCE, pp->scale, F, G, c, w, u, cs, nj);
          break;
        }
        rowsum[i] += sum;
        continue;
      }
      PairWeights(pp->kernel, pp->scale, F, G, nj, c, e, grad ? h : NULL);
#pragma omp simd reduction(+ : sum)
      for (PetscInt j = 0; j < nj; j++) sum += w[j] * e[j];
      rowsum[i] += sum;
      if (colsum) {
        const PetscReal  u  = pp->roww[i];
        PetscReal       *cs = colsum + js;

#pragma omp simd
        for (PetscInt j = 0; j < nj; j++) cs[j] += u * e[j];
      }
      if (grad) {
        PetscReal hsum = 0;

        /* from here on e contains w_j h_j */
#pragma omp simd reduction(+ : hsum)
        for (PetscInt j = 0; j < nj; j++) {
          e[j] = w[j] * h[j];
          hsum += e[j];
        }
        grad[i] += hsum;
        for (PetscInt k = 0; k < dim; k++) {
          const PetscReal *sk = s + k * ncol;
          PetscReal        gk = 0;

#pragma omp simd reduction(+ : gk)
          for (PetscInt j = 0; j < nj; j++) gk += e[j] * sk[j];
          grad[(1 + k) * nrow + i] += gk;
        }
        if (colgrad) {
          const PetscReal u = pp->roww[i];

#pragma omp simd
          for (PetscInt j = 0; j < nj; j++) colgrad[js + j] += u * h[j];
          for (PetscInt k = 0; k < dim; k++) {
            const PetscReal uxk = u * pp->rowt[k * nrow + i];
            PetscReal      *cg  = colgrad + (1 + k) * ncol + js;

#pragma omp simd
            for (PetscInt j = 0; j < nj; j++) cg[j] += uxk * h[j];
          }
        }
      }
    }
  }
}

#undef LossExp
#undef SquaredDistances
#undef PairWeights
#undef FusedSums
#undef PairRowBlock
