"""Background jobs: a scheduler in every process, each run claimed once in the database."""
