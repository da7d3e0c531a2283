/*
   Blur estimate: half the median distance between the particles of a
   sample, clamped from below.

     blur = max(0.5 median_{i<j} |x_i - x_j|,  1e-3 D),

   over a sample of at most nsample particles, with D the diagonal of the
   sample's bounding box.  The floor keeps the blur positive when more than
   half of the sampled pairs coincide.  It also bounds the number of Sinkhorn
   annealing steps, which grows like log(D / blur) / log(1 / scaling): about
   66 steps for a blur of 1e-3 D and scaling 0.9.  The median is never above
   D, so no ceiling is needed.

   The sample is drawn by selection sampling over the global particle
   indices from one random stream, so it is the same for every split of the
   cloud over the ranks.
*/
#include <wlm/private/lossimpl.h>
#include <wlm/wlmsys.h>

/* Default sample size of WLMLossEstimateBlur(). */
#define WLM_BLUR_DEFAULT_SAMPLE 1000

/* The k-th smallest of v[0..n-1] (k from 0); reorders v so that v[i] <= v[k] <= v[j] for i < k < j. */
static PetscReal SelectKth(PetscReal v[], PetscInt n, PetscInt k)
{
  PetscInt lo = 0, hi = n - 1;

  while (lo < hi) {
    const PetscInt mid = lo + (hi - lo) / 2;
    PetscReal      pivot, t;
    PetscInt       i = lo, j = hi;

    /* median of three as pivot, to avoid the quadratic case on sorted input */
    if (v[mid] < v[lo]) { t = v[mid]; v[mid] = v[lo]; v[lo] = t; }
    if (v[hi] < v[lo]) { t = v[hi]; v[hi] = v[lo]; v[lo] = t; }
    if (v[hi] < v[mid]) { t = v[hi]; v[hi] = v[mid]; v[mid] = t; }
    pivot = v[mid];
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) {
        t    = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        j--;
      }
    }
    /* now v[lo..j] <= pivot <= v[i..hi] and the entries between equal the pivot */
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return v[k];
  }
  return v[k];
}

/* Median of v[0..n-1], n >= 1; the mean of the two middle entries when n is even.  Reorders v. */
static PetscReal Median(PetscReal v[], PetscInt n)
{
  const PetscInt k     = (n - 1) / 2;
  PetscReal      lower = SelectKth(v, n, k), upper;

  if (n % 2) return lower;
  upper = v[k + 1];
  for (PetscInt i = k + 2; i < n; i++) upper = PetscMin(upper, v[i]);
  return 0.5 * (lower + upper);
}

/*
   Blur of a sample of S particles, row-major [S][dim]; dist is a workspace of
   S (S - 1) / 2 reals.  Errors are raised on comm, because every rank has the same sample.
*/
static PetscErrorCode BlurOfSample(MPI_Comm comm, PetscInt dim, PetscInt S, const PetscReal sample[], PetscReal dist[], PetscReal *blur)
{
  PetscInt  count = 0;
  PetscReal diag2 = 0, median;

  PetscFunctionBeginUser;
  PetscCheck(S >= 2, comm, PETSC_ERR_ARG_SIZ, "The blur estimate needs at least 2 particles, not %" PetscInt_FMT "; set the blur with WLMLossSetBlur() or -wlm_loss_blur", S);
  for (PetscInt k = 0; k < dim; k++) {
    PetscReal lo = sample[k], hi = lo;

    for (PetscInt i = 0; i < S; i++) {
      lo = PetscMin(lo, sample[i * dim + k]);
      hi = PetscMax(hi, sample[i * dim + k]);
    }
    diag2 += (hi - lo) * (hi - lo);
  }
  PetscCheck(!PetscIsInfOrNanReal(diag2), comm, PETSC_ERR_ARG_OUTOFRANGE, "The particles of the blur estimate have positions that are not finite");
  PetscCheck(diag2 > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "All %" PetscInt_FMT " sampled particles are at the same position, so no blur can be estimated; set the blur with WLMLossSetBlur() or -wlm_loss_blur", S);
  for (PetscInt i = 0; i < S; i++) {
    for (PetscInt j = i + 1; j < S; j++) {
      PetscReal d2 = 0;

      for (PetscInt k = 0; k < dim; k++) d2 += (sample[i * dim + k] - sample[j * dim + k]) * (sample[i * dim + k] - sample[j * dim + k]);
      dist[count++] = PetscSqrtReal(d2);
    }
  }
  median = Median(dist, count);
  *blur  = PetscMax(0.5 * median, 1e-3 * PetscSqrtReal(diag2));
  PetscCall(PetscLogFlops((3.0 * dim + 1.0) * count));
  PetscFunctionReturn(0);
}

/* Sample size for a cloud of N particles when nsample particles are asked for (nsample <= 0: the default). */
static PetscInt SampleSize(PetscInt N, PetscInt nsample)
{
  return PetscMin(N, nsample > 0 ? nsample : WLM_BLUR_DEFAULT_SAMPLE);
}

