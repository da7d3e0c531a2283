/*
   The pair kernel of the meanfield potential: tiles of pairs through the pair
   MLP M, for both exchanges (meanfield.c gathers the population, and
   meanfieldring.c passes blocks around a ring), and the shuffle of the
   random batches.  The equations are in the header comment of meanfield.c.
*/
#include "meanfield.h"

/* Cutoff c(s) = (1 - s/R^2)^3 and its first two derivatives in s; no cutoff when R = 0. */
static inline void Cutoff(PetscReal R, PetscReal s, PetscReal *c0, PetscReal *c1, PetscReal *c2)
{
  if (R <= 0) {
    *c0 = 1.0;
    *c1 = 0.0;
    *c2 = 0.0;
  } else {
    const PetscReal R2 = R * R, v = 1.0 - s / R2;

    *c0 = v * v * v;
    *c1 = -3.0 * v * v / R2;
    *c2 = 6.0 * v / (R2 * R2);
  }
}

/* Fills the input rows of M for np pairs (and the tangent rows for products); returns the row count. */
static PetscInt MeanfieldLoadRows(Meanfield *mf, PetscInt dim, PetscBool time_input, PetscReal t, PetscInt np, PetscBool tangent)
{
  const PetscInt nin = mf->pair.nin;
  PetscReal     *in  = mf->pair.input;
  PetscInt       m;

  if (mf->pair_input == WLM_PAIR_INPUT_DISTANCE2) {
    m = np;
    for (PetscInt p = 0; p < np; p++) {
      PetscReal s = 0;

      for (PetscInt k = 0; k < dim; k++) s += mf->r[p * dim + k] * mf->r[p * dim + k];
      in[p * nin] = s;
      if (time_input) in[p * nin + 1] = t;
      if (tangent) {
        in[(m + p) * nin] = mf->sdot[p];
        if (time_input) in[(m + p) * nin + 1] = 0.0;
      }
    }
  } else {
    m = 2 * np;
    for (PetscInt p = 0; p < np; p++) {
      for (PetscInt k = 0; k < dim; k++) {
        in[2 * p * nin + k]       = mf->r[p * dim + k];
        in[(2 * p + 1) * nin + k] = -mf->r[p * dim + k];
        if (tangent) {
          in[(m + 2 * p) * nin + k]     = mf->delta[p * dim + k];
          in[(m + 2 * p + 1) * nin + k] = -mf->delta[p * dim + k];
        }
      }
      if (time_input) {
        in[2 * p * nin + dim]       = t;
        in[(2 * p + 1) * nin + dim] = t;
        if (tangent) {
          in[(m + 2 * p) * nin + dim]     = 0.0;
          in[(m + 2 * p + 1) * nin + dim] = 0.0;
        }
      }
    }
  }
  return m;
}

