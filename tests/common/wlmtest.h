/*
   Shared test harness: every test program defines WLMTestSuite() and links
   wlmtest.c, whose main() initializes PETSc and wlm, runs the suite without
   forking (forking after MPI_Init is unsafe), and returns the same exit code
   on every rank.
*/
#ifndef WLMTEST_H
#define WLMTEST_H

#include <check.h>
#include <petscsys.h>
#include <string.h>

/* Defined by each test program. */
Suite *WLMTestSuite(void);

/* Communicator size and rank, set before the suite runs. */
extern PetscMPIInt wlm_test_size, wlm_test_rank;

/* Fails the current test when a PETSc call returns an error. */
#define WLMTestCall(call) \
  do { \
    PetscErrorCode wlm_test_ierr_ = (call); \
    ck_assert_msg(wlm_test_ierr_ == 0, "%s returned PETSc error %d", #call, (int)wlm_test_ierr_); \
  } while (0)

PetscErrorCode WLMTestRunQuietly(PetscErrorCode, const char **);

/*
   Asserts that a call fails with the given PETSc error code and that the error
   message contains a fragment (for example the name of the offending item).
   The error handler is swapped so that the expected error prints no traceback.
*/
#define WLMTestExpectError(call, code, fragment) \
  do { \
    const char    *wlm_test_msg_ = NULL; \
    PetscErrorCode wlm_test_ierr_; \
    PetscPushErrorHandler(PetscReturnErrorHandler, NULL); \
    wlm_test_ierr_ = (call); \
    PetscPopErrorHandler(); \
    WLMTestRunQuietly(wlm_test_ierr_, &wlm_test_msg_); \
    ck_assert_msg(wlm_test_ierr_ == (code), "%s returned error %d, expected %d (message: %s)", #call, (int)wlm_test_ierr_, (int)(code), wlm_test_msg_ ? wlm_test_msg_ : ""); \
    ck_assert_msg(wlm_test_msg_ && strstr(wlm_test_msg_, (fragment)), "error message of %s does not mention \"%s\": %s", #call, (fragment), wlm_test_msg_ ? wlm_test_msg_ : "(none)"); \
  } while (0)

/* Relative difference |a - b| / max(|a|, |b|, floor); floor keeps comparisons of near-zero values meaningful. */
static inline PetscReal WLMTestRelativeError(PetscReal a, PetscReal b, PetscReal floor_)
{
  PetscReal scale = PetscMax(PetscMax(PetscAbsReal(a), PetscAbsReal(b)), floor_);
  return PetscAbsReal(a - b) / scale;
}

#endif
