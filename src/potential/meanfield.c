/*
   meanfield: an external field plus an even pair potential,

     U(X, t) = sum_i w_i V(x_i [, t]) + 1/2 sum_{i != j} w_i w_j W(x_i - x_j [, t]),

   with V the MLP of the external type (switched off by
   -wlm_potential_meanfield_external false) and W(r) = c(|r|^2) m(r), where m is
   one MLP M of

     distance2   the squared distance: m(r) = M(|r|^2)
     difference  the difference, made even: m(r) = (M(r) + M(-r)) / 2

   and c an optional cutoff of radius R, c(s) = (1 - s/R^2)^3 for s < R^2 and 0
   beyond.  c, c' and c'' vanish at s = R^2, so forces and the state product
   stay continuous when a pair crosses the cutoff.  The acceleration F_i / w_i
   has the pair part -sum_j w_j grad W(x_i - x_j): with uniform masses, the
   mean of the pair forces over the partners.

   The pair sum runs over unordered pairs {i, j}, each once, with weight
   sigma = w_i w_j; for pair r = x_i - x_j with gradient g = sigma grad W(r):

     F_i -= g,  F_j += g,
     H Lambda:  (H Lambda)_i += dg,  (H Lambda)_j -= dg,  dg = sigma Hess W(r) (Lambda_i - Lambda_j),

   where dg is the tangent of g along Lambda, and the parameter product gets
   -grad_theta (sigma grad W(r) . (Lambda_i - Lambda_j)) from the
   reverse-tangent pass of M.  The parameter gradient gets
   sigma c(|r|^2) grad_theta m(r) from a reverse pass of M alone, without the
   pair forces and their reduction.  Pairs go through M in tiles of a fixed
   number of rows, so the workspace does not grow with N^2.

   Random batches (-wlm_potential_meanfield_batch K, 0 for off): each call
   shuffles the N particles with a stream seeded by (batch seed, t) and cuts
   the order into ceil(N / K) batches of K (the last one smaller); only pairs
   inside a batch interact, each with weight s w_i w_j, where

     s = N (N - 1) / sum_b K_b (K_b - 1)

   is the inverse of the probability that a given pair shares a batch, so the
   energy, the forces and all products are unbiased estimates of the full
   ones, at a cost of about N (K - 1) / 2 pair evaluations instead of
   N (N - 1) / 2.  The shuffle depends on t, so the forward pass and the
   adjoint of a rollout see the same batches at each step, and the batch
   estimate is an exact potential whose derivatives the adjoint uses.  The
   trainer changes the batch seed for every rollout
   (WLMPotentialMeanfieldSetBatchSeed()).  The price is variance: the force
   on a particle averages K - 1 partners in place of N - 1, and the noise
   enters the rollout at every step.

   Sharding: the particle with global index I owns the pairs {I, (I + k) mod N}
   for k = 1..(N-1)/2, and k = N/2 as well when N is even and I < N/2; every
   unordered pair is owned once and each rank owns about n N / 2 of them.
   With the gathered exchange (-wlm_potential_exchange gather, and auto
   below -wlm_potential_ring_min particles), all positions (and cotangents)
   are gathered, the gradients of all N particles are accumulated locally
   and summed onto the owners with one MPI_Reduce_scatter; memory per rank
   is O(N).  The ring exchange (meanfieldring.c) keeps memory per rank at
   O(N / P) and gives the same results up to summation order.  The pair
   kernel itself is in meanfieldpairs.c.
*/
#include "meanfield.h"
#include <wlm/private/h5util.h>

/* Allocates the tile buffers and the per-rank counts on first use and, for the gathered exchange, the population buffers whenever N grows. */
static PetscErrorCode MeanfieldReserve(WLMPotential pot, PetscInt N)
{
  Meanfield     *mf  = (Meanfield *)pot->data;
  const PetscInt dim = pot->dim;
  PetscMPIInt    size;

  PetscFunctionBeginUser;
  if (!mf->pi) {
    PetscCall(PetscMalloc4(MEANFIELD_TILE, &mf->pi, MEANFIELD_TILE, &mf->pj, MEANFIELD_TILE * dim, &mf->r, MEANFIELD_TILE * dim, &mf->delta));
    PetscCall(PetscMalloc7(MEANFIELD_TILE, &mf->sigma, MEANFIELD_TILE, &mf->sdot, MEANFIELD_TILE, &mf->c0, MEANFIELD_TILE, &mf->c1, MEANFIELD_TILE, &mf->c2, 2 * MEANFIELD_TILE, &mf->ybar, 2 * MEANFIELD_TILE, &mf->dybar));
    PetscCall(WLMMLPReserve(&mf->pair, 2 * MEANFIELD_TILE));
    PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
    PetscCall(PetscMalloc4(size, &mf->counts, size, &mf->displs, size, &mf->pcounts, size, &mf->pdispls));
  }
  if (N > mf->capacity) {
    PetscCall(PetscFree6(mf->xall, mf->lall, mf->wall, mf->gall, mf->hall, mf->share));
    PetscCall(PetscMalloc6(N * dim, &mf->xall, N * dim, &mf->lall, N, &mf->wall, N * dim, &mf->gall, N * dim, &mf->hall, N * dim, &mf->share));
    mf->capacity = N;
  }
  PetscFunctionReturn(0);
}

