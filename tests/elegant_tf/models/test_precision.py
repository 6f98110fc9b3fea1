"""--precision: resolving `auto`, building under a policy without leaking it, float32 twins."""

import keras
import numpy as np
import pytest

from elegant_tf.models import discriminator as discriminator_lib
from elegant_tf.models import precision
from tests.elegant_tf import tiny


def test_auto_picks_bfloat16_only_with_bf16_hardware():
  assert precision.resolve("auto", cpu_flags=["avx512_bf16"], bf16_gpus=[])[0] == "mixed_bfloat16"
  assert precision.resolve("auto", cpu_flags=["amx_bf16"], bf16_gpus=[])[0] == "mixed_bfloat16"
  assert precision.resolve("auto", cpu_flags=[], bf16_gpus=["/physical_device:GPU:0"])[0] == (
      "mixed_bfloat16")
  policy, why = precision.resolve("auto", cpu_flags=[], bf16_gpus=[])
  assert policy == "float32" and "auto" in why
  for name in ("float32", "mixed_bfloat16", "mixed_float16"):
    assert precision.resolve(name, cpu_flags=[], bf16_gpus=[])[0] == name
  with pytest.raises(ValueError, match="valid: float32"):
    precision.resolve("bfloat16")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 avx512_vnni\n\n"
                     "processor\t: 1\nflags\t\t: fpu sse avx512f avx512_bf16 avx512_vnni\n")
  assert precision.cpu_bf16_flags(str(cpuinfo)) == ["avx512_bf16"]
  cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 amx_bf16 amx_tile\n")
  assert precision.cpu_bf16_flags(str(cpuinfo)) == ["amx_bf16"]
  cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n")
  assert precision.cpu_bf16_flags(str(cpuinfo)) == []
  assert precision.cpu_bf16_flags(str(tmp_path / "missing")) == []


def test_policy_scope_restores_the_global_policy_even_after_an_error():
  assert keras.config.dtype_policy().name == "float32"
  with pytest.raises(RuntimeError):
    with precision.policy_scope("mixed_bfloat16"):
      layer = keras.layers.Dense(2)
      raise RuntimeError("boom")
  assert keras.config.dtype_policy().name == "float32"
  assert layer.compute_dtype == "bfloat16" and layer.variable_dtype == "float32"


def test_bfloat16_networks_return_float32_images_and_logits():
  with precision.policy_scope("mixed_bfloat16"):
    generator = tiny.untrained_generator()
    discriminator = discriminator_lib.Discriminator([8, 16, 16, 16])
  assert precision.compute_dtype(generator) == "bfloat16"
  images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
  outputs = generator({"image": images, "exemplar": images[::-1],
                       "attributes": np.eye(2, dtype=np.float32)})
  assert {str(v.dtype) for v in outputs.values()} == {"<dtype: 'float32'>"}
  latent, skips = generator.encode(images)
  assert str(latent.dtype) == "<dtype: 'bfloat16'>"  # Inside, activations are 16-bit.
  logits = discriminator(images, np.ones((2, 2), np.float32))
  assert str(logits.dtype) == "<dtype: 'float32'>"


def test_float32_copy_has_the_same_weights_and_float32_outputs():
  with precision.policy_scope("mixed_bfloat16"):
    mixed = tiny.untrained_generator()
  twin = precision.float32_copy(mixed)
  assert twin is not mixed and precision.compute_dtype(twin) == "float32"
  assert len(mixed.weights) == len(twin.weights)
  for a, b in zip(mixed.weights, twin.weights):
    assert a.dtype == b.dtype == "float32"
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  images = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
  inputs = {"image": images, "exemplar": images[::-1], "attributes": np.eye(2, dtype=np.float32)}
  # Same function up to bfloat16 rounding of the mixed model (8 significant bits).
  np.testing.assert_allclose(np.asarray(twin(inputs)["edited"]),
                             np.asarray(mixed(inputs)["edited"]), atol=2e-2)
  plain = tiny.untrained_generator()
  assert precision.float32_copy(plain) is plain


def test_float32_copy_keeps_the_architecture_options():
  from elegant_tf.models import generator as generator_lib
  with precision.policy_scope("mixed_bfloat16"):
    mixed = generator_lib.ElegantGenerator(2, [8, 16, 16], skip_gating=True,
                                           dropped_fine_skips=1, masked_output=True,
                                           name="generator")
    zeros = np.zeros((1, 32, 32, 3), np.float32)
    mixed({"image": zeros, "exemplar": zeros, "attributes": np.zeros((1, 2), np.float32)})
  twin = precision.float32_copy(mixed)
  assert precision.compute_dtype(twin) == "float32" and twin.name == "generator"
  assert (twin.skip_gating, twin.dropped_fine_skips, twin.masked_output) == (True, 1, True)
  assert [tuple(v.shape) for v in twin.weights] == [tuple(v.shape) for v in mixed.weights]
