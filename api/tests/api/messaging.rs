//! The job system: duplicate deliveries, the quorum queue, the relay, lease expiry, poison jobs.

use std::time::Duration;

use lapin::{
    options::{BasicPublishOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable},
    BasicProperties,
};
use procmap_core::{
    broker::Topology,
    db::generations::{self, NewGeneration},
    domain::{GenerationRequest, Language, Prompt, Workspace},
    messages::Job,
};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

/// The test app's key, and an initial request, for rows written straight to the database.
async fn key_and_request(client: &tokio_postgres::Client) -> (Uuid, GenerationRequest) {
    let key_id: Uuid = client
        .query_one("SELECT id FROM api_keys LIMIT 1", &[])
        .await
        .expect("key")
        .get(0);
    let request = GenerationRequest::Initial {
        prompt: Prompt::parse("The clerk checks the claim. The manager approves it.")
            .expect("valid"),
        language: Language::ENGLISH,
    };
    (key_id, request)
}

/// A `queued` generation of the test app's key, to write straight to the database.
fn test_generation<'a>(
    id: Uuid,
    owner: &'a Owner,
    key_id: Uuid,
    request: &'a GenerationRequest,
    diagram: Option<(Uuid, i32)>,
) -> NewGeneration<'a> {
    NewGeneration {
        id,
        owner,
        api_key_id: key_id,
        request,
        request_id: "test",
        // As the test app's key is: its reads see only test-mode generations.
        livemode: false,
        diagram,
        context: &[],
    }
}

async fn insert_unpublished(app: &TestApp, owner: &str) -> Uuid {
    let owner = &Owner::parse(owner).expect("owner");
    let client = app.state.pool.get().await.expect("db");
    let (key_id, request) = key_and_request(&client).await;
    let id = Uuid::now_v7();
    generations::insert(&client, &test_generation(id, owner, key_id, &request, None))
        .await
        .expect("insert");
    id
}

async fn status_of(app: &TestApp, id: Uuid) -> (String, i32, i64) {
    let client = app.state.pool.get().await.expect("db");
    let row = client
        .query_one("SELECT status, attempts, (SELECT count(*) FROM generation_versions WHERE generation_id = $1) FROM generations WHERE id = $1", &[&id])
        .await
        .expect("row");
    (row.get(0), row.get(1), row.get(2))
}

