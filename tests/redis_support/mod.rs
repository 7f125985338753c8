//! Real Redis servers for the tests: `redis-server` processes on free 127.0.0.1 ports, each
//! in its own temp dir, without persistence; a single node, or a 3-master cluster made with
//! `redis-cli --cluster create`. They are killed when the handle drops.
//!
//! Without `redis-server` on PATH a test says "skipped: redis-server not found" and returns,
//! except under CI (`CI` set), where it fails: CI must run these tests (`.ci/run` installs
//! the package).
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Node {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
    args: Vec<String>,
}

impl Node {
    /// Kills the server (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port and directory (what it persisted, if
    /// anything, comes back).
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn(self._dir.path(), &self.args);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ping(self.port) {
            assert!(Instant::now() < deadline, "redis-server did not restart");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn spawn(dir: &Path, args: &[String]) -> Child {
    Command::new(which("redis-server").expect("redis-server"))
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts")
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Running servers and the URLs to give `[store] urls`.
pub struct Redis {
    pub nodes: Vec<Node>,
    pub urls: Vec<String>,
    pub cluster: bool,
}

impl Redis {
    /// `urls = [...]` for a config.
    pub fn toml_urls(&self) -> String {
        let quoted: Vec<String> = self.urls.iter().map(|u| format!("\"{u}\"")).collect();
        format!("[{}]", quoted.join(", "))
    }

    /// Runs `redis-cli` against the node holding the `{prefix}` slot (any node for a
    /// single server; `-c` follows redirections in a cluster).
    pub fn cli(&self, args: &[&str]) -> String {
        let mut cmd = Command::new(which("redis-cli").expect("redis-cli"));
        cmd.arg("-p").arg(self.nodes[0].port.to_string());
        if self.cluster {
            cmd.arg("-c");
        }
        let out = cmd.args(args).output().expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Whether the servers can be started; without them, fails under CI and skips otherwise.
pub fn available(test: &str) -> bool {
    if which("redis-server").is_some() && which("redis-cli").is_some() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{test}: redis-server or redis-cli not found on PATH but CI is set: these tests must run in CI (apt-get install redis-server; .ci/run does it)"
        );
    }
    eprintln!(
        "{test}: skipped: redis-server not found (install the redis-server package to run it)"
    );
    false
}

/// A port that is free, and whose cluster bus port (+10000) is free too.
fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        drop(l);
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn start_node(cluster: bool) -> Node {
    start_node_with(cluster, false)
}

fn start_node_with(cluster: bool, persistent: bool) -> Node {
    for _ in 0..10 {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args: Vec<String> = vec!["--bind".into(), "127.0.0.1".into(), "--port".into()];
        args.push(port.to_string());
        args.extend(["--save".into(), "".into(), "--dir".into()]);
        args.push(dir.path().display().to_string());
        if persistent {
            args.extend(["--appendonly", "yes", "--appendfsync", "always"].map(String::from));
        } else {
            args.extend(["--appendonly", "no"].map(String::from));
        }
        if cluster {
            args.extend(
                [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                ]
                .map(String::from),
            );
        }
        let child = spawn(dir.path(), &args);
        let mut node = Node {
            port,
            child,
            _dir: dir,
            args,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = node.child.try_wait() {
                break; // the port was taken meanwhile: try another
            }
            // Ours, not another test's server that took the port first.
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && ping(port)
                && serves_pid(port, node.child.id())
            {
                return node;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = node.child.kill();
    }
    panic!("redis-server did not start on a free port in 10 tries");
}

fn serves_pid(port: u16, pid: u32) -> bool {
    cli(port, &["info", "server"])
        .lines()
        .any(|l| l.trim() == format!("process_id:{pid}"))
}

fn ping(port: u16) -> bool {
    cli(port, &["ping"]).trim() == "PONG"
}

fn cli(port: u16, args: &[&str]) -> String {
    Command::new(which("redis-cli").expect("redis-cli"))
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// One Redis server (not in cluster mode).
pub fn single() -> Redis {
    single_with(false)
}

/// One Redis server that keeps its data across a restart (append-only file, fsync always).
pub fn single_persistent() -> Redis {
    single_with(true)
}

fn single_with(persistent: bool) -> Redis {
    let node = start_node_with(false, persistent);
    let urls = vec![format!("redis://127.0.0.1:{}", node.port)];
    Redis {
        nodes: vec![node],
        urls,
        cluster: false,
    }
}

/// A cluster of three masters without replicas, every slot assigned, `cluster_state:ok`
/// on every node.
pub fn cluster() -> Redis {
    let nodes: Vec<Node> = (0..3).map(|_| start_node(true)).collect();
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let out = Command::new(which("redis-cli").expect("redis-cli"))
        .arg("--cluster")
        .arg("create")
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli --cluster create runs");
    assert!(
        out.status.success(),
        "redis-cli --cluster create failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = nodes
            .iter()
            .all(|n| cli(n.port, &["cluster", "info"]).contains("cluster_state:ok"));
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cluster did not reach cluster_state:ok in 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let urls = addrs.iter().map(|a| format!("redis://{a}")).collect();
    Redis {
        nodes,
        urls,
        cluster: true,
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}