/*
   Evaluates one tile of np pairs, row mf->pi[p] of rows_i with row
   mf->pj[p] of rows_j, and adds sigma W(r) to *U.  For forces it adds
   g = sigma grad W to the g arrays of the sides (+g for i, -g for j).  For
   products it also adds sigma Hess W (Lambda_i - Lambda_j) to their h arrays
   in the same way, and the parameter product to gradtheta.  For parameters
   it adds sigma grad_theta W(r) to gradtheta and nothing to g.
*/
PetscErrorCode MeanfieldTile(WLMPotential pot, PairPass pass, PetscReal t, PetscInt np, PetscReal *U, PetscReal *gradtheta)
{
  Meanfield      *mf = (Meanfield *)pot->data;
  const PetscInt   dim = pot->dim, nin = mf->pair.nin, rows_per_pair = mf->pair_input == WLM_PAIR_INPUT_DISTANCE2 ? 1 : 2;
  const PetscBool  tangent = (PetscBool)(pass == PAIR_PRODUCTS);
  const PetscInt   offset  = mf->external ? mf->part.mlp.nparam : 0; /* the pair MLP's parameters follow those of V */
  const PetscReal *theta   = pot->theta + offset;
  PetscReal       *pair_gradtheta = gradtheta ? gradtheta + offset : NULL;
  const PetscReal *y, *dy, *bar, *dbar;
  PetscInt         m;
  PetscReal        energy = 0;

  PetscFunctionBeginUser;
  /* geometry of the pairs */
  for (PetscInt p = 0; p < np; p++) {
    const PetscInt gi = mf->pi[p], gj = mf->pj[p];
    PetscReal      s = 0, sd = 0;

    for (PetscInt k = 0; k < dim; k++) {
      const PetscReal rk = mf->rows_i.x[gi * dim + k] - mf->rows_j.x[gj * dim + k];

      mf->r[p * dim + k] = rk;
      s += rk * rk;
      if (tangent) {
        const PetscReal dk = mf->rows_i.lambda[gi * dim + k] - mf->rows_j.lambda[gj * dim + k];

        mf->delta[p * dim + k] = dk;
        sd += 2.0 * rk * dk;
      }
    }
    mf->sigma[p] = mf->pair_scale * mf->rows_i.w[gi] * mf->rows_j.w[gj];
    mf->sdot[p]  = sd;
    Cutoff(mf->cutoff, s, &mf->c0[p], &mf->c1[p], &mf->c2[p]);
  }
  PetscCall(PetscLogFlops((tangent ? 8.0 : 4.0) * np * dim + 2.0 * np));

  m = MeanfieldLoadRows(mf, dim, pot->time_input, t, np, tangent);
  PetscCall(WLMMLPForward(&mf->pair, theta, m, tangent));
  y  = mf->pair.output;
  dy = mf->pair.output + m;

  /* ymean: m(r) of each pair, the mean over its rows */
  for (PetscInt p = 0; p < np; p++) {
    const PetscReal ymean = rows_per_pair == 1 ? y[p] : 0.5 * (y[2 * p] + y[2 * p + 1]);

    energy += mf->sigma[p] * mf->c0[p] * ymean;
  }
  *U += energy;
  if (pass == PAIR_ENERGY) PetscFunctionReturn(0);

  /* seeds: d(sigma c m)/dy and its tangent sigma c' sdot / rows */
  for (PetscInt p = 0; p < np; p++) {
    for (PetscInt q = 0; q < rows_per_pair; q++) {
      mf->ybar[p * rows_per_pair + q]  = mf->sigma[p] * mf->c0[p] / rows_per_pair;
      mf->dybar[p * rows_per_pair + q] = mf->sigma[p] * mf->c1[p] * mf->sdot[p] / rows_per_pair;
    }
  }
  PetscCall(WLMMLPReverse(&mf->pair, theta, m, mf->ybar, tangent ? mf->dybar : NULL, tangent, tangent ? -1.0 : 1.0, pair_gradtheta));
  if (pass == PAIR_PARAMETERS) PetscFunctionReturn(0);
  bar  = mf->pair.barin;
  dbar = mf->pair.barin + m * nin;

  /* g = sigma grad W(r) = (dE/ds) 2 r from M's input gradient and the cutoff; dg its tangent */
  for (PetscInt p = 0; p < np; p++) {
    const PetscInt   gi = mf->pi[p], gj = mf->pj[p];
    const PetscReal  sg = mf->sigma[p], *rp = mf->r + p * dim, *dp = mf->delta + p * dim;
    PetscReal        ymean, dymean, coef, dcoef;

    if (rows_per_pair == 1) {
      ymean  = y[p];
      dymean = tangent ? dy[p] : 0.0;
      coef   = bar[p * nin] + sg * ymean * mf->c1[p];
      dcoef  = tangent ? dbar[p * nin] + sg * (dymean * mf->c1[p] + ymean * mf->c2[p] * mf->sdot[p]) : 0.0;
    } else {
      ymean  = 0.5 * (y[2 * p] + y[2 * p + 1]);
      dymean = tangent ? 0.5 * (dy[2 * p] + dy[2 * p + 1]) : 0.0;
      coef   = sg * ymean * mf->c1[p];
      dcoef  = tangent ? sg * (dymean * mf->c1[p] + ymean * mf->c2[p] * mf->sdot[p]) : 0.0;
    }
    for (PetscInt k = 0; k < dim; k++) {
      PetscReal g = 2.0 * coef * rp[k];

      if (rows_per_pair == 2) g += bar[2 * p * nin + k] - bar[(2 * p + 1) * nin + k];
      mf->rows_i.g[gi * dim + k] += g;
      mf->rows_j.g[gj * dim + k] -= g;
      if (tangent) {
        PetscReal dg = 2.0 * dcoef * rp[k] + 2.0 * coef * dp[k];

        if (rows_per_pair == 2) dg += dbar[2 * p * nin + k] - dbar[(2 * p + 1) * nin + k];
        mf->rows_i.h[gi * dim + k] += dg;
        mf->rows_j.h[gj * dim + k] -= dg;
      }
    }
  }
  PetscCall(PetscLogFlops((tangent ? 16.0 : 6.0) * np * dim + 12.0 * np));
  PetscFunctionReturn(0);
}

