/*
   Distribution of the snapshot data over the trainer's ranks
   (-wlm_data_distribution).

     replicated  every rank stores all N_s rows of every snapshot s and the
                 start velocities v0[s] of all of them
     sharded     the snapshots are loaded on the group communicator, and rank q
                 of a group of R ranks stores the rows [lo_q, hi_q) of every
                 snapshot, with the split of WLMTrainerBlockStart(),

                   lo_q = q floor(N_s / R) + min(q, N_s mod R),

                 and v0[s] contains the start velocities of the same rows.
     auto        sharded when R > 1, replicated otherwise

   Every draw of the trainer (rollout particles, loss targets, evaluation
   subsamples) is a list of global row indices that depends only on the seed,
   never on R or on the distribution.  WLMTrainerFetchRows() turns such a list
   into rows.  With replicated data it copies them.  With sharded data it is a
   collective of the group in three exchanges,

     MPI_Alltoall    how many rows each rank requests of each owner
     MPI_Alltoallv   the requested rows, as indices within the owner's block
     MPI_Alltoallv   the rows themselves, back in the order of the requests,

   so a rank receives exactly the rows it requested and the data of one
   group costs N_s d / R reals per rank.  Large requests run in rounds of
   bounded size, so a fetch needs no second copy of the rows it returns.
   Because rows are copied, never combined, the fetched arrays equal the
   replicated ones bit for bit.  WLMTrainerFetchShareRows() serves rows of a
   cloud split over the group in the same blocks under either distribution,
   such as the predicted clouds of an evaluation (evaluate.c).
*/
#include <wlm/private/trainimpl.h>

/*@
  WLMTrainerSetDataDistribution - Sets how the snapshot data is distributed over the ranks.

  Logically Collective

  Input Parameters:
+ tr   - the trainer
- dist - WLM_DATA_AUTO (sharded when -wlm_ensemble_ranks > 1), WLM_DATA_REPLICATED or WLM_DATA_SHARDED

  Options Database Key:
. -wlm_data_distribution <auto> - auto, replicated or sharded

  Notes:
  Sharded data stores one copy per group of -wlm_ensemble_ranks R ranks, N / R
  rows per rank.  It does not support -wlm_velocity ot and dice, because
  their estimators need whole snapshots on every rank.  Set-up then fails
  with a message that names both ways out.  The trained model does not depend on the
  distribution.
@*/
PetscErrorCode WLMTrainerSetDataDistribution(WLMTrainer tr, WLMDataDistribution dist)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(tr, WLMTRAINER_CLASSID, 1);
  tr->data_distribution = dist;
  PetscFunctionReturn(0);
}

/*
  WLMTrainerResolveDataDistribution - Decides between replicated and sharded data.  Call it after WLMTrainerSetUpEnsemble(), which forms the groups.
*/
PetscErrorCode WLMTrainerResolveDataDistribution(WLMTrainer tr)
{
  PetscFunctionBeginUser;
  PetscCheck(tr->data_distribution >= WLM_DATA_AUTO && tr->data_distribution <= WLM_DATA_SHARDED, PetscObjectComm((PetscObject)tr), PETSC_ERR_ARG_OUTOFRANGE, "Data distribution %d is invalid; use WLM_DATA_AUTO, WLM_DATA_REPLICATED or WLM_DATA_SHARDED", (int)tr->data_distribution);
  if (tr->data_distribution == WLM_DATA_AUTO) tr->sharded = (PetscBool)(tr->group_size > 1);
  else tr->sharded = (PetscBool)(tr->data_distribution == WLM_DATA_SHARDED);
  PetscFunctionReturn(0);
}

/* Rank of the group that stores global row i of an n-row snapshot (the split of WLMTrainerShareRange()). */
static PetscMPIInt RowOwner(PetscInt n, PetscMPIInt R, PetscInt i)
{
  const PetscInt base = n / R, extra = n % R, split = extra * (base + 1);

  if (i < split) return (PetscMPIInt)(i / (base + 1));
  return (PetscMPIInt)(extra + (i - split) / base);
}

/*
  Largest exchange of one round, in reals served by one rank.  A round moves at most
  WLM_FETCH_ROUND_REALS / (R nsrc dim) requested rows per rank.  A rank's buffers therefore
  stay below 8 MB for the rows it serves and 8 / R MB for those it receives, however many rows
  are requested.
*/
#define WLM_FETCH_ROUND_REALS 1048576

