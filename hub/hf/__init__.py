"""Hugging Face compatible endpoints: the huggingface_hub and transformers clients, unmodified, pull
and push Agora models with HF_ENDPOINT pointing at the hub."""
