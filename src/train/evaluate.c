/*
   Evaluation with exact transport distances.

     forecast     one rollout of the whole first training snapshot s_0 to the
                  time of every later snapshot; W1 and W2 at each of them,
                  split into training and test snapshots
     interpolate  for each held-out snapshot h, a rollout from the nearest
                  earlier training snapshot to t_h

   With -wlm_eval_particles E, each distance compares fixed random
   subsamples of E particles of both clouds, drawn from a stream of the
   scored snapshot, so successive evaluations stay comparable.

   The model is evaluated with the current weights (raw) and with the
   bias-corrected moving average (ema).  The same entries are scored for the
   baselines persistence (the start snapshot itself), free streaming
   (x0 + (t - t0) v0 with the start velocities) and, for forecasts, the
   persistence of the last training snapshot.  Every group runs the rollouts,
   which are cheap next to training, each rank with its share of the
   particles, and gathers the predicted clouds; the exact transport problems
   are distributed round-robin over the ranks and summed with one allreduce.
*/
#include <wlm/private/trainimpl.h>
#include <wlm/wlmtransport.h>

/* Entry list of the protocol: the snapshot scored, the snapshot its rollout starts from, and whether it is a test snapshot. */
static PetscErrorCode BuildEntries(WLMTrainer tr)
{
  WLMEvalResults *e = &tr->eval;
  PetscInt        n = 0, s0 = tr->train[0];

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc5(tr->nsnap, &e->raw, tr->nsnap, &e->ema, tr->nsnap, &e->persistence, tr->nsnap, &e->freestream, tr->nsnap, &e->persistence_last));
  if (tr->protocol == WLM_PROTOCOL_FORECAST) {
    for (PetscInt s = s0 + 1; s < tr->nsnap; s++) {
      e->raw[n].snapshot = s;
      e->raw[n].start    = s0;
      e->raw[n].test     = (PetscBool)(s > tr->train[tr->ntrain - 1]);
      n++;
    }
  } else {
    for (PetscInt i = 0; i < tr->ntest; i++) {
      const PetscInt h = tr->test[i];
      PetscInt       start = s0;

      for (PetscInt j = 0; j < tr->ntrain; j++) if (tr->train[j] < h) start = tr->train[j];
      e->raw[n].snapshot = h;
      e->raw[n].start    = start;
      e->raw[n].test     = PETSC_TRUE;
      n++;
    }
  }
  e->n = n;
  for (PetscInt i = 0; i < n; i++) e->ema[i] = e->persistence[i] = e->freestream[i] = e->persistence_last[i] = e->raw[i];
  PetscFunctionReturn(0);
}

/*
  Copies into sub a random subsample of count rows of the cloud rows [n][dim], drawn from the stream (seed, stream).
  The same stream gives the same rows at every evaluation.
*/
static void SubsampleRows(WLMTrainer tr, uint64_t stream, PetscInt n, const PetscReal rows[], PetscInt count, PetscReal sub[])
{
  WLMRandom r;

  WLMRandomSeed(&r, (uint64_t)tr->seed, stream);
  WLMRandomSample(&r, n, count, tr->perm);
  for (PetscInt i = 0; i < count; i++) {
    for (PetscInt k = 0; k < tr->dim; k++) sub[i * tr->dim + k] = rows[tr->perm[i] * tr->dim + k];
  }
}

/* Stream of the evaluation subsamples of snapshot s: far from the streams step B + j of the training draws. */
#define WLM_EVAL_STREAM(s, observed) (0xe000000000000000ULL + 2 * (uint64_t)(s) + ((observed) ? 1 : 0))

/* W1 and W2 between a predicted cloud and the observed snapshot of entry e (uniform masses); with -wlm_eval_particles, between subsamples of both. */
static PetscErrorCode EntryDistances(WLMTrainer tr, WLMEvalEntry *e, PetscInt n, const PetscReal *x)
{
  const PetscInt E = tr->eval_particles;
  WLMSnapshot    obs;
  PetscInt       nx, ny;
  PetscReal     *xs, *ys;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, e->snapshot, &obs));
  if (E <= 0 || (n <= E && obs.N <= E)) {
    PetscCall(WLMTransportWassersteinSeq(1, tr->dim, n, x, NULL, obs.N, obs.x, NULL, &e->w1));
    PetscCall(WLMTransportWassersteinSeq(2, tr->dim, n, x, NULL, obs.N, obs.x, NULL, &e->w2));
    PetscFunctionReturn(0);
  }
  nx = PetscMin(n, E);
  ny = PetscMin(obs.N, E);
  PetscCall(PetscMalloc2(nx * tr->dim, &xs, ny * tr->dim, &ys));
  SubsampleRows(tr, WLM_EVAL_STREAM(e->snapshot, PETSC_FALSE), n, x, nx, xs);
  SubsampleRows(tr, WLM_EVAL_STREAM(e->snapshot, PETSC_TRUE), obs.N, obs.x, ny, ys);
  PetscCall(WLMTransportWassersteinSeq(1, tr->dim, nx, xs, NULL, ny, ys, NULL, &e->w1));
  PetscCall(WLMTransportWassersteinSeq(2, tr->dim, nx, xs, NULL, ny, ys, NULL, &e->w2));
  PetscCall(PetscFree2(xs, ys));
  PetscFunctionReturn(0);
}

