//! A sink wrapper that renders exactly like the sink it wraps but records payloads instead of
//! sending them: dry-run runs the real delivery path with it, so it shows exactly what `send`
//! would send.

use crate::digest::Digest;
use crate::sink::{BoxFuture, Limits, Payload, RenderContext, Sent, Sink, SinkError};
use std::sync::{Arc, Mutex};

pub struct RecordingSink {
    inner: Arc<dyn Sink>,
    sent: Mutex<Vec<Payload>>,
}

impl RecordingSink {
    pub fn new(inner: Arc<dyn Sink>) -> Self {
        RecordingSink {
            inner,
            sent: Mutex::new(Vec::new()),
        }
    }

    /// The payloads "sent" so far, in order.
    pub fn recorded(&self) -> Vec<Payload> {
        match self.sent.lock() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl Sink for RecordingSink {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn destination(&self) -> String {
        self.inner.destination()
    }
    fn limits(&self) -> &Limits {
        self.inner.limits()
    }
    fn render(&self, digest: &Digest, ctx: &RenderContext) -> Result<Vec<Payload>, SinkError> {
        self.inner.render(digest, ctx)
    }
    fn send<'a>(&'a self, payload: &'a Payload) -> BoxFuture<'a, Result<Sent, SinkError>> {
        Box::pin(async move {
            let mut sent = match self.sent.lock() {
                Ok(v) => v,
                Err(poisoned) => poisoned.into_inner(),
            };
            sent.push(payload.clone());
            Ok(Sent::with_id(Some(format!("dry-run-{}", sent.len()))))
        })
    }
}
