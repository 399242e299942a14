//! TLS to Postgres, as managed databases demand it: the URL's `sslmode` is honoured with rustls.
//! The local Debian server runs with `ssl = on` and its self-signed "snakeoil" certificate.

use procmap_core::db;

use crate::helpers::*;

/// An error with every cause under it, where the reason for a refused handshake is.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(&format!(": {e}"));
        cause = e.source();
    }
    text
}

async fn encrypted(pool: &db::Pool) -> Result<bool, String> {
    let client = pool.get().await.map_err(|e| chain(&e))?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| format!("{e:#}"))?;
    Ok(row.get(0))
}

#[tokio::test]
async fn each_sslmode_encrypts_and_checks_the_server_as_libpq_documents() {
    let env = Environment::new().await;
    let plain = db::pool(&env.database_url, 1).expect("pool");
    let client = plain.get().await.expect("connection");
    let ssl_on: String = client
        .query_one("SHOW ssl", &[])
        .await
        .expect("show")
        .get(0);
    assert_eq!(
        ssl_on, "on",
        "this test needs the server's TLS (Debian's default)"
    );
    drop(client);
    assert_eq!(
        encrypted(&plain).await,
        Ok(false),
        "no sslmode: plain, as before"
    );

    let with = |parameters: &str| format!("{}?{parameters}", env.database_url);
    let require = db::pool(&with("sslmode=require"), 1).expect("pool");
    assert_eq!(encrypted(&require).await, Ok(true));
    let prefer = db::pool(&with("sslmode=prefer"), 1).expect("pool");
    assert_eq!(encrypted(&prefer).await, Ok(true));

    // The snakeoil certificate is self-signed: no public root vouches for it.
    let verify_full = db::pool(&with("sslmode=verify-full"), 1).expect("pool");
    let refused = encrypted(&verify_full)
        .await
        .expect_err("an untrusted server");
    assert!(refused.contains("certificate"), "{refused}");

    // Trusting it as the root: it is issued to `localhost`, not to 127.0.0.1.
    let root = "sslrootcert=/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let by_address = db::pool(&with(&format!("sslmode=verify-full&{root}")), 1).expect("pool");
    let refused = encrypted(&by_address)
        .await
        .expect_err("the name does not match");
    assert!(refused.contains("certificate"), "{refused}");
    let chain_only = db::pool(&with(&format!("sslmode=verify-ca&{root}")), 1).expect("pool");
    assert_eq!(
        encrypted(&chain_only).await,
        Ok(true),
        "verify-ca checks no name"
    );
    let by_name = env.database_url.replacen("127.0.0.1", "localhost", 1);
    let verified = db::pool(&format!("{by_name}?sslmode=verify-full&{root}"), 1).expect("pool");
    assert_eq!(encrypted(&verified).await, Ok(true));
    env.teardown().await;
}
