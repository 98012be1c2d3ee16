"""Show the query plans of one scenario's slow SQL statements.

python -m benchkit.explain --setup setup.json SCENARIO[:USER] [--min-ms 1]
(accord.settings, against a database kept with ``run.py --keep``)

Runs the scenario once in-process with every statement captured with its parameters,
then prints each statement slower than --min-ms with its plan: EXPLAIN QUERY PLAN on
SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL.
"""

import argparse
import json
import time

from .measure import SCENARIOS, _client, _get, connection  # sets up Django


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", required=True)
    parser.add_argument("--min-ms", type=float, default=1.0)
    parser.add_argument("target")
    args = parser.parse_args()
    with open(args.setup) as fh:
        setup = json.load(fh)
    name, _, user = args.target.partition(":")
    _group, path, via = SCENARIOS[name]
    client = _client(setup, user or "agent", via)
    _get(client, path)
    captured = []

    def wrapper(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            captured.append(((time.perf_counter() - t0) * 1000, sql, params))

    with connection.execute_wrapper(wrapper):
        _get(client, path)
    print(f"# {args.target} {path}: {len(captured)} statements")
    for ms, sql, params in captured:
        if ms < args.min_ms:
            continue
        print(f"\n## {ms:.2f} ms\n{sql % tuple(repr(p) for p in params) if params else sql}")
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                for row in cursor.fetchall():
                    print("   ", row)
            else:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                for (line,) in cursor.fetchall():
                    print("   ", line)


if __name__ == "__main__":
    main()
