/*
   Two-level decomposition of the trainer (-wlm_ensemble_ranks R): one step
   with all P ranks in one group (R = P) gives the same loss and gradient as
   the data-parallel trainer (R = 1) to summation order, for every potential
   type and loss type; run with 1, 2 and 3 ranks this covers R = 1, 2 and 3.
   The group's loss and potential run with gathered clouds and partners, and
   with both ring exchanges.
   Shares are uneven (17 particles per rollout), and the evaluation, which
   scores predictions held in shares, gives the same W1.  The predictions
   file, written from the shares of one group, holds the same bytes for
   R = 1 and R = P.
*/
#include "wlmtest.h"
#include "traintest.h"
#include <wlm/private/trainimpl.h>

static char data[PETSC_MAX_PATH_LEN];

#define ENSEMBLE_OPTIONS "-wlm_protocol forecast -wlm_train_fraction 0.75 -wlm_substeps 2 -wlm_friction 0.2 -wlm_lr 1e-2 -wlm_log_every 0 -wlm_output_overwrite -wlm_batch_rollouts 6 -wlm_batch_particles 17 -wlm_rollout_start any -wlm_velocity data -wlm_loss_blur 0.5"

static void WriteData(void)
{
  PetscSNPrintf(data, sizeof(data), "ensemble-data-np%d.h5", wlm_test_size);
  WLMTestCall(WLMTestWriteHarmonicData(PETSC_COMM_WORLD, data, 24, 6, PETSC_TRUE));
}

/* Loss and averaged gradient of one step, copied out of a trainer built with the given options. */
static PetscErrorCode OneStep(const char options[], PetscReal *loss, PetscInt *n, PetscReal **grad)
{
  PetscOptions db;
  WLMTrainer   tr;

  PetscFunctionBeginUser;
  PetscCall(WLMTestTrainerCreate(PETSC_COMM_WORLD, options, &db, &tr));
  PetscCall(WLMTrainerSetUp(tr));
  PetscCall(WLMTrainerStep(tr));
  *loss = tr->last_loss;
  *n    = tr->nparams;
  PetscCall(PetscMalloc1(*n, grad));
  PetscCall(PetscArraycpy(*grad, tr->grad, *n));
  PetscCall(WLMTestTrainerDestroy(&db, &tr));
  PetscFunctionReturn(0);
}

/* Largest entry difference relative to the largest entry of a. */
static PetscReal RelativeDifference(PetscInt n, const PetscReal a[], const PetscReal b[])
{
  PetscReal diff = 0, scale = 0;

  for (PetscInt i = 0; i < n; i++) {
    diff  = PetscMax(diff, PetscAbsReal(a[i] - b[i]));
    scale = PetscMax(scale, PetscAbsReal(a[i]));
  }
  return diff / scale;
}

START_TEST(test_group_equals_data_parallel)
{
  const char *potentials[] = {
    "-wlm_potential_type external -wlm_potential_hidden 8,8",
    "-wlm_potential_type meanfield -wlm_potential_hidden 8 -wlm_potential_meanfield_pair_hidden 8",
    "-wlm_potential_type attention -wlm_potential_attention_hidden 8 -wlm_potential_attention_heads 2 -wlm_potential_attention_layers 1 -wlm_potential_attention_ffn 8",
    "-wlm_potential_type harmonic",
  };
  const char *losses[] = {"sinkhorn", "mmd_gaussian", "energy"};
  char        options[2048];

  WriteData();
  for (size_t p = 0; p < sizeof(potentials) / sizeof(potentials[0]); p++) {
    for (size_t l = 0; l < sizeof(losses) / sizeof(losses[0]); l++) {
      PetscReal loss1, lossR, lossRing, *g1, *gR, *gRing;
      PetscInt  n1, nR, nRing;

      PetscSNPrintf(options, sizeof(options), "%s %s -wlm_loss_type %s -wlm_data %s -wlm_ensemble_ranks 1", ENSEMBLE_OPTIONS, potentials[p], losses[l], data);
      WLMTestCall(OneStep(options, &loss1, &n1, &g1));
      PetscSNPrintf(options, sizeof(options), "%s %s -wlm_loss_type %s -wlm_data %s -wlm_ensemble_ranks %d", ENSEMBLE_OPTIONS, potentials[p], losses[l], data, wlm_test_size);
      WLMTestCall(OneStep(options, &lossR, &nR, &gR));
      ck_assert_int_eq(n1, nR);
      ck_assert_msg(PetscAbsReal(loss1 - lossR) <= 1e-10 * PetscAbsReal(loss1), "%s with %s: loss %.17g with R = 1 but %.17g with R = %d", potentials[p], losses[l], (double)loss1, (double)lossR, wlm_test_size);
      ck_assert_msg(RelativeDifference(n1, g1, gR) < 1e-9, "%s with %s: gradients differ by %g relative with R = %d", potentials[p], losses[l], (double)RelativeDifference(n1, g1, gR), wlm_test_size);

      /* the same group with the ring exchanges of the loss and of the potential in place of gathered clouds and partners */
      PetscSNPrintf(options, sizeof(options), "%s %s -wlm_loss_type %s -wlm_data %s -wlm_ensemble_ranks %d -wlm_loss_exchange ring -wlm_potential_exchange ring", ENSEMBLE_OPTIONS, potentials[p], losses[l], data, wlm_test_size);
      WLMTestCall(OneStep(options, &lossRing, &nRing, &gRing));
      ck_assert_int_eq(n1, nRing);
      ck_assert_msg(PetscAbsReal(loss1 - lossRing) <= 1e-10 * PetscAbsReal(loss1), "%s with %s: loss %.17g with R = 1 but %.17g with R = %d and the ring", potentials[p], losses[l], (double)loss1, (double)lossRing, wlm_test_size);
      ck_assert_msg(RelativeDifference(n1, g1, gRing) < 1e-9, "%s with %s: gradients differ by %g relative with R = %d and the ring", potentials[p], losses[l], (double)RelativeDifference(n1, g1, gRing), wlm_test_size);
      PetscFree(g1);
      PetscFree(gR);
      PetscFree(gRing);
    }
  }
}
END_TEST

