/* Registration of the WLMPotential class and its log events. */
#include <wlm/wlmpotential.h>

PetscClassId WLMPOTENTIAL_CLASSID;

static PetscBool WLMPotentialPackageInitialized = PETSC_FALSE;

/*@
  WLMPotentialInitializePackage - Registers the WLMPotential class; called by WLMInitializePackage().
@*/
PetscErrorCode WLMPotentialInitializePackage(void)
{
  PetscFunctionBegin;
  if (WLMPotentialPackageInitialized) PetscFunctionReturn(0);
  WLMPotentialPackageInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("WLMPotential", &WLMPOTENTIAL_CLASSID));
  PetscFunctionReturn(0);
}
