/* Registration of the WLMSnapshots class and its log events. */
#include <wlm/wlmsnapshots.h>

PetscClassId WLMSNAPSHOTS_CLASSID;

static PetscBool WLMSnapshotsPackageInitialized = PETSC_FALSE;

/*@
  WLMSnapshotsInitializePackage - Registers the WLMSnapshots class; called by WLMInitializePackage().
@*/
PetscErrorCode WLMSnapshotsInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (WLMSnapshotsPackageInitialized) PetscFunctionReturn(0);
  WLMSnapshotsPackageInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("WLMSnapshots", &WLMSNAPSHOTS_CLASSID));
  PetscFunctionReturn(0);
}
