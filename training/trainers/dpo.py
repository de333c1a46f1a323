"""DPO: TRL's DPOTrainer and DPOConfig on the release's preference pairs.

The policy and the frozen reference both start from the base causal LM (with LoRA, the
reference is the base with the adapters switched off). The held-out metrics are TRL's own
evaluation on the held-out pairs: the implicit reward accuracy (chosen's reward above
rejected's), the mean reward margin, and the DPO loss.
"""

from training.trainers import TrainingConfig

SEQUENCE_CLASSIFIER = False
LORA_TASK_TYPE = "CAUSAL_LM"


def dpo_config(config: TrainingConfig, arguments: dict):
    """TRL's DPOConfig from the platform's configuration and the arguments every method shares."""
    from trl import DPOConfig

    return DPOConfig(**arguments, max_length=config.max_length, beta=config.beta)


def dpo_trainer_build(
    config: TrainingConfig,
    model,
    tokenizer,
    train_dataset,
    held_out_dataset,
    arguments: dict,
    callbacks: list,
    peft_config=None,
):
    """TRL's DPOTrainer, ready to train; TRL loads the reference model from the same base folder."""
    from trl import DPOTrainer

    return DPOTrainer(
        model=model,
        args=dpo_config(config, arguments),
        train_dataset=train_dataset,
        eval_dataset=held_out_dataset,
        processing_class=tokenizer,
        callbacks=callbacks,
        peft_config=peft_config,
    )


def dpo_metrics(trainer, held_out: dict[str, float]) -> dict[str, float]:
    """DPO's held-out metrics, renamed from TRL's evaluation log."""
    names = {
        "eval_rewards/accuracies": "held_out_reward_accuracy",
        "eval_rewards/margins": "held_out_reward_margin",
        "eval_loss": "held_out_loss",
    }
    return {ours: held_out[theirs] for theirs, ours in names.items() if theirs in held_out}
