"""What every method shares: split, load, build TRL's trainer, train, save, hash.

Imported by `training.trainers.train` on its first call (it imports torch, transformers, datasets).
The model is trained in a staging folder next to `output_dir` and renamed into place only when it
is complete, so a failed, cancelled or killed run never leaves a half-written model where the
registry or the model server would find it.

Under `torchrun`/`accelerate launch` every process runs this same function: TRL's trainer
shards the batches, the main process alone writes the folder, and every process returns the
same result.
"""

import errno
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from training.trainers import (
    TrainingCancelled,
    TrainingConfig,
    TrainingDataError,
    TrainingOutputError,
    TrainingResult,
)
from training.trainers import base_model as base
from training.trainers.data import held_out_split, method_rows

WEIGHT_FILE_SUFFIXES = (".safetensors", ".bin")
_HASH_CHUNK = 1 << 20


def _method_module(method: str) -> ModuleType:
    from training.trainers import dpo, reward, sft

    return {"reward": reward, "dpo": dpo, "sft": sft}[method]


def weight_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 (hex) of every weight file in `folder`, by file name, sorted."""
    hashes = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and path.suffix in WEIGHT_FILE_SUFFIXES:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(_HASH_CHUNK):
                    digest.update(chunk)
            hashes[path.name] = digest.hexdigest()
    return hashes


def staging_folder(output_dir: Path) -> Path:
    return output_dir.parent / f".{output_dir.name}.partial"


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _bf16_available() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def trainer_arguments(config: TrainingConfig, output_dir: Path) -> dict:
    """The TrainingArguments every method's TRL config gets (each method adds its own)."""
    arguments = {
        "output_dir": str(output_dir),
        "max_steps": config.max_steps,
        "per_device_train_batch_size": config.per_device_batch_size,
        "per_device_eval_batch_size": config.per_device_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "seed": config.seed,
        "data_seed": config.seed,
        "logging_strategy": "steps",
        "logging_steps": config.logging_steps,
        "logging_first_step": True,
        "eval_strategy": "steps",
        "eval_steps": config.eval_steps or max(1, config.max_steps // 5),
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        # bf16 only where the hardware has it; TRL's configs would otherwise turn it on, CPU included.
        "bf16": _bf16_available(),
        "fp16": False,
        # transformers 5's name for gradient checkpointing (the old name only warns).
        "activation_checkpointing": config.gradient_checkpointing,
        "dataloader_pin_memory": _cuda_available(),
        # Without a GPU, say so: that is also what lets torchrun's processes join on CPU (gloo).
        "use_cpu": not _cuda_available(),
        "ddp_find_unused_parameters": False,
    }
    if config.learning_rate is not None:
        arguments["learning_rate"] = config.learning_rate
    return arguments


def lora_config(config: TrainingConfig, task_type: str):
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=2 * config.lora_r,
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type=task_type,
    )


def _model_save(trainer, folder: Path) -> None:
    """Save the trained model as a plain transformers folder: safetensors, config, tokenizer, chat template."""
    from peft import PeftModel

    model = trainer.accelerator.unwrap_model(trainer.model)
    if isinstance(model, PeftModel):
        model = model.merge_and_unload()
    model.config.use_cache = True
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    trainer.processing_class.save_pretrained(folder)


def _device_describe(trainer) -> str:
    import torch

    device = trainer.args.device
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def train_run(
    config: TrainingConfig,
    pairs: list[dict],
    *,
    on_log: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainingResult:
    method = _method_module(config.method)
    rows = method_rows(config.method, pairs)
    train_rows, held_out_rows = held_out_split(rows, config.held_out_fraction, config.seed, method=config.method)
    base.base_model_check(config.base_model)
    output_dir = config.output_dir
    if output_dir.exists():
        raise TrainingOutputError(f"The model folder {output_dir} exists already: a run never overwrites a model.")

    import datasets
    from transformers import PrinterCallback, set_seed
    from transformers.utils import logging as transformers_logging

    from training.trainers.progress import TrainingProgressCallback

    datasets.disable_progress_bars()
    transformers_logging.disable_progress_bar()  # weight loading and writing bars: the run logs its own progress
    set_seed(config.seed)  # before loading: a reward model's new score head is drawn from it
    tokenizer = base.base_tokenizer_load(config.base_model)
    model = base.base_model_load(config.base_model, sequence_classifier=method.SEQUENCE_CLASSIFIER)
    callback = TrainingProgressCallback(on_log=on_log, should_stop=should_stop)
    staging = staging_folder(output_dir)
    # torchrun and accelerate launch set RANK; the main process alone writes (and cleans) the staging folder.
    is_main = int(os.environ.get("RANK", "0")) == 0
    if is_main and staging.exists():
        shutil.rmtree(staging)  # left by a run that was killed: never a complete model
    try:
        builder = getattr(method, f"{config.method}_trainer_build")
        trainer = builder(
            config,
            model,
            tokenizer,
            datasets.Dataset.from_list(train_rows),
            datasets.Dataset.from_list(held_out_rows),
            trainer_arguments(config, staging),
            [callback],
            lora_config(config, method.LORA_TASK_TYPE) if config.lora else None,
        )
        trainer.remove_callback(PrinterCallback)  # it prints every log to stdout; on_log gets them instead
        # TRL drops pairs longer than max_length (reward); whatever it trains on must keep both splits.
        for name, dataset in (("training", trainer.train_dataset), ("held-out", trainer.eval_dataset)):
            if len(dataset) == 0:
                raise TrainingDataError(
                    f"No {name} record fits in max_length={config.max_length} tokens: raise max_length or select "
                    "shorter records."
                )
        train_ids = list(trainer.train_dataset["id"])
        held_out_ids = list(trainer.eval_dataset["id"])

        trainer.train()
        if callback.is_cancelled:
            raise TrainingCancelled("Training was cancelled; no model was saved.")
        metrics = getattr(method, f"{config.method}_metrics")(trainer, callback.held_out_metrics())
        if is_main:
            try:
                _model_save(trainer, staging)
                for leftover in staging.iterdir():
                    if leftover.is_dir():  # Trainer's own run folders: not part of a model
                        shutil.rmtree(leftover)
                os.replace(staging, output_dir)
            except OSError as error:
                if error.errno == errno.ENOSPC:
                    raise TrainingOutputError(
                        f"The disk filled while the model was saved to {output_dir}; nothing was kept. "
                        "Free some space and retry the run."
                    ) from error
                raise TrainingOutputError(f"The model could not be saved to {output_dir}: {error}") from error
        trainer.accelerator.wait_for_everyone()
    except BaseException:
        if is_main:
            shutil.rmtree(staging, ignore_errors=True)
        raise

    summary = callback.summary
    step_seconds = callback.total_step_seconds
    metrics.update(
        {
            "train_steps": float(trainer.state.global_step),
            "train_tokens": callback.train_tokens,
            "tokens_per_second": callback.train_tokens / step_seconds if step_seconds > 0 else 0.0,
            "train_records": float(len(train_ids)),
            "held_out_records": float(len(held_out_ids)),
        }
    )
    if "train_loss" in summary:
        metrics["train_loss"] = summary["train_loss"]
    if "train_runtime" in summary:
        metrics["train_runtime_seconds"] = summary["train_runtime"]
    return TrainingResult(
        folder=output_dir,
        metrics=metrics,
        weights=weight_hashes(output_dir),
        history=callback.history,
        train_ids=train_ids,
        held_out_ids=held_out_ids,
        device=_device_describe(trainer),
        world_size=int(trainer.args.world_size),
    )
