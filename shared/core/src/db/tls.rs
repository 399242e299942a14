//! TLS to Postgres as libpq's `sslmode` and `sslrootcert` ask for it, with rustls. Managed
//! Postgres refuses plain connections, and tokio-postgres by itself knows neither `verify-ca`
//! nor `verify-full`, so the database URL's TLS parameters are read here and taken out of it.
//!
//! | `sslmode` | encrypted | certificate checked |
//! | --- | --- | --- |
//! | absent, `disable` | no | no |
//! | `allow`, `prefer` | when the server offers it | no |
//! | `require` | yes | no (the chain, when `sslrootcert` is given, as libpq does) |
//! | `verify-ca` | yes | the chain, against `sslrootcert` or the public web roots |
//! | `verify-full` | yes | the chain and the host name |
//!
//! Without `sslmode` procmap connects in plain text, as it always did, rather than libpq's
//! `prefer`: a local server needs no TLS, and a remote one should be asked for it explicitly.

use std::sync::Arc;

use anyhow::Context;
use rustls::{
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    client::WebPkiServerVerifier,
    crypto::{ring, WebPkiSupportedAlgorithms},
    pki_types::{pem::PemObject, CertificateDer, ServerName, UnixTime},
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// A database URL read for connecting: the driver's configuration and the TLS connector.
pub(super) struct Connect {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
}

/// How much a connection checks of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// Reads `database_url`, taking out the TLS parameters tokio-postgres does not know. The URL is
/// never echoed in an error: it holds a password.
pub(super) fn connect(database_url: &str) -> anyhow::Result<Connect> {
    let (rest, sslmode, sslrootcert) = take_tls_parameters(database_url);
    let mut config: tokio_postgres::Config =
        rest.parse().context("the database URL does not parse")?;
    let (mode, check) = match sslmode.as_deref() {
        None | Some("disable") => (SslMode::Disable, Check::Nothing),
        Some("allow" | "prefer") => (SslMode::Prefer, Check::Nothing),
        Some("require") if sslrootcert.is_some() => (SslMode::Require, Check::Chain),
        Some("require") => (SslMode::Require, Check::Nothing),
        Some("verify-ca") => (SslMode::Require, Check::Chain),
        Some("verify-full") => (SslMode::Require, Check::ChainAndName),
        Some(other) => anyhow::bail!(
            "the database URL's sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
        ),
    };
    config.ssl_mode(mode);
    let tls = MakeRustlsConnect::new(client_config(check, sslrootcert.as_deref())?);
    Ok(Connect { config, tls })
}

/// The URL without `sslmode` and `sslrootcert`, and their values. Both URL
/// (`postgres://…?sslmode=require`) and key-value (`host=… sslmode=require`) forms.
fn take_tls_parameters(database_url: &str) -> (String, Option<String>, Option<String>) {
    let (mut sslmode, mut sslrootcert) = (None, None);
    let mut keep = |pair: &str| match pair.split_once('=') {
        Some(("sslmode", value)) => {
            sslmode = Some(value.to_owned());
            false
        }
        Some(("sslrootcert", value)) => {
            sslrootcert = Some(value.to_owned());
            false
        }
        _ => true,
    };
    let rest = if database_url.contains("://") {
        match database_url.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<&str> = query.split('&').filter(|p| keep(p)).collect();
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => database_url.to_owned(),
        }
    } else {
        database_url
            .split_whitespace()
            .filter(|p| keep(p))
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rest, sslmode, sslrootcert)
}

fn client_config(check: Check, sslrootcert: Option<&str>) -> anyhow::Result<ClientConfig> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?;
    let config = match check {
        Check::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked(
                provider.signature_verification_algorithms,
            ))),
        Check::Chain | Check::ChainAndName => {
            let mut roots = RootCertStore::empty();
            match sslrootcert {
                Some(path) => {
                    for cert in CertificateDer::pem_file_iter(path)
                        .with_context(|| format!("reading sslrootcert {path}"))?
                    {
                        roots
                            .add(cert.with_context(|| format!("reading sslrootcert {path}"))?)
                            .with_context(|| format!("a certificate in sslrootcert {path}"))?;
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .context("building the certificate verifier")?;
            if check == Check::ChainAndName {
                builder.with_webpki_verifier(verifier)
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)))
            }
        }
    };
    Ok(config.with_no_client_auth())
}

/// `require` as libpq means it: encrypted, whoever the server is. The handshake's signatures
/// are still checked, so the session is with the holder of the certificate's key.
#[derive(Debug)]
struct Unchecked(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the name the server goes by is not
/// checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_either_form_of_url() {
        let (rest, mode, root) = take_tls_parameters(
            "postgres://u:p@db.example.com:5432/procmap?sslmode=verify-full&application_name=x&sslrootcert=/ca.pem",
        );
        assert_eq!(
            rest,
            "postgres://u:p@db.example.com:5432/procmap?application_name=x"
        );
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/ca.pem"));

        let (rest, mode, root) =
            take_tls_parameters("host=db user=u sslmode=require dbname=procmap");
        assert_eq!(rest, "host=db user=u dbname=procmap");
        assert_eq!(mode.as_deref(), Some("require"));
        assert_eq!(root, None);

        let (rest, mode, _) = take_tls_parameters("postgres://u@db/procmap?sslmode=disable");
        assert_eq!(rest, "postgres://u@db/procmap");
        assert_eq!(mode.as_deref(), Some("disable"));
    }

    #[test]
    fn an_unknown_sslmode_is_refused_without_echoing_the_url() {
        let Err(e) = connect("postgres://u:secret-password@db/procmap?sslmode=sometimes") else {
            panic!("accepted");
        };
        let message = format!("{e:#}");
        assert!(message.contains("\"sometimes\""), "{message}");
        assert!(!message.contains("secret-password"), "{message}");
    }
}
