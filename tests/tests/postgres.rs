//! PostgreSQL 15 in one sandbox, as the postgres user (initdb refuses
//! root): initdb, `pg_ctl start` with the server on a Unix socket only,
//! psql creating and querying a table over it, `pg_ctl stop`. The server
//! keeps a small SysV shared memory segment as an interlock (its big
//! memory is POSIX shm under /dev/shm), and forks a backend per client.

use std::time::Duration;

use tests::{host_program, require, sandbox, Cmd};

const BIN: &str = "/usr/lib/postgresql/15/bin";

#[test]
fn postgres_initdb_start_psql_over_a_unix_socket_and_stop() {
    require!(host_program(&format!("{BIN}/initdb"), "postgresql"));
    require!(host_program(&format!("{BIN}/psql"), "postgresql"));
    require!(sandbox());
    // Inside the sandbox /tmp is its own (the root overlay is in
    // memory): nothing of this reaches the host.
    let as_postgres = format!(
        "set -e
         {BIN}/initdb -D /tmp/pg/data >/tmp/pg/initdb.out 2>&1 || {{ cat /tmp/pg/initdb.out; exit 1; }}
         {BIN}/pg_ctl -D /tmp/pg/data -o '-k /tmp/pg/sock -c listen_addresses=' -l /tmp/pg/log -w start >/dev/null \
             || {{ cat /tmp/pg/log; exit 1; }}
         {BIN}/psql -h /tmp/pg/sock -d postgres \
             -c 'create table t(x int); insert into t values (1),(2); select sum(x) from t;'
         # Debian's wrapper, a symlink to a Perl script that picks the
         # program from the name it was run by.
         /usr/bin/psql -h /tmp/pg/sock -d postgres -tA -c 'select count(*) from t'
         {BIN}/pg_ctl -D /tmp/pg/data -w stop"
    );
    let script = "set -e
         mkdir -p /tmp/pg/sock
         chown -R postgres /tmp/pg
         su postgres -s /bin/sh -c \"$1\"";
    let out = Cmd::new(&["/bin/sh", "-c", script, "sh", &as_postgres])
        .timeout(Duration::from_secs(300))
        .run_sandboxed();
    out.assert_success();
    assert!(
        out.stdout
            .contains("CREATE TABLE\nINSERT 0 2\n sum \n-----\n   3\n(1 row)\n"),
        "{}",
        out.describe()
    );
    assert!(out.stdout.contains("\n2\n"), "{}", out.describe());
    assert!(out.stdout.contains("server stopped"), "{}", out.describe());
}
