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
   which are cheap next to training, each rank with its share [lo, hi) of the
   particles (the split of WLMTrainerShareRange()), and keeps only its share
   of each predicted cloud ((hi - lo) d reals per entry, one buffer set for
   both weight sets, freed after the evaluation).  The exact transport
   problems are distributed round-robin over the ranks and summed with one
   allreduce.  The rank that scores an entry fetches the predicted rows it
   compares from the shares of its group with WLMTrainerFetchShareRows(), and
   the observed rows (all, or the subsample) with WLMTrainerFetchRows();
   every rank of its group joins both fetches, so sharded predictions and
   data give the same distances as whole ones.  The predictions file is
   written in parallel from the shares of the group of rank 0
   (WLMTrainerWritePredictions()).  The rollouts store nothing for an adjoint
   (WLMDynamicsRolloutForward()), so a forecast over many snapshots does not
   grow the trajectory storage that training rollouts reuse.

   NOTE: without -wlm_eval_particles the scoring rank fetches whole predicted
   and observed clouds, 2 N d reals, and the exact transport problem on them
   costs more still; large populations need -wlm_eval_particles.  While it
   writes the predictions file, each rank of the group of rank 0 holds a
   second copy of its shares (WLMSnapshotsAddSnapshot() copies).
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

/* Stream of the evaluation subsamples of snapshot s: far from the streams step B + j of the training draws. */
#define WLM_EVAL_STREAM(s, observed) (0xe000000000000000ULL + 2 * (uint64_t)(s) + ((observed) ? 1 : 0))

/*
  Rows that the distances of scored snapshot s compare, of a cloud of n rows (the observed one, or
  the predicted or baseline one) against a cloud of nother rows: all rows in order, or with
  -wlm_eval_particles E the fixed random subsample of min(n, E) rows drawn from the stream
  (seed, s, observed), the same at every evaluation.  idx needs room for n indices.
*/
static PetscInt EntryRows(WLMTrainer tr, PetscInt s, PetscBool observed, PetscInt n, PetscInt nother, PetscInt idx[])
{
  const PetscInt E = tr->eval_particles;
  WLMRandom      r;

  if (E <= 0 || (n <= E && nother <= E)) {
    for (PetscInt i = 0; i < n; i++) idx[i] = i;
    return n;
  }
  WLMRandomSeed(&r, (uint64_t)tr->seed, WLM_EVAL_STREAM(s, observed));
  WLMRandomSample(&r, n, PetscMin(n, E), idx);
  return PetscMin(n, E);
}

/* W1 and W2 of entry e between the rows x [nx][dim] and the observed rows y [ny][dim] (uniform masses). */
static PetscErrorCode EntryDistances(WLMTrainer tr, WLMEvalEntry *e, PetscInt nx, const PetscReal x[], PetscInt ny, const PetscReal y[])
{
  PetscFunctionBeginUser;
  PetscCall(WLMTransportWassersteinSeq(1, tr->dim, nx, x, NULL, ny, y, NULL, &e->w1));
  PetscCall(WLMTransportWassersteinSeq(2, tr->dim, nx, x, NULL, ny, y, NULL, &e->w2));
  PetscFunctionReturn(0);
}

/*
  Fetches into *y the observed rows that entry e compares with a cloud of n rows.  *ny is their count on the
  scoring rank (mine) and 0 elsewhere.  Collective over the group.  idx needs room for N rows of the snapshot.
*/
static PetscErrorCode FetchObserved(WLMTrainer tr, const WLMEvalEntry *e, PetscBool mine, PetscInt n, PetscInt idx[], PetscInt *ny, PetscReal **y)
{
  WLMSnapshot obs;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, e->snapshot, &obs));
  *ny = mine ? EntryRows(tr, e->snapshot, PETSC_TRUE, obs.N, n, idx) : 0;
  PetscCall(PetscMalloc1(*ny * tr->dim, y));
  PetscCall(WLMTrainerFetchRows(tr, e->snapshot, *ny, idx, *y));
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

