"""OLMo 3 7B Instruct SFT (OLMo-core run 9e97471): starts from the 7B Think SFT output, not the base.

    olmo3hpc launch 7b_instruct_sft --site <your-site>
    olmo3hpc launch 7b_instruct_sft --model.init allenai/Olmo-3-7B-Think-SFT   # skip the Think SFT run
"""

from _olmo3 import SFT, replace

from olmo3hpc.config import MetaConfig


def recipe():
    return replace(
        SFT,
        meta=MetaConfig(name="7b_instruct_sft", seed=543210),
        # The instruct SFT data was tokenized with the allenai/olmo-3-tokenizer-instruct-dev template.
        model=replace(SFT.model, init="recipe:7b_think_sft", public_equivalent="allenai/Olmo-3-7B-Think-SFT",
                      tokenizer="allenai/olmo-3-tokenizer-instruct-dev", chat_template="tokenizer", params_b=7.0),
        data=replace(SFT.data, mixer_list=("allenai/Dolci-Instruct-SFT", "1.0")),
        optim=replace(SFT.optim, lr=8e-5),
        train=replace(SFT.train, epochs=2, global_batch_tokens=1_048_576),
        slurm=replace(SFT.slurm, nodes=4),
    )
