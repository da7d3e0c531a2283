/*
   WLMTrainer on a small damped harmonic data set: option errors before any
   work, bitwise restart, a clean stop on SIGUSR1, identical parameters on all
   ranks, and independence of the rank count (the same rollouts run on one
   rank give the same parameters up to summation order).
*/
#include "wlmtest.h"
#include "traintest.h"
#include <wlm/private/trainimpl.h>
#include <signal.h>

static char data_vel[PETSC_MAX_PATH_LEN], data_novel[PETSC_MAX_PATH_LEN];

/* Options shared by the training runs: the external model, few particles, few steps. */
#define BASE_OPTIONS "-wlm_potential_type external -wlm_potential_hidden 8,8 -wlm_protocol forecast -wlm_train_fraction 0.75 -wlm_substeps 2 -wlm_friction 0.2 -wlm_lr 1e-2 -wlm_log_every 0 -wlm_output_overwrite -wlm_batch_rollouts 6 -wlm_batch_particles 16 -wlm_rollout_start any"

static void WriteData(void)
{
  PetscSNPrintf(data_vel, sizeof(data_vel), "trainer-data-np%d.h5", wlm_test_size);
  PetscSNPrintf(data_novel, sizeof(data_novel), "trainer-data-novel-np%d.h5", wlm_test_size);
  WLMTestCall(WLMTestWriteHarmonicData(PETSC_COMM_WORLD, data_vel, 24, 8, PETSC_TRUE));
  WLMTestCall(WLMTestWriteHarmonicData(PETSC_COMM_WORLD, data_novel, 24, 8, PETSC_FALSE));
}

/* Runs a trainer with the given options to completion and copies its parameters. */
static PetscErrorCode Train(MPI_Comm comm, const char options[], PetscInt *n, PetscReal **params)
{
  PetscOptions db;
  WLMTrainer   tr;
  PetscReal   *p;

  PetscFunctionBeginUser;
  PetscCall(WLMTestTrainerCreate(comm, options, &db, &tr));
  PetscCall(WLMTrainerTrain(tr));
  PetscCall(WLMTestTrainerParameters(tr, n, &p));
  PetscCall(PetscMalloc1(*n, params));
  PetscCall(PetscArraycpy(*params, p, *n));
  PetscCall(WLMTestTrainerDestroy(&db, &tr));
  PetscFunctionReturn(0);
}

