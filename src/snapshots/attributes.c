/*
   Root attributes of a snapshot file other than the format's own (format,
   format_version, dim): coordinate names and units, provenance, generator and
   converter parameters.  Each is a string, an integer, a real or a 1-D array
   of reals; every attribute also keeps a text form for WLMSnapshotsGetAttribute()
   and WLMSnapshotsView().
*/
#include "snapshotsimpl.h"
#include <stdlib.h>

static const char *const ReservedNames[] = {"format", "format_version", "dim"};

/* Whether a name belongs to the format itself and so cannot be set as a user attribute. */
PetscBool WLMSnapshotsAttributeIsReserved(const char name[])
{
  for (size_t i = 0; i < sizeof(ReservedNames) / sizeof(ReservedNames[0]); i++) {
    if (!strcmp(name, ReservedNames[i])) return PETSC_TRUE;
  }
  return PETSC_FALSE;
}

static PetscErrorCode AttributeClear(WLMAttribute *a)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(a->name));
  PetscCall(PetscFree(a->text));
  PetscCall(PetscFree(a->rvalues));
  PetscCall(PetscMemzero(a, sizeof(*a)));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMSnapshotsAttributesDestroy(WLMSnapshots snap)
{
  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < snap->nattr; i++) PetscCall(AttributeClear(&snap->attr[i]));
  PetscCall(PetscFree(snap->attr));
  snap->nattr = snap->maxattr = 0;
  PetscFunctionReturn(0);
}

static WLMAttribute *FindAttribute(WLMSnapshots snap, const char name[])
{
  for (PetscInt i = 0; i < snap->nattr; i++) {
    if (!strcmp(snap->attr[i].name, name)) return &snap->attr[i];
  }
  return NULL;
}

/* Returns the entry for name, emptied if it existed, appended otherwise. */
static PetscErrorCode NewAttribute(WLMSnapshots snap, const char name[], WLMAttribute **a)
{
  PetscFunctionBeginUser;
  PetscCheck(name && name[0], PetscObjectComm((PetscObject)snap), PETSC_ERR_ARG_NULL, "Attribute name is empty");
  PetscCheck(!WLMSnapshotsAttributeIsReserved(name), PetscObjectComm((PetscObject)snap), PETSC_ERR_ARG_WRONG, "Attribute \"%s\" is written by the format itself; choose another name", name);
  *a = FindAttribute(snap, name);
  if (*a) {
    PetscCall(AttributeClear(*a));
  } else {
    if (snap->nattr == snap->maxattr) {
      WLMAttribute *grown;
      PetscInt      cap = PetscMax(8, 2 * snap->maxattr);

      PetscCall(PetscCalloc1(cap, &grown));
      if (snap->nattr) PetscCall(PetscArraycpy(grown, snap->attr, snap->nattr));
      PetscCall(PetscFree(snap->attr));
      snap->attr    = grown;
      snap->maxattr = cap;
    }
    *a = &snap->attr[snap->nattr++];
  }
  PetscCall(PetscStrallocpy(name, &(*a)->name));
  PetscFunctionReturn(0);
}

/*@
  WLMSnapshotsSetAttribute - Sets a string attribute of the file's root group, replacing one of the same name.

  Logically Collective: pass the same name and value on every rank.

  Notes:
  Reserved names: format, format_version and dim.  Conventional names:
  coordinate_names and coordinate_units (comma-separated, one entry per
  coordinate), source and command (provenance).
@*/
PetscErrorCode WLMSnapshotsSetAttribute(WLMSnapshots snap, const char name[], const char value[])
{
  WLMAttribute *a;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  PetscCall(NewAttribute(snap, name, &a));
  a->kind = WLM_ATTRIBUTE_STRING;
  PetscCall(PetscStrallocpy(value ? value : "", &a->text));
  PetscFunctionReturn(0);
}

/* Sets an integer attribute; see WLMSnapshotsSetAttribute(). */
PetscErrorCode WLMSnapshotsSetAttributeInt(WLMSnapshots snap, const char name[], PetscInt64 value)
{
  WLMAttribute *a;
  char          text[32];

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  PetscCall(NewAttribute(snap, name, &a));
  a->kind   = WLM_ATTRIBUTE_INT;
  a->ivalue = value;
  PetscCall(PetscSNPrintf(text, sizeof(text), "%" PetscInt64_FMT, value));
  PetscCall(PetscStrallocpy(text, &a->text));
  PetscFunctionReturn(0);
}

/* Prints n reals separated by commas, each with the fewest of 15 or 17 significant digits that reads back to the same double. */
static PetscErrorCode FormatReals(PetscInt n, const PetscReal values[], char **text)
{
  size_t len = (size_t)PetscMax(n, 1) * 33 + 1, used = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(len, text));
  for (PetscInt i = 0; i < n; i++) {
    char item[32];

    snprintf(item, sizeof(item), "%.15g", (double)values[i]);
    if (strtod(item, NULL) != (double)values[i]) snprintf(item, sizeof(item), "%.17g", (double)values[i]);
    used += (size_t)snprintf(*text + used, len - used, "%s%s", i ? "," : "", item);
  }
  PetscFunctionReturn(0);
}

