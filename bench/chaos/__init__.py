"""`make chaos`: kill gunicorn workers and crash PostgreSQL under load, then prove the books.

run.py orchestrates; pg.py is a throwaway PostgreSQL instance; client.py the retrying clients;
verify.py the checks afterwards. See the README's "Chaos test" section.
"""
