//! Logs and traces, shared by both binaries.
//!
//! - Logs: text for people or JSON lines for a log pipeline (`PROCMAP_LOG_FORMAT`), filtered
//!   by `RUST_LOG`.
//! - Traces: OpenTelemetry over OTLP, configured by the standard `OTEL_*` variables and off
//!   unless an endpoint is set. The W3C `traceparent` travels in HTTP headers and in the AMQP
//!   headers of jobs and events ([`trace_headers`], [`continue_trace`]), so one generation is
//!   one trace from the request through the queue and the worker to the commit.

use std::collections::HashMap;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider, Resource};
use tracing::Level;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{
    filter::Targets, fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer,
};

/// Keeps the trace exporter alive; dropping it sends what is still buffered.
#[must_use = "dropping the guard stops exporting traces"]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.traces.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs logging, and tracing when an OTLP endpoint is configured. `service` names the
/// process in traces unless `OTEL_SERVICE_NAME` does. Fails, naming the variable, on a
/// `PROCMAP_LOG_FORMAT` that is neither `text` nor `json`, or an exporter that cannot be built.
pub fn init(service: &'static str) -> Result<Telemetry, String> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,lapin=warn"));
    // Logs go to stderr so commands whose stdout is machine-readable (`keys create --json`) stay clean.
    let format = std::env::var("PROCMAP_LOG_FORMAT").unwrap_or_else(|_| "text".into());
    let logs = match format.as_str() {
        "text" => fmt::layer().with_writer(std::io::stderr).boxed(),
        // One object per line: the event's fields at the top level, and the fields of the span
        // it happened in (the request id, the generation id) under `span`.
        "json" => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
        other => {
            return Err(format!(
                "PROCMAP_LOG_FORMAT={other:?} is not a log format; use text or json"
            ))
        }
    };
    let traces = trace_provider(service)?;
    let trace_layer = traces.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        // Traces do not follow the log level: a deployment logging only warnings still
        // traces every request. Our own spans, from `info` up; none from dependencies.
        let ours = Targets::new()
            .with_target("procmap_api", Level::INFO)
            .with_target("procmap_worker", Level::INFO)
            .with_target("procmap_core", Level::INFO)
            .with_target("procmap_engine", Level::INFO)
            .with_target("tower_http", Level::INFO);
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("procmap"))
            .with_filter(ours)
    });
    // Fails only when a subscriber is already installed, as in tests; that one stays.
    let _ = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(trace_layer)
        .try_init();
    Ok(Telemetry { traces })
}

/// The OTLP trace pipeline, when the environment asks for one: an endpoint is set
/// (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), and neither
/// `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none` turns it off. The exporter reads
/// the rest of the standard variables itself (headers, timeout, compression), and the batch
/// processor its `OTEL_BSP_*` ones.
fn trace_provider(service: &'static str) -> Result<Option<SdkTracerProvider>, String> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let endpoint = set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
        || std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|v| v == "none");
    if !endpoint || disabled {
        return Ok(None);
    }
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    // OTLP's default is protobuf; the crate would prefer JSON when both are compiled in.
    let protocol = match std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .as_deref()
    {
        Err(_) | Ok("http/protobuf") => Protocol::HttpBinary,
        Ok("http/json") => Protocol::HttpJson,
        Ok(other) => {
            return Err(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={other:?} is not supported; use http/protobuf or http/json"
            ))
        }
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
        .map_err(|e| format!("the OTLP trace exporter cannot be built: {e}"))?;
    let mut resource = Resource::builder();
    if !set("OTEL_SERVICE_NAME") {
        resource = resource.with_service_name(service);
    }
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build(),
    ))
}

/// The current span's trace context as W3C headers (`traceparent`, `tracestate`), to send
/// along with a message. Empty when tracing is off.
pub fn trace_headers() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut headers)
    });
    headers
}

/// Makes `span` continue the trace whose W3C headers a message or request carried, found by
/// `header`. Nothing happens when it carried none, or when tracing is off.
pub fn continue_trace<'h>(span: &tracing::Span, header: impl Fn(&str) -> Option<&'h str>) {
    let carried: HashMap<String, String> = ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|name| header(name).map(|value| (name.to_owned(), value.to_owned())))
        .collect();
    if carried.is_empty() {
        return;
    }
    let parent =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&carried));
    let _ = span.set_parent(parent);
}
