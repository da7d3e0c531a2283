/* Interface between the Wasserstein drivers and the network simplex solver of this folder. */
#ifndef WLM_TRANSPORT_NETWORKSIMPLEX_H
#define WLM_TRANSPORT_NETWORKSIMPLEX_H

#include <petscsys.h>
#include <stdint.h>

PETSC_EXTERN PetscLogEvent WLMTRANSPORT_Solve, WLMTRANSPORT_Gather;

/* Counters of one solve, for logs and benchmarks. */
typedef struct {
  PetscInt64 pivots;       /* basis changes */
  PetscInt64 degenerate;   /* pivots that moved no mass */
  PetscInt64 priced;       /* reduced costs computed while searching entering arcs */
  PetscInt   recomputes;   /* full recomputations of the potentials */
} WLMTransportStats;

PETSC_INTERN PetscErrorCode WLMTransportNetworkSimplex(PetscInt, PetscInt, PetscInt, const PetscReal[], const int64_t[], PetscInt, const PetscReal[], const int64_t[], PetscReal *, WLMTransportStats *);

#endif
