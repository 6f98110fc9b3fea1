"""Training precision: which Keras mixed-precision policy the networks are built under.

`--precision` chooses among float32 (the default), mixed_bfloat16, mixed_float16
and auto. Under the mixed policies variables and optimizer state stay float32
and only the layers' computation runs in 16 bits, so a checkpoint does not
depend on the precision it was written in. The networks keep the numerically
delicate parts in float32 themselves: the per-pixel L2 norm's reduction, the
residual added to the image, the discriminator logits (hence BCE) and every loss.

A policy is a property of each layer, fixed when the layer is constructed:
`policy_scope` sets the global policy only while networks are being built, so
nothing else in the process (tests, exports, evaluation) is affected.
"""

import contextlib
import os
from typing import Optional

import keras
import tensorflow as tf


PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")
# CPU flags (Linux /proc/cpuinfo) of instructions that make bfloat16 faster than
# float32 in oneDNN: AMX tiles or AVX-512 BF16 dot products. Without them
# bfloat16 is emulated and usually slower than float32.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
# bfloat16 tensor cores start with Ampere (compute capability 8.0).
BF16_GPU_CAPABILITY = (8, 0)


def cpu_bf16_flags(cpuinfo_path: str = "/proc/cpuinfo") -> list[str]:
  """The BF16_CPU_FLAGS this CPU reports (empty if none, or not on Linux)."""
  try:
    with open(cpuinfo_path) as f:
      text = f.read()
  except OSError:
    return []
  flags = set()
  for line in text.splitlines():
    if line.startswith("flags"):
      flags.update(line.partition(":")[2].split())
  return [flag for flag in BF16_CPU_FLAGS if flag in flags]


def gpu_bf16_names() -> list[str]:
  """Names of visible GPUs with bfloat16 tensor cores (compute capability >= 8.0)."""
  names = []
  for gpu in tf.config.list_physical_devices("GPU"):
    capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
    if capability and tuple(capability) >= BF16_GPU_CAPABILITY:
      names.append(gpu.name)
  return names


def resolve(precision: str, cpu_flags: Optional[list] = None,
            bf16_gpus: Optional[list] = None) -> tuple[str, str]:
  """(Keras policy name, why) for a --precision value; `auto` looks at the hardware.

  cpu_flags, bf16_gpus: what the hardware offers (default: asked from the
  machine); given by tests.
  """
  if precision not in PRECISIONS:
    raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
  if precision != "auto":
    return precision, "as requested"
  if bf16_gpus is None:
    bf16_gpus = gpu_bf16_names()
  if bf16_gpus:
    return "mixed_bfloat16", f"auto: GPU with bfloat16 ({', '.join(bf16_gpus)})"
  if cpu_flags is None:
    cpu_flags = cpu_bf16_flags()
  if cpu_flags:
    return "mixed_bfloat16", f"auto: CPU has {', '.join(cpu_flags)}"
  return "float32", f"auto: no {' or '.join(BF16_CPU_FLAGS)} CPU flag and no bfloat16 GPU"


@contextlib.contextmanager
def policy_scope(policy: str):
  """Build layers under `policy` (a Keras dtype policy name); restore the old one after."""
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(policy)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


def compute_dtype(model) -> str:
  """The dtype a Keras model's layers compute in ('float32', 'bfloat16', 'float16')."""
  return keras.backend.standardize_dtype(model.dtype_policy.compute_dtype)


def float32_copy(generator):
  """A float32-policy twin of `generator` with the same weights (exact: variables are
  float32 under every policy). Returns `generator` itself if it already computes in float32.

  Exports use this, so a model trained in bf16 serves and converts to TFLite
  exactly as a float32-trained one (TFLite's builtin kernels have no bfloat16,
  and serving CPUs without bf16 instructions would emulate it).
  """
  if compute_dtype(generator) == "float32":
    return generator
  # From the generator's own config, so that a new architecture option needs no line
  # here; without its dtype, so that the float32 policy applies.
  config = {key: value for key, value in generator.get_config().items() if key != "dtype"}
  with policy_scope("float32"):
    twin = type(generator).from_config(config)
  # Weight shapes do not depend on the image size: build at the smallest one.
  size = 2 ** generator.depth
  images = keras.ops.zeros((1, size, size, 3))
  twin({"image": images, "exemplar": images,
        "attributes": keras.ops.zeros((1, generator.num_attributes))})
  twin.set_weights(generator.get_weights())
  return twin
