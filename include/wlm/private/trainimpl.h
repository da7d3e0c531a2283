/*
   Implementation side of WLMTrainer: the fields shared by the files of
   src/train (set-up, minibatches, steps, evaluation, checkpoints, output).
*/
#ifndef WLMTRAINIMPL_H
#define WLMTRAINIMPL_H

#include <wlm/wlmtrain.h>
#include <wlm/wlmsys.h>
#include <wlm/wlmadamw.h>
#include <petsc/private/petscimpl.h>

PETSC_EXTERN PetscLogEvent WLMTRAIN_Step, WLMTRAIN_Rollout, WLMTRAIN_Loss, WLMTRAIN_Adjoint, WLMTRAIN_Allreduce, WLMTRAIN_Evaluate, WLMTRAIN_Checkpoint, WLMTRAIN_Fetch;

#define WLM_MAX_HOLDOUT 256

/* Exact transport distances of one evaluated snapshot. */
typedef struct {
  PetscInt  snapshot; /* index in the data file */
  PetscInt  start;    /* snapshot the rollout started from */
  PetscBool test;     /* held out (interpolation) or after the training range (forecast) */
  PetscReal w1, w2;
} WLMEvalEntry;

/* Results of one evaluation: model (raw and averaged weights) and baselines. */
typedef struct {
  PetscInt      n;                 /* entries */
  WLMEvalEntry *raw, *ema;         /* model with current and averaged weights */
  WLMEvalEntry *persistence;       /* copy of the start snapshot */
  WLMEvalEntry *freestream;        /* x0 + (t - t0) v0 */
  WLMEvalEntry *persistence_last;  /* forecast only: copy of the last training snapshot */
} WLMEvalResults;

struct _p_WLMTrainer {
  PETSCHEADER(int);

  /* data (distribution.c): every rank stores every snapshot (replicated), or each rank of a group the block of rows of its share (sharded) */
  char                data_file[PETSC_MAX_PATH_LEN];
  WLMDataDistribution data_distribution; /* as set, -wlm_data_distribution */
  PetscBool           sharded;           /* resolved at set-up: snaps and v0 live on group_comm, sharded */
  PetscInt            fetch_round_rows;  /* rows per rank in one round of WLMTrainerFetchRows(), 0 for the default (tests set it) */
  WLMSnapshots        snaps;
  PetscInt         nsnap, dim, max_count;
  const PetscReal *times;

  /* protocol: training and test snapshot indices */
  WLMProtocol     protocol;
  PetscReal       train_fraction;
  PetscInt        nholdout, holdout[WLM_MAX_HOLDOUT];
  PetscInt        ntrain, *train; /* sorted indices of training snapshots */
  PetscInt        ntest, *test;   /* sorted indices of test snapshots */
  WLMRolloutStart start;

  /* minibatches */
  PetscInt batch_rollouts;  /* B: rollouts per optimizer step over all ranks; PETSC_DECIDE until set-up, then one per group */
  PetscInt batch_particles; /* particles per rollout, 0 for all */
  PetscInt horizon_min;     /* smallest horizon k drawn (the cap wins while it is smaller) */
  PetscInt horizon_max;     /* cap on the horizon k, at most ntrain - 1 */
  PetscInt horizon_ramp;    /* steps over which the cap grows from 1 to horizon_max, 0 for none */
  PetscInt loss_particles;  /* L: predicted and observed particles the loss compares, 0 for all */
  PetscInt eval_particles;  /* particles of each cloud in the exact W1 and W2 of an evaluation, 0 for all */

  /* two-level decomposition (ensemble.c): groups of R ranks share the particles of a rollout */
  PetscInt    ensemble_ranks;        /* R, -wlm_ensemble_ranks */
  MPI_Comm    group_comm;            /* ranks of this group; the potential, dynamics and loss live on it */
  PetscMPIInt group, ngroups;        /* this rank's group and the group count P / R */
  PetscMPIInt group_rank, group_size; /* rank within the group and R */

  /* models */
  WLMPotential pot;
  WLMDynamics  dyn;
  WLMLoss      loss;
  WLMVelocity  vel;
  PetscInt     ntheta;
  PetscBool    learn_friction;
  PetscReal    friction0; /* initial (or fixed) friction */
  PetscReal    lr_friction;
  const PetscReal **v0;       /* initial velocities of each snapshot that can start a rollout [nsnap][rows on this rank * dim], or NULL */
  PetscReal       **v0_owned; /* the arrays of v0 that the trainer allocated [nsnap]; NULL where v0 uses the file's velocities in place */

  /* optimizer: params = (theta, log gamma) */
  PetscInt   nparams;
  PetscReal *params, *grad, *avg; /* grad has nparams + 3 entries: loss sum, rollouts, stop flag */
  PetscReal *rollout_grad;         /* gradient of one rollout [nparams] */
  WLMAdamW  *opt;
  PetscReal  lr, weight_decay;

  /* run control */
  PetscInt  steps, step;
  PetscInt  eval_every, log_every, checkpoint_every;
  PetscInt  seed;
  char      output[PETSC_MAX_PATH_LEN];
  char      restart[PETSC_MAX_PATH_LEN];
  PetscBool overwrite;
  PetscReal last_loss, last_gnorm, step_seconds, train_seconds;
  PetscBool stop_requested;

