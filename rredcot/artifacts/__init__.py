"""The replication's artifacts: statistics of the logged runs, the paper's tables and figures, the report.

Everything here reads only what the pipeline logged (results/<scale>/...) and the paper's numbers
(paper_tables/paper/); nothing trains or samples.
"""
