/*
   Run outputs in the directory -wlm_output:

     options.txt          every option in effect (one per line, reusable with -options_file)
     run.json             version, git revision, rank count, data file, start time
     metrics.jsonl        one JSON object per logged step or evaluation
     model.h5             final potential (raw and averaged weights) and friction
     predictions_raw.h5, predictions_ema.h5
                          predicted snapshots of the final evaluation, in the snapshot format
     checkpoint.h5        written by checkpoint.c

   Rank 0 writes every file but the predictions, which the ranks of its group
   write in parallel from their shares of the predicted clouds; files other
   programs may be reading are written under a temporary name and renamed.
*/
#include <wlm/private/trainimpl.h>
#include <wlm/private/h5util.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* mkdir -p on rank 0; returns errno (0 on success). */
static int MakeDirectories(const char path[])
{
  char   buf[PETSC_MAX_PATH_LEN];
  size_t len = strlen(path);

  if (len == 0 || len >= sizeof(buf)) return ENAMETOOLONG;
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char saved = buf[i];

      buf[i] = '\0';
      if (mkdir(buf, 0775) != 0 && errno != EEXIST) return errno;
      buf[i] = saved;
    }
  }
  return access(path, W_OK) == 0 ? 0 : errno;
}

/* Writes options.txt and run.json on rank 0. */
static PetscErrorCode WriteRunDescription(WLMTrainer tr)
{
  char        path[PETSC_MAX_PATH_LEN + 32], *all, stamp[64];
  const char *version, *revision;
  FILE       *fp;
  PetscMPIInt size;
  time_t      now = time(NULL);

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)tr), &size));
  PetscCall(WLMGetVersion(&version, &revision));
  PetscCall(PetscOptionsGetAll(NULL, &all));
  for (char *c = all; *c; c++) if (*c == ' ' && c[1] == '-') *c = '\n';
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/options.txt", tr->output));
  PetscCall(PetscFOpen(PETSC_COMM_SELF, path, "w", &fp));
  PetscCall(PetscFPrintf(PETSC_COMM_SELF, fp, "%s\n", all));
  PetscCall(PetscFClose(PETSC_COMM_SELF, fp));
  PetscCall(PetscFree(all));

  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/run.json", tr->output));
  PetscCall(PetscFOpen(PETSC_COMM_SELF, path, "w", &fp));
  PetscCall(PetscFPrintf(PETSC_COMM_SELF, fp, "{\"program\": \"wlm\", \"version\": \"%s\", \"git_revision\": \"%s\", \"ranks\": %d, \"data\": \"%s\", \"protocol\": \"%s\", \"started\": \"%s\", \"restart\": %s}\n", version, revision, size, tr->data_file, WLMProtocols[tr->protocol], stamp, tr->restart[0] ? "true" : "false"));
  PetscCall(PetscFClose(PETSC_COMM_SELF, fp));
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerOpenOutput - Creates the output directory, refuses to overwrite a previous run, and opens metrics.jsonl.

  Collective

  Notes:
  A directory that already holds metrics.jsonl belongs to a run; it is reused
  only with -wlm_restart (appending) or -wlm_output_overwrite.
@*/
PetscErrorCode WLMTrainerOpenOutput(WLMTrainer tr)
{
  MPI_Comm    comm = PetscObjectComm((PetscObject)tr);
  PetscMPIInt rank;
  int         status[2] = {0, 0}; /* errno of the directory, whether a previous run is there */
  char        path[PETSC_MAX_PATH_LEN + 32];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/metrics.jsonl", tr->output));
  if (rank == 0) {
    status[0] = MakeDirectories(tr->output);
    status[1] = access(path, F_OK) == 0;
  }
  PetscCallMPI(MPI_Bcast(status, 2, MPI_INT, 0, comm));
  PetscCheck(!status[0], comm, PETSC_ERR_FILE_OPEN, "Cannot use output directory \"%s\": %s; choose another -wlm_output", tr->output, strerror(status[0]));
  PetscCheck(!status[1] || tr->restart[0] || tr->overwrite, comm, PETSC_ERR_FILE_OPEN, "Output directory \"%s\" already holds a run; pass -wlm_restart to continue it, -wlm_output_overwrite to replace it, or choose another -wlm_output", tr->output);
  PetscCall(WLMTrainerCheckOutputSpace(tr));
  if (rank == 0) {
    PetscCall(WriteRunDescription(tr));
    tr->metrics = fopen(path, tr->restart[0] ? "a" : "w");
    PetscCheck(tr->metrics, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "Cannot open \"%s\" for writing: %s", path, strerror(errno));
  }
  PetscFunctionReturn(0);
}

