"""The daily pipeline: the job that runs every domain for one trading day and its schedule
after the US close."""
