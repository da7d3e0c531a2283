/* Registration of the WLMDynamics class and its log events. */
#include <wlm/wlmdynamics.h>

PetscClassId WLMDYNAMICS_CLASSID;

static PetscBool WLMDynamicsPackageInitialized = PETSC_FALSE;

/*@
  WLMDynamicsInitializePackage - Registers the WLMDynamics class; called by WLMInitializePackage().
@*/
PetscErrorCode WLMDynamicsInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (WLMDynamicsPackageInitialized) PetscFunctionReturn(0);
  WLMDynamicsPackageInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("WLMDynamics", &WLMDYNAMICS_CLASSID));
  PetscFunctionReturn(0);
}
