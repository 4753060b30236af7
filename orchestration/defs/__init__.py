"""The code location's definitions, one folder per domain, loaded by
:func:`dagster.load_from_defs_folder` in :mod:`orchestration.definitions`.

Each domain folder holds the role-named modules it needs (``assets.py``, ``checks.py``,
``jobs.py``, ``sensors.py``, ``schedules.py``) and its own services (``store.py``,
``series.py``, ``csv_source.py``). What several domains share stays outside: ``settings.py``,
``resources/``, ``storage/``, ``execution/`` and ``cli/``.
"""
