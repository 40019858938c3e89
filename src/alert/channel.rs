//! Channels: how an alert group's channels are stored (passwords sealed), shown (never a
//! password, webhook URLs cut to their origin) and sent to (SMTP through lettre, webhooks
//! through reqwest). A send answers [`Outcome`]: sent, worth retrying, or failed for good.

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::{Value, json};

use super::message::Rendered;
use crate::secret::SecretKey;
use crate::spec::{AlertChannel, AlertGroupSpec, EmailChannel, SmtpSpec, WebhookChannel};

/// Longest server answer kept with a delivery.
const MAX_ANSWER_CHARS: usize = 1_000;

pub use crate::store::alerts::SealedGroup;

/// Seal a group's passwords with `key`; a group with a `password:` needs the key.
pub fn seal(group: &AlertGroupSpec, key: Option<&SecretKey>) -> Result<SealedGroup, String> {
    let mut channels = Vec::with_capacity(group.channels.len());
    let mut secrets = Vec::with_capacity(group.channels.len());
    for channel in &group.channels {
        let mut channel = channel.clone();
        let mut secret = None;
        if let AlertChannel::Email(email) = &mut channel
            && let Some(password) = email.smtp.password.take()
        {
            let key = key.ok_or_else(|| {
                format!(
                    "alert group {} has an SMTP password: set {} to the key that encrypts stored passwords (or use password_env)",
                    group.name,
                    crate::secret::SECRET_KEY_VAR
                )
            })?;
            secret = Some(key.encrypt(&password));
        }
        channels.push(channel);
        secrets.push(secret);
    }
    Ok(SealedGroup {
        name: group.name.clone(),
        channels: serde_json::to_value(&channels).map_err(|e| e.to_string())?,
        secrets,
    })
}

/// The stored channels of a group (as [`seal`] wrote them).
pub fn stored_channels(channels: &Value) -> Result<Vec<AlertChannel>, String> {
    serde_json::from_value(channels.clone())
        .map_err(|e| format!("a stored alert group does not parse: {e}"))
}

pub fn parse_channel(channel: &Value) -> Result<AlertChannel, String> {
    serde_json::from_value(channel.clone())
        .map_err(|e| format!("a stored alert channel does not parse: {e}"))
}

pub fn type_name(channel: &AlertChannel) -> &'static str {
    match channel {
        AlertChannel::Email(_) => "email",
        AlertChannel::Webhook(_) => "webhook",
    }
}

/// A URL cut to its origin (`https://hooks.slack.com/…`): the path of an incoming webhook
/// URL is its secret.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return "…".into();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    // Drop any user:password@.
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let more = authority_end < rest.len() && &rest[authority_end..] != "/";
    format!(
        "{}://{host}{}",
        &url[..scheme_end],
        if more { "/…" } else { "" }
    )
}

/// One line naming where a channel sends, without secrets.
pub fn target(channel: &AlertChannel) -> String {
    match channel {
        AlertChannel::Email(e) => format!(
            "email to {} via {}:{}",
            e.to.join(", "),
            e.smtp.host,
            e.smtp.port
        ),
        AlertChannel::Webhook(w) => format!("webhook {}", redact_url(&w.url)),
    }
}

/// What the API shows of a channel: never a password, no webhook path, no header values.
pub fn redacted(channel: &AlertChannel, has_stored_password: bool) -> Value {
    match channel {
        AlertChannel::Email(e) => json!({
            "type": "email",
            "to": e.to,
            "smtp": {
                "host": e.smtp.host,
                "port": e.smtp.port,
                "starttls": e.smtp.starttls,
                "tls": e.smtp.tls.unwrap_or(false),
                "from": e.smtp.from,
                "user": e.smtp.user,
                "password_env": e.smtp.password_env,
                "has_stored_password": has_stored_password,
            },
        }),
        AlertChannel::Webhook(w) => json!({
            "type": "webhook",
            "url": redact_url(&w.url),
            "header_names": w.headers.keys().collect::<Vec<_>>(),
        }),
    }
}

/// How one send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered; the server's answer.
    Sent(String),
    /// Not delivered, may work later (a 4xx SMTP reply, a 5xx HTTP status, no connection,
    /// no answer in time).
    Retry(String),
    /// Not delivered and retrying cannot help (a permanent SMTP reply, an HTTP 4xx, a
    /// channel that cannot be used as configured).
    Fail(String),
}

