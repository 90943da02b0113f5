"""Names of the delimiter metrics that training logs and the artifacts read.

Standard library only: the figures and the report import these names without loading transformers, which
:mod:`rredcot.pipeline.delimiters` (the code that logs them) needs.
"""

NEWLINES_METRIC = "delimiters/newlines_mean"
THINKING_LINES_METRIC = "delimiters/thinking_lines_mean"
