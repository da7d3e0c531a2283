/*
   Sharded snapshot data in the trainer (-wlm_data_distribution).  With all
   P ranks in one group (R = P, so the runs with 1, 2 and 3 ranks cover
   R = 1, 2 and 3), training and evaluation on sharded data give the same
   parameters, losses and W1 values as on replicated data, bit for bit,
   because the fetched rows are copies.  WLMTrainerFetchRows() is compared
   with a direct copy on data with uneven shares, a snapshot with fewer rows
   than ranks and requests that leave ranks with nothing to send.
*/
#include "wlmtest.h"
#include "traintest.h"
#include <wlm/private/trainimpl.h>

static char data[PETSC_MAX_PATH_LEN], uneven[PETSC_MAX_PATH_LEN];

#define SHARD_OPTIONS "-wlm_protocol forecast -wlm_train_fraction 0.75 -wlm_substeps 2 -wlm_friction 0.2 -wlm_lr 1e-2 -wlm_log_every 0 -wlm_output_overwrite -wlm_batch_rollouts 4 -wlm_batch_particles 17 -wlm_rollout_start any -wlm_steps 3 -wlm_potential_type meanfield -wlm_potential_hidden 8 -wlm_potential_meanfield_pair_hidden 8"

/* 25 particles per snapshot: shares of 13/12 on 2 ranks and 9/8/8 on 3. */
static void WriteData(void)
{
  PetscSNPrintf(data, sizeof(data), "sharddata-np%d.h5", wlm_test_size);
  WLMTestCall(WLMTestWriteHarmonicData(PETSC_COMM_WORLD, data, 25, 6, PETSC_TRUE));
}

/* Writes four snapshots of 25, 2, 7 and 25 particles with velocities from rank 0.  The 2-row snapshot leaves a third rank without rows. */
static PetscErrorCode WriteUnevenData(void)
{
  const PetscInt counts[4] = {25, 2, 7, 25};
  WLMSnapshots   snaps;
  PetscReal     *x, *v;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(uneven, sizeof(uneven), "sharddata-uneven-np%d.h5", wlm_test_size));
  if (wlm_test_rank == 0) {
    PetscCall(WLMSnapshotsCreate(PETSC_COMM_SELF, &snaps));
    PetscCall(WLMSnapshotsSetDimension(snaps, 2));
    PetscCall(PetscMalloc2(50, &x, 50, &v));
    for (PetscInt s = 0; s < 4; s++) {
      /* values that name their snapshot, row and column, so a wrong row cannot match by accident */
      for (PetscInt i = 0; i < counts[s]; i++) {
        for (PetscInt k = 0; k < 2; k++) {
          x[i * 2 + k] = 100 * s + i + 0.25 * k;
          v[i * 2 + k] = -(100 * s + i + 0.5 * k);
        }
      }
      PetscCall(WLMSnapshotsAddSnapshot(snaps, 0.5 * s, counts[s], x, v, NULL, NULL));
    }
    PetscCall(WLMSnapshotsSave(snaps, uneven));
    PetscCall(WLMSnapshotsDestroy(&snaps));
    PetscCall(PetscFree2(x, v));
  }
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscFunctionReturn(0);
}

/* Results of a short training run with evaluation: parameters, last loss and every W1 of the last evaluation. */
typedef struct {
  PetscInt   nparams, nw;
  PetscReal  loss, *params, *w1; /* w1: raw, ema, persistence, freestream, persistence_last of each entry */
  PetscBool  sharded;
  PetscInt   nlocal, nglobal; /* rows of snapshot 0 on this rank and in all */
} RunResult;

