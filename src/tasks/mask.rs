//! Secret masking of a task's output: every occurrence of a secret's value becomes `***`
//! before the text leaves the worker (log, out params, error, result).
//!
//! Output arrives in pieces (a program's lines, buffers cut anywhere), so a value may be
//! split between two pieces. [`Masker`] holds back the shortest tail of what it was given
//! that could still be the start of a secret (at most the longest secret's length minus one
//! byte) and releases it with the next piece, or at [`Masker::finish`].

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use super::LogSink;
use crate::store::queue::ClaimedTask;

/// What a secret's value is replaced with.
pub const MASK: &str = "***";

/// A streaming replacer of secret values.
#[derive(Debug)]
pub struct Masker {
    /// Non-empty values, longest first (the longest match wins where values overlap).
    secrets: Vec<Vec<u8>>,
    /// First bytes of the secrets: the fast path skips every other byte.
    first: [bool; 256],
    held: Vec<u8>,
}

impl Masker {
    pub fn new<I: IntoIterator<Item = String>>(secrets: I) -> Masker {
        let mut list: Vec<Vec<u8>> = secrets
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(String::into_bytes)
            .collect();
        list.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        list.dedup();
        let mut first = [false; 256];
        for s in &list {
            first[s[0] as usize] = true;
        }
        Masker {
            secrets: list,
            first,
            held: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Masks `piece` after what was held back: the text that is safe to ship now.
    pub fn push(&mut self, piece: &str) -> String {
        let mut buf = std::mem::take(&mut self.held);
        buf.extend_from_slice(piece.as_bytes());
        let (out, hold_from) = self.scan(&buf, false);
        self.held = buf[hold_from..].to_vec();
        out
    }

    /// What is still held back, masked: the end of the output.
    pub fn finish(&mut self) -> String {
        let buf = std::mem::take(&mut self.held);
        self.scan(&buf, true).0
    }

    /// Masks a whole text at once (out params, an error message).
    pub fn mask_all(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_string();
        }
        self.scan(text.as_bytes(), true).0
    }

    /// Masked `buf` up to the point from which it must be held back (its length when `end`).
    fn scan(&self, buf: &[u8], end: bool) -> (String, usize) {
        let mut out: Vec<u8> = Vec::with_capacity(buf.len());
        let mut i = 0;
        let mut plain_from = 0;
        while i < buf.len() {
            if !self.first[buf[i] as usize] {
                i += 1;
                continue;
            }
            let rest = &buf[i..];
            // The rest may be the start of a secret that the next piece completes (even
            // when a shorter secret matches already: the longer one wins).
            if !end
                && self
                    .secrets
                    .iter()
                    .any(|s| s.len() > rest.len() && s.starts_with(rest))
            {
                out.extend_from_slice(&buf[plain_from..i]);
                return (bytes_to_string(out), i);
            }
            if let Some(s) = self.secrets.iter().find(|s| rest.starts_with(s)) {
                out.extend_from_slice(&buf[plain_from..i]);
                out.extend_from_slice(MASK.as_bytes());
                i += s.len();
                plain_from = i;
                continue;
            }
            i += 1;
        }
        out.extend_from_slice(&buf[plain_from..]);
        (bytes_to_string(out), buf.len())
    }
}

/// Cuts happen only where a secret starts (a UTF-8 lead byte) or between whole pieces, so
/// the text is UTF-8; lossy conversion only guards against the impossible.
fn bytes_to_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A log sink that masks secrets before handing text to the real one.
pub struct MaskingSink {
    inner: Arc<dyn LogSink>,
    masker: Mutex<Masker>,
}

impl MaskingSink {
    pub fn new(inner: Arc<dyn LogSink>, masker: Masker) -> MaskingSink {
        MaskingSink {
            inner,
            masker: Mutex::new(masker),
        }
    }

    fn masked(&self, text: &str) -> String {
        match self.masker.lock() {
            Ok(mut m) => m.push(text),
            // A panic while masking: ship nothing rather than risk a value.
            Err(_) => String::new(),
        }
    }

    /// Ships what is held back: call once the attempt's output is complete.
    pub fn flush(&self, task: &ClaimedTask) {
        let rest = match self.masker.lock() {
            Ok(mut m) => m.finish(),
            Err(_) => String::new(),
        };
        if !rest.is_empty() {
            self.inner.log(task, rest);
        }
    }
}

impl LogSink for MaskingSink {
    fn log(&self, task: &ClaimedTask, text: String) {
        let masked = self.masked(&text);
        if !masked.is_empty() {
            self.inner.log(task, masked);
        }
    }

    fn log_waiting<'a>(&'a self, task: &'a ClaimedTask, text: String) -> BoxFuture<'a, ()> {
        let masked = self.masked(&text);
        Box::pin(async move {
            if !masked.is_empty() {
                self.inner.log_waiting(task, masked).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(m: &mut Masker, pieces: &[&str]) -> String {
        let mut out = String::new();
        for p in pieces {
            out.push_str(&m.push(p));
        }
        out.push_str(&m.finish());
        out
    }

    #[test]
    fn a_secret_is_masked_at_every_split_point() {
        let secret = "s3cr€t-value";
        let text = format!("key={secret}\nagain {secret}{secret} and s3cr at the end s3");
        let expected = "key=***\nagain ****** and s3cr at the end s3";
        for cut in 0..=text.len() {
            if !text.is_char_boundary(cut) {
                continue;
            }
            let mut m = Masker::new([secret.to_string()]);
            assert_eq!(
                stream(&mut m, &[&text[..cut], &text[cut..]]),
                expected,
                "cut {cut}"
            );
            for cut2 in cut..=text.len() {
                if !text.is_char_boundary(cut2) {
                    continue;
                }
                let mut m = Masker::new([secret.to_string()]);
                let got = stream(&mut m, &[&text[..cut], &text[cut..cut2], &text[cut2..]]);
                assert_eq!(got, expected, "cuts {cut} {cut2}");
            }
        }
        // Byte by byte (char by char).
        let mut m = Masker::new([secret.to_string()]);
        let pieces: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        assert_eq!(stream(&mut m, &refs), expected);
    }

    #[test]
    fn only_a_possible_start_is_held_back_and_overlaps_take_the_longest() {
        let mut m = Masker::new(["abc".to_string(), "abcdef".to_string(), String::new()]);
        assert_eq!(m.push("xx a"), "xx ");
        assert_eq!(m.push("bcdef yy"), "*** yy");
        assert_eq!(m.push("zz abc"), "zz ");
        assert_eq!(m.push("!"), "***!");
        assert_eq!(m.finish(), "");
        assert_eq!(m.mask_all("1abc2abcdef3"), "1***2***3");
        let none = Masker::new(Vec::<String>::new());
        assert!(none.is_empty());
        assert_eq!(none.mask_all("abc"), "abc");
    }
}