/* Whether this rank computes the transport problems of entry i (*mine) and whether its group takes part in fetching their rows (*group). */
static void OwnsEntry(WLMTrainer tr, PetscInt i, PetscBool *mine, PetscBool *group)
{
  PetscMPIInt size, rank;

  MPI_Comm_size(PetscObjectComm((PetscObject)tr), &size);
  MPI_Comm_rank(PetscObjectComm((PetscObject)tr), &rank);
  *mine  = (PetscBool)(i % size == rank);
  *group = (PetscBool)((i % size) / tr->group_size == tr->group);
}

/*
  Scores persistence, free streaming and, for a forecast's test entry, the persistence of the last training
  snapshot on entry i.  Collective over the group of the scoring rank.  idx and iobs need room for max_count rows.
*/
static PetscErrorCode ScoreBaselines(WLMTrainer tr, PetscInt i, PetscBool mine, PetscInt idx[], PetscInt iobs[])
{
  WLMEvalResults *e    = &tr->eval;
  const PetscInt  s    = e->raw[i].start, last = tr->train[tr->ntrain - 1], dim = tr->dim;
  const PetscReal dt   = tr->times[e->raw[i].snapshot] - tr->times[s];
  WLMSnapshot     start, lastsnap, obs;
  PetscInt        nx = 0, ny;
  PetscReal      *x, *v, *y;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, s, &start));
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, e->raw[i].snapshot, &obs));
  PetscCall(FetchObserved(tr, &e->raw[i], mine, start.N, iobs, &ny, &y));
  if (mine) nx = EntryRows(tr, e->raw[i].snapshot, PETSC_FALSE, start.N, obs.N, idx);
  PetscCall(PetscMalloc2(nx * dim, &x, nx * dim, &v));
  PetscCall(WLMTrainerFetchStartRows(tr, s, nx, idx, x, v));
  if (mine) {
    PetscCall(EntryDistances(tr, &e->persistence[i], nx, x, ny, y));
    for (PetscInt k = 0; k < nx * dim; k++) x[k] += dt * v[k];
    PetscCall(EntryDistances(tr, &e->freestream[i], nx, x, ny, y));
  }
  PetscCall(PetscFree2(x, v));
  PetscCall(PetscFree(y));
  if (tr->protocol != WLM_PROTOCOL_FORECAST || !e->raw[i].test) PetscFunctionReturn(0);

  /* the observed subsample depends on the other cloud's size, so it is fetched again for the last training snapshot */
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, last, &lastsnap));
  PetscCall(FetchObserved(tr, &e->raw[i], mine, lastsnap.N, iobs, &ny, &y));
  nx = mine ? EntryRows(tr, e->raw[i].snapshot, PETSC_FALSE, lastsnap.N, obs.N, idx) : 0;
  PetscCall(PetscMalloc1(nx * dim, &x));
  PetscCall(WLMTrainerFetchRows(tr, last, nx, idx, x));
  if (mine) PetscCall(EntryDistances(tr, &e->persistence_last[i], nx, x, ny, y));
  PetscCall(PetscFree(x));
  PetscCall(PetscFree(y));
  PetscFunctionReturn(0);
}

/*
  Largest cloud that an evaluation compares whole by default.  The network
  simplex took 3.7 s for one W1 at N = 5000 (docs/benchmarks.md) and its
  cost grows faster than N^2, so whole clouds of this size already cost
  minutes per distance.
*/
#define WLM_EVAL_WHOLE_MAX 50000