static PetscErrorCode TrainAndEvaluate(const char options[], RunResult *res)
{
  PetscOptions db;
  WLMTrainer   tr;
  WLMSnapshot  snap;

  PetscFunctionBeginUser;
  PetscCall(WLMTestTrainerCreate(PETSC_COMM_WORLD, options, &db, &tr));
  PetscCall(WLMTrainerTrain(tr));
  res->nparams = tr->nparams;
  res->nw      = tr->eval.n;
  res->loss    = tr->last_loss;
  res->sharded = tr->sharded;
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, 0, &snap));
  res->nlocal  = snap.n;
  res->nglobal = snap.N;
  PetscCall(PetscMalloc2(res->nparams, &res->params, 5 * res->nw, &res->w1));
  PetscCall(PetscArraycpy(res->params, tr->params, res->nparams));
  for (PetscInt i = 0; i < res->nw; i++) {
    res->w1[5 * i]     = tr->eval.raw[i].w1;
    res->w1[5 * i + 1] = tr->eval.ema[i].w1;
    res->w1[5 * i + 2] = tr->eval.persistence[i].w1;
    res->w1[5 * i + 3] = tr->eval.freestream[i].w1;
    res->w1[5 * i + 4] = tr->eval.persistence_last[i].w1;
  }
  PetscCall(WLMTestTrainerDestroy(&db, &tr));
  PetscFunctionReturn(0);
}

/* Trains with replicated and with sharded data on one group of all ranks and checks that parameters, loss and W1 agree exactly. */
static void CheckSameRun(const char extra[], const char tag[])
{
  char      options[2048];
  RunResult rep, sh;

  PetscSNPrintf(options, sizeof(options), "%s %s -wlm_data %s -wlm_ensemble_ranks %d -wlm_data_distribution replicated -wlm_output sharddata-%s-rep-np%d", SHARD_OPTIONS, extra, data, wlm_test_size, tag, wlm_test_size);
  WLMTestCall(TrainAndEvaluate(options, &rep));
  PetscSNPrintf(options, sizeof(options), "%s %s -wlm_data %s -wlm_ensemble_ranks %d -wlm_data_distribution sharded -wlm_output sharddata-%s-sh-np%d", SHARD_OPTIONS, extra, data, wlm_test_size, tag, wlm_test_size);
  WLMTestCall(TrainAndEvaluate(options, &sh));

  ck_assert_msg(!rep.sharded && sh.sharded, "%s: the distributions did not resolve to replicated and sharded", tag);
  ck_assert_int_eq(rep.nlocal, rep.nglobal);
  /* each rank stores only its share of the 25 rows */
  ck_assert_int_eq(sh.nglobal, 25);
  ck_assert_int_eq(sh.nlocal, 25 / wlm_test_size + (wlm_test_rank < 25 % wlm_test_size ? 1 : 0));
  ck_assert_int_eq(rep.nparams, sh.nparams);
  ck_assert_int_eq(rep.nw, sh.nw);
  ck_assert_int_gt(rep.nw, 0);
  ck_assert_msg(rep.loss == sh.loss, "%s: last loss %.17g with replicated data but %.17g with sharded data", tag, (double)rep.loss, (double)sh.loss);
  for (PetscInt i = 0; i < rep.nparams; i++) ck_assert_msg(rep.params[i] == sh.params[i], "%s: parameter %" PetscInt_FMT " is %.17g with replicated data but %.17g with sharded data", tag, i, (double)rep.params[i], (double)sh.params[i]);
  for (PetscInt i = 0; i < 5 * rep.nw; i++) ck_assert_msg(rep.w1[i] == sh.w1[i], "%s: W1 value %" PetscInt_FMT " is %.17g with replicated data but %.17g with sharded data", tag, i, (double)rep.w1[i], (double)sh.w1[i]);
  PetscFree2(rep.params, rep.w1);
  PetscFree2(sh.params, sh.w1);
}

START_TEST(test_sharded_training_same)
{
  WriteData();
  CheckSameRun("-wlm_velocity data -wlm_loss_blur 0.5", "plain");
}
END_TEST

/* The default blur (estimated from a sample of the sharded snapshots), a loss subsample and zero start velocities. */
START_TEST(test_sharded_blur_subsample_same)
{
  WriteData();
  CheckSameRun("-wlm_velocity zero -wlm_loss_particles 7", "blur");
}
END_TEST

