//! A blocking client of a recorder's control socket: what `tapedeck ctl`, `tapedeck take` and
//! `tapedeck attach` talk through.
//!
//! One connection, one thread: `request` writes a line and reads until the reply with its
//! `id`, keeping the pushed messages that arrive meanwhile for `recv_timeout`.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::ControlError;
use super::protocol::{
    self, Hello, Incoming, MAX_REPLY_LINE, PROTOCOL_VERSION, Pushed, Reply, Request, StatusLine,
    Subscription, Verb,
};
use crate::engine::{Command, Snapshot};

/// How long a request waits for its reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Pushed messages kept while waiting for a reply, at most (the oldest go first).
const KEPT_PUSHED: usize = 4096;

pub struct Client {
    stream: UnixStream,
    path: PathBuf,
    /// Bytes read but not yet split into lines.
    buf: Vec<u8>,
    /// Pushed messages that came while waiting for a reply, with their lines.
    pending: VecDeque<(String, Pushed)>,
    next_id: u64,
    hello: Hello,
}

impl Client {
    /// Connects, says hello and checks that the recorder speaks this protocol.
    pub fn connect(path: &Path) -> Result<Client, ControlError> {
        let stream = UnixStream::connect(path).map_err(|e| ControlError::unreachable(path, &e))?;
        let mut client = Client {
            stream,
            path: path.to_path_buf(),
            buf: Vec::new(),
            pending: VecDeque::new(),
            next_id: 1,
            hello: Hello {
                protocol: 0,
                version: String::new(),
                session: String::new(),
                session_dir: String::new(),
                sample_rate: 0,
                pid: 0,
                front_end: String::new(),
            },
        };
        let reply = client.request(&Request::Verb(Verb::Hello))?;
        let hello: Hello = serde_json::from_value(Value::Object(reply.fields)).map_err(|e| {
            ControlError::Protocol(format!(
                "{} answered hello with something else ({e}); is it a tapedeck recorder?",
                path.display()
            ))
        })?;
        if hello.protocol != PROTOCOL_VERSION {
            return Err(ControlError::Protocol(format!(
                "the recorder at {} speaks control protocol {} (tapedeck {}), this tapedeck speaks {PROTOCOL_VERSION}; use the same tapedeck version on both ends",
                path.display(),
                hello.protocol,
                hello.version
            )));
        }
        client.hello = hello;
        Ok(client)
    }

    /// What the recorder said in its hello.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends a request and waits for its reply; an error reply is `ControlError::Refused`.
    pub fn request(&mut self, req: &Request) -> Result<Reply, ControlError> {
        let value = serde_json::to_value(req)
            .map_err(|e| ControlError::Protocol(format!("cannot write the request: {e}")))?;
        self.request_value(value)
    }

