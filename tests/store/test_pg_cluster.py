"""The session's PostgreSQL cluster is real: a server process on a private Unix socket."""

from __future__ import annotations

import psycopg


def test_cluster_answers_on_its_private_socket(pg_cluster):
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        socket_dir = conn.execute("SHOW unix_socket_directories").fetchone()[0]
    assert int(version.split(".")[0]) >= 13
    assert socket_dir == str(pg_cluster.socket_dir)


def test_backend_fixture_gives_a_working_database(backend):
    db = backend.database("registry")
    assert db.backend == backend.name
    with db.transaction() as tx:
        tx.execute("CREATE TABLE scratch (k TEXT PRIMARY KEY, v INTEGER)")
        tx.execute("INSERT INTO scratch VALUES (?, ?)", ("a", 1))
    with db.connection() as tx:
        assert tx.execute("SELECT v FROM scratch WHERE k = ?", ("a",)).fetchone()[0] == 1


def test_pooled_connections_cut_by_the_server_are_replaced_before_use(pg_cluster):
    """The checkout check polls the idle socket: a connection the server ended (as at a restart)
    is noticed and replaced, so the next query works without an error."""
    from cardservice.store.database import PostgresDatabase

    db = PostgresDatabase(pg_cluster.new_database("cut"), site_id="site-a", max_size=2)
    with db.connection() as tx:
        pid = tx.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(pg_cluster.url(), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()[0]
    with db.connection() as tx:
        assert tx.execute("SELECT pg_backend_pid()").fetchone()[0] != pid
    db.close()
