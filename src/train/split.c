/*
   Protocols: which snapshots train the model and which test it.

     forecast     training snapshots 0..K-1 with K = floor(f T) (at least 2),
                  test snapshots K..T-1
     interpolate  training snapshots: all except the held-out indices H;
                  test snapshots: H; 0 cannot be held out because every
                  held-out snapshot is predicted from an earlier training one
*/
#include <wlm/private/trainimpl.h>

/* Checks the held-out list: in range, not 0, no repeats. */
static PetscErrorCode CheckHoldout(WLMTrainer tr)
{
  MPI_Comm comm = PetscObjectComm((PetscObject)tr);

  PetscFunctionBeginUser;
  PetscCheck(tr->nholdout > 0, comm, PETSC_ERR_ARG_WRONG, "-wlm_protocol interpolate needs held-out snapshots; pass -wlm_holdout, for example -wlm_holdout 1,3,5,7");
  for (PetscInt i = 0; i < tr->nholdout; i++) {
    const PetscInt h = tr->holdout[i];

    PetscCheck(h != 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_holdout contains 0; the first snapshot must stay in training because held-out snapshots are predicted from an earlier one");
    PetscCheck(h > 0 && h < tr->nsnap, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_holdout index %" PetscInt_FMT " is out of range; the data file has snapshots 0..%" PetscInt_FMT, h, tr->nsnap - 1);
    for (PetscInt j = 0; j < i; j++) PetscCheck(tr->holdout[j] != h, comm, PETSC_ERR_ARG_WRONG, "-wlm_holdout lists snapshot %" PetscInt_FMT " twice", h);
  }
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerSplitSnapshots - Fills the training and test index lists from the protocol and checks that training is possible.

  Collective
@*/
PetscErrorCode WLMTrainerSplitSnapshots(WLMTrainer tr)
{
  MPI_Comm comm = PetscObjectComm((PetscObject)tr);
  PetscInt ntrain;

  PetscFunctionBeginUser;
  PetscCall(PetscFree2(tr->train, tr->test));
  PetscCall(PetscMalloc2(tr->nsnap, &tr->train, tr->nsnap, &tr->test));
  tr->ntrain = tr->ntest = 0;

  if (tr->protocol == WLM_PROTOCOL_FORECAST) {
    PetscCheck(tr->train_fraction > 0 && tr->train_fraction <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_train_fraction %g is invalid; use a value in (0, 1]", (double)tr->train_fraction);
    ntrain = (PetscInt)PetscFloorReal(tr->train_fraction * tr->nsnap + 1e-9);
    PetscCheck(ntrain >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_train_fraction %g leaves %" PetscInt_FMT " training snapshot(s) of %" PetscInt_FMT "; training needs at least 2, so raise the fraction", (double)tr->train_fraction, ntrain, tr->nsnap);
    for (PetscInt s = 0; s < tr->nsnap; s++) {
      if (s < ntrain) tr->train[tr->ntrain++] = s;
      else tr->test[tr->ntest++] = s;
    }
  } else {
    PetscCall(CheckHoldout(tr));
    for (PetscInt s = 0; s < tr->nsnap; s++) {
      PetscBool held = PETSC_FALSE;

      for (PetscInt i = 0; i < tr->nholdout; i++) held = (PetscBool)(held || tr->holdout[i] == s);
      if (held) tr->test[tr->ntest++] = s;
      else tr->train[tr->ntrain++] = s;
    }
    PetscCheck(tr->ntrain >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_holdout leaves %" PetscInt_FMT " training snapshot(s); training needs at least 2", tr->ntrain);
  }

  if (tr->horizon_max <= 0 || tr->horizon_max > tr->ntrain - 1) tr->horizon_max = tr->ntrain - 1;
  PetscCheck(tr->horizon_min >= 1 && tr->horizon_min <= tr->horizon_max, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_horizon_min %" PetscInt_FMT " is invalid; use a value from 1 to the horizon cap %" PetscInt_FMT, tr->horizon_min, tr->horizon_max);
  PetscFunctionReturn(0);
}