/*
   Gathers the particle counts of the ranks into mf->pcounts and mf->counts.
   Returns N, this rank's first global index, the largest count, whether
   the ranks with particles pass masses, and otherwise the uniform mass 1/N
   (as WLMPotentialGetUniformMass() returns, without its reduction).  A rank
   without particles may pass NULL for any array, so its w does not decide.
*/
static PetscErrorCode MeanfieldCounts(WLMPotential pot, PetscInt n, const PetscReal *w, PetscInt *N, PetscInt *start, PetscInt *nmax, PetscBool *masses, PetscReal *mass)
{
  Meanfield     *mf   = (Meanfield *)pot->data;
  MPI_Comm       comm = PetscObjectComm((PetscObject)pot);
  const PetscInt dim  = pot->dim;
  PetscMPIInt    size, rank, nn, with = 0, without = 0, passed = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscMPIIntCast(n, &nn));
  PetscCall(MeanfieldReserve(pot, 0));
  /* the sign carries the masses: -n - 1 for a rank that passes no masses */
  nn = w ? nn : -nn - 1;
  PetscCallMPI(MPI_Allgather(&nn, 1, MPI_INT, mf->pcounts, 1, MPI_INT, comm));
  *N    = 0;
  *nmax = 0;
  for (PetscMPIInt q = 0; q < size; q++) {
    if (mf->pcounts[q] < 0) {
      mf->pcounts[q] = -mf->pcounts[q] - 1;
      if (mf->pcounts[q] > 0) without++;
    } else {
      passed++;
      if (mf->pcounts[q] > 0) with++;
    }
    mf->pdispls[q] = (PetscMPIInt)*N;
    mf->counts[q]  = (PetscMPIInt)(mf->pcounts[q] * dim);
    mf->displs[q]  = (PetscMPIInt)(*N * dim);
    *N += mf->pcounts[q];
    *nmax = PetscMax(*nmax, (PetscInt)mf->pcounts[q]);
  }
  PetscCheck(!with || !without, comm, PETSC_ERR_ARG_NULL, "Of the ranks with particles, %d passed masses and %d passed NULL; pass masses on every rank or on none", (int)with, (int)without);
  PetscCheck(*N > 0 || passed, comm, PETSC_ERR_ARG_OUTOFRANGE, "The population has no particles");
  *start  = mf->pdispls[rank];
  *masses = with ? PETSC_TRUE : PETSC_FALSE;
  *mass   = with || *N == 0 ? 0.0 : 1.0 / (PetscReal)*N;
  PetscFunctionReturn(0);
}

/*
   Gathers positions, masses (when masses is true, else the uniform mass)
   and, for the products pass, cotangents of the whole population of N
   particles into xall, wall, lall, after MeanfieldCounts().
*/
static PetscErrorCode MeanfieldGather(WLMPotential pot, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, PetscInt N, PetscBool masses, PetscBool tangent, PetscReal mass)
{
  Meanfield     *mf   = (Meanfield *)pot->data;
  MPI_Comm       comm = PetscObjectComm((PetscObject)pot);
  const PetscInt dim  = pot->dim;
  PetscMPIInt    size, rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(MeanfieldReserve(pot, N));

  if (size == 1) {
    PetscCall(PetscArraycpy(mf->xall, x, n * dim));
    if (tangent) PetscCall(PetscArraycpy(mf->lall, lambda, n * dim));
    for (PetscInt i = 0; i < n; i++) mf->wall[i] = masses ? w[i] : mass;
  } else {
    PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
    PetscCallMPI(MPI_Allgatherv(x, mf->counts[rank], MPIU_REAL, mf->xall, mf->counts, mf->displs, MPIU_REAL, comm));
    if (tangent) PetscCallMPI(MPI_Allgatherv(lambda, mf->counts[rank], MPIU_REAL, mf->lall, mf->counts, mf->displs, MPIU_REAL, comm));
    if (masses) PetscCallMPI(MPI_Allgatherv(w, mf->pcounts[rank], MPIU_REAL, mf->wall, mf->pcounts, mf->pdispls, MPIU_REAL, comm));
    else
      for (PetscInt i = 0; i < N; i++) mf->wall[i] = mass;
    PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
  }
  PetscFunctionReturn(0);
}

