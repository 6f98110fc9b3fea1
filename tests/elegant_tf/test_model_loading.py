import numpy as np
import pytest

from elegant_tf import export
from elegant_tf import model_loading
from elegant_tf import train_config
from elegant_tf import train_lib
from tests.elegant_tf import tiny


def test_run_dir_saved_model_and_model_folder_give_the_same_transfer(tmp_path):
  config = tiny.tiny_config(tmp_path, train_steps=2, eval_pairs=0,
                            export_dir=str(tmp_path / "models" / "tiny"))
  result = train_lib.train(config)
  batch = tiny.random_pair_batch()
  weights = np.array([[1, 0], [0, 1], [1, 1], [0.5, 0]], np.float32)
  outputs = []
  for path in (config.run_dir, result["export"], config.export_dir):
    model = model_loading.load(path)
    assert model.attribute_names == ("Eyeglasses", "Bangs") and model.image_size == 32
    outputs.append(model.transfer(batch["image_a"], batch["image_b"], weights))
  for other in outputs[1:]:
    for key in ("edited", "exemplar_edited"):
      np.testing.assert_allclose(other[key], outputs[0][key], atol=1e-5)


def test_unknown_path_names_the_accepted_forms(tmp_path):
  with pytest.raises(FileNotFoundError, match="neither a SavedModel"):
    model_loading.load(str(tmp_path))


def test_flagfile_round_trip(tmp_path):
  config = tiny.tiny_config(tmp_path, deterministic=False, export_dir=None)
  path = tmp_path / "flags.txt"
  path.write_text(config.to_flagfile())
  assert train_config.TrainConfig.from_flagfile(str(path)) == config
