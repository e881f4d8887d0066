#!/bin/bash

# Parameters
#SBATCH --account=my-lab
#SBATCH --comment=olmo3hpc:/shared/olmo3hpc/runs/7b_think_rl
#SBATCH --constraint=h100
#SBATCH --cpus-per-task=96
#SBATCH --exclusive
#SBATCH --gpus-per-node=8
#SBATCH --gres-flags=enforce-binding
#SBATCH --job-name=7b_think_rl
#SBATCH --mem=0
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1
#SBATCH --open-mode=append
#SBATCH --output=/shared/olmo3hpc/runs/7b_think_rl/logs/%j_0_log.out
#SBATCH --partition=gpu
#SBATCH --qos=normal
#SBATCH --requeue
#SBATCH --signal=USR2@300
#SBATCH --time=2880
#SBATCH --wckey=olmo3hpc

# setup
# olmo3hpc run 7b_think_rl (stage rl); the job reads only /shared/olmo3hpc/runs/7b_think_rl
# secrets are passed by name from the submitting environment, never written: HF_TOKEN WANDB_API_KEY
module purge
module load cuda/12.4
export PYTHONPATH=/shared/olmo3hpc/runs/7b_think_rl/code${PYTHONPATH:+:$PYTHONPATH}

# command
export SUBMITIT_EXECUTOR=slurm
srun --unbuffered --output /shared/olmo3hpc/runs/7b_think_rl/logs/%j_%t_log.out --kill-on-bad-exit=1 --container-image=/shared/images/olmo3hpc.sqsh --container-mounts=/shared/olmo3hpc/runs/7b_think_rl:/shared/olmo3hpc/runs/7b_think_rl,/shared/hf_cache:/root/.cache/huggingface --container-workdir=/ python3 -u -m submitit.core._submit /shared/olmo3hpc/runs/7b_think_rl/logs
