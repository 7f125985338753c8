//! Helpers for the HTTP tests that run the real binary: start it with JSON logs, learn the
//! address it bound (port 0) from its "http service listening" line, make requests, stop it
//! with SIGTERM.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `syndedup` with its HTTP service.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    /// Every stderr line so far arrives here (JSON logs).
    pub logs: mpsc::Receiver<String>,
}

impl Daemon {
    /// Starts `bin args... --log-format json` and waits (up to 60 s) for the bound address.
    pub fn start(bin: &str, args: &[&str]) -> Daemon {
        let mut child = Command::new(bin)
            .args(args)
            .args(["--log-format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn syndedup");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let addr = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(addr) = listening_addr(&line) {
                        break addr;
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "no \"http service listening\" line; stderr so far:\n{}",
                        seen.join("\n")
                    );
                }
            }
        };
        Daemon {
            child,
            addr,
            logs: rx,
        }
    }

    /// SIGTERM, then the exit status (killed after 30 s).
    pub fn stop(mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("syndedup did not stop within 30 s of SIGTERM");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The address of an INFO "http service listening" JSON log line.
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["fields"]["message"] != "http service listening" {
        return None;
    }
    v["fields"]["addr"].as_str()?.parse().ok()
}

/// A response, read whole.
pub struct Response {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("JSON body ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// GET `http://addr/path` with extra headers (no automatic decompression).
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .no_gzip()
            .no_brotli()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let mut req = client.get(format!("http://{addr}{path}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("body").to_vec();
        Response {
            status,
            headers,
            body,
        }
    })
}
