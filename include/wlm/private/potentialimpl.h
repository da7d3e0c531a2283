/*
   Implementation side of WLMPotential: the operations table a model type fills
   in its create function, and the fields shared by every type.
*/
#ifndef WLMPOTENTIALIMPL_H
#define WLMPOTENTIALIMPL_H

#include <wlm/wlmpotential.h>
#include <petsc/private/petscimpl.h>

PETSC_EXTERN PetscLogEvent WLMPOTENTIAL_Energy, WLMPOTENTIAL_Forces, WLMPOTENTIAL_Products, WLMPOTENTIAL_ForcesProducts, WLMPOTENTIAL_ParameterGradient;
/* Inside the calls above: attention kernels over all particles, and MPI exchanges of sharded evaluations. */
PETSC_EXTERN PetscLogEvent WLMPOTENTIAL_Attention, WLMPOTENTIAL_Communication;

typedef struct _WLMPotentialOps *WLMPotentialOps;
struct _WLMPotentialOps {
  PetscErrorCode (*setfromoptions)(WLMPotential, PetscOptionItems *);
  PetscErrorCode (*setup)(WLMPotential);             /* size parameters and workspaces */
  PetscErrorCode (*view)(WLMPotential, PetscViewer);
  PetscErrorCode (*destroy)(WLMPotential);
  PetscErrorCode (*initialize)(WLMPotential, uint64_t); /* deterministic random parameters */
  PetscErrorCode (*energy)(WLMPotential, PetscReal, PetscInt, const PetscReal *, const PetscReal *, PetscReal *);
  PetscErrorCode (*forces)(WLMPotential, PetscReal, PetscInt, const PetscReal *, const PetscReal *, PetscReal *, PetscReal *);
  PetscErrorCode (*products)(WLMPotential, PetscReal, PetscInt, const PetscReal *, const PetscReal *, const PetscReal *, PetscReal *, PetscReal *);
  /* optional: U, F and both products from one pass; U, F, gradx and gradtheta may each be NULL */
  PetscErrorCode (*forcesproducts)(WLMPotential, PetscReal, PetscInt, const PetscReal *, const PetscReal *, const PetscReal *, PetscReal *, PetscReal *, PetscReal *, PetscReal *);
  /* optional: U (may be NULL) and this rank's share of grad_theta U added to gradtheta */
  PetscErrorCode (*parametergradient)(WLMPotential, PetscReal, PetscInt, const PetscReal *, const PetscReal *, PetscReal *, PetscReal *);
  PetscErrorCode (*save)(WLMPotential, hid_t); /* hyperparameters as attributes */
  PetscErrorCode (*load)(WLMPotential, hid_t); /* read hyperparameters before set-up */
};

struct _p_WLMPotential {
  PETSCHEADER(struct _WLMPotentialOps);
  PetscInt   dim;           /* spatial dimension d */
  PetscBool  time_input;    /* U depends on t */
  PetscInt   nparam;        /* length of theta, known after set-up */
  PetscReal *theta;         /* parameters, owned by the object */
  PetscInt   max_local;     /* workspace capacity in particles per rank */
  PetscInt   max_global;    /* workspace capacity in particles over the communicator */
  PetscInt   seed;          /* seed of the last parameter initialization */
  WLMPotentialExchange exchange; /* remote partners of interacting types: gather or ring (exchange.c) */
  PetscInt   ring_min;      /* auto: smallest N over the communicator that uses the ring */
  PetscBool  setupcalled;
  void      *data;          /* type-specific context */
};

/* Mass of each particle when the caller passes no masses: 1/N with N the particle count over the communicator. */
PETSC_EXTERN PetscErrorCode WLMPotentialGetUniformMass(WLMPotential, PetscInt, PetscReal *);
PETSC_EXTERN PetscErrorCode WLMPotentialUseRing(WLMPotential, PetscInt, PetscBool *);

#endif