async fn wait_for_status(app: &TestApp, id: Uuid, status: &str) -> (String, i32, i64) {
    for _ in 0..200 {
        let current = status_of(app, id).await;
        if current.0 == status {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "generation {id} never reached {status}; it is {:?}",
        status_of(app, id).await
    );
}

#[tokio::test]
async fn a_job_delivered_twice_leaves_exactly_one_result() {
    let env = Environment::new().await;
    let mut app = TestApp::spawn(&env, Options::without_worker()).await;
    let id = insert_unpublished(&app, "owner-a").await;
    let job = Job::Generate { generation_id: id };
    app.state
        .publisher
        .publish_job(&job)
        .await
        .expect("publish");
    app.state
        .publisher
        .publish_job(&job)
        .await
        .expect("publish again");
    app.start_worker(&env);

    let (_, attempts, versions) = wait_for_status(&app, id, "succeeded").await;
    // Give the duplicate time to be consumed too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status_of(&app, id).await, ("succeeded".into(), 1, 3));
    assert_eq!((attempts, versions), (1, 3));
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn jobs_live_on_a_durable_quorum_queue_under_the_prefix() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let (_, _) = json_with_status(
        app.post_generation(
            &json!({"mode": "initial", "prompt": SEED_PROMPT}),
            "?wait=false",
        )
        .await,
        202,
    )
    .await;
    let topology = Topology::new(&env.queue_prefix);
    assert!(topology.jobs_queue.starts_with(&env.queue_prefix));

    let connection = env.broker().connect().await.expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    // Re-declaring with a different queue type is refused by the broker only if the queue is a quorum queue.
    let mut classic = FieldTable::default();
    classic.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("classic".into()),
    );
    let redeclared = channel
        .queue_declare(
            &topology.jobs_queue,
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            classic,
        )
        .await;
    assert!(redeclared.is_err(), "the jobs queue must be a quorum queue");
    let _ = connection.close(200, "done").await;
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn the_relay_republishes_a_job_whose_publish_was_lost() {
    let env = Environment::new().await;
    let mut app = TestApp::spawn(&env, Options::without_worker()).await;
    app.start_worker(&env);
    let id = insert_unpublished(&app, "owner-a").await;
    // As if the API crashed between commit and publish a minute ago.
    let client = app.state.pool.get().await.expect("db");
    client
        .execute(
            "UPDATE generations SET created_at = now() - interval '1 minute' WHERE id = $1",
            &[&id],
        )
        .await
        .expect("backdate");
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        status_of(&app, id).await.0,
        "queued",
        "nothing runs without a job message"
    );

    assert_eq!(relay::pass(&app.state).await.expect("relay"), 1);
    wait_for_status(&app, id, "succeeded").await;
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_job_whose_worker_died_is_taken_back_or_failed_after_the_last_attempt() {
    let env = Environment::new().await;
    let mut app = TestApp::spawn(&env, Options::without_worker()).await;
    app.start_worker(&env);
    let retry = insert_unpublished(&app, "owner-a").await;
    let exhausted = insert_unpublished(&app, "owner-a").await;
    let client = app.state.pool.get().await.expect("db");
    // Both claimed by a worker that died; the second has used every attempt.
    client
        .execute(
            "UPDATE generations SET status = 'running', attempts = CASE WHEN id = $1 THEN 1 ELSE 3 END,
                 lease_expires_at = now() - interval '1 second', created_at = now() - interval '1 minute'
             WHERE id IN ($1, $2)",
            &[&retry, &exhausted],
        )
        .await
        .expect("simulate a dead worker");
    drop(client);

    relay::pass(&app.state).await.expect("relay");
    let (_, attempts, versions) = wait_for_status(&app, retry, "succeeded").await;
    assert_eq!((attempts, versions), (2, 3));
    let (_, body) = json_with_status(
        app.get(&format!("/api/v1/process-maps/generations/{exhausted}"))
            .await,
        200,
    )
    .await;
    assert_eq!(body["status"], "failed");
    assert_eq!(body["error"]["code"], "attempts_exhausted");
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_job_message_that_does_not_parse_is_dead_lettered() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let topology = Topology::new(&env.queue_prefix);
    let channel = app.state.publisher.channel().await.expect("channel");
    channel
        .basic_publish(
            "",
            &topology.jobs_queue,
            BasicPublishOptions::default(),
            b"{\"type\":\"explode\"}",
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    let mut dead = 0;
    for _ in 0..100 {
        dead = messages_in(&env, &topology.dead_letter_queue).await;
        if dead > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dead, 1);
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn dead_letters_that_can_still_run_are_requeued_and_the_rest_accounted_for() {
    let env = Environment::new().await;
    let mut app = TestApp::spawn(&env, Options::without_worker()).await;
    let topology = Topology::new(&env.queue_prefix);
    let waiting = insert_unpublished(&app, "owner-a").await;
    let finished = insert_unpublished(&app, "owner-a").await;
    let client = app.state.pool.get().await.expect("db");
    client
        .execute(
            "UPDATE generations SET status = 'canceled', completed_at = now() WHERE id = $1",
            &[&finished],
        )
        .await
        .expect("cancel");
    // Straight into the dead-letter exchange, as after five failed deliveries.
    let channel = app.state.publisher.channel().await.expect("channel");
    for body in [
        serde_json::to_vec(&Job::Generate {
            generation_id: waiting,
        })
        .expect("json"),
        serde_json::to_vec(&Job::Generate {
            generation_id: finished,
        })
        .expect("json"),
        b"{\"type\":\"explode\"}".to_vec(),
    ] {
        channel
            .basic_publish(
                &topology.dead_letter_exchange,
                "",
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
    }
    relay::pass(&app.state).await.expect("relay pass");
    assert!(
        procmap_core::metrics::render().contains("procmap_dead_lettered_messages"),
        "the relay reports the dead letters"
    );

    let report = app
        .state
        .relay
        .requeue_dead_letters()
        .await
        .expect("requeue");
    assert_eq!(
        report,
        procmap_core::relay::DeadLetters {
            requeued: 1,
            dropped: 1,
            unreadable: 1
        }
    );
    assert_eq!(
        messages_in(&env, &topology.dead_letter_queue).await,
        1,
        "the unreadable one stays for a person"
    );
    app.start_worker(&env);
    wait_for_status(&app, waiting, "succeeded").await;
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn claims_and_results_written_in_one_batch_keep_each_jobs_guarantees() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let (a, b, done) = (
        insert_unpublished(&app, "owner-a").await,
        insert_unpublished(&app, "owner-a").await,
        insert_unpublished(&app, "owner-a").await,
    );
    let client = app.state.pool.get().await.expect("db");
    let lease = Duration::from_secs(60);
    generations::claim(&client, done, lease)
        .await
        .expect("claim")
        .expect("claimed");
    // `a` delivered twice in one batch, `done` already taken, and an id that does not exist.
    let claims = generations::claim_many(&client, &[a, b, a, done, Uuid::new_v4()], lease)
        .await
        .expect("claim");
    let claimed: Vec<Option<Uuid>> = claims.iter().map(|c| c.as_ref().map(|g| g.id)).collect();
    assert_eq!(claimed, [Some(a), Some(b), None, None, None]);
    assert_eq!(status_of(&app, a).await, ("running".into(), 1, 0));

    let versions = |n: i32| -> Vec<procmap_core::domain::StoredVersion> {
        (1..=n)
            .map(|option_number| procmap_core::domain::StoredVersion {
                option_number,
                version_number: 1,
                bpmn_xml: format!("<option n=\"{option_number}\"/>"),
            })
            .collect()
    };
    let (three, one) = (versions(3), versions(1));
    let warnings = vec!["kept the lanes".to_owned()];
    // Neither is for a diagram: one statement, committed without a transaction.
    let stored = generations::complete_many(
        &client,
        &[
            generations::Completion {
                id: a,
                attempt: 1,
                for_diagram: false,
                versions: &three,
                usage: None,
                warnings: &warnings,
            },
            // An attempt that no longer holds its generation writes nothing.
            generations::Completion {
                id: b,
                attempt: 7,
                for_diagram: false,
                versions: &one,
                usage: None,
                warnings: &[],
            },
        ],
    )
    .await
    .expect("complete");
    assert_eq!(stored, [true, false]);
    assert_eq!(status_of(&app, a).await, ("succeeded".into(), 1, 3));
    assert_eq!(status_of(&app, b).await, ("running".into(), 1, 0));
    let stored = generations::get(&client, a).await.expect("get").expect("a");
    assert_eq!(stored.warnings, warnings);
    drop(client);
    app.stop().await;
    env.teardown().await;
}

/// Adds 5,000 copies of generation `template` with autovacuum off for the table, so its
/// statistics stay those of the table before: a burst that outran autovacuum, or autovacuum
/// off.
async fn grow_without_statistics(client: &tokio_postgres::Client, template: Uuid) {
    client
        .batch_execute("ALTER TABLE generations SET (autovacuum_enabled = false)")
        .await
        .expect("autovacuum off");
    client
        .execute(
            "INSERT INTO generations
             SELECT (jsonb_populate_record(NULL::generations,
                     to_jsonb(g) || jsonb_build_object('id', gen_random_uuid()))).*
             FROM generations g, generate_series(1, 5000)
             WHERE g.id = $1",
            &[&template],
        )
        .await
        .expect("a backlog");
}

/// A burst fills the table faster than autovacuum analyzes it, so the planner believes almost
/// no row is queued. A claim must still find its rows by primary key, not by reading the index
/// entry of every queued job (which made draining a backlog quadratic).
#[tokio::test]
async fn a_claim_finds_its_rows_by_key_while_a_burst_has_outrun_the_statistics() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let template = insert_unpublished(&app, "owner-a").await;
    let mut client = app.state.pool.get().await.expect("db");
    // No analyze during the test: the statistics stay those of an empty table.
    grow_without_statistics(&client, template).await;
    let ids: Vec<Uuid> = client
        .query("SELECT id FROM generations ORDER BY random() LIMIT 20", &[])
        .await
        .expect("ids")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let tx = client.transaction().await.expect("tx");
    // The plan a worker settles on after its first executions of the statement.
    tx.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan")
        .await
        .expect("generic plans");
    let claims = generations::claim_many(&tx, &ids, Duration::from_secs(60))
        .await
        .expect("claim");
    assert!(claims.iter().all(Option::is_some), "every id is claimed");
    let scans: Vec<(String, i64)> = tx
        .query(
            "SELECT c.relname::text, pg_stat_get_xact_numscans(c.oid)
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = 'generations'::regclass
               AND pg_stat_get_xact_numscans(c.oid) > 0
             ORDER BY 1",
            &[],
        )
        .await
        .expect("index scans")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        scans
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>(),
        ["generations_pkey"],
        "the claim read these indexes: {scans:?}"
    );
    tx.rollback().await.expect("rollback");
    drop(client);
    app.stop().await;
    env.teardown().await;
}

/// A batch statement planned while the table was nearly empty must not go on reading the whole
/// table once it has grown: an analyze would replace a cached plan, but autovacuum may be off
/// or minutes away.
#[tokio::test]
async fn published_marks_find_their_rows_by_key_after_the_table_grew() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let template = insert_unpublished(&app, "owner-a").await;
    let mut client = app.state.pool.get().await.expect("db");
    // Batches as a busy replica marks them, more than a cached statement takes to settle on a
    // generic plan; on a table this small, reading it whole is the cheaper plan.
    let batch: Vec<Uuid> = std::iter::once(template)
        .chain((1..200).map(|_| Uuid::now_v7()))
        .collect();
    for _ in 0..8 {
        generations::mark_many_published(&client, &batch)
            .await
            .expect("mark");
    }
    grow_without_statistics(&client, template).await;
    let tx = client.transaction().await.expect("tx");
    generations::mark_many_published(&tx, &[template])
        .await
        .expect("mark");
    let seq_scans: i64 = tx
        .query_one(
            "SELECT pg_stat_get_xact_numscans('generations'::regclass)",
            &[],
        )
        .await
        .expect("scans")
        .get(0);
    assert_eq!(seq_scans, 0, "the mark read the whole table");
    tx.rollback().await.expect("rollback");
    drop(client);
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn generations_stored_in_one_batch_fail_alone_and_come_back_in_order() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let client = app.state.pool.get().await.expect("db");
    let (key_id, request) = key_and_request(&client).await;
    let owner = Owner::parse("owner-a").expect("owner");
    let inserts =
        procmap_api::generations::inserts::GenerationInserts::start(app.state.pool.clone());
    // Twenty requests at once; the seventh names a diagram that does not exist, so a batch
    // holding it fails as a whole.
    let ids: Vec<Uuid> = (0..20).map(|_| Uuid::now_v7()).collect();
    let bad = ids[6];
    let stores = ids.iter().map(|&id| {
        let (inserts, owner, request) = (inserts.clone(), owner.clone(), request.clone());
        tokio::spawn(async move {
            let diagram = (id == bad).then(|| (Uuid::new_v4(), 1));
            let new = test_generation(id, &owner, key_id, &request, diagram);
            inserts.store(&new).await.map(|stored| stored.id)
        })
    });
    let answers = futures_util::future::join_all(stores).await;
    for (id, answer) in ids.iter().zip(answers) {
        let answer = answer.expect("the store task ran");
        if *id == bad {
            assert!(answer.is_err(), "a row naming no diagram is refused");
        } else {
            assert_eq!(
                answer.expect("stored"),
                *id,
                "each request gets its own row"
            );
        }
    }
    let stored: Vec<Uuid> = client
        .query(
            "SELECT id FROM generations WHERE id = ANY($1) AND status = 'queued' ORDER BY id",
            &[&ids],
        )
        .await
        .expect("rows")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut expected: Vec<Uuid> = ids.iter().copied().filter(|id| *id != bad).collect();
    expected.sort();
    assert_eq!(
        stored, expected,
        "every other row is committed, the bad one is not"
    );

    // Without a database to reach, the request is told to come back later, not that it broke.
    let gone = procmap_core::db::pool(&format!("{}/procmap_no_such_database", server_url()), 1)
        .expect("pool");
    let refused = procmap_api::generations::inserts::GenerationInserts::start(gone)
        .store(&test_generation(
            Uuid::now_v7(),
            &owner,
            key_id,
            &request,
            None,
        ))
        .await
        .expect_err("no database");
    assert_eq!(
        axum::response::IntoResponse::into_response(refused).status(),
        503
    );
    drop(client);
    app.stop().await;
    env.teardown().await;
}

/// A claimed generation of `owner-a` and the diagram made from it, as a request that creates
/// a diagram stores them; answers the diagram, the generation and its attempt.
async fn claimed_for_a_diagram(app: &TestApp) -> (Uuid, Uuid, i32) {
    let owner = &Owner::parse("owner-a").expect("owner");
    let mut client = app.state.pool.get().await.expect("db");
    let (key_id, request) = key_and_request(&client).await;
    let (diagram, id) = (Uuid::now_v7(), Uuid::now_v7());
    let tx = client.transaction().await.expect("begin");
    tx.execute(
        "INSERT INTO diagrams (id, owner, livemode, name, generation_id)
         VALUES ($1, 'owner-a', false, 'Claims', $2)",
        &[&diagram, &id],
    )
    .await
    .expect("diagram");
    let new = test_generation(id, owner, key_id, &request, Some((diagram, 1)));
    generations::insert(&tx, &new).await.expect("insert");
    tx.commit().await.expect("commit");
    let claimed = generations::claim(&client, id, Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("claimed");
    (diagram, id, claimed.attempts)
}

/// Stores an attempt's result for a diagram as the worker does: one transaction.
async fn store_for_diagram(
    pool: &procmap_core::db::Pool,
    id: Uuid,
    attempt: i32,
) -> Result<Vec<bool>, tokio_postgres::Error> {
    let version = procmap_core::domain::StoredVersion {
        option_number: 1,
        version_number: 1,
        bpmn_xml: "<x/>".into(),
    };
    let completion = generations::Completion {
        id,
        attempt,
        for_diagram: true,
        versions: std::slice::from_ref(&version),
        usage: None,
        warnings: &[],
    };
    let mut client = pool.get().await.expect("db");
    let tx = client.transaction().await?;
    let stored = generations::complete_many(&tx, &[completion]).await?;
    tx.commit().await?;
    Ok(stored)
}

async fn lock_diagram(tx: &tokio_postgres::Transaction<'_>, diagram: Uuid) {
    tx.execute(
        "SELECT 1 FROM diagrams WHERE id = $1 FOR UPDATE",
        &[&diagram],
    )
    .await
    .expect("lock");
}

/// Starts storing an attempt's result, and waits until it waits for a lock.
async fn start_storing(
    app: &TestApp,
    id: Uuid,
    attempt: i32,
) -> tokio::task::JoinHandle<Result<Vec<bool>, tokio_postgres::Error>> {
    let pool = app.state.pool.clone();
    let worker = tokio::spawn(async move { store_for_diagram(&pool, id, attempt).await });
    wait_for_lock_waiters(app, 1).await;
    worker
}

/// Waits until `n` backends of the test's database wait for a lock.
async fn wait_for_lock_waiters(app: &TestApp, n: i64) {
    let client = app.state.pool.get().await.expect("db");
    for _ in 0..400 {
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .expect("pg_stat_activity")
            .get(0);
        if waiting >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{n} backends never waited for a lock");
}

/// Deleting a diagram locks its row, then its cascade reaches the generations made for it. A
/// worker storing such a generation's result takes the same order; had it locked the
/// generation's row first, Postgres would find a deadlock and abort one of the two.
#[tokio::test]
async fn a_diagram_deleted_while_its_generation_is_stored_is_no_deadlock() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let (diagram, id, attempt) = claimed_for_a_diagram(&app).await;
    let mut client = app.state.pool.get().await.expect("db");
    let delete = client.transaction().await.expect("begin");
    // The first half of a delete: the diagram's row.
    lock_diagram(&delete, diagram).await;
    let worker = start_storing(&app, id, attempt).await;
    // The second half: the cascade sets the generation's `diagram_id` to null.
    delete
        .execute("DELETE FROM diagrams WHERE id = $1", &[&diagram])
        .await
        .expect("the delete is not the deadlock's victim");
    delete.commit().await.expect("commit");
    let stored = worker.await.expect("task").expect("nor is the worker");
    assert_eq!(stored, [true]);
    assert_eq!(status_of(&app, id).await, ("succeeded".into(), 1, 1));
    drop(client);
    app.stop().await;
    env.teardown().await;
}

/// Deleting a generation clears it from the diagram made from it, so it locks the diagram's
/// row before its own, and cannot deadlock with a worker storing that generation's result,
/// which does the same.
#[tokio::test]
async fn a_generation_deleted_while_its_result_is_stored_is_no_deadlock() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let (diagram, id, attempt) = claimed_for_a_diagram(&app).await;
    let mut client = app.state.pool.get().await.expect("db");
    // Another writer of the diagram (an upload, another result) holds its row while the
    // worker and the delete arrive.
    let other = client.transaction().await.expect("begin");
    lock_diagram(&other, diagram).await;
    let worker = start_storing(&app, id, attempt).await;
    let state = app.state.clone();
    let deleted = tokio::spawn(async move {
        let workspace = Workspace {
            owner: Owner::parse("owner-a").expect("owner"),
            livemode: false,
        };
        procmap_api::generations::delete(&state, &workspace, id).await
    });
    wait_for_lock_waiters(&app, 2).await;
    other.commit().await.expect("commit");
    let stored = worker
        .await
        .expect("task")
        .expect("the worker is not the deadlock's victim");
    assert_eq!(stored, [true]);
    assert!(
        deleted.await.expect("task").expect("nor is the delete"),
        "the generation was there"
    );
    let versions: i64 = client
        .query_one(
            "SELECT count(*) FROM diagram_versions WHERE diagram_id = $1",
            &[&diagram],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(versions, 1, "the diagram keeps the version the result made");
    drop(client);
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_worker_cannot_complete_a_generation_canceled_while_it_ran() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let id = insert_unpublished(&app, "owner-a").await;
    let client = app.state.pool.get().await.expect("db");
    let claimed = generations::claim(&client, id, Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("claimed");
    let workspace = Workspace {
        owner: Owner::parse("owner-a").expect("owner"),
        livemode: false,
    };
    generations::cancel(&client, &workspace, id)
        .await
        .expect("cancel")
        .expect("was running");
    let version = procmap_core::domain::StoredVersion {
        option_number: 1,
        version_number: 1,
        bpmn_xml: "<x/>".into(),
    };
    let stored = generations::complete(&client, id, claimed.attempts, &[version], None, &[])
        .await
        .expect("complete");
    assert!(!stored, "the worker's late result is discarded");
    drop(client);
    assert_eq!(status_of(&app, id).await, ("canceled".into(), 1, 0));
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn an_attempt_taken_back_while_the_database_was_away_keeps_the_job_until_another_claims_it() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let resumed = insert_unpublished(&app, "owner-a").await;
    let overtaken = insert_unpublished(&app, "owner-a").await;
    let client = app.state.pool.get().await.expect("db");
    let lease = Duration::from_secs(60);
    for id in [resumed, overtaken] {
        generations::claim(&client, id, lease)
            .await
            .expect("claim")
            .expect("claimed");
    }
    // Both leases ran out while the database was away, and the relay took both jobs back.
    client
        .execute(
            "UPDATE generations SET lease_expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .expect("expire the leases");
    procmap_core::db::job_rows::reclaim_expired(
        &client,
        procmap_core::db::job_rows::JobTable::Generations,
        5,
    )
    .await
    .expect("take back");
    assert_eq!(status_of(&app, resumed).await.0, "queued");
    let version = || procmap_core::domain::StoredVersion {
        option_number: 1,
        version_number: 1,
        bpmn_xml: "<x/>".into(),
    };

    // No one claimed `resumed` since: its first attempt, still alive, renews and finishes it.
    assert!(generations::renew_lease(&client, resumed, 1, lease)
        .await
        .expect("renew"));
    assert_eq!(status_of(&app, resumed).await.0, "running");
    assert!(
        generations::complete(&client, resumed, 1, &[version()], None, &[])
            .await
            .expect("complete"),
        "the first attempt's result is kept"
    );
    assert_eq!(status_of(&app, resumed).await, ("succeeded".into(), 1, 1));
    assert!(
        generations::claim(&client, resumed, lease)
            .await
            .expect("claim")
            .is_none(),
        "the republished message finds it done"
    );

    // A second attempt claimed `overtaken`: the first can neither renew nor finish it.
    let second = generations::claim(&client, overtaken, lease)
        .await
        .expect("claim")
        .expect("claimed");
    assert_eq!(second.attempts, 2);
    assert!(!generations::renew_lease(&client, overtaken, 1, lease)
        .await
        .expect("renew"));
    assert!(
        !generations::complete(&client, overtaken, 1, &[version()], None, &[])
            .await
            .expect("complete"),
        "the first attempt's late result is discarded"
    );
    assert!(
        generations::complete(&client, overtaken, 2, &[version()], None, &[])
            .await
            .expect("complete")
    );
    assert_eq!(status_of(&app, overtaken).await, ("succeeded".into(), 2, 1));
    drop(client);
    app.stop().await;
    env.teardown().await;
}

/// A request is answered once its row is committed, and its job is published behind the
/// answer. A replica that stops waits for those publishes, so every job it answered is in the
/// queue and marked published: none is left for the relay to find 10 s later.
#[tokio::test]
async fn a_stopping_replica_publishes_and_marks_every_job_it_answered() {
    let env = Environment::new().await;
    let mut app = procmap_api::Application::build(env.api_config(&[]))
        .await
        .expect("build app");
    assert!(app.events_ready(Duration::from_secs(15)).await);
    let address = format!("http://{}", app.local_addr().expect("address"));
    let state = app.state().clone();
    let stop = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(app.run_until(stop.clone()));
    let key = create_key(&state, "owner-a", "generate").await;
    let client = reqwest::Client::new();
    let body = json!({"mode": "initial", "prompt": SEED_PROMPT});
    let answers = futures_util::future::join_all((0..20).map(|_| {
        client
            .post(format!(
                "{address}/api/v1/process-maps/generations?wait=false"
            ))
            .bearer_auth(&key)
            .json(&body)
            .send()
    }))
    .await;
    for answer in answers {
        assert_eq!(answer.expect("answered").status(), 202);
    }
    stop.cancel();
    serving.await.expect("joined").expect("served");

    let db = state.pool.get().await.expect("db");
    let unmarked: i64 = db
        .query_one(
            "SELECT count(*) FROM generations WHERE published_at IS NULL",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(unmarked, 0, "every answered job is marked published");
    drop(db);
    assert_eq!(
        jobs_in_queue(&env).await,
        20,
        "every answered job is in the queue"
    );
    env.teardown().await;
}
