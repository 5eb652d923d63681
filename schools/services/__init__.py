"""Every write to schools' models (R1-R3, R36), built, ``full_clean()``-ed and saved
atomically; one module per entity, and ``writes`` for the one write path every app uses
(``model_save``, ``record_save``, ``record_delete``).

The admin's ModelForms and the API's CleanModelSerializer run the same ``full_clean()``;
these services are the path for code (imports, the exchange, the shell, tests).
"""
