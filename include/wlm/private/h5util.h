/*
   Small HDF5 helpers shared by the modules that read and write files:
   attributes, whole-dataset reads and writes, and atomic replacement of a
   file written under a temporary name.  HDF5's own error stack printing is
   turned off by WLMInitializePackage(); failures become PETSc errors that name
   the call and the object.
*/
#ifndef WLMH5UTIL_H
#define WLMH5UTIL_H

#include <petscsys.h>
#include <hdf5.h>

/* Calls an HDF5 function returning herr_t and raises PETSC_ERR_LIB, naming the call and `what`, when it fails. */
#define WLMCallHDF5(what, func, args) \
  do { \
    herr_t wlm_h5_status_; \
    PetscStackPushExternal(#func); \
    wlm_h5_status_ = func args; \
    PetscStackPop; \
    PetscCheck(wlm_h5_status_ >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call %s() failed on %s", #func, what); \
  } while (0)

/* Like WLMCallHDF5 for functions that return an hid_t (or another signed handle) stored in ret. */
#define WLMCallHDF5Return(ret, what, func, args) \
  do { \
    PetscStackPushExternal(#func); \
    ret = func args; \
    PetscStackPop; \
    PetscCheck((ret) >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call %s() failed on %s", #func, what); \
  } while (0)

PETSC_EXTERN PetscErrorCode WLMH5Silence(void);
PETSC_EXTERN PetscErrorCode WLMH5LinkExists(hid_t, const char[], PetscBool *);
PETSC_EXTERN PetscErrorCode WLMH5AttributeExists(hid_t, const char[], PetscBool *);
PETSC_EXTERN PetscErrorCode WLMH5WriteAttributeString(hid_t, const char[], const char[]);
PETSC_EXTERN PetscErrorCode WLMH5ReadAttributeString(hid_t, const char[], char **);
PETSC_EXTERN PetscErrorCode WLMH5WriteAttributeInt(hid_t, const char[], PetscInt64);
PETSC_EXTERN PetscErrorCode WLMH5ReadAttributeInt(hid_t, const char[], PetscInt64 *);
PETSC_EXTERN PetscErrorCode WLMH5WriteAttributeReal(hid_t, const char[], PetscReal);
PETSC_EXTERN PetscErrorCode WLMH5ReadAttributeReal(hid_t, const char[], PetscReal *);
PETSC_EXTERN PetscErrorCode WLMH5WriteDatasetReal(hid_t, const char[], PetscInt, const hsize_t[], const PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMH5ReadDatasetReal(hid_t, const char[], PetscInt, const hsize_t[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMH5WriteDatasetInt64(hid_t, const char[], PetscInt, const hsize_t[], const PetscInt64[]);
PETSC_EXTERN PetscErrorCode WLMH5ReadDatasetInt64(hid_t, const char[], PetscInt, const hsize_t[], PetscInt64[]);
PETSC_EXTERN PetscErrorCode WLMH5GetDatasetShape(hid_t, const char[], PetscInt *, hsize_t[]);
PETSC_EXTERN PetscErrorCode WLMH5GetDatasetClass(hid_t, const char[], H5T_class_t *);
PETSC_EXTERN PetscErrorCode WLMH5GetAttributeInfo(hid_t, const char[], H5T_class_t *, PetscInt *, hsize_t[]);
PETSC_EXTERN PetscErrorCode WLMH5WriteAttributeRealArray(hid_t, const char[], PetscInt, const PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMH5ReadAttributeRealArray(hid_t, const char[], PetscInt, PetscReal[]);

PETSC_EXTERN PetscErrorCode WLMFileTemporaryName(const char[], char[], size_t);
PETSC_EXTERN PetscErrorCode WLMFileCommit(MPI_Comm, const char[], const char[]);

#endif
