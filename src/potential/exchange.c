/*
   How a sharded evaluation meets its remote partners, for the potential types
   whose particles interact (meanfield and attention).

     gather  every rank receives the positions (keys, values) of all N
             particles with one MPI_Allgatherv.  Memory per rank is O(N).
     ring    blocks of the other ranks pass around a ring of the
             communicator, one at a time.  Memory per rank is O(N / P).
     auto    the ring from -wlm_potential_ring_min particles on several
             ranks, the gather below

   The choice changes only the summation order of the results, never the
   model, so it is not saved with the model's hyperparameters.
*/
#include <wlm/private/potentialimpl.h>

const char *const WLMPotentialExchanges[] = {"auto", "gather", "ring", "WLMPotentialExchange", "WLM_POTENTIAL_EXCHANGE_", NULL};

/*@
  WLMPotentialSetExchange - Selects how a sharded evaluation obtains the remote partners of its particles.

  Logically Collective

  Input Parameters:
+ pot      - the potential
. exchange - WLM_POTENTIAL_EXCHANGE_AUTO, _GATHER or _RING
- ring_min - with auto, the smallest particle count N over the communicator that uses the ring (PETSC_DEFAULT keeps the current value)

  Options Database Keys:
+ -wlm_potential_exchange <auto> - auto, gather or ring
- -wlm_potential_ring_min <200000> - the switch point of auto

  Notes:
  Types without interactions (external, harmonic) ignore the setting.
@*/
PetscErrorCode WLMPotentialSetExchange(WLMPotential pot, WLMPotentialExchange exchange, PetscInt ring_min)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCheck(ring_min == PETSC_DEFAULT || ring_min >= 1, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_OUTOFRANGE, "-wlm_potential_ring_min %" PetscInt_FMT " is invalid; give a particle count of at least 1 (auto uses the ring from that many particles)", ring_min);
  pot->exchange = exchange;
  if (ring_min != PETSC_DEFAULT) pot->ring_min = ring_min;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialGetExchange - Returns the exchange setting and the switch point of auto.

  Not Collective
@*/
PetscErrorCode WLMPotentialGetExchange(WLMPotential pot, WLMPotentialExchange *exchange, PetscInt *ring_min)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  if (exchange) *exchange = pot->exchange;
  if (ring_min) *ring_min = pot->ring_min;
  PetscFunctionReturn(0);
}

/*
  WLMPotentialUseRing - Decides whether a call with N particles over the communicator passes blocks around the ring.

  Not Collective, but every rank decides the same when all ranks pass the same N.
*/
PetscErrorCode WLMPotentialUseRing(WLMPotential pot, PetscInt N, PetscBool *ring)
{
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
  if (size == 1 || pot->exchange == WLM_POTENTIAL_EXCHANGE_GATHER) *ring = PETSC_FALSE;
  else if (pot->exchange == WLM_POTENTIAL_EXCHANGE_RING) *ring = PETSC_TRUE;
  else *ring = N >= pot->ring_min ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}