/* Adds pair {gi, gj} to the tile unless the cutoff excludes it; runs the tile when it is full. */
PetscErrorCode MeanfieldAddPair(WLMPotential pot, PairPass pass, PetscReal t, PetscInt gi, PetscInt gj, PetscInt *np, PetscReal *U, PetscReal *gradtheta)
{
  Meanfield     *mf  = (Meanfield *)pot->data;
  const PetscInt dim = pot->dim;

  PetscFunctionBeginUser;
  if (mf->cutoff > 0) {
    PetscReal s = 0;

    for (PetscInt c = 0; c < dim; c++) s += (mf->rows_i.x[gi * dim + c] - mf->rows_j.x[gj * dim + c]) * (mf->rows_i.x[gi * dim + c] - mf->rows_j.x[gj * dim + c]);
    if (s >= mf->cutoff * mf->cutoff) PetscFunctionReturn(0);
  }
  mf->pi[*np] = gi;
  mf->pj[*np] = gj;
  if (++(*np) == MEANFIELD_TILE) {
    PetscCall(MeanfieldTile(pot, pass, t, *np, U, gradtheta));
    *np = 0;
  }
  PetscFunctionReturn(0);
}

/* Grows the shuffle array mf->order to N particles. */
PetscErrorCode MeanfieldReserveOrder(WLMPotential pot, PetscInt N)
{
  Meanfield *mf = (Meanfield *)pot->data;

  PetscFunctionBeginUser;
  if (N > mf->order_capacity) {
    PetscCall(PetscFree(mf->order));
    PetscCall(PetscMalloc1(N, &mf->order));
    mf->order_capacity = N;
  }
  PetscFunctionReturn(0);
}

/*
   Draws the shuffle of the N particles for time t into mf->order (every rank
   draws the same one) and sets the pair weight mf->pair_scale of its
   batches; the caller resets pair_scale to 1 after the call.
*/
void MeanfieldBatchShuffle(Meanfield *mf, PetscReal t, PetscInt N)
{
  const PetscInt K = mf->batch, nbatch = (N + K - 1) / K;
  PetscReal      together = 0;
  WLMRandom      r;

  /* t enters through a rounded integer, so the adjoint's evaluations at the forward's times draw the same shuffle */
  WLMRandomSeed(&r, mf->batch_seed, WLMRandomMix64((uint64_t)(int64_t)llround(t * 1e9)));
  WLMRandomSample(&r, N, N, mf->order);
  for (PetscInt b = 0; b < nbatch; b++) {
    const PetscReal kb = (PetscReal)(PetscMin(N, (b + 1) * K) - b * K);

    together += kb * (kb - 1);
  }
  mf->pair_scale = (PetscReal)N * (PetscReal)(N - 1) / together;
}