/* Sets a real attribute; see WLMSnapshotsSetAttribute(). */
PetscErrorCode WLMSnapshotsSetAttributeReal(WLMSnapshots snap, const char name[], PetscReal value)
{
  WLMAttribute *a;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  PetscCall(NewAttribute(snap, name, &a));
  a->kind = WLM_ATTRIBUTE_REAL;
  a->len  = 1;
  PetscCall(PetscMalloc1(1, &a->rvalues));
  a->rvalues[0] = value;
  PetscCall(FormatReals(1, a->rvalues, &a->text));
  PetscFunctionReturn(0);
}

/* Sets a 1-D real array attribute of n >= 1 values; see WLMSnapshotsSetAttribute(). */
PetscErrorCode WLMSnapshotsSetAttributeRealArray(WLMSnapshots snap, const char name[], PetscInt n, const PetscReal values[])
{
  WLMAttribute *a;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  PetscCheck(n >= 1, PetscObjectComm((PetscObject)snap), PETSC_ERR_ARG_OUTOFRANGE, "Attribute \"%s\" needs at least one value, got %" PetscInt_FMT, name, n);
  PetscCall(NewAttribute(snap, name, &a));
  a->kind = WLM_ATTRIBUTE_REAL_ARRAY;
  a->len  = n;
  PetscCall(PetscMalloc1(n, &a->rvalues));
  PetscCall(PetscArraycpy(a->rvalues, values, n));
  PetscCall(FormatReals(n, values, &a->text));
  PetscFunctionReturn(0);
}

/*@
  WLMSnapshotsGetAttribute - Returns an attribute as text (numbers printed with full precision), or NULL when the set has no such attribute.

  Not Collective

  Output Parameter:
. value - text owned by the set
@*/
PetscErrorCode WLMSnapshotsGetAttribute(WLMSnapshots snap, const char name[], const char **value)
{
  WLMAttribute *a;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  a      = FindAttribute(snap, name);
  *value = a ? a->text : NULL;
  PetscFunctionReturn(0);
}

/* Integer attribute; found is false when absent, and a non-integer attribute is an error. */
PetscErrorCode WLMSnapshotsGetAttributeInt(WLMSnapshots snap, const char name[], PetscInt64 *value, PetscBool *found)
{
  WLMAttribute *a;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  a      = FindAttribute(snap, name);
  *found = a ? PETSC_TRUE : PETSC_FALSE;
  if (!a) PetscFunctionReturn(0);
  PetscCheck(a->kind == WLM_ATTRIBUTE_INT, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "Attribute \"%s\" = %s is not an integer", name, a->text);
  *value = a->ivalue;
  PetscFunctionReturn(0);
}

/* Real attribute (integers convert); found is false when absent, and a string or array attribute is an error. */
PetscErrorCode WLMSnapshotsGetAttributeReal(WLMSnapshots snap, const char name[], PetscReal *value, PetscBool *found)
{
  WLMAttribute *a;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  a      = FindAttribute(snap, name);
  *found = a ? PETSC_TRUE : PETSC_FALSE;
  if (!a) PetscFunctionReturn(0);
  PetscCheck(a->kind == WLM_ATTRIBUTE_INT || a->kind == WLM_ATTRIBUTE_REAL, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "Attribute \"%s\" = %s is not a single number", name, a->text);
  *value = a->kind == WLM_ATTRIBUTE_INT ? (PetscReal)a->ivalue : a->rvalues[0];
  PetscFunctionReturn(0);
}

/* Real array attribute (a real scalar counts as one value); n is 0 and values NULL when absent. */
PetscErrorCode WLMSnapshotsGetAttributeRealArray(WLMSnapshots snap, const char name[], PetscInt *n, const PetscReal *values[])
{
  WLMAttribute *a;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  a       = FindAttribute(snap, name);
  *n      = 0;
  *values = NULL;
  if (!a) PetscFunctionReturn(0);
  PetscCheck(a->kind == WLM_ATTRIBUTE_REAL || a->kind == WLM_ATTRIBUTE_REAL_ARRAY, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "Attribute \"%s\" = %s is not an array of reals", name, a->text);
  *n      = a->len;
  *values = a->rvalues;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMSnapshotsGetNumAttributes(WLMSnapshots snap, PetscInt *n)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  *n = snap->nattr;
  PetscFunctionReturn(0);
}

/* Name of attribute i, 0 <= i < WLMSnapshotsGetNumAttributes(), in the order they were set or read. */
PetscErrorCode WLMSnapshotsGetAttributeName(WLMSnapshots snap, PetscInt i, const char **name)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  PetscCheck(i >= 0 && i < snap->nattr, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Attribute index %" PetscInt_FMT " is out of range; the set has %" PetscInt_FMT " attributes", i, snap->nattr);
  *name = snap->attr[i].name;
  PetscFunctionReturn(0);
}