/* Sums the accumulated gradients of all particles over the ranks and returns this rank's block in mf->share. */
static PetscErrorCode MeanfieldReduce(WLMPotential pot, PetscInt N, PetscInt start, PetscInt n, const PetscReal *all)
{
  Meanfield  *mf   = (Meanfield *)pot->data;
  MPI_Comm    comm = PetscObjectComm((PetscObject)pot);
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (size == 1) PetscCall(PetscArraycpy(mf->share, all, N * pot->dim));
  else {
    PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
    PetscCallMPI(MPI_Reduce_scatter(all, mf->share, mf->counts, MPIU_REAL, MPI_SUM, comm));
    PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Communication, pot, 0, 0, 0));
  }
  PetscFunctionReturn(0);
}

/*
   Runs the pair sum over the pairs inside this rank's share of the random
   batches: batches b with size b / B <= rank < size (b + 1) / B, B batches.
   Every rank draws the same shuffle.
*/
static PetscErrorCode MeanfieldBatchPairSum(WLMPotential pot, PairPass pass, PetscReal t, PetscInt N, PetscReal *U, PetscReal *gradtheta)
{
  Meanfield     *mf = (Meanfield *)pot->data;
  const PetscInt K = mf->batch, nbatch = (N + K - 1) / K;
  PetscInt       np = 0, b0, b1;
  PetscMPIInt    size, rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
  PetscCallMPI(MPI_Comm_rank(PetscObjectComm((PetscObject)pot), &rank));
  PetscCall(MeanfieldReserveOrder(pot, N));
  MeanfieldBatchShuffle(mf, t, N);
  b0 = nbatch * rank / size;
  b1 = nbatch * (rank + 1) / size;
  for (PetscInt b = b0; b < b1; b++) {
    const PetscInt *member = mf->order + b * K, kb = PetscMin(N, (b + 1) * K) - b * K;

    for (PetscInt u = 0; u < kb; u++) {
      for (PetscInt v = u + 1; v < kb; v++) PetscCall(MeanfieldAddPair(pot, pass, t, member[u], member[v], &np, U, gradtheta));
    }
  }
  if (np) PetscCall(MeanfieldTile(pot, pass, t, np, U, gradtheta));
  mf->pair_scale = 1.0;
  PetscCall(PetscLogFlops(2.0 * nbatch));
  PetscFunctionReturn(0);
}

/*
   Runs the pair sum over the pairs owned by this rank's particles
   start..start+n-1 of N, on the gathered population: adds this rank's share
   of the pair energy to *U, and for forces and products the gradients to
   gall and hall.
*/
static PetscErrorCode MeanfieldPairSum(WLMPotential pot, PairPass pass, PetscReal t, PetscInt N, PetscInt start, PetscInt n, PetscReal *U, PetscReal *gradtheta)
{
  Meanfield     *mf   = (Meanfield *)pot->data;
  const PetscInt dim  = pot->dim, half = (N - 1) / 2;
  PetscInt       np   = 0;
  MeanfieldRows  rows = {mf->xall, mf->lall, mf->wall, mf->gall, mf->hall};

  PetscFunctionBeginUser;
  mf->rows_i = rows;
  mf->rows_j = rows;
  if (pass == PAIR_FORCES || pass == PAIR_PRODUCTS) PetscCall(PetscArrayzero(mf->gall, N * dim));
  if (pass == PAIR_PRODUCTS) PetscCall(PetscArrayzero(mf->hall, N * dim));
  if (mf->batch > 0 && mf->batch < N) {
    PetscCall(MeanfieldBatchPairSum(pot, pass, t, N, U, gradtheta));
    PetscFunctionReturn(0);
  }
  for (PetscInt gi = start; gi < start + n; gi++) {
    const PetscInt kmax = (N % 2 == 0 && gi < N / 2) ? N / 2 : half;

    for (PetscInt k = 1; k <= kmax; k++) PetscCall(MeanfieldAddPair(pot, pass, t, gi, (gi + k) % N, &np, U, gradtheta));
  }
  if (np) PetscCall(MeanfieldTile(pot, pass, t, np, U, gradtheta));
  PetscFunctionReturn(0);
}

