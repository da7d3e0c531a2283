/*
   AdamW against PyTorch's torch.optim.AdamW (fixture in
   fixtures/adamw_reference.h), learning-rate schedules and the
   bias-corrected moving average.
*/
#include "wlmtest.h"
#include <wlm/wlmadamw.h>
#include "fixtures/adamw_reference.h"

START_TEST(test_adamw_matches_torch)
{
  WLMAdamW *o;
  PetscReal p[5], g[5], gnorm;

  WLMTestCall(WLMAdamWCreate(5, &o));
  WLMTestCall(WLMAdamWSetGroup(o, 0, 0, 4, 0.01, 0.1));
  WLMTestCall(WLMAdamWSetGroup(o, 1, 4, 5, 0.05, 0.0));
  for (int i = 0; i < 5; i++) p[i] = adamw_p0[i];
  for (int step = 0; step < 6; step++) {
    for (int i = 0; i < 5; i++) g[i] = adamw_grads[step * 5 + i];
    WLMTestCall(WLMAdamWStep(o, p, g, &gnorm));
    for (int i = 0; i < 5; i++) ck_assert_double_eq_tol(p[i], adamw_trajectory[step * 5 + i], 1e-13);
  }
  WLMTestCall(WLMAdamWDestroy(&o));
}
END_TEST

/* Clipping scales the gradient to the bound and reports the norm before clipping. */
START_TEST(test_adamw_clipping)
{
  WLMAdamW *o;
  PetscReal p[2] = {0, 0}, g[2] = {3, 4}, gnorm;

  WLMTestCall(WLMAdamWCreate(2, &o));
  o->clip = 1.0;
  WLMTestCall(WLMAdamWStep(o, p, g, &gnorm));
  ck_assert_double_eq_tol(gnorm, 5.0, 1e-15);
  ck_assert_double_eq_tol(g[0], 0.6, 1e-15);
  ck_assert_double_eq_tol(g[1], 0.8, 1e-15);
  WLMTestCall(WLMAdamWDestroy(&o));
}
END_TEST

/* Cosine schedule: linear warm-up, 1 right after it, the mean of 1 and the floor halfway, the floor at the end. */
START_TEST(test_cosine_schedule)
{
  WLMAdamW *o;

  WLMTestCall(WLMAdamWCreate(1, &o));
  o->schedule     = WLM_LR_COSINE;
  o->warmup       = 10;
  o->total        = 110;
  o->lr_min_ratio = 0.1;
  ck_assert_double_eq_tol(WLMAdamWLearningRateFactor(o, 0), 0.1, 1e-15);
  ck_assert_double_eq_tol(WLMAdamWLearningRateFactor(o, 4), 0.5, 1e-15);
  ck_assert_double_eq_tol(WLMAdamWLearningRateFactor(o, 10), 1.0, 1e-15);
  ck_assert_double_eq_tol(WLMAdamWLearningRateFactor(o, 60), 0.55, 1e-15);
  ck_assert_double_eq_tol(WLMAdamWLearningRateFactor(o, 110), 0.1, 1e-15);
  o->schedule = WLM_LR_CONSTANT;
  ck_assert_double_eq_tol(WLMAdamWLearningRateFactor(o, 60), 1.0, 1e-15);
  WLMTestCall(WLMAdamWDestroy(&o));
}
END_TEST

/*
   With learning rate 0 the parameter stays at c, and the bias-corrected
   average equals c exactly after any number of steps; without the
   correction it would be c (1 - delta^n).
*/
START_TEST(test_average_bias_corrected)
{
  WLMAdamW *o;
  PetscReal p[1] = {2.5}, g[1], avg[1], gnorm;

  WLMTestCall(WLMAdamWCreate(1, &o));
  WLMTestCall(WLMAdamWSetGroup(o, 0, 0, 1, 0.0, 0.0));
  o->ema_decay = 0.999;
  for (int n = 0; n < 7; n++) {
    g[0] = 1.0;
    WLMTestCall(WLMAdamWStep(o, p, g, &gnorm));
  }
  WLMTestCall(WLMAdamWGetAverage(o, p, avg));
  ck_assert_double_eq_tol(avg[0], 2.5, 1e-13);
  WLMTestCall(WLMAdamWDestroy(&o));
}
END_TEST

/* A changing parameter: the average of p_n = n for n = 1, 2 with delta = 0.5 is (0.5 * 0.5 * 1 + 0.5 * 2) / (1 - 0.25) = 5/3. */
START_TEST(test_average_weights)
{
  WLMAdamW *o;
  PetscReal p[1] = {0}, g[1] = {0}, avg[1], gnorm;

  WLMTestCall(WLMAdamWCreate(1, &o));
  WLMTestCall(WLMAdamWSetGroup(o, 0, 0, 1, 0.0, 0.0));
  o->ema_decay = 0.5;
  p[0]         = 1;
  WLMTestCall(WLMAdamWStep(o, p, g, &gnorm));
  p[0] = 2;
  WLMTestCall(WLMAdamWStep(o, p, g, &gnorm));
  WLMTestCall(WLMAdamWGetAverage(o, p, avg));
  ck_assert_double_eq_tol(avg[0], 5.0 / 3.0, 1e-15);
  WLMTestCall(WLMAdamWDestroy(&o));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("train_adamw");
  TCase *tc = tcase_create("adamw");

  tcase_add_test(tc, test_adamw_matches_torch);
  tcase_add_test(tc, test_adamw_clipping);
  tcase_add_test(tc, test_cosine_schedule);
  tcase_add_test(tc, test_average_bias_corrected);
  tcase_add_test(tc, test_average_weights);
  suite_add_tcase(s, tc);
  return s;
}