/*
  WLMTrainerCheckEvaluationSize - Rejects evaluations of whole clouds too large for the exact solver.

  Collective

  Notes:
  Call it before WLMTrainerOpenOutput(), so that a rejected run leaves the output directory untouched.
*/
PetscErrorCode WLMTrainerCheckEvaluationSize(WLMTrainer tr)
{
  PetscFunctionBeginUser;
  PetscCheck(tr->eval_particles > 0 || tr->max_count <= WLM_EVAL_WHOLE_MAX, PetscObjectComm((PetscObject)tr), PETSC_ERR_ARG_OUTOFRANGE,
             "Snapshots have up to %" PetscInt_FMT " particles and -wlm_eval_particles is 0, so every evaluation would solve exact transport problems on whole clouds, hours each; pass -wlm_eval_particles 5000 (a fixed subsample), or -wlm_eval_particles %" PetscInt_FMT " to compare whole clouds anyway",
             tr->max_count, tr->max_count);
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerComputeBaselines - Builds the evaluation entries and scores persistence and free streaming on them.

  Collective
@*/
PetscErrorCode WLMTrainerComputeBaselines(WLMTrainer tr)
{
  WLMEvalResults *e = &tr->eval;
  PetscInt       *idx, *iobs;
  PetscBool       mine, group;

  PetscFunctionBeginUser;
  PetscCall(BuildEntries(tr));
  PetscCall(PetscMalloc2(tr->max_count, &idx, tr->max_count, &iobs));
  for (PetscInt i = 0; i < e->n; i++) {
    OwnsEntry(tr, i, &mine, &group);
    if (group) PetscCall(ScoreBaselines(tr, i, mine, idx, iobs));
  }
  PetscCall(PetscFree2(idx, iobs));
  PetscCall(ReduceEntries(tr, e->persistence));
  PetscCall(ReduceEntries(tr, e->freestream));
  PetscCall(ReduceEntries(tr, e->persistence_last));
  PetscFunctionReturn(0);
}

/* Allocates the prediction buffers: this rank's share of a cloud of the start snapshot's size per entry. */
static PetscErrorCode AllocatePredictions(WLMTrainer tr, PetscReal ***pred)
{
  WLMSnapshot start;
  PetscInt    lo, hi;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(tr->eval.n, pred));
  for (PetscInt i = 0; i < tr->eval.n; i++) {
    PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, tr->eval.raw[i].start, &start));
    WLMTrainerShareRange(tr, start.N, &lo, &hi);
    PetscCall(PetscMalloc1((hi - lo) * tr->dim, &(*pred)[i]));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode FreePredictions(WLMTrainer tr, PetscReal ***pred)
{
  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < tr->eval.n; i++) PetscCall(PetscFree((*pred)[i]));
  PetscCall(PetscFree(*pred));
  PetscFunctionReturn(0);
}

/* Rolls this rank's share of snapshot s out to the nout times, into its shares pred[0..nout-1] of the predicted clouds.  The rollout stores nothing for an adjoint. */
static PetscErrorCode RolloutShare(WLMTrainer tr, PetscInt s, PetscInt nout, const PetscReal times[], PetscReal **pred)
{
  WLMSnapshot      start;
  PetscInt         lo, hi;
  const PetscReal *x, *v;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, s, &start));
  PetscCall(WLMTrainerGetShareRows(tr, s, &x, &v));
  WLMTrainerShareRange(tr, start.N, &lo, &hi);
  PetscCall(WLMDynamicsRolloutForward(tr->dyn, hi - lo, NULL, tr->times[s], x, v, nout, times, pred, NULL));
  PetscFunctionReturn(0);
}

/* Rolls every entry out with the given parameters; a forecast is one rollout that fills all entries. */
static PetscErrorCode RolloutEntries(WLMTrainer tr, const PetscReal params[], PetscReal **pred)
{
  WLMEvalResults *e = &tr->eval;

  PetscFunctionBeginUser;
  PetscCall(WLMTrainerApplyParameters(tr, params));
  PetscCall(WLMPotentialMeanfieldSetBatchSeed(tr->pot, (uint64_t)tr->seed)); /* the same random batches at every evaluation */
  if (tr->protocol == WLM_PROTOCOL_FORECAST) {
    for (PetscInt i = 0; i < e->n; i++) tr->rollout_times[i] = tr->times[e->raw[i].snapshot];
    PetscCall(RolloutShare(tr, e->raw[0].start, e->n, tr->rollout_times, pred));
  } else {
    for (PetscInt i = 0; i < e->n; i++) {
      const PetscReal t = tr->times[e->raw[i].snapshot];

      PetscCall(RolloutShare(tr, e->raw[i].start, 1, &t, &pred[i]));
    }
  }
  PetscFunctionReturn(0);
}

