//! An SMTP sink: enough plain-text SMTP for lettre (EHLO/HELO, AUTH PLAIN, MAIL, RCPT,
//! DATA; no STARTTLS offered), recording every mail, with refusals, stalls and slow answers on demand. Started
//! by a test on port 0; it lives as long as the test's runtime.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and MIME parts), quoted-printable decoded.
    pub data: String,
}

impl Mail {
    /// A header's value, with folded lines joined.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push(' ');
                    v.push_str(line.trim());
                    continue;
                }
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_string());
            }
        }
        value
    }
}

/// A sink's recordings and the misbehaviour it was asked for (set through [`Sink::with`]).
#[derive(Default)]
pub struct SinkState {
    mails: Mutex<Vec<Mail>>,
    changed: Notify,
    connections: AtomicUsize,
    mail_froms: AtomicUsize,
    /// Connections (the first N) that are accepted and never greeted.
    pub stall_first: usize,
    /// MAIL FROM commands (the first N) answered with `refuse_code`.
    pub refuse_first: usize,
    pub refuse_code: u16,
    /// Wait before accepting a message's data.
    pub data_delay: Duration,
    /// `AUTH PLAIN` credentials received, decoded (`\0user\0password`).
    auths: Mutex<Vec<String>>,
}

pub struct Sink {
    pub addr: SocketAddr,
    state: Arc<SinkState>,
}

impl Sink {
    pub async fn start() -> Sink {
        Self::with(|_| {}).await
    }

    /// A sink that stalls, refuses or delays as `tweak` sets.
    pub async fn with(tweak: impl FnOnce(&mut SinkState)) -> Sink {
        let mut state = SinkState {
            refuse_code: 451,
            ..SinkState::default()
        };
        tweak(&mut state);
        let state = Arc::new(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepting = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, accepting.clone()));
            }
        });
        Sink { addr, state }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.state.mails.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    pub fn auths(&self) -> Vec<String> {
        self.state.auths.lock().unwrap().clone()
    }

    pub fn mail_froms(&self) -> usize {
        self.state.mail_froms.load(Ordering::SeqCst)
    }

    /// Wait until at least `n` mails arrived; panics after `timeout`.
    pub async fn wait_mails(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        loop {
            let changed = self.state.changed.notified();
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "expected {n} mails within {timeout:?}, got {}",
                mails.len()
            );
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), changed).await;
        }
    }

    /// Wait until `n` connections were made.
    pub async fn wait_connections(&self, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.connections() < n {
            assert!(
                Instant::now() < deadline,
                "expected {n} SMTP connections within {timeout:?}, got {}",
                self.connections()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn session(stream: tokio::net::TcpStream, state: Arc<SinkState>) {
    let n = state.connections.fetch_add(1, Ordering::SeqCst);
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if n < state.stall_first {
        // Accept and say nothing until the client goes away.
        let mut buf = [0u8; 256];
        while let Ok(k) = lines.read(&mut buf).await {
            if k == 0 {
                break;
            }
        }
        return;
    }
    let mut reply = async |text: &str| write.write_all(text.as_bytes()).await.is_ok();
    if !reply("220 sink.test ESMTP ready\r\n").await {
        return;
    }
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let mut line = String::new();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let upper = line.to_ascii_uppercase();
        let ok = if upper.starts_with("EHLO") {
            reply("250-sink.test\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SMTPUTF8\r\n").await
        } else if upper.starts_with("AUTH PLAIN ") {
            let decoded = decode_base64(line[11..].trim());
            state
                .auths
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&decoded).into_owned());
            reply("235 2.7.0 authenticated\r\n").await
        } else if upper.starts_with("HELO") {
            reply("250 sink.test\r\n").await
        } else if upper.starts_with("MAIL FROM:") {
            let k = state.mail_froms.fetch_add(1, Ordering::SeqCst);
            if k < state.refuse_first {
                let code = state.refuse_code;
                reply(&format!(
                    "{code} {}.3.0 not now (refusal {})\r\n",
                    code / 100,
                    k + 1
                ))
                .await
            } else {
                // `<address>` and maybe parameters (BODY=8BITMIME).
                from = line[10..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string();
                to.clear();
                reply("250 2.1.0 ok\r\n").await
            }
        } else if upper.starts_with("RCPT TO:") {
            to.push(
                line[8..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            );
            reply("250 2.1.5 ok\r\n").await
        } else if upper.starts_with("DATA") {
            if !reply("354 go ahead\r\n").await {
                return;
            }
            let mut raw = Vec::new();
            loop {
                let mut l = String::new();
                match lines.read_line(&mut l).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if l == ".\r\n" {
                    break;
                }
                let l = l.strip_prefix('.').unwrap_or(&l);
                raw.extend_from_slice(l.as_bytes());
            }
            tokio::time::sleep(state.data_delay).await;
            let number = {
                let mut mails = state.mails.lock().unwrap();
                mails.push(Mail {
                    from: from.clone(),
                    to: to.clone(),
                    data: String::from_utf8_lossy(&decode_qp(&raw)).into_owned(),
                });
                mails.len()
            };
            state.changed.notify_waiters();
            reply(&format!("250 2.0.0 queued as {number}\r\n")).await
        } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
            reply("250 2.0.0 ok\r\n").await
        } else if upper.starts_with("QUIT") {
            let _ = reply("221 2.0.0 bye\r\n").await;
            return;
        } else {
            reply("502 5.5.2 not implemented\r\n").await
        };
        if !ok {
            return;
        }
    }
}

/// Quoted-printable decoding (soft line breaks and `=XX`); other text passes as it is.
fn decode_qp(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'=' {
            if raw[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if let (Some(&h), Some(&l)) = (raw.get(i + 1), raw.get(i + 2))
                && let (Some(h), Some(l)) = (hex(h), hex(l))
            {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

fn decode_base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
