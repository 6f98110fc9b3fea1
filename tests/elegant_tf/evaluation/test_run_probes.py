import pytest

from elegant_tf.evaluation import run_probes
from pipelines import usage


def test_a_run_gives_its_generator_and_faces_of_its_own_seed(tiny_run):
  config = tiny_run["config"]
  model, faces = run_probes.run_generator_and_faces(config.run_dir, "unused")
  assert model.generator is not None
  assert list(model.attribute_names) == list(config.attributes)
  assert faces.image_size == config.image_size and faces.seed == config.seed


def test_a_savedmodel_is_refused_with_the_probes_reason(tiny_export):
  with pytest.raises(usage.UsageError, match="has no encoder to probe; give the training run"):
    run_probes.run_generator_and_faces(tiny_export["version_dir"],
                                       "a SavedModel has no encoder to probe")


def test_a_directory_without_the_runs_flags_is_refused_by_name(tmp_path):
  with pytest.raises(usage.UsageError,
                     match="not a training run directory .*; a SavedModel has no discriminators"):
    run_probes.run_config(str(tmp_path), "a SavedModel has no discriminators")
