/* Registration of the WLMLoss class and its log events. */
#include <wlm/wlmloss.h>

PetscClassId WLMLOSS_CLASSID;

static PetscBool WLMLossPackageInitialized = PETSC_FALSE;

/*@
  WLMLossInitializePackage - Registers the WLMLoss class; called by WLMInitializePackage().
@*/
PetscErrorCode WLMLossInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (WLMLossPackageInitialized) PetscFunctionReturn(0);
  WLMLossPackageInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("WLMLoss", &WLMLOSS_CLASSID));
  PetscFunctionReturn(0);
}