/* Prints a real number as JSON (non-finite values become null). */
static void JsonReal(FILE *fp, PetscReal v)
{
  if (PetscIsInfOrNanReal(v)) fprintf(fp, "null");
  else fprintf(fp, "%.10g", (double)v);
}

/* Writes {"w1": {"<snapshot>": ...}, "w2": {...}, "w1_test": mean, "w1_train": mean} for one set of entries. */
static void JsonEntries(FILE *fp, const WLMEvalResults *e, const WLMEvalEntry *entries, PetscBool test_only)
{
  PetscReal sum[2] = {0, 0};
  PetscInt  count[2] = {0, 0};

  for (int which = 0; which < 2; which++) {
    PetscBool first = PETSC_TRUE;

    fprintf(fp, "%s\"w%d\": {", which ? ", " : "", which + 1);
    for (PetscInt i = 0; i < e->n; i++) {
      if (test_only && !entries[i].test) continue;
      fprintf(fp, "%s\"%" PetscInt_FMT "\": ", first ? "" : ", ", entries[i].snapshot);
      JsonReal(fp, which ? entries[i].w2 : entries[i].w1);
      first = PETSC_FALSE;
    }
    fprintf(fp, "}");
  }
  for (PetscInt i = 0; i < e->n; i++) {
    if (test_only && !entries[i].test) continue;
    sum[entries[i].test] += entries[i].w1;
    count[entries[i].test]++;
  }
  for (int test = 1; test >= 0; test--) {
    fprintf(fp, ", \"w1_%s\": ", test ? "test" : "train");
    if (count[test]) JsonReal(fp, sum[test] / count[test]);
    else fprintf(fp, "null");
  }
}

/*@
  WLMTrainerWriteMetricsLine - Appends one JSON object to metrics.jsonl: a training record or an evaluation.

  Not Collective: only rank 0 writes; the others return at once.
@*/
PetscErrorCode WLMTrainerWriteMetricsLine(WLMTrainer tr, PetscBool eval)
{
  FILE          *fp = tr->metrics;
  WLMEvalResults *e = &tr->eval;
  PetscReal      gamma, gamma_avg;

  PetscFunctionBeginUser;
  if (!fp) PetscFunctionReturn(0);
  PetscCall(WLMTrainerGetFriction(tr, &gamma));
  gamma_avg = tr->learn_friction ? PetscExpReal(tr->avg[tr->ntheta]) : tr->friction0;
  fprintf(fp, "{\"step\": %" PetscInt_FMT ", \"kind\": \"%s\", \"elapsed\": ", tr->step, eval ? "eval" : "train");
  JsonReal(fp, tr->train_seconds);
  if (!eval) {
    fprintf(fp, ", \"loss\": ");
    JsonReal(fp, tr->last_loss);
    fprintf(fp, ", \"grad_norm\": ");
    JsonReal(fp, tr->last_gnorm);
    fprintf(fp, ", \"friction\": ");
    JsonReal(fp, gamma);
    fprintf(fp, ", \"lr\": ");
    JsonReal(fp, tr->lr * WLMAdamWLearningRateFactor(tr->opt, PetscMax(tr->step - 1, 0)));
    fprintf(fp, ", \"sec_per_step\": ");
    JsonReal(fp, tr->step_seconds);
  } else {
    fprintf(fp, ", \"friction\": ");
    JsonReal(fp, gamma);
    fprintf(fp, ", \"friction_ema\": ");
    JsonReal(fp, gamma_avg);
    fprintf(fp, ", \"raw\": {");
    JsonEntries(fp, e, e->raw, PETSC_FALSE);
    fprintf(fp, "}, \"ema\": {");
    JsonEntries(fp, e, e->ema, PETSC_FALSE);
    fprintf(fp, "}, \"persistence\": {");
    JsonEntries(fp, e, e->persistence, PETSC_FALSE);
    fprintf(fp, "}, \"freestream\": {");
    JsonEntries(fp, e, e->freestream, PETSC_FALSE);
    fprintf(fp, "}");
    if (tr->protocol == WLM_PROTOCOL_FORECAST) {
      fprintf(fp, ", \"persistence_last\": {");
      JsonEntries(fp, e, e->persistence_last, PETSC_TRUE);
      fprintf(fp, "}");
    }
  }
  fprintf(fp, "}\n");
  fflush(fp);
  PetscFunctionReturn(0);
}

