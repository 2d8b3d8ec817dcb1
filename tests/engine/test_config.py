"""parse_config: defaults, coercion of form strings, and every kind of rejected value."""

from __future__ import annotations

from dataclasses import fields

import pytest

from training.engine.config import HYPERPARAMETERS, ConfigError, TrainingConfig, parse_config


def test_empty_input_gives_the_declared_defaults():
    assert parse_config(None) == TrainingConfig()
    assert parse_config({}) == TrainingConfig()
    assert {spec.name: spec.default for spec in HYPERPARAMETERS} == TrainingConfig().to_dict()
    assert [spec.name for spec in HYPERPARAMETERS] == [f.name for f in fields(TrainingConfig)]


def test_form_strings_are_coerced():
    config = parse_config(
        {
            "epochs": "3",
            "learning_rate": "1e-4",
            "batch_size": 32.0,
            "precision": "bf16",
            "seed": "",
            "warmup_ratio": 0,
        }
    )
    assert config.epochs == 3 and isinstance(config.epochs, int)
    assert config.learning_rate == pytest.approx(1e-4)
    assert config.batch_size == 32 and isinstance(config.batch_size, int)
    assert config.precision == "bf16"
    assert config.seed == 42  # blank means default
    assert config.warmup_ratio == 0.0


def test_range_limits_are_inclusive():
    config = parse_config({"epochs": 50, "learning_rate": 1e-7, "max_length": 8, "warmup_ratio": 0.5})
    assert (config.epochs, config.learning_rate, config.max_length, config.warmup_ratio) == (50, 1e-7, 8, 0.5)


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"epochs": 0}, "epochs", "at least 1"),
        ({"epochs": 51}, "epochs", "at most 50"),
        ({"learning_rate": 0.5}, "learning_rate", "at most 0.01"),
        ({"batch_size": "lots"}, "batch_size", "whole number"),
        ({"epochs": 2.5}, "epochs", "whole number"),
        ({"learning_rate": "fast"}, "learning_rate", "must be a number"),
        ({"learning_rate": [1e-4]}, "learning_rate", "must be a number"),
        ({"epochs": True}, "epochs", "boolean"),
        ({"learning_rate": False}, "learning_rate", "boolean"),
        ({"learning_rate": float("inf")}, "learning_rate", "finite"),
        ({"learning_rate": "nan"}, "learning_rate", "finite"),
        ({"max_length": "inf"}, "max_length", "whole number"),
        ({"seed": 10**400}, "seed", "between 0 and"),
        ({"learning_rate": -(10**400)}, "learning_rate", "between"),
        ({"precision": "fp16"}, "precision", "one of auto, fp32, bf16"),
        ({"momentum": 0.9}, "momentum", "unknown hyperparameter"),
        ({"method": "prefix"}, "method", "one of full, lora"),
        ({"schedule": "step"}, "schedule", "one of linear, cosine, constant"),
        ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps", "at least 1"),
        ({"gradient_accumulation_steps": 65}, "gradient_accumulation_steps", "at most 64"),
        ({"early_stopping_patience": -1}, "early_stopping_patience", "at least 0"),
        ({"epochs": 3, "early_stopping_patience": 3}, "early_stopping_patience", "less than epochs (3)"),
        ({"lora_rank": 0}, "lora_rank", "at least 1"),
        ({"lora_rank": 1.5}, "lora_rank", "whole number"),
        ({"lora_alpha": 0}, "lora_alpha", "at least 0.1"),
        ({"lora_dropout": 0.6}, "lora_dropout", "at most 0.5"),
        ({"lora_target_modules": "query"}, "lora_target_modules", "one of attention, all-linear"),
    ],
)
def test_bad_values_are_named(values, field, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(values)
    assert set(caught.value.errors) == {field}
    assert message in caught.value.errors[field]
    assert isinstance(caught.value, ValueError)


def test_every_error_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        parse_config({"epochs": -1, "batch_size": "x", "dropout": 0.1, "weight_decay": 2})
    assert set(caught.value.errors) == {"epochs", "batch_size", "dropout", "weight_decay"}
    assert "epochs:" in str(caught.value) and "dropout:" in str(caught.value)


def test_lora_fields_are_checked_but_ignored_by_full_fine_tuning():
    config = parse_config({"method": "full", "lora_rank": "4"})
    assert (config.method, config.lora_rank) == ("full", 4)
    with pytest.raises(ConfigError) as caught:
        parse_config({"method": "full", "lora_rank": 0})  # a bad value is an error whatever the method
    assert set(caught.value.errors) == {"lora_rank"}
    config = parse_config(
        {"method": "lora", "schedule": "cosine", "epochs": "3", "early_stopping_patience": "2"}
    )
    assert (config.method, config.schedule, config.early_stopping_patience) == ("lora", "cosine", 2)


def test_a_bad_epochs_value_does_not_hide_behind_the_patience_check():
    with pytest.raises(ConfigError) as caught:
        parse_config({"epochs": "x", "early_stopping_patience": 5})
    assert set(caught.value.errors) == {"epochs"}
