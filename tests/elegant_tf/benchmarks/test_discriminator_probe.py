import numpy as np
import pytest

from elegant_tf.benchmarks import discriminator_probe
from elegant_tf.evaluation import ground_truth_eval
from pipelines import synthetic
from pipelines import usage
from pipelines.synthetic import params as face_params
from tests.elegant_tf import tiny


def test_the_path_runs_from_the_exact_removal_to_the_unchanged_face():
  image_a = np.full((1, 2, 2, 3), 0.8, np.float32)
  truth_c = np.full((1, 2, 2, 3), -0.2, np.float32)
  np.testing.assert_allclose(discriminator_probe.removal_path(image_a, truth_c, 0.0), truth_c)
  np.testing.assert_allclose(discriminator_probe.removal_path(image_a, truth_c, 1.0), image_a)
  np.testing.assert_allclose(discriminator_probe.removal_path(image_a, truth_c, 0.25), 0.05)


def test_the_models_position_is_measured_inside_the_region_along_the_exact_change():
  image_a = np.zeros((1, 2, 2, 3), np.float32)
  truth_c = np.ones((1, 2, 2, 3), np.float32)
  region = np.array([[[True, True], [False, False]]])
  removed = np.zeros_like(image_a)
  removed[:, 0] = 0.75  # three quarters of the way inside the region...
  removed[:, 1] = 5.0  # ... and anything outside it is not counted.
  assert discriminator_probe.position_on_path(image_a, truth_c, removed, region) == (
      pytest.approx(0.25))
  assert discriminator_probe.position_on_path(image_a, truth_c, image_a, region) == 1.0
  assert discriminator_probe.position_on_path(image_a, truth_c, truth_c, region) == 0.0


def test_probe_rows_restore_both_discriminators_and_score_the_path(tiny_run):
  gan, config, step = discriminator_probe.restored_gan(tiny_run["config"].run_dir)
  assert step == 4
  assert gan.trained_steps == 4  # the restored state, not fresh weights
  source = synthetic.open_source("", config.image_size, seed=config.seed)
  rows = discriminator_probe.probe_rows(gan, source, 3, steps=(0.0, 1.0))
  assert [(row["discriminator"], row["attribute"]) for row in rows] == [
      (d, name) for name in config.attributes for d in ("D1", "D2")]
  for row in rows:
    assert len(row["logits"]) == 2 and np.all(np.isfinite(row["logits"]))
    assert all(np.isfinite(row[key]) for key in ("model_t", "model_logit", "real_logit"))
  # The two ends of the path are different images, and every D scores them apart.
  assert all(row["logits"][0] != row["logits"][1] for row in rows)


def test_split_rows_cover_the_pairs_of_each_group_and_average_back(tiny_run):
  gan, config, _ = discriminator_probe.restored_gan(tiny_run["config"].run_dir)
  source = synthetic.open_source("", config.image_size, seed=config.seed)
  whole = discriminator_probe.probe_rows(gan, source, 8, steps=(0.0, 1.0))
  split = discriminator_probe.probe_rows(gan, source, 8, steps=(0.0, 1.0),
                                         split_by="Blond_Hair")
  assert {row["group"] for row in whole} == {"all"}
  for row in whole:
    mine = [r for r in split if (r["discriminator"], r["attribute"])
            == (row["discriminator"], row["attribute"])]
    assert {r["group"] for r in mine} <= {"Blond_Hair=0", "Blond_Hair=1"}
    pairs = ground_truth_eval.swap_ground_truth(source, row["attribute"], 8)
    blond = source.params("test", pairs["index_a"]).states[
        :, face_params.ATTRIBUTES.index("Blond_Hair")]
    counts = {f"Blond_Hair={state}": int(np.sum(blond == state)) for state in (0, 1)}
    # Each group's mean, weighted by its pairs, gives back the mean over all pairs.
    for key in ("real_logit", "model_logit"):
      assert sum(r[key] * counts[r["group"]] for r in mine) / len(blond) == pytest.approx(
          row[key], abs=1e-5)
    assert sum(r["logits"][1] * counts[r["group"]] for r in mine) / len(blond) == (
        pytest.approx(row["logits"][1], abs=1e-5))


def test_a_directory_without_checkpoints_is_refused_by_name(tiny_run, tmp_path):
  run_dir = tiny.copy_of_run(tiny_run, tmp_path).run_dir
  for path in (tmp_path / "run" / "checkpoints").iterdir():
    path.unlink()
  with pytest.raises(usage.UsageError, match="no checkpoint to restore the discriminators"):
    discriminator_probe.restored_gan(run_dir)
