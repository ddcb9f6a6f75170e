//! Real servers in the sandbox (Debian's nginx-light and redis-server):
//! served to clients outside it through `do`'s host networking, and to
//! clients inside it over the sandbox's own stack (`--network=none`:
//! its loopback). What each client receives is checked byte for byte.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tests::{host_program, require, sandbox, scratch_dir, unique_name, Cmd};

/// A port nobody holds on the host's loopback now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("its address").port()
}

/// Waits until something accepts on 127.0.0.1:`port` (the sandboxed
/// server is up), or panics after `limit`.
fn wait_for_port(port: u16, limit: Duration, server: &mut Child) {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = server.try_wait() {
            panic!("the sandboxed server exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port} after {limit:?}");
}

/// A sandboxed server, killed (the whole sandbox with it) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> Server {
    let child = tests::runsc_command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start runsc-rs");
    Server(child)
}

/// An nginx configuration serving `root` on 127.0.0.1:`port`, every path
/// under `dir`, in the foreground.
fn nginx_conf(dir: &Path, root: &Path, port: u16) -> std::path::PathBuf {
    let conf = dir.join("nginx.conf");
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nworker_processes 2;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 512; }}\n\
             http {{ access_log off; client_body_temp_path {d}/body; \
             server {{ listen 127.0.0.1:{port}; root {}; }} }}\n",
            root.display()
        ),
    )
    .expect("write nginx.conf");
    conf
}

/// A 256 KiB page of known bytes (large enough to need many segments and
/// nginx's sendfile).
fn page(dir: &Path) -> Vec<u8> {
    let html = dir.join("html");
    std::fs::create_dir_all(&html).expect("mkdir html");
    let body: Vec<u8> = (0..256 * 1024u32)
        .map(|i| b'a' + (i * 7 % 26) as u8)
        .collect();
    std::fs::write(html.join("page.html"), &body).expect("write the page");
    body
}

/// GET /page.html over one connection, the body returned.
fn http_get(port: u16) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /page.html HTTP/1.0\r\nHost: x\r\n\r\n")
        .expect("send the request");
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).expect("read the reply");
    let head_end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP header");
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&reply[..head_end])
    );
    reply[head_end + 4..].to_vec()
}

/// nginx in the sandbox with `do`'s host networking: 200 requests from 8
/// client threads outside, every body whole.
#[test]
fn nginx_in_the_sandbox_serves_clients_outside_it() {
    let nginx = require!(host_program("/usr/sbin/nginx", "nginx-light"));
    require!(sandbox());
    let dir = scratch_dir().join(unique_name("nginx"));
    std::fs::create_dir_all(&dir).unwrap();
    let body = page(&dir);
    let port = free_port();
    let conf = nginx_conf(&dir, &dir.join("html"), port);
    let mut server = start(&[
        "do",
        "--",
        nginx.to_str().unwrap(),
        "-c",
        conf.to_str().unwrap(),
    ]);
    wait_for_port(port, Duration::from_secs(60), &mut server.0);
    let clients: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || (0..25).map(|_| http_get(port)).collect::<Vec<_>>()))
        .collect();
    for c in clients {
        for got in c.join().expect("a client thread") {
            assert!(
                got == body,
                "a body of {} bytes, not the page's {}",
                got.len(),
                body.len()
            );
        }
    }
}

/// nginx and curl both inside, over the sandbox's own stack.
#[test]
fn nginx_serves_curl_over_the_sandboxs_own_loopback() {
    let nginx = require!(host_program("/usr/sbin/nginx", "nginx-light"));
    let curl = require!(host_program("/usr/bin/curl", "curl"));
    require!(sandbox());
    let dir = scratch_dir().join(unique_name("nginx-inside"));
    std::fs::create_dir_all(&dir).unwrap();
    let body = page(&dir);
    // Any port: the sandbox's loopback is its own.
    let conf = nginx_conf(&dir, &dir.join("html"), 8080);
    let script = format!(
        "{n} -c {c} & N=$!; for i in $(seq 100); do {curl} -s -o /dev/null http://127.0.0.1:8080/ && break; sleep 0.1; done; \
         for i in 1 2 3 4 5; do {curl} -s http://127.0.0.1:8080/page.html | md5sum; done; kill $N; wait",
        n = nginx.display(),
        c = conf.display(),
        curl = curl.display()
    );
    let out = Cmd::new(&["/bin/sh", "-c", &script])
        .flags(&["--network=none"])
        .timeout(Duration::from_secs(120))
        .run_sandboxed();
    let want = format!("{}  -\n", md5_hex(&body)).repeat(5);
    assert_eq!(out.stdout, want, "{}", out.describe());
}

/// redis-server in the sandbox answers every request of redis-benchmark
/// outside it (host networking), and a value set outside reads back.
#[test]
fn redis_in_the_sandbox_answers_redis_benchmark_outside_it() {
    let redis = require!(host_program("/usr/bin/redis-server", "redis-server"));
    let bench = require!(host_program("/usr/bin/redis-benchmark", "redis-tools"));
    let cli = require!(host_program("/usr/bin/redis-cli", "redis-tools"));
    require!(sandbox());
    let port = free_port();
    let port_s = port.to_string();
    let mut server = start(&[
        "do",
        "--",
        redis.to_str().unwrap(),
        "--port",
        &port_s,
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    wait_for_port(port, Duration::from_secs(60), &mut server.0);
    let out = Command::new(&bench)
        .args([
            "-p",
            &port_s,
            "-n",
            "20000",
            "-c",
            "16",
            "-t",
            "set,get,incr,lpush,lpop",
        ])
        .args(["--csv"])
        .output()
        .expect("run redis-benchmark");
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "redis-benchmark failed: {csv}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for test in ["SET", "GET", "INCR", "LPUSH", "LPOP"] {
        assert!(
            csv.contains(&format!("\"{test}\"")),
            "no {test} result:\n{csv}"
        );
    }
    // Every INCR of redis-benchmark reached the server: the counter holds
    // exactly the number of requests.
    let incr = Command::new(&cli)
        .args(["-p", &port_s, "get", "counter:__rand_int__"])
        .output()
        .expect("run redis-cli");
    assert_eq!(String::from_utf8_lossy(&incr.stdout).trim(), "20000");
}

/// redis-server and redis-benchmark both inside, over the sandbox's own
/// stack.
#[test]
fn redis_answers_redis_benchmark_over_the_sandboxs_own_loopback() {
    let redis = require!(host_program("/usr/bin/redis-server", "redis-server"));
    require!(host_program("/usr/bin/redis-benchmark", "redis-tools"));
    require!(sandbox());
    let script = format!(
        "{r} --port 6390 --save '' --appendonly no --daemonize yes >/dev/null; \
         for i in $(seq 100); do redis-cli -p 6390 ping >/dev/null 2>&1 && break; sleep 0.1; done; \
         redis-benchmark -p 6390 -n 5000 -c 8 -t incr -q >/dev/null && redis-cli -p 6390 get counter:__rand_int__; \
         redis-cli -p 6390 shutdown nosave >/dev/null 2>&1; true",
        r = redis.display()
    );
    let out = Cmd::new(&["/bin/sh", "-c", &script])
        .flags(&["--network=none"])
        .timeout(Duration::from_secs(120))
        .run_sandboxed();
    assert_eq!(out.stdout, "5000\n", "{}", out.describe());
}

/// MD5 of `data` in hex, as md5sum prints it.
fn md5_hex(data: &[u8]) -> String {
    let mut child = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run md5sum");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..32].to_string()
}
