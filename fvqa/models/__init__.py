"""Models: one chat client for every OpenAI-compatible endpoint, the embedded local model, a caption bridge.

- `ChatClient`: chat completions with bounded concurrency, retries, a response cache, and
  failures returned as `ChatResult.error` (a `ModelError`), never raised;
- `image_part`, `user_message`: messages with images as data URLs;
- `LocalModelServer`: SmolLM2-135M-Instruct on llama.cpp's server (``fvqa[local]``);
- `TextOnlyBridge`, `LabelCaptioner`: images turned into captions for text-only models.

Nothing here imports llama.cpp or the model weights at import time.
"""

from fvqa.models.caption_bridge import Captioner, LabelCaptioner, TextOnlyBridge
from fvqa.models.client import ChatClient
from fvqa.models.local_server import (
    MODEL_ALIAS,
    LocalModelServer,
    LocalModelUnavailable,
    LocalServerError,
    find_model_file,
)
from fvqa.models.messages import Message, image_part, text_part, user_message
from fvqa.models.results import ChatResult, ErrorKind, ModelError, Usage

__all__ = [
    "MODEL_ALIAS",
    "Captioner",
    "ChatClient",
    "ChatResult",
    "ErrorKind",
    "LabelCaptioner",
    "LocalModelServer",
    "LocalModelUnavailable",
    "LocalServerError",
    "Message",
    "ModelError",
    "TextOnlyBridge",
    "Usage",
    "find_model_file",
    "image_part",
    "text_part",
    "user_message",
]
