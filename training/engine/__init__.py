"""Agora's fine-tuning engine: pure PyTorch and transformers, no Django.

``config`` declares the hyperparameters; ``finetune`` holds the public API (``fine_tune``,
``predict_proba`` and their data classes); ``data``, ``modeling``, ``lora`` (peft adapters) and
``progress`` (reports, early stopping) are its parts. Importing this package does not import
torch: ``from training.engine.finetune import fine_tune`` does.
"""
