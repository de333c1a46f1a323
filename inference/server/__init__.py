"""The platform's own OpenAI-compatible model server, with no Django in it.

It serves every transformers model folder in the models folder (the built-in SmolLM2 and the
community fine-tunes) under `/v1/models` and `/v1/chat/completions`, so the arena talks to it
exactly as it talks to vLLM, TGI, llama.cpp or Ollama. Run it with `manage.py serve_models`.
"""

import os

# Weights come only from the models folder: huggingface_hub must never go online. It reads
# this variable once, when first imported, which importing the app below may do.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from inference.server.app import create_app  # noqa: E402

__all__ = ["create_app"]