/* A loss on 7 of the 17 particles of each rollout selects the same particles for every R. */
START_TEST(test_group_loss_subsample)
{
  char      options[2048];
  PetscReal loss1, lossR, lossAll, *g1, *gR, *gAll;
  PetscInt  n1, nR, nAll;

  WriteData();
  PetscSNPrintf(options, sizeof(options), "%s -wlm_potential_type meanfield -wlm_potential_hidden 8 -wlm_potential_meanfield_pair_hidden 8 -wlm_data %s -wlm_ensemble_ranks 1 -wlm_loss_particles 7", ENSEMBLE_OPTIONS, data);
  WLMTestCall(OneStep(options, &loss1, &n1, &g1));
  PetscSNPrintf(options, sizeof(options), "%s -wlm_potential_type meanfield -wlm_potential_hidden 8 -wlm_potential_meanfield_pair_hidden 8 -wlm_data %s -wlm_ensemble_ranks %d -wlm_loss_particles 7", ENSEMBLE_OPTIONS, data, wlm_test_size);
  WLMTestCall(OneStep(options, &lossR, &nR, &gR));
  PetscSNPrintf(options, sizeof(options), "%s -wlm_potential_type meanfield -wlm_potential_hidden 8 -wlm_potential_meanfield_pair_hidden 8 -wlm_data %s -wlm_ensemble_ranks 1", ENSEMBLE_OPTIONS, data);
  WLMTestCall(OneStep(options, &lossAll, &nAll, &gAll));
  ck_assert_int_eq(n1, nR);
  ck_assert_msg(PetscAbsReal(loss1 - lossR) <= 1e-10 * PetscAbsReal(loss1), "subsampled loss %.17g with R = 1 but %.17g with R = %d", (double)loss1, (double)lossR, wlm_test_size);
  ck_assert_double_lt(RelativeDifference(n1, g1, gR), 1e-9);
  /* the subsample changes the loss: a check that the option takes effect */
  ck_assert_double_gt(PetscAbsReal(loss1 - lossAll), 1e-6 * PetscAbsReal(lossAll));
  PetscFree(g1);
  PetscFree(gR);
  PetscFree(gAll);
}
END_TEST

/* Loss of rollout (step, j) at the parameters p; the gradient buffer is restored. */
static PetscErrorCode LossAt(WLMTrainer tr, const PetscReal p[], PetscInt step, PetscInt j, PetscReal *loss)
{
  PetscReal *saved;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(tr->nparams, &saved));
  PetscCall(PetscArraycpy(saved, tr->grad, tr->nparams));
  PetscCall(WLMTrainerApplyParameters(tr, p));
  PetscCall(WLMTrainerRolloutLoss(tr, step, j, loss));
  PetscCall(PetscArraycpy(tr->grad, saved, tr->nparams));
  PetscCall(PetscFree(saved));
  PetscFunctionReturn(0);
}