/*
  One round of a fetch: the rows idx[0..count-1] of nsrc arrays that share one n-row layout and have
  dim columns.  src[a] contains this rank's rows and out[a] receives [count][dim].  Collective over the group.
*/
static PetscErrorCode ExchangeRows(WLMTrainer tr, PetscInt n, PetscInt nsrc, const PetscReal *const src[], PetscInt count, const PetscInt idx[], PetscReal *const out[])
{
  const PetscInt    dim = tr->dim;
  const PetscMPIInt R   = tr->group_size;
  PetscMPIInt      *scount, *sdispl, *rcount, *rdispl;
  PetscInt         *fill, *order, *ask, *serve, nserve = 0;
  PetscReal        *rows, *back;

  PetscFunctionBeginUser;
  /* requests grouped by owner: order[k] is the request whose row comes k-th in the owners' order */
  PetscCall(PetscCalloc4(R, &scount, R + 1, &sdispl, R, &rcount, R + 1, &rdispl));
  PetscCall(PetscMalloc3(R, &fill, count, &order, count, &ask));
  for (PetscInt i = 0; i < count; i++) scount[RowOwner(n, R, idx[i])]++;
  for (PetscMPIInt q = 0; q < R; q++) sdispl[q + 1] = sdispl[q] + scount[q];
  for (PetscMPIInt q = 0; q < R; q++) fill[q] = sdispl[q];
  for (PetscInt i = 0; i < count; i++) {
    const PetscMPIInt q = RowOwner(n, R, idx[i]);

    order[fill[q]] = i;
    ask[fill[q]++] = idx[i] - WLMTrainerBlockStart(n, R, q);
  }
  PetscCallMPI(MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, tr->group_comm));
  for (PetscMPIInt q = 0; q < R; q++) rdispl[q + 1] = rdispl[q] + rcount[q];
  nserve = rdispl[R];
  PetscCall(PetscMalloc3(nserve, &serve, nserve * nsrc * dim, &rows, count * nsrc * dim, &back));
  PetscCallMPI(MPI_Alltoallv(ask, scount, sdispl, MPIU_INT, serve, rcount, rdispl, MPIU_INT, tr->group_comm));

  /* serve the rows requested of this rank, the nsrc arrays side by side in one row of nsrc * dim reals */
  for (PetscInt j = 0; j < nserve; j++) {
    for (PetscInt a = 0; a < nsrc; a++) PetscCall(PetscArraycpy(rows + (j * nsrc + a) * dim, src[a] + serve[j] * dim, dim));
  }
  for (PetscMPIInt q = 0; q <= R; q++) {
    PetscCall(PetscMPIIntCast((PetscInt64)sdispl[q] * nsrc * dim, &sdispl[q]));
    PetscCall(PetscMPIIntCast((PetscInt64)rdispl[q] * nsrc * dim, &rdispl[q]));
  }
  for (PetscMPIInt q = 0; q < R; q++) {
    scount[q] = sdispl[q + 1] - sdispl[q];
    rcount[q] = rdispl[q + 1] - rdispl[q];
  }
  PetscCallMPI(MPI_Alltoallv(rows, rcount, rdispl, MPIU_REAL, back, scount, sdispl, MPIU_REAL, tr->group_comm));
  for (PetscInt k = 0; k < count; k++) {
    for (PetscInt a = 0; a < nsrc; a++) PetscCall(PetscArraycpy(out[a] + order[k] * dim, back + (k * nsrc + a) * dim, dim));
  }
  PetscCall(PetscFree3(serve, rows, back));
  PetscCall(PetscFree3(fill, order, ask));
  PetscCall(PetscFree4(scount, sdispl, rcount, rdispl));
  PetscFunctionReturn(0);
}

