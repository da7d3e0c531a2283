/*
   WLMGenerator: synthetic populations with known mechanics, written as snapshots.

   Types:
     boids     N particles with unit speed; per step of length h the acceleration
                 a_i = c_coh mean_{j in O_i} (x_j - x_i) - c_sep sum_{j in I_i} (x_j - x_i)
                       + c_ali mean_{j in O_i} (v_j - v_i) - c_bnd sign(x_i) [componentwise where |x_ik| > L]
               (O_i, I_i the other particles closer than r_out and r_in) updates
                 v_i <- (v_i + h a_i) / |v_i + h a_i|,   x_i <- x_i + h v_i (+ sigma sqrt(h) xi).
     sde       gradient-flow SDE dX = -grad Psi(X) dt + sigma dW, X_0 ~ N(0, s0^2 I),
               Euler-Maruyama with a fixed sub-step, for five potentials Psi.
     harmonic  damped harmonic system with uniform masses:
                 dx_i/dt = v_i,  dv_i/dt = -k x_i - c (x_i - m) - gamma v_i,  m = mean_j x_j,
               integrated exactly (the mean and the deviations from it are damped oscillators).

   Every generator is deterministic for a given seed whatever the number of
   ranks: each particle owns a random stream numbered by its global index.
   The output carries every parameter as a root attribute named like its
   option without the leading "-wlm_" (generate_seed, generate_boids_noise, ...).
*/
#ifndef WLMGENERATE_H
#define WLMGENERATE_H

#include <petscsys.h>
#include <petscviewer.h>
#include <wlm/wlmsnapshots.h>

typedef struct _p_WLMGenerator *WLMGenerator;

typedef const char *WLMGeneratorType;
#define WLMGENERATORBOIDS    "boids"
#define WLMGENERATORSDE      "sde"
#define WLMGENERATORHARMONIC "harmonic"

/* Potentials Psi of the gradient-flow SDE generator. */
typedef enum {
  WLM_SDE_QUADRATIC,       /* 1/2 |x|^2 */
  WLM_SDE_STYBLINSKI_TANG, /* 1/2 sum_k (x_k^4 - 16 x_k^2 + 5 x_k) */
  WLM_SDE_BOHACHEVSKY,     /* x_1^2 + 2 x_2^2 - 0.3 cos(3 pi x_1) - 0.4 cos(4 pi x_2) + 0.7, d = 2 only */
  WLM_SDE_OAKLEY_OHAGAN,   /* sum_k x_k + sum_k x_k^2 + sum_{k>1} x_k x_{k-1} */
  WLM_SDE_WAVY_PLATEAU     /* sum_k sin(x_k) */
} WLMSDEPotential;
PETSC_EXTERN const char *const WLMSDEPotentials[];

/* Sampling of the SDE snapshots. */
typedef enum {
  WLM_SDE_TRAJECTORIES, /* one population followed through every snapshot */
  WLM_SDE_INDEPENDENT   /* every snapshot simulated from its own fresh draw of X_0 */
} WLMSDEMode;
PETSC_EXTERN const char *const WLMSDEModes[];

PETSC_EXTERN PetscClassId      WLMGENERATOR_CLASSID;
PETSC_EXTERN PetscFunctionList WLMGeneratorList;

PETSC_EXTERN PetscErrorCode WLMGeneratorInitializePackage(void);
PETSC_EXTERN PetscErrorCode WLMGeneratorRegister(const char[], PetscErrorCode (*)(WLMGenerator));

PETSC_EXTERN PetscErrorCode WLMGeneratorCreate(MPI_Comm, WLMGenerator *);
PETSC_EXTERN PetscErrorCode WLMGeneratorSetType(WLMGenerator, WLMGeneratorType);
PETSC_EXTERN PetscErrorCode WLMGeneratorGetType(WLMGenerator, WLMGeneratorType *);
PETSC_EXTERN PetscErrorCode WLMGeneratorSetNumParticles(WLMGenerator, PetscInt);
PETSC_EXTERN PetscErrorCode WLMGeneratorSetSnapshots(WLMGenerator, PetscInt, PetscReal);
PETSC_EXTERN PetscErrorCode WLMGeneratorSetDimension(WLMGenerator, PetscInt);
PETSC_EXTERN PetscErrorCode WLMGeneratorSetSeed(WLMGenerator, PetscInt);
PETSC_EXTERN PetscErrorCode WLMGeneratorSetVelocities(WLMGenerator, PetscBool);
PETSC_EXTERN PetscErrorCode WLMGeneratorSetOptionsPrefix(WLMGenerator, const char[]);
PETSC_EXTERN PetscErrorCode WLMGeneratorSetFromOptions(WLMGenerator);
PETSC_EXTERN PetscErrorCode WLMGeneratorSetUp(WLMGenerator);
PETSC_EXTERN PetscErrorCode WLMGeneratorGenerate(WLMGenerator, WLMSnapshots);
PETSC_EXTERN PetscErrorCode WLMGeneratorView(WLMGenerator, PetscViewer);
PETSC_EXTERN PetscErrorCode WLMGeneratorDestroy(WLMGenerator *);

PETSC_EXTERN PetscErrorCode WLMGeneratorBoidsSetNoise(WLMGenerator, PetscReal);
PETSC_EXTERN PetscErrorCode WLMGeneratorSDESetPotential(WLMGenerator, WLMSDEPotential);
PETSC_EXTERN PetscErrorCode WLMGeneratorSDESetMode(WLMGenerator, WLMSDEMode);
PETSC_EXTERN PetscErrorCode WLMGeneratorSDESetStep(WLMGenerator, PetscReal);
PETSC_EXTERN PetscErrorCode WLMGeneratorHarmonicSetParameters(WLMGenerator, PetscReal, PetscReal, PetscReal);

PETSC_EXTERN PetscErrorCode WLMSDEPotentialCompute(WLMSDEPotential, PetscInt, const PetscReal[], PetscReal *, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMDampedOscillatorPropagator(PetscReal, PetscReal, PetscReal, PetscReal[4]);

#endif