/*
   The gradient of one rollout sharded over all ranks, summed over the ranks,
   against central differences of its loss along a random direction.  The
   rollout combines the parts that the sharded path adds: random batches of
   the meanfield potential (the same batches in the forward pass and the
   adjoint), the loss on a subsample and the ring exchange.
*/
START_TEST(test_group_gradient_differences)
{
  char         options[2048];
  PetscOptions db;
  WLMTrainer   tr;
  WLMRandom    r;
  PetscReal   *p, *e, *q, loss, lp, lm, g, norm = 0, err = 0;
  PetscInt     n;

  WriteData();
  PetscSNPrintf(options, sizeof(options), "%s -wlm_potential_type meanfield -wlm_potential_hidden 8 -wlm_potential_meanfield_pair_hidden 8 -wlm_potential_meanfield_batch 4 -wlm_loss_type mmd_gaussian -wlm_loss_particles 11 -wlm_loss_exchange ring -wlm_data %s -wlm_ensemble_ranks %d -wlm_output ensemble-fd-np%d", ENSEMBLE_OPTIONS, data, wlm_test_size, wlm_test_size);
  WLMTestCall(WLMTestTrainerCreate(PETSC_COMM_WORLD, options, &db, &tr));
  WLMTestCall(WLMTrainerSetUp(tr));
  n = tr->nparams;
  PetscMalloc3(n, &p, n, &e, n, &q);
  WLMTestCall(PetscArraycpy(p, tr->params, n));
  WLMRandomSeed(&r, 3, 5);
  for (PetscInt i = 0; i < n; i++) {
    e[i] = WLMRandomNormal(&r);
    norm += e[i] * e[i];
  }
  for (PetscInt i = 0; i < n; i++) e[i] /= PetscSqrtReal(norm);

  for (PetscInt j = 0; j < 3; j++) {
    const PetscReal h = 1e-4;

    g = 0;
    WLMTestCall(PetscArrayzero(tr->grad, n));
    WLMTestCall(WLMTrainerApplyParameters(tr, p));
    WLMTestCall(WLMTrainerRolloutLoss(tr, 2, j, &loss));
    for (PetscInt i = 0; i < n; i++) g += tr->grad[i] * e[i];
    /* each rank has its share of the gradient */
    MPI_Allreduce(MPI_IN_PLACE, &g, 1, MPIU_REAL, MPI_SUM, PETSC_COMM_WORLD);
    for (PetscInt i = 0; i < n; i++) q[i] = p[i] + h * e[i];
    WLMTestCall(LossAt(tr, q, 2, j, &lp));
    for (PetscInt i = 0; i < n; i++) q[i] = p[i] - h * e[i];
    WLMTestCall(LossAt(tr, q, 2, j, &lm));
    err = PetscMax(err, PetscAbsReal((lp - lm) / (2 * h) - g) / PetscMax(PetscAbsReal(g), 1e-12));
  }
  ck_assert_msg(err < 1e-5, "the sharded rollout gradient differs from central differences by %g relative", (double)err);
  PetscFree3(p, e, q);
  WLMTestCall(WLMTestTrainerDestroy(&db, &tr));
}
END_TEST

/* Trains two steps with evaluation and returns the W1 of every evaluated snapshot and the parameters. */
static PetscErrorCode TrainAndEvaluate(const char options[], PetscInt *nw, PetscReal **w1, PetscInt *np, PetscReal **params)
{
  PetscOptions db;
  WLMTrainer   tr;

  PetscFunctionBeginUser;
  PetscCall(WLMTestTrainerCreate(PETSC_COMM_WORLD, options, &db, &tr));
  PetscCall(WLMTrainerTrain(tr));
  *nw = tr->eval.n;
  *np = tr->nparams;
  PetscCall(PetscMalloc2(*nw, w1, *np, params));
  for (PetscInt i = 0; i < *nw; i++) (*w1)[i] = tr->eval.raw[i].w1;
  PetscCall(PetscArraycpy(*params, tr->params, *np));
  PetscCall(WLMTestTrainerDestroy(&db, &tr));
  PetscFunctionReturn(0);
}

