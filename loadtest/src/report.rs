//! What a run's samples say: latency quantiles from an HDR histogram, outcomes, throughput,
//! and the same per second of the run, written as JSON and drawn as an SVG.

use std::{collections::BTreeMap, path::Path, time::Duration};

use anyhow::Context;
use hdrhistogram::Histogram;
use plotters::prelude::*;
use serde_json::{json, Value};

use crate::open_loop::{Outcome, Sample};

/// Latencies are kept in microseconds, from 1 µs to 10 minutes, to three significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("fixed bounds that hdrhistogram accepts")
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// One second of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Second {
    pub second: u64,
    /// Ok answers that arrived in this second: the throughput.
    pub completed: usize,
    /// p50 and p99 of the ok requests meant to leave in this second (NaN when none).
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The figures of one run at one rate.
pub struct Summary {
    pub rate: f64,
    pub sent: usize,
    pub ok: usize,
    pub skipped: usize,
    /// Every outcome other than ok and skipped, by name.
    pub errors: BTreeMap<String, usize>,
    /// Ok answers per second, over the time from the first intended send to the last answer.
    pub throughput: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// The harness's own delay before sending, p50 and p99 (ok requests): how much of the
    /// latency is the harness's rather than the server's.
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    /// The run second by second.
    pub seconds: Vec<Second>,
}

impl Summary {
    pub fn of(rate: f64, samples: &[Sample]) -> Summary {
        let mut all = histogram();
        let mut lags = histogram();
        let mut per_second: BTreeMap<u64, Histogram<u64>> = BTreeMap::new();
        let mut completed: BTreeMap<u64, usize> = BTreeMap::new();
        let mut errors = BTreeMap::new();
        let (mut ok, mut skipped) = (0, 0);
        let mut last_end = Duration::ZERO;
        for sample in samples {
            match sample.outcome {
                Outcome::Ok => {
                    ok += 1;
                    let micros = (sample.latency.as_micros() as u64).max(1);
                    all.saturating_record(micros);
                    lags.saturating_record(sample.lag.as_micros() as u64);
                    per_second
                        .entry(sample.intended.as_secs())
                        .or_insert_with(histogram)
                        .saturating_record(micros);
                    let end = sample.intended + sample.latency;
                    *completed.entry(end.as_secs()).or_insert(0) += 1;
                    last_end = last_end.max(end);
                }
                Outcome::Skipped => skipped += 1,
                Outcome::Status(code) => *errors.entry(format!("http {code}")).or_insert(0) += 1,
                Outcome::Failed => *errors.entry("generation failed".into()).or_insert(0) += 1,
                Outcome::Transport => *errors.entry("no answer".into()).or_insert(0) += 1,
            }
        }
        let quantile_of = |histogram: &Histogram<u64>, q: f64| {
            if histogram.is_empty() {
                f64::NAN
            } else {
                ms(histogram.value_at_quantile(q))
            }
        };
        let quantile = |q: f64| quantile_of(&all, q);
        Summary {
            rate,
            sent: samples.len() - skipped,
            ok,
            skipped,
            errors,
            throughput: if last_end.is_zero() {
                0.0
            } else {
                ok as f64 / last_end.as_secs_f64()
            },
            p50_ms: quantile(0.5),
            p90_ms: quantile(0.9),
            p99_ms: quantile(0.99),
            p999_ms: quantile(0.999),
            max_ms: if all.is_empty() {
                f64::NAN
            } else {
                ms(all.max())
            },
            lag_p50_ms: quantile_of(&lags, 0.5),
            lag_p99_ms: quantile_of(&lags, 0.99),
            seconds: (0..=last_end.as_secs())
                .filter(|_| ok > 0)
                .map(|second| {
                    let latency = per_second.get(&second);
                    let at = |q: f64| latency.map_or(f64::NAN, |h| ms(h.value_at_quantile(q)));
                    Second {
                        second,
                        completed: completed.get(&second).copied().unwrap_or(0),
                        p50_ms: at(0.5),
                        p99_ms: at(0.99),
                    }
                })
                .collect(),
        }
    }

    pub fn failed(&self) -> usize {
        self.errors.values().sum()
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        format!(
            "rate {:.0}/s: {} ok, {} errors, {} skipped; {:.1} ok/s; ms p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}; harness lag p50 {:.2} p99 {:.2}",
            self.rate, self.ok, self.failed(), self.skipped, self.throughput,
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms,
            self.lag_p50_ms, self.lag_p99_ms
        )
    }

    pub fn json(&self) -> Value {
        json!({
            "rate": self.rate,
            "sent": self.sent,
            "ok": self.ok,
            "skipped": self.skipped,
            "errors": self.errors,
            "throughput_per_s": self.throughput,
            "latency_ms": {
                "p50": self.p50_ms, "p90": self.p90_ms, "p99": self.p99_ms,
                "p99_9": self.p999_ms, "max": self.max_ms,
            },
            "harness_lag_ms": {"p50": finite(self.lag_p50_ms), "p99": finite(self.lag_p99_ms)},
            "per_second": self.seconds.iter().map(|s| json!({
                "second": s.second, "completed": s.completed,
                "p50_ms": finite(s.p50_ms), "p99_ms": finite(s.p99_ms),
            })).collect::<Vec<_>>(),
        })
    }
}

