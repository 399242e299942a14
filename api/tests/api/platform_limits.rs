//! Seed 001's platform conventions: cancel and delete, livemode, rate limits shared by replicas,
//! generation quotas, internal errors, and hostile XML.

use std::time::Duration;

use futures_util::future::join_all;
use procmap_api::keys;
use procmap_core::db::limits;
use serde_json::json;

use crate::{generations::FOREIGN_BPMN, helpers::*};

fn no_worker() -> Options {
    Options::without_worker()
}

#[tokio::test]
async fn a_canceled_generation_wakes_its_waiters_and_is_never_completed() {
    let env = Environment::new().await;
    let mut app = TestApp::spawn(&env, no_worker()).await;
    let body = json!({"mode": "initial", "prompt": SEED_PROMPT});
    let (_, queued) = json_with_status(
        app.post_generation_as(&app.key, &body, "?wait=false", Some("c-1"))
            .await,
        202,
    )
    .await;
    let id = queued["id"].as_str().expect("id").to_owned();

    // A waiter on the same generation answers as soon as it is canceled.
    let waiter = app.post_generation_as(&app.key, &body, "?wait=true", Some("c-1"));
    let cancel = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let url = app.url(&format!("/api/v1/process-maps/generations/{id}/cancel"));
        app.client
            .post(url)
            .bearer_auth(&app.key)
            .send()
            .await
            .expect("cancel")
    };
    let (waited, canceled) = tokio::join!(waiter, cancel);
    let (_, canceled) = json_with_status(canceled, 200).await;
    assert_eq!(canceled["status"], "canceled");
    assert!(canceled["completed_at"].is_string());
    let (_, waited) = json_with_status(waited, 200).await;
    assert_eq!(waited["status"], "canceled");

    // The job is still in the queue; a worker that takes it must leave it canceled.
    app.start_worker(&env);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, later) = json_with_status(
        app.get(&format!("/api/v1/process-maps/generations/{id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(later["status"], "canceled");
    assert!(later.get("options").is_none());

    let again = app
        .client
        .post(app.url(&format!("/api/v1/process-maps/generations/{id}/cancel")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("cancel");
    assert_error(again, 409, "conflict_error", "generation_not_cancelable").await;
    let stranger = create_key(&app.state, "owner-b", "generate").await;
    let theirs = app
        .client
        .post(app.url(&format!("/api/v1/process-maps/generations/{id}/cancel")))
        .bearer_auth(&stranger)
        .send()
        .await
        .expect("cancel");
    assert_error(theirs, 404, "not_found_error", "resource_not_found").await;
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_deleted_generation_is_gone_for_reads_and_refinements() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let (_, done) = json_with_status(
        app.post_generation(&json!({"mode": "initial", "prompt": SEED_PROMPT}), "")
            .await,
        200,
    )
    .await;
    let id = done["id"].as_str().expect("id");
    let url = app.url(&format!("/api/v1/process-maps/generations/{id}"));

    let reader = create_key(&app.state, "owner-a", "diagrams:read").await;
    let refused = app
        .client
        .delete(&url)
        .bearer_auth(&reader)
        .send()
        .await
        .expect("delete");
    assert_error(refused, 403, "permission_error", "insufficient_scope").await;
    let stranger = create_key(&app.state, "owner-b", "generate").await;
    let refused = app
        .client
        .delete(&url)
        .bearer_auth(&stranger)
        .send()
        .await
        .expect("delete");
    assert_error(refused, 404, "not_found_error", "resource_not_found").await;

    let deleted = app
        .client
        .delete(&url)
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status().as_u16(), 204);
    assert!(deleted.headers().contains_key("x-request-id"));
    assert_error(
        app.get(&format!("/api/v1/process-maps/generations/{id}"))
            .await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    let again = app
        .client
        .delete(&url)
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("delete");
    assert_error(again, 404, "not_found_error", "resource_not_found").await;
    let refine = json!({"mode": "refinement", "prompt": "Add a step to archive it", "source": {"generation_id": id, "option_number": 1, "version_number": 1}});
    assert_error(
        app.post_generation(&refine, "").await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn generations_say_whether_a_live_or_test_key_made_them() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let test_key = keys::create(
        &app.state.pool,
        &Owner::parse("owner-a").expect("owner"),
        vec![Scope::Generate],
        false,
        None,
    )
    .await
    .expect("key");
    assert!(test_key.key.starts_with("pm_sk_test_"));
    let live_key = keys::create(
        &app.state.pool,
        &Owner::parse("owner-a").expect("owner"),
        vec![Scope::Generate],
        true,
        None,
    )
    .await
    .expect("key");
    let body = json!({"mode": "initial", "prompt": "The clerk files the form."});
    let (_, test) = json_with_status(
        app.post_generation_as(&test_key.key, &body, "", None).await,
        200,
    )
    .await;
    let (_, live) = json_with_status(
        app.post_generation_as(&live_key.key, &body, "", None).await,
        200,
    )
    .await;
    assert_eq!(test["livemode"], false);
    assert_eq!(live["livemode"], true);
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn two_replicas_together_let_exactly_the_rate_limit_through() {
    let env = Environment::new().await;
    let a = TestApp::spawn(&env, no_worker()).await;
    let b = TestApp::spawn(&env, no_worker()).await;
    let requests = (0..130).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.get_as(&a.key, "/api/v1/process-maps/generations?limit=1")
    });
    let mut ok = 0;
    let mut limited = 0;
    for response in join_all(requests).await {
        let headers = response.headers().clone();
        assert_eq!(headers["ratelimit-limit"], "120");
        assert!(
            headers.contains_key("ratelimit-remaining") && headers.contains_key("ratelimit-reset")
        );
        match response.status().as_u16() {
            200 => ok += 1,
            429 => {
                limited += 1;
                let retry: u64 = headers["retry-after"]
                    .to_str()
                    .expect("text")
                    .parse()
                    .expect("seconds");
                assert!((1..=60).contains(&retry));
                assert_eq!(headers["ratelimit-remaining"], "0");
                assert_error(response, 429, "rate_limit_error", "rate_limit_exceeded").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, limited), (120, 10));
    // Limits are per key: another key of the same owner is unaffected.
    let other = create_key(&a.state, "owner-a", "diagrams:read").await;
    let (headers, _) = json_with_status(
        a.get_as(&other, "/api/v1/process-maps/generations").await,
        200,
    )
    .await;
    assert_eq!(headers["ratelimit-remaining"], "119");
    a.stop().await;
    b.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn replicas_leasing_rate_tokens_in_blocks_never_let_more_than_the_limit_through() {
    let env = Environment::new().await;
    // 256 a window: each replica counts blocks of up to 4 requests (1/64 of what is left).
    let options = || Options {
        worker: false,
        env: &[("PROCMAP_RATE_LIMIT", "256")],
        ..Default::default()
    };
    let a = TestApp::spawn(&env, options()).await;
    let b = TestApp::spawn(&env, options()).await;
    // One replica alone first: the remainder it reports is exact, one request at a time,
    // though it counted a block of 4 in the shared count.
    for expected in ["255", "254", "253"] {
        let response = a
            .get_as(&a.key, "/api/v1/process-maps/generations?limit=1")
            .await;
        assert_eq!(response.headers()["ratelimit-remaining"], expected);
    }
    let client = a.state.pool.get().await.expect("connection");
    let counted: i32 = client
        .query_one("SELECT request_count FROM rate_limits", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(counted, 4, "one block counted for three requests");

    let requests = (0..300).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.get_as(&a.key, "/api/v1/process-maps/generations?limit=1")
    });
    let mut ok = 3;
    let mut limited = 0;
    for response in join_all(requests).await {
        match response.status().as_u16() {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    // Never more than the limit; at most a block per replica left unused.
    assert!((256 - 2 * 4..=256).contains(&ok), "{ok} let through");
    assert_eq!(ok + limited, 303);
    a.stop().await;
    b.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn the_generation_quota_is_spent_by_new_generations_only() {
    let env = Environment::new().await;
    let app = TestApp::spawn(
        &env,
        Options {
            worker: false,
            env: &[("PROCMAP_GENERATION_QUOTA", "2")],
            ..Default::default()
        },
    )
    .await;
    let first = json!({"mode": "initial", "prompt": "First: the clerk files it."});
    let (_, one) = json_with_status(
        app.post_generation_as(&app.key, &first, "?wait=false", Some("q-1"))
            .await,
        202,
    )
    .await;
    json_with_status(
        app.post_generation(
            &json!({"mode": "initial", "prompt": "Second: the clerk files it."}),
            "?wait=false",
        )
        .await,
        202,
    )
    .await;

    let third = app
        .post_generation(
            &json!({"mode": "initial", "prompt": "Third: the clerk files it."}),
            "?wait=false",
        )
        .await;
    let retry: u64 = third.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(
        retry > 29 * 86_400,
        "the oldest generation frees up in about 30 days, not {retry} s"
    );
    assert_error(third, 429, "rate_limit_error", "quota_exceeded").await;

    // A replay is not a new generation, so it still answers.
    let (headers, replay) = json_with_status(
        app.post_generation_as(&app.key, &first, "?wait=false", Some("q-1"))
            .await,
        202,
    )
    .await;
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(replay["id"], one["id"]);

    // Deleting a generation does not hand its quota back.
    let url = app.url(&format!(
        "/api/v1/process-maps/generations/{}",
        one["id"].as_str().expect("id")
    ));
    assert_eq!(
        app.client
            .delete(url)
            .bearer_auth(&app.key)
            .send()
            .await
            .expect("delete")
            .status()
            .as_u16(),
        204
    );
    let after_delete = app
        .post_generation(
            &json!({"mode": "initial", "prompt": "Fourth: the clerk files it."}),
            "?wait=false",
        )
        .await;
    assert_error(after_delete, 429, "rate_limit_error", "quota_exceeded").await;
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn two_replicas_together_grant_exactly_the_generation_quota() {
    let env = Environment::new().await;
    let options = || Options {
        worker: false,
        env: &[("PROCMAP_GENERATION_QUOTA", "5")],
        ..Default::default()
    };
    let a = TestApp::spawn(&env, options()).await;
    let b = TestApp::spawn(&env, options()).await;
    // Both ways of accepting at once: with an Idempotency-Key (the claim's transaction) and
    // without (a single insert), on both replicas.
    let key = a.key.as_str();
    let requests = (0..16).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        let body =
            json!({"mode": "initial", "prompt": format!("Request {i}: the clerk files it.")});
        let idempotency_key = (i % 4 < 2).then(|| format!("quota-{i}"));
        async move {
            app.post_generation_as(key, &body, "?wait=false", idempotency_key.as_deref())
                .await
        }
    });
    let mut accepted = 0;
    let mut refused = 0;
    for response in join_all(requests).await {
        match response.status().as_u16() {
            202 => accepted += 1,
            429 => {
                refused += 1;
                assert_error(response, 429, "rate_limit_error", "quota_exceeded").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((accepted, refused), (5, 11));
    let client = a.state.pool.get().await.expect("connection");
    let stored: i64 = client
        .query_one("SELECT count(*) FROM generations", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(
        stored, 5,
        "every accepted generation is stored, and no other"
    );
    a.stop().await;
    b.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_busy_key_reserves_its_quota_in_blocks_and_hands_back_what_it_did_not_use() {
    let env = Environment::new().await;
    let app = TestApp::spawn(
        &env,
        Options {
            worker: false,
            env: &[("PROCMAP_GENERATION_QUOTA", "6400")],
            ..Default::default()
        },
    )
    .await;
    for i in 0..20 {
        let body =
            json!({"mode": "initial", "prompt": format!("Request {i}: the clerk files it.")});
        let response = app.post_generation(&body, "?wait=false").await;
        assert_eq!(response.status().as_u16(), 202);
    }
    let client = app.state.pool.get().await.expect("connection");
    let used = || async {
        let used: i64 = client
            .query_one("SELECT used FROM quota_counters", &[])
            .await
            .expect("counter")
            .get(0);
        used
    };
    // Blocks of 1, 2, 4, 8 and 16 were reserved for 20 generations in quick succession (less,
    // if the machine paused for a second between two of them).
    let reserved = used().await;
    assert!((21..=31).contains(&reserved), "{reserved} reserved");
    // Idle for a second, the lease's 11 unused generations go back.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while used().await != 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "still {} used",
            used().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A replica that stops hands back what it holds at once.
    for i in 0..5 {
        let body = json!({"mode": "initial", "prompt": format!("Later {i}: the clerk files it.")});
        let response = app.post_generation(&body, "?wait=false").await;
        assert_eq!(response.status().as_u16(), 202);
    }
    app.stop().await;
    assert_eq!(used().await, 25);
    env.teardown().await;
}

#[tokio::test]
async fn reserved_blocks_are_granted_up_to_the_quota_and_refunded_in_part() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, no_worker()).await;
    let key = create_key_record(&app.state, "owner-r", "generate", false).await;
    let client = app.state.budgets().await.expect("connection");
    let window = Duration::from_secs(86_400);
    let reserve = |lease: uuid::Uuid, units: i64| {
        let client = &client;
        async move {
            limits::reserve_generations(client, key.id, lease, units, 5, window)
                .await
                .expect("reserve")
        }
    };
    let (first, second, third) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    assert_eq!(reserve(first, 3).await.granted, 3);
    // Only what is left of the quota is granted.
    let partial = reserve(second, 3).await;
    assert_eq!((partial.granted, partial.used), (2, 5));
    let spent = reserve(third, 1).await;
    assert_eq!(spent.granted, 0);
    assert!(spent.frees_in > 86_000, "{spent:?}");

    // Two of the first lease were not used: handing them back frees two.
    limits::refund_generations(&client, key.id, first, 2)
        .await
        .expect("refund");
    let after_refund = reserve(third, 3).await;
    assert_eq!((after_refund.granted, after_refund.used), (2, 5));
    // A lease hands back no more than it holds, and an unknown one nothing.
    limits::refund_generations(&client, key.id, first, 10)
        .await
        .expect("refund");
    limits::refund_generations(&client, key.id, uuid::Uuid::new_v4(), 1)
        .await
        .expect("refund");
    let last = reserve(uuid::Uuid::new_v4(), 5).await;
    assert_eq!((last.granted, last.used), (1, 5));
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn an_internal_failure_is_a_bare_internal_error() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, no_worker()).await;
    let client = app.state.pool.get().await.expect("db");
    client
        .batch_execute("ALTER TABLE generations RENAME TO generations_gone")
        .await
        .expect("break the schema");
    drop(client);
    let response = app.get("/api/v1/process-maps/generations").await;
    let (_, body) = json_with_status(response, 500).await;
    assert_eq!(body["error"]["type"], "api_error");
    assert_eq!(body["error"]["code"], "internal_error");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        !message.contains("generations"),
        "no internals leak: {message}"
    );
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn hostile_xml_is_refused_quickly_and_leaks_nothing() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, no_worker()).await;
    let ns = r#"xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL""#;
    let laughs = format!(
        r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><definitions {ns}>&c;</definitions>"#
    );
    let xxe = format!(
        r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><definitions {ns}><process id="p">&x;</process></definitions>"#
    );
    let deep = format!(
        "<definitions {ns}>{}{}</definitions>",
        "<x>".repeat(5000),
        "</x>".repeat(5000)
    );
    let attributes: String = (0..500).map(|i| format!(" a{i}=\"v\"")).collect();
    let wide = format!("<definitions {ns}><process id=\"p\"{attributes}/></definitions>");
    let foreign_with_dtd =
        FOREIGN_BPMN.replacen("<bpmn2:definitions", "<!DOCTYPE x><bpmn2:definitions", 1);
    for (name, xml) in [
        ("laughs", laughs),
        ("xxe", xxe),
        ("deep", deep),
        ("wide", wide),
        ("dtd", foreign_with_dtd),
    ] {
        let started = std::time::Instant::now();
        let body = json!({"mode": "refinement", "prompt": "Add a step to log it", "source": {"bpmn_xml": xml}});
        let response = app.post_generation(&body, "").await;
        let (_, answer) = json_with_status(response, 422).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name} took {:?}",
            started.elapsed()
        );
        assert_eq!(answer["error"]["code"], "validation_failed", "{name}");
        let text = answer.to_string();
        assert!(
            !text.contains("root:") && !text.contains("/bin/"),
            "{name} leaked the filesystem: {text}"
        );
    }
    app.stop().await;
    env.teardown().await;
}