START_TEST(test_bad_options)
{
  struct {
    const char    *options;
    PetscErrorCode code;
    const char    *fragment;
  } cases[] = {
    {"-wlm_protocol interpolate -wlm_holdout 0,2", PETSC_ERR_ARG_OUTOFRANGE, "-wlm_holdout contains 0"},
    {"-wlm_protocol interpolate -wlm_holdout 3,12", PETSC_ERR_ARG_OUTOFRANGE, "index 12 is out of range"},
    {"-wlm_protocol interpolate -wlm_holdout 3,3", PETSC_ERR_ARG_WRONG, "lists snapshot 3 twice"},
    {"-wlm_protocol interpolate", PETSC_ERR_ARG_WRONG, "-wlm_holdout"},
    {"-wlm_train_fraction 0.2", PETSC_ERR_ARG_OUTOFRANGE, "leaves 1 training snapshot"},
    {"-wlm_train_fraction 1.5", PETSC_ERR_ARG_OUTOFRANGE, "-wlm_train_fraction 1.5"},
    {"-wlm_lr -1", PETSC_ERR_ARG_OUTOFRANGE, "-wlm_lr -1"},
    {"-wlm_batch_rollouts 0", PETSC_ERR_ARG_OUTOFRANGE, "-wlm_batch_rollouts 0"},
    {"-wlm_batch_particles -3", PETSC_ERR_ARG_OUTOFRANGE, "-wlm_batch_particles -3"},
    {"-wlm_ema_decay 1.5", PETSC_ERR_ARG_OUTOFRANGE, "-wlm_ema_decay 1.5"},
    {"-wlm_friction 0 -wlm_friction_learn", PETSC_ERR_ARG_OUTOFRANGE, "-wlm_friction_learn false"},
    {"-wlm_steps -5", PETSC_ERR_ARG_OUTOFRANGE, "-wlm_steps -5"},
    {"-wlm_horizon_min 9", PETSC_ERR_ARG_OUTOFRANGE, "-wlm_horizon_min 9"},
    {"-wlm_horizon_min 0", PETSC_ERR_ARG_OUTOFRANGE, "-wlm_horizon_min 0"},
    {"-wlm_horizon_min 3 -wlm_horizon_max 2", PETSC_ERR_ARG_OUTOFRANGE, "horizon cap 2"},
  };
  char options[1024];

  WriteData();
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_velocity data %s", data_vel, cases[i].options);
    WLMTestExpectError(WLMTestTrainerSetUpError(PETSC_COMM_WORLD, options), cases[i].code, cases[i].fragment);
  }
  PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_velocity data", data_novel);
  WLMTestExpectError(WLMTestTrainerSetUpError(PETSC_COMM_WORLD, options), PETSC_ERR_USER_INPUT, "-wlm_velocity data needs velocities");
  WLMTestExpectError(WLMTestTrainerSetUpError(PETSC_COMM_WORLD, "-wlm_data no-such-file.h5 -wlm_protocol forecst"), PETSC_ERR_USER, "Unknown option forecst for -wlm_protocol");
  WLMTestExpectError(WLMTestTrainerSetUpError(PETSC_COMM_WORLD, "-wlm_velocity zero"), PETSC_ERR_USER_INPUT, "-wlm_data");
  WLMTestExpectError(WLMTestTrainerSetUpError(PETSC_COMM_WORLD, "-wlm_data no-such-file.h5"), PETSC_ERR_FILE_OPEN, "no-such-file.h5");
}
END_TEST

/* Whole clouds of more than 50000 particles are not compared by default: training stops before writing anything, and a subsample passes. */
START_TEST(test_eval_whole_clouds_too_large)
{
  char         path[PETSC_MAX_PATH_LEN], metrics[PETSC_MAX_PATH_LEN], options[1024];
  PetscOptions db;
  WLMTrainer   tr;
  PetscBool    written;

  PetscSNPrintf(path, sizeof(path), "trainer-large-np%d.h5", wlm_test_size);
  PetscSNPrintf(metrics, sizeof(metrics), "trainer-large-np%d/metrics.jsonl", wlm_test_size);
  if (wlm_test_rank == 0) (void)remove(metrics); /* a leftover of an earlier failed run would hide a new write */
  WLMTestCall(WLMTestWriteHarmonicData(PETSC_COMM_WORLD, path, 50001, 4, PETSC_TRUE));
  PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_velocity data -wlm_potential_hidden 4 -wlm_output trainer-large-np%d", path, wlm_test_size);
  WLMTestCall(WLMTestTrainerCreate(PETSC_COMM_WORLD, options, &db, &tr));
  WLMTestCall(WLMTrainerSetUp(tr));
  WLMTestExpectError(WLMTrainerTrain(tr), PETSC_ERR_ARG_OUTOFRANGE, "Snapshots have up to 50001 particles and -wlm_eval_particles is 0");
  WLMTestCall(PetscTestFile(metrics, 'r', &written));
  ck_assert_msg(!written, "the rejected run wrote %s", metrics);
  WLMTestCall(WLMTestTrainerDestroy(&db, &tr));

  PetscSNPrintf(options, sizeof(options), "-wlm_data %s -wlm_velocity data -wlm_potential_hidden 4 -wlm_eval_particles 50", path);
  WLMTestCall(WLMTestTrainerCreate(PETSC_COMM_WORLD, options, &db, &tr));
  WLMTestCall(WLMTrainerSetUp(tr));
  WLMTestCall(WLMTrainerCheckEvaluationSize(tr));
  WLMTestCall(WLMTrainerComputeBaselines(tr));
  ck_assert_int_gt(tr->eval.n, 0);
  WLMTestCall(WLMTestTrainerDestroy(&db, &tr));
}
END_TEST