/// JSON has no NaN: a second without answers has no quantile.
fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// Draws throughput (ok answers per second) above p50 and p99 latency, over the run's seconds.
/// Several summaries (a `--find-max` search) are drawn one after another on one time axis.
pub fn plot(path: &Path, title: &str, summaries: &[Summary]) -> anyhow::Result<()> {
    let mut offset = 0;
    let mut throughput = Vec::new();
    let (mut p50, mut p99) = (Vec::new(), Vec::new());
    for summary in summaries {
        for s in &summary.seconds {
            let x = (offset + s.second) as f64;
            throughput.push((x, s.completed as f64));
            if s.p50_ms.is_finite() {
                p50.push((x, s.p50_ms));
                p99.push((x, s.p99_ms));
            }
        }
        offset += summary.seconds.len() as u64;
    }
    let end = (offset.max(1)) as f64;
    let top = |points: &[(f64, f64)]| {
        points
            .iter()
            .map(|(_, y)| *y)
            .filter(|y| y.is_finite())
            .fold(1.0, f64::max)
            * 1.1
    };
    let root = SVGBackend::new(path, (960, 640)).into_drawing_area();
    root.fill(&WHITE).context("drawing")?;
    let root = root.titled(title, ("sans-serif", 20)).context("drawing")?;
    let (upper, lower) = root.split_vertically(300);

    let mut chart = ChartBuilder::on(&upper)
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..end, 0f64..top(&throughput))
        .context("drawing")?;
    chart
        .configure_mesh()
        .x_desc("second of the run")
        .y_desc("ok answers / s")
        .draw()
        .context("drawing")?;
    chart
        .draw_series(LineSeries::new(throughput, BLUE.stroke_width(2)))
        .context("drawing")?
        .label("throughput")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .context("drawing")?;

    let mut chart = ChartBuilder::on(&lower)
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..end, 0f64..top(&p99))
        .context("drawing")?;
    chart
        .configure_mesh()
        .x_desc("second of the run (by intended send time)")
        .y_desc("latency, ms")
        .draw()
        .context("drawing")?;
    for (points, colour, name) in [(p50, GREEN, "p50"), (p99, RED, "p99")] {
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .context("drawing")?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .context("drawing")?;
    root.present().context("writing the picture")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(intended_ms: u64, latency_ms: u64, outcome: Outcome) -> Sample {
        Sample {
            intended: Duration::from_millis(intended_ms),
            latency: Duration::from_millis(latency_ms),
            // A tenth of the latency, so the lag's quantiles are known too.
            lag: Duration::from_micros(latency_ms * 100),
            outcome,
        }
    }

    #[test]
    fn quantiles_count_from_the_intended_send_and_errors_are_kept_apart() {
        // 100 answers over two seconds, 1 ms to 100 ms, and three that went wrong.
        let mut samples: Vec<Sample> = (1..=100)
            .map(|n| sample((n - 1) * 20, n, Outcome::Ok))
            .collect();
        samples.push(sample(5, 0, Outcome::Skipped));
        samples.push(sample(6, 3, Outcome::Status(503)));
        samples.push(sample(7, 9, Outcome::Failed));
        let summary = Summary::of(50.0, &samples);
        assert_eq!((summary.ok, summary.skipped, summary.sent), (100, 1, 102));
        assert_eq!(summary.failed(), 2);
        assert_eq!(summary.errors["http 503"], 1);
        assert_eq!(summary.errors["generation failed"], 1);
        assert!((summary.p50_ms - 50.0).abs() < 0.1, "{}", summary.p50_ms);
        assert!((summary.p99_ms - 99.0).abs() < 0.1, "{}", summary.p99_ms);
        assert!((summary.max_ms - 100.0).abs() < 0.1, "{}", summary.max_ms);
        // The harness's lag is summarised over the ok answers only, like the latency.
        assert!(
            (summary.lag_p50_ms - 5.0).abs() < 0.01,
            "{}",
            summary.lag_p50_ms
        );
        assert!(
            (summary.lag_p99_ms - 9.9).abs() < 0.01,
            "{}",
            summary.lag_p99_ms
        );
        // The last answer ends at 1.98 s + 100 ms.
        assert!(
            (summary.throughput - 100.0 / 2.08).abs() < 0.01,
            "{}",
            summary.throughput
        );
        // Throughput counts answers in the second they arrive: request n ends at 21n - 20 ms.
        let completed: Vec<_> = summary.seconds.iter().map(|s| s.completed).collect();
        assert_eq!(completed, vec![48, 48, 4]);
        assert!(
            summary.seconds[2].p50_ms.is_nan(),
            "nothing was sent in second 2"
        );
    }

    #[test]
    fn the_picture_draws_throughput_and_both_quantiles() {
        let samples: Vec<Sample> = (0..300)
            .map(|n| sample(n * 10, 5 + n % 7, Outcome::Ok))
            .collect();
        let summary = Summary::of(100.0, &samples);
        let path =
            std::env::temp_dir().join(format!("procmap-loadtest-{}.svg", std::process::id()));
        plot(&path, "procmap accept, open loop", &[summary]).expect("plot");
        let svg = std::fs::read_to_string(&path).expect("svg");
        let _ = std::fs::remove_file(&path);
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        for text in [
            "throughput",
            "p50",
            "p99",
            "ok answers / s",
            "latency, ms",
            "procmap accept",
        ] {
            assert!(svg.contains(text), "the picture lacks {text}");
        }
        assert!(svg.matches("<polyline").count() >= 3, "three lines drawn");
    }
}
