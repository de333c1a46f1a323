"""Reward model: TRL's RewardTrainer and RewardConfig on the release's preference pairs.

The base causal LM is loaded as `AutoModelForSequenceClassification` with one score
(`num_labels=1`); the loss is the Bradley-Terry one, -log sigmoid(score(chosen) - score(rejected)).
The metric is the held-out pairwise accuracy: the share of held-out pairs whose chosen answer
scores strictly higher than the rejected one, counted pair by pair after training.
"""

from training.trainers import TrainingConfig

SEQUENCE_CLASSIFIER = True
LORA_TASK_TYPE = "SEQ_CLS"


def reward_config(config: TrainingConfig, arguments: dict):
    """TRL's RewardConfig from the platform's configuration and the arguments every method shares."""
    from trl import RewardConfig

    return RewardConfig(**arguments, max_length=config.max_length)


def reward_trainer_build(
    config: TrainingConfig,
    model,
    tokenizer,
    train_dataset,
    held_out_dataset,
    arguments: dict,
    callbacks: list,
    peft_config=None,
):
    """TRL's RewardTrainer, ready to train: `model` is a one-score sequence classifier."""
    from trl import RewardTrainer

    return RewardTrainer(
        model=model,
        args=reward_config(config, arguments),
        train_dataset=train_dataset,
        eval_dataset=held_out_dataset,
        processing_class=tokenizer,
        callbacks=callbacks,
        peft_config=peft_config,
    )


def reward_pairwise_accuracy(model, dataset, pad_token_id: int, batch_size: int) -> float:
    """The share of pairs in the tokenized `dataset` (chosen_ids, rejected_ids) where chosen scores higher.

    A tie counts as a miss. Scored in batches without gradients on the model's own device.
    """
    import torch
    from trl.trainer.reward_trainer import DataCollatorForPreference

    collator = DataCollatorForPreference(pad_token_id=pad_token_id)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = 0
    try:
        for start in range(0, len(dataset), batch_size):
            examples = [
                {"chosen_ids": row["chosen_ids"], "rejected_ids": row["rejected_ids"]}
                for row in dataset.select(range(start, min(start + batch_size, len(dataset))))
            ]
            batch = collator(examples)
            with torch.no_grad():
                scores = model(
                    input_ids=batch["input_ids"].to(device),
                    attention_mask=batch["attention_mask"].to(device),
                    use_cache=False,
                ).logits.squeeze(-1)
            chosen, rejected = torch.chunk(scores, chunks=2)
            correct += int((chosen > rejected).sum().item())
    finally:
        model.train(was_training)
    return correct / len(dataset)


def reward_metrics(trainer, held_out: dict[str, float]) -> dict[str, float]:
    """The reward model's held-out metrics: exact pairwise accuracy, and TRL's held-out loss and margin."""
    metrics = {
        "held_out_accuracy": reward_pairwise_accuracy(
            trainer.model,
            trainer.eval_dataset,
            trainer.processing_class.pad_token_id,
            trainer.args.per_device_eval_batch_size,
        )
    }
    if "eval_loss" in held_out:
        metrics["held_out_loss"] = held_out["eval_loss"]
    if "eval_margin" in held_out:
        metrics["held_out_margin"] = held_out["eval_margin"]
    return metrics
