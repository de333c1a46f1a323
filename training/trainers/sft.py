"""SFT: TRL's SFTTrainer and SFTConfig on the volunteers' better answers (corrections).

Each correction is a conversational prompt-completion record: the prompt, and the answer a
volunteer wrote as the completion. The loss is on the completion's tokens only (TRL's
`completion_only_loss`, its default for this format). The metric is the held-out loss (and TRL's
mean token accuracy on the held-out completions).
"""

from training.trainers import TrainingConfig

SEQUENCE_CLASSIFIER = False
LORA_TASK_TYPE = "CAUSAL_LM"


def sft_config(config: TrainingConfig, arguments: dict):
    """TRL's SFTConfig from the platform's configuration and the arguments every method shares."""
    from trl import SFTConfig

    return SFTConfig(**arguments, max_length=config.max_length, packing=False)


def sft_trainer_build(
    config: TrainingConfig,
    model,
    tokenizer,
    train_dataset,
    held_out_dataset,
    arguments: dict,
    callbacks: list,
    peft_config=None,
):
    """TRL's SFTTrainer, ready to train."""
    from trl import SFTTrainer

    return SFTTrainer(
        model=model,
        args=sft_config(config, arguments),
        train_dataset=train_dataset,
        eval_dataset=held_out_dataset,
        processing_class=tokenizer,
        callbacks=callbacks,
        peft_config=peft_config,
    )


def sft_metrics(trainer, held_out: dict[str, float]) -> dict[str, float]:
    """SFT's held-out metrics, renamed from TRL's evaluation log."""
    names = {"eval_loss": "held_out_loss", "eval_mean_token_accuracy": "held_out_token_accuracy"}
    return {ours: held_out[theirs] for theirs, ours in names.items() if theirs in held_out}
