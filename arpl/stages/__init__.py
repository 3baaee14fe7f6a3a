"""One module per pipeline stage, named like its notebook in ``notebooks/`` (``data`` for 01_data, ``train``
for 02_train, ... ``report`` for 10_report), plus ``download`` (the first stage of dvc.yaml) and ``plan``
(what the training stages will train, for ``python -m arpl check``). A stage imports the plumbing
(``arpl.pipeline``) and the library, never another stage (``plan`` reads the run lists of the training
stages); see docs/architecture.md.
"""