/* Next index of a selection sample of S out of N, given how many were selected among the first t; returns N when done. */
static PetscInt NextSelected(WLMRandom *r, PetscInt N, PetscInt S, PetscInt *t, PetscInt *selected)
{
  while (*t < N && *selected < S) {
    const PetscInt candidate = (*t)++;

    /* keep candidate with probability (S - selected) / (N - candidate) */
    if ((PetscReal)(N - candidate) * WLMRandomUniform(r) < (PetscReal)(S - *selected)) {
      (*selected)++;
      return candidate;
    }
  }
  return N;
}

/*
  WLMLossBlurFromSample - Blur estimate of a cloud of M particles held transposed on every rank, [dim][M], as used when the loss has no blur set.

  Collective; every rank computes the same value from the same data.
*/
PetscErrorCode WLMLossBlurFromSample(WLMLoss loss, PetscInt M, PetscInt nsample, const PetscReal yt[], PetscReal *blur)
{
  const PetscInt dim = loss->dim, S = SampleSize(M, nsample);
  const PetscInt need = S * dim + S * (S - 1) / 2;
  PetscInt       t = 0, selected = 0;
  WLMRandom      r;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMLOSS_EstimateBlur, loss, 0, 0, 0));
  if (need > loss->capblur) {
    PetscCall(PetscFree(loss->blurwork));
    PetscCall(PetscMalloc1(need, &loss->blurwork));
    loss->capblur = need;
  }
  WLMRandomSeed(&r, 0, 0);
  for (PetscInt s = 0; s < S; s++) {
    const PetscInt j = NextSelected(&r, M, S, &t, &selected);

    for (PetscInt k = 0; k < dim; k++) loss->blurwork[s * dim + k] = yt[k * M + j];
  }
  PetscCall(BlurOfSample(PetscObjectComm((PetscObject)loss), dim, S, loss->blurwork, loss->blurwork + S * dim, blur));
  PetscCall(PetscLogEventEnd(WLMLOSS_EstimateBlur, loss, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@
  WLMLossEstimateBlur - Estimates a blur for a cloud: half the median distance between sampled particles, clamped from below.

  Collective

  Input Parameters:
+ comm    - ranks that share the cloud
. dim     - spatial dimension
. n       - particles on this rank
. x       - their positions [n][dim]
. nsample - largest sample size (the sample has min(N, nsample) particles); 0 or PETSC_DEFAULT for 1000
- seed    - seed of the sample

  Output Parameter:
. blur - max(0.5 median distance, 1e-3 D), D the diagonal of the sample's bounding box; the same on every rank

  Notes:
  The sample is the same for every split of the particles over the ranks, so
  the estimate depends only on the cloud, nsample and seed.  The cost is
  about nsample^2 / 2 distances.  Errors are raised when the cloud has fewer
  than 2 particles or all sampled particles coincide.

.seealso: WLMLossSetBlur()
@*/
PetscErrorCode WLMLossEstimateBlur(MPI_Comm comm, PetscInt dim, PetscInt n, const PetscReal x[], PetscInt nsample, uint64_t seed, PetscReal *blur)
{
  PetscInt     N = n, start = 0, S, t = 0, selected = 0, nlocal = 0;
  PetscMPIInt  size, rank, mycount;
  PetscMPIInt *counts, *displs;
  PetscReal   *mine, *sample, *dist;
  WLMRandom    r;

  PetscFunctionBeginUser;
  PetscCheck(dim >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "Dimension %" PetscInt_FMT " is invalid; particles need at least 1 coordinate", dim);
  PetscCheck(n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Particle count %" PetscInt_FMT " is negative", n);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (size > 1) {
    PetscCall(MPIU_Allreduce(&n, &N, 1, MPIU_INT, MPI_SUM, comm));
    PetscCallMPI(MPI_Exscan(&n, &start, 1, MPIU_INT, MPI_SUM, comm));
    if (rank == 0) start = 0;
  }
  S = SampleSize(N, nsample);

  /* every rank walks the same selection sample and keeps the particles it owns */
  PetscCall(PetscMalloc5(S * dim, &mine, S * dim, &sample, PetscMax(S * (S - 1) / 2, 1), &dist, size, &counts, size, &displs));
  WLMRandomSeed(&r, seed, 0);
  for (PetscInt s = 0; s < S; s++) {
    const PetscInt i = NextSelected(&r, N, S, &t, &selected);

    if (i >= start && i < start + n) {
      for (PetscInt k = 0; k < dim; k++) mine[nlocal * dim + k] = x[(i - start) * dim + k];
      nlocal++;
    }
  }
  PetscCall(PetscMPIIntCast(nlocal * dim, &mycount));
  if (size > 1) {
    PetscCallMPI(MPI_Allgather(&mycount, 1, MPI_INT, counts, 1, MPI_INT, comm));
    displs[0] = 0;
    for (PetscMPIInt q = 1; q < size; q++) displs[q] = displs[q - 1] + counts[q - 1];
    PetscCallMPI(MPI_Allgatherv(mine, mycount, MPIU_REAL, sample, counts, displs, MPIU_REAL, comm));
  } else PetscCall(PetscArraycpy(sample, mine, nlocal * dim));
  PetscCall(BlurOfSample(comm, dim, S, sample, dist, blur));
  PetscCall(PetscFree5(mine, sample, dist, counts, displs));
  PetscFunctionReturn(0);
}
