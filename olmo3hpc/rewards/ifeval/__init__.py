"""IFEval instruction-following verifier (the 25 Google IFEval instructions)."""

from olmo3hpc.rewards.ifeval.registry import INSTRUCTIONS, ifeval_score, parse_constraints, remove_thinking

__all__ = ["INSTRUCTIONS", "ifeval_score", "parse_constraints", "remove_thinking"]
