"""Attacks on the gateway's promises, each the way an outsider would try it (issue 10).

One file per promise. Every attack releases real threads together through one barrier against a
real database (SQLite and PostgreSQL, through the `app` fixture), then asserts the invariant.
"""