START_TEST(test_group_evaluation)
{
  char      options[2048];
  PetscInt  nw1, nwR, np1, npR;
  PetscReal *w1, *wR, *p1, *pR, *wAll, *pAll;

  WriteData();
  PetscSNPrintf(options, sizeof(options), "%s -wlm_potential_type meanfield -wlm_potential_hidden 8 -wlm_potential_meanfield_pair_hidden 8 -wlm_data %s -wlm_steps 2 -wlm_ensemble_ranks 1 -wlm_output ensemble-r1-np%d", ENSEMBLE_OPTIONS, data, wlm_test_size);
  WLMTestCall(TrainAndEvaluate(options, &nw1, &w1, &np1, &p1));
  PetscSNPrintf(options, sizeof(options), "%s -wlm_potential_type meanfield -wlm_potential_hidden 8 -wlm_potential_meanfield_pair_hidden 8 -wlm_data %s -wlm_steps 2 -wlm_ensemble_ranks %d -wlm_output ensemble-rp-np%d", ENSEMBLE_OPTIONS, data, wlm_test_size, wlm_test_size);
  WLMTestCall(TrainAndEvaluate(options, &nwR, &wR, &npR, &pR));
  ck_assert_int_eq(nw1, nwR);
  ck_assert_int_gt(nw1, 0);
  PetscMalloc2(nw1, &wAll, np1, &pAll);
  WLMTestCall(PetscArraycpy(wAll, w1, nw1));
  WLMTestCall(PetscArraycpy(pAll, p1, np1));
  ck_assert_int_eq(np1, npR);
  ck_assert_double_lt(RelativeDifference(np1, p1, pR), 1e-9);
  ck_assert_double_lt(RelativeDifference(nw1, w1, wR), 1e-9);
  PetscFree2(w1, p1);
  PetscFree2(wR, pR);

  /* W1 of subsamples of 9 of the 24 particles: the same for every R, and not the W1 of the whole clouds */
  PetscSNPrintf(options, sizeof(options), "%s -wlm_potential_type meanfield -wlm_potential_hidden 8 -wlm_potential_meanfield_pair_hidden 8 -wlm_data %s -wlm_steps 2 -wlm_ensemble_ranks 1 -wlm_eval_particles 9 -wlm_output ensemble-e1-np%d", ENSEMBLE_OPTIONS, data, wlm_test_size);
  WLMTestCall(TrainAndEvaluate(options, &nw1, &w1, &np1, &p1));
  PetscSNPrintf(options, sizeof(options), "%s -wlm_potential_type meanfield -wlm_potential_hidden 8 -wlm_potential_meanfield_pair_hidden 8 -wlm_data %s -wlm_steps 2 -wlm_ensemble_ranks %d -wlm_eval_particles 9 -wlm_output ensemble-ep-np%d", ENSEMBLE_OPTIONS, data, wlm_test_size, wlm_test_size);
  WLMTestCall(TrainAndEvaluate(options, &nwR, &wR, &npR, &pR));
  ck_assert_int_eq(nw1, nwR);
  ck_assert_double_lt(RelativeDifference(nw1, w1, wR), 1e-9);
  ck_assert_double_gt(RelativeDifference(nw1, w1, wAll), 1e-6);
  PetscFree2(w1, p1);
  PetscFree2(wR, pR);
  PetscFree2(wAll, pAll);
}
END_TEST

START_TEST(test_ensemble_ranks_errors)
{
  char options[2048], fragment[64];

  WriteData();
  PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_ensemble_ranks %d", data, wlm_test_size + 1);
  PetscSNPrintf(fragment, sizeof(fragment), "-wlm_ensemble_ranks %d is invalid", wlm_test_size + 1);
  WLMTestExpectError(WLMTestTrainerSetUpError(PETSC_COMM_WORLD, options), PETSC_ERR_ARG_OUTOFRANGE, fragment);
  PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_ensemble_ranks 0", data);
  WLMTestExpectError(WLMTestTrainerSetUpError(PETSC_COMM_WORLD, options), PETSC_ERR_ARG_OUTOFRANGE, "-wlm_ensemble_ranks 0 is invalid");
  if (wlm_test_size > 1) {
    /* one group of P ranks: any positive batch size is a multiple of the group count */
    PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_velocity data -wlm_ensemble_ranks %d -wlm_batch_rollouts 1", data, wlm_test_size);
    WLMTestCall(WLMTestTrainerSetUpError(PETSC_COMM_WORLD, options));
    PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_ensemble_ranks 1 -wlm_batch_rollouts %d", data, wlm_test_size + 1);
    WLMTestExpectError(WLMTestTrainerSetUpError(PETSC_COMM_WORLD, options), PETSC_ERR_ARG_OUTOFRANGE, "-wlm_batch_rollouts");
  }
}
END_TEST