/* With -wlm_horizon_min equal to the cap every rollout reaches the last training snapshot. */
START_TEST(test_horizon_min)
{
  char         options[2048];
  PetscOptions db;
  WLMTrainer   tr;
  PetscReal    loss;

  WriteData();
  PetscSNPrintf(options, sizeof(options), "%s -wlm_data %s -wlm_velocity data -wlm_rollout_start first -wlm_horizon_min 5 -wlm_output horizon-np%d-r%d", BASE_OPTIONS, data_vel, wlm_test_size, wlm_test_rank);
  WLMTestCall(WLMTestTrainerCreate(PETSC_COMM_SELF, options, &db, &tr));
  WLMTestCall(WLMTrainerSetUp(tr));
  ck_assert_int_eq(tr->horizon_max, 5);
  for (PetscInt j = 0; j < 6; j++) {
    for (PetscInt m = 0; m < tr->kmax; m++) tr->rollout_times[m] = -1;
    WLMTestCall(WLMTrainerRolloutLoss(tr, 0, j, &loss));
    ck_assert_double_eq(tr->rollout_times[4], tr->times[tr->train[5]]);
  }
  WLMTestCall(WLMTestTrainerDestroy(&db, &tr));
}
END_TEST

/* A fixed friction is reported as given, also after training steps. */
START_TEST(test_fixed_friction)
{
  char         options[2048];
  PetscOptions db;
  WLMTrainer   tr;
  PetscReal    gamma;

  WriteData();
  PetscSNPrintf(options, sizeof(options), "%s -wlm_data %s -wlm_velocity data -wlm_friction 0 -wlm_friction_learn false -wlm_steps 2 -wlm_output fixed-friction-np%d-r%d", BASE_OPTIONS, data_vel, wlm_test_size, wlm_test_rank);
  WLMTestCall(WLMTestTrainerCreate(PETSC_COMM_SELF, options, &db, &tr));
  WLMTestCall(WLMTrainerTrain(tr));
  WLMTestCall(WLMTrainerGetFriction(tr, &gamma));
  ck_assert_double_eq(gamma, 0.0);
  WLMTestCall(WLMTestTrainerDestroy(&db, &tr));
}
END_TEST

/* 2N steps in one run equal N steps, a checkpoint, a restart and N more steps, bit for bit. */
START_TEST(test_restart_bitwise)
{
  char      options[2048];
  PetscInt  n1, n2;
  PetscReal *p1, *p2;

  WriteData();
  PetscSNPrintf(options, sizeof(options), "%s -wlm_data %s -wlm_velocity data -wlm_steps 8 -wlm_output restart-a-np%d", BASE_OPTIONS, data_vel, wlm_test_size);
  WLMTestCall(Train(PETSC_COMM_WORLD, options, &n1, &p1));
  PetscSNPrintf(options, sizeof(options), "%s -wlm_data %s -wlm_velocity data -wlm_steps 4 -wlm_output restart-b-np%d", BASE_OPTIONS, data_vel, wlm_test_size);
  WLMTestCall(Train(PETSC_COMM_WORLD, options, &n2, &p2));
  PetscFree(p2);
  PetscSNPrintf(options, sizeof(options), "%s -wlm_data %s -wlm_velocity data -wlm_steps 8 -wlm_output restart-b-np%d -wlm_restart", BASE_OPTIONS, data_vel, wlm_test_size);
  WLMTestCall(Train(PETSC_COMM_WORLD, options, &n2, &p2));
  ck_assert_int_eq(n1, n2);
  ck_assert_mem_eq(p1, p2, n1 * sizeof(PetscReal));
  PetscFree(p1);
  PetscFree(p2);
}
END_TEST

