"""The machine table's arithmetic: each train row against its own precision's ceiling."""

from elegant_tf.benchmarks import machine_table


def _train_row(precision, dtype, images_per_second, achieved, preset="paper"):
  return {"measure": "train step", "setting": f"64 px, {preset} widths, {precision}",
          "value": images_per_second, "unit": "images/s", "gflop_per_item": 1.0,
          "achieved_gflops": achieved, "compute_dtype": dtype, "group": (preset, 64, "off"),
          "precision": precision, "peak_rss_mib": 100.0}


def test_rows_use_the_ceiling_of_their_compute_dtype_and_the_float32_speed_up():
  rows = [_train_row("float32", "float32", 40.0, 50.0),
          _train_row("mixed_bfloat16", "bfloat16", 60.0, 75.0)]
  table = machine_table.format_table(rows, {"float32": 200.0, "bfloat16": 750.0})
  float32_line, bf16_line = table.splitlines()[2:]
  cells = [cell.strip() for cell in bf16_line.split("|")[1:-1]]
  assert cells[4] == "1.50x"  # 60 / 40 images/s.
  assert cells[7] == "10.0"  # 75 of 750 GFLOP/s: the bfloat16 ceiling, not float32's.
  cells = [cell.strip() for cell in float32_line.split("|")[1:-1]]
  assert cells[4] == "1.00x" and cells[7] == "25.0"


def test_rows_without_a_measured_ceiling_or_baseline_show_a_dash():
  row = _train_row("mixed_float16", "float16", 30.0, 20.0)
  line = machine_table.format_table([row], {"float32": 200.0, "float16": None}).splitlines()[2]
  cells = [cell.strip() for cell in line.split("|")[1:-1]]
  assert cells[4] == "-" and cells[7] == "-"


def test_each_preset_is_compared_with_its_own_float32_row():
  # One run covers the paper's and the demo's widths; a demo row divided by the paper's
  # float32 speed would mix two networks.
  rows = [_train_row("float32", "float32", 40.0, 50.0, "paper"),
          _train_row("mixed_bfloat16", "bfloat16", 60.0, 75.0, "paper"),
          _train_row("float32", "float32", 100.0, 20.0, "demo"),
          _train_row("mixed_bfloat16", "bfloat16", 110.0, 22.0, "demo")]
  lines = machine_table.format_table(rows, {"float32": 200.0, "bfloat16": 750.0}).splitlines()
  ratios = [[cell.strip() for cell in line.split("|")[1:-1]][4] for line in lines[2:]]
  assert ratios == ["1.00x", "1.50x", "1.00x", "1.10x"]


def test_preset_names_are_the_training_speed_presets():
  # Spelled out in machine_table so that its top imports no TensorFlow; a preset added
  # to training_speed must be measurable here too.
  from elegant_tf.benchmarks import training_speed
  assert set(machine_table.PRESET_NAMES) == set(training_speed.PRESETS)


def test_step_flops_counts_only_what_runs():
  import tensorflow as tf
  weights = tf.ones((64, 32))

  @tf.function
  def step(x):
    unused = tf.matmul(x, tf.ones((64, 128)))  # Traced, pruned before running.
    del unused
    return tf.matmul(x, weights)

  flops = machine_table.step_flops(step, tf.ones((16, 64)))
  assert flops == 2 * 16 * 64 * 32
