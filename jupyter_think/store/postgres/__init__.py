"""The PostgreSQL store (psycopg 3): the store, its connection, the watchdog and the class roles.

Importing this package imports nothing else: :mod:`.roles` works without psycopg."""
