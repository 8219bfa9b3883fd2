"""Reports from the database: the daily summary's figures (`daily`) and the canary verification
checklist (`canary_data` reads a run's rows, `canary_checks` judges the ten items).

May import: the kernel, psycopg and the standard library. Never the runner or the venue.
"""
