"""RL reward functions (verifiers) and the services they use: code sandbox, LLM judge, registry."""
