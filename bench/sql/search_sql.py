#!/usr/bin/env python3
"""The database half of `http-bench search`, without a server: applies the migrations
to a fresh SQLite file or PostgreSQL database, seeds N messages in one statement (the
index upkeep runs as on a send), then times the exact search query the server runs
(rights join included) and a plain LIKE scan with the same join, each in the
database's client (Python's sqlite3 module, psql `\\timing`).

    python3 bench/sql/search_sql.py --db sqlite --messages 1000000 --queries 200
    python3 bench/sql/search_sql.py --db postgres --messages 1000000 --queries 200
"""

import argparse
import glob
import os
import random
import re
import sqlite3
import subprocess
import tempfile
import time

RARE, COMMON = 5000, 50
USER, CHANNEL = 2, 1
PG_ADMIN = os.environ.get("PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432")


def migrations(db):
    here = os.path.dirname(os.path.abspath(__file__))
    folder = os.path.join(here, "..", "..", "migrations", db)
    return [open(p).read() for p in sorted(glob.glob(os.path.join(folder, "*.sql")))]


def seed_sql(db, n):
    body = (f"'seeded message about w' || ((x * 7919) % {RARE}) || ' and t' || (x % {COMMON}) "
            "|| ' for the search benchmark'")
    setup = (f"INSERT INTO users (id, email, username, username_key, password_hash, role, created_at) "
             f"VALUES ({USER}, 'r@example.test', 'reader', 'reader', 'x', 'member', 0); "
             f"INSERT INTO channels (id, name, kind, is_default, is_private, write_permission, created_at) "
             f"VALUES ({CHANNEL}, 'general', 'text', 1, 0, 'everyone', 0); ")
    insert = "INSERT INTO messages (id, channel_id, author_id, body, created_at)"
    select = f"SELECT x, {CHANNEL}, {USER}, {body}, x"
    if db == "sqlite":
        return (setup + f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) "
                f"{insert} {select} FROM c; ANALYZE;")
    return setup + f"{insert} {select} FROM generate_series(CAST(1 AS BIGINT), {n}) AS x; ANALYZE messages;"


VISIBLE = "(c.is_private = 0 OR m.user_id IS NOT NULL OR (0 = 1 AND c.dm_key IS NULL))"
JOINS = (f"JOIN channels c ON c.id = msg.channel_id "
         f"LEFT JOIN channel_memberships m ON m.channel_id = c.id AND m.user_id = {USER}")


def search_sql(db, word, limit):
    if db == "sqlite":
        return (f"SELECT msg.id, -bm25(messages_fts) AS score FROM messages_fts "
                f"CROSS JOIN messages msg ON msg.id = messages_fts.rowid {JOINS} "
                f"WHERE messages_fts MATCH '\"{word}\"*' AND {VISIBLE} ORDER BY score DESC, msg.id DESC LIMIT {limit};")
    q = f"to_tsquery('simple', '{word}:*')"
    return (f"SELECT msg.id, CAST(ts_rank(msg.search_vector, {q}) AS DOUBLE PRECISION) AS score FROM messages msg {JOINS} "
            f"WHERE msg.search_vector @@ {q} AND {VISIBLE} ORDER BY score DESC, msg.id DESC LIMIT {limit};")


def like_sql(word, limit):
    return (f"SELECT msg.id FROM messages msg {JOINS} WHERE msg.body LIKE '%{word} %' AND {VISIBLE} "
            f"ORDER BY msg.id DESC LIMIT {limit};")


def run(db, target, script):
    if db == "sqlite":
        # Python's sqlite3 module times each statement to the microsecond (the shell's
        # `.timer` rounds to milliseconds).
        conn = sqlite3.connect(target)
        times = []
        try:
            # One query per line when timing; otherwise one script (migrations, seed).
            for statement in script.split("\n") if script.startswith("SELECT") else [script]:
                t0 = time.perf_counter()
                if statement.startswith("SELECT"):
                    conn.execute(statement).fetchall()
                else:
                    conn.executescript(statement)
                times.append((time.perf_counter() - t0) * 1000)
            conn.commit()
        finally:
            conn.close()
        return times
    out = subprocess.run(["psql", target, "-qAtX", "-v", "ON_ERROR_STOP=1"], input="\\timing on\n" + script,
                         capture_output=True, text=True, check=True).stdout
    return [float(t) for t in re.findall(r"Time: ([0-9.]+) ms", out)]


def pct(samples, p):
    s = sorted(samples)
    return s[max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--baseline-queries", type=int, default=10)
    ap.add_argument("--limit", type=int, default=25)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="cromulent-search-bench-")
    if a.db == "sqlite":
        target = os.path.join(tmp, "bench.db")
    else:
        name = f"search_bench_{os.getpid()}"
        subprocess.run(["psql", f"{PG_ADMIN}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
        target = f"{PG_ADMIN}/{name}"
    try:
        for sql in migrations(a.db):
            run(a.db, target, sql)
        t0 = time.time()
        run(a.db, target, seed_sql(a.db, a.messages))
        print(f"seeded and indexed {a.messages} messages in {time.time() - t0:.1f} s")
        rng = random.Random(7)
        print("| database | messages | query | searches | p50 ms | p99 ms | LIKE mean ms | LIKE / p50 |")
        print("|---|---:|---|---:|---:|---:|---:|---:|")
        for kind, words in (("rare word", RARE), ("common word", COMMON)):
            prefix = "w" if words == RARE else "t"
            pick = lambda: f"{prefix}{rng.randrange(words)}"
            run(a.db, target, "\n".join(search_sql(a.db, pick(), a.limit) for _ in range(20)))  # warm-up
            times = run(a.db, target, "\n".join(search_sql(a.db, pick(), a.limit) for _ in range(a.queries)))
            like = run(a.db, target, "\n".join(like_sql(pick(), a.limit) for _ in range(a.baseline_queries)))
            p50, p99, lm = pct(times, 50), pct(times, 99), sum(like) / len(like)
            label = "SQLite" if a.db == "sqlite" else "PostgreSQL"
            print(f"| {label} | {a.messages:,} | {kind} | {len(times)} | {p50:.2f} | {p99:.2f} | {lm:.1f} | {lm / p50:.0f}× |")
    finally:
        if a.db == "postgres":
            subprocess.run(["psql", f"{PG_ADMIN}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name}"], check=False)
        subprocess.run(["rm", "-rf", tmp], check=False)


if __name__ == "__main__":
    main()
