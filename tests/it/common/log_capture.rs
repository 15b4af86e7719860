//! Everything this test process logs (tracing at every level, every crate, plus `log` records),
//! written in both formats the binary can use (text and JSON) into one buffer, for tests that
//! check what must never reach the logs.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Default)]
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl LogCapture {
    /// Installs the capture as the process's global subscriber. A process has one: the first
    /// call installs it and every later call gets the same capture, so keep such tests in a test
    /// binary of their own.
    pub fn install() -> LogCapture {
        static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
        CAPTURE
            .get_or_init(|| {
                let capture = LogCapture::default();
                tracing_subscriber::registry()
                    .with(tracing_subscriber::EnvFilter::new("trace"))
                    .with(
                        tracing_subscriber::fmt::layer()
                            .with_ansi(false)
                            .with_writer(capture.clone()),
                    )
                    .with(
                        tracing_subscriber::fmt::layer()
                            .json()
                            .with_current_span(true)
                            .with_span_list(true)
                            .with_writer(capture.clone()),
                    )
                    .try_init()
                    .expect("no other global subscriber in this test binary");
                capture
            })
            .clone()
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

pub struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> CaptureWriter {
        CaptureWriter(self.buffer.clone())
    }
}
