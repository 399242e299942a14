//! Group commit. Tasks running at once each ask for something to be written: the worker's jobs
//! their claims and results, the API's requests their job messages. A batcher takes every
//! request waiting, writes them together (one statement, one transaction, or one window of
//! publisher confirms), and answers each. Nothing waits for a batch to fill: while one batch is
//! being written the next requests queue up, so batches grow with the load and a lone request
//! is written at once.

use std::future::Future;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};

struct Pending<Request, Answer> {
    request: Request,
    reply: oneshot::Sender<Result<Answer, String>>,
}

/// A handle to one batcher task; cloned into every job. The task ends when the last handle is
/// dropped.
pub struct Batcher<Request, Answer> {
    queue: mpsc::Sender<Pending<Request, Answer>>,
    name: &'static str,
}

impl<Request, Answer> Clone for Batcher<Request, Answer> {
    fn clone(&self) -> Self {
        Batcher {
            queue: self.queue.clone(),
            name: self.name,
        }
    }
}

impl<Request, Answer> Batcher<Request, Answer>
where
    Request: Send + 'static,
    Answer: Send + 'static,
{
    /// Starts a batcher that hands `write` up to `max_batch` requests at a time. `write` answers
    /// one result per request, in their order, or fails the whole batch, which fails each of its
    /// requests with the same error (their callers try again on their own).
    pub fn start<Write, Written>(name: &'static str, max_batch: usize, mut write: Write) -> Self
    where
        Write: FnMut(Vec<Request>) -> Written + Send + 'static,
        Written: Future<Output = anyhow::Result<Vec<Answer>>> + Send,
    {
        let (queue, mut waiting) = mpsc::channel::<Pending<Request, Answer>>(max_batch * 4);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max_batch);
            while waiting.recv_many(&mut batch, max_batch).await > 0 {
                metrics::histogram!(crate::metrics::BATCH_SIZE, "batch" => name)
                    .record(batch.len() as f64);
                let (requests, replies): (Vec<_>, Vec<_>) = batch
                    .drain(..)
                    .map(|pending| (pending.request, pending.reply))
                    .unzip();
                let expected = requests.len();
                match write(requests).await {
                    Ok(answers) if answers.len() == expected => {
                        for (reply, answer) in replies.into_iter().zip(answers) {
                            // A job that stopped waiting has nothing to be told.
                            let _ = reply.send(Ok(answer));
                        }
                    }
                    Ok(answers) => {
                        let error =
                            format!("{name}: {} answers for {expected} requests", answers.len());
                        for reply in replies {
                            let _ = reply.send(Err(error.clone()));
                        }
                    }
                    Err(e) => {
                        let error = format!("{e:#}");
                        for reply in replies {
                            let _ = reply.send(Err(error.clone()));
                        }
                    }
                }
            }
        });
        Batcher { queue, name }
    }

    /// Writes `request` with whatever else is waiting, and answers its result.
    pub async fn write(&self, request: Request) -> anyhow::Result<Answer> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { request, reply })
            .await
            .ok()
            .with_context(|| format!("the {} batcher has stopped", self.name))?;
        answer
            .await
            .ok()
            .with_context(|| format!("the {} batcher has stopped", self.name))?
            .map_err(anyhow::Error::msg)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[tokio::test]
    async fn requests_waiting_together_are_written_together_and_answered_in_order() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let batcher = Batcher::start("test", 8, move |requests: Vec<u32>| {
            seen.lock().expect("lock").push(requests.len());
            async move {
                // Long enough for the other requests to queue behind the first batch.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Ok(requests.iter().map(|n| n * 10).collect())
            }
        });
        let answers = futures_util::future::join_all((0..20).map(|n| batcher.write(n))).await;
        let answers: Vec<u32> = answers.into_iter().map(|a| a.expect("written")).collect();
        assert_eq!(answers, (0..20).map(|n| n * 10).collect::<Vec<_>>());
        let sizes = sizes.lock().expect("lock").clone();
        assert_eq!(sizes.iter().sum::<usize>(), 20);
        assert!(sizes.iter().all(|&n| n <= 8), "{sizes:?}");
        assert!(sizes.len() < 20, "nothing was batched: {sizes:?}");
    }

    #[tokio::test]
    async fn a_failed_batch_fails_each_of_its_requests() {
        let batcher = Batcher::start("test", 4, |_: Vec<u32>| async {
            anyhow::Result::<Vec<u32>>::Err(anyhow::anyhow!("the database went away"))
        });
        let error = batcher.write(1).await.expect_err("failed");
        assert!(error.to_string().contains("went away"));
        let short = Batcher::start("short", 4, |_: Vec<u32>| async { Ok(Vec::<u32>::new()) });
        let error = short.write(1).await.expect_err("failed");
        assert!(error.to_string().contains("0 answers for 1"), "{error}");
    }
}