/* Formats a duration as 1h02m, 3m20s or 12.3s. */
static void FormatDuration(PetscReal seconds, char buf[], size_t len)
{
  long s = (long)seconds;

  if (seconds >= 3600) snprintf(buf, len, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  else if (seconds >= 60) snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
  else snprintf(buf, len, "%.1fs", (double)seconds);
}

/*@
  WLMTrainerLogProgress - Prints one progress line on rank 0: step, loss, friction, rate, time per step and remaining time.

  Collective
@*/
PetscErrorCode WLMTrainerLogProgress(WLMTrainer tr, PetscReal mean_step_seconds)
{
  PetscReal gamma;
  char      eta[32], elapsed[32];

  PetscFunctionBeginUser;
  PetscCall(WLMTrainerGetFriction(tr, &gamma));
  FormatDuration(mean_step_seconds * (tr->steps - tr->step), eta, sizeof(eta));
  FormatDuration(tr->train_seconds, elapsed, sizeof(elapsed));
  PetscCall(PetscPrintf(PetscObjectComm((PetscObject)tr), "step %6" PetscInt_FMT "/%" PetscInt_FMT "  loss %.4e  friction %.4g  lr %.2e  |grad| %.2e  %.3f s/step  elapsed %s  ETA %s\n", tr->step, tr->steps, (double)tr->last_loss, (double)gamma, (double)(tr->lr * WLMAdamWLearningRateFactor(tr->opt, tr->step - 1)), (double)tr->last_gnorm, (double)mean_step_seconds, elapsed, eta));
  PetscFunctionReturn(0);
}

/* Mean W1 over the test (or training) entries. */
static PetscReal MeanW1(const WLMEvalResults *e, const WLMEvalEntry *entries, PetscBool test)
{
  PetscReal sum = 0;
  PetscInt  n = 0;

  for (PetscInt i = 0; i < e->n; i++) {
    if (entries[i].test != test) continue;
    sum += entries[i].w1;
    n++;
  }
  return n ? sum / n : 0;
}

/*@
  WLMTrainerPrintSummary - Prints the table of the last evaluation: W1 per snapshot for the model and the baselines.

  Collective
@*/
PetscErrorCode WLMTrainerPrintSummary(WLMTrainer tr)
{
  MPI_Comm              comm = PetscObjectComm((PetscObject)tr);
  const WLMEvalResults *e    = &tr->eval;
  PetscReal             gamma;

  PetscFunctionBeginUser;
  if (!e->n) PetscFunctionReturn(0);
  PetscCall(WLMTrainerGetFriction(tr, &gamma));
  PetscCall(PetscPrintf(comm, "\nSummary after %" PetscInt_FMT " steps (%s protocol, friction %.4g): exact W1 per snapshot\n", tr->step, WLMProtocols[tr->protocol], (double)gamma));
  PetscCall(PetscPrintf(comm, "%8s %8s %6s %5s %10s %10s %12s %11s%s\n", "snapshot", "time", "start", "test", "model raw", "model ema", "persistence", "freestream", tr->protocol == WLM_PROTOCOL_FORECAST ? "  last-train" : ""));
  for (PetscInt i = 0; i < e->n; i++) {
    PetscCall(PetscPrintf(comm, "%8" PetscInt_FMT " %8.3g %6" PetscInt_FMT " %5s %10.4f %10.4f %12.4f %11.4f", e->raw[i].snapshot, (double)tr->times[e->raw[i].snapshot], e->raw[i].start, e->raw[i].test ? "yes" : "no", (double)e->raw[i].w1, (double)e->ema[i].w1, (double)e->persistence[i].w1, (double)e->freestream[i].w1));
    if (tr->protocol == WLM_PROTOCOL_FORECAST && e->raw[i].test) PetscCall(PetscPrintf(comm, " %12.4f", (double)e->persistence_last[i].w1));
    PetscCall(PetscPrintf(comm, "\n"));
  }
  PetscCall(PetscPrintf(comm, "%8s %8s %6s %5s %10.4f %10.4f %12.4f %11.4f\n", "mean", "", "", "test", (double)MeanW1(e, e->raw, PETSC_TRUE), (double)MeanW1(e, e->ema, PETSC_TRUE), (double)MeanW1(e, e->persistence, PETSC_TRUE), (double)MeanW1(e, e->freestream, PETSC_TRUE)));
  PetscFunctionReturn(0);
}

/* Writes one potential group with the given parameters; the trainer's parameters are restored by the caller. */
static PetscErrorCode SaveModelGroup(WLMTrainer tr, hid_t file, const char name[], const PetscReal params[])
{
  hid_t group;

  PetscFunctionBeginUser;
  PetscCall(WLMTrainerApplyParameters(tr, params));
  WLMCallHDF5Return(group, name, H5Gcreate2, (file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  PetscCall(WLMPotentialSave(tr->pot, group));
  PetscCall(WLMH5WriteAttributeReal(group, "friction", tr->learn_friction ? PetscExpReal(params[tr->ntheta]) : tr->friction0));
  WLMCallHDF5(name, H5Gclose, (group));
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerSaveModel - Writes the final model: groups /model (raw weights) and /model_ema (averaged weights), each with its friction.

  Collective (rank 0 writes)
@*/
PetscErrorCode WLMTrainerSaveModel(WLMTrainer tr, const char path[])
{
  PetscMPIInt rank;
  char        tmp[PETSC_MAX_PATH_LEN + 32];
  hid_t       file;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(PetscObjectComm((PetscObject)tr), &rank));
  PetscCall(WLMFileTemporaryName(path, tmp, sizeof(tmp)));
  if (rank == 0) {
    WLMCallHDF5Return(file, tmp, H5Fcreate, (tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    PetscCall(WLMH5WriteAttributeString(file, "format", "wlm-model"));
    PetscCall(WLMH5WriteAttributeInt(file, "step", tr->step));
    PetscCall(WLMH5WriteAttributeString(file, "data", tr->data_file));
    PetscCall(WLMAdamWGetAverage(tr->opt, tr->params, tr->avg));
    PetscCall(SaveModelGroup(tr, file, "model", tr->params));
    PetscCall(SaveModelGroup(tr, file, "model_ema", tr->avg));
    PetscCall(WLMTrainerApplyParameters(tr, tr->params));
    WLMCallHDF5(tmp, H5Fclose, (file));
  }
  PetscCall(WLMFileCommit(PetscObjectComm((PetscObject)tr), tmp, path));
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerWritePredictions - Writes the predicted snapshots of the last evaluation in the snapshot format.

  Collective (the ranks of the group of rank 0 write)

  Input Parameters:
+ tr    - the trainer
. path  - the file to write
. pred  - this rank's share of each predicted cloud [eval.n][(hi - lo)*dim], [lo, hi) from WLMTrainerShareRange() for the start snapshot's size
- label - the weights used, "raw" or "ema"

  Notes:
  Every group holds the same predictions, so the group of rank 0 alone
  writes them: each of its ranks writes its shares in one parallel
  WLMSnapshotsSave(), which goes through a temporary file, and no rank
  assembles a whole cloud.  The rows of a cloud follow the group split in
  rank order, so the file does not depend on the group size.
  Besides the snapshot datasets, the file records the weights used ("raw" or
  "ema"), the protocol, and for each predicted snapshot the index of the
  observed snapshot it predicts and of the snapshot its rollout started from.
@*/
PetscErrorCode WLMTrainerWritePredictions(WLMTrainer tr, const char path[], PetscReal **pred, const char label[])
{
  WLMSnapshots out;
  WLMSnapshot  start;
  PetscInt     lo, hi;
  char         list[2][4096];
  size_t       len[2] = {0, 0};

  PetscFunctionBeginUser;
  if (tr->group == 0) {
    PetscCall(WLMSnapshotsCreate(tr->group_comm, &out));
    PetscCall(WLMSnapshotsSetDistribution(out, WLM_SNAPSHOTS_SHARDED));
    PetscCall(WLMSnapshotsSetDimension(out, tr->dim));
    list[0][0] = list[1][0] = '\0';
    for (PetscInt i = 0; i < tr->eval.n; i++) {
      PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, tr->eval.raw[i].start, &start));
      WLMTrainerShareRange(tr, start.N, &lo, &hi);
      PetscCall(WLMSnapshotsAddSnapshot(out, tr->times[tr->eval.raw[i].snapshot], hi - lo, pred[i], NULL, NULL, NULL));
      len[0] += (size_t)snprintf(list[0] + len[0], len[0] < sizeof(list[0]) ? sizeof(list[0]) - len[0] : 0, "%s%" PetscInt_FMT, i ? "," : "", tr->eval.raw[i].snapshot);
      len[1] += (size_t)snprintf(list[1] + len[1], len[1] < sizeof(list[1]) ? sizeof(list[1]) - len[1] : 0, "%s%" PetscInt_FMT, i ? "," : "", tr->eval.raw[i].start);
    }
    PetscCall(WLMSnapshotsSetAttribute(out, "prediction_weights", label));
    PetscCall(WLMSnapshotsSetAttribute(out, "prediction_protocol", WLMProtocols[tr->protocol]));
    PetscCall(WLMSnapshotsSetAttribute(out, "predicted_snapshots", list[0]));
    PetscCall(WLMSnapshotsSetAttribute(out, "rollout_starts", list[1]));
    PetscCall(WLMSnapshotsSetAttribute(out, "source", tr->data_file));
    PetscCall(WLMSnapshotsSave(out, path));
    PetscCall(WLMSnapshotsDestroy(&out));
  }
  PetscCallMPI(MPI_Barrier(PetscObjectComm((PetscObject)tr)));
  PetscFunctionReturn(0);
}