/* Sums the distances computed by each rank for its entries (the others hold zeros). */
static PetscErrorCode ReduceEntries(WLMTrainer tr, WLMEvalEntry *entries)
{
  const PetscInt n = tr->eval.n;
  PetscReal     *buf;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(2 * n, &buf));
  for (PetscInt i = 0; i < n; i++) {
    buf[2 * i]     = entries[i].w1;
    buf[2 * i + 1] = entries[i].w2;
  }
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, buf, (PetscMPIInt)(2 * n), MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)tr)));
  for (PetscInt i = 0; i < n; i++) {
    entries[i].w1 = buf[2 * i];
    entries[i].w2 = buf[2 * i + 1];
  }
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(0);
}

/* Whether this rank computes the transport problems of entry i. */
static PetscBool OwnsEntry(WLMTrainer tr, PetscInt i)
{
  PetscMPIInt size, rank;

  MPI_Comm_size(PetscObjectComm((PetscObject)tr), &size);
  MPI_Comm_rank(PetscObjectComm((PetscObject)tr), &rank);
  return (PetscBool)(i % size == rank);
}

/*@
  WLMTrainerComputeBaselines - Builds the evaluation entries and scores persistence and free streaming on them.

  Collective
@*/
PetscErrorCode WLMTrainerComputeBaselines(WLMTrainer tr)
{
  WLMEvalResults *e = &tr->eval;
  WLMSnapshot     start, last;
  PetscReal      *xfree;

  PetscFunctionBeginUser;
  PetscCall(BuildEntries(tr));
  PetscCall(PetscMalloc1(tr->max_count * tr->dim, &xfree));
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, tr->train[tr->ntrain - 1], &last));
  for (PetscInt i = 0; i < e->n; i++) {
    const PetscInt  s  = e->raw[i].start;
    const PetscReal dt = tr->times[e->raw[i].snapshot] - tr->times[s];

    if (!OwnsEntry(tr, i)) continue;
    PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, s, &start));
    PetscCall(EntryDistances(tr, &e->persistence[i], start.N, start.x));
    for (PetscInt k = 0; k < start.N * tr->dim; k++) xfree[k] = start.x[k] + dt * tr->v0[s][k];
    PetscCall(EntryDistances(tr, &e->freestream[i], start.N, xfree));
    if (tr->protocol == WLM_PROTOCOL_FORECAST && e->raw[i].test) PetscCall(EntryDistances(tr, &e->persistence_last[i], last.N, last.x));
  }
  PetscCall(PetscFree(xfree));
  PetscCall(ReduceEntries(tr, e->persistence));
  PetscCall(ReduceEntries(tr, e->freestream));
  PetscCall(ReduceEntries(tr, e->persistence_last));
  PetscFunctionReturn(0);
}

/* Allocates the prediction buffers: one cloud of the start snapshot's size per entry. */
static PetscErrorCode AllocatePredictions(WLMTrainer tr, PetscReal ***pred)
{
  WLMSnapshot start;

  PetscFunctionBeginUser;
  if (*pred) PetscFunctionReturn(0);
  PetscCall(PetscCalloc1(tr->eval.n, pred));
  for (PetscInt i = 0; i < tr->eval.n; i++) {
    PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, tr->eval.raw[i].start, &start));
    PetscCall(PetscMalloc1(start.N * tr->dim, &(*pred)[i]));
  }
  PetscFunctionReturn(0);
}

