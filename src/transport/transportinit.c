/* Registration of the log events of the exact transport solvers. */
#include <wlm/wlmtransport.h>

static PetscBool WLMTransportPackageInitialized = PETSC_FALSE;

/*@
  WLMTransportInitializePackage - Registers the transport log events; called by WLMInitializePackage().
@*/
PetscErrorCode WLMTransportInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (WLMTransportPackageInitialized) PetscFunctionReturn(0);
  WLMTransportPackageInitialized = PETSC_TRUE;
  PetscFunctionReturn(0);
}
