//! TLS for Postgres datasources, with rustls, as libpq's `sslmode` means it:
//! `disable` (plain), `prefer` (TLS when the server offers it, the default), `require`
//! (TLS, the certificate not checked: it only protects from listeners on the wire) and
//! `verify-full` (TLS with a certificate that the system's trusted roots sign and that
//! names the host). `verify-ca` is taken as `verify-full`, which checks more.
//!
//! tokio-postgres itself knows `disable`, `prefer` and `require`; [`split_sslmode`] takes
//! the mode out of the URL so that the connector can do the checking.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// How a datasource's connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyFull,
}

/// The URL with `sslmode` rewritten to what tokio-postgres knows, and the mode asked for.
/// Both URL (`?sslmode=`) and key-value (`sslmode=`) forms are read.
pub fn split_sslmode(url: &str) -> Result<(String, SslMode), String> {
    let Some(at) = url.find("sslmode=") else {
        return Ok((url.to_string(), SslMode::Prefer));
    };
    let rest = &url[at + "sslmode=".len()..];
    let end = rest
        .find(|c: char| c == '&' || c.is_whitespace())
        .unwrap_or(rest.len());
    let (mode, plain) = match &rest[..end] {
        "disable" => (SslMode::Disable, "disable"),
        "allow" | "prefer" => (SslMode::Prefer, "prefer"),
        "require" => (SslMode::Require, "require"),
        "verify-ca" | "verify-full" => (SslMode::VerifyFull, "require"),
        other => {
            return Err(format!(
                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            ));
        }
    };
    let rewritten = format!("{}sslmode={plain}{}", &url[..at], &rest[end..]);
    Ok((rewritten, mode))
}

/// A connector for one mode (cheap to clone: the rustls config is shared).
#[derive(Clone)]
pub struct Connector {
    config: Arc<rustls::ClientConfig>,
}

impl Connector {
    pub fn new(mode: SslMode) -> Result<Connector, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .dangerous();
        let config = match mode {
            SslMode::VerifyFull => {
                let verifier = rustls_platform_verifier::Verifier::new(provider)
                    .map_err(|e| format!("TLS setup: the system's trusted roots: {e}"))?;
                builder.with_custom_certificate_verifier(Arc::new(verifier))
            }
            _ => builder.with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))),
        }
        .with_no_client_auth();
        Ok(Connector {
            config: Arc::new(config),
        })
    }
}

impl<S> MakeTlsConnect<S> for Connector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> io::Result<Connect> {
        let name = ServerName::try_from(domain.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Connect {
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
            name,
        })
    }
}

/// One connection's TLS handshake.
pub struct Connect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let tls = self.connector.connect(self.name, stream).await?;
            Ok(Stream(tls))
        })
    }
}

/// A TLS connection to a datasource.
pub struct Stream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM channel binding is not offered; the server then does not ask for it.
        ChannelBinding::none()
    }
}

/// `require`: any certificate, as libpq's `require` without a root certificate. The
/// handshake's signatures are still checked, so the session is the certificate owner's.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_read_from_urls_and_key_value_strings() {
        assert_eq!(
            split_sslmode("postgres://u@h/db").unwrap(),
            ("postgres://u@h/db".to_string(), SslMode::Prefer)
        );
        assert_eq!(
            split_sslmode("postgres://u@h/db?sslmode=verify-full&connect_timeout=3").unwrap(),
            (
                "postgres://u@h/db?sslmode=require&connect_timeout=3".to_string(),
                SslMode::VerifyFull
            )
        );
        assert_eq!(
            split_sslmode("host=h sslmode=disable user=u").unwrap(),
            (
                "host=h sslmode=disable user=u".to_string(),
                SslMode::Disable
            )
        );
        assert_eq!(
            split_sslmode("postgres://h/db?sslmode=require").unwrap().1,
            SslMode::Require
        );
        let e = split_sslmode("postgres://h/db?sslmode=sometimes").unwrap_err();
        assert!(
            e.contains("\"sometimes\"") && e.contains("verify-full"),
            "{e}"
        );
    }
}
