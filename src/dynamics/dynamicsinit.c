/* Registration of the WLMDynamics class, the TSWLMVERLET type and the log events of the module. */
#include <wlm/private/dynamicsimpl.h>

PetscClassId  WLMDYNAMICS_CLASSID;
PetscLogEvent WLMDYNAMICS_Rollout, WLMDYNAMICS_Adjoint, WLMDYNAMICS_Step, WLMDYNAMICS_AdjointStep, WLMDYNAMICS_Force, WLMDYNAMICS_Products;

const char *const WLMFrictionVariants[] = {"exact", "reference", "WLMFrictionVariant", "WLM_FRICTION_", NULL};

static PetscBool WLMDynamicsPackageInitialized = PETSC_FALSE;

/*@
  WLMDynamicsFinalizePackage - Marks the package as finalized; called by PetscFinalize().
@*/
PetscErrorCode WLMDynamicsFinalizePackage(void)
{
  PetscFunctionBeginUser;
  WLMDynamicsPackageInitialized = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsInitializePackage - Registers the WLMDynamics class, the TS type TSWLMVERLET, the trajectory type TSTRAJECTORYWLMTAPE and the log events; called by WLMInitializePackage().

  Notes:
  Log events: WLMDynRollout and WLMDynAdjoint cover a whole rollout and its
  adjoint, WLMVerletStep and WLMVerletAdjStep one step of TSWLMVERLET,
  WLMDynForce one acceleration evaluation, WLMDynProducts one force product
  of the reverse pass (for TSRK, one per stage).
@*/
PetscErrorCode WLMDynamicsInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (WLMDynamicsPackageInitialized) PetscFunctionReturn(0);
  WLMDynamicsPackageInitialized = PETSC_TRUE;
  PetscCall(WLMPotentialInitializePackage());
  PetscCall(PetscClassIdRegister("WLMDynamics", &WLMDYNAMICS_CLASSID));
  PetscCall(TSRegister(TSWLMVERLET, TSCreate_WLMVerlet));
  PetscCall(TSTrajectoryRegister(TSTRAJECTORYWLMTAPE, TSTrajectoryCreate_WLMTape));
  PetscCall(PetscLogEventRegister("WLMDynRollout", WLMDYNAMICS_CLASSID, &WLMDYNAMICS_Rollout));
  PetscCall(PetscLogEventRegister("WLMDynAdjoint", WLMDYNAMICS_CLASSID, &WLMDYNAMICS_Adjoint));
  PetscCall(PetscLogEventRegister("WLMVerletStep", WLMDYNAMICS_CLASSID, &WLMDYNAMICS_Step));
  PetscCall(PetscLogEventRegister("WLMVerletAdjStep", WLMDYNAMICS_CLASSID, &WLMDYNAMICS_AdjointStep));
  PetscCall(PetscLogEventRegister("WLMDynForce", WLMDYNAMICS_CLASSID, &WLMDYNAMICS_Force));
  PetscCall(PetscLogEventRegister("WLMDynProducts", WLMDYNAMICS_CLASSID, &WLMDYNAMICS_Products));
  PetscCall(PetscRegisterFinalize(WLMDynamicsFinalizePackage));
  PetscFunctionReturn(0);
}