/*
  Rolls this rank's share of snapshot s out to the nout times and gathers the whole predicted clouds into pred[0..nout-1].
  With one rank per group the rollout writes into pred directly.
*/
static PetscErrorCode RolloutShare(WLMTrainer tr, PetscInt s, PetscInt nout, const PetscReal times[], PetscReal **pred)
{
  const PetscInt dim = tr->dim;
  WLMSnapshot    start;
  PetscInt       lo, hi;
  PetscReal    **local;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, s, &start));
  if (tr->group_size == 1) {
    PetscCall(WLMDynamicsRollout(tr->dyn, start.N, NULL, tr->times[s], start.x, tr->v0[s], nout, times, pred, NULL));
    PetscFunctionReturn(0);
  }
  WLMTrainerShareRange(tr, start.N, &lo, &hi);
  PetscCall(PetscMalloc1(nout, &local));
  for (PetscInt m = 0; m < nout; m++) PetscCall(PetscMalloc1((hi - lo) * dim, &local[m]));
  PetscCall(WLMDynamicsRollout(tr->dyn, hi - lo, NULL, tr->times[s], start.x + lo * dim, tr->v0[s] + lo * dim, nout, times, local, NULL));
  for (PetscInt m = 0; m < nout; m++) {
    PetscCall(WLMTrainerGatherShares(tr, start.N, local[m], pred[m]));
    PetscCall(PetscFree(local[m]));
  }
  PetscCall(PetscFree(local));
  PetscFunctionReturn(0);
}

/* Rolls every entry out with the given parameters; a forecast is one rollout that fills all entries. */
static PetscErrorCode RolloutEntries(WLMTrainer tr, const PetscReal params[], PetscReal ***pred)
{
  WLMEvalResults *e = &tr->eval;

  PetscFunctionBeginUser;
  PetscCall(AllocatePredictions(tr, pred));
  PetscCall(WLMTrainerApplyParameters(tr, params));
  PetscCall(WLMPotentialMeanfieldSetBatchSeed(tr->pot, (uint64_t)tr->seed)); /* the same random batches at every evaluation */
  if (tr->protocol == WLM_PROTOCOL_FORECAST) {
    for (PetscInt i = 0; i < e->n; i++) tr->rollout_times[i] = tr->times[e->raw[i].snapshot];
    PetscCall(RolloutShare(tr, e->raw[0].start, e->n, tr->rollout_times, *pred));
  } else {
    for (PetscInt i = 0; i < e->n; i++) {
      const PetscReal t = tr->times[e->raw[i].snapshot];

      PetscCall(RolloutShare(tr, e->raw[i].start, 1, &t, &(*pred)[i]));
    }
  }
  PetscFunctionReturn(0);
}

/* Scores the predictions of one set of weights into entries. */
static PetscErrorCode ScoreEntries(WLMTrainer tr, PetscReal **pred, WLMEvalEntry *entries)
{
  WLMSnapshot start;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < tr->eval.n; i++) {
    entries[i].w1 = entries[i].w2 = 0;
    if (!OwnsEntry(tr, i)) continue;
    PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, entries[i].start, &start));
    PetscCall(EntryDistances(tr, &entries[i], start.N, pred[i]));
  }
  PetscCall(ReduceEntries(tr, entries));
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerEvaluate - Evaluates the current and the averaged weights, records the results and, at the end, writes predictions.

  Collective

  Input Parameters:
+ tr    - the trainer
- final - write the predicted snapshots and the final model into the output directory
@*/
PetscErrorCode WLMTrainerEvaluate(WLMTrainer tr, PetscBool final)
{
  char path[PETSC_MAX_PATH_LEN + 32];

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMTRAIN_Evaluate, 0, 0, 0, 0));
  PetscCall(WLMTestFailureInject("eval"));
  if (!tr->eval.n) PetscCall(WLMTrainerComputeBaselines(tr));
  PetscCall(WLMAdamWGetAverage(tr->opt, tr->params, tr->avg));

  PetscCall(RolloutEntries(tr, tr->params, &tr->pred_raw));
  PetscCall(ScoreEntries(tr, tr->pred_raw, tr->eval.raw));
  PetscCall(RolloutEntries(tr, tr->avg, &tr->pred_ema));
  PetscCall(ScoreEntries(tr, tr->pred_ema, tr->eval.ema));
  PetscCall(WLMTrainerApplyParameters(tr, tr->params));

  PetscCall(WLMTrainerWriteMetricsLine(tr, PETSC_TRUE));
  if (final) {
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/predictions_raw.h5", tr->output));
    PetscCall(WLMTrainerWritePredictions(tr, path, tr->pred_raw, "raw"));
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s/predictions_ema.h5", tr->output));
    PetscCall(WLMTrainerWritePredictions(tr, path, tr->pred_ema, "ema"));
  }
  PetscCall(PetscLogEventEnd(WLMTRAIN_Evaluate, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
