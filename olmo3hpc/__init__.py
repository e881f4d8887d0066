"""olmo3hpc: OLMo 3 post-training (SFT, DPO, GRPO) on your own Slurm cluster."""

__version__ = "0.1.0"