/* Scores the predictions of one set of weights, held in shares over each group, into entries.  Collective. */
static PetscErrorCode ScoreEntries(WLMTrainer tr, PetscReal **pred, WLMEvalEntry *entries)
{
  const PetscInt dim = tr->dim;
  WLMSnapshot    start, obs;
  PetscInt      *idx, *iobs, nx, ny;
  PetscReal     *x, *y;
  PetscBool      mine, group;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(tr->max_count, &idx, tr->max_count, &iobs));
  for (PetscInt i = 0; i < tr->eval.n; i++) {
    entries[i].w1 = entries[i].w2 = 0;
    OwnsEntry(tr, i, &mine, &group);
    if (!group) continue;
    PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, entries[i].start, &start));
    PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, entries[i].snapshot, &obs));
    PetscCall(FetchObserved(tr, &entries[i], mine, start.N, iobs, &ny, &y));
    nx = mine ? EntryRows(tr, entries[i].snapshot, PETSC_FALSE, start.N, obs.N, idx) : 0;
    PetscCall(PetscMalloc1(nx * dim, &x));
    PetscCall(WLMTrainerFetchShareRows(tr, start.N, pred[i], nx, idx, x));
    if (mine) PetscCall(EntryDistances(tr, &entries[i], nx, x, ny, y));
    PetscCall(PetscFree(x));
    PetscCall(PetscFree(y));
  }
  PetscCall(PetscFree2(idx, iobs));
  PetscCall(ReduceEntries(tr, entries));
  PetscFunctionReturn(0);
}

/* Rolls out and scores one set of weights into entries, and at the end writes its predictions file. */
static PetscErrorCode EvaluateWeights(WLMTrainer tr, const PetscReal params[], PetscReal **pred, WLMEvalEntry *entries, PetscBool final, const char label[])
{
  char path[PETSC_MAX_PATH_LEN + 32];

  PetscFunctionBeginUser;
  PetscCall(RolloutEntries(tr, params, pred));
  PetscCall(ScoreEntries(tr, pred, entries));
  if (!final) PetscFunctionReturn(0);
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/predictions_%s.h5", tr->output, label));
  PetscCall(WLMTrainerWritePredictions(tr, path, pred, label));
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerEvaluate - Evaluates the current and the averaged weights, records the results and, at the end, writes predictions.

  Collective

  Input Parameters:
+ tr    - the trainer
- final - write the predicted snapshots and the final model into the output directory

  Notes:
  The predictions of both weight sets share one set of buffers, this rank's
  shares of the clouds, which lives only during the evaluation.
@*/
PetscErrorCode WLMTrainerEvaluate(WLMTrainer tr, PetscBool final)
{
  PetscReal **pred;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMTRAIN_Evaluate, 0, 0, 0, 0));
  PetscCall(WLMTestFailureInject("eval"));
  if (!tr->eval.n) PetscCall(WLMTrainerComputeBaselines(tr));
  PetscCall(WLMAdamWGetAverage(tr->opt, tr->params, tr->avg));

  PetscCall(AllocatePredictions(tr, &pred));
  PetscCall(EvaluateWeights(tr, tr->params, pred, tr->eval.raw, final, "raw"));
  PetscCall(EvaluateWeights(tr, tr->avg, pred, tr->eval.ema, final, "ema"));
  PetscCall(FreePredictions(tr, &pred));
  PetscCall(WLMTrainerApplyParameters(tr, tr->params));

  PetscCall(WLMTrainerWriteMetricsLine(tr, PETSC_TRUE));
  PetscCall(PetscLogEventEnd(WLMTRAIN_Evaluate, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
