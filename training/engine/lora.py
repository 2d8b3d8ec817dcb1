"""LoRA with peft: wrap a sequence classifier, and save both the adapter and the merged weights.

The output directory stays a plain Hugging Face classifier (merged ``model.safetensors`` at the top
level, loadable with ``AutoModelForSequenceClassification``); the adapter alone is kept in
``adapter/`` for whoever wants to stack or swap it.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model

from training.engine.config import TrainingConfig

ADAPTER_DIR = "adapter"


def head_modules(model: torch.nn.Module) -> list[str]:
    """Names of the top-level modules with weights outside the encoder: the classification head.

    BERT has ``classifier``, DistilBERT ``pre_classifier`` and ``classifier``, decoders ``score``.
    The head is fresh, so it must be trained and saved in full (peft's ``modules_to_save``).
    """
    encoder = model.base_model_prefix
    return [
        name
        for name, child in model.named_children()
        if name != encoder and any(True for _ in child.parameters())
    ]


def apply_lora(model: torch.nn.Module, config: TrainingConfig) -> PeftModel:
    """Freeze ``model`` and add trainable low-rank adapters; the head stays fully trainable."""
    lora_config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        # None lets peft pick the architecture's attention projections (query and value in BERT).
        target_modules="all-linear" if config.lora_target_modules == "all-linear" else None,
        modules_to_save=head_modules(model),
    )
    with warnings.catch_warnings():
        # peft asks transformers 5 for a renamed attribute; nothing for a caller to act on.
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
        return get_peft_model(model, lora_config)


def save_lora(model: PeftModel, output_dir: Path) -> torch.nn.Module:
    """Write the adapter to ``output_dir/adapter`` and return the merged plain model to save at the top."""
    adapter_dir = output_dir / ADAPTER_DIR
    model.save_pretrained(adapter_dir)
    # peft records the base's path: a scratch directory that does not outlive the run.
    config_path = adapter_dir / "adapter_config.json"
    adapter_config = json.loads(config_path.read_text())
    adapter_config["base_model_name_or_path"] = None
    config_path.write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")
    return model.merge_and_unload()
