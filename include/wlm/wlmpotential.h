/*
   WLMPotential: a learned potential energy U_theta(X, t) of a whole population.

   The population is X = (x_1, ..., x_N), x_i in R^d, with masses w_i > 0
   (uniform w_i = 1/N when the caller passes no masses).  A model returns

     U        the energy (a scalar for the whole population),
     F_i      = -dU/dx_i, the force on particle i,

   and, for a cotangent Lambda with the shape of X, the two products that the
   adjoint of an integrator needs:

     grad_X (Lambda . F)      = -H Lambda, H the (symmetric) Hessian of U,
     grad_theta (Lambda . F)  the parameter product,

   and, for fitting U itself to data, the parameter gradient grad_theta U.

   The acceleration of particle i is F_i / w_i (mass times acceleration equals
   force), so with uniform masses and U = sum_i w_i psi_i the acceleration is
   -grad_{x_i} sum_j psi_j, independent of N.

   Arrays are row-major: positions x[i*dim + k] for the n particles this rank
   owns.  When the object's communicator has more than one rank, the particles
   are sharded: each rank passes its own block, calls are collective, U is the
   total over all ranks, and F and the state product are returned for the local
   block.  The parameter product and the parameter gradient are accumulated
   into the caller's array as this rank's share; summing the shares over the
   ranks gives the full product or gradient.
*/
#ifndef WLMPOTENTIAL_H
#define WLMPOTENTIAL_H

#include <petscsys.h>
#include <petscviewer.h>
#include <hdf5.h>
#include <stdint.h>

typedef struct _p_WLMPotential *WLMPotential;

typedef const char *WLMPotentialType;
#define WLMPOTENTIALATTENTION "attention"
#define WLMPOTENTIALEXTERNAL  "external"
#define WLMPOTENTIALMEANFIELD "meanfield"
#define WLMPOTENTIALHARMONIC  "harmonic"

PETSC_EXTERN PetscClassId      WLMPOTENTIAL_CLASSID;
PETSC_EXTERN PetscFunctionList WLMPotentialList;

PETSC_EXTERN PetscErrorCode WLMPotentialInitializePackage(void);
PETSC_EXTERN PetscErrorCode WLMPotentialFinalizePackage(void);
PETSC_EXTERN PetscErrorCode WLMPotentialRegister(const char[], PetscErrorCode (*)(WLMPotential));

PETSC_EXTERN PetscErrorCode WLMPotentialCreate(MPI_Comm, WLMPotential *);
PETSC_EXTERN PetscErrorCode WLMPotentialSetType(WLMPotential, WLMPotentialType);
PETSC_EXTERN PetscErrorCode WLMPotentialGetType(WLMPotential, WLMPotentialType *);
PETSC_EXTERN PetscErrorCode WLMPotentialSetDimension(WLMPotential, PetscInt);
PETSC_EXTERN PetscErrorCode WLMPotentialGetDimension(WLMPotential, PetscInt *);
PETSC_EXTERN PetscErrorCode WLMPotentialSetTimeInput(WLMPotential, PetscBool);
PETSC_EXTERN PetscErrorCode WLMPotentialGetTimeInput(WLMPotential, PetscBool *);
PETSC_EXTERN PetscErrorCode WLMPotentialSetMaxParticles(WLMPotential, PetscInt, PetscInt);
PETSC_EXTERN PetscErrorCode WLMPotentialSetOptionsPrefix(WLMPotential, const char[]);
PETSC_EXTERN PetscErrorCode WLMPotentialSetFromOptions(WLMPotential);
PETSC_EXTERN PetscErrorCode WLMPotentialSetUp(WLMPotential);
PETSC_EXTERN PetscErrorCode WLMPotentialView(WLMPotential, PetscViewer);
PETSC_EXTERN PetscErrorCode WLMPotentialDestroy(WLMPotential *);

