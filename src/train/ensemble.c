/*
   Two-level decomposition of the trainer's ranks: P ranks form P / R groups
   of R consecutive ranks (-wlm_ensemble_ranks R).

     group g = rank / R,   rank within the group q = rank mod R.

   Each group runs rollouts j = g, g + P/R, ... < B of a step.  Within a group
   the particles of one rollout are sharded.  Every rank of the group draws the
   same horizon, start snapshot and particle subsample of n particles, because
   the stream is seeded by (seed, step, j) alone.  Each rank then keeps the
   contiguous block of rows

     [lo_q, hi_q),   lo_q = q floor(n / R) + min(q, n mod R),

   so the potential, the dynamics and the loss, created on the group
   communicator, see the whole rollout population exactly once.  The
   parameter gradient of each rank is its share of the rollout's gradient, so
   the trainer's one allreduce over all P ranks sums shares into whole
   rollout gradients and those over the rollouts; only the first rank of a
   group adds the rollout's loss and count, so the division by the count
   averages over rollouts.  With R = 1 every group is one rank and the
   trainer runs exactly the data-parallel algorithm.

   The snapshot data follows -wlm_data_distribution (distribution.c): with
   sharded data, the default when R > 1, each rank holds the block
   [lo_q, hi_q) of every whole snapshot and its start velocities, and fetches
   the rows of its share of a subsample from their owners, so the data costs
   N d / R reals per rank as the rollout does.

   NOTE: every rank still draws the whole subsample, an index list of N
   entries (perm), whatever the data distribution.
*/
#include <wlm/private/trainimpl.h>

/*@
  WLMTrainerSetEnsembleRanks - Sets the number R of ranks that share the particles of one rollout.

  Logically Collective

  Input Parameters:
+ tr    - the trainer
- ranks - R >= 1; the rank count must be a multiple of R

  Options Database Key:
. -wlm_ensemble_ranks <1> - R
@*/
PetscErrorCode WLMTrainerSetEnsembleRanks(WLMTrainer tr, PetscInt ranks)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(tr, WLMTRAINER_CLASSID, 1);
  tr->ensemble_ranks = ranks;
  PetscFunctionReturn(0);
}

/*
  WLMTrainerSetUpEnsemble - Checks -wlm_ensemble_ranks against the rank count and splits the communicator into groups.

  Collective

  Notes:
  Also resolves the default of -wlm_batch_rollouts, one rollout per group.
*/
PetscErrorCode WLMTrainerSetUpEnsemble(WLMTrainer tr)
{
  MPI_Comm    comm = PetscObjectComm((PetscObject)tr);
  PetscMPIInt size, rank, R;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCheck(tr->ensemble_ranks >= 1 && tr->ensemble_ranks <= size && size % tr->ensemble_ranks == 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-wlm_ensemble_ranks %" PetscInt_FMT " is invalid with %d ranks; the rank count must be a multiple of it (use a divisor of %d, or 1 for one rollout population per rank)", tr->ensemble_ranks, size, size);
  PetscCall(PetscMPIIntCast(tr->ensemble_ranks, &R));
  tr->group       = rank / R;
  tr->ngroups     = size / R;
  tr->group_rank  = rank % R;
  tr->group_size  = R;
  if (tr->batch_rollouts == PETSC_DECIDE) tr->batch_rollouts = tr->ngroups;
  if (tr->group_comm == MPI_COMM_NULL) PetscCallMPI(MPI_Comm_split(comm, tr->group, tr->group_rank, &tr->group_comm));
  PetscFunctionReturn(0);
}

/* Frees the group communicator. */
PetscErrorCode WLMTrainerDestroyEnsemble(WLMTrainer tr)
{
  PetscFunctionBeginUser;
  if (tr->group_comm != MPI_COMM_NULL) PetscCallMPI(MPI_Comm_free(&tr->group_comm));
  PetscFunctionReturn(0);
}

/*
  WLMTrainerShareRange - Returns this rank's block [lo, hi) of n particles shared by its group.
*/
void WLMTrainerShareRange(WLMTrainer tr, PetscInt n, PetscInt *lo, PetscInt *hi)
{
  *lo = WLMTrainerBlockStart(n, tr->group_size, tr->group_rank);
  *hi = WLMTrainerBlockStart(n, tr->group_size, tr->group_rank + 1);
}

/* First row of the block of rank q of R in the split of n rows; q = R gives n. */
PetscInt WLMTrainerBlockStart(PetscInt n, PetscInt R, PetscInt q)
{
  return q * (n / R) + PetscMin(q, n % R);
}

/* Largest block of n particles on one rank of a group. */
PetscInt WLMTrainerShareMax(WLMTrainer tr, PetscInt n)
{
  return (n + tr->group_size - 1) / tr->group_size;
}

/* Rejects the modes that run one whole population per rank when the particles are sharded. */
PetscErrorCode WLMTrainerCheckWholePopulation(WLMTrainer tr, const char mode[])
{
  PetscFunctionBeginUser;
  PetscCheck(tr->group_size == 1, PetscObjectComm((PetscObject)tr), PETSC_ERR_SUP, "The %s mode integrates one whole population per rank; run it with -wlm_ensemble_ranks 1 (the trained model does not depend on R)", mode);
  PetscFunctionReturn(0);
}
