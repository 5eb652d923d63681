"""django-q2 entry points: thin, safe to run twice (R12, R15)."""
