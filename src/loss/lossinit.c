/* Registration of the WLMLoss class, its loss types and its log events. */
#include <wlm/private/lossimpl.h>

PetscClassId      WLMLOSS_CLASSID;
PetscFunctionList WLMLossList = NULL;
PetscLogEvent     WLMLOSS_Compute, WLMLOSS_Gather, WLMLOSS_PairSums, WLMLOSS_Allreduce, WLMLOSS_EstimateBlur, WLMLOSS_RingExchange;

PETSC_EXTERN PetscErrorCode WLMLossCreate_Sinkhorn(WLMLoss);
PETSC_EXTERN PetscErrorCode WLMLossCreate_MMDGaussian(WLMLoss);
PETSC_EXTERN PetscErrorCode WLMLossCreate_Energy(WLMLoss);

static PetscBool WLMLossPackageInitialized = PETSC_FALSE;

/*@
  WLMLossRegister - Adds a loss type, so that WLMLossSetType() and -wlm_loss_type can select it.

  Not Collective

  Input Parameters:
+ name   - type name
- create - function that fills in the operations table of a new loss
@*/
PetscErrorCode WLMLossRegister(const char name[], PetscErrorCode (*create)(WLMLoss))
{
  PetscFunctionBeginUser;
  PetscCall(WLMLossInitializePackage());
  PetscCall(PetscFunctionListAdd(&WLMLossList, name, create));
  PetscFunctionReturn(0);
}

/* Frees the type list; called by PetscFinalize(). */
static PetscErrorCode WLMLossFinalizePackage(void)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFunctionListDestroy(&WLMLossList));
  WLMLossPackageInitialized = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*@
  WLMLossInitializePackage - Registers the WLMLoss class, the built-in loss types and the log events; called by WLMInitializePackage().
@*/
PetscErrorCode WLMLossInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (WLMLossPackageInitialized) PetscFunctionReturn(0);
  WLMLossPackageInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("WLMLoss", &WLMLOSS_CLASSID));
  PetscCall(WLMLossRegister(WLMLOSSSINKHORN, WLMLossCreate_Sinkhorn));
  PetscCall(WLMLossRegister(WLMLOSSMMDGAUSSIAN, WLMLossCreate_MMDGaussian));
  PetscCall(WLMLossRegister(WLMLOSSENERGY, WLMLossCreate_Energy));
  PetscCall(PetscLogEventRegister("WLMLossCompute", WLMLOSS_CLASSID, &WLMLOSS_Compute));
  PetscCall(PetscLogEventRegister("WLMLossGather", WLMLOSS_CLASSID, &WLMLOSS_Gather));
  PetscCall(PetscLogEventRegister("WLMLossPairSums", WLMLOSS_CLASSID, &WLMLOSS_PairSums));
  PetscCall(PetscLogEventRegister("WLMLossAllreduce", WLMLOSS_CLASSID, &WLMLOSS_Allreduce));
  PetscCall(PetscLogEventRegister("WLMLossBlur", WLMLOSS_CLASSID, &WLMLOSS_EstimateBlur));
  PetscCall(PetscLogEventRegister("WLMLossRingExch", WLMLOSS_CLASSID, &WLMLOSS_RingExchange));
  PetscCall(PetscRegisterFinalize(WLMLossFinalizePackage));
  PetscFunctionReturn(0);
}
