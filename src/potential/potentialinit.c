/* Registration of the WLMPotential class, its model types and its log events. */
#include <wlm/private/potentialimpl.h>

PetscClassId      WLMPOTENTIAL_CLASSID;
PetscFunctionList WLMPotentialList = NULL;
PetscLogEvent     WLMPOTENTIAL_Energy, WLMPOTENTIAL_Forces, WLMPOTENTIAL_Products, WLMPOTENTIAL_ForcesProducts, WLMPOTENTIAL_ParameterGradient;
PetscLogEvent     WLMPOTENTIAL_Attention, WLMPOTENTIAL_Communication;

PETSC_EXTERN PetscErrorCode WLMPotentialCreate_Harmonic(WLMPotential);
PETSC_EXTERN PetscErrorCode WLMPotentialCreate_External(WLMPotential);
PETSC_EXTERN PetscErrorCode WLMPotentialCreate_Meanfield(WLMPotential);
PETSC_EXTERN PetscErrorCode WLMPotentialCreate_Attention(WLMPotential);

static PetscBool WLMPotentialPackageInitialized = PETSC_FALSE;

/*@
  WLMPotentialRegister - Adds a model type, so that WLMPotentialSetType() and -wlm_potential_type can select it.

  Not Collective

  Input Parameters:
+ name   - type name
- create - function that fills in the operations table of a new model
@*/
PetscErrorCode WLMPotentialRegister(const char name[], PetscErrorCode (*create)(WLMPotential))
{
  PetscFunctionBeginUser;
  PetscCall(WLMPotentialInitializePackage());
  PetscCall(PetscFunctionListAdd(&WLMPotentialList, name, create));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialFinalizePackage - Frees the type list; called by PetscFinalize().
@*/
PetscErrorCode WLMPotentialFinalizePackage(void)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFunctionListDestroy(&WLMPotentialList));
  WLMPotentialPackageInitialized = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialInitializePackage - Registers the class, the built-in model types and the log events.
@*/
PetscErrorCode WLMPotentialInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (WLMPotentialPackageInitialized) PetscFunctionReturn(0);
  WLMPotentialPackageInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("WLMPotential", &WLMPOTENTIAL_CLASSID));
  PetscCall(WLMPotentialRegister(WLMPOTENTIALHARMONIC, WLMPotentialCreate_Harmonic));
  PetscCall(WLMPotentialRegister(WLMPOTENTIALEXTERNAL, WLMPotentialCreate_External));
  PetscCall(WLMPotentialRegister(WLMPOTENTIALMEANFIELD, WLMPotentialCreate_Meanfield));
  PetscCall(WLMPotentialRegister(WLMPOTENTIALATTENTION, WLMPotentialCreate_Attention));
  PetscCall(PetscLogEventRegister("WLMPotEnergy", WLMPOTENTIAL_CLASSID, &WLMPOTENTIAL_Energy));
  PetscCall(PetscLogEventRegister("WLMPotForces", WLMPOTENTIAL_CLASSID, &WLMPOTENTIAL_Forces));
  PetscCall(PetscLogEventRegister("WLMPotProducts", WLMPOTENTIAL_CLASSID, &WLMPOTENTIAL_Products));
  PetscCall(PetscLogEventRegister("WLMPotForcesProd", WLMPOTENTIAL_CLASSID, &WLMPOTENTIAL_ForcesProducts));
  PetscCall(PetscLogEventRegister("WLMPotParamGrad", WLMPOTENTIAL_CLASSID, &WLMPOTENTIAL_ParameterGradient));
  PetscCall(PetscLogEventRegister("WLMPotAttention", WLMPOTENTIAL_CLASSID, &WLMPOTENTIAL_Attention));
  PetscCall(PetscLogEventRegister("WLMPotExchange", WLMPOTENTIAL_CLASSID, &WLMPOTENTIAL_Communication));
  PetscCall(PetscRegisterFinalize(WLMPotentialFinalizePackage));
  PetscFunctionReturn(0);
}