/*
  Fetches the rows idx[0..count-1] of nsrc <= 2 arrays that share one n-row layout, in rounds of
  bounded size.  With blocks true, src[a] contains this rank's block [lo, hi) of the group split
  (sharded data, or the shares of a predicted cloud).  Otherwise it contains all n rows.  out[a]
  receives [count][dim].  Collective over the group when blocks is true and the group has several ranks.
*/
static PetscErrorCode FetchRowsOf(WLMTrainer tr, PetscBool blocks, PetscInt n, PetscInt nsrc, const PetscReal *const src[], PetscInt count, const PetscInt idx[], PetscReal *const out[])
{
  const PetscInt dim = tr->dim;
  PetscInt       chunk, max_count = count;
  PetscReal     *part[2];

  PetscFunctionBeginUser;
  PetscCheck(nsrc >= 1 && nsrc <= 2, PETSC_COMM_SELF, PETSC_ERR_PLIB, "A fetch takes 1 or 2 source arrays, not %" PetscInt_FMT, nsrc);
  for (PetscInt i = 0; i < count; i++) PetscCheck(idx[i] >= 0 && idx[i] < n, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Row %" PetscInt_FMT " requested of a snapshot with %" PetscInt_FMT " rows; request rows 0 to %" PetscInt_FMT, idx[i], n, n - 1);
  if (!blocks || tr->group_size == 1) {
    for (PetscInt a = 0; a < nsrc; a++) {
      for (PetscInt i = 0; i < count; i++) PetscCall(PetscArraycpy(out[a] + i * dim, src[a] + idx[i] * dim, dim));
    }
    PetscFunctionReturn(0);
  }

  /* every rank of the group runs as many rounds as the rank with the largest request */
  PetscCall(PetscLogEventBegin(WLMTRAIN_Fetch, 0, 0, 0, 0));
  chunk = tr->fetch_round_rows > 0 ? tr->fetch_round_rows : PetscMax(1, WLM_FETCH_ROUND_REALS / (tr->group_size * nsrc * dim));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, &max_count, 1, MPIU_INT, MPI_MAX, tr->group_comm));
  for (PetscInt first = 0; first < max_count; first += chunk) {
    const PetscInt m = PetscMax(0, PetscMin(count - first, chunk)), offset = PetscMin(first, count) * dim;

    for (PetscInt a = 0; a < nsrc; a++) part[a] = m > 0 ? out[a] + offset : out[a];
    PetscCall(ExchangeRows(tr, n, nsrc, src, m, idx + PetscMin(first, count), part));
  }
  PetscCall(PetscLogEventEnd(WLMTRAIN_Fetch, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerFetchRows - Copies the positions of the given rows of a snapshot, wherever they live.

  Collective over the trainer's group when the data is sharded; every rank of the group calls it, with its own request (possibly empty)

  Input Parameters:
+ tr    - the set-up trainer
. s     - snapshot index
. count - rows this rank requests
- idx   - their global row indices within the snapshot, 0 <= idx[i] < N_s, repeats allowed

  Output Parameter:
. out - positions [count][dim], out[i] the row idx[i]
@*/
PetscErrorCode WLMTrainerFetchRows(WLMTrainer tr, PetscInt s, PetscInt count, const PetscInt idx[], PetscReal out[])
{
  WLMSnapshot snap;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, s, &snap));
  PetscCall(FetchRowsOf(tr, tr->sharded, snap.N, 1, &snap.x, count, idx, &out));
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerFetchStartRows - Copies the positions and start velocities of the given rows of a snapshot that can start a rollout.

  Collective over the trainer's group when the data is sharded

  Input Parameters:
+ tr    - the set-up trainer
. s     - snapshot index, one with start velocities (a training snapshot)
. count - rows this rank requests
- idx   - their global row indices within the snapshot

  Output Parameters:
+ x - positions [count][dim]
- v - start velocities [count][dim]
@*/
PetscErrorCode WLMTrainerFetchStartRows(WLMTrainer tr, PetscInt s, PetscInt count, const PetscInt idx[], PetscReal x[], PetscReal v[])
{
  WLMSnapshot      snap;
  const PetscReal *src[2];
  PetscReal       *out[2] = {x, v};

  PetscFunctionBeginUser;
  PetscCheck(tr->v0[s], PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "Snapshot %" PetscInt_FMT " has no start velocities; only training snapshots start rollouts", s);
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, s, &snap));
  src[0] = snap.x;
  src[1] = tr->v0[s];
  PetscCall(FetchRowsOf(tr, tr->sharded, snap.N, 2, src, count, idx, out));
  PetscFunctionReturn(0);
}

/*
  WLMTrainerFetchShareRows - Copies the given rows of an n-row cloud that the ranks of the group hold in shares, such as a predicted cloud.

  Collective over the trainer's group when it has several ranks; every rank of the group calls it, with its own request (possibly empty)

  Input Parameters:
+ tr    - the set-up trainer
. n     - rows of the whole cloud
. share - this rank's rows [hi - lo][dim], [lo, hi) from WLMTrainerShareRange(tr, n, ...)
. count - rows this rank requests
- idx   - their global row indices, 0 <= idx[i] < n, repeats allowed

  Output Parameter:
. out - rows [count][dim], out[i] the row idx[i]

  Notes:
  The shares follow the group split under either -wlm_data_distribution,
  so the rows are exchanged whenever the group has several ranks.
*/
PetscErrorCode WLMTrainerFetchShareRows(WLMTrainer tr, PetscInt n, const PetscReal share[], PetscInt count, const PetscInt idx[], PetscReal out[])
{
  PetscFunctionBeginUser;
  PetscCall(FetchRowsOf(tr, PETSC_TRUE, n, 1, &share, count, idx, &out));
  PetscFunctionReturn(0);
}

/*
  WLMTrainerGetShareRows - Returns the positions and start velocities of this rank's share [lo, hi) of a whole snapshot (WLMTrainerShareRange()), without communication.

  Not Collective

  Notes:
  With sharded data the share is exactly the rank's block of the snapshot;
  with replicated data the pointers lead into the whole arrays.  v is NULL for a
  snapshot without start velocities.
*/
PetscErrorCode WLMTrainerGetShareRows(WLMTrainer tr, PetscInt s, const PetscReal **x, const PetscReal **v)
{
  WLMSnapshot snap;
  PetscInt    lo, hi;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, s, &snap));
  WLMTrainerShareRange(tr, snap.N, &lo, &hi);
  if (tr->sharded) {
    PetscCheck(snap.n == hi - lo && snap.start == lo, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Snapshot %" PetscInt_FMT " holds rows [%" PetscInt_FMT ", %" PetscInt_FMT ") on this rank, not the share [%" PetscInt_FMT ", %" PetscInt_FMT ")", s, snap.start, snap.start + snap.n, lo, hi);
    lo = 0;
  }
  *x = snap.x + lo * tr->dim;
  *v = tr->v0[s] ? tr->v0[s] + lo * tr->dim : NULL;
  PetscFunctionReturn(0);
}
