/* DICE velocity estimate (action matching); written once the external potential type exists. */
#include <wlm/private/velocityimpl.h>

PetscErrorCode WLMVelocitySetFromOptions_DICE(WLMVelocity vel, PetscOptionItems *PetscOptionsObject)
{
  PetscFunctionBeginUser;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMVelocitySetUp_DICE(WLMVelocity vel)
{
  PetscFunctionBeginUser;
  SETERRQ(PetscObjectComm((PetscObject)vel), PETSC_ERR_SUP, "-wlm_velocity dice is not available yet; use data, zero or ot");
}

PetscErrorCode WLMVelocityCompute_DICE(WLMVelocity vel, PetscInt s, PetscReal v[])
{
  PetscFunctionBeginUser;
  SETERRQ(PETSC_COMM_SELF, PETSC_ERR_SUP, "-wlm_velocity dice is not available yet");
}

PetscErrorCode WLMVelocityReset_DICE(WLMVelocity vel)
{
  PetscFunctionBeginUser;
  PetscFunctionReturn(0);
}
