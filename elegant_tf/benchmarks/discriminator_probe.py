"""Where do the discriminators stop objecting to a removal? Scores along the exact path.

  python -m elegant_tf.benchmarks.discriminator_probe --model=RUN_DIR [--eval_pairs=128]

The generator removes an attribute only as far as D1 and D2 object to what is
left of it. The synthetic faces give the exact removal C* (A with B's version of
the attribute), so the probe scores the straight path between C* and A:

    C_t = C* + t (A - C*),   t = 0 (the exact removal) ... 1 (A left unchanged),

each image claimed with C's labels (the attribute absent), and prints each
discriminator's mean logit at every t. A discriminator that objects to every
trace of the attribute falls from t = 0 on; one whose curve is flat near t = 0
gives the generator no push to take the last part away, and removals stop where
the curve flattens (a faded glasses frame). The "model t" column places the
model's own removal C on the path: its change C - A projected on the exact
change C* - A inside the attribute's region, as 1 - amplitude. "model C" is the
mean logit of that removal itself (which also differs from C* off the path),
and "real A" that of the real faces with their own labels, for scale.

--split_by=NAME (a face attribute of the synthetic faces, e.g. Blond_Hair)
repeats each row for the pairs whose A lacks and has NAME: a discriminator that
objects less to a faint blond fringe than to a faint dark one shows there
(BUILD_NOTES.md, "Bangs: half way on blond hair; a swap-back cycle measured").
"""

import numpy as np
from absl import flags

from elegant_tf.benchmarks import edit_scale
from elegant_tf.evaluation import ground_truth_eval
from elegant_tf.evaluation import run_probes
from elegant_tf.training import checkpointing
from elegant_tf.training import train_lib
from pipelines import markdown
from pipelines import usage
from pipelines.synthetic import params as face_params

PATH_STEPS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)


def define_flags():
  flags.DEFINE_string("model", None, "Training run directory (the probe needs the "
                      "discriminators, which only the run's checkpoints hold).")
  flags.DEFINE_integer("eval_pairs", 128, "Held-out pairs per attribute.", lower_bound=1)
  flags.DEFINE_string("split_by", None, "A face attribute to split each row by, on A's "
                      f"state: one of {', '.join(face_params.ATTRIBUTES)}.")
  usage.require_flags("model")


FLAGS = flags.FLAGS


def removal_path(image_a, truth_c, t: float):
  """C_t: the exact removal C* at t = 0, A unchanged at t = 1."""
  return truth_c + t * (image_a - truth_c)


def position_on_path(image_a, truth_c, removed, region) -> float:
  """Where the model's removal sits on the path: 1 - (its change along the exact
  change, as a fraction of that change) inside the region; 0 = exact, 1 = no change."""
  return 1.0 - edit_scale.along_exact(removed - image_a, truth_c - image_a, region)["scale"]


def probe_rows(gan, source, num_pairs: int, steps=PATH_STEPS,
               split_by: str | None = None) -> list[dict]:
  """One row per (discriminator, attribute): mean logits along the path and the model's t.

  split_by: a face attribute; then one row per (discriminator, attribute, its state in
  A) instead, over those pairs only ("group" says which; "all" without a split).
  """
  attributes = list(gan.attribute_names)
  # The discriminators read the exchanged attributes' labels, then the kept ones'.
  columns = [source.attribute_names.index(name)
             for name in attributes + list(gan.kept_attribute_names)]
  rows = []
  for index, name in enumerate(attributes):
    pairs = ground_truth_eval.swap_ground_truth(source, name, num_pairs)
    image_a = np.asarray(pairs["image_a"], np.float32)
    truth_c = np.asarray(pairs["truth_c"], np.float32)
    labels_a = pairs["labels_a"][:, columns]
    labels_c = labels_a.copy()
    labels_c[:, index] = pairs["labels_b"][:, columns[index]]
    weights = np.zeros((len(image_a), len(attributes)), np.float32)
    weights[:, index] = 1.0
    # The live generator: it is the one the discriminators were trained against.
    removed = np.asarray(gan.generator({"image": image_a, "exemplar": pairs["image_b"],
                                        "attributes": weights})["edited"])
    groups = {"all": np.ones(len(image_a), bool)}
    if split_by is not None:
      states = source.params("test", pairs["index_a"]).states[
          :, face_params.ATTRIBUTES.index(split_by)]
      groups = {f"{split_by}={state}": states == state for state in (0, 1)
                if np.any(states == state)}
    for label, discriminator in (("D1", gan.discriminator_full),
                                 ("D2", gan.discriminator_half)):
      def logits(images, labels):
        """Each image's logit (a patch discriminator's averaged over its patches)."""
        scores = np.asarray(discriminator(images, labels), np.float64)
        return scores.reshape(len(images), -1).mean(axis=1)

      path = [logits(removal_path(image_a, truth_c, t), labels_c) for t in steps]
      model, real = logits(removed, labels_c), logits(image_a, labels_a)
      for group, chosen in groups.items():
        rows.append({"discriminator": label, "attribute": name, "group": group,
                     "logits": [float(values[chosen].mean()) for values in path],
                     "model_t": position_on_path(image_a[chosen], truth_c[chosen],
                                                 removed[chosen], pairs["region_c"][chosen]),
                     "model_logit": float(model[chosen].mean()),
                     "real_logit": float(real[chosen].mean())})
  return rows


def restored_gan(run_dir: str):
  """(trainer, settings, step): the run's generator and both discriminators at its newest
  readable checkpoint, restored as a resume restores them."""
  config = run_probes.run_config(run_dir, "a SavedModel has no discriminators")
  gan = train_lib.build_gan(config)
  step = checkpointing.restore_latest(checkpointing.checkpoint_manager(gan, run_dir))
  if not step:
    raise usage.UsageError(f"--model={run_dir}: no checkpoint to restore the discriminators from")
  return gan, config, step


def main(argv):
  usage.check_no_arguments(argv)
  if FLAGS.split_by is not None and FLAGS.split_by not in face_params.ATTRIBUTES:
    raise usage.UsageError(f"--split_by={FLAGS.split_by!r} is not an attribute of the "
                           f"synthetic faces ({', '.join(face_params.ATTRIBUTES)})")
  gan, config, step = restored_gan(FLAGS.model)
  source = run_probes.run_faces(config)
  rows = probe_rows(gan, source, FLAGS.eval_pairs, split_by=FLAGS.split_by)
  print(f"step {step}; {FLAGS.eval_pairs} pairs per attribute; mean logit on "
        "C_t = C* + t (A - C*), claimed with C's labels")
  print(markdown.table(
      ["discriminator", "attribute", "A's group"] + [f"t={t:g}" for t in PATH_STEPS]
      + ["model t", "model C", "real A"],
      ([row["discriminator"], row["attribute"], row["group"]]
       + [f"{v:+.3f}" for v in row["logits"]]
       + [f"{row['model_t']:.2f}", f"{row['model_logit']:+.3f}", f"{row['real_logit']:+.3f}"]
       for row in rows)))


if __name__ == "__main__":
  define_flags()
  usage.run("discriminator_probe", main)
