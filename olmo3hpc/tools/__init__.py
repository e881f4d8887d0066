"""Post-training tools: library functions behind `olmo3hpc convert|merge|eval-sweep|report` and tools/*.py.

    convert(ConvertArgs)        DeepSpeed ZeRO 1/2/3 checkpoint -> HF safetensors (streamed)   tools.convert
    merge(MergeArgs)            weighted average of HF models (model soup, streamed)           tools.merge
    eval_sweep(EvalSweepArgs)   checkpoints x benchmark groups as a Slurm array, resumable     tools.eval_sweep
    report(ReportArgs)          loss/reward/lr/throughput PNGs + summary.md of a run           tools.report

Each function takes one frozen dataclass whose field docstrings are the CLI help (`tyro.cli(XArgs)`).
Modules import torch/transformers only inside the functions that need them.
"""