/// Ids a message carries so that receivers can tell duplicates apart.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    pub alert_id: i64,
    /// None for `pgdag alert test`, which sends before it records anything.
    pub delivery_id: Option<i64>,
}

/// Sends messages; shared by the alert role and `pgdag alert test`.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    key: Option<SecretKey>,
    /// A send that takes longer is given up (and retried).
    timeout: Duration,
    allow: crate::tasks::net::HttpAllow,
}

impl Sender {
    /// `allow`: the private targets webhooks may reach (`PGDAG_HTTP_ALLOW`); webhooks
    /// never follow redirects.
    pub fn new(
        key: Option<SecretKey>,
        timeout: Duration,
        allow: &crate::tasks::net::HttpAllow,
    ) -> Sender {
        let http = crate::tasks::net::guarded_client(
            allow,
            timeout.min(Duration::from_secs(15)),
            Some(timeout),
        );
        Sender {
            http,
            key,
            timeout,
            allow: allow.clone(),
        }
    }

    pub async fn send(
        &self,
        channel: &AlertChannel,
        secret: Option<&[u8]>,
        message: &Rendered,
        ids: Ids,
    ) -> Outcome {
        let work = async {
            match channel {
                AlertChannel::Email(email) => self.email(email, secret, message, ids).await,
                AlertChannel::Webhook(hook) => self.webhook(hook, message, ids).await,
            }
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Retry(format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }

    async fn email(
        &self,
        email: &EmailChannel,
        secret: Option<&[u8]>,
        message: &Rendered,
        ids: Ids,
    ) -> Outcome {
        let built = match self.build_mail(email, message, ids) {
            Ok(built) => built,
            Err(e) => return Outcome::Fail(e),
        };
        let transport = match self.transport(&email.smtp, secret) {
            Ok(t) => t,
            Err(e) => return Outcome::Fail(e),
        };
        match transport.send(built).await {
            Ok(response) => Outcome::Sent(cut(&format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            ))),
            Err(e) if e.is_permanent() => Outcome::Fail(cut(&crate::store::chain(&e))),
            Err(e) => Outcome::Retry(cut(&crate::store::chain(&e))),
        }
    }

    fn build_mail(
        &self,
        email: &EmailChannel,
        message: &Rendered,
        ids: Ids,
    ) -> Result<lettre::Message, String> {
        let from: Mailbox = email
            .smtp
            .from
            .parse()
            .map_err(|e| format!("smtp.from {:?}: {e}", email.smtp.from))?;
        let domain = email
            .smtp
            .from
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').to_string())
            .unwrap_or_else(|| "pgdag".into());
        let message_id = match ids.delivery_id {
            // The same id on every attempt: a mail sent twice (a crash during a send)
            // carries one Message-ID, which mail clients fold into one.
            Some(d) => format!("<pgdag.alert.{}.{d}@{domain}>", ids.alert_id),
            None => format!("<pgdag.test.{}@{domain}>", uuid::Uuid::new_v4().simple()),
        };
        let mut builder = lettre::Message::builder()
            .from(from)
            .subject(message.subject.clone())
            .message_id(Some(message_id));
        for to in &email.to {
            let mailbox: Mailbox = to.parse().map_err(|e| format!("to {to:?}: {e}"))?;
            builder = builder.to(mailbox);
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(message.text.clone());
        let html = SinglePart::builder()
            .header(ContentType::TEXT_HTML)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(message.html.clone());
        builder
            .multipart(MultiPart::alternative().singlepart(text).singlepart(html))
            .map_err(|e| format!("building the mail: {e}"))
    }

    fn transport(
        &self,
        smtp: &SmtpSpec,
        secret: Option<&[u8]>,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let tls = if smtp.tls == Some(true) || smtp.starttls {
            let params = TlsParameters::new(smtp.host.clone())
                .map_err(|e| format!("TLS for {}: {e}", smtp.host))?;
            if smtp.tls == Some(true) {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        } else {
            Tls::None
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .tls(tls)
            .timeout(Some(self.timeout));
        match (&smtp.user, self.password(smtp, secret)?) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password));
            }
            (Some(_), None) => {
                return Err(
                    "smtp.user is set but there is no password (password or password_env)".into(),
                );
            }
            (None, Some(_)) => return Err("smtp has a password but no user".into()),
            (None, None) => {}
        }
        Ok(builder.build())
    }