/*
   Runs the pair part of one call with the exchange that
   WLMPotentialUseRing() selects: adds this rank's share of the pair energy
   to *Upair and of the parameter products or gradient to gradtheta, sets
   F = -grad U_pair and gradx = -(H Lambda)_pair on this rank's particles
   when they are not NULL, and returns the masses of this rank's particles
   in *wlocal.
*/
static PetscErrorCode MeanfieldPairPart(WLMPotential pot, PairPass pass, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, PetscReal *Upair, PetscReal *F, PetscReal *gradx, PetscReal *gradtheta, const PetscReal **wlocal)
{
  Meanfield     *mf  = (Meanfield *)pot->data;
  const PetscInt dim = pot->dim;
  PetscInt       N, start, nmax;
  PetscBool      ring, masses;
  PetscReal      mass;

  PetscFunctionBeginUser;
  PetscCall(MeanfieldCounts(pot, n, w, &N, &start, &nmax, &masses, &mass));
  PetscCall(WLMPotentialUseRing(pot, N, &ring));
  if (ring) {
    PetscCall(MeanfieldRingPairSum(pot, pass, t, n, x, masses ? w : NULL, mass, lambda, N, start, nmax, Upair, gradtheta));
    for (PetscInt e = 0; F && e < n * dim; e++) F[e] = -mf->ring.g[e];
    for (PetscInt e = 0; gradx && e < n * dim; e++) gradx[e] = -mf->ring.h[e];
    *wlocal = mf->ring.w;
    PetscFunctionReturn(0);
  }

  PetscCall(MeanfieldGather(pot, n, x, w, lambda, N, masses, (PetscBool)(pass == PAIR_PRODUCTS), mass));
  PetscCall(MeanfieldPairSum(pot, pass, t, N, start, n, Upair, gradtheta));
  /* the reductions follow the pass, not the pointers: a rank without particles may pass NULL arrays */
  if (pass == PAIR_FORCES || pass == PAIR_PRODUCTS) {
    PetscCall(MeanfieldReduce(pot, N, start, n, mf->gall));
    for (PetscInt e = 0; F && e < n * dim; e++) F[e] = -mf->share[e];
  }
  if (pass == PAIR_PRODUCTS) {
    PetscCall(MeanfieldReduce(pot, N, start, n, mf->hall));
    for (PetscInt e = 0; gradx && e < n * dim; e++) gradx[e] = -mf->share[e];
  }
  *wlocal = mf->wall + start;
  PetscFunctionReturn(0);
}

