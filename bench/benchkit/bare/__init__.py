"""A minimal Django WSGI app: one view, one ORM insert. The floor Accord's create
endpoint is compared against (same server, same database, same worker settings)."""