/* Evaluation on fixed subsamples of 9 particles: the scoring rank fetches rows from every rank of its group. */
START_TEST(test_sharded_eval_subsample_same)
{
  WriteData();
  CheckSameRun("-wlm_velocity data -wlm_loss_blur 0.5 -wlm_eval_particles 9", "eval9");
}
END_TEST

/* The interpolate protocol starts evaluation rollouts from several training snapshots. */
START_TEST(test_sharded_interpolate_same)
{
  WriteData();
  CheckSameRun("-wlm_velocity data -wlm_loss_blur 0.5 -wlm_protocol interpolate -wlm_holdout 2,4", "interp");
}
END_TEST

/* Sets a trainer up with the options, in a private options database. */
static PetscErrorCode SetUpTrainer(const char options[], PetscOptions *db, WLMTrainer *tr)
{
  PetscFunctionBeginUser;
  PetscCall(WLMTestTrainerCreate(PETSC_COMM_WORLD, options, db, tr));
  PetscCall(WLMTrainerSetUp(*tr));
  PetscFunctionReturn(0);
}

/* Fetches the rows idx from the sharded trainer and compares them with the replicated trainer's arrays. */
static void CheckFetch(WLMTrainer sh, WLMTrainer rep, PetscInt s, PetscInt count, const PetscInt idx[], const char what[])
{
  const PetscInt dim = rep->dim;
  WLMSnapshot    snap;
  PetscReal     *x, *xs, *vs;

  WLMTestCall(WLMSnapshotsGetSnapshot(rep->snaps, s, &snap));
  PetscMalloc3(count * dim + 1, &x, count * dim + 1, &xs, count * dim + 1, &vs);
  WLMTestCall(WLMTrainerFetchRows(sh, s, count, idx, x));
  for (PetscInt i = 0; i < count; i++) {
    for (PetscInt k = 0; k < dim; k++) ck_assert_msg(x[i * dim + k] == snap.x[idx[i] * dim + k], "%s: snapshot %" PetscInt_FMT " row %" PetscInt_FMT " column %" PetscInt_FMT " fetched as %g, not %g", what, s, idx[i], k, (double)x[i * dim + k], (double)snap.x[idx[i] * dim + k]);
  }
  if (rep->v0[s]) {
    WLMTestCall(WLMTrainerFetchStartRows(sh, s, count, idx, xs, vs));
    for (PetscInt i = 0; i < count * dim; i++) ck_assert_double_eq(xs[i], x[i]);
    for (PetscInt i = 0; i < count; i++) {
      for (PetscInt k = 0; k < dim; k++) ck_assert_msg(vs[i * dim + k] == rep->v0[s][idx[i] * dim + k], "%s: start velocity of snapshot %" PetscInt_FMT " row %" PetscInt_FMT " fetched as %g, not %g", what, s, idx[i], (double)vs[i * dim + k], (double)rep->v0[s][idx[i] * dim + k]);
    }
  }
  PetscFree3(x, xs, vs);
}

/* Fetches all rows reversed, random rows with repeats and rows of the first block only, from every snapshot, in rounds of at most round_rows rows (0: the default). */
static void CheckAllFetches(WLMTrainer sh, WLMTrainer rep, PetscInt round_rows)
{
  const PetscInt counts[4] = {25, 2, 7, 25};
  PetscInt       idx[64], n;
  WLMRandom      r;

  sh->fetch_round_rows = round_rows;
  for (PetscInt s = 0; s < 4; s++) {
    WLMSnapshot snap;

    WLMTestCall(WLMSnapshotsGetSnapshot(sh->snaps, s, &snap));
    ck_assert_int_eq(snap.N, counts[s]);

    /* every row in reverse order on every rank */
    for (PetscInt i = 0; i < counts[s]; i++) idx[i] = counts[s] - 1 - i;
    CheckFetch(sh, rep, s, counts[s], idx, "all rows reversed");

    /* random rows with repeats, a different request on each rank */
    WLMRandomSeed(&r, 11, (uint64_t)(s * 16 + wlm_test_rank));
    n = 3 + wlm_test_rank * 5;
    for (PetscInt i = 0; i < n; i++) idx[i] = WLMRandomInteger(&r, counts[s]);
    CheckFetch(sh, rep, s, n, idx, "random rows");

    /* only rows of rank 0's block, requested by the last rank alone: the other ranks send and receive nothing or only serve */
    n = wlm_test_rank == wlm_test_size - 1 ? PetscMin(counts[s], 2) : 0;
    for (PetscInt i = 0; i < n; i++) idx[i] = i;
    CheckFetch(sh, rep, s, n, idx, "rows of the first block");
  }
}

