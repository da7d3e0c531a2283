/*
   WLMLoss: discrepancies between a predicted cloud (x_i, a_i), i < N, and an
   observed cloud (y_j, b_j), j < M, with gradients with respect to the x_i.

   sinkhorn      debiased Sinkhorn divergence with cost C(x, y) = |x - y|^p / p,
                 eps = blur^p:  S = OT_eps(a, b) - OT_eps(a, a)/2 - OT_eps(b, b)/2,
                 OT_eps(a, b) = max_{f,g} <a,f> + <b,g> - eps <a (x) b, exp((f (+) g - C)/eps) - 1>
   mmd_gaussian  squared maximum mean discrepancy, Gaussian kernel exp(-|x - y|^2 / (2 blur^2))
   energy        energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'|, kernel -|x - y|

   Weights are masses; NULL means uniform masses 1/N (1/M), and given masses
   are divided by their total, so each cloud has mass 1.  When the object's
   communicator has several ranks, each rank passes its own block of rows of
   both clouds.  The value is global and the gradient is returned for the
   local block of x.
*/
#ifndef WLMLOSS_H
#define WLMLOSS_H

#include <petscsys.h>
#include <petscviewer.h>
#include <stdint.h>

typedef struct _p_WLMLoss *WLMLoss;

typedef const char *WLMLossType;
#define WLMLOSSSINKHORN    "sinkhorn"
#define WLMLOSSMMDGAUSSIAN "mmd_gaussian"
#define WLMLOSSENERGY      "energy"

PETSC_EXTERN PetscClassId      WLMLOSS_CLASSID;
PETSC_EXTERN PetscFunctionList WLMLossList;

PETSC_EXTERN PetscErrorCode WLMLossInitializePackage(void);
PETSC_EXTERN PetscErrorCode WLMLossRegister(const char[], PetscErrorCode (*)(WLMLoss));
PETSC_EXTERN PetscErrorCode WLMLossCreate(MPI_Comm, WLMLoss *);
PETSC_EXTERN PetscErrorCode WLMLossSetType(WLMLoss, WLMLossType);
PETSC_EXTERN PetscErrorCode WLMLossGetType(WLMLoss, WLMLossType *);
PETSC_EXTERN PetscErrorCode WLMLossSetDimension(WLMLoss, PetscInt);
PETSC_EXTERN PetscErrorCode WLMLossSetExponent(WLMLoss, PetscInt);
PETSC_EXTERN PetscErrorCode WLMLossSetBlur(WLMLoss, PetscReal);
PETSC_EXTERN PetscErrorCode WLMLossGetBlur(WLMLoss, PetscReal *);
PETSC_EXTERN PetscErrorCode WLMLossSetScaling(WLMLoss, PetscReal);
PETSC_EXTERN PetscErrorCode WLMLossSetOptionsPrefix(WLMLoss, const char[]);
PETSC_EXTERN PetscErrorCode WLMLossSetFromOptions(WLMLoss);
PETSC_EXTERN PetscErrorCode WLMLossSetUp(WLMLoss);
PETSC_EXTERN PetscErrorCode WLMLossView(WLMLoss, PetscViewer);
PETSC_EXTERN PetscErrorCode WLMLossDestroy(WLMLoss *);

PETSC_EXTERN PetscErrorCode WLMLossCompute(WLMLoss, PetscInt, const PetscReal[], const PetscReal[], PetscInt, const PetscReal[], const PetscReal[], PetscReal *, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMLossComputeWithMassGradient(WLMLoss, PetscInt, const PetscReal[], const PetscReal[], PetscInt, const PetscReal[], const PetscReal[], PetscReal *, PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMLossSinkhornTransportMap(WLMLoss, PetscInt, const PetscReal[], const PetscReal[], PetscInt, const PetscReal[], const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMLossEstimateBlur(MPI_Comm, PetscInt, PetscInt, const PetscReal[], PetscInt, uint64_t, PetscReal *);

PETSC_EXTERN PetscErrorCode WLMLossSinkhornSetTolerances(WLMLoss, PetscReal, PetscInt);
PETSC_EXTERN PetscErrorCode WLMLossSinkhornGetStepCount(WLMLoss, PetscInt *);

#endif