  /* checkpoint integrity and divergence guards (integrity.c, guards.c) */
  char       data_sha256[65]; /* SHA-256 of data_file, "" until computed */
  PetscInt64 data_size;       /* bytes of data_file */
  PetscBool  restart_force;   /* accept a checkpoint whose data file or model options differ */
  PetscReal  friction_max;    /* largest friction before training counts as diverged */
  PetscReal  output_reserve_mb; /* free space in MiB required in -wlm_output beyond the estimated outputs */

  /* rollout workspace (sized for the largest snapshot) */
  PetscInt   kmax;
  PetscInt  *perm;               /* [max_count] */
  PetscReal *x0, *vstart;        /* this rank's share [max_share*dim], max_share = ceil(max_count / R) */
  PetscReal **X, **dX, **Y;      /* [kmax][max_share*dim] */
  PetscInt  *ny;                 /* [kmax] this rank's share of each target */
  PetscReal *rollout_times;      /* [kmax] */
  PetscReal *xsel, *gsel;        /* this rank's rows of the loss subsample and their gradient [max_share*dim], with -wlm_loss_particles */

  /* forecast mode */
  PetscInt  forecast_start;   /* snapshot to start from, -1 for the first training snapshot */
  char      forecast_initial[PETSC_MAX_PATH_LEN]; /* snapshot file whose first snapshot is the initial population */
  PetscInt  nforecast_times;
  PetscReal forecast_times[WLM_MAX_HOLDOUT];
  PetscBool forecast_ema;     /* use the averaged weights */
  char      forecast_output[PETSC_MAX_PATH_LEN];

  /* probe mode */
  PetscInt  probe_grid[2];
  PetscReal probe_bounds[4];
  PetscBool probe_bounds_set;
  char      probe_output[PETSC_MAX_PATH_LEN];

  /* output */
  FILE          *metrics; /* metrics.jsonl, rank 0 only */
  WLMEvalResults eval;
  PetscBool      setupcalled;
};

/* two-level decomposition (ensemble.c) */
PETSC_EXTERN PetscErrorCode WLMTrainerSetUpEnsemble(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerDestroyEnsemble(WLMTrainer);
PETSC_EXTERN void           WLMTrainerShareRange(WLMTrainer, PetscInt, PetscInt *, PetscInt *);
PETSC_EXTERN PetscInt       WLMTrainerBlockStart(PetscInt, PetscInt, PetscInt);
PETSC_EXTERN PetscInt       WLMTrainerShareMax(WLMTrainer, PetscInt);
PETSC_EXTERN PetscErrorCode WLMTrainerCheckWholePopulation(WLMTrainer, const char[]);

/* data distribution (distribution.c): rows of a snapshot, wherever they live */
PETSC_EXTERN PetscErrorCode WLMTrainerResolveDataDistribution(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerFetchRows(WLMTrainer, PetscInt, PetscInt, const PetscInt[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMTrainerFetchStartRows(WLMTrainer, PetscInt, PetscInt, const PetscInt[], PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMTrainerFetchShareRows(WLMTrainer, PetscInt, const PetscReal[], PetscInt, const PetscInt[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMTrainerGetShareRows(WLMTrainer, PetscInt, const PetscReal **, const PetscReal **);

/* set-up pieces (setup.c, split.c) */
PETSC_EXTERN PetscErrorCode WLMTrainerSplitSnapshots(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerSetUpModels(WLMTrainer);

/* one rollout and one optimizer step (minibatch.c, step.c) */
PETSC_EXTERN PetscErrorCode WLMTrainerRolloutLoss(WLMTrainer, PetscInt, PetscInt, PetscReal *);
PETSC_EXTERN PetscErrorCode WLMTrainerStep(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerApplyParameters(WLMTrainer, const PetscReal[]);

/* evaluation (evaluate.c) and output (output.c) */
PETSC_EXTERN PetscErrorCode WLMTrainerComputeBaselines(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerCheckEvaluationSize(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerOpenOutput(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerWriteMetricsLine(WLMTrainer, PetscBool);
PETSC_EXTERN PetscErrorCode WLMTrainerLogProgress(WLMTrainer, PetscReal);
PETSC_EXTERN PetscErrorCode WLMTrainerPrintSummary(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerSaveModel(WLMTrainer, const char[]);
PETSC_EXTERN PetscErrorCode WLMTrainerWritePredictions(WLMTrainer, const char[], PetscReal **, const char[]);

/* checkpoint integrity (integrity.c) and divergence guards (guards.c) */
PETSC_EXTERN PetscErrorCode WLMTrainerComputeDataIdentity(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerChecksumState(WLMTrainer, PetscInt64, PetscInt64, char[65]);
PETSC_EXTERN PetscErrorCode WLMTrainerCheckParameters(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerCheckOutputSpace(WLMTrainer);

/* signals (signals.c) */
PETSC_EXTERN PetscErrorCode WLMTrainerInstallSignalHandlers(void);
PETSC_EXTERN PetscBool      WLMTrainerSignalReceived(void);
PETSC_EXTERN void           WLMTrainerSignalClear(void);

#endif
