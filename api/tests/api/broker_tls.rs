//! RabbitMQ over TLS (`amqps://`), as hosted brokers demand it. The local broker speaks plain
//! AMQP, so a TLS terminator in front of it plays the hosted broker's TLS listener, with
//! Debian's self-signed "snakeoil" certificate for `localhost`. The worker runs as its own
//! process, where `SSL_CERT_FILE` and `SSL_CERT_DIR` decide which roots lapin's rustls trusts
//! (by default the system's: the bundle and every certificate in `/etc/ssl/certs`, which on
//! Debian includes the snakeoil one).

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};
use std::time::Duration;

use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::*;
use crate::processes::{free_port, spawn, spawn_worker_with};

const CERTIFICATE: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
const PRIVATE_KEY: &str = "/etc/ssl/private/ssl-cert-snakeoil.key";
/// The public roots alone, which vouch for no self-signed certificate.
const PUBLIC_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";
/// A directory of no certificates, so that only `SSL_CERT_FILE` counts.
const NO_DIRECTORY: &str = "/nonexistent/procmap-test-certs";

/// Accepts TLS on a free loopback port and forwards the plain stream to the broker.
struct TlsTerminator {
    port: u16,
    /// Handshakes completed, and those the client broke off (it did not trust us).
    completed: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

impl TlsTerminator {
    async fn start() -> TlsTerminator {
        let certificates = CertificateDer::pem_file_iter(CERTIFICATE)
            .expect("the snakeoil certificate (Debian's ssl-cert package)")
            .collect::<Result<Vec<_>, _>>()
            .expect("certificate");
        let key = PrivateKeyDer::from_pem_file(PRIVATE_KEY).expect("the snakeoil key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let broker = amqp_url()
            .split('@')
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .expect("host:port in the broker URL")
            .to_owned();
        let (completed, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counts = (completed.clone(), refused.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, broker, counts) = (acceptor.clone(), broker.clone(), counts.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        counts.1.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    counts.0.fetch_add(1, Ordering::SeqCst);
                    if let Ok(mut upstream) = TcpStream::connect(&broker).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                    }
                });
            }
        });
        TlsTerminator {
            port,
            completed,
            refused,
        }
    }
}

#[tokio::test]
async fn a_worker_consumes_over_amqps_and_refuses_a_broker_it_cannot_verify() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let key = create_key(&app.state, "owner-a", "generate").await;
    let terminator = TlsTerminator::start().await;
    let amqps = format!("amqps://guest:guest@localhost:{}/%2f", terminator.port);
    let client = reqwest::Client::new();

    // The public roots do not vouch for a self-signed certificate: no session, no consumer.
    let port = free_port();
    let probe = format!("127.0.0.1:{port}");
    let _untrusting = spawn(
        &env,
        "procmap-worker",
        &[],
        &[
            ("PROCMAP_AMQP_URL", amqps.as_str()),
            ("PROCMAP_WORKER_HTTP_BIND", probe.as_str()),
            ("SSL_CERT_FILE", PUBLIC_ROOTS),
            ("SSL_CERT_DIR", NO_DIRECTORY),
        ],
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        terminator.refused.load(Ordering::SeqCst) >= 1,
        "the worker broke the handshake off"
    );
    assert_eq!(terminator.completed.load(Ordering::SeqCst), 0);
    let ready = client
        .get(format!("http://{probe}/readyz"))
        .send()
        .await
        .expect("probe")
        .status();
    assert_eq!(ready, 503, "a worker without its broker is not ready");

    // Trusting the certificate as a root (`SSL_CERT_FILE`), the worker consumes over TLS.
    let (_worker, _) = spawn_worker_with(
        &env,
        &client,
        &[
            ("PROCMAP_AMQP_URL", amqps.as_str()),
            ("SSL_CERT_FILE", CERTIFICATE),
        ],
    )
    .await;
    assert!(terminator.completed.load(Ordering::SeqCst) >= 1);
    let body =
        json!({"mode": "initial", "prompt": "The clerk checks the claim. The manager pays it."});
    let (_, generation) = json_with_status(
        app.post_generation_as(&key, &body, "?wait=true", None)
            .await,
        200,
    )
    .await;
    assert_eq!(generation["status"], "succeeded", "{generation}");
    app.stop().await;
    env.teardown().await;
}
