"""Basket-trade state machine: preview, approve, execute, cancel, reconcile (DESIGN.md §5).

Small modules, each one step: :mod:`~orchestration.execution.preview`,
:mod:`~orchestration.execution.approve`, :mod:`~orchestration.execution.execute`,
:mod:`~orchestration.execution.cancel`, :mod:`~orchestration.execution.reconcile`, with the
stored records and their compare-and-set transitions in :mod:`~orchestration.execution.records`,
the halt switch in :mod:`~orchestration.execution.halts` and pre-trade limits in
:mod:`~orchestration.execution.limits`. Nothing here needs a Dagster run: the jobs, the CLI and
the tests call the same functions with a database and a broker.
"""