static PetscErrorCode SumOverRanks(WLMPotential pot, PetscReal *U)
{
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
  if (size > 1) PetscCall(MPIU_Allreduce(MPI_IN_PLACE, U, 1, MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)pot)));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialEnergy_Meanfield(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U)
{
  Meanfield       *mf = (Meanfield *)pot->data;
  const PetscReal *wlocal = NULL;
  PetscReal        Uext = 0;

  PetscFunctionBeginUser;
  *U = 0;
  PetscCall(MeanfieldPairPart(pot, PAIR_ENERGY, t, n, x, w, NULL, U, NULL, NULL, NULL, &wlocal));
  if (mf->external) PetscCall(WLMExternalPartEvaluate(&mf->part, pot->theta, t, n, x, wlocal, 0.0, &Uext, NULL));
  *U += Uext;
  PetscCall(SumOverRanks(pot, U));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialForces_Meanfield(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U, PetscReal *F)
{
  Meanfield       *mf = (Meanfield *)pot->data;
  const PetscReal *wlocal = NULL;
  PetscReal        Upair = 0, Uext = 0;

  PetscFunctionBeginUser;
  PetscCall(MeanfieldPairPart(pot, PAIR_FORCES, t, n, x, w, NULL, &Upair, F, NULL, NULL, &wlocal));
  if (mf->external) PetscCall(WLMExternalPartEvaluate(&mf->part, pot->theta, t, n, x, wlocal, 0.0, U ? &Uext : NULL, F));
  if (U) {
    *U = Upair + Uext;
    PetscCall(SumOverRanks(pot, U));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialForcesProducts_Meanfield(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, PetscReal *U, PetscReal *F, PetscReal *gradx, PetscReal *gradtheta)
{
  Meanfield       *mf = (Meanfield *)pot->data;
  const PetscReal *wlocal = NULL;
  PetscReal        Upair = 0, Uext = 0;

  PetscFunctionBeginUser;
  PetscCall(MeanfieldPairPart(pot, PAIR_PRODUCTS, t, n, x, w, lambda, &Upair, F, gradx, gradtheta, &wlocal));
  if (mf->external) PetscCall(WLMExternalPartProducts(&mf->part, pot->theta, t, n, x, wlocal, 0.0, lambda, U ? &Uext : NULL, F, gradx, gradtheta));
  if (U) {
    *U = Upair + Uext;
    PetscCall(SumOverRanks(pot, U));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialParameterGradient_Meanfield(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U, PetscReal *gradtheta)
{
  Meanfield       *mf = (Meanfield *)pot->data;
  const PetscReal *wlocal = NULL;
  PetscReal        Upair = 0, Uext = 0;

  PetscFunctionBeginUser;
  PetscCall(MeanfieldPairPart(pot, PAIR_PARAMETERS, t, n, x, w, NULL, &Upair, NULL, NULL, gradtheta, &wlocal));
  if (mf->external) PetscCall(WLMExternalPartParameterGradient(&mf->part, pot->theta, t, n, x, wlocal, 0.0, U ? &Uext : NULL, gradtheta));
  if (U) {
    *U = Upair + Uext;
    PetscCall(SumOverRanks(pot, U));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialProducts_Meanfield(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, PetscReal *gradx, PetscReal *gradtheta)
{
  PetscFunctionBeginUser;
  PetscCall(WLMPotentialForcesProducts_Meanfield(pot, t, n, x, w, lambda, NULL, NULL, gradx, gradtheta));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetFromOptions_Meanfield(WLMPotential pot, PetscOptionItems *PetscOptionsObject)
{
  Meanfield *mf = (Meanfield *)pot->data;
  PetscInt   n  = WLM_MLP_MAX_LAYERS, width[WLM_MLP_MAX_LAYERS];
  PetscBool  set;

  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "Meanfield potential options");
  PetscCall(PetscOptionsBool("-wlm_potential_meanfield_external", "Include the external field V", "WLMPotentialMeanfieldSetExternal", mf->external, &mf->external, NULL));
  PetscCall(WLMExternalPartSetFromOptions(&mf->part, PetscOptionsObject));
  for (PetscInt l = 0; l < mf->pair_nlayers; l++) width[l] = mf->pair_width[l];
  PetscCall(PetscOptionsIntArray("-wlm_potential_meanfield_pair_hidden", "Hidden widths of the pair MLP, e.g. 64,64", "WLMPotentialMeanfieldSetPairHidden", width, &n, &set));
  if (set) PetscCall(WLMPotentialMeanfieldSetPairHidden(pot, n, width));
  PetscCall(PetscOptionsEnum("-wlm_potential_meanfield_pair_activation", "Activation of the pair MLP", "WLMPotentialMeanfieldSetPairActivation", WLMActivations, (PetscEnum)mf->pair_activation, (PetscEnum *)&mf->pair_activation, NULL));
  PetscCall(PetscOptionsEnum("-wlm_potential_meanfield_pair_input", "Input of the pair MLP: distance2 (|x_i - x_j|^2) or difference (x_i - x_j, averaged over both signs)", "WLMPotentialMeanfieldSetPairInput", WLMPairInputs, (PetscEnum)mf->pair_input, (PetscEnum *)&mf->pair_input, NULL));
  PetscCall(PetscOptionsReal("-wlm_potential_meanfield_cutoff", "Cutoff radius of the pair potential in units of x; 0 for none", "WLMPotentialMeanfieldSetCutoff", mf->cutoff, &mf->cutoff, &set));
  if (set) PetscCall(WLMPotentialMeanfieldSetCutoff(pot, mf->cutoff));
  PetscCall(PetscOptionsInt("-wlm_potential_meanfield_batch", "Random-batch size K: each particle interacts with the K - 1 others of its random batch, rescaled to an unbiased estimate (0: all pairs)", "WLMPotentialMeanfieldSetBatch", mf->batch, &mf->batch, &set));
  if (set) PetscCall(WLMPotentialMeanfieldSetBatch(pot, mf->batch));
  PetscOptionsHeadEnd();
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetUp_Meanfield(WLMPotential pot)
{
  Meanfield *mf = (Meanfield *)pot->data;
  PetscInt   nin;

  PetscFunctionBeginUser;
  PetscCall(WLMExternalPartSetUp(&mf->part, pot->dim, pot->time_input));
  nin = (mf->pair_input == WLM_PAIR_INPUT_DISTANCE2 ? 1 : pot->dim) + (pot->time_input ? 1 : 0);
  PetscCall(WLMMLPSetSizes(&mf->pair, nin, mf->pair_nlayers, mf->pair_width, mf->pair_activation));
  pot->nparam = (mf->external ? mf->part.mlp.nparam : 0) + mf->pair.nparam;
  if (pot->max_global > 0) {
    PetscBool ring;

    /* the ring never allocates the population buffers */
    PetscCall(WLMPotentialUseRing(pot, pot->max_global, &ring));
    if (!ring) PetscCall(MeanfieldReserve(pot, pot->max_global));
  }
  if (mf->external && pot->max_local > 0) PetscCall(WLMExternalPartReserve(&mf->part, pot->max_local));
  PetscFunctionReturn(0);
}

/* V from stream 0 and M from stream 1 of the seed, so V starts as in an external model with the same seed. */
static PetscErrorCode WLMPotentialInitialize_Meanfield(WLMPotential pot, uint64_t seed)
{
  Meanfield *mf = (Meanfield *)pot->data;

  PetscFunctionBeginUser;
  if (mf->external) PetscCall(WLMMLPInitialize(&mf->part.mlp, pot->theta, seed, 0));
  PetscCall(WLMMLPInitialize(&mf->pair, pot->theta + (mf->external ? mf->part.mlp.nparam : 0), seed, 1));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialView_Meanfield(WLMPotential pot, PetscViewer viewer)
{
  Meanfield *mf = (Meanfield *)pot->data;

  PetscFunctionBeginUser;
  if (mf->external) PetscCall(WLMDenseViewWidths(viewer, "external field V", mf->part.nlayers, mf->part.width, mf->part.activation));
  else PetscCall(PetscViewerASCIIPrintf(viewer, "no external field\n"));
  PetscCall(WLMDenseViewWidths(viewer, "pair potential W", mf->pair_nlayers, mf->pair_width, mf->pair_activation));
  if (mf->cutoff > 0) PetscCall(PetscViewerASCIIPrintf(viewer, "pair input %s, cutoff radius %g\n", WLMPairInputs[mf->pair_input], (double)mf->cutoff));
  else PetscCall(PetscViewerASCIIPrintf(viewer, "pair input %s, no cutoff\n", WLMPairInputs[mf->pair_input]));
  if (mf->batch > 0) PetscCall(PetscViewerASCIIPrintf(viewer, "random batches of %" PetscInt_FMT " particles\n", mf->batch));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSave_Meanfield(WLMPotential pot, hid_t group)
{
  Meanfield *mf = (Meanfield *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(WLMH5WriteAttributeInt(group, "external", mf->external));
  PetscCall(WLMExternalPartSave(&mf->part, group));
  PetscCall(WLMDenseWriteWidths(group, "pair_hidden", mf->pair_nlayers, mf->pair_width));
  PetscCall(WLMDenseWriteEnum(group, "pair_activation", WLMActivations, mf->pair_activation));
  PetscCall(WLMDenseWriteEnum(group, "pair_input", WLMPairInputs, mf->pair_input));
  PetscCall(WLMH5WriteAttributeReal(group, "cutoff", mf->cutoff));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialLoad_Meanfield(WLMPotential pot, hid_t group)
{
  Meanfield *mf = (Meanfield *)pot->data;
  PetscInt64 external;
  PetscInt   value;

  PetscFunctionBeginUser;
  PetscCall(WLMH5ReadAttributeInt(group, "external", &external));
  mf->external = external ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(WLMExternalPartLoad(&mf->part, group));
  PetscCall(WLMDenseReadWidths(group, "pair_hidden", WLM_MLP_MAX_LAYERS, &mf->pair_nlayers, mf->pair_width));
  PetscCall(WLMDenseReadEnum(group, "pair_activation", WLMActivations, &value));
  mf->pair_activation = (WLMActivation)value;
  PetscCall(WLMDenseReadEnum(group, "pair_input", WLMPairInputs, &value));
  mf->pair_input = (WLMPairInput)value;
  PetscCall(WLMH5ReadAttributeReal(group, "cutoff", &mf->cutoff));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialDestroy_Meanfield(WLMPotential pot)
{
  Meanfield *mf = (Meanfield *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(WLMExternalPartDestroy(&mf->part));
  PetscCall(WLMMLPFreeWorkspace(&mf->pair));
  PetscCall(PetscFree4(mf->pi, mf->pj, mf->r, mf->delta));
  PetscCall(PetscFree7(mf->sigma, mf->sdot, mf->c0, mf->c1, mf->c2, mf->ybar, mf->dybar));
  PetscCall(PetscFree6(mf->xall, mf->lall, mf->wall, mf->gall, mf->hall, mf->share));
  PetscCall(PetscFree4(mf->counts, mf->displs, mf->pcounts, mf->pdispls));
  PetscCall(PetscFree(mf->order));
  PetscCall(MeanfieldRingDestroy(&mf->ring));
  PetscCall(PetscObjectComposeFunction((PetscObject)pot, "WLMPotentialMeanfieldSetBatchSeed_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject)pot, "WLMPotentialSetHidden_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject)pot, "WLMPotentialSetActivation_C", NULL));
  PetscCall(PetscFree(pot->data));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetHidden_Meanfield(WLMPotential pot, PetscInt n, const PetscInt width[])
{
  Meanfield *mf = (Meanfield *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(WLMDenseCheckWidths("WLMPotentialSetHidden()", n, width));
  mf->part.nlayers = n;
  for (PetscInt l = 0; l < n; l++) mf->part.width[l] = width[l];
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetActivation_Meanfield(WLMPotential pot, WLMActivation act)
{
  Meanfield *mf = (Meanfield *)pot->data;

  PetscFunctionBeginUser;
  mf->part.activation = act;
  PetscFunctionReturn(0);
}

/* Gives the setters below the type's context, or an error naming the setter when pot is not a meanfield model. */
static PetscErrorCode MeanfieldGetContext(WLMPotential pot, const char setter[], Meanfield **mf)
{
  PetscBool is;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCall(PetscObjectTypeCompare((PetscObject)pot, WLMPOTENTIALMEANFIELD, &is));
  PetscCheck(is, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_WRONG, "%s() needs a meanfield potential, not %s", setter, ((PetscObject)pot)->type_name ? ((PetscObject)pot)->type_name : "one without a type");
  PetscCheck(!pot->setupcalled, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_WRONGSTATE, "Call %s() before WLMPotentialSetUp()", setter);
  *mf = (Meanfield *)pot->data;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialMeanfieldSetExternal - Includes or leaves out the external field V of a meanfield model.

  Logically Collective

  Options Database Key:
. -wlm_potential_meanfield_external <true> - include V

  Notes:
  Without V the forces are internal only and sum to zero over the population.
@*/
PetscErrorCode WLMPotentialMeanfieldSetExternal(WLMPotential pot, PetscBool flg)
{
  Meanfield *mf = NULL;

  PetscFunctionBeginUser;
  PetscCall(MeanfieldGetContext(pot, "WLMPotentialMeanfieldSetExternal", &mf));
  mf->external = flg;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialMeanfieldSetPairHidden - Sets the hidden widths of the pair MLP M.

  Logically Collective

  Options Database Key:
. -wlm_potential_meanfield_pair_hidden <64,64> - the widths, comma-separated
@*/
PetscErrorCode WLMPotentialMeanfieldSetPairHidden(WLMPotential pot, PetscInt n, const PetscInt widths[])
{
  Meanfield *mf = NULL;

  PetscFunctionBeginUser;
  PetscCall(MeanfieldGetContext(pot, "WLMPotentialMeanfieldSetPairHidden", &mf));
  PetscCall(WLMDenseCheckWidths("pair hidden layers", n, widths));
  mf->pair_nlayers = n;
  for (PetscInt l = 0; l < n; l++) mf->pair_width[l] = widths[l];
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialMeanfieldSetPairActivation - Sets the activation of the pair MLP M.

  Logically Collective

  Options Database Key:
. -wlm_potential_meanfield_pair_activation <silu> - silu, tanh, softplus or gelu
@*/
PetscErrorCode WLMPotentialMeanfieldSetPairActivation(WLMPotential pot, WLMActivation act)
{
  Meanfield *mf = NULL;

  PetscFunctionBeginUser;
  PetscCall(MeanfieldGetContext(pot, "WLMPotentialMeanfieldSetPairActivation", &mf));
  PetscCheck(act >= WLM_ACTIVATION_SILU && act <= WLM_ACTIVATION_GELU, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_OUTOFRANGE, "Activation %d is invalid; use silu, tanh, softplus or gelu", (int)act);
  mf->pair_activation = act;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialMeanfieldSetPairInput - Chooses the input of the pair MLP M.

  Logically Collective

  Options Database Key:
. -wlm_potential_meanfield_pair_input <distance2> - distance2: M(|x_i - x_j|^2); difference: (M(x_i - x_j) + M(x_j - x_i)) / 2

  Notes:
  difference lets W depend on the direction of the separation (anisotropic
  interactions) at twice the cost per pair.
@*/
PetscErrorCode WLMPotentialMeanfieldSetPairInput(WLMPotential pot, WLMPairInput input)
{
  Meanfield *mf = NULL;

  PetscFunctionBeginUser;
  PetscCall(MeanfieldGetContext(pot, "WLMPotentialMeanfieldSetPairInput", &mf));
  PetscCheck(input == WLM_PAIR_INPUT_DISTANCE2 || input == WLM_PAIR_INPUT_DIFFERENCE, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_OUTOFRANGE, "Pair input %d is invalid; use distance2 or difference", (int)input);
  mf->pair_input = input;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialMeanfieldSetCutoff - Sets the cutoff radius R of the pair potential.

  Logically Collective

  Input Parameters:
+ pot    - the model
- cutoff - R in the units of the positions; 0 for no cutoff

  Options Database Key:
. -wlm_potential_meanfield_cutoff <0> - the radius

  Notes:
  W is multiplied by (1 - |r|^2/R^2)^3 inside the radius and is zero outside,
  so forces and the state product are continuous.  Pairs farther apart than
  R are skipped, but finding them still costs O(N^2) distance tests.
@*/
PetscErrorCode WLMPotentialMeanfieldSetCutoff(WLMPotential pot, PetscReal cutoff)
{
  Meanfield *mf = NULL;

  PetscFunctionBeginUser;
  PetscCall(MeanfieldGetContext(pot, "WLMPotentialMeanfieldSetCutoff", &mf));
  PetscCheck(cutoff >= 0, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_OUTOFRANGE, "Cutoff radius %g is invalid; give a positive radius or 0 for none", (double)cutoff);
  mf->cutoff = cutoff;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialMeanfieldSetBatch - Replaces the sum over all pairs by the unbiased random-batch estimate with batches of K particles.

  Logically Collective

  Input Parameters:
+ pot   - the model
- batch - K >= 2, or 0 for all pairs (K >= N also uses all pairs)

  Options Database Key:
. -wlm_potential_meanfield_batch <0> - K

  Notes:
  The batch size is a setting of the computation, not of the model: model
  files do not record it.
@*/
PetscErrorCode WLMPotentialMeanfieldSetBatch(WLMPotential pot, PetscInt batch)
{
  Meanfield *mf = NULL;

  PetscFunctionBeginUser;
  PetscCall(MeanfieldGetContext(pot, "WLMPotentialMeanfieldSetBatch", &mf));
  PetscCheck(batch == 0 || batch >= 2, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_OUTOFRANGE, "Random-batch size %" PetscInt_FMT " is invalid; use at least 2, or 0 for all pairs", batch);
  mf->batch = batch;
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialMeanfieldSetBatchSeed_Meanfield(WLMPotential pot, uint64_t seed)
{
  PetscFunctionBeginUser;
  ((Meanfield *)pot->data)->batch_seed = seed;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialMeanfieldSetBatchSeed - Sets the seed of the random-batch shuffles; does nothing for other potential types.

  Logically Collective: every rank of the potential must pass the same seed

  Input Parameters:
+ pot  - the model, set up or not
- seed - the seed; the shuffle of a call depends on the seed and the time t
@*/
PetscErrorCode WLMPotentialMeanfieldSetBatchSeed(WLMPotential pot, uint64_t seed)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscTryMethod(pot, "WLMPotentialMeanfieldSetBatchSeed_C", (WLMPotential, uint64_t), (pot, seed));
  PetscFunctionReturn(0);
}

/*MC
  WLMPOTENTIALMEANFIELD - "meanfield": U = sum_i w_i V(x_i) + 1/2 sum_{i != j} w_i w_j W(x_i - x_j), V and W multilayer perceptrons, W even.

  Options Database Keys:
+ -wlm_potential_meanfield_external <true>         - include V
. -wlm_potential_hidden <64,64>                    - hidden widths of V
. -wlm_potential_activation <silu>                 - activation of V
. -wlm_potential_meanfield_pair_hidden <64,64>     - hidden widths of the pair MLP
. -wlm_potential_meanfield_pair_activation <silu>  - activation of the pair MLP
. -wlm_potential_meanfield_pair_input <distance2>  - distance2 or difference
. -wlm_potential_meanfield_cutoff <0>              - cutoff radius, 0 for none
- -wlm_potential_meanfield_batch <0>               - random-batch size K, 0 for all pairs

  Notes:
  The cost is O(N^2) pair evaluations of the MLP per call, O(N K) with random batches.  Parameters: those
  of V (when included), then those of the pair MLP, initialized like
  PyTorch's nn.Linear.
M*/
PETSC_EXTERN PetscErrorCode WLMPotentialCreate_Meanfield(WLMPotential pot)
{
  Meanfield *mf = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&mf));
  mf->external          = PETSC_TRUE;
  mf->part.nlayers      = 2;
  mf->part.width[0]     = 64;
  mf->part.width[1]     = 64;
  mf->part.activation   = WLM_ACTIVATION_SILU;
  mf->pair_nlayers      = 2;
  mf->pair_width[0]     = 64;
  mf->pair_width[1]     = 64;
  mf->pair_activation   = WLM_ACTIVATION_SILU;
  mf->pair_input        = WLM_PAIR_INPUT_DISTANCE2;
  mf->cutoff            = 0.0;
  mf->pair_scale        = 1.0;
  pot->data                   = mf;
  pot->ops->setfromoptions    = WLMPotentialSetFromOptions_Meanfield;
  pot->ops->setup             = WLMPotentialSetUp_Meanfield;
  pot->ops->initialize        = WLMPotentialInitialize_Meanfield;
  pot->ops->energy            = WLMPotentialEnergy_Meanfield;
  pot->ops->forces            = WLMPotentialForces_Meanfield;
  pot->ops->products          = WLMPotentialProducts_Meanfield;
  pot->ops->forcesproducts    = WLMPotentialForcesProducts_Meanfield;
  pot->ops->parametergradient = WLMPotentialParameterGradient_Meanfield;
  pot->ops->view              = WLMPotentialView_Meanfield;
  pot->ops->save              = WLMPotentialSave_Meanfield;
  pot->ops->load              = WLMPotentialLoad_Meanfield;
  pot->ops->destroy           = WLMPotentialDestroy_Meanfield;
  PetscCall(PetscObjectComposeFunction((PetscObject)pot, "WLMPotentialMeanfieldSetBatchSeed_C", WLMPotentialMeanfieldSetBatchSeed_Meanfield));
  PetscCall(PetscObjectComposeFunction((PetscObject)pot, "WLMPotentialSetHidden_C", WLMPotentialSetHidden_Meanfield));
  PetscCall(PetscObjectComposeFunction((PetscObject)pot, "WLMPotentialSetActivation_C", WLMPotentialSetActivation_Meanfield));
  PetscFunctionReturn(0);
}
