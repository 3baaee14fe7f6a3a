"""The pipeline's plumbing: ``params/`` (what params.yaml holds, and what each stage may read of it), ``runs/`` (the
training runs: names, specs, images, training, worker processes), ``report/`` (the report's pages and comparisons),
``notebook`` (running a stage notebook) and ``checks`` (``python -m arpl check``).

It imports the library (``arpl.data``, ``arpl.training``, ...) and never a stage (``arpl.stages``); see
docs/architecture.md.
"""
