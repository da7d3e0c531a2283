/*
   Internal layout of the meanfield potential, shared by meanfield.c (the
   type and the gathered exchange), meanfieldpairs.c (tiles of pairs through
   the pair MLP, and the random-batch shuffle) and meanfieldring.c (the ring
   exchange of blocks and the routing of random batches).

   A tile of pairs reads two sides of rows, MeanfieldRows: pair p joins row
   pi[p] of rows_i with row pj[p] of rows_j.  The gathered exchange points
   both sides at the whole population.  The ring points rows_i at this
   rank's particles and rows_j at the block of another rank, or both sides
   at the particles of the random batches that this rank owns.
*/
#ifndef WLMMEANFIELD_H
#define WLMMEANFIELD_H

#include <wlm/private/dense.h>

/* Pairs per tile: the MLP rows of one tile (two per pair for the difference input) stay in the L2 cache at width 64. */
#define MEANFIELD_TILE 256

typedef enum {
  PAIR_ENERGY,
  PAIR_FORCES,
  PAIR_PRODUCTS,
  PAIR_PARAMETERS /* energy and parameter gradient */
} PairPass;

/* One side of the pairs of a tile. */
typedef struct {
  const PetscReal *x;      /* positions [rows][dim] */
  const PetscReal *lambda; /* cotangents [rows][dim], read by the products pass only */
  const PetscReal *w;      /* masses [rows] */
  PetscReal       *g;      /* accumulated sigma grad W, forces and products passes [rows][dim] */
  PetscReal       *h;      /* accumulated sigma Hess W (Lambda_i - Lambda_j), products pass [rows][dim] */
} MeanfieldRows;

/* Workspace of the ring exchange: arrays sized by this rank's particles, a block, or the batches this rank owns, never by N. */
typedef struct {
  PetscInt     cap_local, cap_block, cap_route; /* capacities: own particles, reals per block buffer, routed particles */
  PetscReal   *w;                /* masses of this rank's particles [n] */
  PetscReal   *g, *h;            /* sums of this rank's particles [n][dim] */
  PetscReal   *block[2];         /* the block in use and the one being received */
  PetscReal   *sumsend[2];       /* sums of the blocks' particles, one in flight and one being computed */
  PetscReal   *sumrecv;          /* sums of this rank's particles from another rank */
  PetscReal   *send, *recv;      /* random batches: records routed to and from the batch owners */
  PetscReal   *bx, *bl, *bw;     /* random batches: positions, cotangents and masses of this rank's batches */
  PetscReal   *bg, *bh;          /* random batches: sums of this rank's batches */
  PetscInt    *sendidx;          /* random batches: the local index of each record sent [n] */
  PetscMPIInt *scounts, *sdispls, *rcounts, *rdispls; /* random batches: MPI_Alltoallv counts and offsets [size] */
} MeanfieldRing;

typedef struct {
  PetscBool       external; /* include the external field V */
  WLMExternalPart part;     /* V */
  PetscInt        pair_nlayers;
  PetscInt        pair_width[WLM_MLP_MAX_LAYERS];
  WLMActivation   pair_activation;
  WLMPairInput    pair_input;
  PetscReal       cutoff; /* R; 0 for no cutoff */
  WLMMLP          pair;   /* M */

  /* random batches */
  PetscInt  batch;          /* K; 0 for all pairs */
  uint64_t  batch_seed;     /* seed of the shuffles, with t */
  PetscReal pair_scale;     /* s of the current call, 1 without batches */
  PetscInt *order;          /* the shuffled particle order [order_capacity] */
  PetscInt  order_capacity; /* capacity of order in particles */

  /* one tile of pairs */
  MeanfieldRows rows_i, rows_j;                 /* sides of the pairs: pi indexes rows_i, pj rows_j */
  PetscInt     *pi, *pj;                        /* row indices [MEANFIELD_TILE] */
  PetscReal    *r, *delta;                      /* x_i - x_j and Lambda_i - Lambda_j [MEANFIELD_TILE][dim] */
  PetscReal    *sigma, *sdot, *c0, *c1, *c2;    /* w_i w_j, d|r|^2 along Lambda, c and its derivatives [MEANFIELD_TILE] */
  PetscReal    *ybar, *dybar;                   /* seeds of M and their tangents [2 MEANFIELD_TILE] */

  /* the population on every rank, gathered exchange only */
  PetscInt     capacity;       /* particles the buffers hold */
  PetscReal   *xall, *lall;    /* positions and cotangents [N][dim] */
  PetscReal   *wall;           /* masses [N] */
  PetscReal   *gall, *hall;    /* grad U and H Lambda of all particles [N][dim] */
  PetscReal   *share;          /* this rank's block after the reduction [n][dim] */
  PetscMPIInt *counts, *displs;   /* particle counts and offsets of the ranks, in reals */
  PetscMPIInt *pcounts, *pdispls; /* the same in particles */

  MeanfieldRing ring;
} Meanfield;

PETSC_INTERN PetscErrorCode MeanfieldTile(WLMPotential, PairPass, PetscReal, PetscInt, PetscReal *, PetscReal *);
PETSC_INTERN PetscErrorCode MeanfieldAddPair(WLMPotential, PairPass, PetscReal, PetscInt, PetscInt, PetscInt *, PetscReal *, PetscReal *);
PETSC_INTERN PetscErrorCode MeanfieldReserveOrder(WLMPotential, PetscInt);
PETSC_INTERN void           MeanfieldBatchShuffle(Meanfield *, PetscReal, PetscInt);
PETSC_INTERN PetscErrorCode MeanfieldRingPairSum(WLMPotential, PairPass, PetscReal, PetscInt, const PetscReal[], const PetscReal[], PetscReal, const PetscReal[], PetscInt, PetscInt, PetscInt, PetscReal *, PetscReal[]);
PETSC_INTERN PetscErrorCode MeanfieldRingDestroy(MeanfieldRing *);

#endif