    /// Sends a request given as JSON (an object with a `cmd`; an `id` is added) and waits for
    /// its reply.
    pub fn request_value(&mut self, value: Value) -> Result<Reply, ControlError> {
        let Value::Object(mut map) = value else {
            return Err(ControlError::Protocol(
                "a request is a JSON object with a \"cmd\"".into(),
            ));
        };
        let id = self.next_id;
        self.next_id += 1;
        map.insert("id".into(), Value::from(id));
        let mut line = Value::Object(map).to_string();
        line.push('\n');
        if let Err(e) = self.stream.write_all(line.as_bytes()) {
            // A recorder that refuses this connection says why, then closes: the reason may
            // be waiting to be read although the write failed.
            while let Ok(Some((_, incoming))) = self.read_incoming(Duration::from_secs(1)) {
                if let Incoming::Error { message, .. } = incoming {
                    return Err(ControlError::Refused(message));
                }
            }
            return Err(ControlError::lost(&self.path, &e));
        }
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Err(ControlError::Protocol(format!(
                    "the recorder at {} did not answer within {} s",
                    self.path.display(),
                    REPLY_TIMEOUT.as_secs()
                )));
            }
            match self.read_incoming(wait)? {
                Some((_, Incoming::Reply(r)))
                    if r.id.as_ref().and_then(Value::as_u64) == Some(id) =>
                {
                    return Ok(r);
                }
                Some((_, Incoming::Error { id: eid, message }))
                    if eid.is_none() || eid.as_ref().and_then(Value::as_u64) == Some(id) =>
                {
                    return Err(ControlError::Refused(message));
                }
                Some((line, Incoming::Pushed(p))) => self.keep(line, p),
                // Another request's reply (one that timed out before).
                Some(_) | None => {}
            }
        }
    }

    /// Sends an engine command.
    pub fn send_command(&mut self, cmd: &Command) -> Result<Reply, ControlError> {
        self.request(&Request::Engine(cmd.clone()))
    }

    /// Starts (or changes) this connection's pushed messages.
    pub fn subscribe(&mut self, s: &Subscription) -> Result<Reply, ControlError> {
        self.request(&Request::Verb(Verb::Subscribe(s.clone())))
    }

    pub fn unsubscribe(&mut self) -> Result<Reply, ControlError> {
        self.request(&Request::Verb(Verb::Unsubscribe))
    }

    /// One status line, as `--json-status` prints it.
    pub fn status(&mut self) -> Result<StatusLine, ControlError> {
        let r = self.request(&Request::Verb(Verb::Status))?;
        typed(r.get("status"), "status")
    }

    /// The engine's snapshot as of now.
    pub fn snapshot(&mut self) -> Result<Snapshot, ControlError> {
        let r = self.request(&Request::Verb(Verb::Snapshot))?;
        typed(r.get("snapshot"), "snapshot")
    }

    /// The next pushed message, waiting at most `timeout` (zero: only what has arrived).
    /// `Ok(None)`: nothing came in time. An error means the connection is gone.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Pushed>, ControlError> {
        Ok(self.recv_line_timeout(timeout)?.map(|(_, p)| p))
    }

    /// `recv_timeout`, with the line the message came as (what `ctl events` prints).
    pub fn recv_line_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<(String, Pushed)>, ControlError> {
        if let Some(p) = self.pending.pop_front() {
            return Ok(Some(p));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.read_incoming(wait)? {
                Some((line, Incoming::Pushed(p))) => return Ok(Some((line, p))),
                // A reply nobody waits for any more, or an error not tied to a request
                // (the recorder refusing this connection says why before it closes).
                Some((_, Incoming::Error { id: None, message })) => {
                    return Err(ControlError::Refused(message));
                }
                Some(_) => {}
                None => return Ok(None),
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    /// An iterator of pushed messages, blocking for each; it ends when the connection does.
    pub fn pushed(&mut self) -> impl Iterator<Item = Pushed> + '_ {
        std::iter::from_fn(move || {
            loop {
                match self.recv_timeout(Duration::from_secs(3600)) {
                    Ok(Some(p)) => return Some(p),
                    Ok(None) => {}
                    Err(_) => return None,
                }
            }
        })
    }

    fn keep(&mut self, line: String, p: Pushed) {
        if self.pending.len() >= KEPT_PUSHED {
            self.pending.pop_front();
        }
        self.pending.push_back((line, p));
    }

    /// One line from the recorder, within `wait` (None: nothing complete in time).
    fn read_incoming(
        &mut self,
        wait: Duration,
    ) -> Result<Option<(String, Incoming)>, ControlError> {
        let Some(line) = self.read_line(wait)? else {
            return Ok(None);
        };
        let incoming = protocol::parse_incoming(&line).map_err(ControlError::Protocol)?;
        Ok(Some((line, incoming)))
    }

    fn read_line(&mut self, wait: Duration) -> Result<Option<String>, ControlError> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(at) = self.buf.iter().position(|&b| b == b'\n') {
                let rest = self.buf.split_off(at + 1);
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.pop();
                return String::from_utf8(line).map(Some).map_err(|_| {
                    ControlError::Protocol("the recorder sent a line that is not UTF-8".into())
                });
            }
            if self.buf.len() > MAX_REPLY_LINE {
                return Err(ControlError::Protocol(format!(
                    "the recorder sent a line longer than {MAX_REPLY_LINE} bytes"
                )));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            // A zero timeout means "block forever" to the socket: poll without waiting instead.
            let nonblocking = left.is_zero();
            self.stream
                .set_nonblocking(nonblocking)
                .and_then(|()| self.stream.set_read_timeout((!nonblocking).then_some(left)))
                .map_err(|e| ControlError::lost(&self.path, &e))?;
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(ControlError::Lost(format!(
                        "the recorder at {} closed the connection",
                        self.path.display()
                    )));
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(ControlError::lost(&self.path, &e)),
            }
        }
    }
}

fn typed<T: serde::de::DeserializeOwned>(v: Option<&Value>, what: &str) -> Result<T, ControlError> {
    let v = v.ok_or_else(|| ControlError::Protocol(format!("the {what} reply has no {what}")))?;
    serde_json::from_value(v.clone())
        .map_err(|e| ControlError::Protocol(format!("the {what} reply: {e}")))
}
