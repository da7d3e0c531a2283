/*
   Exact optimal transport between weighted point clouds, for evaluation.

     W_p(a, b) = ( min_{P >= 0, P 1 = a, P^T 1 = b} sum_ij P_ij |x_i - y_j|^p )^(1/p),  p = 1 or 2,

   with Euclidean |.|.  Masses are non-negative; each cloud's masses are
   normalized to total 1 (NULL means uniform).  Clouds may have different sizes.
*/
#ifndef WLMTRANSPORT_H
#define WLMTRANSPORT_H

#include <petscsys.h>

PETSC_EXTERN PetscErrorCode WLMTransportInitializePackage(void);
PETSC_EXTERN PetscErrorCode WLMTransportWassersteinSeq(PetscInt, PetscInt, PetscInt, const PetscReal[], const PetscReal[], PetscInt, const PetscReal[], const PetscReal[], PetscReal *);
PETSC_EXTERN PetscErrorCode WLMTransportWasserstein(MPI_Comm, PetscInt, PetscInt, PetscInt, const PetscReal[], const PetscReal[], PetscInt, const PetscReal[], const PetscReal[], PetscReal *);

#endif
