/*
   A Gaussian well plus a soft Gaussian pair repulsion, registered as the
   potential type "wellpair" for the dynamics tests and benchmark.  The
   formulas are in wellpair.c.
*/
#ifndef WLMTEST_WELLPAIR_H
#define WLMTEST_WELLPAIR_H

#include <wlm/wlmpotential.h>

#define WLMPOTENTIALWELLPAIR "wellpair"
#define WELLPAIR_MAX_DIM     16

PetscErrorCode WLMTestRegisterWellPair(void);

#endif
