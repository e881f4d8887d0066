"""OLMo 3 32B Think SFT (OLMo-core run 79a184c): long-context 32B base -> Olmo-3-32B-Think-SFT.

The released model is a soup of this run (lr 1e-4) and a second run at lr 5e-5:
    olmo3hpc launch 32b_think_sft
    olmo3hpc launch 32b_think_sft --meta.name 32b_think_sft_lr5e-5 --optim.lr 5e-5
    olmo3hpc merge --models runs/32b_think_sft/hf/final runs/32b_think_sft_lr5e-5/hf/final --out runs/32b_think_sft_soup
"""

from _olmo3 import SFT, replace

from olmo3hpc.config import MetaConfig


def recipe():
    return replace(
        SFT,
        meta=MetaConfig(name="32b_think_sft", seed=33333),
        model=replace(SFT.model, init="allenai/Olmo-3-1125-32B", chat_template="olmo_thinker_no_think_sft_tokenization",
                      params_b=32.0),
        data=replace(SFT.data, mixer_list=("allenai/Dolci-Think-SFT-32B", "1.0")),
        optim=replace(SFT.optim, lr=1e-4),
        train=replace(SFT.train, epochs=2, global_batch_tokens=4_194_304),
        # OLMo-core ran 32 nodes with context parallel 8; the same 128 x 32k sequences per step run
        # here as 128-way data parallel on 16 nodes (no context parallelism in the DeepSpeed engine).
        slurm=replace(SFT.slurm, nodes=16),
    )
