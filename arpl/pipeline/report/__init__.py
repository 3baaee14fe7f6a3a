"""The report: its HTML pages (``pages``, ``display``), the claims page (``claims``), the measured seed spread
(``spread``) and the comparison of a run with the committed baseline (``reproduce``)."""