/* Loads a predictions file whole on this rank. */
static PetscErrorCode LoadPredictions(const char dir[], const char name[], WLMSnapshots *pred)
{
  char path[PETSC_MAX_PATH_LEN];

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/%s", dir, name));
  PetscCall(WLMSnapshotsCreate(PETSC_COMM_SELF, pred));
  PetscCall(WLMSnapshotsLoad(*pred, path));
  PetscFunctionReturn(0);
}

/* Checks that two prediction sets hold the same snapshots bit for bit, each of n rows and not a copy of the start cloud x0. */
static void CheckSamePredictions(WLMSnapshots a, WLMSnapshots b, PetscInt n, const PetscReal x0[])
{
  PetscInt    Ta, Tb, dim;
  WLMSnapshot sa, sb;

  WLMTestCall(WLMSnapshotsGetNumSnapshots(a, &Ta));
  WLMTestCall(WLMSnapshotsGetNumSnapshots(b, &Tb));
  WLMTestCall(WLMSnapshotsGetDimension(a, &dim));
  ck_assert_int_eq(Ta, Tb);
  ck_assert_int_gt(Ta, 0);
  for (PetscInt k = 0; k < Ta; k++) {
    WLMTestCall(WLMSnapshotsGetSnapshot(a, k, &sa));
    WLMTestCall(WLMSnapshotsGetSnapshot(b, k, &sb));
    ck_assert_int_eq(sa.N, n);
    ck_assert_int_eq(sb.N, n);
    ck_assert_msg(sa.t == sb.t, "predicted snapshot %" PetscInt_FMT " has time %g with R = 1 but %g with R = P", k, (double)sa.t, (double)sb.t);
    ck_assert_msg(!memcmp(sa.x, sb.x, (size_t)(n * dim) * sizeof(PetscReal)), "predicted snapshot %" PetscInt_FMT " differs between R = 1 and R = P", k);
    ck_assert_msg(memcmp(sa.x, x0, (size_t)(n * dim) * sizeof(PetscReal)), "predicted snapshot %" PetscInt_FMT " equals the start cloud", k);
  }
}

/* The initial model rolled out per particle (external field): the predictions files of R = 1 and R = P agree bit for bit. */
START_TEST(test_group_predictions_file)
{
  const char  *names[] = {"predictions_raw.h5", "predictions_ema.h5"};
  char         options[2048], dir[2][64];
  PetscOptions db;
  WLMTrainer   tr;
  WLMSnapshots start, a, b;
  WLMSnapshot  s0;

  WriteData();
  for (int r = 0; r < 2; r++) {
    PetscSNPrintf(dir[r], sizeof(dir[r]), "ensemble-pred-r%d-np%d", r ? wlm_test_size : 1, wlm_test_size);
    PetscSNPrintf(options, sizeof(options), "%s -wlm_potential_type external -wlm_potential_hidden 8,8 -wlm_data %s -wlm_steps 0 -wlm_ensemble_ranks %d -wlm_output %s", ENSEMBLE_OPTIONS, data, r ? wlm_test_size : 1, dir[r]);
    WLMTestCall(WLMTestTrainerCreate(PETSC_COMM_WORLD, options, &db, &tr));
    WLMTestCall(WLMTrainerTrain(tr));
    WLMTestCall(WLMTestTrainerDestroy(&db, &tr));
  }
  WLMTestCall(WLMSnapshotsCreate(PETSC_COMM_SELF, &start));
  WLMTestCall(WLMSnapshotsLoad(start, data));
  WLMTestCall(WLMSnapshotsGetSnapshot(start, 0, &s0));
  for (int f = 0; f < 2; f++) {
    WLMTestCall(LoadPredictions(dir[0], names[f], &a));
    WLMTestCall(LoadPredictions(dir[1], names[f], &b));
    CheckSamePredictions(a, b, s0.N, s0.x);
    WLMTestCall(WLMSnapshotsDestroy(&a));
    WLMTestCall(WLMSnapshotsDestroy(&b));
  }
  WLMTestCall(WLMSnapshotsDestroy(&start));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("train_ensemble");
  TCase *tc = tcase_create("ensemble");

  tcase_add_test(tc, test_group_equals_data_parallel);
  tcase_add_test(tc, test_group_loss_subsample);
  tcase_add_test(tc, test_group_gradient_differences);
  tcase_add_test(tc, test_group_evaluation);
  tcase_add_test(tc, test_group_predictions_file);
  tcase_add_test(tc, test_ensemble_ranks_errors);
  suite_add_tcase(s, tc);
  return s;
}
