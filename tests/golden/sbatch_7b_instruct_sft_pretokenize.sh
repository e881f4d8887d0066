#!/bin/bash

# Parameters
#SBATCH --comment=olmo3hpc:/shared/olmo3hpc/runs/7b_instruct_sft
#SBATCH --job-name=7b_instruct_sft-pretokenize
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --open-mode=append
#SBATCH --output=/shared/olmo3hpc/runs/7b_instruct_sft/logs/%j_0_log.out
#SBATCH --requeue
#SBATCH --signal=USR2@120
#SBATCH --time=2880
#SBATCH --wckey=olmo3hpc

# setup
# olmo3hpc run 7b_instruct_sft (stage sft); the job reads only /shared/olmo3hpc/runs/7b_instruct_sft
# secrets are passed by name from the submitting environment, never written: HF_TOKEN WANDB_API_KEY
export PYTHONPATH=/shared/olmo3hpc/runs/7b_instruct_sft/code${PYTHONPATH:+:$PYTHONPATH}

# command
export SUBMITIT_EXECUTOR=slurm
srun --unbuffered --output /shared/olmo3hpc/runs/7b_instruct_sft/logs/%j_%t_log.out --kill-on-bad-exit=1 /opt/olmo3hpc/bin/python -u -m submitit.core._submit /shared/olmo3hpc/runs/7b_instruct_sft/logs