PETSC_EXTERN PetscErrorCode WLMPotentialGetNumParameters(WLMPotential, PetscInt *);
PETSC_EXTERN PetscErrorCode WLMPotentialGetParameters(WLMPotential, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMPotentialSetParameters(WLMPotential, const PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMPotentialGetParameterArray(WLMPotential, PetscReal **);
PETSC_EXTERN PetscErrorCode WLMPotentialInitializeParameters(WLMPotential, uint64_t);

PETSC_EXTERN PetscErrorCode WLMPotentialComputeEnergy(WLMPotential, PetscReal, PetscInt, const PetscReal[], const PetscReal[], PetscReal *);
PETSC_EXTERN PetscErrorCode WLMPotentialComputeForces(WLMPotential, PetscReal, PetscInt, const PetscReal[], const PetscReal[], PetscReal *, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMPotentialComputeProducts(WLMPotential, PetscReal, PetscInt, const PetscReal[], const PetscReal[], const PetscReal[], PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMPotentialComputeForcesAndProducts(WLMPotential, PetscReal, PetscInt, const PetscReal[], const PetscReal[], const PetscReal[], PetscReal *, PetscReal[], PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMPotentialComputeParameterGradient(WLMPotential, PetscReal, PetscInt, const PetscReal[], const PetscReal[], PetscReal *, PetscReal[]);

/* Smooth activations of the dense layers (GELU in its tanh form). */
typedef enum {
  WLM_ACTIVATION_SILU,
  WLM_ACTIVATION_TANH,
  WLM_ACTIVATION_SOFTPLUS,
  WLM_ACTIVATION_GELU
} WLMActivation;
PETSC_EXTERN const char *const WLMActivations[];

/* Input of the pair network W of the meanfield model: |x_i - x_j|^2, or the difference x_i - x_j made even by averaging W(r) and W(-r). */
typedef enum {
  WLM_PAIR_INPUT_DISTANCE2,
  WLM_PAIR_INPUT_DIFFERENCE
} WLMPairInput;
PETSC_EXTERN const char *const WLMPairInputs[];

/* Hyperparameters of the model types; call after WLMPotentialSetType() and before WLMPotentialSetUp(). */
PETSC_EXTERN PetscErrorCode WLMPotentialSetHidden(WLMPotential, PetscInt, const PetscInt[]);
PETSC_EXTERN PetscErrorCode WLMPotentialSetActivation(WLMPotential, WLMActivation);
PETSC_EXTERN PetscErrorCode WLMPotentialMeanfieldSetExternal(WLMPotential, PetscBool);
PETSC_EXTERN PetscErrorCode WLMPotentialMeanfieldSetPairHidden(WLMPotential, PetscInt, const PetscInt[]);
PETSC_EXTERN PetscErrorCode WLMPotentialMeanfieldSetPairActivation(WLMPotential, WLMActivation);
PETSC_EXTERN PetscErrorCode WLMPotentialMeanfieldSetPairInput(WLMPotential, WLMPairInput);
PETSC_EXTERN PetscErrorCode WLMPotentialMeanfieldSetCutoff(WLMPotential, PetscReal);
PETSC_EXTERN PetscErrorCode WLMPotentialMeanfieldSetBatch(WLMPotential, PetscInt);
PETSC_EXTERN PetscErrorCode WLMPotentialMeanfieldSetBatchSeed(WLMPotential, uint64_t);
PETSC_EXTERN PetscErrorCode WLMPotentialAttentionSetSizes(WLMPotential, PetscInt, PetscInt, PetscInt, PetscInt, PetscInt);
PETSC_EXTERN PetscErrorCode WLMPotentialAttentionSetScoreMemory(WLMPotential, PetscReal);

/* How sharded evaluations of interacting types meet remote partners: gathered on every rank, or blocks around a ring. */
typedef enum {
  WLM_POTENTIAL_EXCHANGE_AUTO,
  WLM_POTENTIAL_EXCHANGE_GATHER,
  WLM_POTENTIAL_EXCHANGE_RING
} WLMPotentialExchange;
PETSC_EXTERN const char *const WLMPotentialExchanges[];
PETSC_EXTERN PetscErrorCode    WLMPotentialSetExchange(WLMPotential, WLMPotentialExchange, PetscInt);
PETSC_EXTERN PetscErrorCode    WLMPotentialGetExchange(WLMPotential, WLMPotentialExchange *, PetscInt *);

PETSC_EXTERN PetscErrorCode WLMPotentialSave(WLMPotential, hid_t);
PETSC_EXTERN PetscErrorCode WLMPotentialLoad(MPI_Comm, hid_t, WLMPotential *);

#endif
