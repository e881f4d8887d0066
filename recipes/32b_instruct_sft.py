"""OLMo 3 32B Instruct SFT (OLMo-core run abfa4ea): starts from the 32B Think SFT output.

    olmo3hpc launch 32b_instruct_sft --site <your-site>
"""

from _olmo3 import SFT, replace

from olmo3hpc.config import MetaConfig


def recipe():
    return replace(
        SFT,
        meta=MetaConfig(name="32b_instruct_sft", seed=33333),
        model=replace(SFT.model, init="recipe:32b_think_sft", public_equivalent="allenai/Olmo-3-32B-Think-SFT",
                      tokenizer="allenai/olmo-3-tokenizer-instruct-dev", chat_template="tokenizer", params_b=32.0),
        data=replace(SFT.data, mixer_list=("allenai/Dolci-Instruct-SFT", "1.0")),
        optim=replace(SFT.optim, lr=8e-5),
        train=replace(SFT.train, epochs=2, global_batch_tokens=4_194_304),
        slurm=replace(SFT.slurm, nodes=8),
    )
