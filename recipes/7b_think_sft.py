"""OLMo 3 7B Think SFT (OLMo-core run 38f6652): long-context 7B base -> Olmo-3-7B-Think-SFT.

    olmo3hpc launch 7b_think_sft --site <your-site>
"""

from _olmo3 import SFT, replace

from olmo3hpc.config import MetaConfig


def recipe():
    return replace(
        SFT,
        meta=MetaConfig(name="7b_think_sft", seed=53184),
        model=replace(SFT.model, init="allenai/Olmo-3-1025-7B", chat_template="olmo_thinker_no_think_7b",
                      params_b=7.0),
        data=replace(SFT.data, mixer_list=("allenai/Dolci-Think-SFT-7B", "1.0")),
        optim=replace(SFT.optim, lr=5e-5),
        train=replace(SFT.train, epochs=2, global_batch_tokens=1_048_576),
        # OLMo-core ran 8 nodes as 32-way data parallel x context parallel 2. Without context
        # parallelism the same 32 sequences of 32k per step run on 4 nodes: same batch, same steps.
        slurm=replace(SFT.slurm, nodes=4),
    )
