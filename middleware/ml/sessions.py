"""Open an ONNX model for inference with onnxruntime: the one place run-time code does it.

Run-time ML (the director, morphing, the mask denoiser) imports this module and nothing of the training
side (``nn``, ``train_*``, ``onnx_export``, the ``onnx`` package), so a player's install needs only
onnxruntime; ``tests/test_layering.py`` checks it.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelError
from ..rt.guard import forbidden


@forbidden("onnxruntime session creation")  # never on the audio thread (rt/guard.py)
def session(model: bytes | str | Path, name: str | None = None):
    """A one-thread onnxruntime session (control-rate work must not fan out over the cores).

    ``name`` says what the model is in error messages (``director model 'x.onnx'``).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    src = model if isinstance(model, bytes) else str(model)
    label = name or (f"model '{model}'" if not isinstance(model, bytes) else "model")
    try:
        return ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise ModelError(f"{label}: cannot load, not a valid ONNX model ({exc})") from exc