/* Writes every attribute into an open group; collective when the file is open on several ranks. */
PetscErrorCode WLMSnapshotsAttributesWrite(WLMSnapshots snap, hid_t loc)
{
  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < snap->nattr; i++) {
    const WLMAttribute *a = &snap->attr[i];

    switch (a->kind) {
    case WLM_ATTRIBUTE_STRING:
      PetscCall(WLMH5WriteAttributeString(loc, a->name, a->text));
      break;
    case WLM_ATTRIBUTE_INT:
      PetscCall(WLMH5WriteAttributeInt(loc, a->name, a->ivalue));
      break;
    case WLM_ATTRIBUTE_REAL:
      PetscCall(WLMH5WriteAttributeReal(loc, a->name, a->rvalues[0]));
      break;
    case WLM_ATTRIBUTE_REAL_ARRAY:
      PetscCall(WLMH5WriteAttributeRealArray(loc, a->name, a->len, a->rvalues));
      break;
    }
  }
  PetscFunctionReturn(0);
}

/* Reads one attribute of a kind the set can hold; other kinds (booleans, string arrays, 2-D arrays) are skipped. */
static PetscErrorCode ReadOneAttribute(WLMSnapshots snap, hid_t loc, const char name[])
{
  H5T_class_t cls;
  PetscInt    rank;
  hsize_t     dims[H5S_MAX_RANK];

  PetscFunctionBeginUser;
  PetscCall(WLMH5GetAttributeInfo(loc, name, &cls, &rank, dims));
  if (cls == H5T_STRING && rank == 0) {
    char *text;

    PetscCall(WLMH5ReadAttributeString(loc, name, &text));
    PetscCall(WLMSnapshotsSetAttribute(snap, name, text));
    PetscCall(PetscFree(text));
  } else if (cls == H5T_INTEGER && rank == 0) {
    PetscInt64 value;

    PetscCall(WLMH5ReadAttributeInt(loc, name, &value));
    PetscCall(WLMSnapshotsSetAttributeInt(snap, name, value));
  } else if (cls == H5T_FLOAT && rank == 0) {
    PetscReal value;

    PetscCall(WLMH5ReadAttributeReal(loc, name, &value));
    PetscCall(WLMSnapshotsSetAttributeReal(snap, name, value));
  } else if ((cls == H5T_FLOAT || cls == H5T_INTEGER) && rank == 1 && dims[0] >= 1) {
    PetscReal *values;
    PetscInt   n = (PetscInt)dims[0];

    PetscCall(PetscMalloc1(n, &values));
    PetscCall(WLMH5ReadAttributeRealArray(loc, name, n, values));
    PetscCall(WLMSnapshotsSetAttributeRealArray(snap, name, n, values));
    PetscCall(PetscFree(values));
  } else {
    PetscCall(PetscInfo(snap, "Skipping root attribute \"%s\": only strings, numbers and 1-D numeric arrays are kept\n", name));
  }
  PetscFunctionReturn(0);
}

/* Reads every root attribute except the reserved ones, in alphabetical order. */
PetscErrorCode WLMSnapshotsAttributesRead(WLMSnapshots snap, hid_t loc)
{
  H5O_info_t info;

  PetscFunctionBeginUser;
  WLMCallHDF5("the root group", H5Oget_info2, (loc, &info, H5O_INFO_NUM_ATTRS));
  for (hsize_t i = 0; i < info.num_attrs; i++) {
    char    name[256];
    ssize_t len;

    WLMCallHDF5Return(len, "a root attribute", H5Aget_name_by_idx, (loc, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof(name), H5P_DEFAULT));
    if ((size_t)len >= sizeof(name)) {
      PetscCall(PetscInfo(snap, "Skipping a root attribute whose name is longer than %d characters\n", (int)sizeof(name) - 1));
      continue;
    }
    if (WLMSnapshotsAttributeIsReserved(name)) continue;
    PetscCall(ReadOneAttribute(snap, loc, name));
  }
  PetscFunctionReturn(0);
}

/* Prints the attributes one per line, long values cut at 100 characters. */
PetscErrorCode WLMSnapshotsAttributesView(WLMSnapshots snap, PetscViewer viewer)
{
  PetscFunctionBeginUser;
  if (!snap->nattr) PetscFunctionReturn(0);
  PetscCall(PetscViewerASCIIPrintf(viewer, "attributes:\n"));
  PetscCall(PetscViewerASCIIPushTab(viewer));
  for (PetscInt i = 0; i < snap->nattr; i++) {
    const WLMAttribute *a   = &snap->attr[i];
    size_t              len = strlen(a->text);

    if (len > 100) PetscCall(PetscViewerASCIIPrintf(viewer, "%s = %.100s... (%zu characters)\n", a->name, a->text, len));
    else PetscCall(PetscViewerASCIIPrintf(viewer, "%s = %s\n", a->name, a->text));
  }
  PetscCall(PetscViewerASCIIPopTab(viewer));
  PetscFunctionReturn(0);
}
