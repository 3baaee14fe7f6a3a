"""The pipeline's plumbing: from ``params.yaml`` to trained runs, executed notebooks and DVC deps.

It imports the library (``arpl.data``, ``arpl.training``, ...) and never a stage (``arpl.stages``); see
docs/architecture.md.
"""
