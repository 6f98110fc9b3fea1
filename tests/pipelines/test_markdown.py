from pipelines import markdown


def test_table_is_exactly_header_separator_and_rows():
  assert markdown.table(["name", "value"], [["a", 1], ["b", "2.50"]]) == (
      "| name | value |\n"
      "|---|---|\n"
      "| a | 1 |\n"
      "| b | 2.50 |")


def test_table_without_rows_is_its_header():
  assert markdown.table(["x"], []) == "| x |\n|---|"


def test_alignment_letters_per_column():
  assert markdown.header(["op", "ms", "share"], align="lr") == (
      "| op | ms | share |\n|:--|--:|---|")


def test_a_pipe_in_a_cell_is_escaped_not_a_new_column():
  assert markdown.row(["a|b", None]) == "| a\\|b | None |"