/* A SIGUSR1 before training stops the run after one step with a checkpoint; the restart ends where an uninterrupted run ends. */
START_TEST(test_signal_checkpoint_resume)
{
  char      options[2048];
  PetscInt  n1, n2;
  PetscReal *p1, *p2;

  WriteData();
  PetscSNPrintf(options, sizeof(options), "%s -wlm_data %s -wlm_velocity zero -wlm_steps 5 -wlm_output signal-a-np%d", BASE_OPTIONS, data_vel, wlm_test_size);
  WLMTestCall(Train(PETSC_COMM_WORLD, options, &n1, &p1));
  PetscSNPrintf(options, sizeof(options), "%s -wlm_data %s -wlm_velocity zero -wlm_steps 5 -wlm_output signal-b-np%d", BASE_OPTIONS, data_vel, wlm_test_size);
  WLMTestCall(WLMTrainerInstallSignalHandlers());
  if (wlm_test_rank == wlm_test_size - 1) raise(SIGUSR1);
  WLMTestCall(Train(PETSC_COMM_WORLD, options, &n2, &p2));
  ck_assert_mem_ne(p1, p2, n1 * sizeof(PetscReal));
  PetscFree(p2);
  PetscSNPrintf(options, sizeof(options), "%s -wlm_data %s -wlm_velocity zero -wlm_steps 5 -wlm_output signal-b-np%d -wlm_restart", BASE_OPTIONS, data_vel, wlm_test_size);
  WLMTestCall(Train(PETSC_COMM_WORLD, options, &n2, &p2));
  ck_assert_mem_eq(p1, p2, n1 * sizeof(PetscReal));
  PetscFree(p1);
  PetscFree(p2);
}
END_TEST

/*
   The same 6 rollouts per step spread over the ranks of WORLD, or all run by
   one rank alone, give the same parameters up to summation order; and every
   rank of WORLD ends with bitwise the same parameters.
*/
START_TEST(test_rank_count_independence)
{
  char      options[2048];
  PetscInt  n1, n2;
  PetscReal *p1, *p2, *pmin, *pmax, diff = 0, scale = 0;

  WriteData();
  PetscSNPrintf(options, sizeof(options), "%s -wlm_data %s -wlm_velocity data -wlm_steps 6 -wlm_output ranks-world-np%d", BASE_OPTIONS, data_vel, wlm_test_size);
  WLMTestCall(Train(PETSC_COMM_WORLD, options, &n1, &p1));
  PetscSNPrintf(options, sizeof(options), "%s -wlm_data %s -wlm_velocity data -wlm_steps 6 -wlm_output ranks-self-np%d-r%d", BASE_OPTIONS, data_vel, wlm_test_size, wlm_test_rank);
  WLMTestCall(Train(PETSC_COMM_SELF, options, &n2, &p2));
  ck_assert_int_eq(n1, n2);
  for (PetscInt i = 0; i < n1; i++) {
    diff  = PetscMax(diff, PetscAbsReal(p1[i] - p2[i]));
    scale = PetscMax(scale, PetscAbsReal(p1[i]));
  }
  ck_assert_double_lt(diff / scale, 1e-9);

  PetscMalloc2(n1, &pmin, n1, &pmax);
  MPI_Allreduce(p1, pmin, (int)n1, MPIU_REAL, MPI_MIN, PETSC_COMM_WORLD);
  MPI_Allreduce(p1, pmax, (int)n1, MPIU_REAL, MPI_MAX, PETSC_COMM_WORLD);
  ck_assert_mem_eq(pmin, pmax, n1 * sizeof(PetscReal));
  PetscFree2(pmin, pmax);
  PetscFree(p1);
  PetscFree(p2);
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("train_trainer");
  TCase *tc = tcase_create("trainer");

  tcase_add_test(tc, test_bad_options);
  tcase_add_test(tc, test_horizon_min);
  tcase_add_test(tc, test_eval_whole_clouds_too_large);
  tcase_add_test(tc, test_fixed_friction);
  tcase_add_test(tc, test_restart_bitwise);
  tcase_add_test(tc, test_signal_checkpoint_resume);
  tcase_add_test(tc, test_rank_count_independence);
  suite_add_tcase(s, tc);
  return s;
}
