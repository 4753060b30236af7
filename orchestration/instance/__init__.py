"""The Dagster instance of the embedded default (``dagster.yaml``): SQLite storage whose event
log writes a batch of events in one transaction (:mod:`orchestration.instance.storage`)."""