    /// The SMTP password: from `password_env` in this process's environment, or the stored
    /// one opened with `PGDAG_SECRET_KEY`.
    fn password(&self, smtp: &SmtpSpec, secret: Option<&[u8]>) -> Result<Option<String>, String> {
        if let Some(var) = &smtp.password_env {
            return match std::env::var(var) {
                Ok(p) => Ok(Some(p)),
                Err(_) => Err(format!(
                    "smtp.password_env: the environment variable {var} is not set for this process"
                )),
            };
        }
        match (secret, &self.key) {
            (None, _) => Ok(None),
            (Some(secret), Some(key)) => key.decrypt(secret).map(Some),
            (Some(_), None) => Err(format!(
                "the SMTP password is stored encrypted: set {} to the key it was stored with",
                crate::secret::SECRET_KEY_VAR
            )),
        }
    }

    async fn webhook(&self, hook: &WebhookChannel, message: &Rendered, ids: Ids) -> Outcome {
        let mut body = message.json.clone();
        if let Value::Object(map) = &mut body {
            map.insert("delivery_id".into(), json!(ids.delivery_id));
        }
        let url = match reqwest::Url::parse(&hook.url) {
            Ok(url) => url,
            Err(e) => return Outcome::Fail(cut(&format!("the webhook URL: {e}"))),
        };
        if let Err(reason) = crate::tasks::net::check_url(&url, &self.allow) {
            return Outcome::Fail(cut(&reason));
        }
        let mut request = self
            .http
            .post(url)
            .json(&body)
            .header("x-pgdag-alert-id", ids.alert_id.to_string());
        if let Some(d) = ids.delivery_id {
            request = request.header("x-pgdag-delivery-id", d.to_string());
        }
        for (name, value) in &hook.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if crate::tasks::net::refusal(&e).is_some() => {
                let refused = crate::tasks::net::refusal(&e).map(|r| r.to_string());
                return Outcome::Fail(cut(&refused.unwrap_or_default()));
            }
            Err(e) if e.is_builder() => {
                return Outcome::Fail(cut(&format!(
                    "the request cannot be made: {}",
                    crate::store::chain(&e)
                )));
            }
            Err(e) => return Outcome::Retry(cut(&crate::store::chain(&e))),
        };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let answer = cut(&format!("HTTP {status}: {}", text.trim()));
        if status.is_success() {
            Outcome::Sent(answer)
        } else if status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429) {
            Outcome::Retry(answer)
        } else {
            Outcome::Fail(answer)
        }
    }
}

fn cut(text: &str) -> String {
    let one_line = text.replace(['\r', '\n'], " ");
    if one_line.chars().count() <= MAX_ANSWER_CHARS {
        one_line
    } else {
        format!(
            "{}…",
            one_line.chars().take(MAX_ANSWER_CHARS).collect::<String>()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_cut_to_their_origin() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(redact_url("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(
            redact_url("http://127.0.0.1:9000/"),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            redact_url("https://u:pw@h.example/x?y"),
            "https://h.example/…"
        );
        assert_eq!(redact_url("nonsense"), "…");
    }

    #[test]
    fn sealing_keeps_no_password_in_clear_and_needs_the_key() {
        let docs = crate::spec::parse_documents(
            "g.yaml",
            "kind: alert_group\nname: ops\nchannels:\n  - { type: email, to: [a@x.org], smtp: { host: h, port: 25, from: p@x.org, user: u, password: hunter22 } }\n  - { type: webhook, url: http://h/x, headers: { Authorization: Bearer t } }\n",
        )
        .unwrap();
        let crate::spec::Document::AlertGroup(group) = &docs[0] else {
            panic!()
        };
        assert!(seal(group, None).unwrap_err().contains("PGDAG_SECRET_KEY"));
        let key = SecretKey::new("0123456789abcdef-key").unwrap();
        let sealed = seal(group, Some(&key)).unwrap();
        assert!(!sealed.channels.to_string().contains("hunter22"));
        assert_eq!(sealed.secrets.len(), 2);
        assert_eq!(
            key.decrypt(sealed.secrets[0].as_ref().unwrap()).unwrap(),
            "hunter22"
        );
        assert!(sealed.secrets[1].is_none());
        let channels = stored_channels(&sealed.channels).unwrap();
        let shown = redacted(&channels[0], true).to_string();
        assert!(!shown.contains("hunter22") && shown.contains("\"has_stored_password\":true"));
        let hook = redacted(&channels[1], false).to_string();
        assert!(
            !hook.contains("Bearer") && hook.contains("Authorization"),
            "{hook}"
        );
        assert_eq!(target(&channels[0]), "email to a@x.org via h:25");
    }
}
