/*
   Finite-difference check of the training gradient.

   WLMTrainerRolloutLoss() returns the loss L(theta, log gamma) of one rollout
   and adds dL/d(theta, log gamma), computed by the discrete adjoint of the
   integrator and the loss gradient, to the trainer's gradient buffer.  For a
   random unit direction e the central difference

     D_h = (L(p + h e) - L(p - h e)) / (2 h)

   must match g . e with error O(h^2).  Both sides use the same drawn rollout
   (same step and index, so the same start, horizon and particles).  Each
   case checks four rollouts with different starts and horizons of up to five
   intervals, with sub-steps, the time input and a learned friction.  The
   Sinkhorn divergence is iterated to convergence, because only then is its
   dual-potential gradient exact; the Gaussian MMD is exact by construction.
*/
#include "wlmtest.h"
#include "traintest.h"
#include <wlm/private/trainimpl.h>

#define GRADIENT_OPTIONS "-wlm_potential_hidden 8,8 -wlm_potential_time_input -wlm_protocol forecast -wlm_train_fraction 0.75 -wlm_substeps 3 -wlm_friction 0.3 -wlm_friction_learn -wlm_log_every 0 -wlm_output_overwrite -wlm_rollout_start any -wlm_batch_particles 12 -wlm_velocity data"

/* Computes the loss of rollout (step, j) at the parameters p and restores the gradient buffer. */
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

/* Returns the largest relative error of the adjoint directional derivative against central differences. */
static PetscErrorCode CheckDirectional(const char extra[], const char tag[], PetscReal *err_coarse, PetscReal *err_fine)
{
  char         options[2048], data[PETSC_MAX_PATH_LEN];
  PetscOptions db;
  WLMTrainer   tr;
  WLMRandom    r;
  PetscReal   *p, *e, *q, loss, norm = 0, lp, lm;
  PetscInt     n;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(data, sizeof(data), "gradient-data-%s-np%d-r%d.h5", tag, wlm_test_size, wlm_test_rank));
  PetscCall(WLMTestWriteHarmonicData(PETSC_COMM_SELF, data, 20, 8, PETSC_TRUE));
  PetscCall(PetscSNPrintf(options, sizeof(options), "%s %s -wlm_data %s -wlm_output gradient-%s-np%d-r%d", GRADIENT_OPTIONS, extra, data, tag, wlm_test_size, wlm_test_rank));
  PetscCall(WLMTestTrainerCreate(PETSC_COMM_SELF, options, &db, &tr));
  PetscCall(WLMTrainerSetUp(tr));
  n = tr->nparams;
  PetscCall(PetscMalloc3(n, &p, n, &e, n, &q));
  PetscCall(PetscArraycpy(p, tr->params, n));

  /* a random direction that moves theta and log gamma together */
  WLMRandomSeed(&r, 7, 11);
  for (PetscInt i = 0; i < n; i++) {
    e[i] = WLMRandomNormal(&r);
    norm += e[i] * e[i];
  }
  for (PetscInt i = 0; i < n; i++) e[i] /= PetscSqrtReal(norm);

  /* four rollouts of one step: different starts and horizons (the seed fixes them) */
  *err_coarse = *err_fine = 0;
  for (PetscInt j = 0; j < 4; j++) {
    PetscReal g = 0;

    PetscCall(PetscArrayzero(tr->grad, n));
    PetscCall(WLMTrainerApplyParameters(tr, p));
    PetscCall(WLMTrainerRolloutLoss(tr, 3, j, &loss));
    for (PetscInt i = 0; i < n; i++) g += tr->grad[i] * e[i];

    for (PetscInt pass = 0; pass < 2; pass++) {
      const PetscReal h = pass ? 1e-4 : 1e-3;
      PetscReal      *err = pass ? err_fine : err_coarse;

      for (PetscInt i = 0; i < n; i++) q[i] = p[i] + h * e[i];
      PetscCall(LossAt(tr, q, 3, j, &lp));
      for (PetscInt i = 0; i < n; i++) q[i] = p[i] - h * e[i];
      PetscCall(LossAt(tr, q, 3, j, &lm));
      *err = PetscMax(*err, PetscAbsReal((lp - lm) / (2 * h) - g) / PetscMax(PetscAbsReal(g), 1e-12));
    }
  }
  PetscCall(PetscFree3(p, e, q));
  PetscCall(WLMTestTrainerDestroy(&db, &tr));
  PetscFunctionReturn(0);
}

/* Loss and model of each case; the Sinkhorn case iterates to convergence. */
static const struct {
  const char *tag, *options;
} cases[] = {
  {"sinkhorn", "-wlm_loss_type sinkhorn -wlm_loss_blur 0.3 -wlm_loss_sinkhorn_max_it 50000 -wlm_loss_sinkhorn_tol 1e-14 -wlm_potential_type external"},
  {"mmd", "-wlm_loss_type mmd_gaussian -wlm_loss_blur 0.5 -wlm_potential_type external"},
  {"meanfield", "-wlm_loss_type mmd_gaussian -wlm_loss_blur 0.5 -wlm_potential_type meanfield"},
};

START_TEST(test_training_gradient)
{
  PetscReal coarse, fine;

  WLMTestCall(CheckDirectional(cases[_i].options, cases[_i].tag, &coarse, &fine));
  ck_assert_double_lt(fine, 1e-5);
  ck_assert_double_lt(coarse, 1e-3);
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("train_gradient");
  TCase *tc = tcase_create("gradient");

  tcase_add_loop_test(tc, test_training_gradient, 0, (int)(sizeof(cases) / sizeof(cases[0])));
  suite_add_tcase(s, tc);
  return s;
}
