"""Submitting runs to Slurm (or this machine) and forming their Ray cluster inside the allocation.

Login side (no torch/ray import): `sites.apply_site`, `submit.render_sbatch`, `submit.launch`,
`jobs.status|logs|cancel`. Job side (run by `olmo3hpc.job.NodeJob`): `head`, `worker`, `bootstrap`.
See slurm/README.md for the anatomy of a job.
"""