START_TEST(test_fetch_rows)
{
  char         options[2048];
  PetscOptions dbr, dbs;
  WLMTrainer   rep, sh;
  PetscInt     idx[1];
  PetscReal    x[2];

  WLMTestCall(WriteUnevenData());
  PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_velocity data -wlm_loss_blur 0.5 -wlm_train_fraction 0.75 -wlm_ensemble_ranks %d -wlm_data_distribution replicated", uneven, wlm_test_size);
  WLMTestCall(SetUpTrainer(options, &dbr, &rep));
  /* the replicated trainer's database stays pushed; the sharded one's sits on top of it and is popped first */
  PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_velocity data -wlm_loss_blur 0.5 -wlm_train_fraction 0.75 -wlm_ensemble_ranks %d -wlm_data_distribution sharded", uneven, wlm_test_size);
  WLMTestCall(SetUpTrainer(options, &dbs, &sh));
  ck_assert(sh->sharded);

  /* the default rounds move every request at once; rounds of 3 rows split them, with ranks running empty rounds */
  for (PetscInt round = 0; round < 2; round++) CheckAllFetches(sh, rep, round ? 3 : 0);

  /* a row past the snapshot's end is rejected before any exchange, here on every rank */
  idx[0] = 25;
  WLMTestExpectError(WLMTrainerFetchRows(sh, 0, 1, idx, x), PETSC_ERR_ARG_OUTOFRANGE, "Row 25 requested of a snapshot with 25 rows");
  WLMTestCall(WLMTestTrainerDestroy(&dbs, &sh));
  WLMTestCall(WLMTestTrainerDestroy(&dbr, &rep));
}
END_TEST

START_TEST(test_distribution_errors)
{
  char options[2048];

  WriteData();
  PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_data_distribution shared", data);
  WLMTestExpectError(WLMTestTrainerSetUpError(PETSC_COMM_WORLD, options), PETSC_ERR_ARG_WRONG, "-wlm_data_distribution shared is invalid; use auto");
  if (wlm_test_size > 1) {
    /* the ot estimator needs whole snapshots; auto shards them over a group of all ranks */
    PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_velocity ot -wlm_ensemble_ranks %d", data, wlm_test_size);
    WLMTestExpectError(WLMTestTrainerSetUpError(PETSC_COMM_WORLD, options), PETSC_ERR_SUP, "-wlm_velocity ot needs whole snapshots on every rank");
    /* replicated data keeps ot available with R > 1 */
    PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_velocity ot -wlm_ensemble_ranks %d -wlm_data_distribution replicated -wlm_velocity_ot_blur 0.5", data, wlm_test_size);
    WLMTestCall(WLMTestTrainerSetUpError(PETSC_COMM_WORLD, options));
  }
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("train_sharddata");
  TCase *tc = tcase_create("sharddata");

  tcase_add_test(tc, test_sharded_training_same);
  tcase_add_test(tc, test_sharded_blur_subsample_same);
  tcase_add_test(tc, test_sharded_eval_subsample_same);
  tcase_add_test(tc, test_sharded_interpolate_same);
  tcase_add_test(tc, test_fetch_rows);
  tcase_add_test(tc, test_distribution_errors);
  suite_add_tcase(s, tc);
  return s;
}
